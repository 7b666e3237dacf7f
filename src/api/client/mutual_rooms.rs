//! The rooms the requester shares with another user (MSC2666): `GET /_matrix/client/v1/mutual_rooms`
//! (`{"joined", "count"}`, as Synapse serves it now) and the unstable
//! `/_matrix/client/unstable/uk.half-shot.msc2666/user/mutual_rooms` (`{"joined"}`) that
//! matrix-js-sdk calls when `/versions` lists `uk.half-shot.msc2666.query_mutual_rooms`.

use crate::api::extractors::Requester;
use crate::api::{Svc, ok_json, parse_query};
use crate::error::{Error, Result};
use crate::ids::parse_user_id;
use crate::service::mutual_rooms;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

/// Routes under `/_matrix/client/unstable`.
pub fn configure_unstable(cfg: &mut web::ServiceConfig) {
    crate::api::routes(cfg, vec![("/uk.half-shot.msc2666/user/mutual_rooms", web::get().to(unstable))]);
}

pub fn configure_v1(cfg: &mut web::ServiceConfig) {
    crate::api::routes(cfg, vec![("/_matrix/client/v1/mutual_rooms", web::get().to(stable))]);
}

#[derive(Deserialize)]
struct MutualQuery {
    user_id: String,
    batch_token: Option<String>,
    from: Option<String>,
}

/// The rooms, after the checks both paths share: one user (a repeated `user_id` fails the parse
/// as a duplicate field), a valid ID, not oneself. Every answer is one batch, so no pagination
/// token was ever handed out and any given is unknown.
async fn rooms(svc: &Svc, who: &Requester, req: &HttpRequest) -> Result<Vec<ruma::OwnedRoomId>> {
    let q: MutualQuery = parse_query(req)?;
    if q.batch_token.is_some() || q.from.is_some() {
        return Err(Error::invalid_param("Unknown pagination token"));
    }
    let other = parse_user_id(&q.user_id).map_err(|_| Error::invalid_param("Invalid user_id query parameter"))?;
    mutual_rooms::mutual_rooms(svc, &who.user_id, &other).await
}

async fn unstable(svc: Svc, who: Requester, req: HttpRequest) -> Result<HttpResponse> {
    let joined = rooms(&svc, &who, &req).await?;
    Ok(ok_json(json!({"joined": joined})))
}

async fn stable(svc: Svc, who: Requester, req: HttpRequest) -> Result<HttpResponse> {
    let joined = rooms(&svc, &who, &req).await?;
    Ok(ok_json(json!({"count": joined.len(), "joined": joined})))
}
