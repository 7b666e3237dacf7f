//! The media repository: upload (direct, or create then upload), download (authenticated and
//! legacy), thumbnails, and config: the HTTP side (headers, streaming) of `service::media`.

use crate::api::extractors::Requester;
use crate::api::{Svc, ok_json, parse_query};
use crate::error::{Error, Result};
use crate::service::media::{self, Download, Quarantined, ThumbnailSize, Upload};
use actix_web::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use actix_web::web;
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;
use std::fs::File;
use std::io::Read;

/// Routes under `/_matrix/media/{v3,r0,v1}`.
pub fn configure_legacy(cfg: &mut web::ServiceConfig) {
    crate::api::routes(
        cfg,
        vec![
            ("/upload", web::post().to(upload)),
            ("/upload/{server}/{media_id}", web::put().to(upload_to)),
            ("/download/{server}/{media_id}", web::get().to(download_legacy)),
            // An empty file name after the slash is no file name (as Synapse).
            ("/download/{server}/{media_id}/", web::get().to(download_legacy)),
            ("/download/{server}/{media_id}/{file_name}", web::get().to(download_legacy_named)),
            ("/thumbnail/{server}/{media_id}", web::get().to(thumbnail_legacy)),
            ("/config", web::get().to(config)),
        ],
    );
}

/// Routes under `/_matrix/media/v1` (create, and the legacy routes, which Synapse serves there
/// too) and `/_matrix/client/v1/media` (authenticated).
pub fn configure_v1(cfg: &mut web::ServiceConfig) {
    cfg.service(web::scope("/_matrix/media/v1").configure(|c| {
        crate::api::routes(c, vec![("/create", web::post().to(create))]);
        configure_legacy(c);
    }));
    cfg.service(web::scope("/_matrix/client/v1/media").configure(|c| {
        crate::api::routes(
            c,
            vec![
                ("/download/{server}/{media_id}", web::get().to(download)),
                ("/download/{server}/{media_id}/", web::get().to(download)),
                ("/download/{server}/{media_id}/{file_name}", web::get().to(download_named)),
                ("/thumbnail/{server}/{media_id}", web::get().to(thumbnail)),
                ("/config", web::get().to(config_auth)),
            ],
        )
    }));
}

