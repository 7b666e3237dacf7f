//! `/sync`: initial and incremental, long-polling on the notifier when nothing is new.
//!
//! A sync reads everything from the store up to the positions it captured first, so what it
//! returns and the positions it reports agree. `rooms.rs` builds the room sections.

pub mod filter;
pub mod lazy_members;
pub(crate) mod rooms;
mod woken;

use crate::Services;
/// The stream positions a sync token carries.
pub use crate::actors::notifier::Positions;
use crate::actors::notifier::{Latest, ParkIfQuiet, Wait};
use crate::auth::tokens::Session;
use crate::error::{Error, Result};
use crate::events::filter::FilterDefinition;
use crate::store::kept::SyncReads;
use crate::store::{Conn, account_data, e2e_keys, presence, to_device};
use filter::SyncFilter;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// To-device messages per sync response, as Synapse sends them.
const TO_DEVICE_LIMIT: i64 = 100;
/// New room-mates whose presence one sync sends unasked; the rest arrive as it changes.
const MAX_NEW_MATES_PRESENCE: usize = 500;
/// The longest a sync long-polls, whatever the client asks.
const MAX_TIMEOUT_MS: i64 = 120_000;

/// What a client asked of one `/sync`.
#[derive(Debug, Clone)]
pub struct SyncRequest {
    pub since: Option<Positions>,
    pub timeout_ms: i64,
    pub full_state: bool,
    pub filter: SyncFilter,
}

/// A sync response without its `next_batch`, and the positions that token must carry.
pub struct SyncResponse {
    pub body: Value,
    pub next: Positions,
}

/// The filter a `/sync` names: inline JSON or the ID of one the user stored.
pub async fn load_filter(svc: &Services, who: &Session, raw: Option<&str>) -> Result<SyncFilter> {
    let Some(raw) = raw else { return Ok(SyncFilter::default()) };
    if raw.trim_start().starts_with('{') {
        if let Some(f) = svc.sync_filters.inline(raw) {
            return Ok(f);
        }
        let v: Value = serde_json::from_str(raw).map_err(|_| Error::invalid_param("filter is not valid JSON"))?;
        let f = SyncFilter::from_definition(&FilterDefinition::parse(&v)?);
        svc.sync_filters.keep_inline(raw, &f);
        return Ok(f);
    }
    let id: i64 = raw.parse().map_err(|_| Error::invalid_param("Invalid filter ID"))?;
    if let Some(f) = svc.sync_filters.stored(&who.user_id, id) {
        return Ok(f);
    }
    let user = who.user_id.to_string();
    let stored = svc.db.run(move |c| account_data::get_filter(c, &user, id)).await?;
    let stored = stored.ok_or_else(|| Error::not_found("No such filter"))?;
    // Checked when uploaded; one stored before the checks existed reads as far as it can.
    let v: Value = serde_json::from_str(&stored).unwrap_or_else(|_| json!({}));
    let f = SyncFilter::from_definition(&FilterDefinition::parse(&v).unwrap_or_default());
    svc.sync_filters.keep_stored(&who.user_id, id, &f);
    Ok(f)
}

