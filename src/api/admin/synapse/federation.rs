//! Synapse's federation destinations admin API.

use crate::api::extractors::Admin;
use crate::api::{Svc, ok_json, parse_query};
use crate::error::{Error, Result};
use crate::service::federation_destinations::{self as destinations, ListQuery};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(
        cfg,
        vec![
            ("/v1/federation/destinations", web::get().to(list)),
            ("/v1/federation/destinations/{destination}", web::get().to(one)),
            ("/v1/federation/destinations/{destination}/rooms", web::get().to(rooms)),
            ("/v1/federation/destinations/{destination}/reset_connection", web::post().to(reset_connection)),
        ],
    );
}

#[derive(Deserialize)]
struct ListParams {
    from: Option<i64>,
    limit: Option<i64>,
    destination: Option<String>,
    order_by: Option<String>,
    dir: Option<String>,
}

fn descending(dir: Option<&str>) -> Result<bool> {
    match dir {
        None | Some("f") => Ok(false),
        Some("b") => Ok(true),
        Some(_) => Err(Error::invalid_param("Query parameter 'dir' must be one of ['b', 'f']")),
    }
}

async fn list(svc: Svc, _admin: Admin, req: HttpRequest) -> Result<HttpResponse> {
    let q: ListParams = parse_query(&req)?;
    let query = ListQuery {
        from: q.from.unwrap_or(0),
        limit: q.limit.unwrap_or(100),
        destination: q.destination,
        order_by: q.order_by.unwrap_or_else(|| "destination".into()),
        descending: descending(q.dir.as_deref())?,
    };
    Ok(ok_json(json!(destinations::list(&svc, query)?)))
}

async fn one(svc: Svc, _admin: Admin, path: web::Path<String>) -> Result<HttpResponse> {
    Ok(ok_json(json!(destinations::get(&svc, &path)?)))
}

#[derive(Deserialize)]
struct RoomParams {
    from: Option<i64>,
    limit: Option<i64>,
    dir: Option<String>,
}

async fn rooms(svc: Svc, _admin: Admin, path: web::Path<String>, req: HttpRequest) -> Result<HttpResponse> {
    let q: RoomParams = parse_query(&req)?;
    descending(q.dir.as_deref())?;
    Ok(ok_json(json!(destinations::rooms(&svc, &path, q.from.unwrap_or(0), q.limit.unwrap_or(100))?)))
}

async fn reset_connection(svc: Svc, admin: Admin, path: web::Path<String>) -> Result<HttpResponse> {
    destinations::reset_connection(&svc, &admin.user_id, &path)?;
    Ok(ok_json(json!({})))
}
