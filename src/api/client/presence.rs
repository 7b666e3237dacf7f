//! Presence: `GET`/`PUT /presence/{userId}/status`.

use crate::api::{Body, Svc, ok_json};
use crate::auth::Requester;
use crate::error::{Error, Result};
use crate::ids::parse_user_id;
use crate::service::presence;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(cfg, vec![("/presence/{user}/status", web::get().to(get)), ("/presence/{user}/status", web::put().to(set))]);
}

// Kept for sync.rs until it calls `crate::service::presence::{content, sync_presence, update}`.
pub use crate::service::presence::content;

pub fn sync_presence(value: Option<&String>) -> Result<Option<String>> {
    presence::sync_presence(value.map(String::as_str))
}

pub async fn update(svc: &Svc, user: &str, state: &str, status_msg: Option<Option<String>>) -> Result<()> {
    presence::update(svc, &parse_user_id(user)?, state, status_msg).await
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