/// Answers at once when there is news (or for an initial or full-state sync), else waits on
/// the notifier until something the user cares about commits or the timeout passes.
pub async fn sync(svc: &Services, who: &Session, req: SyncRequest) -> Result<SyncResponse> {
    let SyncRequest { since, timeout_ms, full_state, filter } = req;
    let deadline = Instant::now() + Duration::from_millis(timeout_ms.clamp(0, MAX_TIMEOUT_MS) as u64);
    // The positions the last wait was for: a wake must be followed by a store that moved past
    // them, or by a wait past what the notifier knows, never by an immediate wake and re-read.
    let mut waited_for: Option<Positions> = None;
    if let Some(seen) = since.filter(|_| !full_state && timeout_ms > 0) {
        // A client long-polls again with the token it was just given: when the notifier can
        // vouch that nothing for the user came after it, park first and read the store once,
        // when woken or at the timeout (whose answer still carries the key counts).
        if let Some(rx) = svc.notifier.send(ParkIfQuiet { user: who.user_id.clone(), seen }).await? {
            svc.sync_quiet_parks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let remaining = deadline.saturating_duration_since(Instant::now());
            if let Ok(Ok(())) = tokio::time::timeout(remaining, rx).await {
                // Answered from memory, it waits for the evaluator itself.
                if let Some(answer) = woken::answer(svc, who, seen, &filter).await? {
                    return Ok(answer);
                }
                settle_wake(svc, who, deadline).await?;
            }
            waited_for = Some(seen);
        }
    }
    loop {
        let (user, device) = (who.user_id.to_string(), who.device_id.clone());
        let mut f = filter.clone();
        f.presence &= svc.config.presence_enabled;
        // Typing lives in memory: read it here, hand the rooms that changed to the store part.
        let typing_now = svc.typing.position();
        let typing = (typing_now, svc.typing.changed(since.map(|s| s.typing).unwrap_or(0), typing_now));
        // Read before the counts are: what the evaluator records meanwhile is not in them.
        let evaluated = *svc.push_progress.borrow();
        let sent = svc.sent_members.clone();
        let tickets = svc.kept.tickets();
        let (mut response, empty, reads) = svc
            .db
            .run(move |c| compute(c, Reading { user: &user, device: device.as_deref(), since, full_state, f: &f }, typing, &sent))
            .await?;
        // The user's next woken long-poll then needs no connection.
        svc.kept.offer(tickets, who.user_id.as_str(), who.device_id.as_deref(), &reads);
        settle_counts(svc, who, &filter, evaluated, &mut response).await?;
        let remaining = deadline.saturating_duration_since(Instant::now());
        if !empty || since.is_none() || full_state || remaining.is_zero() {
            return Ok(response);
        }
        let mut seen = response.next;
        if let Some(before) = waited_for {
            svc.sync_rechecks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            seen = seen.max(before);
            if !response.next.any_after(&before) {
                // Woken by a position the store does not show: wait past it.
                seen = seen.max(svc.notifier.send(Latest { user: who.user_id.clone() }).await?);
            }
        }
        waited_for = Some(seen);
        let rx = svc.notifier.send(Wait { user: who.user_id.clone(), seen }).await?;
        match tokio::time::timeout(remaining, rx).await {
            Err(_) => return Ok(response),
            Ok(Ok(())) => {
                if let Some(since) = since
                    && let Some(answer) = woken::answer(svc, who, since, &filter).await?
                {
                    return Ok(answer);
                }
                settle_wake(svc, who, deadline).await?;
            }
            // The notifier let the wait go without news (it bounds its waiters): look again
            // after a pause, not at once.
            Ok(Err(_)) => tokio::time::sleep(remaining.min(Duration::from_millis(500))).await,
        }
    }
}

/// Woken by a commit: let the push evaluator count it before reading, so the answer is read
/// once with its counts, and the evaluator is not queued for a connection behind every sync the
/// commit woke.
async fn settle_wake(svc: &Services, who: &Session, deadline: Instant) -> Result<()> {
    let woken_at = svc.notifier.send(Latest { user: who.user_id.clone() }).await?.events;
    let left = deadline.saturating_duration_since(Instant::now());
    let _ = tokio::time::timeout(left, super::notifications::wait_evaluated(svc, woken_at)).await;
    Ok(())
}

/// Push rules are evaluated after commit: when the answer shows joined rooms and reads past
/// what the evaluator has done, wait for it briefly and show the counts it then has.
/// `evaluated` is the evaluator's position when the answer was computed.
async fn settle_counts(svc: &Services, who: &Session, filter: &SyncFilter, evaluated: i64, response: &mut SyncResponse) -> Result<()> {
    let has_rooms = response.body["rooms"]["join"].as_object().is_some_and(|j| !j.is_empty());
    if !has_rooms || evaluated >= response.next.events {
        return Ok(());
    }
    if super::notifications::wait_evaluated(svc, response.next.events).await {
        let counts = super::notifications::kept_counts(svc, who.user_id.as_str()).await?;
        rooms::patch_counts(&mut response.body, &counts, filter.unread_thread_notifications);
    }
    Ok(())
}

/// The stream positions committed now: what this sync reads up to. One read of every head (one
/// round trip on PostgreSQL, one snapshot on both).
pub(crate) fn positions_now(c: &mut Conn, typing_now: i64) -> Result<Positions> {
    let h = crate::store::streams::heads(c)?;
    Ok(Positions {
        events: h.events,
        account_data: h.account_data,
        to_device: h.to_device,
        device_lists: h.device_lists,
        receipts: h.receipts,
        typing: typing_now,
        presence: h.presence,
    })
}

/// Account data events by room.
type RoomAccountData = HashMap<String, Vec<Value>>;

