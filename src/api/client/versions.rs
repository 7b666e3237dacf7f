//! What a client asks first: the spec versions spoken and this server's capabilities.

use crate::api::extractors::Requester;
use crate::api::ok_json;
use crate::events::{DEFAULT_ROOM_VERSION, SUPPORTED_ROOM_VERSIONS};
use actix_web::{HttpResponse, web};
use serde_json::json;

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(cfg, vec![("/capabilities", web::get().to(capabilities))]);
}

pub async fn versions() -> HttpResponse {
    ok_json(json!({
        "versions": ["r0.5.0", "r0.6.0", "r0.6.1", "v1.1", "v1.2", "v1.3", "v1.4", "v1.5", "v1.6", "v1.7", "v1.8", "v1.9", "v1.10", "v1.11"],
        // MSC2666 (rooms shared with another user): the stable path as Synapse advertises it, and
        // the unstable one matrix-js-sdk calls.
        "unstable_features": {
            "uk.half-shot.msc2666.query_mutual_rooms": true,
            "uk.half-shot.msc2666.query_mutual_rooms.stable": true
        }
    }))
}

async fn capabilities(_who: Requester) -> HttpResponse {
    let available: serde_json::Map<String, serde_json::Value> =
        SUPPORTED_ROOM_VERSIONS.iter().map(|v| (v.to_string(), json!("stable"))).collect();
    ok_json(json!({
        "capabilities": {
            "m.change_password": {"enabled": true},
            "m.room_versions": {"default": DEFAULT_ROOM_VERSION, "available": available},
            "m.set_displayname": {"enabled": true},
            "m.set_avatar_url": {"enabled": true},
            "m.3pid_changes": {"enabled": false}
        }
    }))
}
