//! `/sync`: initial and incremental, long-polling on the notifier when nothing is new.
//!
//! Tokens are `s<events>_<account data>_<to-device>_<device lists>_<receipts>_<typing>_<presence>`
//! positions (older tokens
//! without the last parts read them as 0). A sync reads everything from the store up to the
//! positions it captured first, so what it returns and its `next_batch` agree.

use super::events::TypeFilter;
use crate::actors::notifier::{Latest, Positions, Wait};
use crate::api::{Svc, ok_json, query, query_bool, query_i64};
use crate::auth::Requester;
use crate::error::{Error, Result};
use crate::events::Pdu;
use crate::events::visibility::StateAccess;
use crate::store::{Conn, account_data, e2e_keys, events as ev, memberships, presence, receipts, to_device, visibility as vis};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// To-device messages per sync response, as Synapse sends them.
const TO_DEVICE_LIMIT: i64 = 100;

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(cfg, vec![("/sync", web::get().to(sync))]);
}

pub fn parse_since(t: &str) -> Result<Positions> {
    let bad = || Error::invalid_param("Invalid since token");
    let body = t.strip_prefix('s').ok_or_else(bad)?;
    let mut parts = body.split('_');
    let events = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    // Positions added later are missing from older tokens: they read as 0.
    let mut next = || parts.next().map_or(Ok(0), |p| p.parse::<i64>().map_err(|_| bad()));
    Ok(Positions {
        events,
        account_data: next()?,
        to_device: next()?,
        device_lists: next()?,
        receipts: next()?,
        typing: next()?,
        presence: next()?,
    })
}

/// The `next_batch` for positions `p`: the inverse of [`parse_since`].
fn token(p: &Positions) -> String {
    format!("s{}_{}_{}_{}_{}_{}_{}", p.events, p.account_data, p.to_device, p.device_lists, p.receipts, p.typing, p.presence)
}

/// The parts of a filter `/sync` honours.
#[derive(Clone)]
struct SyncFilter {
    timeline_limit: i64,
    timeline: TypeFilter,
    state: TypeFilter,
    rooms: Option<Vec<String>>,
    account_data: TypeFilter,
    room_account_data: TypeFilter,
    include_leave: bool,
}

impl SyncFilter {
    fn from_json(f: &Value) -> Self {
        let room = f.get("room");
        let part = |k: &str| room.and_then(|r| r.get(k));
        Self {
            timeline_limit: part("timeline").and_then(|t| t.get("limit")).and_then(Value::as_i64).unwrap_or(10).clamp(0, 1000),
            timeline: TypeFilter::from_json(part("timeline")),
            state: TypeFilter::from_json(part("state")),
            rooms: room
                .and_then(|r| r.get("rooms"))
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect()),
            account_data: TypeFilter::from_json(f.get("account_data")),
            room_account_data: TypeFilter::from_json(part("account_data")),
            include_leave: room.and_then(|r| r.get("include_leave")).and_then(Value::as_bool).unwrap_or(false),
        }
    }
}

async fn load_filter(svc: &Svc, who: &Requester, raw: Option<&String>) -> Result<SyncFilter> {
    let Some(raw) = raw else { return Ok(SyncFilter::from_json(&json!({}))) };
    if raw.trim_start().starts_with('{') {
        let v: Value = serde_json::from_str(raw).map_err(|_| Error::invalid_param("filter is not valid JSON"))?;
        return Ok(SyncFilter::from_json(&v));
    }
    let id: i64 = raw.parse().map_err(|_| Error::invalid_param("Invalid filter ID"))?;
    let user = who.user_id.to_string();
    let stored = svc.db.run(move |c| account_data::get_filter(c, &user, id)).await?;
    let stored = stored.ok_or_else(|| Error::not_found("No such filter"))?;
    let v: Value = serde_json::from_str(&stored).unwrap_or_else(|_| json!({}));
    Ok(SyncFilter::from_json(&v))
}

