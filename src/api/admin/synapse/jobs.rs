//! Synapse's room deletion (v1 at once, v2 as a background job with its status), history purge
//! and a user's redaction with their status, and the list of scheduled tasks; with Synapse 1.163's shapes and errors.

use crate::api::extractors::Admin;
use crate::api::{Body, Svc, arc, ok_json, parse_query};
use crate::error::{Error, Result};
use crate::service::admin_jobs::{self as jobs, Deletion, Job, JobFilter, PurgePoint};
use crate::service::admin_redact::{DEFAULT_LIMIT, MAX_LIMIT, MAX_ROOMS, UserRedaction};
use actix_web::{HttpRequest, HttpResponse, web};
use ruma::{OwnedEventId, OwnedRoomId, UserId};
use serde::Deserialize;
use serde_json::{Map, Value, json};

pub fn routes() -> Vec<(&'static str, actix_web::Route)> {
    vec![
        ("/v1/rooms/{room_id}", web::delete().to(delete_now)),
        ("/v2/rooms/{room_id}", web::delete().to(start_deletion)),
        ("/v2/rooms/{room_id}/delete_status", web::get().to(deletions_of_room)),
        ("/v2/rooms/delete_status/{delete_id}", web::get().to(deletion)),
        ("/v1/purge_history/{room_id}", web::post().to(purge_history)),
        ("/v1/purge_history/{room_id}/{event_id}", web::post().to(purge_history)),
        ("/v1/purge_history_status/{purge_id}", web::get().to(purge_history_status)),
        ("/v1/user/redact_status/{redact_id}", web::get().to(redact_status)),
        ("/v1/user/{user_id}/redact", web::post().to(redact_user)),
        ("/v1/scheduled_tasks", web::get().to(scheduled_tasks)),
    ]
}

/// 400 `M_UNKNOWN` unless the path is a room ID, as Synapse words it.
fn legal_room_id(path: &str) -> Result<OwnedRoomId> {
    OwnedRoomId::try_from(path).map_err(|_| Error::unknown(format!("{path} is not a legal room ID")))
}

/// A boolean body field: absent is `default`, anything but a boolean 400 `M_BAD_JSON`.
fn flag(body: &Map<String, Value>, name: &str, default: bool) -> Result<bool> {
    match body.get(name) {
        None => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(Error::bad_json(format!("Param '{name}' must be a boolean, if given"))),
    }
}

/// An optional string body field.
fn text(body: &Map<String, Value>, name: &str) -> Result<Option<String>> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Error::bad_json(format!("Param '{name}' must be a string, if given"))),
    }
}

/// The body and path of both deletion versions, checked in Synapse's order.
fn deletion_request(admin: &Admin, path: &str, body: &Body) -> Result<(OwnedRoomId, Deletion)> {
    let b: Map<String, Value> = body.parse_nonempty()?;
    let block = flag(&b, "block", false)?;
    let purge = flag(&b, "purge", true)?;
    let force_purge = flag(&b, "force_purge", false)?;
    let params = Deletion {
        new_room_user_id: text(&b, "new_room_user_id")?,
        new_room_name: text(&b, "room_name")?.filter(|s| !s.is_empty()),
        message: text(&b, "message")?.filter(|s| !s.is_empty()),
        requester_user_id: admin.user_id.clone(),
        block,
        purge,
        force_purge,
    };
    Ok((legal_room_id(path)?, params))
}

async fn delete_now(svc: Svc, admin: Admin, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    let (room, params) = deletion_request(&admin, &path, &body)?;
    let report = jobs::delete_room_now(&arc(&svc), &room, params).await?;
    Ok(ok_json(json!(report)))
}

async fn start_deletion(svc: Svc, admin: Admin, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    let (room, params) = deletion_request(&admin, &path, &body)?;
    let delete_id = jobs::start_room_deletion(&arc(&svc), &room, params).await?;
    Ok(ok_json(json!({"delete_id": delete_id})))
}

