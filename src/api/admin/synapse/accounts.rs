//! Synapse's user account admin API: query, create/modify, list, deactivate, reset password,
//! joined rooms, login as a user, shadow-ban, account data, username availability, version.

use crate::api::extractors::Admin;
use crate::api::{Body, Svc, arc, ok_json, parse_query};
use crate::error::{Error, Result};
use crate::ids::parse_user_id;
use crate::service::accounts::ListQuery;
use crate::service::accounts::{self, Acting, UserChanges};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(
        cfg,
        vec![
            ("/v2/users/{user_id}", web::get().to(get_user)),
            ("/v2/users/{user_id}", web::put().to(put_user)),
            ("/v2/users", web::get().to(list_v2)),
            ("/v3/users", web::get().to(list_v3)),
            ("/v1/deactivate/{user_id}", web::post().to(deactivate)),
            ("/v1/reset_password/{user_id}", web::post().to(reset_password)),
            ("/v1/users/{user_id}/joined_rooms", web::get().to(joined_rooms)),
            ("/v1/users/{user_id}/login", web::post().to(login_as)),
            ("/v1/users/{user_id}/shadow_ban", web::post().to(shadow_ban)),
            ("/v1/users/{user_id}/shadow_ban", web::delete().to(lift_shadow_ban)),
            ("/v1/users/{user_id}/accountdata", web::get().to(account_data)),
            ("/v1/users/{user_id}/pushers", web::get().to(user_pushers)),
            ("/v1/username_available", web::get().to(username_available)),
            ("/v1/server_version", web::get().to(server_version)),
        ],
    );
}

async fn get_user(svc: Svc, _admin: Admin, path: web::Path<String>) -> Result<HttpResponse> {
    Ok(ok_json(json!(accounts::user_details(&svc, &parse_user_id(&path)?).await?)))
}

#[derive(Deserialize)]
struct Threepid {
    medium: String,
    address: String,
}

#[derive(Deserialize)]
struct PutUserBody {
    #[serde(default, deserialize_with = "crate::api::null_or")]
    password: Option<Option<String>>,
    logout_devices: Option<bool>,
    #[serde(default, deserialize_with = "crate::api::null_or")]
    displayname: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::api::null_or")]
    avatar_url: Option<Option<String>>,
    threepids: Option<Vec<Threepid>>,
    admin: Option<bool>,
    deactivated: Option<bool>,
    locked: Option<bool>,
    #[serde(default, deserialize_with = "crate::api::null_or")]
    user_type: Option<Option<String>>,
}

impl PutUserBody {
    fn changes(self) -> UserChanges {
        UserChanges {
            password: self.password.flatten(),
            logout_devices: self.logout_devices.unwrap_or(true),
            displayname: self.displayname,
            avatar_url: self.avatar_url,
            threepids: self.threepids.map(|list| list.into_iter().map(|t| (t.medium, t.address)).collect()),
            admin: self.admin,
            deactivated: self.deactivated,
            locked: self.locked,
            user_type: self.user_type,
        }
    }
}

/// Create (201) or modify (200) a user; optional fields keep their current value.
async fn put_user(svc: Svc, admin: Admin, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    // A well-formed ID of this server whose localpart no user may have is refused as a
    // registration is.
    let target = parse_user_id(&path).map_err(|e| match ruma::UserId::parse(path.as_str()) {
        Ok(id) if id.server_name().as_str() != svc.server_name() => accounts::not_local(),
        Ok(_) => Error::invalid_username("User ID can only contain characters a-z, 0-9, or '=_-./+'"),
        Err(_) => e,
    })?;
    let changes = body.parse_nonempty::<PutUserBody>()?.changes();
    let acting = Acting { user_id: &admin.user_id, device_id: admin.device_id.as_deref() };
    let (created, user) = accounts::put_user(&arc(&svc), acting, &target, changes).await?;
    Ok(if created { HttpResponse::Created().json(user) } else { ok_json(json!(user)) })
}

#[derive(Deserialize)]
struct ListParams {
    from: Option<i64>,
    limit: Option<i64>,
    user_id: Option<String>,
    name: Option<String>,
    guests: Option<bool>,
    deactivated: Option<bool>,
    admins: Option<bool>,
    locked: Option<bool>,
    order_by: Option<String>,
    dir: Option<String>,
}

