//! `GET /sync`: the query parsed, presence set, the sync service asked, the token added.

use crate::api::extractors::Requester;
use crate::api::tokens::{parse_since, since_token};
use crate::api::{Svc, ok_json, parse_query};
use crate::error::{Error, Result};
use crate::service::presence;
use crate::service::sync::{self, SyncRequest};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(cfg, vec![("/sync", web::get().to(sync))]);
}

#[derive(Deserialize)]
struct SyncQuery {
    since: Option<String>,
    timeout: Option<i64>,
    full_state: Option<bool>,
    filter: Option<String>,
    set_presence: Option<String>,
}

async fn sync(svc: Svc, who: Requester, req: HttpRequest) -> Result<HttpResponse> {
    let q: SyncQuery = parse_query(&req)?;
    let since = q.since.as_deref().map(parse_since).transpose()?;
    let timeout_ms = q.timeout.unwrap_or(0);
    if timeout_ms < 0 {
        return Err(Error::invalid_param("timeout must not be negative"));
    }
    let filter = sync::load_filter(&svc, &who, q.filter.as_deref()).await?;
    if let Some(state) = presence::sync_presence(q.set_presence.as_deref())?
        && !who.shadow_banned
    {
        presence::update(&svc, &who.user_id, &state, None).await?;
    }
    let request = SyncRequest { since, timeout_ms, full_state: q.full_state.unwrap_or(false), filter };
    let mut response = sync::sync(&svc, &who, request).await?;
    response.body["next_batch"] = json!(since_token(&response.next));
    Ok(ok_json(response.body))
}
