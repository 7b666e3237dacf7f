//! Server-side key backups: `/room_keys/version[/{version}]` and
//! `/room_keys/keys[/{roomId}[/{sessionId}]]?version=`.

use crate::api::extractors::Requester;
use crate::api::{Body, Svc, ok_json, parse_query};
use crate::error::Result;
use crate::service::key_backup::{self, KeyData, RoomKeys};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(
        cfg,
        vec![
            ("/room_keys/version", web::post().to(create_version)),
            ("/room_keys/version", web::get().to(current_version)),
            ("/room_keys/version/{version}", web::get().to(get_version)),
            ("/room_keys/version/{version}", web::put().to(update_version)),
            ("/room_keys/version/{version}", web::delete().to(delete_version)),
            ("/room_keys/keys", web::put().to(put_all)),
            ("/room_keys/keys", web::get().to(get_all)),
            ("/room_keys/keys", web::delete().to(delete_all)),
            ("/room_keys/keys/{room}", web::put().to(put_room)),
            ("/room_keys/keys/{room}", web::get().to(get_room)),
            ("/room_keys/keys/{room}", web::delete().to(delete_room)),
            ("/room_keys/keys/{room}/{session}", web::put().to(put_session)),
            ("/room_keys/keys/{room}/{session}", web::get().to(get_session)),
            ("/room_keys/keys/{room}/{session}", web::delete().to(delete_session)),
        ],
    );
}

#[derive(Deserialize)]
struct NewVersion {
    algorithm: String,
    auth_data: Value,
}

#[derive(Deserialize)]
struct UpdatedVersion {
    algorithm: String,
    auth_data: Value,
    version: Option<String>,
}

#[derive(Deserialize)]
struct VersionQuery {
    version: String,
}

#[derive(Deserialize)]
struct AllKeys {
    rooms: BTreeMap<String, RoomSessions>,
}

#[derive(Deserialize)]
struct RoomSessions {
    sessions: BTreeMap<String, KeyData>,
}

async fn create_version(svc: Svc, who: Requester, body: Body) -> Result<HttpResponse> {
    let b: NewVersion = body.parse()?;
    let version = key_backup::create(&svc, &who.user_id, b.algorithm, b.auth_data).await?;
    Ok(ok_json(json!({"version": version})))
}

async fn current_version(svc: Svc, who: Requester) -> Result<HttpResponse> {
    Ok(ok_json(json!(key_backup::version_info(&svc, &who.user_id, None).await?)))
}

async fn get_version(svc: Svc, who: Requester, path: web::Path<String>) -> Result<HttpResponse> {
    Ok(ok_json(json!(key_backup::version_info(&svc, &who.user_id, Some(&path)).await?)))
}

async fn update_version(svc: Svc, who: Requester, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    let b: UpdatedVersion = body.parse()?;
    key_backup::update(&svc, &who.user_id, &path, b.version.as_deref(), &b.algorithm, b.auth_data).await?;
    Ok(ok_json(json!({})))
}

async fn delete_version(svc: Svc, who: Requester, path: web::Path<String>) -> Result<HttpResponse> {
    key_backup::delete(&svc, &who.user_id, &path).await?;
    Ok(ok_json(json!({})))
}

fn version(req: &HttpRequest) -> Result<String> {
    Ok(parse_query::<VersionQuery>(req)?.version)
}

async fn put_all(svc: Svc, who: Requester, req: HttpRequest, body: Body) -> Result<HttpResponse> {
    let v = version(&req)?;
    let b: AllKeys = body.parse()?;
    let keys: RoomKeys = b.rooms.into_iter().map(|(room, r)| (room, r.sessions)).collect();
    Ok(ok_json(json!(key_backup::upload(&svc, &who.user_id, &v, keys).await?)))
}

async fn put_room(svc: Svc, who: Requester, req: HttpRequest, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    let v = version(&req)?;
    let b: RoomSessions = body.parse()?;
    let keys = RoomKeys::from([(path.into_inner(), b.sessions)]);
    Ok(ok_json(json!(key_backup::upload(&svc, &who.user_id, &v, keys).await?)))
}

async fn put_session(svc: Svc, who: Requester, req: HttpRequest, path: web::Path<(String, String)>, body: Body) -> Result<HttpResponse> {
    let v = version(&req)?;
    let key: KeyData = body.parse()?;
    let (room, session) = path.into_inner();
    let keys = RoomKeys::from([(room, BTreeMap::from([(session, key)]))]);
    Ok(ok_json(json!(key_backup::upload(&svc, &who.user_id, &v, keys).await?)))
}

async fn get_all(svc: Svc, who: Requester, req: HttpRequest) -> Result<HttpResponse> {
    let v = version(&req)?;
    let keys = key_backup::keys(&svc, &who.user_id, &v, None, None).await?;
    let rooms: BTreeMap<String, Value> = keys.into_iter().map(|(room, sessions)| (room, json!({"sessions": sessions}))).collect();
    Ok(ok_json(json!({"rooms": rooms})))
}

async fn get_room(svc: Svc, who: Requester, req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse> {
    let v = version(&req)?;
    let mut keys = key_backup::keys(&svc, &who.user_id, &v, Some(&path), None).await?;
    let sessions = keys.remove(path.as_str()).unwrap_or_default();
    Ok(ok_json(json!({"sessions": sessions})))
}

async fn get_session(svc: Svc, who: Requester, req: HttpRequest, path: web::Path<(String, String)>) -> Result<HttpResponse> {
    let v = version(&req)?;
    let (room, session) = path.into_inner();
    let keys = key_backup::keys(&svc, &who.user_id, &v, Some(&room), Some(&session)).await?;
    // keys() answers 404 for a session it did not find, so this one is there.
    let key = keys.into_values().flat_map(BTreeMap::into_values).next();
    Ok(ok_json(json!(key)))
}

async fn delete_all(svc: Svc, who: Requester, req: HttpRequest) -> Result<HttpResponse> {
    let v = version(&req)?;
    Ok(ok_json(json!(key_backup::delete_keys(&svc, &who.user_id, &v, None, None).await?)))
}

async fn delete_room(svc: Svc, who: Requester, req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse> {
    let v = version(&req)?;
    Ok(ok_json(json!(key_backup::delete_keys(&svc, &who.user_id, &v, Some(&path), None).await?)))
}

async fn delete_session(svc: Svc, who: Requester, req: HttpRequest, path: web::Path<(String, String)>) -> Result<HttpResponse> {
    let v = version(&req)?;
    let (room, session) = path.into_inner();
    Ok(ok_json(json!(key_backup::delete_keys(&svc, &who.user_id, &v, Some(&room), Some(&session)).await?)))
}
