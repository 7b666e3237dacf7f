//! `PUT /rooms/{roomId}/typing/{userId}`.

use crate::api::extractors::Requester;
use crate::api::{Body, Svc, ok_json};
use crate::error::{Error, Result};
use crate::ids::{parse_room_id, parse_user_id};
use crate::service::typing;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(cfg, vec![("/rooms/{room}/typing/{user}", web::put().to(set))]);
}

#[derive(Deserialize)]
struct TypingBody {
    typing: bool,
    timeout: Option<u64>,
}

async fn set(svc: Svc, who: Requester, path: web::Path<(String, String)>, body: Body) -> Result<HttpResponse> {
    let (room, user) = path.into_inner();
    let room = parse_room_id(&room)?;
    if parse_user_id(&user)? != who.user_id {
        return Err(Error::forbidden("You can only set your own typing state"));
    }
    let b: TypingBody = body.parse()?;
    typing::set(&svc, &who, &room, b.typing, b.timeout).await?;
    Ok(ok_json(json!({})))
}
