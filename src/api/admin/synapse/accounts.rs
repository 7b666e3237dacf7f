//! Synapse's user account admin API: query, create/modify, list, deactivate, reset password,
//! joined rooms, login as a user, shadow-ban, account data, username availability, version.

use super::users::existing_local_user;
use crate::actors::user::{Deactivate, SetProfile};
use crate::api::client::account::create_user;
use crate::api::{Body, Svc, arc, ok_json, opt_bool, query, query_bool, query_i64};
use crate::auth::{Admin, password};
use crate::error::{Error, Result};
use crate::ids::parse_user_id;
use crate::store::users::{ListQuery, ORDER_KEYS, User};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};

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

const USER_TYPES: &[&str] = &["support", "bot"];

/// The user as `GET /v2/users/<id>` shows it. `creation_ts` is in seconds, as in the seed.
async fn user_json(svc: &Svc, id: &str) -> Result<Value> {
    let i = id.to_owned();
    let (user, profile, threepids) = svc
        .db
        .run(move |c| {
            let u = crate::store::users::find(c, &i)?.ok_or_else(|| Error::not_found("User not found"))?;
            Ok((u, crate::store::users::profile(c, &i)?.unwrap_or_default(), crate::store::users::threepids(c, &i)?))
        })
        .await?;
    Ok(json!({
        "name": user.user_id,
        "displayname": profile.displayname,
        "avatar_url": profile.avatar_url,
        "threepids": threepids.iter().map(|(m, a, added, validated)| json!({"medium": m, "address": a, "added_at": added, "validated_at": validated})).collect::<Vec<_>>(),
        "admin": user.admin,
        "deactivated": user.deactivated,
        "erased": user.erased,
        "shadow_banned": user.shadow_banned,
        "locked": user.locked,
        "suspended": false,
        "creation_ts": user.creation_ts / 1000,
        "appservice_id": null,
        "consent_server_notice_sent": null,
        "consent_version": null,
        "consent_ts": null,
        "user_type": user.user_type,
        "is_guest": user.is_guest,
        "external_ids": [],
        "last_seen_ts": user.last_seen_ts,
        "approved": true,
    }))
}

async fn get_user(svc: Svc, _admin: Admin, path: web::Path<String>) -> Result<HttpResponse> {
    let user = existing_local_user(&svc, &path).await?;
    Ok(ok_json(user_json(&svc, &user.user_id).await?))
}

fn opt_string_or_null(body: &Value, key: &str) -> Result<Option<Option<String>>> {
    match body.get(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) => Ok(Some(Some(s.clone()))),
        Some(_) => Err(Error::bad_json(format!("{key} must be a string"))),
    }
}

fn parse_threepids(body: &Value) -> Result<Option<Vec<(String, String)>>> {
    match body.get("threepids") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(list)) => list
            .iter()
            .map(|t| {
                let m = t.get("medium").and_then(Value::as_str).ok_or_else(|| Error::bad_json("threepid medium must be a string"))?;
                let a = t.get("address").and_then(Value::as_str).ok_or_else(|| Error::bad_json("threepid address must be a string"))?;
                if !matches!(m, "email" | "msisdn") {
                    return Err(Error::bad_json(format!("Unknown threepid medium {m}")));
                }
                Ok((m.to_owned(), if m == "email" { a.to_lowercase() } else { a.to_owned() }))
            })
            .collect::<Result<_>>()
            .map(Some),
        Some(_) => Err(Error::bad_json("threepids must be a list")),
    }
}

