//! The media repository: uploads streamed to disk, downloads, thumbnails (scaled PNG/JPEG, made
//! once per size), and an admin's listing and deletion of a user's media. Bytes live under
//! `<data_dir>/media`, metadata in the `media` table.

use crate::Services;
use crate::error::{Error, ErrorKind, Result};
pub use crate::store::media::MediaOrder;
use crate::store::media::{self as store, Media};
use futures_util::{Stream, StreamExt};
use ruma::UserId;
use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::Semaphore;

pub fn file_path(svc: &Services, media_id: &str) -> PathBuf {
    crate::store::media_admin::file_path(&svc.config.data_dir, media_id)
}

fn valid_media_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 255 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn content_uri(svc: &Services, media_id: &str) -> String {
    format!("mxc://{}/{media_id}", svc.server_name())
}

/// An upload's bytes as they arrive, with what the client said about them.
pub struct Upload<S> {
    pub body: S,
    /// The declared length, refused at once past the limit.
    pub content_length: Option<usize>,
    pub content_type: Option<String>,
    pub filename: Option<String>,
}

/// What the receiving side hands the file writer.
enum Chunk<B> {
    Data(B),
    /// The whole body arrived within the limit: keep the file.
    Complete,
}

/// Streams an upload into the media file, refusing it past the upload limit; answers its
/// length and hex SHA-256. Only a few chunks are in memory at a time however large the upload, and the file
/// appears (durably) only once the body is complete.
async fn store_upload<S, B, E>(svc: &Services, content_length: Option<usize>, mut body: S, media_id: &str) -> Result<(i64, String)>
where
    S: Stream<Item = std::result::Result<B, E>> + Unpin,
    B: AsRef<[u8]> + Send + 'static,
    E: std::fmt::Display,
{
    let limit = svc.config.max_upload_bytes;
    let too_large = || Error::too_large("Upload is larger than the configured limit");
    if content_length.is_some_and(|len| len > limit) {
        return Err(too_large());
    }
    let path = file_path(svc, media_id);
    // A name of its own: two uploads to one media ID never write into the same file.
    let tmp = path.with_extension(format!("tmp-{}", crate::ids::random_alnum(8)));
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Chunk<B>>(4);
    let writer = tokio::task::spawn_blocking(move || -> std::io::Result<Option<String>> {
        use sha2::Digest;
        use std::io::Write;
        let mut hash = sha2::Sha256::new();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut file = File::create(&tmp)?;
        let written = (|| {
            while let Some(chunk) = rx.blocking_recv() {
                match chunk {
                    Chunk::Data(bytes) => {
                        hash.update(bytes.as_ref());
                        file.write_all(bytes.as_ref())?
                    }
                    Chunk::Complete => {
                        file.sync_all()?;
                        std::fs::rename(&tmp, &path)?;
                        return Ok(Some(hex::encode(hash.finalize())));
                    }
                }
            }
            Ok(None)
        })();
        if !matches!(written, Ok(Some(_))) {
            let _ = std::fs::remove_file(&tmp);
        }
        written
    });
    let mut total = 0usize;
    let received: Result<()> = async {
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| Error::unknown(format!("Reading upload: {e}")))?;
            total += chunk.as_ref().len();
            if total > limit {
                return Err(too_large());
            }
            if tx.send(Chunk::Data(chunk)).await.is_err() {
                // The writer stopped on an error: it is reported below.
                return Ok(());
            }
        }
        let _ = tx.send(Chunk::Complete).await;
        Ok(())
    }
    .await;
    drop(tx);
    let stored = writer.await.map_err(|e| Error::internal_from("storing media", e))?;
    received?;
    match stored {
        Ok(Some(sha256)) => Ok((total as i64, sha256)),
        Ok(None) => Err(Error::internal("storing media: the upload was not completed")),
        Err(e) => Err(Error::internal_from("storing media", e)),
    }
}

fn new_row(media_id: &str, user: &UserId) -> Media {
    Media {
        media_id: media_id.to_owned(),
        user_id: user.to_string(),
        media_type: None,
        media_length: 0,
        upload_name: None,
        created_ts: crate::ids::now_ms(),
        last_access_ts: None,
        quarantined_by: None,
        safe_from_quarantine: false,
        uploaded: false,
        unused_expires_at: None,
        sha256: None,
    }
}

/// Who quarantined other media with the same bytes: an upload of them is quarantined at once
/// (by "system", as Synapse names it).
fn inherited_quarantine(c: &mut crate::store::Conn, sha256: &str) -> Result<Option<String>> {
    Ok(store::quarantined_copy(c, sha256)?.map(|_| "system".to_owned()))
}

