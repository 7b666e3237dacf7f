//! Account data (global and per room), room tags, and sync filters.

use crate::actors::notifier::AccountDataChanged;
use crate::api::{Body, Svc, ok_json};
use crate::auth::Requester;
use crate::error::{Error, Result};
use crate::ids::{parse_room_id, parse_user_id};
use crate::store::account_data as store;
use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

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

fn own(who: &Requester, user: &str) -> Result<String> {
    let u = parse_user_id(user)?;
    if u != who.user_id {
        return Err(Error::forbidden("You cannot access another user's data"));
    }
    Ok(u.to_string())
}

/// Stores and wakes the user's syncs.
pub async fn write(svc: &Svc, user: String, room: String, kind: String, content: Value) -> Result<()> {
    let text = content.to_string();
    let u = user.clone();
    let id = svc.db.run(move |c| store::set(c, &u, &room, &kind, &text)).await?;
    svc.notifier.do_send(AccountDataChanged { user, stream_id: id });
    Ok(())
}

async fn read(svc: &Svc, user: String, room: String, kind: String) -> Result<Option<Value>> {
    let v = svc.db.run(move |c| store::get(c, &user, &room, &kind)).await?;
    Ok(v.and_then(|t| serde_json::from_str(&t).ok()))
}

fn reserved(kind: &str) -> Result<()> {
    if matches!(kind, "m.fully_read" | "m.push_rules") {
        return Err(Error::bad_json(format!("{kind} cannot be set through account data")));
    }
    Ok(())
}

async fn get_global(svc: Svc, who: Requester, path: web::Path<(String, String)>) -> Result<HttpResponse> {
    let (user, kind) = path.into_inner();
    let user = own(&who, &user)?;
    read(&svc, user, store::GLOBAL.into(), kind).await?.map(ok_json).ok_or_else(|| Error::not_found("Account data not found"))
}

async fn put_global(svc: Svc, who: Requester, path: web::Path<(String, String)>, body: Body) -> Result<HttpResponse> {
    let (user, kind) = path.into_inner();
    let user = own(&who, &user)?;
    reserved(&kind)?;
    write(&svc, user, store::GLOBAL.into(), kind, body.object()?).await?;
    Ok(ok_json(json!({})))
}

async fn get_room(svc: Svc, who: Requester, path: web::Path<(String, String, String)>) -> Result<HttpResponse> {
    let (user, room, kind) = path.into_inner();
    let user = own(&who, &user)?;
    let room = parse_room_id(&room)?.to_string();
    read(&svc, user, room, kind).await?.map(ok_json).ok_or_else(|| Error::not_found("Account data not found"))
}

async fn put_room(svc: Svc, who: Requester, path: web::Path<(String, String, String)>, body: Body) -> Result<HttpResponse> {
    let (user, room, kind) = path.into_inner();
    let user = own(&who, &user)?;
    let room = parse_room_id(&room)?.to_string();
    reserved(&kind)?;
    write(&svc, user, room, kind, body.object()?).await?;
    Ok(ok_json(json!({})))
}

async fn tags_of(svc: &Svc, user: &str, room: &str) -> Result<Value> {
    let v = read(svc, user.into(), room.into(), "m.tag".into()).await?;
    Ok(v.and_then(|v| v.get("tags").cloned()).filter(Value::is_object).unwrap_or_else(|| json!({})))
}

async fn get_tags(svc: Svc, who: Requester, path: web::Path<(String, String)>) -> Result<HttpResponse> {
    let (user, room) = path.into_inner();
    let user = own(&who, &user)?;
    let room = parse_room_id(&room)?.to_string();
    Ok(ok_json(json!({"tags": tags_of(&svc, &user, &room).await?})))
}

async fn put_tag(svc: Svc, who: Requester, path: web::Path<(String, String, String)>, body: Body) -> Result<HttpResponse> {
    let (user, room, tag) = path.into_inner();
    let user = own(&who, &user)?;
    let room = parse_room_id(&room)?.to_string();
    let body = body.object()?;
    if let Some(o) = body.get("order")
        && !o.is_number()
    {
        return Err(Error::bad_json("order must be a number"));
    }
    let mut tags = tags_of(&svc, &user, &room).await?;
    tags[&tag] = body;
    write(&svc, user, room, "m.tag".into(), json!({"tags": tags})).await?;
    Ok(ok_json(json!({})))
}

async fn delete_tag(svc: Svc, who: Requester, path: web::Path<(String, String, String)>) -> Result<HttpResponse> {
    let (user, room, tag) = path.into_inner();
    let user = own(&who, &user)?;
    let room = parse_room_id(&room)?.to_string();
    let mut tags = tags_of(&svc, &user, &room).await?;
    if let Some(o) = tags.as_object_mut() {
        o.remove(&tag);
    }
    write(&svc, user, room, "m.tag".into(), json!({"tags": tags})).await?;
    Ok(ok_json(json!({})))
}

async fn create_filter(svc: Svc, who: Requester, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    let user = own(&who, &path)?;
    let body = body.object()?;
    if let Some(l) = body.get("room").and_then(|r| r.get("timeline")).and_then(|t| t.get("limit"))
        && !l.is_u64()
    {
        return Err(Error::bad_json("timeline limit must be a non-negative integer"));
    }
    let text = body.to_string();
    let id = svc.db.run(move |c| store::add_filter(c, &user, &text)).await?;
    Ok(ok_json(json!({"filter_id": id.to_string()})))
}

async fn get_filter(svc: Svc, who: Requester, path: web::Path<(String, String)>) -> Result<HttpResponse> {
    let (user, id) = path.into_inner();
    let user = own(&who, &user)?;
    let id: i64 = id.parse().map_err(|_| Error::not_found("No such filter"))?;
    let f = svc.db.run(move |c| store::get_filter(c, &user, id)).await?;
    let f = f.ok_or_else(|| Error::not_found("No such filter"))?;
    Ok(ok_json(serde_json::from_str(&f).unwrap_or_else(|_| json!({}))))
}
