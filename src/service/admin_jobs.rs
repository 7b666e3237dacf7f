//! Admin jobs, Synapse's scheduled tasks: deleting a room (shutdown, then purge), purging a
//! room's history and redacting a user's events ([`super::admin_redact`]), run in the background with their status, result and error kept in the store.
//!
//! A job a stop interrupts stays `active` in the store and is run again from the start when the
//! server starts: every step is idempotent (blocking again, evacuating a room nobody is in, moving
//! aliases already moved, purging what is gone) and a deletion's new room is recorded as soon as it
//! exists, so a resumed deletion reuses it. The changes go through the room actors: the shutdown is
//! the room's `Evacuate`, the purge its `Purge` (see [`super::admin`]).

use crate::Services;
use crate::actors::room::SendEvent;
use crate::error::{Error, ErrorKind, Result};
use crate::events::EventDraft;
pub use crate::store::admin_jobs::JobFilter;
use crate::store::admin_jobs::{self as store, JobRow};
use futures_util::stream::{self, StreamExt};
use ruma::{OwnedEventId, OwnedRoomId, OwnedUserId, RoomId, UserId};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedRwLockWriteGuard, RwLock};

/// Synapse's action names.
pub const SHUTDOWN_AND_PURGE_ROOM: &str = "shutdown_and_purge_room";
pub const PURGE_ROOM: &str = "purge_room";
pub const PURGE_HISTORY: &str = "purge_history";
pub const REDACT_ALL_EVENTS: &str = "redact_all_events";

/// Synapse's task statuses; jobs here are only ever active, complete or failed (they start at once).
pub const STATUSES: [&str; 5] = ["scheduled", "active", "complete", "failed", "cancelled"];
pub const ACTIVE: &str = "active";
pub const COMPLETE: &str = "complete";
pub const FAILED: &str = "failed";

/// Joins to a deletion's new room in flight at once.
const CONCURRENT_JOINS: usize = 64;

const DEFAULT_ROOM_NAME: &str = "Content Violation Notification";
const DEFAULT_MESSAGE: &str = "Sharing illegal content on this server is not permitted and rooms in violation will be blocked.";

/// The jobs this process runs, so a stop can end them before the actors go (they then stay
/// `active` and are resumed at the next start), and a gate every job passes before its first step.
#[derive(Default)]
pub struct Jobs {
    running: Mutex<HashMap<String, tokio::task::AbortHandle>>,
    gate: Arc<RwLock<()>>,
}

impl Jobs {
    /// Holds every job at its start until the guard is dropped: a way to see a job in flight
    /// (its status, a second deletion of the same room refused, a restart interrupting it).
    pub async fn pause(&self) -> OwnedRwLockWriteGuard<()> {
        self.gate.clone().write_owned().await
    }

    /// Ends every running job where it is; the store still calls them active.
    pub fn abort_all(&self) {
        for (_, job) in self.running.lock().unwrap_or_else(|e| e.into_inner()).drain() {
            job.abort();
        }
    }

    fn forget(&self, id: &str) {
        self.running.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
    }
}

/// A job as the admin API shows it.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: String,
    pub action: String,
    pub status: String,
    /// When the job last changed.
    pub timestamp_ms: i64,
    pub resource_id: String,
    pub result: Option<Value>,
    pub error: Option<String>,
}

impl From<JobRow> for Job {
    fn from(r: JobRow) -> Self {
        Self {
            result: r.result.and_then(|s| serde_json::from_str(&s).ok()),
            id: r.id,
            action: r.action,
            status: r.status,
            timestamp_ms: r.updated_ts,
            resource_id: r.resource_id,
            error: r.error,
        }
    }
}

/// What a room deletion does, as Synapse's body fields say (kept as the job's parameters).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Deletion {
    /// Checked when used: a local user's ID, or 400 "User must be our own".
    pub new_room_user_id: Option<String>,
    pub new_room_name: Option<String>,
    pub message: Option<String>,
    pub requester_user_id: OwnedUserId,
    pub block: bool,
    pub purge: bool,
    pub force_purge: bool,
}

/// What the shutdown did: Synapse's `shutdown_room` object.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ShutdownReport {
    pub kicked_users: Vec<String>,
    pub failed_to_kick_users: Vec<String>,
    pub local_aliases: Vec<String>,
    pub new_room_id: Option<String>,
}

/// `DELETE v1/rooms/{room}`: the deletion done before the answer, recorded as no job.
pub async fn delete_room_now(svc: &Arc<Services>, room_id: &RoomId, params: Deletion) -> Result<ShutdownReport> {
    shutdown_and_purge(svc, room_id, &params, None, ShutdownReport::default()).await
}

