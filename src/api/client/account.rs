//! Login, registration, logout, whoami, password change, deactivation and the account's
//! third-party IDs.

use crate::api::extractors::Requester;
use crate::api::extractors::client_ip;
use crate::api::{Body, Svc, arc, from_value, ok_json, parse_query};
use crate::error::Result;
use crate::service::accounts::{self, DeviceRequest, Identifier, Login, Registration};
use crate::service::user_controls;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
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
            ("/account/3pid", web::get().to(own_threepids)),
            ("/admin/whois/{user_id}", web::get().to(whois)),
        ],
    );
}

async fn login_flows() -> HttpResponse {
    ok_json(json!({"flows": [{"type": "m.login.password"}]}))
}

/// The device fields of a login or registration body, bounded.
fn requested_device(device_id: Option<String>, name: Option<String>) -> Result<DeviceRequest> {
    Ok(DeviceRequest {
        device_id: device_id.as_deref().map(crate::ids::parse_device_id).transpose()?.map(Into::into),
        display_name: name.as_deref().map(crate::ids::parse_device_name).transpose()?,
    })
}

#[derive(Deserialize)]
struct LoginBody {
    #[serde(rename = "type")]
    kind: String,
    identifier: Option<Identifier>,
    user: Option<String>,
    password: String,
    device_id: Option<String>,
    initial_device_display_name: Option<String>,
}

async fn login(svc: Svc, req: HttpRequest, body: Body) -> Result<HttpResponse> {
    let b: LoginBody = body.parse()?;
    let device = requested_device(b.device_id, b.initial_device_display_name)?;
    let login = Login { ip: client_ip(&req), kind: b.kind, identifier: b.identifier, user: b.user, password: b.password, device };
    let session = accounts::login(&svc, login).await?;
    let mut reply = json!({
        "user_id": session.user_id,
        "access_token": session.access_token,
        "device_id": session.device_id,
        "home_server": svc.server_name(),
    });
    // Clients may switch to the URL the server says it is reached at.
    if !svc.config.public_baseurl.is_empty() {
        reply["well_known"] = json!({"m.homeserver": {"base_url": svc.config.public_baseurl}});
    }
    Ok(ok_json(reply))
}

#[derive(Deserialize)]
struct UsernameQuery {
    username: String,
}

async fn register_available(svc: Svc, req: HttpRequest) -> Result<HttpResponse> {
    let q: UsernameQuery = parse_query(&req)?;
    accounts::check_username(&svc, &q.username.to_lowercase()).await?;
    Ok(ok_json(json!({"available": true})))
}

#[derive(Deserialize)]
struct RegisterQuery {
    kind: Option<String>,
}

#[derive(Deserialize)]
struct RegisterBody {
    username: Option<String>,
    password: Option<String>,
    device_id: Option<String>,
    initial_device_display_name: Option<String>,
    inhibit_login: Option<bool>,
}

async fn register(svc: Svc, req: HttpRequest, body: Body) -> Result<HttpResponse> {
    let q: RegisterQuery = parse_query(&req)?;
    let (_, op) = body.parse_uia::<Value>(&req, None)?;
    let step = accounts::registration_step(&svc, op)?;
    let b: RegisterBody = from_value(step.body.clone())?;
    let r = Registration {
        ip: client_ip(&req),
        guest: q.kind.as_deref() == Some("guest"),
        username: b.username,
        password: b.password,
        device: requested_device(b.device_id, b.initial_device_display_name)?,
        inhibit_login: b.inhibit_login.unwrap_or(false),
        step,
    };
    let done = accounts::register(&svc, r).await?;
    Ok(ok_json(match done.session {
        None => json!({"user_id": done.user_id, "home_server": svc.server_name()}),
        Some(s) => json!({
            "user_id": s.user_id,
            "access_token": s.access_token,
            "device_id": s.device_id,
            "home_server": svc.server_name(),
        }),
    }))
}

async fn logout(svc: Svc, who: Requester) -> Result<HttpResponse> {
    accounts::logout(&svc, &who.user_id, who.device_id.as_deref(), &who.token_hash).await?;
    Ok(ok_json(json!({})))
}

async fn logout_all(svc: Svc, who: Requester) -> Result<HttpResponse> {
    accounts::logout_all(&svc, &who.user_id).await?;
    Ok(ok_json(json!({})))
}

async fn whoami(who: Requester) -> HttpResponse {
    let mut body = json!({"user_id": who.user_id, "is_guest": false});
    if let Some(d) = &who.device_id {
        body["device_id"] = json!(d);
    }
    ok_json(body)
}

/// Clients' account settings list these (Element's among them); an empty list, not a 404, for
/// an account without any.
async fn own_threepids(svc: Svc, who: Requester) -> Result<HttpResponse> {
    Ok(ok_json(json!({"threepids": user_controls::threepids(&svc, &who.user_id).await?})))
}

#[derive(Deserialize)]
struct ChangePasswordBody {
    new_password: String,
    logout_devices: Option<bool>,
}

async fn change_password(svc: Svc, who: Requester, req: HttpRequest, body: Body) -> Result<HttpResponse> {
    let (b, op) = body.parse_uia::<ChangePasswordBody>(&req, Some(&who.user_id))?;
    let logout_devices = b.logout_devices.unwrap_or(true);
    accounts::change_password(&svc, &who.user_id, who.device_id.as_deref(), b.new_password, logout_devices, op).await?;
    Ok(ok_json(json!({})))
}

#[derive(Deserialize)]
struct DeactivateBody {
    erase: Option<bool>,
}

async fn deactivate(svc: Svc, who: Requester, req: HttpRequest, body: Body) -> Result<HttpResponse> {
    let (b, op) = body.parse_uia::<DeactivateBody>(&req, Some(&who.user_id))?;
    accounts::deactivate_own(&arc(&svc), &who.user_id, b.erase.unwrap_or(false), op).await?;
    Ok(ok_json(json!({"id_server_unbind_result": "no-support"})))
}

/// The spec's whois: each device with its connections. Admins may ask about anyone, users
/// about themselves.
async fn whois(svc: Svc, who: Requester, path: web::Path<String>) -> Result<HttpResponse> {
    let target = crate::ids::parse_user_id(&path)?;
    let (user_id, connections) = accounts::whois(&svc, &who.user_id, who.is_server_admin(), &target).await?;
    let mut devices = serde_json::Map::new();
    for c in connections {
        let entry = devices.entry(c.device_id).or_insert_with(|| json!({"sessions": [{"connections": []}]}));
        if let Some(list) = entry["sessions"][0]["connections"].as_array_mut() {
            list.push(json!({"ip": c.ip, "last_seen": c.last_seen, "user_agent": c.user_agent}));
        }
    }
    Ok(ok_json(json!({"user_id": user_id, "devices": devices})))
}
