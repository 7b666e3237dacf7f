//! The server-server API Ensemble serves: its signing key, its version, local users' device
//! lists, their keys (query and claim), and whose an OpenID token is. Every `/_matrix/federation`
//! request but `version` and `openid/userinfo` must carry a valid X-Matrix signature.

use crate::api::{Body, Svc, ok_json, parse_query};
use crate::error::{Error, Result};
use crate::service::keys::{self, KeyClaim, KeyQuery};
use crate::service::openid;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(
        cfg,
        vec![
            ("/_matrix/key/v2/server", web::get().to(server_key)),
            ("/_matrix/federation/v1/version", web::get().to(version)),
            ("/_matrix/federation/v1/user/devices/{user_id}", web::get().to(user_devices)),
            ("/_matrix/federation/v1/user/keys/query", web::post().to(keys_query)),
            ("/_matrix/federation/v1/user/keys/claim", web::post().to(keys_claim)),
            ("/_matrix/federation/v1/openid/userinfo", web::get().to(openid_userinfo)),
        ],
    );
}

/// The origin server of a signed request, or 401 `M_UNAUTHORIZED`.
async fn origin(svc: &Svc, req: &HttpRequest, content: Option<&serde_json::Value>) -> Result<String> {
    let header = req.headers().get("authorization").and_then(|h| h.to_str().ok());
    let uri = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
    svc.federation.verify_request(svc.server_name(), header, req.method().as_str(), uri, content).await.inspect_err(|why| {
        log::info!("refused federation request {uri}: {}", why.message());
    })
}

async fn server_key(svc: Svc) -> Result<HttpResponse> {
    Ok(ok_json(crate::federation::server_key_document(&svc.keys)?))
}

/// Unauthenticated, as the spec says: peers and federation testers ask before they trust us.
async fn version() -> Result<HttpResponse> {
    Ok(ok_json(json!({"server": {"name": "Ensemble", "version": env!("CARGO_PKG_VERSION")}})))
}

async fn user_devices(svc: Svc, req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse> {
    let from = origin(&svc, &req, None).await?;
    let user_id = crate::ids::parse_user_id(&path)?;
    log::debug!("{from} fetches the device list of {user_id}");
    Ok(ok_json(keys::local_device_list(&svc, &user_id).await?))
}

/// Device and cross-signing keys of local users; users of other servers are left out.
async fn keys_query(svc: Svc, req: HttpRequest, body: Body) -> Result<HttpResponse> {
    let body = body.object()?;
    let from = origin(&svc, &req, Some(&body)).await?;
    let wanted = crate::api::from_value::<KeyQuery>(body)?.wanted()?;
    log::debug!("{from} queries the keys of {} users", wanted.len());
    Ok(ok_json(json!(keys::federation_query(&svc, wanted).await?)))
}

/// One-time (or fallback) keys of local devices, each given out once.
async fn keys_claim(svc: Svc, req: HttpRequest, body: Body) -> Result<HttpResponse> {
    let body = body.object()?;
    let from = origin(&svc, &req, Some(&body)).await?;
    let asks = crate::api::from_value::<KeyClaim>(body)?.asks()?;
    log::debug!("{from} claims {} one-time keys", asks.len());
    Ok(ok_json(json!({"one_time_keys": keys::federation_claim(&svc, asks).await?})))
}

#[derive(serde::Deserialize)]
struct UserinfoQuery {
    access_token: Option<String>,
}

/// Whose an OpenID token is. Unsigned, as the spec says: the third party holding the token asks,
/// not a server.
async fn openid_userinfo(svc: Svc, req: HttpRequest) -> Result<HttpResponse> {
    let q: UserinfoQuery = parse_query(&req)?;
    let token = q.access_token.ok_or_else(|| Error::new(crate::error::ErrorKind::MissingToken, "Access Token required"))?;
    let user_id = openid::userinfo(&svc, &token).await?;
    Ok(ok_json(json!({"sub": user_id})))
}