/// The user list's parameters; `v3` makes `deactivated` tri-state.
fn list_query(req: &HttpRequest, v3: bool) -> Result<ListQuery> {
    let q: ListParams = parse_query(req)?;
    let descending = match q.dir.as_deref() {
        None | Some("f") => false,
        Some("b") => true,
        Some(_) => return Err(Error::invalid_param("dir must be f or b")),
    };
    let deactivated = match (v3, q.deactivated) {
        (true, d) => d,
        (false, Some(true)) => None,
        (false, _) => Some(false),
    };
    // Repeatable, which a struct cannot take.
    let not_user_types = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map(|v| v.into_inner().into_iter().filter(|(k, _)| k == "not_user_type").map(|(_, v)| v).collect())
        .unwrap_or_default();
    Ok(ListQuery {
        from: q.from.unwrap_or(0),
        limit: q.limit.unwrap_or(100),
        user_id: q.user_id,
        name: q.name,
        guests: q.guests.unwrap_or(true),
        deactivated,
        admins: q.admins,
        locked: q.locked.unwrap_or(false),
        not_user_types,
        order_by: q.order_by.unwrap_or_else(|| "name".into()),
        descending,
    })
}

async fn list_v2(svc: Svc, _admin: Admin, req: HttpRequest) -> Result<HttpResponse> {
    Ok(ok_json(json!(accounts::list_users(&svc, list_query(&req, false)?).await?)))
}

async fn list_v3(svc: Svc, _admin: Admin, req: HttpRequest) -> Result<HttpResponse> {
    Ok(ok_json(json!(accounts::list_users(&svc, list_query(&req, true)?).await?)))
}

#[derive(Deserialize)]
struct DeactivateBody {
    erase: Option<bool>,
}

async fn deactivate(svc: Svc, admin: Admin, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    let target = parse_user_id(&path)?;
    let b: DeactivateBody = body.parse()?;
    accounts::admin_deactivate(&arc(&svc), &admin.user_id, &target, b.erase.unwrap_or(false)).await?;
    Ok(ok_json(json!({"id_server_unbind_result": "success"})))
}

#[derive(Deserialize)]
struct ResetPasswordBody {
    new_password: String,
    logout_devices: Option<bool>,
}

async fn reset_password(svc: Svc, admin: Admin, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    let target = parse_user_id(&path)?;
    let b: ResetPasswordBody = body.parse()?;
    let acting = Acting { user_id: &admin.user_id, device_id: admin.device_id.as_deref() };
    accounts::admin_set_password(&svc, acting, &target, b.new_password, b.logout_devices.unwrap_or(true)).await?;
    Ok(ok_json(json!({})))
}

async fn joined_rooms(svc: Svc, _admin: Admin, path: web::Path<String>) -> Result<HttpResponse> {
    let rooms = accounts::joined_rooms(&svc, &parse_user_id(&path)?).await?;
    Ok(ok_json(json!({"total": rooms.len(), "joined_rooms": rooms})))
}

#[derive(Deserialize)]
struct LoginAsBody {
    valid_until_ms: Option<i64>,
}

async fn login_as(svc: Svc, admin: Admin, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    let target = parse_user_id(&path)?;
    let b: LoginAsBody = body.parse()?;
    let token = accounts::login_as(&svc, &admin.user_id, &target, b.valid_until_ms).await?;
    Ok(ok_json(json!({"access_token": token})))
}

async fn shadow_ban(svc: Svc, admin: Admin, path: web::Path<String>) -> Result<HttpResponse> {
    accounts::set_shadow_ban(&svc, &admin.user_id, &parse_user_id(&path)?, true).await?;
    Ok(ok_json(json!({})))
}

async fn lift_shadow_ban(svc: Svc, admin: Admin, path: web::Path<String>) -> Result<HttpResponse> {
    accounts::set_shadow_ban(&svc, &admin.user_id, &parse_user_id(&path)?, false).await?;
    Ok(ok_json(json!({})))
}

async fn account_data(svc: Svc, _admin: Admin, path: web::Path<String>) -> Result<HttpResponse> {
    let (global, rooms) = crate::service::account_data::everything(&svc, &parse_user_id(&path)?).await?;
    Ok(ok_json(json!({"account_data": {"global": global, "rooms": rooms}})))
}

#[derive(Deserialize)]
struct UsernameQuery {
    username: String,
}

async fn username_available(svc: Svc, _admin: Admin, req: HttpRequest) -> Result<HttpResponse> {
    let q: UsernameQuery = parse_query(&req)?;
    // The same check as the client's /register/available, which works even with registration off.
    accounts::check_username(&svc, &q.username.to_lowercase()).await?;
    Ok(ok_json(json!({"available": true})))
}

/// Served without a token, as Synapse does: the admin UIs show it on their login pages.
async fn server_version() -> HttpResponse {
    ok_json(json!({"server_version": format!("Ensemble {}", env!("CARGO_PKG_VERSION"))}))
}

async fn user_pushers(svc: Svc, _admin: Admin, path: web::Path<String>) -> Result<HttpResponse> {
    let pushers = crate::service::pushers::admin_list(&svc, &parse_user_id(&path)?).await?;
    Ok(ok_json(json!({"total": pushers.len(), "pushers": pushers})))
}