/// Account data changed after `after`: the global events and, per room, the room events.
/// `after` is `None` for an initial sync.
fn account_data_changes(c: &mut Conn, user: &str, after: Option<i64>, now: i64, f: &SyncFilter) -> Result<(Vec<Value>, RoomAccountData)> {
    let mut room_ad = RoomAccountData::new();
    let mut global_ad = Vec::new();
    let changed = if after.is_some_and(|a| a >= now) { Vec::new() } else { account_data::changed_since(c, user, after.unwrap_or(0))? };
    for (room, kind, content) in changed {
        let content: Value = serde_json::from_str(&content).unwrap_or_else(|_| json!({}));
        if room.is_empty() {
            if f.account_data.allows(&kind) {
                global_ad.push(json!({"type": kind, "content": content}));
            }
        } else if f.room_account_data.allows(&kind) {
            room_ad.entry(room).or_default().push(json!({"type": kind, "content": content}));
        }
    }
    // An initial sync shows the push rules even while they are the server's defaults.
    let rules = crate::events::push::ACCOUNT_DATA_TYPE;
    if after.is_none()
        && f.account_data.allows(rules)
        && !global_ad.iter().any(|e| e["type"] == rules)
        && let Ok(owner) = ruma::UserId::parse(user)
    {
        let defaults = crate::events::push::rules_from_stored(&owner, None);
        global_ad.push(json!({"type": rules, "content": crate::events::push::rules_to_stored(&defaults)}));
    }
    Ok((global_ad, room_ad))
}

/// The next to-device messages after those the token covered, at most [`TO_DEVICE_LIMIT`];
/// `now.to_device` stops after the last one given.
fn to_device_batch(c: &mut Conn, user: &str, device: Option<&str>, after: i64, now: &mut Positions) -> Result<Vec<Value>> {
    let mut events = Vec::new();
    let Some(d) = device else { return Ok(events) };
    if after >= now.to_device {
        return Ok(events);
    }
    let batch = to_device::pending(c, user, d, after, now.to_device, TO_DEVICE_LIMIT)?;
    if batch.len() as i64 == TO_DEVICE_LIMIT
        && let Some(last) = batch.last()
    {
        now.to_device = last.stream_id;
    }
    for m in batch {
        let content: Value = serde_json::from_str(&m.content).unwrap_or_else(|_| json!({}));
        events.push(json!({"sender": m.sender, "type": m.event_type, "content": content}));
    }
    Ok(events)
}

/// One-time key counts and unused fallback key types: clients top up their keys from these;
/// signed_curve25519 is always present (as Synapse reports it) so a device with none uploads.
fn key_counts(c: &mut Conn, user: &str, device: Option<&str>) -> Result<(Value, Value)> {
    let (mut otk_counts, fallback_types) = match device {
        Some(d) => (e2e_keys::one_time_key_counts(c, user, d)?, e2e_keys::unused_fallback_algorithms(c, user, d)?),
        None => Default::default(),
    };
    otk_counts.entry("signed_curve25519".into()).or_insert(0);
    Ok((json!(otk_counts), json!(fallback_types)))
}

/// The user's ignored users and unread counts and the device's key counts: what every sync
/// reads, and woken long-polls keep (`store::kept`).
pub(super) fn sync_reads(c: &mut Conn, user: &str, device: Option<&str>) -> Result<SyncReads> {
    Ok(SyncReads {
        ignored: Arc::new(super::account_data::ignored_users(c, user)?),
        counts: Arc::new(super::notifications::counts(c, user)?),
        keys: Arc::new(key_counts(c, user, device)?),
    })
}

/// Whose sync, from where, and how.
struct Reading<'a> {
    user: &'a str,
    device: Option<&'a str>,
    since: Option<Positions>,
    full_state: bool,
    f: &'a SyncFilter,
}

/// Builds the sync response from the store, and whether it carries nothing new (so the caller
/// may long-poll).
fn compute(
    c: &mut Conn,
    reading: Reading<'_>,
    typing: (i64, HashMap<String, Vec<ruma::OwnedUserId>>),
    sent_members: &lazy_members::SentMembers,
) -> Result<(SyncResponse, bool, SyncReads)> {
    // Presenting a token acknowledges the to-device messages it covered: a write, so before the
    // reads' transaction.
    if let (Some(d), Some(s)) = (reading.device, reading.since.filter(|s| s.to_device > 0)) {
        to_device::acknowledge(c, reading.user, d, s.to_device)?;
    }
    // One read transaction for the whole answer: one snapshot, and SQLite takes its WAL read lock
    // once instead of once per statement (a tenth of a woken long-poll's CPU).
    crate::store::read_txn(c, |c| read_answer(c, reading, typing, sent_members))
}

