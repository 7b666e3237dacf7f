//! A woken long-poll answered from the events the writer committed last (`store::recent`)
//! instead of reading the rooms from the store.
//!
//! It answers only when it can say exactly what the store would: the notifier vouches that
//! nothing but events is new for the user, the recent events reach back to the token, and none
//! of them is a member event (which would change rooms, room-mates, summaries or device lists)
//! nor more than a room's timeline limit (a gap the state would have to fill). Anything else
//! falls back to reading the store. What a room's section needs besides its events (ignored
//! users, lazy-loaded members, counts) is read as the store path reads it, in one transaction.
//! The answer keeps the token's other positions: only what the notifier vouched for is passed
//! over.

use super::filter::SyncFilter;
use super::rooms::{Reader, Timeline, joined_section, lazy_members, summary, unread_counts};
use super::{SyncResponse, events, object, rooms_object};
use crate::Services;
use crate::actors::notifier::{OnlyEventsAfter, Positions};
use crate::auth::tokens::Session;
use crate::error::Result;
use crate::events::Pdu;
use crate::service::account_data::hidden_by_ignore;
use crate::service::notifications::UserCounts;
use crate::store::Conn;
use crate::store::kept::SyncReads;
use crate::store::recent::{CommittedBatch, RecentEvent};
use serde_json::{Map, Value, json};
use std::collections::HashSet;
use std::sync::Arc;

/// The answer to a long-poll woken after `since`, or `None` when the store must be read.
pub(super) async fn answer(svc: &Services, who: &Session, since: Positions, f: &SyncFilter) -> Result<Option<SyncResponse>> {
    if f.federation_format {
        return Ok(None);
    }
    if !svc.notifier.send(OnlyEventsAfter { user: who.user_id.clone(), seen: since }).await? {
        return Ok(None);
    }
    let Some((batches, upto)) = svc.recent.after(since.events) else { return Ok(None) };
    let Some(rooms) = new_in_joined_rooms(&batches, since.events, &who.user_id, f) else { return Ok(None) };
    if rooms.is_empty() {
        return Ok(None);
    }
    let (user, device) = (who.user_id.as_str(), who.device_id.as_deref().unwrap_or(""));
    let rooms: Vec<NewInRoom> = rooms
        .into_iter()
        .map(|(room_id, events)| NewInRoom {
            room_id: room_id.to_string(),
            timeline: events.iter().map(|e| (e.pdu.clone(), own_txn(e, user, device).map(str::to_owned))).collect(),
        })
        .collect();
    // The counts must include what the answer shows, as the store path's do.
    crate::service::notifications::wait_evaluated(svc, upto).await;
    let user = who.user_id.as_str();
    let device = who.device_id.as_deref();
    let SyncReads { ignored, counts, keys } = kept_reads(svc, user, device).await?;
    let join = if f.lazy_load_members {
        // The senders' member events come from the store.
        let (user, device, f, sent) = (user.to_owned(), device.map(str::to_owned), f.clone(), svc.sent_members.clone());
        svc.db
            .run(move |c| {
                crate::store::read_txn(c, |c| {
                    let reader = Reader { user: &user, device: device.as_deref(), f: &f, sent_members: &sent };
                    joined_sections(Some(c), &reader, rooms, &ignored, &counts)
                })
            })
            .await?
    } else {
        let sent = svc.sent_members.clone();
        let reader = Reader { user, device, f, sent_members: &sent };
        joined_sections(None, &reader, rooms, &ignored, &counts)?
    };
    let (otk_counts, fallback_types) = (*keys).clone();
    if join.is_empty() {
        return Ok(None);
    }
    svc.sync_from_memory.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let body = object([
        ("rooms", rooms_object(join, Map::new(), Map::new())),
        ("account_data", events(Vec::new())),
        ("presence", events(Vec::new())),
        ("to_device", events(Vec::new())),
        ("device_lists", json!({"changed": [], "left": []})),
        ("device_one_time_keys_count", otk_counts),
        ("device_unused_fallback_key_types", fallback_types),
    ]);
    Ok(Some(SyncResponse { body, next: Positions { events: upto, ..since } }))
}

