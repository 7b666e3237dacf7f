//! Shared-secret registration, as Synapse's `register_new_matrix_user` uses it.

use crate::api::{Body, Svc, ok_json};
use crate::auth::shared_secret::{mac, mac_matches};
use crate::error::{Error, Result};
use crate::service::accounts::{self, SharedSecretRegistration};
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(cfg, vec![("/v1/register", web::get().to(nonce)), ("/v1/register", web::post().to(register))]);
}

fn enabled(svc: &Svc) -> Result<()> {
    if svc.config.registration_shared_secret.is_empty() {
        return Err(Error::unknown("Shared secret registration is not enabled"));
    }
    Ok(())
}

async fn nonce(svc: Svc) -> Result<HttpResponse> {
    enabled(&svc)?;
    Ok(ok_json(json!({"nonce": svc.nonces.issue()})))
}

#[derive(Deserialize)]
struct NonceOnly {
    nonce: String,
}

#[derive(Deserialize)]
struct RegisterBody {
    nonce: String,
    username: String,
    password: String,
    admin: Option<bool>,
    user_type: Option<String>,
    mac: String,
    displayname: Option<String>,
}

async fn register(svc: Svc, body: Body) -> Result<HttpResponse> {
    enabled(&svc)?;
    let body = body.object()?;
    // Consumed by the first POST naming it, whether or not the rest is valid.
    let NonceOnly { nonce } = crate::api::from_value(body.clone())?;
    if !svc.nonces.consume(&nonce) {
        return Err(Error::unknown("Unrecognised nonce"));
    }
    let b: RegisterBody = crate::api::from_value(body)?;
    let admin = b.admin.unwrap_or(false);
    if b.username.contains('\0') || b.password.contains('\0') {
        return Err(Error::bad_json("Invalid username or password"));
    }
    if b.user_type.as_deref().is_some_and(|t| !accounts::is_user_type(t)) {
        return Err(Error::unknown("Invalid user type"));
    }
    let expected = mac(&svc.config.registration_shared_secret, &b.nonce, &b.username, &b.password, admin, b.user_type.as_deref());
    if !mac_matches(&expected, &b.mac) {
        return Err(Error::forbidden("HMAC incorrect"));
    }
    let r =
        SharedSecretRegistration { username: b.username, password: b.password, admin, user_type: b.user_type, displayname: b.displayname };
    let session = accounts::register_with_shared_secret(&svc, r).await?;
    Ok(ok_json(json!({
        "user_id": session.user_id,
        "home_server": svc.server_name(),
        "access_token": session.access_token,
        "device_id": session.device_id,
    })))
}
