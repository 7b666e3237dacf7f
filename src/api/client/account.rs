//! Login, registration, logout, whoami, password change and deactivation.

use crate::api::{Body, Svc, arc, ok_json, opt_bool, opt_str, query, str_field};
use crate::auth::Requester;
use crate::auth::password;
use crate::auth::rate_limit::client_ip;
use crate::auth::tokens::issue_token;
use crate::error::{Error, ErrorKind, Result};
use crate::ids;
use crate::store::users::User;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(
        cfg,
        vec![
            ("/login", web::get().to(login_flows)),
            ("/login", web::post().to(login)),
            ("/register", web::post().to(register)),
            ("/register/available", web::get().to(register_available)),
            ("/logout", web::post().to(logout)),
            ("/logout/all", web::post().to(logout_all)),
            ("/account/whoami", web::get().to(whoami)),
            ("/account/password", web::post().to(change_password)),
            ("/account/deactivate", web::post().to(deactivate)),
        ],
    );
}

async fn login_flows() -> HttpResponse {
    ok_json(json!({"flows": [{"type": "m.login.password"}]}))
}

/// The user a login or UIA `identifier` names: `identifier.user` or the legacy `user`.
fn identified_user(body: &Value, server_name: &str) -> Result<ruma::OwnedUserId> {
    let user = match body.get("identifier") {
        Some(ident) => {
            if !ident.is_object() {
                return Err(Error::bad_json("identifier must be an object"));
            }
            let kind = str_field(ident, "type")?;
            if kind != "m.id.user" {
                return Err(Error::unknown(format!("Unsupported identifier type {kind}")));
            }
            str_field(ident, "user")?
        }
        None => str_field(body, "user")?,
    };
    let user = user.to_lowercase();
    let full = if user.starts_with('@') { user } else { format!("@{user}:{server_name}") };
    ruma::UserId::parse(&full).map_err(|_| Error::forbidden("Invalid username or password"))
}

/// Checks `password` for `user_id`; 403 `M_FORBIDDEN` on any mismatch, `M_USER_DEACTIVATED` for
/// deactivated accounts, 429 after too many recent failures for the account.
pub async fn check_password(svc: &Svc, user_id: &str, password_given: &str) -> Result<User> {
    svc.rate_limits.check_failed_logins(user_id)?;
    let id = user_id.to_owned();
    let user = svc.db.run(move |c| crate::store::users::find(c, &id)).await?;
    // Unknown users and users without a password cost a check against a dummy hash, so the time
    // taken does not tell which accounts exist.
    let stored = user.as_ref().and_then(|u| u.password_hash.clone());
    let matched = svc.passwords.verify(password_given.to_owned(), stored).await?;
    let bad = || Error::forbidden("Invalid username or password");
    let Some(user) = user else {
        svc.rate_limits.failed_login(user_id);
        return Err(bad());
    };
    if !matched {
        if user.password_hash.is_none() && user.deactivated {
            return Err(Error::user_deactivated());
        }
        svc.rate_limits.failed_login(user_id);
        return Err(bad());
    }
    if user.deactivated {
        return Err(Error::user_deactivated());
    }
    if user.locked {
        return Err(Error::user_locked());
    }
    Ok(user)
}

async fn login(svc: Svc, req: HttpRequest, body: Body) -> Result<HttpResponse> {
    svc.rate_limits.login_address(&client_ip(&req))?;
    let body = body.object()?;
    let kind = str_field(&body, "type")?;
    if kind != "m.login.password" {
        return Err(Error::unknown(format!("Unknown login type {kind}")));
    }
    let user_id = identified_user(&body, svc.server_name())?;
    svc.rate_limits.login_account(user_id.as_str())?;
    let pw = str_field(&body, "password")?;
    check_password(&svc, user_id.as_str(), pw).await?;
    let (device_id, name) = requested_device(&body)?;
    let token = issue_token(&arc(&svc), user_id.as_str(), &device_id, name).await?;
    log::info!("{user_id} logged in on device {device_id}");
    Ok(ok_json(json!({
        "user_id": user_id,
        "access_token": token,
        "device_id": device_id,
        "home_server": svc.server_name(),
    })))
}

