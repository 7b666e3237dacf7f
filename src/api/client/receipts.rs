//! Read receipts and read markers: `POST /rooms/{roomId}/receipt/{type}/{eventId}` and
//! `POST /rooms/{roomId}/read_markers`. Receipts reach the room's members as `m.receipt` in the
//! `ephemeral` section of their syncs; `m.fully_read` is room account data of the reader.

use crate::actors::notifier::{Advanced, Stream};
use crate::api::{Body, Svc, ok_json, opt_str};
use crate::auth::Requester;
use crate::error::{Error, Result};
use crate::ids::parse_room_id;
use crate::store::receipts::{self, NewReceipt};
use actix_web::{HttpResponse, web};
use serde_json::json;

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(
        cfg,
        vec![
            ("/rooms/{room}/receipt/{receipt_type}/{event}", web::post().to(receipt)),
            ("/rooms/{room}/read_markers", web::post().to(read_markers)),
        ],
    );
}

/// The requester must be joined; the event must be in the room. Returns its stream position.
async fn check(svc: &Svc, who: &Requester, room: &str, event: &str) -> Result<i64> {
    let (r, u, e) = (room.to_owned(), who.user_id.to_string(), event.to_owned());
    let (member, found) =
        svc.db.run(move |c| Ok((crate::store::memberships::membership(c, &r, &u)?, crate::store::events::event_by_id(c, &e)?))).await?;
    if member.is_none_or(|m| m.membership != "join") {
        return Err(Error::forbidden("You are not joined to this room"));
    }
    match found {
        Some(p) if p.room_id == room => Ok(p.stream_ordering),
        _ => Err(Error::not_found("Event not found in this room")),
    }
}

async fn store_receipt(svc: &Svc, who: &Requester, room: &str, kind: &str, thread: &str, event: &str) -> Result<()> {
    let event_stream = check(svc, who, room, event).await?;
    if who.shadow_banned {
        return Ok(());
    }
    if kind == "m.fully_read" {
        return super::account_data::write(svc, who.user_id.to_string(), room.to_owned(), kind.to_owned(), json!({"event_id": event}))
            .await;
    }
    let (room_id, user, kind_s, thread_s, event_s) =
        (room.to_owned(), who.user_id.to_string(), kind.to_owned(), thread.to_owned(), event.to_owned());
    let private = kind == "m.read.private";
    let moved = svc
        .db
        .run(move |c| {
            let r = NewReceipt {
                room_id: &room_id,
                user_id: &user,
                receipt_type: &kind_s,
                thread_id: &thread_s,
                event_id: &event_s,
                event_stream,
                ts: crate::ids::now_ms(),
            };
            let Some(position) = receipts::set(c, &r)? else { return Ok(None) };
            // A private receipt is news to its owner only.
            let users = if private {
                vec![user]
            } else {
                crate::store::memberships::room_members(c, &room_id)?
                    .into_iter()
                    .filter(|m| m.membership == "join")
                    .map(|m| m.user_id)
                    .collect()
            };
            Ok(Some((users, position)))
        })
        .await?;
    if let Some((users, position)) = moved {
        svc.notifier.do_send(Advanced { stream: Stream::Receipts, users, position });
    }
    Ok(())
}

async fn receipt(svc: Svc, who: Requester, path: web::Path<(String, String, String)>, body: Body) -> Result<HttpResponse> {
    let (room, kind, event) = path.into_inner();
    let room = parse_room_id(&room)?.to_string();
    if !matches!(kind.as_str(), "m.read" | "m.read.private" | "m.fully_read") {
        return Err(Error::invalid_param("Receipt type must be m.read, m.read.private or m.fully_read"));
    }
    let body = body.object()?;
    let thread = opt_str(&body, "thread_id")?.unwrap_or_default().to_owned();
    if kind == "m.fully_read" && !thread.is_empty() {
        return Err(Error::invalid_param("m.fully_read cannot be threaded"));
    }
    store_receipt(&svc, &who, &room, &kind, &thread, &event).await?;
    Ok(ok_json(json!({})))
}

async fn read_markers(svc: Svc, who: Requester, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    let room = parse_room_id(&path)?.to_string();
    let body = body.object()?;
    for kind in ["m.fully_read", "m.read", "m.read.private"] {
        if let Some(event) = opt_str(&body, kind)? {
            store_receipt(&svc, &who, &room, kind, "", event).await?;
        }
    }
    Ok(ok_json(json!({})))
}