/// Synapse's task object; `error` only on a failed task, as its docs describe.
fn deletion_json(job: &Job) -> Value {
    let mut v = json!({"delete_id": job.id, "room_id": job.resource_id, "status": job.status, "shutdown_room": job.result});
    if let Some(e) = job.error.as_ref().filter(|_| job.status == jobs::FAILED) {
        v["error"] = json!(e);
    }
    v
}

async fn deletions_of_room(svc: Svc, _admin: Admin, path: web::Path<String>) -> Result<HttpResponse> {
    let room = legal_room_id(&path)?;
    let found = jobs::room_deletions(&svc, &room, &[jobs::ACTIVE, jobs::COMPLETE, jobs::FAILED]).await?;
    if found.is_empty() {
        return Err(Error::not_found(format!("No delete task for room_id '{room}' found")));
    }
    Ok(ok_json(json!({"results": found.iter().map(deletion_json).collect::<Vec<_>>()})))
}

async fn deletion(svc: Svc, _admin: Admin, path: web::Path<String>) -> Result<HttpResponse> {
    let job = jobs::get(&svc, &path)
        .await?
        .filter(|j| j.action == jobs::SHUTDOWN_AND_PURGE_ROOM || j.action == jobs::PURGE_ROOM)
        .ok_or_else(|| Error::not_found(format!("delete id '{path}' not found")))?;
    Ok(ok_json(deletion_json(&job)))
}

/// Python's truth of a JSON value, as Synapse reads `delete_local_events`.
fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
    }
}

#[derive(Deserialize)]
struct PurgePath {
    room_id: String,
    event_id: Option<String>,
}

async fn purge_history(svc: Svc, admin: Admin, path: web::Path<PurgePath>, body: Body) -> Result<HttpResponse> {
    let b: Map<String, Value> = body.parse()?;
    let delete_local_events = truthy(b.get("delete_local_events"));
    let event = match path.event_id.clone() {
        Some(e) => Some(e),
        None => text(&b, "purge_up_to_event_id")?,
    };
    let point = match (event, b.get("purge_up_to_ts")) {
        (Some(e), _) => {
            PurgePoint::Event(OwnedEventId::try_from(e.as_str()).map_err(|_| Error::not_found(format!("Could not find event {e}")))?)
        }
        (None, Some(ts)) => match ts {
            Value::Number(n) if n.is_i64() => PurgePoint::Time(n.as_i64().unwrap_or_default()),
            _ => return Err(Error::bad_json("purge_up_to_ts must be an int")),
        },
        (None, None) => return Err(Error::bad_json("must specify purge_up_to_event_id or purge_up_to_ts")),
    };
    // A path that is no room ID names a room without events.
    let room = OwnedRoomId::try_from(path.room_id.as_str()).ok();
    let purge_id = jobs::start_purge_history(&arc(&svc), &admin.user_id, room.as_deref(), point, delete_local_events).await?;
    Ok(ok_json(json!({"purge_id": purge_id})))
}

async fn purge_history_status(svc: Svc, _admin: Admin, path: web::Path<String>) -> Result<HttpResponse> {
    let job = jobs::get(&svc, &path)
        .await?
        .filter(|j| j.action == jobs::PURGE_HISTORY)
        .ok_or_else(|| Error::not_found(format!("purge id '{path}' not found")))?;
    let status = if job.status == jobs::COMPLETE || job.status == jobs::FAILED { job.status.as_str() } else { jobs::ACTIVE };
    let mut body = json!({"status": status});
    if let Some(e) = &job.error {
        body["error"] = json!(e);
    }
    Ok(ok_json(body))
}

#[derive(Deserialize)]
struct RedactBody {
    rooms: Vec<String>,
    reason: Option<String>,
    limit: Option<i64>,
    use_admin: Option<bool>,
    before_ts: Option<i64>,
    after_ts: Option<i64>,
}

