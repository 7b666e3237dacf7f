//! Reporting an event, a room or a user to the server's admins.

use crate::api::extractors::Requester;
use crate::api::{Body, Svc, ok_json};
use crate::error::{Error, Result};
use crate::ids::{parse_event_id, parse_room_id, parse_user_id};
use crate::service::reports;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(
        cfg,
        vec![
            ("/rooms/{room_id}/report/{event_id}", web::post().to(report_event)),
            ("/rooms/{room_id}/report", web::post().to(report_room)),
            ("/users/{user_id}/report", web::post().to(report_user)),
        ],
    );
}

#[derive(Deserialize)]
struct EventReportBody {
    // Both optional, but `null` is not a string or an integer.
    #[serde(default, deserialize_with = "crate::api::null_or")]
    reason: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::api::null_or")]
    score: Option<Option<i64>>,
}

async fn report_event(svc: Svc, who: Requester, path: web::Path<(String, String)>, body: Body) -> Result<HttpResponse> {
    let (room, event) = path.into_inner();
    let b: EventReportBody = body.parse_nonempty()?;
    let reason = b.reason.map(|r| r.ok_or_else(|| Error::bad_json("Param 'reason' must be a string"))).transpose()?;
    let score = b.score.map(|s| s.ok_or_else(|| Error::bad_json("Param 'score' must be an integer"))).transpose()?;
    // A malformed ID names nothing there is to see: the same 404 as an unknown one.
    let room_id = parse_room_id(&room).map_err(|_| reports::unreportable_event())?;
    let event_id = parse_event_id(&event).map_err(|_| reports::unreportable_event())?;
    reports::report_event(&svc, &who.0, &room_id, &event_id, reason, score).await?;
    Ok(ok_json(json!({})))
}

#[derive(Deserialize)]
struct ReasonBody {
    reason: String,
}

async fn report_room(svc: Svc, who: Requester, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    let b: ReasonBody = body.parse_nonempty()?;
    let room_id = parse_room_id(&path).map_err(|_| reports::unknown_room())?;
    reports::report_room(&svc, &who.0, &room_id, b.reason).await?;
    Ok(ok_json(json!({})))
}

async fn report_user(svc: Svc, who: Requester, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    let b: ReasonBody = body.parse_nonempty()?;
    // What is no user ID is accepted and dropped like an unknown user.
    reports::report_user(&svc, &who.0, parse_user_id(&path).ok().as_deref(), b.reason).await?;
    Ok(ok_json(json!({})))
}