/// Create (201) or modify (200) a user; optional fields keep their current value.
async fn put_user(svc: Svc, admin: Admin, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    let target = parse_user_id(&path)?;
    if target.server_name().as_str() != svc.server_name() {
        return Err(Error::invalid_param("This endpoint can only be used with local users"));
    }
    let body = body.object()?;
    let pw = opt_string_or_null(&body, "password")?.flatten();
    if pw.as_ref().is_some_and(|p| p.len() > 512) {
        return Err(Error::invalid_param("Invalid password: too long"));
    }
    let logout_devices = opt_bool(&body, "logout_devices")?.unwrap_or(true);
    let displayname = opt_string_or_null(&body, "displayname")?;
    let avatar_url = opt_string_or_null(&body, "avatar_url")?;
    if let Some(Some(a)) = &avatar_url
        && !a.is_empty()
        && !a.starts_with("mxc://")
    {
        return Err(Error::invalid_param("avatar_url must be an MXC URI"));
    }
    let threepids = parse_threepids(&body)?;
    let set_admin = opt_bool(&body, "admin")?;
    let deactivated = opt_bool(&body, "deactivated")?;
    let locked = opt_bool(&body, "locked")?;
    let user_type = opt_string_or_null(&body, "user_type")?;
    if let Some(Some(t)) = &user_type
        && !USER_TYPES.contains(&t.as_str())
    {
        return Err(Error::invalid_param("Invalid user type"));
    }
    if deactivated == Some(true) && locked == Some(true) {
        return Err(Error::invalid_param("An account cannot be both deactivated and locked"));
    }
    let id = target.to_string();
    let i = id.clone();
    let existing = svc.db.run(move |c| crate::store::users::find(c, &i)).await?;
    let svc_arc = arc(&svc);
    let created = existing.is_none();
    match existing {
        None => {
            crate::ids::check_new_localpart(&svc.config, target.localpart())?;
            create_user(&svc, &target, pw.clone(), set_admin.unwrap_or(false), user_type.clone().flatten()).await?;
            let (i, l, t) = (id.clone(), locked, threepids.clone());
            let dn = displayname.clone().flatten().unwrap_or_else(|| target.localpart().to_owned());
            let av = avatar_url.clone().flatten();
            svc.db
                .run(move |c| {
                    crate::store::users::set_profile(
                        c,
                        &crate::store::users::Profile { user_id: i.clone(), displayname: Some(dn), avatar_url: av },
                    )?;
                    crate::store::users::update_flags(c, &i, l, None, None)?;
                    if let Some(t) = t {
                        crate::store::users::set_threepids(c, &i, &t)?;
                    }
                    if deactivated == Some(true) {
                        crate::store::users::deactivate(c, &i, false)?;
                    }
                    Ok(())
                })
                .await?;
            log::info!("admin {} created user {id}", admin.user_id);
        }
        Some(user) => {
            if set_admin == Some(false) && admin.user_id == target {
                return Err(Error::bad_json("You may not demote yourself."));
            }
            if user.deactivated && deactivated == Some(false) && pw.is_none() {
                return Err(Error::bad_json("Must provide a password to re-activate an account."));
            }
            if deactivated == Some(true) && !user.deactivated {
                svc_arc.directory.user(&svc_arc, &id).await?.send(Deactivate { erase: false }).await??;
            }
            if let Some(p) = pw.clone() {
                let hash = svc.passwords.hash(p).await?;
                let keep = if admin.user_id == target { admin.device_id.clone() } else { None };
                let (i, reactivate) = (id.clone(), user.deactivated && deactivated == Some(false));
                let removed = svc
                    .db
                    .run(move |c| {
                        crate::store::users::set_password_hash(c, &i, Some(&hash))?;
                        if reactivate {
                            crate::store::users::reactivate(c, &i)?;
                        }
                        if logout_devices { crate::store::devices::delete_all_tokens(c, &i, keep.as_deref(), false) } else { Ok(vec![]) }
                    })
                    .await?;
                svc.tokens.forget(&removed);
                if reactivate {
                    svc.deactivated.remove(&id);
                }
            }
            if displayname.is_some() || avatar_url.is_some() {
                let actor = svc_arc.directory.user(&svc_arc, &id).await?;
                let dn = displayname.map(|d| d.filter(|s| !s.is_empty()));
                actor.send(SetProfile { displayname: dn, avatar_url }).await??;
            }
            let (i, t) = (id.clone(), threepids);
            svc.db
                .run(move |c| {
                    if let Some(a) = set_admin {
                        crate::store::users::set_admin(c, &i, a)?;
                    }
                    crate::store::users::update_flags(c, &i, locked, None, user_type)?;
                    if let Some(t) = t {
                        crate::store::users::set_threepids(c, &i, &t)?;
                    }
                    Ok(())
                })
                .await?;
            svc.tokens.forget_user(&id);
            log::info!("admin {} modified user {id}", admin.user_id);
        }
    }
    let body = user_json(&svc, &id).await?;
    Ok(if created { HttpResponse::Created().json(body) } else { ok_json(body) })
}

/// Most users one page of the list returns.
const MAX_PAGE: i64 = 1_000;