async fn redact_user(svc: Svc, admin: Admin, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    let user = UserId::parse(path.as_str()).map_err(|_| Error::invalid_param("Expected UserID of the form '@localname:domain'"))?;
    let b: RedactBody = body.parse_nonempty()?;
    // Synapse takes a zero limit as none given.
    let limit = match b.limit {
        Some(n) if n < 0 => return Err(Error::unknown("If limit is provided it must be a non-negative integer greater than 0.")),
        Some(n) if n > 0 => n.min(MAX_LIMIT),
        _ => DEFAULT_LIMIT,
    };
    if b.rooms.len() > MAX_ROOMS {
        return Err(Error::invalid_param(format!("At most {MAX_ROOMS} rooms may be given")));
    }
    let params = UserRedaction {
        admin: admin.user_id.clone(),
        rooms: b.rooms,
        reason: b.reason,
        limit,
        use_admin: b.use_admin.unwrap_or(false),
        after_ts: b.after_ts,
        before_ts: b.before_ts,
    };
    let redact_id = jobs::start_user_redaction(&arc(&svc), &user, params).await?;
    Ok(ok_json(json!({"redact_id": redact_id})))
}

/// Synapse's answer: the failures so far while it runs, all of them once complete, the error of
/// a failed job.
async fn redact_status(svc: Svc, _admin: Admin, path: web::Path<String>) -> Result<HttpResponse> {
    let job = jobs::get(&svc, &path)
        .await?
        .filter(|j| j.action == jobs::REDACT_ALL_EVENTS)
        .ok_or_else(|| Error::not_found(format!("redact id '{path}' not found")))?;
    if job.status == jobs::FAILED {
        return Ok(ok_json(json!({"status": job.status, "error": job.error})));
    }
    let failed = job.result.as_ref().and_then(|r| r.get("failed_redactions")).cloned().unwrap_or_else(|| json!({}));
    Ok(ok_json(json!({"status": job.status, "failed_redactions": failed})))
}

#[derive(Deserialize)]
struct TaskQuery {
    action_name: Option<String>,
    resource_id: Option<String>,
    status: Option<String>,
    job_status: Option<String>,
    max_timestamp: Option<String>,
}

async fn scheduled_tasks(svc: Svc, _admin: Admin, req: HttpRequest) -> Result<HttpResponse> {
    let q: TaskQuery = parse_query(&req)?;
    // `job_status` is the older name of `status`; Synapse reads either.
    let status = match (q.status, q.job_status) {
        (Some(s), _) => Some(("status", s)),
        (None, Some(s)) => Some(("job_status", s)),
        (None, None) => None,
    };
    if let Some((name, s)) = &status
        && !jobs::STATUSES.contains(&s.as_str())
    {
        let names: Vec<String> = jobs::STATUSES.iter().map(|n| format!("'{n}'")).collect();
        return Err(Error::invalid_param(format!("Query parameter '{name}' must be one of [{}]", names.join(", "))));
    }
    let before_ts = match q.max_timestamp {
        None => None,
        Some(t) => Some(t.parse::<i64>().map_err(|_| Error::invalid_param("Query parameter max_timestamp must be an integer"))?),
    };
    let filter = JobFilter {
        actions: q.action_name.filter(|a| !a.is_empty()).map(|a| vec![a]),
        resource_id: q.resource_id,
        statuses: status.filter(|(_, s)| !s.is_empty()).map(|(_, s)| vec![s]),
        before_ts,
    };
    let tasks: Vec<Value> = jobs::list(&svc, filter)
        .await?
        .into_iter()
        .map(|j| {
            json!({
                "id": j.id, "action": j.action, "status": j.status, "timestamp_ms": j.timestamp_ms,
                "resource_id": j.resource_id, "result": j.result, "error": j.error,
            })
        })
        .collect();
    Ok(ok_json(json!({"scheduled_tasks": tasks})))
}