async fn sync(svc: Svc, who: Requester, req: HttpRequest) -> Result<HttpResponse> {
    let q = query(&req);
    let since = q.get("since").map(|s| parse_since(s)).transpose()?;
    let timeout = query_i64(&q, "timeout")?.unwrap_or(0);
    if timeout < 0 {
        return Err(Error::invalid_param("timeout must not be negative"));
    }
    let full_state = query_bool(&q, "full_state")?.unwrap_or(false);
    let filter = load_filter(&svc, &who, q.get("filter")).await?;
    if let Some(state) = super::presence::sync_presence(q.get("set_presence"))?
        && !who.shadow_banned
    {
        super::presence::update(&svc, who.user_id.as_str(), &state, None).await?;
    }
    let deadline = Instant::now() + Duration::from_millis(timeout.min(120_000) as u64);
    // The positions the last wait was for: a wake must be followed by a store that moved past
    // them, or by a wait past what the notifier knows, never by an immediate wake and re-read.
    let mut waited_for: Option<Positions> = None;
    loop {
        let (user, device) = (who.user_id.to_string(), who.device_id.clone());
        let f = filter.clone();
        // Typing lives in memory: read it here, hand the rooms that changed to the store part.
        let typing_now = svc.typing.position();
        let typing = (typing_now, svc.typing.changed(since.map(|s| s.typing).unwrap_or(0), typing_now));
        let (body, now, empty) = svc.db.run(move |c| compute(c, &user, device.as_deref(), since, full_state, &f, typing)).await?;
        let remaining = deadline.saturating_duration_since(Instant::now());
        if !empty || since.is_none() || full_state || remaining.is_zero() {
            return Ok(ok_json(body));
        }
        let mut seen = now;
        if let Some(before) = waited_for {
            svc.sync_rechecks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            seen = seen.max(before);
            if !now.any_after(&before) {
                // Woken by a position the store does not show: wait past it.
                seen = seen.max(svc.notifier.send(Latest { user: who.user_id.to_string() }).await?);
            }
        }
        waited_for = Some(seen);
        let rx = svc.notifier.send(Wait { user: who.user_id.to_string(), seen }).await?;
        match tokio::time::timeout(remaining, rx).await {
            Err(_) => return Ok(ok_json(body)),
            Ok(Ok(())) => {}
            // The notifier let the wait go without news (it bounds its waiters): look again
            // after a pause, not at once.
            Ok(Err(_)) => tokio::time::sleep(remaining.min(Duration::from_millis(500))).await,
        }
    }
}

fn client_events(list: &[Pdu], txns: &HashMap<String, String>) -> Vec<Value> {
    list.iter().map(|p| p.to_client(txns.get(&p.event_id).map(String::as_str))).collect()
}