fn read_answer(
    c: &mut Conn,
    reading: Reading<'_>,
    (typing_now, typing): (i64, HashMap<String, Vec<ruma::OwnedUserId>>),
    sent_members: &lazy_members::SentMembers,
) -> Result<(SyncResponse, bool, SyncReads)> {
    let Reading { user, device, since, full_state, f } = reading;
    let mut now = positions_now(c, typing_now)?;
    let (global_ad, room_ad) = account_data_changes(c, user, since.map(|s| s.account_data), now.account_data, f)?;
    let receipts = rooms::receipt_events(c, user, since.map(|s| s.receipts).unwrap_or(0), now.receipts)?;
    let reads = sync_reads(c, user, device)?;
    let memberships = crate::store::memberships::user_memberships(c, user)?;
    let input = rooms::RoomsInput {
        user,
        device,
        since,
        full_state,
        f,
        now: &now,
        room_ad,
        receipts,
        typing,
        sent_members,
        ignored: &reads.ignored,
        counts: &reads.counts,
        memberships: &memberships,
    };
    let rooms = rooms::RoomSections::build(c, input)?;
    let to_device_events = to_device_batch(c, user, device, since.map(|s| s.to_device).unwrap_or(0), &mut now)?;
    // Whose keys to re-query: only news to an incremental sync (an initial one queries all).
    let (mut changed, left) = match since {
        Some(s) => crate::store::memberships::mate_changes_in(c, user, &memberships, s.events, now.events)?,
        None => (Vec::new(), Vec::new()),
    };
    if let Some(s) = since.filter(|s| s.device_lists < now.device_lists) {
        changed.extend(e2e_keys::changed_for(c, user, s.device_lists, now.device_lists)?);
        changed.sort();
        changed.dedup();
    }
    let now_ms = crate::ids::now_ms();
    let presence_after = since.map(|s| s.presence).unwrap_or(0);
    let mut present = if f.presence && presence_after < now.presence {
        presence::changed_for(c, user, presence_after, now.presence)?
    } else {
        Vec::new()
    };
    // New room-mates' presence goes out although it did not change: the client has never seen it.
    // Someone who never set theirs is offline, and the client is told so (as Synapse does).
    let unsent: Vec<String> = rooms
        .new_mates
        .iter()
        .take(MAX_NEW_MATES_PRESENCE)
        .filter(|m| f.presence && !present.iter().any(|p| &p.user_id == *m))
        .cloned()
        .collect();
    let stored = presence::get_many(c, &unsent)?;
    let never_seen: Vec<&String> = unsent.iter().filter(|m| !stored.iter().any(|p| &p.user_id == *m)).collect();
    present.extend(stored);
    let presence_events: Vec<Value> = present
        .iter()
        .map(|p| json!({"type": "m.presence", "sender": p.user_id, "content": super::presence::content(p, now_ms)}))
        .chain(never_seen.iter().map(|u| json!({"type": "m.presence", "sender": u, "content": {"presence": "offline"}})))
        .collect();
    let empty = presence_events.is_empty()
        && rooms.is_empty()
        && global_ad.is_empty()
        && to_device_events.is_empty()
        && changed.is_empty()
        && left.is_empty();
    let (otk_counts, fallback_types) = (*reads.keys).clone();
    let body = object([
        ("rooms", rooms_object(rooms.join, rooms.invite, rooms.leave)),
        ("account_data", events(global_ad)),
        ("presence", events(presence_events)),
        ("to_device", events(to_device_events)),
        ("device_lists", json!({"changed": changed, "left": left})),
        ("device_one_time_keys_count", otk_counts),
        ("device_unused_fallback_key_types", fallback_types),
    ]);
    Ok((SyncResponse { body, next: now }, empty, reads))
}

/// A JSON object of the fields given, moved in. `json!` copies every value it is handed (it
/// serializes it once more), which for a sync answer is every event it carries.
pub(crate) fn object<const N: usize>(fields: [(&str, Value); N]) -> Value {
    Value::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

/// `{"events": list}`.
pub(crate) fn events(list: Vec<Value>) -> Value {
    object([("events", Value::Array(list))])
}

/// An answer's `rooms`.
fn rooms_object(
    join: serde_json::Map<String, Value>,
    invite: serde_json::Map<String, Value>,
    leave: serde_json::Map<String, Value>,
) -> Value {
    object([("join", Value::Object(join)), ("invite", Value::Object(invite)), ("leave", Value::Object(leave)), ("knock", json!({}))])
}