/// The user's ignored users, unread counts and the device's key counts, as kept in memory; else
/// read in one transaction and offered to be kept (a session without a device always reads).
async fn kept_reads(svc: &Services, user: &str, device: Option<&str>) -> Result<SyncReads> {
    if let Some(kept) = device.and_then(|d| svc.kept.get(user, d)) {
        return Ok(kept);
    }
    let tickets = svc.kept.tickets();
    let (u, d) = (user.to_owned(), device.map(str::to_owned));
    let reads = svc.db.run(move |c| crate::store::read_txn(c, |c| super::sync_reads(c, &u, d.as_deref()))).await?;
    svc.kept.offer(tickets, user, device, &reads);
    Ok(reads)
}

/// A joined room's new events, each with the transaction ID its reader may see.
struct NewInRoom {
    room_id: String,
    timeline: Vec<(Pdu, Option<String>)>,
}

/// The joined rooms' sections, as the store path builds them for a room whose new events all fit
/// its timeline: the timeline without what the user ignores, the lazy-loaded members of its
/// senders (read from `c`, which lazy-loading filters need), the summary when those carry member
/// events, and the unread counts.
fn joined_sections(
    mut c: Option<&mut Conn>,
    r: &Reader<'_>,
    rooms: Vec<NewInRoom>,
    ignored: &HashSet<String>,
    counts: &UserCounts,
) -> Result<Map<String, Value>> {
    let mut join = Map::new();
    for room in rooms {
        let (timeline, txns): (Vec<Pdu>, Vec<Option<String>>) =
            room.timeline.into_iter().filter(|(p, _)| r.f.timeline.allows(&p.kind) && !hidden_by_ignore(ignored, p)).unzip();
        let Some(first) = timeline.first() else { continue };
        let before = first.stream_ordering - 1;
        let mut state = Vec::new();
        let mut summary_of = json!({});
        if let Some(c) = c.as_deref_mut() {
            lazy_members(c, r, &room.room_id, &timeline, before, false, &mut state)?;
            state.retain(|p| r.f.state.allows(&p.kind));
            if state.iter().any(|p| p.kind == "m.room.member") {
                summary_of = summary(c, &room.room_id, r.user)?;
            }
        }
        let shown: Vec<Value> = timeline.iter().zip(&txns).map(|(p, t)| p.to_client(t.as_deref())).collect();
        let state: Vec<Value> = state.iter().map(|p| p.to_client(None)).collect();
        let timeline = Timeline { events: shown, limited: false, prev_batch: before };
        let mut section = joined_section(timeline, state, Vec::new(), Vec::new(), summary_of);
        unread_counts(&mut section, counts.get(room.room_id.as_str()), r.f.unread_thread_notifications);
        join.insert(room.room_id, section);
    }
    Ok(join)
}

/// The events after `after` of each room the user is joined to (and the filter lets in), oldest
/// first, by type as the store read selects them; `None` when the store must answer: a member
/// event anywhere, or more events in a room than its timeline shows.
fn new_in_joined_rooms<'a>(
    batches: &'a [Arc<CommittedBatch>],
    after: i64,
    user: &ruma::UserId,
    f: &SyncFilter,
) -> Option<Vec<(&'a ruma::RoomId, Vec<&'a RecentEvent>)>> {
    let types = f.timeline.exact_types();
    let mut rooms: Vec<(&ruma::RoomId, Vec<&RecentEvent>)> = Vec::new();
    for b in batches {
        let new = b.events.iter().filter(|e| e.pdu.stream_ordering > after);
        let mut mine = None;
        for e in new {
            if e.pdu.kind == "m.room.member" {
                return None;
            }
            if mine.is_none() {
                if !b.is_joined(user) || !f.allows_room(b.room_id.as_str()) {
                    continue;
                }
                let i = match rooms.iter().position(|(r, _)| *r == b.room_id) {
                    Some(i) => i,
                    None => {
                        rooms.push((&b.room_id, Vec::new()));
                        rooms.len() - 1
                    }
                };
                mine = Some(i);
            }
            if let Some(i) = mine
                && types.as_ref().is_none_or(|t| t.contains(&e.pdu.kind))
            {
                rooms[i].1.push(e);
            }
        }
    }
    if rooms.iter().any(|(_, evs)| evs.len() as i64 > f.timeline_limit) {
        return None;
    }
    Some(rooms)
}

