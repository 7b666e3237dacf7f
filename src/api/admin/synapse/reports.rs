//! Reported events and users (list, one, delete) and any event fetched whole, as Synapse's
//! admin API serves them.

use crate::api::extractors::Admin;
use crate::api::{Svc, ok_json, parse_query};
use crate::error::{Error, Result};
use crate::ids::parse_event_id;
use crate::service::reports::{self, Listed, ReportQuery};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::json;

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(
        cfg,
        vec![
            ("/v1/event_reports", web::get().to(list_event_reports)),
            ("/v1/event_reports/{id}", web::get().to(event_report)),
            ("/v1/event_reports/{id}", web::delete().to(delete_event_report)),
            ("/v1/user_reports", web::get().to(list_user_reports)),
            ("/v1/user_reports/{id}", web::get().to(user_report)),
            ("/v1/user_reports/{id}", web::delete().to(delete_user_report)),
            ("/v1/fetch_event/{event_id}", web::get().to(fetch_event)),
        ],
    );
}

#[derive(Deserialize)]
struct ListParams {
    from: Option<i64>,
    limit: Option<i64>,
    dir: Option<String>,
    user_id: Option<String>,
    room_id: Option<String>,
    event_sender_user_id: Option<String>,
    target_user_id: Option<String>,
}

/// The list's query: newest first unless `dir=f`; empty filters filter nothing (as Synapse).
fn list_query(req: &HttpRequest) -> Result<ReportQuery> {
    let q: ListParams = parse_query(req)?;
    let newest_first = match q.dir.as_deref() {
        None | Some("b") => true,
        Some("f") => false,
        Some(_) => return Err(Error::invalid_param("Query parameter 'dir' must be one of ['b', 'f']")),
    };
    let given = |v: Option<String>| v.filter(|s| !s.is_empty());
    Ok(ReportQuery {
        from: q.from.unwrap_or(0),
        limit: q.limit.unwrap_or(100),
        newest_first,
        user_id: given(q.user_id),
        room_id: given(q.room_id),
        target_user_id: given(q.target_user_id),
        event_sender: given(q.event_sender_user_id),
    })
}

fn listed<T: Serialize>(key: &str, l: Listed<T>) -> HttpResponse {
    let mut body = json!({"total": l.total});
    body[key] = json!(l.reports);
    if let Some(next) = l.next_token {
        body["next_token"] = json!(next);
    }
    ok_json(body)
}

/// A report ID from the path: a non-negative integer, else 400.
fn report_id(path: &str) -> Result<i64> {
    path.parse::<i64>()
        .ok()
        .filter(|id| *id >= 0)
        .ok_or_else(|| Error::invalid_param("The report_id parameter must be a string representing a positive integer."))
}

async fn list_event_reports(svc: Svc, _admin: Admin, req: HttpRequest) -> Result<HttpResponse> {
    Ok(listed("event_reports", reports::list_event_reports(&svc, list_query(&req)?).await?))
}

async fn event_report(svc: Svc, _admin: Admin, path: web::Path<String>) -> Result<HttpResponse> {
    let (report, event_json) = reports::event_report(&svc, report_id(&path)?).await?;
    let mut body = json!(report);
    body["event_json"] = event_json;
    Ok(ok_json(body))
}

async fn delete_event_report(svc: Svc, admin: Admin, path: web::Path<String>) -> Result<HttpResponse> {
    reports::delete_event_report(&svc, &admin.user_id, report_id(&path)?).await?;
    Ok(ok_json(json!({})))
}

async fn list_user_reports(svc: Svc, _admin: Admin, req: HttpRequest) -> Result<HttpResponse> {
    Ok(listed("user_reports", reports::list_user_reports(&svc, list_query(&req)?).await?))
}

async fn user_report(svc: Svc, _admin: Admin, path: web::Path<String>) -> Result<HttpResponse> {
    Ok(ok_json(json!(reports::user_report(&svc, report_id(&path)?).await?)))
}

async fn delete_user_report(svc: Svc, admin: Admin, path: web::Path<String>) -> Result<HttpResponse> {
    reports::delete_user_report(&svc, &admin.user_id, report_id(&path)?).await?;
    Ok(ok_json(json!({})))
}

async fn fetch_event(svc: Svc, _admin: Admin, path: web::Path<String>) -> Result<HttpResponse> {
    let event = reports::fetch_event(&svc, &parse_event_id(&path)?).await?;
    Ok(ok_json(json!({"event": event})))
}
