//! Media metadata; the bytes live under `<data_dir>/media`.

use super::Conn;
use super::Direct;
use super::schema::media;
use crate::error::Result;
use diesel::prelude::*;
use image::{ImageDecoder, ImageFormat};
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = media)]
pub struct Media {
    pub media_id: String,
    pub user_id: String,
    pub media_type: Option<String>,
    pub media_length: i64,
    pub upload_name: Option<String>,
    pub created_ts: i64,
    pub last_access_ts: Option<i64>,
    pub quarantined_by: Option<String>,
    pub safe_from_quarantine: bool,
    pub uploaded: bool,
    pub unused_expires_at: Option<i64>,
    /// Hex SHA-256 of the bytes, once uploaded (none for media stored before it was kept).
    pub sha256: Option<String>,
}

/// Who quarantined media with these bytes, if any copy is quarantined.
pub fn quarantined_copy(conn: &mut Conn, sha256: &str) -> Result<Option<String>> {
    Ok(media::table
        .filter(media::sha256.eq(sha256))
        .filter(media::quarantined_by.is_not_null())
        .select(media::quarantined_by.assume_not_null())
        .first_on(conn)
        .optional()?)
}

pub fn insert(conn: &mut Conn, m: &Media) -> Result<()> {
    diesel::insert_into(media::table).values(m).execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut Conn, id: &str) -> Result<Option<Media>> {
    Ok(media::table.find(id).select(Media::as_select()).first(conn).optional()?)
}

/// What an upload filled in.
pub struct Uploaded<'a> {
    pub media_type: Option<&'a str>,
    pub length: i64,
    pub upload_name: Option<&'a str>,
    pub sha256: &'a str,
    /// Set when the same bytes are already quarantined.
    pub quarantined_by: Option<&'a str>,
}

/// Fills in a media ID reserved with `/create`.
pub fn complete(conn: &mut Conn, id: &str, up: Uploaded) -> Result<usize> {
    Ok(diesel::update(media::table.find(id).filter(media::uploaded.eq(false)))
        .set((
            media::uploaded.eq(true),
            media::media_type.eq(up.media_type),
            media::media_length.eq(up.length),
            media::upload_name.eq(up.upload_name),
            media::sha256.eq(up.sha256),
            media::quarantined_by.eq(up.quarantined_by),
        ))
        .execute(conn)?)
}

pub fn touch(conn: &mut Conn, id: &str, ts: i64) -> Result<()> {
    diesel::update(media::table.find(id)).set(media::last_access_ts.eq(ts)).execute(conn)?;
    Ok(())
}

/// A column the admin media list may be sorted by (Synapse's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaOrder {
    MediaId,
    UploadName,
    CreatedTs,
    LastAccessTs,
    MediaLength,
    MediaType,
    QuarantinedBy,
    SafeFromQuarantine,
}

impl MediaOrder {
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "media_id" => Self::MediaId,
            "upload_name" => Self::UploadName,
            "created_ts" => Self::CreatedTs,
            "last_access_ts" => Self::LastAccessTs,
            "media_length" => Self::MediaLength,
            "media_type" => Self::MediaType,
            "quarantined_by" => Self::QuarantinedBy,
            "safe_from_quarantine" => Self::SafeFromQuarantine,
            _ => return None,
        })
    }
}

/// A page of a user's uploaded media sorted by `order` (ties by media ID, the same way), and
/// the total.
pub fn list_for_user(
    conn: &mut Conn,
    user_id: &str,
    from: i64,
    limit: i64,
    order: MediaOrder,
    descending: bool,
) -> Result<(Vec<Media>, i64)> {
    let base = || media::table.filter(media::user_id.eq(user_id)).filter(media::uploaded.eq(true)).into_boxed();
    let total = base().count().get_result(conn)?;
    macro_rules! sorted {
        ($col:expr) => {
            if descending { base().order(($col.desc(), media::media_id.desc())) } else { base().order(($col.asc(), media::media_id.asc())) }
        };
    }
    let q = match order {
        MediaOrder::MediaId => sorted!(media::media_id),
        MediaOrder::UploadName => sorted!(media::upload_name),
        MediaOrder::CreatedTs => sorted!(media::created_ts),
        MediaOrder::LastAccessTs => sorted!(media::last_access_ts),
        MediaOrder::MediaLength => sorted!(media::media_length),
        MediaOrder::MediaType => sorted!(media::media_type),
        MediaOrder::QuarantinedBy => sorted!(media::quarantined_by),
        MediaOrder::SafeFromQuarantine => sorted!(media::safe_from_quarantine),
    };
    let rows = q.offset(from).limit(limit).select(Media::as_select()).load(conn)?;
    Ok((rows, total))
}

