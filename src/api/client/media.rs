//! The media repository: upload (direct, or create then upload), download (authenticated and
//! legacy), thumbnails (scaled PNG/JPEG, the original otherwise), and config.
//! Bytes live under `<data_dir>/media`, metadata in the `media` table.

use crate::api::{Svc, ok_json, query, query_i64};
use crate::auth::Requester;
use crate::error::{Error, Result};
use crate::store::media::{self as store, Media};
use actix_web::dev::Payload;
use actix_web::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use actix_web::web;
use actix_web::{HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde_json::json;
use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::Semaphore;

/// Routes under `/_matrix/media/{v3,r0}`.
pub fn configure_legacy(cfg: &mut web::ServiceConfig) {
    crate::api::routes(
        cfg,
        vec![
            ("/upload", web::post().to(upload)),
            ("/upload/{server}/{media_id}", web::put().to(upload_to)),
            ("/download/{server}/{media_id}", web::get().to(download_legacy)),
            ("/download/{server}/{media_id}/{file_name}", web::get().to(download_legacy_named)),
            ("/thumbnail/{server}/{media_id}", web::get().to(thumbnail_legacy)),
            ("/config", web::get().to(config)),
        ],
    );
}

/// Routes under `/_matrix/media/v1` (create) and `/_matrix/client/v1/media` (authenticated).
pub fn configure_v1(cfg: &mut web::ServiceConfig) {
    crate::api::routes(cfg, vec![("/_matrix/media/v1/create", web::post().to(create))]);
    cfg.service(web::scope("/_matrix/client/v1/media").configure(|c| {
        crate::api::routes(
            c,
            vec![
                ("/download/{server}/{media_id}", web::get().to(download)),
                ("/download/{server}/{media_id}/{file_name}", web::get().to(download_named)),
                ("/thumbnail/{server}/{media_id}", web::get().to(thumbnail)),
                ("/config", web::get().to(config_auth)),
            ],
        )
    }));
}

pub fn file_path(svc: &Svc, media_id: &str) -> PathBuf {
    let shard = media_id.get(..2).unwrap_or("00");
    svc.config.data_dir.join("media").join(shard).join(media_id)
}

fn valid_media_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 255 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// What the receiving side hands the file writer.
enum UploadChunk {
    Data(web::Bytes),
    /// The whole body arrived within the limit: keep the file.
    Complete,
}

/// Streams a raw request body into the media file, refusing it past the upload limit; answers
/// its length. Only a few chunks are in memory at a time however large the upload, and the file
/// appears (durably) only once the body is complete.
async fn store_upload(svc: &Svc, req: &HttpRequest, mut payload: Payload, media_id: &str) -> Result<i64> {
    let limit = svc.config.max_upload_bytes;
    let too_large = || Error::too_large("Upload is larger than the configured limit");
    if let Some(len) = req.headers().get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok())
        && len > limit
    {
        return Err(too_large());
    }
    let path = file_path(svc, media_id);
    // A name of its own: two uploads to one media ID never write into the same file.
    let tmp = path.with_extension(format!("tmp-{}", crate::ids::random_alnum(8)));
    let (tx, mut rx) = tokio::sync::mpsc::channel::<UploadChunk>(4);
    let writer = tokio::task::spawn_blocking(move || -> std::io::Result<bool> {
        use std::io::Write;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut file = File::create(&tmp)?;
        let written = (|| {
            while let Some(chunk) = rx.blocking_recv() {
                match chunk {
                    UploadChunk::Data(bytes) => file.write_all(&bytes)?,
                    UploadChunk::Complete => {
                        file.sync_all()?;
                        std::fs::rename(&tmp, &path)?;
                        return Ok(true);
                    }
                }
            }
            Ok(false)
        })();
        if !matches!(written, Ok(true)) {
            let _ = std::fs::remove_file(&tmp);
        }
        written
    });
    let mut total = 0usize;
    let received: Result<()> = async {
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|e| Error::unknown(format!("Reading upload: {e}")))?;
            total += chunk.len();
            if total > limit {
                return Err(too_large());
            }
            if tx.send(UploadChunk::Data(chunk)).await.is_err() {
                // The writer stopped on an error: it is reported below.
                return Ok(());
            }
        }
        let _ = tx.send(UploadChunk::Complete).await;
        Ok(())
    }
    .await;
    drop(tx);
    let stored = writer.await.map_err(|e| Error::internal(e.to_string()))?;
    received?;
    match stored {
        Ok(true) => Ok(total as i64),
        Ok(false) => Err(Error::internal("storing media: the upload was not completed")),
        Err(e) => Err(Error::internal(format!("storing media: {e}"))),
    }
}