/// The transaction ID to show with the event: only to the device that sent it.
fn own_txn<'a>(e: &'a RecentEvent, user: &str, device: &str) -> Option<&'a str> {
    let t = e.txn.as_ref().filter(|t| t.user_id == user && t.device_id == device)?;
    Some(crate::store::events::client_txn_id(&t.txn_id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ruma::{OwnedRoomId, OwnedUserId};

    fn batch(room: &str, joined: &[&str], first: i64, kinds: &[&str]) -> Arc<CommittedBatch> {
        let mut joined: Vec<OwnedUserId> = joined.iter().map(|u| OwnedUserId::try_from(*u).expect("user")).collect();
        joined.sort();
        let events = kinds
            .iter()
            .zip(first..)
            .map(|(kind, pos)| {
                let mut v = json!({"room_id": room, "sender": "@a:x", "type": kind, "content": {}, "origin_server_ts": 1});
                if *kind == "m.room.member" {
                    v["state_key"] = json!("@c:x");
                }
                RecentEvent { pdu: Pdu::from_stored(&format!("$e{pos}"), pos, &v.to_string()).expect("pdu"), txn: None }
            })
            .collect();
        Arc::new(CommittedBatch { room_id: OwnedRoomId::try_from(room).expect("room"), joined: joined.into(), events })
    }

    fn filter(v: Value) -> SyncFilter {
        SyncFilter::from_json(&v)
    }

    fn counts(found: Option<Vec<(&ruma::RoomId, Vec<&RecentEvent>)>>) -> Option<Vec<(String, usize)>> {
        found.map(|rooms| rooms.into_iter().map(|(r, evs)| (r.to_string(), evs.len())).collect())
    }

    #[test]
    fn picks_the_joined_rooms_events_after_the_token_and_refuses_what_the_store_must_answer() {
        let bob = ruma::user_id!("@b:x");
        let msgs = |n| vec!["m.room.message"; n];
        let batches = vec![
            batch("!r:x", &["@a:x", "@b:x"], 1, &msgs(3)),
            batch("!s:x", &["@a:x"], 4, &msgs(2)),
            batch("!r:x", &["@a:x", "@b:x"], 6, &msgs(2)),
        ];
        let all = filter(json!({}));
        assert_eq!(counts(new_in_joined_rooms(&batches, 0, bob, &all)), Some(vec![("!r:x".into(), 5)]), "not joined to !s:x");
        assert_eq!(counts(new_in_joined_rooms(&batches, 2, bob, &all)), Some(vec![("!r:x".into(), 3)]), "after the token only");
        let two = filter(json!({"room": {"timeline": {"limit": 2}}}));
        assert_eq!(counts(new_in_joined_rooms(&batches, 2, bob, &two)), None, "more than the timeline shows");
        assert_eq!(counts(new_in_joined_rooms(&batches, 5, bob, &two)), Some(vec![("!r:x".into(), 2)]));
        let elsewhere = filter(json!({"room": {"rooms": ["!s:x"]}}));
        assert_eq!(counts(new_in_joined_rooms(&batches, 0, bob, &elsewhere)), Some(vec![]));
        let members = vec![batch("!s:x", &["@a:x"], 1, &["m.room.member"]), batch("!r:x", &["@a:x", "@b:x"], 2, &msgs(1))];
        assert_eq!(counts(new_in_joined_rooms(&members, 0, bob, &all)), None, "a member event, even in another room");
        assert_eq!(counts(new_in_joined_rooms(&members, 1, bob, &all)), Some(vec![("!r:x".into(), 1)]));
        let typed = vec![batch("!r:x", &["@b:x"], 1, &["org.example.ping", "org.example.ping", "m.room.message"])];
        let only = filter(json!({"room": {"timeline": {"limit": 1, "types": ["m.room.message"]}}}));
        assert_eq!(counts(new_in_joined_rooms(&typed, 0, bob, &only)), Some(vec![("!r:x".into(), 1)]), "the limit counts the types asked");
    }
}