/// Builds the sync response from the store. Returns the body, the positions it covers, and
/// whether it carries nothing new (so the caller may long-poll).
fn compute(
    c: &mut Conn,
    user: &str,
    device: Option<&str>,
    since: Option<Positions>,
    full_state: bool,
    f: &SyncFilter,
    (typing_now, mut typing): (i64, HashMap<String, Vec<String>>),
) -> Result<(Value, Positions, bool)> {
    let mut now = Positions {
        events: ev::max_stream(c)?,
        account_data: account_data::current_stream_id(c)?,
        to_device: to_device::max_stream(c)?,
        device_lists: e2e_keys::device_list_position(c)?,
        receipts: receipts::position(c)?,
        typing: typing_now,
        presence: presence::position(c)?,
    };
    let since_ev = since.map(|s| s.events).unwrap_or(0);
    let mut join = Map::new();
    let mut invite = Map::new();
    let mut leave = Map::new();

    let ad_changes = account_data::changed_since(c, user, since.map(|s| s.account_data).unwrap_or(0))?;
    let mut room_ad: HashMap<String, Vec<Value>> = HashMap::new();
    let mut global_ad = Vec::new();
    for (room, kind, content) in ad_changes {
        let content: Value = serde_json::from_str(&content).unwrap_or_else(|_| json!({}));
        if room.is_empty() {
            if f.account_data.allows(&kind) {
                global_ad.push(json!({"type": kind, "content": content}));
            }
        } else if f.room_account_data.allows(&kind) {
            room_ad.entry(room).or_default().push(json!({"type": kind, "content": content}));
        }
    }

    let mut room_receipts = receipt_events(c, user, since.map(|s| s.receipts).unwrap_or(0), now.receipts)?;

    let erased = crate::store::users::erased_users(c)?;
    for m in memberships::user_memberships(c, user)? {
        if m.stream_ordering > now.events || f.rooms.as_ref().is_some_and(|r| !r.contains(&m.room_id)) {
            continue;
        }
        let changed_since = since.is_none() || m.stream_ordering > since_ev;
        match m.membership.as_str() {
            "join" => {
                let newly = since.is_none() || full_state || m.stream_ordering > since_ev;
                let types = f.timeline.exact_types();
                let mut timeline = ev::room_events(c, &m.room_id, since_ev, now.events, f.timeline_limit + 1, true, types.as_deref())?;
                // Everything since the user's latest membership event (a join) is visible to
                // them; only older events need the room's history visibility.
                if timeline.last().is_some_and(|p| p.stream_ordering < m.stream_ordering) {
                    let view = vis::history_view(c, &m.room_id, user)?;
                    timeline =
                        vis::visible_events(c, &m.room_id, &view, since_ev, now.events, f.timeline_limit + 1, true, types.as_deref())?;
                }
                timeline.reverse();
                let limited = timeline.len() as i64 > f.timeline_limit;
                if limited {
                    timeline.remove(0);
                }
                timeline.retain(|p| f.timeline.allows(&p.kind));
                if !erased.is_empty() {
                    for p in timeline.iter_mut() {
                        p.hide_if_erased(&erased, m.stream_ordering);
                    }
                }
                let ad = room_ad.remove(&m.room_id).unwrap_or_default();
                let mut ephemeral: Vec<Value> = room_receipts.remove(&m.room_id).into_iter().collect();
                if let Some(users) = typing.remove(&m.room_id) {
                    ephemeral.push(json!({"type": "m.typing", "content": {"user_ids": users}}));
                }
                if !newly && timeline.is_empty() && ad.is_empty() && ephemeral.is_empty() {
                    continue;
                }
                let before = timeline.first().map(|p| p.stream_ordering - 1).unwrap_or(now.events);
                let state = if newly {
                    ev::state_at(c, &m.room_id, before)?
                } else if limited {
                    ev::state_between(c, &m.room_id, since_ev, before)?
                } else {
                    vec![]
                };
                let state: Vec<Pdu> = state.into_iter().filter(|p| f.state.allows(&p.kind)).collect();
                let txns = own_txns(c, user, device, &timeline)?;
                join.insert(
                    m.room_id.clone(),
                    json!({
                        "timeline": {"events": client_events(&timeline, &txns), "limited": limited, "prev_batch": format!("t{before}")},
                        "state": {"events": client_events(&state, &HashMap::new())},
                        "account_data": {"events": ad},
                        "ephemeral": {"events": ephemeral},
                        "unread_notifications": {"highlight_count": 0, "notification_count": 0},
                        "summary": {},
                    }),
                );
            }
            "invite" if changed_since || full_state => {
                let state = ev::state_at(c, &m.room_id, m.stream_ordering)?;
                let inviter = state.iter().find(|p| p.event_id == m.event_id).map(|p| p.sender.clone());
                let stripped: Vec<Value> = state
                    .iter()
                    .filter(|p| {
                        matches!(
                            p.kind.as_str(),
                            "m.room.create"
                                | "m.room.join_rules"
                                | "m.room.name"
                                | "m.room.avatar"
                                | "m.room.canonical_alias"
                                | "m.room.encryption"
                                | "m.room.topic"
                        ) || p.event_id == m.event_id
                            || (p.kind == "m.room.member" && p.state_key.is_some() && p.state_key == inviter)
                    })
                    .map(Pdu::to_stripped)
                    .collect();
                invite.insert(m.room_id.clone(), json!({"invite_state": {"events": stripped}}));
            }
            "leave" | "ban" if (since.is_some() && changed_since) || (since.is_none() && f.include_leave) => {
                // Up to the leave, and only what the room's history visibility let them see: a
                // rejected invite or a ban before ever joining shows no history and no state.
                let view = vis::history_view(c, &m.room_id, user)?;
                let mut timeline =
                    vis::visible_events(c, &m.room_id, &view, since_ev, m.stream_ordering, f.timeline_limit + 1, true, None)?;
                timeline.reverse();
                let limited = timeline.len() as i64 > f.timeline_limit;
                if limited {
                    timeline.remove(0);
                }
                let before = timeline.first().map(|p| p.stream_ordering - 1).unwrap_or(m.stream_ordering);
                let state = match view.state_access() {
                    Some(access) if limited || since.is_none() => {
                        let upto = match access {
                            StateAccess::Current => before,
                            StateAccess::UpTo(p) => before.min(p),
                        };
                        ev::state_between(c, &m.room_id, since_ev, upto)?
                    }
                    _ => vec![],
                };
                leave.insert(
                    m.room_id.clone(),
                    json!({
                        "timeline": {"events": client_events(&timeline, &HashMap::new()), "limited": limited, "prev_batch": format!("t{before}")},
                        "state": {"events": client_events(&state, &HashMap::new())},
                        "account_data": {"events": room_ad.remove(&m.room_id).unwrap_or_default()},
                    }),
                );
            }
            _ => {}
        }
    }
    // Presenting a token acknowledges the to-device messages it covered; deliver the next ones.
    let mut to_device_events = Vec::new();
    if let Some(d) = device {
        let after = since.map(|s| s.to_device).unwrap_or(0);
        if after > 0 {
            to_device::acknowledge(c, user, d, after)?;
        }
        let batch = to_device::pending(c, user, d, after, now.to_device, TO_DEVICE_LIMIT)?;
        if batch.len() as i64 == TO_DEVICE_LIMIT
            && let Some(last) = batch.last()
        {
            // More are waiting: the next sync continues after the last one given.
            now.to_device = last.stream_id;
        }
        for m in batch {
            let content: Value = serde_json::from_str(&m.content).unwrap_or_else(|_| json!({}));
            to_device_events.push(json!({"sender": m.sender, "type": m.event_type, "content": content}));
        }
    }
    // Whose keys to re-query: only news to an incremental sync (an initial one queries all).
    let changed = match since {
        Some(s) if s.device_lists < now.device_lists => e2e_keys::changed_for(c, user, s.device_lists, now.device_lists)?,
        _ => Vec::new(),
    };
    let now_ms = crate::ids::now_ms();
    let presence_events: Vec<Value> = presence::changed_for(c, user, since.map(|s| s.presence).unwrap_or(0), now.presence)?
        .iter()
        .map(|p| json!({"type": "m.presence", "sender": p.user_id, "content": super::presence::content(p, now_ms)}))
        .collect();
    let empty = presence_events.is_empty()
        && join.is_empty()
        && invite.is_empty()
        && leave.is_empty()
        && global_ad.is_empty()
        && to_device_events.is_empty()
        && changed.is_empty();
    // Clients top up their one-time and fallback keys from these; signed_curve25519 is always
    // present (as Synapse reports it) so a device with none left uploads more.
    let (mut otk_counts, fallback_types) = match device {
        Some(d) => {
            (crate::store::e2e_keys::one_time_key_counts(c, user, d)?, crate::store::e2e_keys::unused_fallback_algorithms(c, user, d)?)
        }
        None => Default::default(),
    };
    otk_counts.entry("signed_curve25519".into()).or_insert(0);
    let body = json!({
        "next_batch": token(&now),
        "rooms": {"join": join, "invite": invite, "leave": leave, "knock": {}},
        "account_data": {"events": global_ad},
        "presence": {"events": presence_events},
        "to_device": {"events": to_device_events},
        "device_lists": {"changed": changed, "left": []},
        "device_one_time_keys_count": otk_counts,
        "device_unused_fallback_key_types": fallback_types,
    });
    Ok((body, now, empty))
}

