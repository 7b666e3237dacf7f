//! Presence: `GET`/`PUT /presence/{userId}/status`.

use crate::api::extractors::Requester;
use crate::api::{Body, Svc, ok_json};
use crate::error::{Error, Result};
use crate::ids::parse_user_id;
use crate::service::presence;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(cfg, vec![("/presence/{user}/status", web::get().to(get)), ("/presence/{user}/status", web::put().to(set))]);
}

#[derive(Deserialize)]
struct SetBody {
    presence: String,
    status_msg: Option<String>,
}

async fn set(svc: Svc, who: Requester, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    if parse_user_id(&path)? != who.user_id {
        return Err(Error::forbidden("You can only set your own presence"));
    }
    let b: SetBody = body.parse()?;
    presence::set(&svc, &who.user_id, who.shadow_banned, &b.presence, b.status_msg).await?;
    Ok(ok_json(json!({})))
}

async fn get(svc: Svc, who: Requester, path: web::Path<String>) -> Result<HttpResponse> {
    let target = parse_user_id(&path)?;
    let content: Value = presence::get(&svc, &who.user_id, &target).await?;
    Ok(ok_json(content))
}
