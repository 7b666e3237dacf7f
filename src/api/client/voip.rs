//! TURN servers for VoIP calls. This server is configured with none, and says so as Synapse does
//! without `turn_uris`: an empty object, which clients read as "use no TURN server", where a 404
//! has them log an error and ask again.

use crate::api::extractors::Requester;
use crate::api::ok_json;
use actix_web::{HttpResponse, web};
use serde_json::json;

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(cfg, vec![("/voip/turnServer", web::get().to(turn_server))]);
}

async fn turn_server(_who: Requester) -> HttpResponse {
    ok_json(json!({}))
}