fn content_type(req: &HttpRequest) -> Option<String> {
    req.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

#[derive(Deserialize)]
struct UploadQuery {
    filename: Option<String>,
}

/// The upload a request carries: its body as it streams in, and its headers.
fn incoming(req: &HttpRequest, payload: web::Payload) -> Result<Upload<web::Payload>> {
    let content_length = req.headers().get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    let q: UploadQuery = parse_query(req)?;
    Ok(Upload { body: payload, content_length, content_type: content_type(req), filename: q.filename })
}

async fn upload(svc: Svc, who: Requester, req: HttpRequest, payload: web::Payload) -> Result<HttpResponse> {
    let uri = media::upload(&svc, &who.user_id, incoming(&req, payload)?).await?;
    Ok(ok_json(json!({"content_uri": uri})))
}

async fn create(svc: Svc, who: Requester) -> Result<HttpResponse> {
    let (uri, expires) = media::create(&svc, &who.user_id).await?;
    Ok(ok_json(json!({"content_uri": uri, "unused_expires_at": expires})))
}

async fn upload_to(
    svc: Svc,
    who: Requester,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse> {
    let (server, media_id) = path.into_inner();
    media::upload_to(&svc, &who.user_id, &server, &media_id, incoming(&req, payload)?).await?;
    Ok(ok_json(json!({})))
}

/// Bytes per read when streaming a file out.
const CHUNK: usize = 256 * 1024;

/// The file's bytes a chunk at a time, each read on the blocking pool: a download holds one
/// chunk in memory, not the file.
fn file_stream(file: File) -> impl futures_util::Stream<Item = std::io::Result<web::Bytes>> {
    futures_util::stream::try_unfold(file, |mut f| async move {
        let (f, chunk) = tokio::task::spawn_blocking(move || {
            let mut buf = vec![0; CHUNK];
            let n = f.read(&mut buf)?;
            buf.truncate(n);
            Ok::<_, std::io::Error>((f, buf))
        })
        .await
        .map_err(std::io::Error::other)??;
        Ok((!chunk.is_empty()).then(|| (web::Bytes::from(chunk), f)))
    })
}

/// RFC 5987 attr-chars stay as they are in `filename*`.
const ATTR: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// Media types a browser may show inline (Synapse's list); anything else downloads as an
/// attachment, so an uploaded page or SVG never runs in the server's origin.
const INLINE_TYPES: &[&str] = &[
    "text/css",
    "text/plain",
    "text/csv",
    "application/json",
    "application/ld+json",
    "image/jpeg",
    "image/gif",
    "image/png",
    "image/apng",
    "image/webp",
    "image/avif",
    "video/mp4",
    "video/webm",
    "video/ogg",
    "video/quicktime",
    "audio/mp4",
    "audio/webm",
    "audio/aac",
    "audio/mpeg",
    "audio/ogg",
    "audio/wave",
    "audio/wav",
    "audio/x-wav",
    "audio/x-pn-wav",
    "audio/flac",
    "audio/x-flac",
];

/// Streams `file` with the headers of a media download: its type, disposition, and a sandbox
/// with no sniffing so a browser renders it as nothing but what it claims to be.
fn serve(d: Download, name: Option<&str>) -> HttpResponse {
    let Download { media: row, content_type, file, len } = d;
    let ct = content_type.or_else(|| row.media_type.clone()).unwrap_or_else(|| "application/octet-stream".into());
    let essence = ct.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let inline = INLINE_TYPES.contains(&essence.as_str());
    let mut res = HttpResponse::Ok();
    res.insert_header((CONTENT_TYPE, ct));
    let name = name.map(str::to_owned).or_else(|| row.upload_name.clone());
    let disposition = match name {
        Some(n) => format!(
            "{}; filename*=utf-8''{}",
            if inline { "inline" } else { "attachment" },
            percent_encoding::utf8_percent_encode(&n, ATTR)
        ),
        None => (if inline { "inline" } else { "attachment" }).to_owned(),
    };
    res.insert_header((CONTENT_DISPOSITION, disposition));
    res.insert_header(("Cross-Origin-Resource-Policy", "cross-origin"));
    res.insert_header(("Content-Security-Policy", "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; style-src 'unsafe-inline'; media-src 'self'; object-src 'self';"));
    res.insert_header(("X-Content-Security-Policy", "sandbox;"));
    res.insert_header(("X-Content-Type-Options", "nosniff"));
    res.no_chunking(len);
    res.streaming(file_stream(file))
}

#[derive(Deserialize)]
struct DownloadQuery {
    admin_unsafely_bypass_quarantine: Option<bool>,
}

/// Quarantined media is served only to an admin who says so (Synapse's parameter); anyone
/// else asking is refused as if it were not there.
fn quarantine_rule(req: &HttpRequest, who: &Requester) -> Result<Quarantined> {
    let q: DownloadQuery = parse_query(req)?;
    Ok(if q.admin_unsafely_bypass_quarantine == Some(true) && who.is_server_admin() { Quarantined::Serve } else { Quarantined::Refuse })
}

async fn download(svc: Svc, who: Requester, req: HttpRequest, path: web::Path<(String, String)>) -> Result<HttpResponse> {
    let (server, id) = path.into_inner();
    Ok(serve(media::download(&svc, &server, &id, quarantine_rule(&req, &who)?).await?, None))
}

async fn download_named(svc: Svc, who: Requester, req: HttpRequest, path: web::Path<(String, String, String)>) -> Result<HttpResponse> {
    let (server, id, name) = path.into_inner();
    Ok(serve(media::download(&svc, &server, &id, quarantine_rule(&req, &who)?).await?, Some(&name)))
}

async fn download_legacy(svc: Svc, path: web::Path<(String, String)>) -> Result<HttpResponse> {
    let (server, id) = path.into_inner();
    Ok(serve(media::download(&svc, &server, &id, Quarantined::Refuse).await?, None))
}

async fn download_legacy_named(svc: Svc, path: web::Path<(String, String, String)>) -> Result<HttpResponse> {
    let (server, id, name) = path.into_inner();
    Ok(serve(media::download(&svc, &server, &id, Quarantined::Refuse).await?, Some(&name)))
}

#[derive(Deserialize)]
struct ThumbnailQuery {
    width: i64,
    height: i64,
    method: Option<String>,
}

async fn thumbnail_of(svc: Svc, req: HttpRequest, server: String, id: String) -> Result<HttpResponse> {
    let q: ThumbnailQuery = parse_query(&req)?;
    let crop = match q.method.as_deref() {
        None | Some("scale") => false,
        Some("crop") => true,
        Some(_) => return Err(Error::invalid_param("method must be crop or scale")),
    };
    let size = ThumbnailSize { width: q.width, height: q.height, crop };
    Ok(serve(media::thumbnail(&svc, &server, &id, size).await?, None))
}

async fn thumbnail(svc: Svc, _who: Requester, req: HttpRequest, path: web::Path<(String, String)>) -> Result<HttpResponse> {
    let (server, id) = path.into_inner();
    thumbnail_of(svc, req, server, id).await
}

async fn thumbnail_legacy(svc: Svc, req: HttpRequest, path: web::Path<(String, String)>) -> Result<HttpResponse> {
    let (server, id) = path.into_inner();
    thumbnail_of(svc, req, server, id).await
}

async fn config(svc: Svc) -> HttpResponse {
    ok_json(json!({"m.upload.size": svc.config.max_upload_bytes}))
}

async fn config_auth(svc: Svc, _who: Requester) -> HttpResponse {
    ok_json(json!({"m.upload.size": svc.config.max_upload_bytes}))
}
