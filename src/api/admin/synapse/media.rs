//! A user's media: list (newest first) and delete.

use super::users::existing_local_user;
use crate::api::{Svc, ok_json, query, query_i64};
use crate::auth::Admin;
use crate::error::{Error, Result};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(
        cfg,
        vec![("/v1/users/{user_id}/media", web::get().to(list)), ("/v1/users/{user_id}/media", web::delete().to(delete))],
    );
}

/// Most media one page lists (or one call deletes).
const MAX_PAGE: i64 = 1_000;

fn paging(req: &HttpRequest) -> Result<(i64, i64)> {
    let q = query(req);
    let from = query_i64(&q, "from")?.unwrap_or(0);
    let limit = query_i64(&q, "limit")?.unwrap_or(100);
    if from < 0 || limit < 0 {
        return Err(Error::invalid_param("from and limit must not be negative"));
    }
    Ok((from, limit.min(MAX_PAGE)))
}

async fn list(svc: Svc, _admin: Admin, req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse> {
    let user = existing_local_user(&svc, &path).await?;
    let (from, limit) = paging(&req)?;
    let (rows, total) = svc.db.run(move |c| crate::store::media::list_for_user(c, &user.user_id, from, limit)).await?;
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
    let user = existing_local_user(&svc, &path).await?;
    let (from, limit) = paging(&req)?;
    let id = user.user_id.clone();
    let (rows, _) = svc.db.run(move |c| crate::store::media::list_for_user(c, &id, from, limit)).await?;
    let ids: Vec<String> = rows.iter().map(|m| m.media_id.clone()).collect();
    let paths: Vec<_> = ids.iter().map(|i| crate::api::client::media::file_path(&svc, i)).collect();
    let del = ids.clone();
    svc.db.run(move |c| crate::store::media::delete(c, &del)).await?;
    tokio::task::spawn_blocking(move || {
        for p in paths {
            // The thumbnails made of it go too: nothing would serve them, and they hold the image.
            let _ = std::fs::remove_dir_all(crate::store::media::thumbnail_dir(&p));
            let _ = std::fs::remove_file(p);
        }
    })
    .await
    .map_err(|e| Error::internal(e.to_string()))?;
    log::info!("admin {} deleted {} media of {}", admin.user_id, ids.len(), user.user_id);
    Ok(ok_json(json!({"total": ids.len(), "deleted_media": ids})))
}