/// Query parameters of the user list; `v3` makes `deactivated` tri-state.
fn list_query(req: &HttpRequest, v3: bool) -> Result<ListQuery> {
    let q = query(req);
    let from = query_i64(&q, "from")?.unwrap_or(0);
    let limit = query_i64(&q, "limit")?.unwrap_or(100);
    if from < 0 || limit < 0 {
        return Err(Error::invalid_param("from and limit must not be negative"));
    }
    let limit = limit.min(MAX_PAGE);
    let order_by = q.get("order_by").cloned().unwrap_or_else(|| "name".into());
    if !ORDER_KEYS.contains(&order_by.as_str()) {
        return Err(Error::invalid_param("Unknown value for order_by"));
    }
    let descending = match q.get("dir").map(String::as_str) {
        None | Some("f") => false,
        Some("b") => true,
        Some(_) => return Err(Error::invalid_param("dir must be f or b")),
    };
    let deactivated_param = query_bool(&q, "deactivated")?;
    let deactivated = if v3 {
        deactivated_param
    } else if deactivated_param == Some(true) {
        None
    } else {
        Some(false)
    };
    let not_user_types = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map(|v| v.into_inner().into_iter().filter(|(k, _)| k == "not_user_type").map(|(_, v)| v).collect())
        .unwrap_or_default();
    Ok(ListQuery {
        from,
        limit,
        user_id: q.get("user_id").cloned(),
        name: q.get("name").cloned(),
        guests: query_bool(&q, "guests")?.unwrap_or(true),
        deactivated,
        admins: query_bool(&q, "admins")?,
        locked: query_bool(&q, "locked")?.unwrap_or(false),
        not_user_types,
        order_by,
        descending,
    })
}

fn list_entry(u: &User, displayname: Option<String>, avatar_url: Option<String>) -> Value {
    json!({
        "name": u.user_id,
        "user_type": u.user_type,
        "is_guest": u.is_guest,
        "admin": u.admin,
        "deactivated": u.deactivated,
        "shadow_banned": u.shadow_banned,
        "displayname": displayname,
        "avatar_url": avatar_url,
        "creation_ts": u.creation_ts,
        "approved": true,
        "erased": u.erased,
        "last_seen_ts": u.last_seen_ts,
        "locked": u.locked,
    })
}

async fn list(svc: Svc, req: HttpRequest, v3: bool) -> Result<HttpResponse> {
    let q = list_query(&req, v3)?;
    let (from, limit) = (q.from, q.limit);
    let (rows, total) = svc.db.run(move |c| crate::store::users::list(c, &q)).await?;
    let users: Vec<Value> = rows.into_iter().map(|(u, d, a)| list_entry(&u, d, a)).collect();
    let mut body = json!({"users": users, "total": total});
    // `from` is the client's: it may be near i64::MAX.
    if from.saturating_add(limit) < total {
        body["next_token"] = json!(from.saturating_add(users_len(&body)).to_string());
    }
    Ok(ok_json(body))
}

fn users_len(body: &Value) -> i64 {
    body["users"].as_array().map(|a| a.len() as i64).unwrap_or(0)
}

async fn list_v2(svc: Svc, _admin: Admin, req: HttpRequest) -> Result<HttpResponse> {
    list(svc, req, false).await
}

async fn list_v3(svc: Svc, _admin: Admin, req: HttpRequest) -> Result<HttpResponse> {
    list(svc, req, true).await
}

async fn deactivate(svc: Svc, admin: Admin, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    let user = existing_local_user(&svc, &path).await?;
    let body = body.object()?;
    let erase = opt_bool(&body, "erase")?.unwrap_or(false);
    let svc_arc = arc(&svc);
    svc_arc.directory.user(&svc_arc, &user.user_id).await?.send(Deactivate { erase }).await??;
    log::info!("admin {} deactivated {} (erase: {erase})", admin.user_id, user.user_id);
    Ok(ok_json(json!({"id_server_unbind_result": "success"})))
}

async fn reset_password(svc: Svc, admin: Admin, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    let user = existing_local_user(&svc, &path).await?;
    let body = body.object()?;
    let new_password = crate::api::str_field(&body, "new_password")?.to_owned();
    password::check_strength(&new_password)?;
    let logout_devices = opt_bool(&body, "logout_devices")?.unwrap_or(true);
    let keep = if admin.user_id.as_str() == user.user_id { admin.device_id.clone() } else { None };
    crate::api::client::account::set_password(&svc, &user.user_id, new_password, logout_devices, keep).await?;
    log::info!("admin {} reset the password of {} (logout_devices: {logout_devices})", admin.user_id, user.user_id);
    Ok(ok_json(json!({})))
}