/// The device a login or registration asks for (a new ID when it names none), bounded.
fn requested_device(body: &Value) -> Result<(String, Option<String>)> {
    let device_id = opt_str(body, "device_id")?.map(ids::parse_device_id).transpose()?.unwrap_or_else(ids::new_device_id);
    let name = opt_str(body, "initial_device_display_name")?.map(ids::parse_device_name).transpose()?;
    Ok((device_id, name))
}

/// Validates a requested localpart and checks it is free.
pub async fn check_username(svc: &Svc, localpart: &str) -> Result<ruma::OwnedUserId> {
    ids::check_new_localpart(&svc.config, localpart)?;
    let user_id =
        ruma::UserId::parse(format!("@{localpart}:{}", svc.server_name())).map_err(|_| Error::invalid_username("Invalid user ID"))?;
    if user_id.as_str().len() > 255 {
        return Err(Error::invalid_username("User ID too long"));
    }
    let id = user_id.to_string();
    if svc.db.run(move |c| crate::store::users::exists(c, &id)).await? {
        return Err(Error::user_in_use());
    }
    Ok(user_id)
}

async fn register_available(svc: Svc, req: HttpRequest) -> Result<HttpResponse> {
    let q = query(&req);
    let name = q.get("username").ok_or_else(|| Error::missing_param("Missing username"))?;
    check_username(&svc, &name.to_lowercase()).await?;
    Ok(ok_json(json!({"available": true})))
}

/// Creates a local user with a password; shared by registration paths and the CLI.
pub async fn create_user(svc: &Svc, user_id: &ruma::UserId, pw: Option<String>, admin: bool, user_type: Option<String>) -> Result<()> {
    let hash = match pw {
        Some(p) => Some(svc.passwords.hash(p).await?),
        None => None,
    };
    let mut user = User::new(user_id, hash, admin);
    user.user_type = user_type;
    if !svc.db.run(move |c| crate::store::users::create(c, &user)).await? {
        return Err(Error::user_in_use());
    }
    Ok(())
}

async fn register(svc: Svc, req: HttpRequest, body: Body) -> Result<HttpResponse> {
    let q = query(&req);
    if q.get("kind").is_some_and(|k| k == "guest") {
        return Err(Error::new(crate::error::ErrorKind::GuestAccessForbidden, "Guest access is disabled"));
    }
    if !svc.config.enable_registration {
        return Err(Error::forbidden("Registration has been disabled"));
    }
    // Checked now, counted only when an account is made: the UIA round trip is not a registration.
    let ip = client_ip(&req);
    svc.rate_limits.check_registration(&ip)?;
    let body = body.object()?;
    let username = opt_str(&body, "username")?.map(str::to_lowercase);
    let pw = opt_str(&body, "password")?.map(str::to_owned);
    let user_id = match &username {
        Some(u) => check_username(&svc, u).await?,
        None => loop {
            let candidate = ids::random_alnum(12).to_lowercase();
            if let Ok(id) = check_username(&svc, &candidate).await {
                break id;
            }
        },
    };
    if let Some(p) = &pw {
        password::check_strength(p)?;
    }
    let (device_id, name) = requested_device(&body)?;
    svc.uia.require(&body, "m.login.dummy")?;
    svc.rate_limits.registration(&ip)?;
    create_user(&svc, &user_id, pw, false, None).await?;
    log::info!("registered {user_id}");
    if opt_bool(&body, "inhibit_login")?.unwrap_or(false) {
        return Ok(ok_json(json!({"user_id": user_id, "home_server": svc.server_name()})));
    }
    let token = issue_token(&arc(&svc), user_id.as_str(), &device_id, name).await?;
    Ok(ok_json(json!({
        "user_id": user_id,
        "access_token": token,
        "device_id": device_id,
        "home_server": svc.server_name(),
    })))
}

