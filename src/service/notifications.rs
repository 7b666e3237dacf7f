//! Notifications: what users' push rules decided (`GET /notifications`), the unread counts
//! `/sync` shows per room, and recounting them when a read receipt moves.

use crate::Services;
use crate::actors::pusher::{Deliver, PushJob};
use crate::error::{Error, Result};
use crate::store::notifications::{self as store};
use ruma::{RoomId, UserId};
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// The most notifications one page holds, and the default.
pub const MAX_LIMIT: i64 = 100;
const DEFAULT_LIMIT: i64 = 50;
/// How long a sync waits for the evaluator to reach the events it shows.
const COUNTS_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// A page of the user's notifications, newest first: `{notifications, next_token?}`.
/// `from` is a previous page's `next_token`.
pub async fn list(svc: &Services, user: &UserId, from: Option<&str>, limit: Option<i64>, only_highlight: bool) -> Result<Value> {
    let before = match from {
        Some(t) => Some(t.parse::<i64>().map_err(|_| Error::invalid_param("from is not a token this server gave"))?),
        None => None,
    };
    let limit = limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let u = user.to_string();
    let (rows, next) = svc
        .db
        .run(move |c| {
            let (rows, next) = store::list(c, &u, before, limit, only_highlight)?;
            let mut out = Vec::with_capacity(rows.len());
            for (row, read) in rows {
                if let Some(ev) = crate::store::events::event_at(c, row.stream_ordering)? {
                    out.push((row, read, ev));
                }
            }
            Ok((out, next.map(|n| n.to_string())))
        })
        .await?;
    let list: Vec<Value> = rows
        .into_iter()
        .map(|(row, read, ev)| {
            json!({
                "actions": serde_json::from_str::<Value>(&row.actions).unwrap_or_else(|_| json!([])),
                "event": ev.to_client(None),
                "profile_tag": null,
                "read": read,
                "room_id": row.room_id,
                "ts": ev.origin_server_ts,
            })
        })
        .collect();
    let mut page = json!({ "notifications": list });
    if let Some(n) = next {
        page["next_token"] = json!(n);
    }
    Ok(page)
}

pub use crate::store::notifications::{RoomCounts, UserCounts, counts};

/// The threads' counts as `unread_thread_notifications` shows them.
pub fn threads_json(c: &RoomCounts) -> Map<String, Value> {
    c.threads.iter().map(|(t, (n, h))| (t.clone(), json!({"notification_count": n, "highlight_count": h}))).collect()
}

/// The user's unread counts, kept in memory or read (and then kept).
pub async fn kept_counts(svc: &Services, user: &str) -> Result<Arc<UserCounts>> {
    if let Some(kept) = svc.kept.unread.get(user) {
        return Ok(kept);
    }
    let ticket = svc.kept.unread.ticket();
    let u = user.to_owned();
    let read = Arc::new(svc.db.run(move |c| counts(c, &u)).await?);
    svc.kept.unread.offer(ticket, user.to_owned(), read.clone());
    Ok(read)
}

/// Waits (a little at most) until push rules have been evaluated up to `position`, so a sync
/// showing events shows the counts they make. Answers whether they have.
pub async fn wait_evaluated(svc: &Services, position: i64) -> bool {
    let mut rx = svc.push_progress.clone();
    if *rx.borrow() >= position {
        return true;
    }
    // Somebody waits: the evaluator skips the pause it keeps between rounds to save work.
    svc.push.do_send(crate::actors::push::Hurry { upto: position });
    let waited = tokio::time::timeout(COUNTS_WAIT, rx.wait_for(|p| *p >= position)).await;
    matches!(waited, Ok(Ok(_)))
}

/// A read receipt of the user moved in the room: recount, and tell their push gateways the
/// new badge.
pub async fn receipt_moved(svc: &Services, user: &UserId, room: &RoomId) -> Result<()> {
    let (u, r) = (user.to_string(), room.to_string());
    let recounted = svc
        .db
        .run(move |c| {
            store::recount(c, &u, &r)?;
            let pushers: Vec<_> = crate::store::pushers::list(c, &u)?.into_iter().filter(|p| p.kind == "http").collect();
            let badge = if pushers.is_empty() { 0 } else { store::total_unread(c, &u)? };
            Ok((badge, pushers))
        })
        .await;
    // Forgotten, not replaced with the new counts: the evaluator may have recorded before this
    // recount and apply what it added only now, which would count it twice. Forgotten whatever
    // the outcome, since the recount may have committed.
    svc.kept.unread.forget(user.as_str());
    let (badge, pushers) = recounted?;
    if !pushers.is_empty() {
        let jobs = pushers
            .iter()
            .map(|p| PushJob::new(user.as_str(), p, json!({"counts": {"unread": badge}, "prio": "high"}), &Map::new()))
            .collect();
        svc.pusher.do_send(Deliver(jobs));
    }
    Ok(())
}