async fn joined_rooms(svc: Svc, _admin: Admin, path: web::Path<String>) -> Result<HttpResponse> {
    let user = existing_local_user(&svc, &path).await?;
    let rooms = svc.db.run(move |c| crate::store::memberships::joined_rooms(c, &user.user_id)).await?;
    Ok(ok_json(json!({"total": rooms.len(), "joined_rooms": rooms})))
}

/// A token that acts as the user: no device, never an admin token, optionally expiring, and
/// revoked when the admin logs out everywhere.
async fn login_as(svc: Svc, admin: Admin, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    let user = existing_local_user(&svc, &path).await?;
    if user.user_id == admin.user_id.as_str() {
        return Err(Error::bad_json("Cannot use admin API to login as self"));
    }
    let body = body.object()?;
    let valid_until_ms = match body.get("valid_until_ms") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_i64().ok_or_else(|| Error::bad_json("valid_until_ms must be an integer"))?),
    };
    let token = crate::ids::new_access_token();
    let row = crate::store::devices::AccessToken {
        token_hash: crate::auth::tokens::hash_token(&token),
        user_id: user.user_id.clone(),
        device_id: None,
        valid_until_ms,
        puppeted_by: Some(admin.user_id.to_string()),
        created_ts: crate::ids::now_ms(),
    };
    svc.db.run(move |c| crate::store::devices::insert_token(c, &row)).await?;
    log::info!("admin {} logged in as {}", admin.user_id, user.user_id);
    Ok(ok_json(json!({"access_token": token})))
}

async fn set_shadow_ban(svc: Svc, admin: Admin, path: web::Path<String>, banned: bool) -> Result<HttpResponse> {
    let user = existing_local_user(&svc, &path).await?;
    let id = user.user_id.clone();
    svc.db.run(move |c| crate::store::users::update_flags(c, &id, None, Some(banned), None)).await?;
    svc.tokens.forget_user(&user.user_id);
    log::info!("admin {} set shadow_banned={banned} for {}", admin.user_id, user.user_id);
    Ok(ok_json(json!({})))
}

async fn shadow_ban(svc: Svc, admin: Admin, path: web::Path<String>) -> Result<HttpResponse> {
    set_shadow_ban(svc, admin, path, true).await
}

async fn lift_shadow_ban(svc: Svc, admin: Admin, path: web::Path<String>) -> Result<HttpResponse> {
    set_shadow_ban(svc, admin, path, false).await
}

async fn account_data(svc: Svc, _admin: Admin, path: web::Path<String>) -> Result<HttpResponse> {
    let user = existing_local_user(&svc, &path).await?;
    let rows = svc.db.run(move |c| crate::store::account_data::changed_since(c, &user.user_id, 0)).await?;
    let mut global = Map::new();
    let mut rooms: Map<String, Value> = Map::new();
    for (room, kind, content) in rows {
        let v: Value = serde_json::from_str(&content).unwrap_or_else(|_| json!({}));
        if room.is_empty() {
            global.insert(kind, v);
        } else if let Some(o) = rooms.entry(room).or_insert_with(|| json!({})).as_object_mut() {
            o.insert(kind, v);
        }
    }
    Ok(ok_json(json!({"account_data": {"global": global, "rooms": rooms}})))
}

async fn username_available(svc: Svc, _admin: Admin, req: HttpRequest) -> Result<HttpResponse> {
    let q = query(&req);
    let name = q.get("username").ok_or_else(|| Error::missing_param("Missing username"))?.to_lowercase();
    // The same check as the client's /register/available, which works even with registration off.
    crate::api::client::account::check_username(&svc, &name).await?;
    Ok(ok_json(json!({"available": true})))
}

async fn server_version(_admin: Admin) -> HttpResponse {
    ok_json(json!({"server_version": format!("Ensemble {}", env!("CARGO_PKG_VERSION"))}))
}

async fn user_pushers(svc: Svc, _admin: Admin, path: web::Path<String>) -> Result<HttpResponse> {
    let user = existing_local_user(&svc, &path).await?;
    let list = svc.db.run(move |c| crate::store::pushers::list(c, &user.user_id)).await?;
    let pushers: Vec<Value> = list.iter().map(crate::api::client::pushers::pusher_json).collect();
    Ok(ok_json(json!({"total": pushers.len(), "pushers": pushers})))
}
