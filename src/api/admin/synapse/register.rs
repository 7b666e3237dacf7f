//! Shared-secret registration, as Synapse's `register_new_matrix_user` uses it.

use crate::api::client::account::create_user;
use crate::api::{Body, Svc, arc, ok_json, opt_bool, opt_str, str_field};
use crate::auth::shared_secret::{mac, mac_matches};
use crate::auth::tokens::issue_token;
use crate::error::{Error, Result};
use actix_web::{HttpResponse, web};
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

async fn register(svc: Svc, body: Body) -> Result<HttpResponse> {
    enabled(&svc)?;
    let body = body.object()?;
    let nonce = str_field(&body, "nonce")?;
    // Consumed by the first POST naming it, whether or not the rest is valid.
    if !svc.nonces.consume(nonce) {
        return Err(Error::unknown("Unrecognised nonce"));
    }
    let username = str_field(&body, "username")?;
    let password = str_field(&body, "password")?;
    let admin = opt_bool(&body, "admin")?.unwrap_or(false);
    let user_type = opt_str(&body, "user_type")?;
    let given = str_field(&body, "mac")?;
    if username.contains('\0') || password.contains('\0') {
        return Err(Error::bad_json("Invalid username or password"));
    }
    let expected = mac(&svc.config.registration_shared_secret, nonce, username, password, admin, user_type);
    if !mac_matches(&expected, given) {
        return Err(Error::forbidden("HMAC incorrect"));
    }
    let localpart = username.to_lowercase();
    crate::ids::check_new_localpart(&svc.config, &localpart)?;
    crate::auth::password::check_strength(password)?;
    let user_id =
        ruma::UserId::parse(format!("@{localpart}:{}", svc.server_name())).map_err(|_| Error::invalid_username("Invalid username"))?;
    create_user(&svc, &user_id, Some(password.to_owned()), admin, user_type.map(str::to_owned)).await?;
    if let Some(d) = opt_str(&body, "displayname")? {
        let (id, d) = (user_id.to_string(), d.to_owned());
        svc.db
            .run(move |c| {
                crate::store::users::set_profile(c, &crate::store::users::Profile { user_id: id, displayname: Some(d), avatar_url: None })
            })
            .await?;
    }
    let device_id = crate::ids::new_device_id();
    let token = issue_token(&arc(&svc), user_id.as_str(), &device_id, None).await?;
    log::info!("registered {user_id} with the shared secret (admin: {admin})");
    Ok(ok_json(json!({
        "user_id": user_id,
        "home_server": svc.server_name(),
        "access_token": token,
        "device_id": device_id,
    })))
}
