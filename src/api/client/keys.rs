//! End-to-end encryption keys: upload, query, claim, cross-signing upload, changes.

use crate::api::extractors::Requester;
use crate::api::{Body, Svc, ok_json, parse_query};
use crate::error::Result;
use crate::service::keys::{self, CrossSigningUpload, KeyClaim, KeyQuery, KeyUpload};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Map, Value, json};

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(
        cfg,
        vec![
            ("/keys/upload", web::post().to(upload)),
            ("/keys/query", web::post().to(query)),
            ("/keys/claim", web::post().to(claim)),
            ("/keys/device_signing/upload", web::post().to(upload_cross_signing)),
            ("/keys/changes", web::get().to(changes)),
        ],
    );
}

#[derive(Deserialize)]
struct UploadBody {
    device_keys: Option<Map<String, Value>>,
    one_time_keys: Option<Map<String, Value>>,
    fallback_keys: Option<Map<String, Value>>,
    #[serde(rename = "org.matrix.msc2732.fallback_keys")]
    unstable_fallback_keys: Option<Map<String, Value>>,
}

async fn upload(svc: Svc, who: Requester, body: Body) -> Result<HttpResponse> {
    let b: UploadBody = body.parse()?;
    let up = KeyUpload {
        device_keys: b.device_keys,
        one_time_keys: b.one_time_keys,
        fallback_keys: b.fallback_keys.or(b.unstable_fallback_keys),
    };
    let counts = keys::upload(&svc, &who.user_id, who.device_id.as_deref(), up).await?;
    Ok(ok_json(json!({"one_time_key_counts": counts})))
}

async fn query(svc: Svc, who: Requester, body: Body) -> Result<HttpResponse> {
    let wanted = body.parse::<KeyQuery>()?.wanted()?;
    Ok(ok_json(json!(keys::query(&svc, &who.user_id, wanted).await?)))
}

async fn claim(svc: Svc, _who: Requester, body: Body) -> Result<HttpResponse> {
    let asks = body.parse::<KeyClaim>()?.asks()?;
    Ok(ok_json(json!(keys::claim(&svc, asks).await?)))
}

#[derive(Deserialize)]
struct CrossSigningBody {
    master_key: Option<Map<String, Value>>,
    self_signing_key: Option<Map<String, Value>>,
    user_signing_key: Option<Map<String, Value>>,
}

async fn upload_cross_signing(svc: Svc, who: Requester, req: HttpRequest, body: Body) -> Result<HttpResponse> {
    let (b, op) = body.parse_uia::<CrossSigningBody>(&req, Some(&who.user_id))?;
    let up = CrossSigningUpload { master_key: b.master_key, self_signing_key: b.self_signing_key, user_signing_key: b.user_signing_key };
    keys::upload_cross_signing(&svc, &who.user_id, up, op).await?;
    Ok(ok_json(json!({})))
}

#[derive(Deserialize)]
struct ChangesQuery {
    from: String,
    to: Option<String>,
}

/// Whose device lists changed (or who started sharing a room) and who stopped sharing any room
/// with the requester, between two sync tokens.
async fn changes(svc: Svc, who: Requester, req: HttpRequest) -> Result<HttpResponse> {
    let q: ChangesQuery = parse_query(&req)?;
    let from = crate::api::tokens::parse_since(&q.from)?;
    let to = q.to.as_deref().map(crate::api::tokens::parse_since).transpose()?;
    let (changed, left) = keys::changes(&svc, &who.user_id, from, to).await?;
    Ok(ok_json(json!({"changed": changed, "left": left})))
}