/// Stores an upload under a new media ID; answers its `mxc://` URI.
pub async fn upload<S, B, E>(svc: &Services, user: &UserId, up: Upload<S>) -> Result<String>
where
    S: Stream<Item = std::result::Result<B, E>> + Unpin,
    B: AsRef<[u8]> + Send + 'static,
    E: std::fmt::Display,
{
    let media_id = crate::ids::random_alnum(24);
    let (len, sha256) = store_upload(svc, up.content_length, up.body, &media_id).await?;
    let row = Media {
        media_type: up.content_type,
        media_length: len,
        upload_name: up.filename,
        uploaded: true,
        sha256: Some(sha256),
        ..new_row(&media_id, user)
    };
    svc.db
        // One transaction: a quarantine of the same bytes lands either before (seen here) or after
        // (and finds this row).
        .run(move |c| {
            crate::store::write_txn(c, |c| {
                let quarantined_by = row.sha256.as_deref().map(|h| inherited_quarantine(c, h)).transpose()?.flatten();
                store::insert(c, &Media { quarantined_by, ..row })
            })
        })
        .await?;
    Ok(content_uri(svc, &media_id))
}

/// Reserves a media ID for a later upload; answers its URI and when the reservation lapses.
pub async fn create(svc: &Services, user: &UserId) -> Result<(String, i64)> {
    let media_id = crate::ids::random_alnum(24);
    let expires = crate::ids::now_ms() + 24 * 3600 * 1000;
    let row = Media { unused_expires_at: Some(expires), ..new_row(&media_id, user) };
    svc.db.run(move |c| store::insert(c, &row)).await?;
    Ok((content_uri(svc, &media_id), expires))
}

/// Uploads the content of a media ID the user reserved.
pub async fn upload_to<S, B, E>(svc: &Services, user: &UserId, server: &str, media_id: &str, up: Upload<S>) -> Result<()>
where
    S: Stream<Item = std::result::Result<B, E>> + Unpin,
    B: AsRef<[u8]> + Send + 'static,
    E: std::fmt::Display,
{
    if server != svc.server_name() || !valid_media_id(media_id) {
        return Err(Error::not_found("Unknown media"));
    }
    let id = media_id.to_owned();
    let row = svc.db.run(move |c| store::find(c, &id)).await?.ok_or_else(|| Error::not_found("Unknown media"))?;
    if row.user_id != user.as_str() {
        return Err(Error::forbidden("This media ID was created by another user"));
    }
    if row.uploaded {
        return Err(Error::new(ErrorKind::CannotOverwriteMedia, "Media already uploaded"));
    }
    let (length, sha256) = store_upload(svc, up.content_length, up.body, media_id).await?;
    let (id, ct, name) = (media_id.to_owned(), up.content_type, up.filename);
    svc.db
        .run(move |c| {
            crate::store::write_txn(c, |c| {
                let quarantined_by = inherited_quarantine(c, &sha256)?;
                let up = store::Uploaded {
                    media_type: ct.as_deref(),
                    length,
                    upload_name: name.as_deref(),
                    sha256: &sha256,
                    quarantined_by: quarantined_by.as_deref(),
                };
                store::complete(c, &id, up)
            })
        })
        .await?;
    Ok(())
}

/// A file to send: the media's row, the type to send it as (a thumbnail's, else the media's),
/// the open file and its length.
pub struct Download {
    pub media: Media,
    pub content_type: Option<String>,
    pub file: File,
    pub len: u64,
}

/// Whether quarantined media may be served: only to an admin who asks for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quarantined {
    Refuse,
    Serve,
}

/// The stored media's row and file, or 404 (quarantined media too, unless it may be served);
/// records the access.
async fn find(svc: &Services, server: &str, media_id: &str, quarantined: Quarantined) -> Result<(Media, PathBuf)> {
    if server != svc.server_name() || !valid_media_id(media_id) {
        return Err(Error::not_found("Media not found"));
    }
    let id = media_id.to_owned();
    let row = svc.db.run(move |c| store::find(c, &id)).await?;
    let servable = |m: &Media| m.uploaded && (m.quarantined_by.is_none() || quarantined == Quarantined::Serve);
    let row = row.filter(servable).ok_or_else(|| Error::not_found("Media not found"))?;
    let id = media_id.to_owned();
    svc.db.run(move |c| store::touch(c, &id, crate::ids::now_ms())).await?;
    Ok((row, file_path(svc, media_id)))
}

