//! Pushers: `GET /pushers` and `POST /pushers/set`.

use crate::api::extractors::Requester;
use crate::api::{Body, Svc, ok_json};
use crate::error::{Error, Result};
use crate::service::pushers::{self, NewPusher};
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Map, Value, json};

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(cfg, vec![("/pushers", web::get().to(list)), ("/pushers/set", web::post().to(set))]);
}

async fn list(svc: Svc, who: Requester) -> Result<HttpResponse> {
    Ok(ok_json(json!({"pushers": pushers::list(&svc, &who.user_id).await?})))
}

/// What names a pusher, and whether it is to be deleted (`kind: null`).
#[derive(Deserialize)]
struct PusherKey {
    pushkey: String,
    app_id: String,
    #[serde(default, deserialize_with = "crate::api::null_or")]
    kind: Option<Option<String>>,
}

#[derive(Deserialize)]
struct PusherBody {
    kind: String,
    data: Option<Map<String, Value>>,
    app_display_name: String,
    device_display_name: String,
    profile_tag: Option<String>,
    lang: String,
    append: Option<bool>,
}

async fn set(svc: Svc, who: Requester, body: Body) -> Result<HttpResponse> {
    let body = body.object()?;
    let key: PusherKey = crate::api::from_value(body.clone())?;
    match key.kind {
        None => return Err(Error::missing_param("Missing kind")),
        Some(None) => {
            pushers::delete(&svc, &who.user_id, &key.app_id, &key.pushkey).await?;
            return Ok(ok_json(json!({})));
        }
        Some(Some(_)) => {}
    }
    let b: PusherBody = crate::api::from_value(body)?;
    let pusher = NewPusher {
        app_id: key.app_id,
        pushkey: key.pushkey,
        kind: b.kind,
        data: b.data.ok_or_else(|| Error::missing_param("Missing data"))?,
        app_display_name: b.app_display_name,
        device_display_name: b.device_display_name,
        profile_tag: b.profile_tag,
        lang: b.lang,
        append: b.append.unwrap_or(false),
    };
    pushers::set(&svc, &who.user_id, who.device_id.as_deref(), pusher).await?;
    Ok(ok_json(json!({})))
}
