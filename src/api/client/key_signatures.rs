//! `POST /keys/signatures/upload`: signatures on keys, each checked before it is kept.

use crate::api::extractors::Requester;
use crate::api::{Body, Svc, ok_json};
use crate::error::Result;
use actix_web::{HttpResponse, web};
use serde_json::{Map, Value, json};

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(cfg, vec![("/keys/signatures/upload", web::post().to(upload))]);
}

async fn upload(svc: Svc, who: Requester, body: Body) -> Result<HttpResponse> {
    // Any user ID and key ID: each entry is judged (and refused) on its own.
    let signed: Map<String, Value> = body.parse()?;
    let failures = crate::service::key_signatures::upload(&svc, &who.user_id, signed).await?;
    Ok(ok_json(json!({"failures": failures})))
}
