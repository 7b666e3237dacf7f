//! Reports: users report events they can see, rooms and users; admins page through, read and
//! delete them (Synapse's `event_reports` and `user_reports`), and read any event whole.

use crate::Services;
use crate::auth::tokens::Session;
use crate::error::{Error, ErrorKind, Result};
pub use crate::store::reports::ReportQuery;
use crate::store::reports::{self as store, Kind, NewReport, Report};
use ruma::{EventId, RoomId, UserId};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;

/// Longest reason of a user report, in characters (Synapse's bound).
pub const MAX_USER_REASON_CHARS: usize = 1000;
/// Longest reason of an event or room report: Synapse bounds these by the body size only; this
/// keeps a report readable.
pub const MAX_REASON_CHARS: usize = 10_000;
/// Most reports one admin page holds, whatever the client asks.
pub const MAX_PAGE: i64 = 1000;

fn check_reason(reason: Option<&str>, max: usize) -> Result<()> {
    if reason.is_some_and(|r| r.chars().count() > max) {
        return Err(Error::bad_json(format!("Reason must be less than {max} characters")));
    }
    Ok(())
}

/// The one answer to a report of an event the reporter cannot see, or that is not there.
pub fn unreportable_event() -> Error {
    Error::not_found("Unable to report event: it does not exist or you aren't able to see it.")
}

/// The answer to a report of a room this server does not know.
pub fn unknown_room() -> Error {
    Error::not_found("Room does not exist")
}

async fn insert(svc: &Services, report: NewReport) -> Result<()> {
    svc.db.run(move |c| store::insert(c, &report)).await
}

/// Reports an event the reporter can see: one they cannot (or that is not there) is 404, the
/// same answer either way.
pub async fn report_event(
    svc: &Services,
    who: &Session,
    room_id: &RoomId,
    event_id: &EventId,
    reason: Option<String>,
    score: Option<i64>,
) -> Result<()> {
    check_reason(reason.as_deref(), MAX_REASON_CHARS)?;
    svc.rate_limits.report(who)?;
    let event = match super::history::event(svc, &who.user_id, room_id, event_id).await {
        Ok(event) => event,
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::Forbidden) => return Err(unreportable_event()),
        Err(e) => return Err(e),
    };
    let report = NewReport {
        room_id: Some(room_id.to_string()),
        event_id: Some(event_id.to_string()),
        event_sender: Some(event.sender.to_string()),
        reason,
        score,
        ..NewReport::new(Kind::Event, crate::ids::now_ms(), who.user_id.as_str())
    };
    insert(svc, report).await?;
    log::info!("{} reported event {event_id} in {room_id}", who.user_id);
    Ok(())
}

/// Reports a room this server knows (404 otherwise); the reporter need not be in it.
pub async fn report_room(svc: &Services, who: &Session, room_id: &RoomId, reason: String) -> Result<()> {
    check_reason(Some(&reason), MAX_REASON_CHARS)?;
    svc.rate_limits.report(who)?;
    let r = room_id.to_string();
    if svc.db.run(move |c| crate::store::rooms::room_row(c, &r)).await?.is_none() {
        return Err(unknown_room());
    }
    let report = NewReport {
        room_id: Some(room_id.to_string()),
        reason: Some(reason),
        ..NewReport::new(Kind::Room, crate::ids::now_ms(), who.user_id.as_str())
    };
    insert(svc, report).await?;
    log::info!("{} reported room {room_id}", who.user_id);
    Ok(())
}

/// Reports a user (`None`: what the reporter named is no user ID). A user of another server or
/// one that does not exist is accepted and dropped, so the answer tells nothing about who
/// exists (as Synapse).
pub async fn report_user(svc: &Services, who: &Session, target: Option<&UserId>, reason: String) -> Result<()> {
    check_reason(Some(&reason), MAX_USER_REASON_CHARS)?;
    svc.rate_limits.report(who)?;
    let Some(target) = target.filter(|t| t.server_name().as_str() == svc.server_name()) else {
        return Ok(());
    };
    let t = target.to_string();
    if svc.db.run(move |c| crate::store::users::find(c, &t)).await?.is_none() {
        return Ok(());
    }
    let report = NewReport {
        target_user_id: Some(target.to_string()),
        reason: Some(reason),
        ..NewReport::new(Kind::User, crate::ids::now_ms(), who.user_id.as_str())
    };
    insert(svc, report).await?;
    log::info!("{} reported user {target}", who.user_id);
    Ok(())
}

/// An event report as Synapse's admin API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct EventReport {
    pub id: i64,
    pub received_ts: i64,
    pub room_id: Option<String>,
    /// The room's name and canonical alias now.
    pub name: Option<String>,
    pub canonical_alias: Option<String>,
    pub event_id: Option<String>,
    /// Who reported.
    pub user_id: String,
    pub reason: Option<String>,
    pub score: Option<i64>,
    /// Who sent the reported event.
    pub sender: Option<String>,
}

/// A user report as Synapse's admin API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct UserReport {
    pub id: i64,
    pub received_ts: i64,
    pub target_user_id: Option<String>,
    pub user_id: String,
    pub reason: Option<String>,
}

impl From<Report> for UserReport {
    fn from(r: Report) -> Self {
        Self { id: r.id, received_ts: r.received_ts, target_user_id: r.target_user_id, user_id: r.user_id, reason: r.reason }
    }
}

/// A page of reports and how many match in all.
pub struct Listed<T> {
    pub reports: Vec<T>,
    pub total: i64,
    /// Where the next page starts, while there is one.
    pub next_token: Option<i64>,
}