/// One `m.receipt` event per room with receipts changed in (after, upto], grouped the spec's way:
/// event ID -> receipt type -> user -> {ts, thread_id}.
fn receipt_events(c: &mut Conn, user: &str, after: i64, upto: i64) -> Result<HashMap<String, Value>> {
    let mut by_room: HashMap<String, Value> = HashMap::new();
    if after >= upto {
        return Ok(by_room);
    }
    for r in receipts::changed_for(c, user, after, upto)? {
        let content = by_room.entry(r.room_id).or_insert_with(|| json!({"type": "m.receipt", "content": {}}));
        let mut data = json!({"ts": r.ts});
        if !r.thread_id.is_empty() {
            data["thread_id"] = json!(r.thread_id);
        }
        content["content"][&r.event_id][&r.receipt_type][&r.user_id] = data;
    }
    Ok(by_room)
}

/// Transaction IDs this device used for its own events in `timeline`.
fn own_txns(c: &mut Conn, user: &str, device: Option<&str>, timeline: &[Pdu]) -> Result<HashMap<String, String>> {
    let own: Vec<String> = timeline.iter().filter(|p| p.sender == user).map(|p| p.event_id.clone()).collect();
    if own.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(ev::txn_ids_for(c, user, device.unwrap_or(""), &own)?.into_iter().collect())
}
