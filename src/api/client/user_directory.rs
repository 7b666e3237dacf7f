//! `POST /user_directory/search`.

use crate::api::extractors::Requester;
use crate::api::{Body, Svc, ok_json};
use crate::error::Result;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(cfg, vec![("/user_directory/search", web::post().to(search))]);
}

#[derive(Deserialize)]
struct SearchBody {
    search_term: String,
    limit: Option<u64>,
}

async fn search(svc: Svc, who: Requester, body: Body) -> Result<HttpResponse> {
    let b: SearchBody = body.parse()?;
    let (results, limited) = crate::service::user_directory::search(&svc, &who.user_id, &b.search_term, b.limit.unwrap_or(10)).await?;
    Ok(ok_json(json!({"results": results, "limited": limited})))
}