/// `DELETE v2/rooms/{room}`: records the job and starts it; answers its ID. 400 if a deletion
/// of the room is running, or if the new room's creator is not local.
pub async fn start_room_deletion(svc: &Arc<Services>, room_id: &RoomId, params: Deletion) -> Result<String> {
    let busy = || Error::unknown(format!("Purge already in progress for {room_id}"));
    if !room_deletions(svc, room_id, &[ACTIVE]).await?.is_empty() {
        return Err(busy());
    }
    if let Some(raw) = &params.new_room_user_id {
        local_user(svc, raw)?;
    }
    let row = new_row(SHUTDOWN_AND_PURGE_ROOM, room_id.as_str(), json!(params));
    let r = row.clone();
    if !svc.db.run(move |c| store::insert_unless_running(c, &r, ACTIVE)).await? {
        return Err(busy());
    }
    log::info!("{} starts deleting room {room_id} (job {})", params.requester_user_id, row.id);
    Ok(launch(svc, row))
}

/// A room's deletion jobs with one of `statuses`, oldest change first.
pub async fn room_deletions(svc: &Services, room_id: &RoomId, statuses: &[&str]) -> Result<Vec<Job>> {
    list(
        svc,
        JobFilter {
            actions: Some(vec![PURGE_ROOM.into(), SHUTDOWN_AND_PURGE_ROOM.into()]),
            resource_id: Some(room_id.to_string()),
            statuses: Some(statuses.iter().map(|s| s.to_string()).collect()),
            before_ts: None,
        },
    )
    .await
}

pub async fn get(svc: &Services, id: &str) -> Result<Option<Job>> {
    let id = id.to_owned();
    Ok(svc.db.run(move |c| store::get(c, &id)).await?.map(Job::from))
}

pub async fn list(svc: &Services, filter: JobFilter) -> Result<Vec<Job>> {
    Ok(svc.db.run(move |c| store::list(c, &filter)).await?.into_iter().map(Job::from).collect())
}

/// Where a history purge stops: that event and everything after it stay.
pub enum PurgePoint {
    Event(OwnedEventId),
    /// The room's last event at or before this time (ms) and everything after it stay.
    Time(i64),
}

/// `POST v1/purge_history`: finds the point, records the job and starts it; answers its ID.
/// `room_id` is `None` for a path that is no room ID (it names no room with events).
pub async fn start_purge_history(
    svc: &Arc<Services>,
    admin: &UserId,
    room_id: Option<&RoomId>,
    point: PurgePoint,
    delete_local_events: bool,
) -> Result<String> {
    let room = room_id.map(ToString::to_string);
    let (room, before) = svc
        .db
        .run(move |c| {
            let event = match point {
                PurgePoint::Event(id) => {
                    let event = crate::store::events::event_by_id(c, id.as_str())?
                        .ok_or_else(|| Error::not_found(format!("Could not find event {id}")))?;
                    if Some(event.room_id.as_str()) != room.as_deref() {
                        return Err(Error::unknown("Event is for wrong room."));
                    }
                    event
                }
                PurgePoint::Time(ts) => {
                    let none = || Error::not_found("there is no event to be purged");
                    let room = room.as_deref().ok_or_else(none)?;
                    let (id, _) = crate::store::room_stats::event_at_time(c, room, ts, false)?.ok_or_else(none)?;
                    crate::store::events::event_by_id(c, &id)?.ok_or_else(none)?
                }
            };
            Ok((event.room_id.to_string(), event.stream_ordering))
        })
        .await?;
    let row = new_row(PURGE_HISTORY, &room, json!({"before": before, "delete_local_events": delete_local_events}));
    let r = row.clone();
    svc.db.run(move |c| store::insert(c, &r)).await?;
    log::info!("admin {admin} starts purging the history of {room} before position {before} (job {})", row.id);
    Ok(launch(svc, row))
}

/// `POST v1/user/{user}/redact`: records the job and starts it; answers its ID. Any user ID is
/// taken, known or not (Synapse's job then redacts nothing).
pub async fn start_user_redaction(svc: &Arc<Services>, user: &UserId, params: super::admin_redact::UserRedaction) -> Result<String> {
    let row = new_row(REDACT_ALL_EVENTS, user.as_str(), json!(params));
    let r = row.clone();
    svc.db.run(move |c| store::insert(c, &r)).await?;
    log::info!("admin {} starts redacting the events of {user} (job {})", params.admin, row.id);
    Ok(launch(svc, row))
}

