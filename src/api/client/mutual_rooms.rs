//! `GET /_matrix/client/unstable/uk.half-shot.msc2666/user/mutual_rooms?user_id=`: the rooms the
//! requester shares with another user (Synapse's unstable shape, `{"joined": [...]}`).

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
    crate::api::routes(cfg, vec![("/uk.half-shot.msc2666/user/mutual_rooms", web::get().to(mutual))]);
}

#[derive(Deserialize)]
struct MutualQuery {
    user_id: String,
    batch_token: Option<String>,
}

async fn mutual(svc: Svc, who: Requester, req: HttpRequest) -> Result<HttpResponse> {
    // A repeated user_id fails the parse (a duplicate field): one user per request.
    let q: MutualQuery = parse_query(&req)?;
    if q.batch_token.is_some() {
        // Every answer is one batch, so no token was ever handed out.
        return Err(Error::invalid_param("Unknown batch_token"));
    }
    let other = parse_user_id(&q.user_id)?;
    let rooms = mutual_rooms::mutual_rooms(&svc, &who.user_id, &other).await?;
    Ok(ok_json(json!({"joined": rooms})))
}
