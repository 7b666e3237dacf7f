//! A user's media: list (newest first) and delete.

use crate::api::extractors::Admin;
use crate::api::{Svc, ok_json, parse_query};
use crate::error::{Error, Result};
use crate::ids::parse_user_id;
use crate::service::media::{self, MediaOrder, MediaPage};
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
    order_by: Option<String>,
    dir: Option<String>,
}

/// The page asked for: newest first when neither `order_by` nor `dir` is given, else by
/// `order_by` (default `created_ts`) in `dir` (default forwards), as Synapse.
fn paging(req: &HttpRequest) -> Result<MediaPage> {
    let q: Paging = parse_query(req)?;
    let (order, descending) = if q.order_by.is_none() && q.dir.is_none() {
        (MediaOrder::CreatedTs, true)
    } else {
        let order = match q.order_by.as_deref() {
            None => MediaOrder::CreatedTs,
            Some(name) => MediaOrder::parse(name).ok_or_else(|| Error::invalid_param(format!("Unknown order_by: {name}")))?,
        };
        let descending = match q.dir.as_deref() {
            None | Some("f") => false,
            Some("b") => true,
            Some(_) => return Err(Error::invalid_param("dir must be f or b")),
        };
        (order, descending)
    };
    Ok(MediaPage { from: q.from.unwrap_or(0), limit: q.limit.unwrap_or(100), order, descending })
}

async fn list(svc: Svc, _admin: Admin, req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse> {
    let target = parse_user_id(&path)?;
    let page = paging(&req)?;
    let from = page.from;
    let (rows, total) = media::list_for_user(&svc, &target, page).await?;
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
    let ids = media::delete_for_user(&svc, &admin.user_id, &target, paging(&req)?).await?;
    Ok(ok_json(json!({"total": ids.len(), "deleted_media": ids})))
}