/// The query bounded: a negative offset or limit is 400, a limit past [`MAX_PAGE`] is cut.
fn bounded(mut q: ReportQuery) -> Result<ReportQuery> {
    if q.from < 0 {
        return Err(Error::invalid_param("The start parameter must be a positive integer."));
    }
    if q.limit < 0 {
        return Err(Error::invalid_param("The limit parameter must be a positive integer."));
    }
    q.limit = q.limit.min(MAX_PAGE);
    Ok(q)
}

async fn page(svc: &Services, kind: Kind, q: ReportQuery) -> Result<(Vec<Report>, i64, Option<i64>)> {
    let q = bounded(q)?;
    let (from, limit) = (q.from, q.limit);
    let (rows, total) = svc.db.run(move |c| store::list(c, kind, &q)).await?;
    // `from` is the client's: it may be near i64::MAX.
    let next = (from.saturating_add(limit) < total).then(|| from.saturating_add(rows.len() as i64));
    Ok((rows, total, next))
}

/// The name and canonical alias of each room, from its current state.
async fn room_labels(svc: &Services, rooms: Vec<String>) -> Result<HashMap<String, (Option<String>, Option<String>)>> {
    let state =
        svc.db.run(move |c| crate::store::events::room_state_of_types(c, &rooms, &["m.room.name", "m.room.canonical_alias"])).await?;
    let mut labels: HashMap<String, (Option<String>, Option<String>)> = HashMap::new();
    for p in state {
        let entry = labels.entry(p.room_id.to_string()).or_default();
        match p.kind.as_str() {
            "m.room.name" => entry.0 = p.content.get("name").and_then(Value::as_str).map(str::to_owned),
            _ => entry.1 = p.content.get("alias").and_then(Value::as_str).map(str::to_owned),
        }
    }
    Ok(labels)
}

async fn event_reports_of(svc: &Services, rows: Vec<Report>) -> Result<Vec<EventReport>> {
    let mut rooms: Vec<String> = rows.iter().filter_map(|r| r.room_id.clone()).collect();
    rooms.sort();
    rooms.dedup();
    let labels = room_labels(svc, rooms).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let (name, canonical_alias) = r.room_id.as_ref().and_then(|room| labels.get(room).cloned()).unwrap_or_default();
            EventReport {
                id: r.id,
                received_ts: r.received_ts,
                room_id: r.room_id,
                name,
                canonical_alias,
                event_id: r.event_id,
                user_id: r.user_id,
                reason: r.reason,
                score: r.score,
                sender: r.event_sender,
            }
        })
        .collect())
}

pub async fn list_event_reports(svc: &Services, q: ReportQuery) -> Result<Listed<EventReport>> {
    let (rows, total, next_token) = page(svc, Kind::Event, q).await?;
    Ok(Listed { reports: event_reports_of(svc, rows).await?, total, next_token })
}

fn not_found(kind: Kind) -> Error {
    Error::not_found(if kind == Kind::User { "User report not found" } else { "Event report not found" })
}

async fn one(svc: &Services, kind: Kind, id: i64) -> Result<Report> {
    svc.db.run(move |c| store::get(c, kind, id)).await?.ok_or_else(|| not_found(kind))
}

/// One event report with the reported event as stored (signed, as other servers see it).
pub async fn event_report(svc: &Services, id: i64) -> Result<(EventReport, Value)> {
    let report = one(svc, Kind::Event, id).await?;
    let event_id = report.event_id.clone().unwrap_or_default();
    let event = svc.db.run(move |c| crate::store::events::stored_json(c, &event_id)).await?.ok_or_else(|| not_found(Kind::Event))?;
    let shown = event_reports_of(svc, vec![report]).await?.pop().ok_or_else(|| not_found(Kind::Event))?;
    Ok((shown, event))
}

pub async fn delete_event_report(svc: &Services, admin: &UserId, id: i64) -> Result<()> {
    delete(svc, admin, Kind::Event, id).await
}

pub async fn list_user_reports(svc: &Services, q: ReportQuery) -> Result<Listed<UserReport>> {
    let (rows, total, next_token) = page(svc, Kind::User, q).await?;
    Ok(Listed { reports: rows.into_iter().map(UserReport::from).collect(), total, next_token })
}

pub async fn user_report(svc: &Services, id: i64) -> Result<UserReport> {
    Ok(one(svc, Kind::User, id).await?.into())
}

pub async fn delete_user_report(svc: &Services, admin: &UserId, id: i64) -> Result<()> {
    delete(svc, admin, Kind::User, id).await
}

async fn delete(svc: &Services, admin: &UserId, kind: Kind, id: i64) -> Result<()> {
    if !svc.db.run(move |c| store::delete(c, kind, id)).await? {
        return Err(not_found(kind));
    }
    log::info!("admin {admin} deleted {kind:?} report {id}");
    Ok(())
}

/// Any event this server holds, as stored and with its ID, whoever may see it: for admins only.
pub async fn fetch_event(svc: &Services, event_id: &EventId) -> Result<Value> {
    let id = event_id.to_string();
    let mut event =
        svc.db.run(move |c| crate::store::events::stored_json(c, &id)).await?.ok_or_else(|| Error::not_found("Event not found"))?;
    // Room versions 3 on leave the ID out of the event: it is the event's hash.
    if let Some(fields) = event.as_object_mut() {
        fields.entry("event_id").or_insert_with(|| Value::String(event_id.to_string()));
    }
    Ok(event)
}
