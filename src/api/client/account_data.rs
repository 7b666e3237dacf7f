//! Account data (global and per room), room tags, and sync filters.

use crate::api::extractors::Requester;
use crate::api::{Body, Svc, ok_json};
use crate::error::{Error, Result};
use crate::ids::{parse_room_id, parse_user_id};
use crate::service::account_data;
use actix_web::{HttpResponse, web};
use ruma::OwnedUserId;
use serde_json::{Map, Value, json};

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(
        cfg,
        vec![
            ("/user/{user}/account_data/{type}", web::get().to(get_global)),
            ("/user/{user}/account_data/{type}", web::put().to(put_global)),
            ("/user/{user}/rooms/{room}/account_data/{type}", web::get().to(get_room)),
            ("/user/{user}/rooms/{room}/account_data/{type}", web::put().to(put_room)),
            ("/user/{user}/rooms/{room}/tags", web::get().to(get_tags)),
            ("/user/{user}/rooms/{room}/tags/{tag}", web::put().to(put_tag)),
            ("/user/{user}/rooms/{room}/tags/{tag}", web::delete().to(delete_tag)),
            ("/user/{user}/filter", web::post().to(create_filter)),
            ("/user/{user}/filter/{id}", web::get().to(get_filter)),
        ],
    );
}

/// The path's user, who must be the requester.
fn own(who: &Requester, user: &str) -> Result<OwnedUserId> {
    let u = parse_user_id(user)?;
    if u != who.user_id {
        return Err(Error::forbidden("You cannot access another user's data"));
    }
    Ok(u)
}

fn content(body: Body) -> Result<Map<String, Value>> {
    match body.object()? {
        Value::Object(o) => Ok(o),
        _ => Err(Error::bad_json("Body must be a JSON object")),
    }
}

async fn get_global(svc: Svc, who: Requester, path: web::Path<(String, String)>) -> Result<HttpResponse> {
    let (user, kind) = path.into_inner();
    let user = own(&who, &user)?;
    Ok(ok_json(account_data::get(&svc, &user, None, &kind).await?))
}

async fn put_global(svc: Svc, who: Requester, path: web::Path<(String, String)>, body: Body) -> Result<HttpResponse> {
    let (user, kind) = path.into_inner();
    let user = own(&who, &user)?;
    account_data::set(&svc, &user, None, &kind, &content(body)?).await?;
    Ok(ok_json(json!({})))
}

async fn get_room(svc: Svc, who: Requester, path: web::Path<(String, String, String)>) -> Result<HttpResponse> {
    let (user, room, kind) = path.into_inner();
    let user = own(&who, &user)?;
    let room = parse_room_id(&room)?;
    Ok(ok_json(account_data::get(&svc, &user, Some(&room), &kind).await?))
}

async fn put_room(svc: Svc, who: Requester, path: web::Path<(String, String, String)>, body: Body) -> Result<HttpResponse> {
    let (user, room, kind) = path.into_inner();
    let user = own(&who, &user)?;
    let room = parse_room_id(&room)?;
    account_data::set(&svc, &user, Some(&room), &kind, &content(body)?).await?;
    Ok(ok_json(json!({})))
}

async fn get_tags(svc: Svc, who: Requester, path: web::Path<(String, String)>) -> Result<HttpResponse> {
    let (user, room) = path.into_inner();
    let user = own(&who, &user)?;
    let room = parse_room_id(&room)?;
    Ok(ok_json(json!({"tags": account_data::tags(&svc, &user, &room).await?})))
}

async fn put_tag(svc: Svc, who: Requester, path: web::Path<(String, String, String)>, body: Body) -> Result<HttpResponse> {
    let (user, room, tag) = path.into_inner();
    let user = own(&who, &user)?;
    let room = parse_room_id(&room)?;
    account_data::set_tag(&svc, &user, &room, &tag, content(body)?).await?;
    Ok(ok_json(json!({})))
}

async fn delete_tag(svc: Svc, who: Requester, path: web::Path<(String, String, String)>) -> Result<HttpResponse> {
    let (user, room, tag) = path.into_inner();
    let user = own(&who, &user)?;
    let room = parse_room_id(&room)?;
    account_data::remove_tag(&svc, &user, &room, &tag).await?;
    Ok(ok_json(json!({})))
}

async fn create_filter(svc: Svc, who: Requester, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    let user = own(&who, &path)?;
    let id = account_data::create_filter(&svc, &user, &content(body)?).await?;
    Ok(ok_json(json!({"filter_id": id})))
}

async fn get_filter(svc: Svc, who: Requester, path: web::Path<(String, String)>) -> Result<HttpResponse> {
    let (user, id) = path.into_inner();
    let user = own(&who, &user)?;
    Ok(ok_json(account_data::filter(&svc, &user, &id).await?))
}