/// Starts again the jobs a stop interrupted (still `active` in the store).
pub async fn resume(svc: Arc<Services>) {
    let filter = JobFilter { statuses: Some(vec![ACTIVE.into()]), ..Default::default() };
    match svc.db.run(move |c| store::list(c, &filter)).await {
        Ok(rows) => {
            for row in rows {
                log::info!("resuming admin job {} ({} of {})", row.id, row.action, row.resource_id);
                launch(&svc, row);
            }
        }
        Err(e) => log::error!("reading the interrupted admin jobs failed: {e}"),
    }
}

fn new_row(action: &str, resource_id: &str, params: Value) -> JobRow {
    let now = crate::ids::now_ms();
    JobRow {
        id: crate::ids::random_alnum(16),
        action: action.into(),
        resource_id: resource_id.into(),
        status: ACTIVE.into(),
        params: params.to_string(),
        result: None,
        error: None,
        created_ts: now,
        updated_ts: now,
    }
}

/// Runs the job in the background; answers its ID.
fn launch(svc: &Arc<Services>, row: JobRow) -> String {
    let id = row.id.clone();
    let s = svc.clone();
    let gate = svc.admin_jobs.gate.clone();
    // The task cannot run before this function returns (same thread), so it is registered
    // before it can forget itself.
    let task = actix_rt::spawn(async move {
        let _open = gate.read_owned().await;
        let id = row.id.clone();
        let outcome = run(&s, row).await;
        let now = crate::ids::now_ms();
        let j = id.clone();
        let written = match outcome {
            Ok(result) => {
                let result = result.map(|v| v.to_string());
                s.db.run(move |c| store::complete(c, &j, COMPLETE, result.as_deref(), now)).await
            }
            Err(e) => {
                log::warn!("admin job {id} failed: {}", e.message());
                // Shown to admins as the status's `error`: no internal detail, as in a reply.
                let error = e.client_message().to_owned();
                s.db.run(move |c| store::fail(c, &j, FAILED, &error, now)).await
            }
        };
        if let Err(e) = written {
            log::error!("recording the end of admin job {id} failed: {e}");
        }
        s.admin_jobs.forget(&id);
    });
    svc.admin_jobs.running.lock().unwrap_or_else(|e| e.into_inner()).insert(id.clone(), task.abort_handle());
    id
}

/// One job's work; answers its final result.
async fn run(svc: &Arc<Services>, row: JobRow) -> Result<Option<Value>> {
    let params: Value = serde_json::from_str(&row.params).map_err(|e| Error::internal_from("reading the job's parameters", e))?;
    if row.action == REDACT_ALL_EVENTS {
        // Resumed after a stop, it starts again: what was redacted is no longer listed.
        let params = serde_json::from_value(params).map_err(|e| Error::internal_from("reading the job's parameters", e))?;
        let user = OwnedUserId::try_from(row.resource_id.as_str()).map_err(|e| Error::internal_from("reading the job's user", e))?;
        return super::admin_redact::redact_user_events(svc, &user, &params).await.map(Some);
    }
    let room_id = OwnedRoomId::try_from(row.resource_id.as_str()).map_err(|e| Error::internal_from("reading the job's room", e))?;
    match row.action.as_str() {
        SHUTDOWN_AND_PURGE_ROOM => {
            let deletion: Deletion = serde_json::from_value(params).map_err(|e| Error::internal_from("reading the job's parameters", e))?;
            let so_far = row.result.as_deref().and_then(|r| serde_json::from_str(r).ok()).unwrap_or_default();
            let report = shutdown_and_purge(svc, &room_id, &deletion, Some(&row.id), so_far).await?;
            Ok(Some(json!(report)))
        }
        PURGE_HISTORY => {
            let before = params["before"].as_i64().ok_or_else(|| Error::internal("Not enough parameters passed to _purge_history"))?;
            let delete_local = params["delete_local_events"].as_bool().unwrap_or(false);
            let server = svc.server_name().to_owned();
            let r = room_id.to_string();
            // Woken syncs must not answer with copies of what is about to go.
            svc.recent.restart();
            let n = svc.db.run(move |c| crate::store::purge::purge_history(c, &r, before, delete_local, &server)).await?;
            log::info!("purged {n} events of {room_id} before position {before}");
            Ok(None)
        }
        other => Err(Error::internal(format!("unknown admin job action {other}"))),
    }
}

/// A local user's ID from `new_room_user_id` (who need not be registered, as in Synapse).
fn local_user(svc: &Services, raw: &str) -> Result<OwnedUserId> {
    UserId::parse(raw)
        .ok()
        .filter(|u| u.server_name().as_str() == svc.server_name())
        .ok_or_else(|| Error::unknown(format!("User must be our own: {raw}")))
}

async fn record(svc: &Services, job: Option<&str>, report: &ShutdownReport) -> Result<()> {
    let Some(id) = job else { return Ok(()) };
    let (id, result, now) = (id.to_owned(), json!(report).to_string(), crate::ids::now_ms());
    svc.db.run(move |c| store::set_result(c, &id, Some(&result), now)).await
}

