//! The server-server API Ensemble serves: its signing key, its version, local users' device
//! lists, and their keys (query and claim). Every `/_matrix/federation` request but `version`
//! must carry a valid X-Matrix signature.

use crate::api::client::keys::{claim_local, parse_claims, parse_query, read_keys};
use crate::api::{Body, Svc, ok_json};
use crate::error::{Error, Result};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(
        cfg,
        vec![
            ("/_matrix/key/v2/server", web::get().to(server_key)),
            ("/_matrix/federation/v1/version", web::get().to(version)),
            ("/_matrix/federation/v1/user/devices/{user_id}", web::get().to(user_devices)),
            ("/_matrix/federation/v1/user/keys/query", web::post().to(keys_query)),
            ("/_matrix/federation/v1/user/keys/claim", web::post().to(keys_claim)),
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
    if user_id.server_name().as_str() != svc.server_name() {
        return Err(Error::invalid_param("User is not hosted on this server"));
    }
    log::debug!("{from} fetches the device list of {user_id}");
    Ok(ok_json(local_answer(&svc, user_id.as_str()).await?))
}

/// The federation answer for a local user.
async fn local_answer(svc: &crate::Services, user_id: &str) -> Result<Value> {
    let user = user_id.to_owned();
    let (stream_id, keys) = svc
        .db
        .run(move |c| {
            // Other servers see the owner's own signatures; those by other users stay private.
            let keys = read_keys(c, &user, true, &[], &user)?;
            Ok((crate::store::e2e_keys::device_list_stream(c, &user)?, keys))
        })
        .await?;
    let Some(keys) = keys else { return Err(Error::internal("Local keys unreadable")) };
    let names = svc.config.allow_device_name_lookup_over_federation;
    let devices: Vec<Value> = keys
        .devices
        .iter()
        .map(|d| {
            let mut o = json!({"device_id": d.device_id});
            if let Some(k) = keys.device_keys(d) {
                o["keys"] = k;
            }
            if names && let Some(n) = &d.display_name {
                o["device_display_name"] = json!(n);
            }
            o
        })
        .collect();
    let mut answer = json!({"user_id": user_id, "stream_id": stream_id, "devices": devices});
    for (kind, field) in [("master", "master_key"), ("self_signing", "self_signing_key")] {
        if let Some(k) = keys.cross_key(kind) {
            answer[field] = k;
        }
    }
    Ok(answer)
}

/// Device and cross-signing keys of local users; users of other servers are left out.
async fn keys_query(svc: Svc, req: HttpRequest, body: Body) -> Result<HttpResponse> {
    let body = body.object()?;
    let from = origin(&svc, &req, Some(&body)).await?;
    let local: Vec<(String, Vec<String>)> = parse_query(&body)?
        .into_iter()
        .filter(|(u, _)| u.server_name().as_str() == svc.server_name())
        .map(|(u, d)| (u.to_string(), d))
        .collect();
    log::debug!("{from} queries the keys of {} local users", local.len());
    let found = svc
        .db
        .run(move |c| {
            let mut out = Vec::with_capacity(local.len());
            for (user, only) in local {
                // Other servers see the owner's own signatures; those by other users stay private.
                let keys = read_keys(c, &user, true, &only, &user)?;
                out.extend(keys.map(|k| (user, k)));
            }
            Ok(out)
        })
        .await?;
    let names = svc.config.allow_device_name_lookup_over_federation;
    let (mut device_keys, mut master, mut self_signing) = (Map::new(), Map::new(), Map::new());
    for (user, keys) in found {
        device_keys.insert(user.clone(), Value::Object(keys.device_map(names)));
        // The user-signing key never leaves its owner's server.
        for (kind, map) in [("master", &mut master), ("self_signing", &mut self_signing)] {
            if let Some(k) = keys.cross_key(kind) {
                map.insert(user.clone(), k);
            }
        }
    }
    Ok(ok_json(json!({"device_keys": device_keys, "master_keys": master, "self_signing_keys": self_signing})))
}

/// One-time (or fallback) keys of local devices, each given out once.
async fn keys_claim(svc: Svc, req: HttpRequest, body: Body) -> Result<HttpResponse> {
    let body = body.object()?;
    let from = origin(&svc, &req, Some(&body)).await?;
    let asks: Vec<(String, String, String)> = parse_claims(&body)?
        .into_iter()
        .filter(|(u, _, _)| u.server_name().as_str() == svc.server_name())
        .map(|(u, d, a)| (u.to_string(), d, a))
        .collect();
    log::debug!("{from} claims {} one-time keys", asks.len());
    Ok(ok_json(json!({"one_time_keys": claim_local(&svc, asks).await?})))
}
