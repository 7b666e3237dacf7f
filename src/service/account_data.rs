//! Account data (global and per room), room tags, and sync filters.

use crate::Services;
use crate::actors::notifier::AccountDataChanged;
use crate::error::{Error, Result};
use crate::store::account_data as store;
use ruma::{RoomId, UserId};
use serde_json::{Map, Value, json};
use std::collections::HashSet;

/// Stores and wakes the user's syncs. `room` is empty for global account data.
pub async fn write(svc: &Services, user: &UserId, room: Option<&RoomId>, kind: &str, content: &Value) -> Result<()> {
    let (text, u, r, k) = (content.to_string(), user.to_string(), room_key(room), kind.to_owned());
    let id = svc.db.run(move |c| store::set(c, &u, &r, &k, &text)).await?;
    if room.is_none() && kind == IGNORED_USERS {
        svc.kept.ignored.forget(user.as_str());
    }
    svc.notifier.do_send(AccountDataChanged { user: user.to_owned(), stream_id: id });
    Ok(())
}

const IGNORED_USERS: &str = "m.ignored_user_list";

/// The users `user` ignores (`m.ignored_user_list`): their events stay out of the user's
/// timelines and their invites out of the user's syncs. A change takes effect on the next
/// request (the copy woken long-polls keep is forgotten when the list is written).
pub fn ignored_users(c: &mut crate::store::Conn, user: &str) -> Result<HashSet<String>> {
    let Some(text) = store::get(c, user, store::GLOBAL, IGNORED_USERS)? else {
        return Ok(Default::default());
    };
    let content: Value = serde_json::from_str(&text).unwrap_or_default();
    Ok(content.get("ignored_users").and_then(Value::as_object).map(|m| m.keys().cloned().collect()).unwrap_or_default())
}

/// Whether a timeline event is hidden from someone ignoring `ignored`: messages of ignored
/// senders are, state events are not (the room's state must stay whole).
pub fn hidden_by_ignore(ignored: &HashSet<String>, p: &crate::events::Pdu) -> bool {
    p.state_key.is_none() && ignored.contains(p.sender.as_str())
}

fn room_key(room: Option<&RoomId>) -> String {
    room.map_or_else(|| store::GLOBAL.to_owned(), |r| r.to_string())
}

async fn read(svc: &Services, user: &UserId, room: Option<&RoomId>, kind: &str) -> Result<Option<Value>> {
    let (u, r, k) = (user.to_string(), room_key(room), kind.to_owned());
    let v = svc.db.run(move |c| store::get(c, &u, &r, &k)).await?;
    Ok(v.and_then(|t| serde_json::from_str(&t).ok()))
}

/// The account data of `kind`, 404 if never set.
pub async fn get(svc: &Services, user: &UserId, room: Option<&RoomId>, kind: &str) -> Result<Value> {
    read(svc, user, room, kind).await?.ok_or_else(|| Error::not_found("Account data not found"))
}

/// Sets account data a client may set: not the types the server keeps itself.
pub async fn set(svc: &Services, user: &UserId, room: Option<&RoomId>, kind: &str, content: &Map<String, Value>) -> Result<()> {
    if matches!(kind, "m.fully_read" | "m.push_rules") {
        return Err(Error::bad_json(format!("{kind} cannot be set through account data")));
    }
    write(svc, user, room, kind, &Value::Object(content.clone())).await
}

/// The room's tags: tag -> its content (`order`, ...).
pub async fn tags(svc: &Services, user: &UserId, room: &RoomId) -> Result<Map<String, Value>> {
    let v = read(svc, user, Some(room), "m.tag").await?;
    Ok(v.and_then(|mut v| v.get_mut("tags").map(Value::take)).and_then(|t| t.as_object().cloned()).unwrap_or_default())
}

pub async fn set_tag(svc: &Services, user: &UserId, room: &RoomId, tag: &str, content: Map<String, Value>) -> Result<()> {
    if let Some(o) = content.get("order")
        && !o.is_number()
    {
        return Err(Error::bad_json("order must be a number"));
    }
    let mut tags = tags(svc, user, room).await?;
    tags.insert(tag.to_owned(), Value::Object(content));
    write(svc, user, Some(room), "m.tag", &json!({ "tags": tags })).await
}

pub async fn remove_tag(svc: &Services, user: &UserId, room: &RoomId, tag: &str) -> Result<()> {
    let mut tags = tags(svc, user, room).await?;
    tags.remove(tag);
    write(svc, user, Some(room), "m.tag", &json!({ "tags": tags })).await
}

/// Stores a sync filter and returns its ID.
pub async fn create_filter(svc: &Services, user: &UserId, filter: &Map<String, Value>) -> Result<String> {
    crate::events::filter::FilterDefinition::parse(&Value::Object(filter.clone()))?;
    let (u, text) = (user.to_string(), Value::Object(filter.clone()).to_string());
    Ok(svc.db.run(move |c| store::add_filter(c, &u, &text)).await?.to_string())
}

pub async fn filter(svc: &Services, user: &UserId, id: &str) -> Result<Value> {
    let not_found = || Error::not_found("No such filter");
    let id: i64 = id.parse().map_err(|_| not_found())?;
    let u = user.to_string();
    let f = svc.db.run(move |c| store::get_filter(c, &u, id)).await?.ok_or_else(not_found)?;
    Ok(serde_json::from_str(&f).unwrap_or_else(|_| json!({})))
}

/// All of a local user's account data, for admins: (global type -> content, room -> type -> content).
pub async fn everything(svc: &Services, target: &UserId) -> Result<(Map<String, Value>, Map<String, Value>)> {
    let user = super::accounts::local_user(svc, target).await?;
    let rows = svc.db.run(move |c| store::changed_since(c, &user.user_id, 0)).await?;
    let (mut global, mut rooms) = (Map::new(), Map::new());
    for (room, kind, content) in rows {
        let v: Value = serde_json::from_str(&content).unwrap_or_else(|_| json!({}));
        if room.is_empty() {
            global.insert(kind, v);
        } else if let Some(o) = rooms.entry(room).or_insert_with(|| json!({})).as_object_mut() {
            o.insert(kind, v);
        }
    }
    Ok((global, rooms))
}