fn add_once(list: &mut Vec<String>, item: String) {
    if !list.contains(&item) {
        list.push(item);
    }
}

/// Synapse's room shutdown, then the purge: block; if the room is known, create the new room
/// (once), evacuate every local member through the room's actor, join those who were joined to
/// the new room, post the message there and move the aliases; then purge through the actor.
async fn shutdown_and_purge(
    svc: &Arc<Services>,
    room_id: &RoomId,
    params: &Deletion,
    job: Option<&str>,
    mut report: ShutdownReport,
) -> Result<ShutdownReport> {
    let requester = &params.requester_user_id;
    if params.block {
        super::admin_room_actions::set_blocked(svc, requester, room_id, true).await?;
    }
    let room = room_id.to_string();
    let (known, invited) = svc
        .db
        .run(move |c| {
            let known = crate::store::rooms::room_row(c, &room)?.is_some();
            let members = if known { crate::store::memberships::room_members(c, &room)? } else { Vec::new() };
            Ok((known, members.into_iter().filter(|m| m.membership == "invite").map(|m| m.user_id).collect::<Vec<_>>()))
        })
        .await?;
    if !known {
        return Ok(report);
    }
    let new_room = match &params.new_room_user_id {
        None => None,
        Some(raw) => {
            let creator = local_user(svc, raw)?;
            let new_room = match report.new_room_id.as_deref().map(OwnedRoomId::try_from) {
                Some(Ok(id)) => id,
                _ => {
                    let mut room = super::room_creation::NewRoom::new(creator.clone());
                    room.preset = Some(super::room_creation::Preset::PublicChat);
                    room.name = Some(params.new_room_name.clone().unwrap_or_else(|| DEFAULT_ROOM_NAME.into()));
                    room.power_level_override.insert("users_default".into(), json!(-10));
                    let id = super::room_creation::create_room(svc, room).await?;
                    report.new_room_id = Some(id.to_string());
                    record(svc, job, &report).await?;
                    id
                }
            };
            Some((creator, new_room))
        }
    };
    let server = svc.server_name();
    let invited = invited.into_iter().filter(|u| u.rsplit_once(':').is_some_and(|(_, s)| s == server));
    let joined = super::admin::evacuate_room(svc, requester, room_id).await?;
    // Joins to the new room overlap, so its actor commits them in batches; in order, as listed.
    let target = new_room.as_ref().map(|(_, r)| r.clone());
    let moves: Vec<(OwnedUserId, Result<()>)> = stream::iter(joined)
        .map(|user| {
            let (svc, target) = (svc.clone(), target.clone());
            async move {
                let moved = match target {
                    Some(r) => super::membership::join_as(&svc, &user, &r).await.map(|_| ()),
                    None => Ok(()),
                };
                (user, moved)
            }
        })
        .buffered(CONCURRENT_JOINS)
        .collect()
        .await;
    for (user, moved) in moves {
        match moved {
            Ok(()) => add_once(&mut report.kicked_users, user.to_string()),
            Err(e) => {
                log::warn!("moving {user} from {room_id} to the new room failed: {e}");
                add_once(&mut report.failed_to_kick_users, user.to_string());
            }
        }
    }
    for user in invited {
        add_once(&mut report.kicked_users, user);
    }
    record(svc, job, &report).await?;
    if let Some((creator, new_room)) = &new_room {
        let message = params.message.clone().unwrap_or_else(|| DEFAULT_MESSAGE.into());
        let draft = EventDraft::message("m.room.message", json!({"msgtype": "m.text", "body": message}));
        svc.send_to_room(new_room, SendEvent::new(creator.clone(), draft)).await??;
        let (from, to, by) = (room_id.to_string(), new_room.to_string(), requester.to_string());
        for alias in svc.db.run(move |c| crate::store::rooms::move_aliases(c, &from, &to, &by)).await? {
            add_once(&mut report.local_aliases, alias);
        }
        record(svc, job, &report).await?;
    }
    if params.purge {
        if !params.force_purge {
            let room = room_id.to_string();
            let members = svc.db.run(move |c| crate::store::memberships::room_members(c, &room)).await?;
            let local_joined = |m: &crate::store::memberships::MembershipRow| {
                m.membership == "join" && m.user_id.rsplit_once(':').is_some_and(|(_, s)| s == server)
            };
            if members.iter().any(local_joined) {
                return Err(Error::unknown("Users are still joined to this room"));
            }
        }
        match super::admin::purge_room(svc, requester, room_id).await {
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            r => r?,
        }
    }
    Ok(report)
}
