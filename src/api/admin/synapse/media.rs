//! A user's media: list (newest first) and delete.

use crate::api::extractors::Admin;
use crate::api::{Svc, ok_json, parse_query};
use crate::error::Result;
use crate::ids::parse_user_id;
use crate::service::media;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(
        cfg,
        vec![("/v1/users/{user_id}/media", web::get().to(list)), ("/v1/users/{user_id}/media", web::delete().to(delete))],
    );
}

#[derive(Deserialize)]
struct Paging {
    from: Option<i64>,
    limit: Option<i64>,
}

fn paging(req: &HttpRequest) -> Result<(i64, i64)> {
    let q: Paging = parse_query(req)?;
    Ok((q.from.unwrap_or(0), q.limit.unwrap_or(100)))
}

async fn list(svc: Svc, _admin: Admin, req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse> {
    let target = parse_user_id(&path)?;
    let (from, limit) = paging(&req)?;
    let (rows, total) = media::list_for_user(&svc, &target, from, limit).await?;
    let media: Vec<_> = rows
        .iter()
        .map(|m| {
            json!({
                "created_ts": m.created_ts,
                "last_access_ts": m.last_access_ts,
                "media_id": m.media_id,
                "media_length": m.media_length,
                "media_type": m.media_type,
                "quarantined_by": m.quarantined_by,
                "safe_from_quarantine": m.safe_from_quarantine,
                "upload_name": m.upload_name,
            })
        })
        .collect();
    let mut body = json!({"total": total});
    // `from` is the client's: it may be near i64::MAX.
    let next = from.saturating_add(media.len() as i64);
    if next < total {
        body["next_token"] = json!(next);
    }
    body["media"] = json!(media);
    Ok(ok_json(body))
}

async fn delete(svc: Svc, admin: Admin, req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse> {
    let target = parse_user_id(&path)?;
    let (from, limit) = paging(&req)?;
    let ids = media::delete_for_user(&svc, &admin.user_id, &target, from, limit).await?;
    Ok(ok_json(json!({"total": ids.len(), "deleted_media": ids})))
}