fn content_type(req: &HttpRequest) -> Option<String> {
    req.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

async fn upload(svc: Svc, who: Requester, req: HttpRequest, payload: web::Payload) -> Result<HttpResponse> {
    let media_id = crate::ids::random_alnum(24);
    let len = store_upload(&svc, &req, payload.into_inner(), &media_id).await?;
    let row = Media {
        media_id: media_id.clone(),
        user_id: who.user_id.to_string(),
        media_type: content_type(&req),
        media_length: len,
        upload_name: query(&req).get("filename").cloned(),
        created_ts: crate::ids::now_ms(),
        last_access_ts: None,
        quarantined_by: None,
        safe_from_quarantine: false,
        uploaded: true,
        unused_expires_at: None,
    };
    svc.db.run(move |c| store::insert(c, &row)).await?;
    Ok(ok_json(json!({"content_uri": format!("mxc://{}/{media_id}", svc.server_name())})))
}

async fn create(svc: Svc, who: Requester) -> Result<HttpResponse> {
    let media_id = crate::ids::random_alnum(24);
    let expires = crate::ids::now_ms() + 24 * 3600 * 1000;
    let row = Media {
        media_id: media_id.clone(),
        user_id: who.user_id.to_string(),
        media_type: None,
        media_length: 0,
        upload_name: None,
        created_ts: crate::ids::now_ms(),
        last_access_ts: None,
        quarantined_by: None,
        safe_from_quarantine: false,
        uploaded: false,
        unused_expires_at: Some(expires),
    };
    svc.db.run(move |c| store::insert(c, &row)).await?;
    Ok(ok_json(json!({"content_uri": format!("mxc://{}/{media_id}", svc.server_name()), "unused_expires_at": expires})))
}

async fn upload_to(
    svc: Svc,
    who: Requester,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse> {
    let (server, media_id) = path.into_inner();
    if server != svc.server_name() || !valid_media_id(&media_id) {
        return Err(Error::not_found("Unknown media"));
    }
    let id = media_id.clone();
    let row = svc.db.run(move |c| store::find(c, &id)).await?.ok_or_else(|| Error::not_found("Unknown media"))?;
    if row.user_id != who.user_id.as_str() {
        return Err(Error::forbidden("This media ID was created by another user"));
    }
    if row.uploaded {
        return Err(Error::new(crate::error::ErrorKind::CannotOverwriteMedia, "Media already uploaded"));
    }
    let len = store_upload(&svc, &req, payload.into_inner(), &media_id).await?;
    let (ct, name) = (content_type(&req), query(&req).get("filename").cloned());
    svc.db.run(move |c| store::complete(c, &media_id, ct.as_deref(), len, name.as_deref())).await?;
    Ok(ok_json(json!({})))
}

/// The stored media's row and file, or 404; records the access.
async fn fetch(svc: &Svc, server: &str, media_id: &str) -> Result<(Media, PathBuf)> {
    if server != svc.server_name() || !valid_media_id(media_id) {
        return Err(Error::not_found("Media not found"));
    }
    let id = media_id.to_owned();
    let row = svc.db.run(move |c| store::find(c, &id)).await?;
    let row = row.filter(|m| m.uploaded && m.quarantined_by.is_none()).ok_or_else(|| Error::not_found("Media not found"))?;
    let id = media_id.to_owned();
    svc.db.run(move |c| store::touch(c, &id, crate::ids::now_ms())).await?;
    Ok((row, file_path(svc, media_id)))
}

/// Bytes per read when streaming a file out.
const CHUNK: usize = 256 * 1024;

/// Opens a file for streaming: the file and its length, or `None` if it is not there.
async fn open(path: PathBuf) -> Result<Option<(File, u64)>> {
    tokio::task::spawn_blocking(move || match File::open(&path) {
        Ok(f) => Ok(Some((f.metadata()?.len(), f))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    })
    .await
    .map_err(|e| Error::internal(e.to_string()))?
    .map(|o| o.map(|(len, f)| (f, len)))
    .map_err(|e| Error::internal(format!("reading media: {e}")))
}

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
fn serve(row: &Media, content_type: Option<&str>, (file, len): (File, u64), name: Option<&str>) -> HttpResponse {
    let ct = content_type.map(str::to_owned).or_else(|| row.media_type.clone()).unwrap_or_else(|| "application/octet-stream".into());
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

/// The original media file, streamed.
async fn serve_original(row: &Media, path: PathBuf, name: Option<&str>) -> Result<HttpResponse> {
    let file = open(path).await?.ok_or_else(|| Error::not_found("Media not found"))?;
    Ok(serve(row, None, file, name))
}

async fn download(svc: Svc, _who: Requester, path: web::Path<(String, String)>) -> Result<HttpResponse> {
    let (server, id) = path.into_inner();
    let (row, file) = fetch(&svc, &server, &id).await?;
    serve_original(&row, file, None).await
}

async fn download_named(svc: Svc, _who: Requester, path: web::Path<(String, String, String)>) -> Result<HttpResponse> {
    let (server, id, name) = path.into_inner();
    let (row, file) = fetch(&svc, &server, &id).await?;
    serve_original(&row, file, Some(&name)).await
}

async fn download_legacy(svc: Svc, path: web::Path<(String, String)>) -> Result<HttpResponse> {
    let (server, id) = path.into_inner();
    let (row, file) = fetch(&svc, &server, &id).await?;
    serve_original(&row, file, None).await
}

async fn download_legacy_named(svc: Svc, path: web::Path<(String, String, String)>) -> Result<HttpResponse> {
    let (server, id, name) = path.into_inner();
    let (row, file) = fetch(&svc, &server, &id).await?;
    serve_original(&row, file, Some(&name)).await
}

/// Decodes at once at most one image per core, whatever the number of requests. A permit
/// travels with the decode onto the blocking pool, so a client that hangs up does not free it.
fn decode_slots() -> Arc<Semaphore> {
    static SLOTS: OnceLock<Arc<Semaphore>> = OnceLock::new();
    SLOTS.get_or_init(|| Arc::new(Semaphore::new(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)))).clone()
}

type MakingLocks = Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>;

/// One lock per thumbnail being made, so concurrent requests for the same one wait for the
/// first to write it instead of each decoding the image.
fn making() -> &'static MakingLocks {
    static MAKING: OnceLock<MakingLocks> = OnceLock::new();
    MAKING.get_or_init(Mutex::default)
}

/// A request's share of a thumbnail's lock; the last one out (even a cancelled request)
/// removes it from the map.
struct Making {
    path: PathBuf,
    lock: Arc<tokio::sync::Mutex<()>>,
}

impl Making {
    fn enter(path: PathBuf) -> Self {
        let lock = making().lock().unwrap_or_else(|p| p.into_inner()).entry(path.clone()).or_default().clone();
        Self { path, lock }
    }
}

impl Drop for Making {
    fn drop(&mut self) {
        let mut locks = making().lock().unwrap_or_else(|p| p.into_inner());
        // The map holds one reference and this request another: nobody else is waiting.
        if Arc::strong_count(&self.lock) <= 2 {
            locks.remove(&self.path);
        }
    }
}

/// Serves a thumbnail made earlier (an empty file means "the original"), if there is one.
async fn serve_made(row: &Media, original: &Path, thumb: &Path, thumb_type: &str) -> Result<Option<HttpResponse>> {
    match open(thumb.to_owned()).await? {
        Some((_, 0)) => serve_original(row, original.to_owned(), None).await.map(Some),
        Some(file) => Ok(Some(serve(row, Some(thumb_type), file, None))),
        None => Ok(None),
    }
}

/// Scales PNG and JPEG to fit (scale) or fill (crop) the box, once per size and method (kept
/// beside the media); anything else is served as is.
async fn thumbnail_inner(svc: Svc, req: HttpRequest, server: String, id: String) -> Result<HttpResponse> {
    let q = query(&req);
    let width = query_i64(&q, "width")?.ok_or_else(|| Error::missing_param("Missing width"))?;
    let height = query_i64(&q, "height")?.ok_or_else(|| Error::missing_param("Missing height"))?;
    if !(1..=4096).contains(&width) || !(1..=4096).contains(&height) {
        return Err(Error::invalid_param("width and height must be between 1 and 4096"));
    }
    let crop = match q.get("method").map(String::as_str) {
        None | Some("scale") => false,
        Some("crop") => true,
        Some(_) => return Err(Error::invalid_param("method must be crop or scale")),
    };
    let (width, height) = (width as u32, height as u32);
    let (row, original) = fetch(&svc, &server, &id).await?;
    let (format, thumb_type) = match row.media_type.as_deref() {
        Some("image/png") => (image::ImageFormat::Png, "image/png"),
        Some("image/jpeg") | Some("image/jpg") => (image::ImageFormat::Jpeg, "image/jpeg"),
        _ => return serve_original(&row, original, None).await,
    };
    let thumb = store::thumbnail_path(&original, width, height, crop);
    if let Some(res) = serve_made(&row, &original, &thumb, thumb_type).await? {
        return Ok(res);
    }
    let making = Making::enter(thumb.clone());
    let _held = making.lock.lock().await;
    if let Some(res) = serve_made(&row, &original, &thumb, thumb_type).await? {
        return Ok(res);
    }
    let slot = decode_slots().acquire_owned().await.map_err(|e| Error::internal(e.to_string()))?;
    let (src, dst, max_pixels) = (original.clone(), thumb.clone(), svc.config.max_image_pixels);
    let outcome = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        store::make_thumbnail(&src, &dst, format, width, height, crop, max_pixels)
    })
    .await
    .map_err(|e| Error::internal(e.to_string()))?;
    match outcome {
        Ok(store::Thumbnail::TooLarge) => {
            log::info!("not thumbnailing {id}: at least max_image_pixels ({max_pixels}) pixels");
            // As Synapse answers when it cannot make a thumbnail.
            Err(Error::unknown("Failed to generate thumbnail."))
        }
        Ok(_) => {
            serve_made(&row, &original, &thumb, thumb_type).await?.ok_or_else(|| Error::internal("thumbnail vanished after it was made"))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::not_found("Media not found")),
        Err(e) => Err(Error::internal(format!("making a thumbnail: {e}"))),
    }
}

async fn thumbnail(svc: Svc, _who: Requester, req: HttpRequest, path: web::Path<(String, String)>) -> Result<HttpResponse> {
    let (server, id) = path.into_inner();
    thumbnail_inner(svc, req, server, id).await
}

async fn thumbnail_legacy(svc: Svc, req: HttpRequest, path: web::Path<(String, String)>) -> Result<HttpResponse> {
    let (server, id) = path.into_inner();
    thumbnail_inner(svc, req, server, id).await
}

async fn config(svc: Svc) -> HttpResponse {
    ok_json(json!({"m.upload.size": svc.config.max_upload_bytes}))
}

async fn config_auth(svc: Svc, _who: Requester) -> HttpResponse {
    ok_json(json!({"m.upload.size": svc.config.max_upload_bytes}))
}
