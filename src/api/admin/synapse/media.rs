//! Synapse's media admin API: a user's media (list, newest first, and delete), one media's
//! details, quarantine (one, a room's, a user's) and protection from it, deletion (one, or by
//! age and size), the remote cache purge, and users' media statistics. Synapse ignores the
//! bodies of these POSTs, and so do they.

use crate::api::extractors::Admin;
use crate::api::{Svc, ok_json, parse_query};
use crate::error::{Error, Result};
use crate::ids::parse_user_id;
use crate::service::media::{self, MediaOrder, MediaPage};
use crate::service::media_admin::{self, UsageOrder, UsageQuery};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

pub fn configure(cfg: &mut web::ServiceConfig) {
    // Fixed paths before `/v1/media/{server}/{media_id}`, which would match them too.
    crate::api::routes(
        cfg,
        vec![
            ("/v1/users/{user_id}/media", web::get().to(list)),
            ("/v1/users/{user_id}/media", web::delete().to(delete)),
            ("/v1/media/delete", web::post().to(delete_expired)),
            ("/v1/media/quarantine_changes", web::get().to(quarantine_changes)),
            ("/v1/media/quarantine/{server}/{media_id}", web::post().to(quarantine)),
            ("/v1/media/unquarantine/{server}/{media_id}", web::post().to(unquarantine)),
            ("/v1/media/protect/{media_id}", web::post().to(protect)),
            ("/v1/media/unprotect/{media_id}", web::post().to(unprotect)),
            // Synapse's older path for deleting by age and size.
            ("/v1/media/{server}/delete", web::post().to(delete_expired_on)),
            ("/v1/media/{server}/{media_id}", web::get().to(info)),
            ("/v1/media/{server}/{media_id}", web::delete().to(delete_one)),
            ("/v1/room/{room_id}/media", web::get().to(room_media)),
            ("/v1/room/{room_id}/media/quarantine", web::post().to(quarantine_room)),
            // Synapse's deprecated path for the same.
            ("/v1/quarantine_media/{room_id}", web::post().to(quarantine_room)),
            ("/v1/user/{user_id}/media/quarantine", web::post().to(quarantine_user)),
            ("/v1/purge_media_cache", web::post().to(purge_media_cache)),
            ("/v1/statistics/users/media", web::get().to(statistics)),
        ],
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
                "url_cache": null,
                "user_id": m.user_id,
                // Every upload here needs an access token.
                "authenticated": true,
                "sha256": m.sha256,
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

async fn quarantine(svc: Svc, admin: Admin, path: web::Path<(String, String)>) -> Result<HttpResponse> {
    let (server, media_id) = path.into_inner();
    media_admin::quarantine(&svc, &admin.user_id, &server, &media_id).await?;
    Ok(ok_json(json!({})))
}

async fn unquarantine(svc: Svc, admin: Admin, path: web::Path<(String, String)>) -> Result<HttpResponse> {
    let (server, media_id) = path.into_inner();
    media_admin::unquarantine(&svc, &admin.user_id, &server, &media_id).await?;
    Ok(ok_json(json!({})))
}

async fn protect(svc: Svc, _admin: Admin, path: web::Path<String>) -> Result<HttpResponse> {
    media_admin::set_protected(&svc, &path, true).await?;
    Ok(ok_json(json!({})))
}

async fn unprotect(svc: Svc, _admin: Admin, path: web::Path<String>) -> Result<HttpResponse> {
    media_admin::set_protected(&svc, &path, false).await?;
    Ok(ok_json(json!({})))
}

#[derive(Deserialize)]
struct ChangesQuery {
    from: Option<i64>,
}

/// Synapse's `{"next_batch", "changes": [{origin, media_id, quarantined}]}`, oldest first.
async fn quarantine_changes(svc: Svc, _admin: Admin, req: HttpRequest) -> Result<HttpResponse> {
    let q: ChangesQuery = parse_query(&req)?;
    let from = q.from.unwrap_or(0);
    if from < 0 {
        return Err(Error::invalid_param("Query parameter from must be a positive integer."));
    }
    let (changes, next) = media_admin::quarantine_changes(&svc, from).await?;
    let changes: Vec<Value> = changes
        .into_iter()
        .map(|(origin, media_id, quarantined)| json!({"origin": origin, "media_id": media_id, "quarantined": quarantined}))
        .collect();
    Ok(ok_json(json!({"next_batch": next, "changes": changes})))
}

async fn quarantine_user(svc: Svc, admin: Admin, path: web::Path<String>) -> Result<HttpResponse> {
    let n = media_admin::quarantine_user(&svc, &admin.user_id, &path).await?;
    Ok(ok_json(json!({"num_quarantined": n})))
}

async fn room_media(svc: Svc, _admin: Admin, path: web::Path<String>) -> Result<HttpResponse> {
    let (local, remote) = media_admin::room_media(&svc, &path).await?;
    Ok(ok_json(json!({"local": local, "remote": remote})))
}

async fn quarantine_room(svc: Svc, admin: Admin, path: web::Path<String>) -> Result<HttpResponse> {
    let n = media_admin::quarantine_room(&svc, &admin.user_id, &path).await?;
    Ok(ok_json(json!({"num_quarantined": n})))
}

async fn info(svc: Svc, _admin: Admin, path: web::Path<(String, String)>) -> Result<HttpResponse> {
    let (server, media_id) = path.into_inner();
    let m = media_admin::info(&svc, &server, &media_id).await?;
    Ok(ok_json(json!({"media_info": {
        "media_origin": null,
        "user_id": m.user_id,
        "media_id": m.media_id,
        "media_type": m.media_type,
        "media_length": m.media_length,
        "upload_name": m.upload_name,
        "created_ts": m.created_ts,
        "filesystem_id": null,
        "url_cache": null,
        "last_access_ts": m.last_access_ts,
        "quarantined_by": m.quarantined_by,
        "authenticated": true,
        "safe_from_quarantine": m.safe_from_quarantine,
        "sha256": m.sha256,
    }})))
}

fn deleted(ids: Vec<String>) -> HttpResponse {
    ok_json(json!({"total": ids.len(), "deleted_media": ids}))
}

async fn delete_one(svc: Svc, admin: Admin, path: web::Path<(String, String)>) -> Result<HttpResponse> {
    let (server, media_id) = path.into_inner();
    Ok(deleted(media_admin::delete_one(&svc, &admin.user_id, &server, &media_id).await?))
}

#[derive(Deserialize)]
struct ExpiredQuery {
    before_ts: i64,
    size_gt: Option<i64>,
    keep_profiles: Option<bool>,
}

async fn delete_expired(svc: Svc, admin: Admin, req: HttpRequest) -> Result<HttpResponse> {
    let q: ExpiredQuery = parse_query(&req)?;
    let ids =
        media_admin::delete_expired(&svc, &admin.user_id, q.before_ts, q.size_gt.unwrap_or(0), q.keep_profiles.unwrap_or(true)).await?;
    Ok(deleted(ids))
}

async fn delete_expired_on(svc: Svc, admin: Admin, req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse> {
    if path.as_str() != svc.server_name() {
        return Err(Error::unknown("Can only delete local media"));
    }
    delete_expired(svc, admin, req).await
}

#[derive(Deserialize)]
struct PurgeQuery {
    before_ts: i64,
}

async fn purge_media_cache(_admin: Admin, req: HttpRequest) -> Result<HttpResponse> {
    let q: PurgeQuery = parse_query(&req)?;
    Ok(ok_json(json!({"deleted": media_admin::purge_remote_cache(q.before_ts)?})))
}

#[derive(Deserialize)]
struct StatisticsQuery {
    from: Option<i64>,
    limit: Option<i64>,
    from_ts: Option<i64>,
    until_ts: Option<i64>,
    order_by: Option<String>,
    dir: Option<String>,
    search_term: Option<String>,
}

async fn statistics(svc: Svc, _admin: Admin, req: HttpRequest) -> Result<HttpResponse> {
    let q: StatisticsQuery = parse_query(&req)?;
    let order = match q.order_by.as_deref() {
        None => UsageOrder::UserId,
        Some(name) => UsageOrder::parse(name).ok_or_else(|| {
            Error::invalid_param("Query parameter 'order_by' must be one of ['media_length', 'media_count', 'user_id', 'displayname']")
        })?,
    };
    let descending = match q.dir.as_deref() {
        None | Some("f") => false,
        Some("b") => true,
        Some(_) => return Err(Error::invalid_param("Query parameter 'dir' must be one of ['b', 'f']")),
    };
    let from = q.from.unwrap_or(0);
    let query = UsageQuery {
        from,
        limit: q.limit.unwrap_or(100),
        from_ts: q.from_ts.unwrap_or(0),
        until_ts: q.until_ts,
        search_term: q.search_term,
        order,
        descending,
    };
    let (rows, total) = media_admin::usage(&svc, query).await?;
    let users: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "user_id": r.user_id,
                "displayname": r.displayname,
                "media_count": r.media_count,
                "media_length": r.media_length,
            })
        })
        .collect();
    let mut body = json!({"total": total});
    // Another page while this one ends before the total (an empty page offers none).
    let next = from.saturating_add(users.len() as i64);
    if !users.is_empty() && next < total {
        body["next_token"] = json!(next);
    }
    body["users"] = json!(users);
    Ok(ok_json(body))
}
