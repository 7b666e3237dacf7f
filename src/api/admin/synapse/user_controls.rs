//! Synapse's admin controls on one user beyond the account: memberships and counts,
//! experimental features, rate limit override, suspension, cross-signing replacement without
//! interactive auth, account validity, and finding a user by third-party or external ID.

use crate::api::extractors::Admin;
use crate::api::{Body, Svc, ok_json, parse_query};
use crate::error::{Error, Result};
use crate::ids::parse_user_id;
use crate::service::user_controls::{self, RatelimitOverride};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(
        cfg,
        vec![
            ("/v1/users/{user_id}/memberships", web::get().to(memberships)),
            ("/v1/users/{user_id}/sent_invite_count", web::get().to(sent_invite_count)),
            ("/v1/users/{user_id}/cumulative_joined_room_count", web::get().to(cumulative_joined_room_count)),
            ("/v1/experimental_features/{user_id}", web::get().to(get_features)),
            ("/v1/experimental_features/{user_id}", web::put().to(put_features)),
            ("/v1/users/{user_id}/override_ratelimit", web::get().to(get_ratelimit)),
            ("/v1/users/{user_id}/override_ratelimit", web::post().to(set_ratelimit)),
            ("/v1/users/{user_id}/override_ratelimit", web::delete().to(delete_ratelimit)),
            ("/v1/suspend/{user_id}", web::put().to(suspend)),
            ("/v1/users/{user_id}/_allow_cross_signing_replacement_without_uia", web::post().to(allow_cross_signing_replacement)),
            ("/v1/account_validity/validity", web::post().to(account_validity)),
            ("/v1/threepid/{medium}/users/{address}", web::get().to(user_by_threepid)),
            ("/v1/auth_providers/{provider}/users/{external_id}", web::get().to(user_by_external_id)),
        ],
    );
}

async fn memberships(svc: Svc, _admin: Admin, path: web::Path<String>) -> Result<HttpResponse> {
    let memberships = user_controls::memberships(&svc, &parse_user_id(&path)?).await?;
    Ok(ok_json(json!({"memberships": memberships})))
}

#[derive(Deserialize)]
struct FromTs {
    from_ts: i64,
}

async fn sent_invite_count(svc: Svc, _admin: Admin, path: web::Path<String>, req: HttpRequest) -> Result<HttpResponse> {
    let target = parse_user_id(&path)?;
    let q: FromTs = parse_query(&req)?;
    let n = user_controls::sent_invite_count(&svc, &target, q.from_ts).await?;
    Ok(ok_json(json!({"invite_count": n})))
}

async fn cumulative_joined_room_count(svc: Svc, _admin: Admin, path: web::Path<String>, req: HttpRequest) -> Result<HttpResponse> {
    let target = parse_user_id(&path)?;
    let q: FromTs = parse_query(&req)?;
    let n = user_controls::cumulative_joined_room_count(&svc, &target, q.from_ts).await?;
    Ok(ok_json(json!({"cumulative_joined_room_count": n})))
}

async fn get_features(svc: Svc, _admin: Admin, path: web::Path<String>) -> Result<HttpResponse> {
    let features = user_controls::experimental_features(&svc, &parse_user_id(&path)?).await?;
    Ok(ok_json(json!({"features": features})))
}

#[derive(Deserialize)]
struct FeaturesBody {
    #[serde(default)]
    features: Option<BTreeMap<String, bool>>,
}

async fn put_features(svc: Svc, admin: Admin, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    let target = parse_user_id(&path)?;
    let b: FeaturesBody = body.parse_nonempty()?;
    user_controls::set_experimental_features(&svc, &admin.user_id, &target, b.features.unwrap_or_default()).await?;
    Ok(ok_json(json!({})))
}

async fn get_ratelimit(svc: Svc, _admin: Admin, path: web::Path<String>) -> Result<HttpResponse> {
    Ok(ok_json(match user_controls::ratelimit_override(&svc, &parse_user_id(&path)?).await? {
        Some(limit) => json!(limit),
        None => json!({}),
    }))
}

/// A non-negative integer field of the override body, 0 when absent (Synapse's defaults).
fn count_field(body: &Value, name: &str) -> Result<i64> {
    match body.get(name) {
        None => Ok(0),
        Some(v) => v.as_i64().filter(|n| *n >= 0).ok_or_else(|| Error::invalid_param(format!("{v} parameter must be a positive int"))),
    }
}

async fn set_ratelimit(svc: Svc, admin: Admin, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    let target = parse_user_id(&path)?;
    let b = body.object()?;
    let limit =
        RatelimitOverride { messages_per_second: count_field(&b, "messages_per_second")?, burst_count: count_field(&b, "burst_count")? };
    user_controls::set_ratelimit_override(&svc, &admin.user_id, &target, limit).await?;
    Ok(ok_json(json!(limit)))
}

async fn delete_ratelimit(svc: Svc, admin: Admin, path: web::Path<String>) -> Result<HttpResponse> {
    user_controls::delete_ratelimit_override(&svc, &admin.user_id, &parse_user_id(&path)?).await?;
    Ok(ok_json(json!({})))
}

#[derive(Deserialize)]
struct SuspendBody {
    suspend: bool,
}

async fn suspend(svc: Svc, admin: Admin, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    let target = parse_user_id(&path)?;
    let b: SuspendBody = body.parse()?;
    user_controls::set_suspended(&svc, &admin.user_id, &target, b.suspend).await?;
    Ok(ok_json(json!({format!("user_{target}_suspended"): b.suspend})))
}

async fn allow_cross_signing_replacement(svc: Svc, admin: Admin, path: web::Path<String>) -> Result<HttpResponse> {
    let until = user_controls::allow_cross_signing_replacement(&svc, &admin.user_id, &parse_user_id(&path)?).await?;
    Ok(ok_json(json!({"updatable_without_uia_before_ms": until})))
}

#[derive(Deserialize)]
struct ValidityBody {
    user_id: Option<String>,
    expiration_ts: Option<i64>,
}

async fn account_validity(svc: Svc, admin: Admin, body: Body) -> Result<HttpResponse> {
    let b: ValidityBody = body.parse()?;
    let user = b.user_id.ok_or_else(|| Error::unknown("Missing property 'user_id' in the request body"))?;
    let ts = user_controls::renew_account_validity(&svc, &admin.user_id, &parse_user_id(&user)?, b.expiration_ts).await?;
    Ok(ok_json(json!({"expiration_ts": ts})))
}

async fn user_by_threepid(svc: Svc, _admin: Admin, path: web::Path<(String, String)>) -> Result<HttpResponse> {
    let (medium, address) = path.into_inner();
    Ok(ok_json(json!({"user_id": user_controls::user_by_threepid(&svc, &medium, &address).await?})))
}

async fn user_by_external_id(svc: Svc, _admin: Admin, path: web::Path<(String, String)>) -> Result<HttpResponse> {
    let (provider, external_id) = path.into_inner();
    Ok(ok_json(json!({"user_id": user_controls::user_by_external_id(&svc, &provider, &external_id).await?})))
}