/// Where the thumbnail of a media file for one (width, height, method) lives: beside the media,
/// under a name the request determines, so it is made once and found again without a row.
pub fn thumbnail_path(media_file: &Path, width: u32, height: u32, crop: bool) -> PathBuf {
    let mut dir = media_file.as_os_str().to_owned();
    dir.push(".thumbnails");
    PathBuf::from(dir).join(format!("{width}x{height}-{}", if crop { "crop" } else { "scale" }))
}

/// The thumbnail directory of a media file, to delete with it.
pub fn thumbnail_dir(media_file: &Path) -> PathBuf {
    let mut dir = media_file.as_os_str().to_owned();
    dir.push(".thumbnails");
    PathBuf::from(dir)
}

/// What making a thumbnail came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Thumbnail {
    /// Written to the thumbnail path.
    Made,
    /// The original serves (it already fits, or it does not decode); an empty file at the
    /// thumbnail path records that, so the next request does not try again.
    Original,
    /// Over the pixel limit: refused without decoding the pixels.
    TooLarge,
}

/// Scales (fit) or crops (fill, centred) `src` to at most `width` x `height`, never up, and writes
/// the result to `dst`. Blocking. The dimensions come from the header first: an image of
/// `max_pixels` or more is refused before any pixel is decoded, and the decoder is limited to the
/// memory of the largest allowed image, so no upload can make a decode allocate more.
pub fn make_thumbnail(
    src: &Path,
    dst: &Path,
    format: ImageFormat,
    width: u32,
    height: u32,
    crop: bool,
    max_pixels: u64,
) -> std::io::Result<Thumbnail> {
    let max_alloc = max_pixels.saturating_mul(4);
    let mut limits = image::Limits::default();
    let side = u32::try_from(max_pixels).unwrap_or(u32::MAX);
    limits.max_image_width = Some(side);
    limits.max_image_height = Some(side);
    limits.max_alloc = Some(max_alloc);
    let mut reader = image::ImageReader::with_format(BufReader::new(File::open(src)?), format);
    reader.limits(limits);
    let decoder = match reader.into_decoder() {
        Ok(d) => d,
        Err(image::ImageError::Limits(_)) => return Ok(Thumbnail::TooLarge),
        // The file opened, so a read that ends early or finds nonsense is the upload's content
        // (cut short, or not what its type says), not a fault of the server's.
        Err(image::ImageError::IoError(e)) if !is_content_error(&e) => return Err(e),
        Err(_) => return mark_original(dst),
    };
    let (w, h) = decoder.dimensions();
    if u64::from(w) * u64::from(h) >= max_pixels || decoder.total_bytes() > max_alloc {
        return Ok(Thumbnail::TooLarge);
    }
    if !crop && w <= width && h <= height {
        return mark_original(dst);
    }
    let img = match image::DynamicImage::from_decoder(decoder) {
        Ok(img) => img,
        Err(image::ImageError::Limits(_)) => return Ok(Thumbnail::TooLarge),
        Err(_) => return mark_original(dst),
    };
    let scaled = if crop {
        // The largest centred box of the requested shape, then scaled down to the requested size
        // (or left at its own size when that is smaller): no intermediate larger than the image.
        let (cw, ch) = if u64::from(w) * u64::from(height) > u64::from(h) * u64::from(width) {
            (((u64::from(h) * u64::from(width)) / u64::from(height)).max(1) as u32, h)
        } else {
            (w, ((u64::from(w) * u64::from(height)) / u64::from(width)).max(1) as u32)
        };
        let (ow, oh) = if width <= cw && height <= ch { (width, height) } else { (cw, ch) };
        img.crop_imm((w - cw) / 2, (h - ch) / 2, cw, ch).thumbnail_exact(ow, oh)
    } else {
        img.thumbnail(width, height)
    };
    drop(img);
    let mut out = std::io::Cursor::new(Vec::new());
    if scaled.write_to(&mut out, format).is_err() {
        return mark_original(dst);
    }
    write_atomically(dst, out.get_ref())?;
    Ok(Thumbnail::Made)
}

fn is_content_error(e: &std::io::Error) -> bool {
    matches!(e.kind(), std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::InvalidData)
}

fn mark_original(dst: &Path) -> std::io::Result<Thumbnail> {
    write_atomically(dst, &[])?;
    Ok(Thumbnail::Original)
}

fn write_atomically(dst: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = dst.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut tmp = dst.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, dst)
}