async fn logout(svc: Svc, who: Requester) -> Result<HttpResponse> {
    let (user, device, hash) = (who.user_id.to_string(), who.device_id.clone(), who.token_hash.clone());
    let removed = svc
        .db
        .run(move |c| match device {
            Some(d) => crate::store::devices::delete_devices(c, &user, &[d]),
            None => {
                crate::store::devices::delete_token(c, &hash)?;
                Ok(vec![hash])
            }
        })
        .await?;
    svc.tokens.forget(&removed);
    svc.tokens.forget(std::slice::from_ref(&who.token_hash));
    crate::actors::notifier::device_list_changed(&svc, who.user_id.as_str()).await;
    Ok(ok_json(json!({})))
}

async fn logout_all(svc: Svc, who: Requester) -> Result<HttpResponse> {
    let user = who.user_id.to_string();
    let removed = svc.db.run(move |c| crate::store::devices::logout_everywhere(c, &user)).await?;
    svc.tokens.forget(&removed);
    crate::actors::notifier::device_list_changed(&svc, who.user_id.as_str()).await;
    Ok(ok_json(json!({})))
}

async fn whoami(who: Requester) -> HttpResponse {
    let mut body = json!({"user_id": who.user_id, "is_guest": false});
    if let Some(d) = &who.device_id {
        body["device_id"] = json!(d);
    }
    ok_json(body)
}

/// Hashes and stores a new password; with `logout_devices`, every other session of the user
/// ends (all but `keep_device`). Shared by the client and both admin dialects.
pub async fn set_password(svc: &Svc, user_id: &str, new_password: String, logout_devices: bool, keep_device: Option<String>) -> Result<()> {
    let hash = svc.passwords.hash(new_password).await?;
    let id = user_id.to_owned();
    let removed = svc
        .db
        .run(move |c| {
            crate::store::users::set_password_hash(c, &id, Some(&hash))?;
            if logout_devices { crate::store::devices::delete_all_tokens(c, &id, keep_device.as_deref(), false) } else { Ok(vec![]) }
        })
        .await?;
    svc.tokens.forget(&removed);
    Ok(())
}

/// Completes an `m.login.password` UIA stage for the requester.
pub async fn password_uia(svc: &Svc, who: &Requester, body: &Value) -> Result<()> {
    let auth = svc.uia.require(body, "m.login.password")?;
    let claimed = identified_user(auth, svc.server_name()).unwrap_or_else(|_| who.user_id.clone());
    if claimed != who.user_id {
        return Err(svc.uia.challenge("m.login.password", ErrorKind::AuthRequired, "You can only authenticate as yourself"));
    }
    let pw = str_field(auth, "password")?;
    check_password(svc, who.user_id.as_str(), pw).await.map_err(|e| match e.kind() {
        // Too many attempts or hashes: the client must wait, not retry the stage at once.
        ErrorKind::LimitExceeded => e,
        _ => svc.uia.challenge("m.login.password", ErrorKind::AuthRequired, "Invalid password"),
    })?;
    Ok(())
}

async fn change_password(svc: Svc, who: Requester, body: Body) -> Result<HttpResponse> {
    let body = body.object()?;
    let new_password = str_field(&body, "new_password")?.to_owned();
    password::check_strength(&new_password)?;
    let logout_devices = opt_bool(&body, "logout_devices")?.unwrap_or(true);
    password_uia(&svc, &who, &body).await?;
    set_password(&svc, who.user_id.as_str(), new_password, logout_devices, who.device_id.clone()).await?;
    Ok(ok_json(json!({})))
}

async fn deactivate(svc: Svc, who: Requester, body: Body) -> Result<HttpResponse> {
    let body = body.object()?;
    let erase = opt_bool(&body, "erase")?.unwrap_or(false);
    password_uia(&svc, &who, &body).await?;
    let svc = arc(&svc);
    let actor = svc.directory.user(&svc, who.user_id.as_str()).await?;
    actor.send(crate::actors::user::Deactivate { erase }).await??;
    Ok(ok_json(json!({"id_server_unbind_result": "no-support"})))
}