/// Opens a file for streaming: the file and its length, or `None` if it is not there.
async fn open(path: PathBuf) -> Result<Option<(File, u64)>> {
    tokio::task::spawn_blocking(move || match File::open(&path) {
        Ok(f) => Ok(Some((f.metadata()?.len(), f))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    })
    .await
    .map_err(|e| Error::internal_from("reading media", e))?
    .map(|o| o.map(|(len, f)| (f, len)))
    .map_err(|e| Error::internal_from("reading media", e))
}

async fn original(media: Media, path: PathBuf) -> Result<Download> {
    let (file, len) = open(path).await?.ok_or_else(|| Error::not_found("Media not found"))?;
    Ok(Download { media, content_type: None, file, len })
}

/// The original media file.
pub async fn download(svc: &Services, server: &str, media_id: &str, quarantined: Quarantined) -> Result<Download> {
    let (row, path) = find(svc, server, media_id, quarantined).await?;
    original(row, path).await
}

/// A thumbnail's box, and whether to fill it (crop) or fit in it (scale).
#[derive(Debug, Clone, Copy)]
pub struct ThumbnailSize {
    pub width: i64,
    pub height: i64,
    pub crop: bool,
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

/// A thumbnail made earlier (an empty file means "the original"), if there is one.
async fn made(row: &Media, original_path: &Path, thumb: &Path, thumb_type: &str) -> Result<Option<Download>> {
    match open(thumb.to_owned()).await? {
        Some((_, 0)) => original(row.clone(), original_path.to_owned()).await.map(Some),
        Some((file, len)) => Ok(Some(Download { media: row.clone(), content_type: Some(thumb_type.to_owned()), file, len })),
        None => Ok(None),
    }
}

/// Scales PNG and JPEG to fit (scale) or fill (crop) the box, once per size and method (kept
/// beside the media); anything else is the original.
pub async fn thumbnail(svc: &Services, server: &str, media_id: &str, size: ThumbnailSize) -> Result<Download> {
    if !(1..=4096).contains(&size.width) || !(1..=4096).contains(&size.height) {
        return Err(Error::invalid_param("width and height must be between 1 and 4096"));
    }
    let (width, height, crop) = (size.width as u32, size.height as u32, size.crop);
    let (row, original_path) = find(svc, server, media_id, Quarantined::Refuse).await?;
    let (format, thumb_type) = match row.media_type.as_deref() {
        Some("image/png") => (image::ImageFormat::Png, "image/png"),
        Some("image/jpeg") | Some("image/jpg") => (image::ImageFormat::Jpeg, "image/jpeg"),
        _ => return original(row, original_path).await,
    };
    let thumb = store::thumbnail_path(&original_path, width, height, crop);
    if let Some(d) = made(&row, &original_path, &thumb, thumb_type).await? {
        return Ok(d);
    }
    let making = Making::enter(thumb.clone());
    let _held = making.lock.lock().await;
    if let Some(d) = made(&row, &original_path, &thumb, thumb_type).await? {
        return Ok(d);
    }
    let slot = decode_slots().acquire_owned().await.map_err(|e| Error::internal_from("thumbnail slots", e))?;
    let (src, dst, max_pixels) = (original_path.clone(), thumb.clone(), svc.config.max_image_pixels);
    let outcome = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        store::make_thumbnail(&src, &dst, format, width, height, crop, max_pixels)
    })
    .await
    .map_err(|e| Error::internal_from("making a thumbnail", e))?;
    match outcome {
        Ok(store::Thumbnail::TooLarge) => {
            log::info!("not thumbnailing {media_id}: at least max_image_pixels ({max_pixels}) pixels");
            // As Synapse answers when it cannot make a thumbnail.
            Err(Error::unknown("Failed to generate thumbnail."))
        }
        Ok(_) => {
            made(&row, &original_path, &thumb, thumb_type).await?.ok_or_else(|| Error::internal("thumbnail vanished after it was made"))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::not_found("Media not found")),
        Err(e) => Err(Error::internal_from("making a thumbnail", e)),
    }
}

/// Most media one admin page lists (or one call deletes).
const MAX_PAGE: i64 = 1_000;

fn page(from: i64, limit: i64) -> Result<(i64, i64)> {
    if from < 0 || limit < 0 {
        return Err(Error::invalid_param("from and limit must not be negative"));
    }
    Ok((from, limit.min(MAX_PAGE)))
}

/// Which page of a user's media, in which order.
#[derive(Debug, Clone, Copy)]
pub struct MediaPage {
    pub from: i64,
    pub limit: i64,
    pub order: MediaOrder,
    pub descending: bool,
}

/// A page of a local user's media and how many they have.
pub async fn list_for_user(svc: &Services, target: &UserId, p: MediaPage) -> Result<(Vec<Media>, i64)> {
    let user = super::accounts::local_user(svc, target).await?;
    let (from, limit) = page(p.from, p.limit)?;
    svc.db.run(move |c| store::list_for_user(c, &user.user_id, from, limit, p.order, p.descending)).await
}

/// Deletes a page of a local user's media (rows, files and thumbnails); answers their IDs.
pub async fn delete_for_user(svc: &Services, admin: &UserId, target: &UserId, p: MediaPage) -> Result<Vec<String>> {
    let (rows, _) = list_for_user(svc, target, p).await?;
    let ids = super::media_admin::delete_ids(svc, rows.into_iter().map(|m| m.media_id).collect()).await?;
    log::info!("admin {admin} deleted {} media of {target}", ids.len());
    Ok(ids)
}
