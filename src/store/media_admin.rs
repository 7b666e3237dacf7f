//! An admin's changes to many media at once: quarantine and protection, deletion with the files
//! it leaves to remove (`media_deletions`), and the per-user usage statistics.

use super::Conn;
use super::Direct;
use super::schema::{current_state, events, media, media_deletions, profiles, quarantined_media_changes};
use crate::error::Result;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use std::path::{Path, PathBuf};

/// IDs per statement: far below SQLite's bound-variable limit.
const CHUNK: usize = 500;

/// Where a local media file lives under the data directory.
pub fn file_path(data_dir: &Path, media_id: &str) -> PathBuf {
    let shard = media_id.get(..2).unwrap_or("00");
    data_dir.join("media").join(shard).join(media_id)
}

/// Quarantines (`by` set) or releases (`by` empty) the named media and every copy of the same
/// bytes; protected media is never quarantined. Answers how many rows matched, already
/// quarantined ones included (Synapse's count); each row whose quarantine changes is recorded in
/// `quarantined_media_changes`, in the same transaction.
pub fn set_quarantined(c: &mut Conn, ids: &[String], by: Option<&str>) -> Result<usize> {
    super::write_txn(c, |c| {
        let mut n = 0;
        for part in ids.chunks(CHUNK) {
            let mut named = media::table.filter(media::media_id.eq_any(part)).into_boxed();
            if by.is_some() {
                named = named.filter(media::safe_from_quarantine.eq(false));
            }
            let hashes: Vec<String> = named.select(media::sha256).load::<Option<String>>(c)?.into_iter().flatten().collect();
            let target = || media::table.filter(media::media_id.eq_any(part).or(media::sha256.eq_any(&hashes).assume_not_null()));
            let (changing, matched): (Vec<String>, usize) = match by {
                Some(_) => {
                    let open = || target().filter(media::safe_from_quarantine.eq(false));
                    let changing = open().filter(media::quarantined_by.is_null()).select(media::media_id).load_on(c)?;
                    (changing, diesel::update(open()).set(media::quarantined_by.eq(by)).execute(c)?)
                }
                None => {
                    let changing = target().filter(media::quarantined_by.is_not_null()).select(media::media_id).load_on(c)?;
                    (changing, diesel::update(target()).set(media::quarantined_by.eq(by)).execute(c)?)
                }
            };
            n += matched;
            let rows: Vec<_> = changing
                .iter()
                .map(|id| {
                    (
                        quarantined_media_changes::origin.eq(None::<String>),
                        quarantined_media_changes::media_id.eq(id),
                        quarantined_media_changes::quarantined.eq(by.is_some()),
                    )
                })
                .collect();
            both!(c, |c| diesel::insert_into(quarantined_media_changes::table).values(&rows).execute(c))?;
        }
        Ok(n)
    })
}

/// One recorded change of a media item's quarantine.
#[derive(Debug, Clone, Queryable)]
pub struct QuarantineChange {
    pub stream_id: i64,
    /// `None` for local media.
    pub origin: Option<String>,
    pub media_id: String,
    pub quarantined: bool,
}

/// The recorded changes after stream position `from`, oldest first, at most `limit`.
pub fn quarantine_changes(c: &mut Conn, from: i64, limit: i64) -> Result<Vec<QuarantineChange>> {
    use quarantined_media_changes::dsl as q;
    Ok(q::quarantined_media_changes
        .filter(q::stream_id.gt(from))
        .order(q::stream_id.asc())
        .limit(limit)
        .select((q::stream_id, q::origin, q::media_id, q::quarantined))
        .load_on(c)?)
}

/// The newest stream position handed out; 1 before any change, where Synapse's stream starts.
pub fn quarantine_changes_position(c: &mut Conn) -> Result<i64> {
    use quarantined_media_changes::dsl as q;
    Ok(q::quarantined_media_changes.select(diesel::dsl::max(q::stream_id)).first_on::<Option<i64>>(c)?.unwrap_or(1))
}

/// Quarantines a user's media not yet quarantined (and the copies of the same bytes), protected
/// media aside; answers how many rows changed.
pub fn quarantine_user(c: &mut Conn, user_id: &str, by: &str) -> Result<usize> {
    let ids: Vec<String> =
        media::table.filter(media::user_id.eq(user_id)).filter(media::quarantined_by.is_null()).select(media::media_id).load_on(c)?;
    set_quarantined(c, &ids, Some(by))
}

/// Marks one media protected or not; answers whether it exists.
pub fn set_protected(c: &mut Conn, media_id: &str, safe: bool) -> Result<bool> {
    Ok(diesel::update(media::table.find(media_id)).set(media::safe_from_quarantine.eq(safe)).execute(c)? > 0)
}

/// A page of a room's events that may name media (their JSON holds an `mxc://` URI), newest
/// first, below `before`.
pub fn room_events_naming_media(c: &mut Conn, room_id: &str, before: i64, limit: i64) -> Result<Vec<(i64, String)>> {
    Ok(events::table
        .filter(events::room_id.eq(room_id))
        .filter(events::stream_ordering.lt(before))
        .filter(events::json.like("%mxc://%"))
        .order(events::stream_ordering.desc())
        .limit(limit)
        .select((events::stream_ordering, events::json))
        .load_on(c)?)
}

/// Uploaded media, neither quarantined nor protected, last read (or, never read, created) before
/// `before_ts` and larger than `size_gt`: a page of IDs after `after`, in ID order.
pub fn expired(c: &mut Conn, before_ts: i64, size_gt: i64, after: &str, limit: i64) -> Result<Vec<String>> {
    Ok(media::table
        .filter(media::uploaded.eq(true))
        .filter(media::quarantined_by.is_null())
        .filter(media::safe_from_quarantine.eq(false))
        .filter(media::media_length.gt(size_gt))
        .filter(media::last_access_ts.lt(before_ts).or(media::last_access_ts.is_null().and(media::created_ts.lt(before_ts))))
        .filter(media::media_id.gt(after))
        .order(media::media_id.asc())
        .limit(limit)
        .select(media::media_id)
        .load_on(c)?)
}

/// Users' avatar URLs starting with `prefix`.
pub fn profile_avatars(c: &mut Conn, prefix: &str) -> Result<Vec<String>> {
    Ok(profiles::table.filter(profiles::avatar_url.like(format!("{prefix}%"))).select(profiles::avatar_url.assume_not_null()).load_on(c)?)
}

/// The JSON of the current member and room avatar events that contain `needle`.
pub fn avatar_state_events(c: &mut Conn, needle: &str) -> Result<Vec<String>> {
    Ok(current_state::table
        .inner_join(events::table.on(events::event_id.eq(current_state::event_id)))
        .filter(current_state::event_type.eq_any(["m.room.member", "m.room.avatar"]))
        .filter(events::json.like(format!("%{needle}%")))
        .select(events::json)
        .load_on(c)?)
}

/// Deletes the rows of the named media and records their files for removal, in one
/// transaction; answers the IDs that existed.
pub fn delete(c: &mut Conn, ids: &[String]) -> Result<Vec<String>> {
    super::write_txn(c, |c| {
        let mut gone = Vec::new();
        for part in ids.chunks(CHUNK) {
            let found: Vec<String> = media::table.filter(media::media_id.eq_any(part)).select(media::media_id).load_on(c)?;
            diesel::delete(media::table.filter(media::media_id.eq_any(&found))).execute(c)?;
            let pending: Vec<_> = found.iter().map(|id| media_deletions::media_id.eq(id)).collect();
            both!(c, |c| diesel::insert_into(media_deletions::table).values(&pending).on_conflict_do_nothing().execute(c))?;
            gone.extend(found);
        }
        Ok(gone)
    })
}

/// Media whose files may still be on disk after their rows went.
pub fn pending_deletions(c: &mut Conn, limit: i64) -> Result<Vec<String>> {
    Ok(media_deletions::table.order(media_deletions::media_id.asc()).limit(limit).select(media_deletions::media_id).load_on(c)?)
}

/// Forgets deletions whose files are gone.
pub fn deletions_done(c: &mut Conn, ids: &[String]) -> Result<()> {
    for part in ids.chunks(CHUNK) {
        diesel::delete(media_deletions::table.filter(media_deletions::media_id.eq_any(part))).execute(c)?;
    }
    Ok(())
}

/// Removes a media file and the thumbnails made of it; a file already gone is fine. Blocking.
pub fn remove_files(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_dir_all(super::media::thumbnail_dir(path)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Removes the files of every pending deletion, then forgets them: run at startup, it finishes
/// deletions a crash interrupted. Answers how many. Blocking.
pub fn finish_deletions(c: &mut Conn, data_dir: &Path) -> Result<usize> {
    let mut done = 0;
    loop {
        let ids = pending_deletions(c, CHUNK as i64)?;
        if ids.is_empty() {
            return Ok(done);
        }
        for id in &ids {
            remove_files(&file_path(data_dir, id)).map_err(|e| crate::error::Error::internal_from("deleting media files", e))?;
        }
        deletions_done(c, &ids)?;
        done += ids.len();
    }
}

/// How users' media statistics are sorted (Synapse's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageOrder {
    UserId,
    Displayname,
    MediaLength,
    MediaCount,
}

impl UsageOrder {
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "user_id" => Self::UserId,
            "displayname" => Self::Displayname,
            "media_length" => Self::MediaLength,
            "media_count" => Self::MediaCount,
            _ => return None,
        })
    }

    fn column(self) -> &'static str {
        match self {
            Self::UserId => "m.user_id",
            Self::Displayname => "p.displayname",
            Self::MediaLength => "media_length",
            Self::MediaCount => "media_count",
        }
    }
}

/// Which users' statistics, over which media, in which order.
#[derive(Debug, Clone)]
pub struct UsageQuery {
    pub from: i64,
    pub limit: i64,
    pub from_ts: i64,
    pub until_ts: Option<i64>,
    pub search_term: Option<String>,
    pub order: UsageOrder,
    pub descending: bool,
}

#[derive(Debug, Clone, QueryableByName)]
pub struct UsageRow {
    #[diesel(sql_type = Text)]
    pub user_id: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub displayname: Option<String>,
    #[diesel(sql_type = BigInt)]
    pub media_count: i64,
    #[diesel(sql_type = BigInt)]
    pub media_length: i64,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// A page of users with their uploaded media's count and total size, and how many users match.
pub fn usage(c: &mut Conn, q: &UsageQuery) -> Result<(Vec<UsageRow>, i64)> {
    // A match anywhere in the localpart, or anywhere in the display name, ignoring case on both
    // backends (SQLite's LIKE ignores ASCII case, PostgreSQL's does not).
    let (id_pattern, name_pattern) = match q.search_term.as_deref().map(str::to_lowercase) {
        Some(t) => (Some(format!("@%{t}%:%")), Some(format!("%{t}%"))),
        None => (None, None),
    };
    let base = "FROM media m LEFT JOIN profiles p ON p.user_id = m.user_id \
                WHERE m.uploaded AND m.created_ts >= ?1 AND (?2 IS NULL OR m.created_ts <= ?2) \
                AND (?3 IS NULL OR m.user_id LIKE ?3 OR LOWER(p.displayname) LIKE ?4) \
                GROUP BY m.user_id, p.displayname";
    let total = super::sql_query(c, &format!("SELECT COUNT(*) AS n FROM (SELECT m.user_id {base}) AS counted"))
        .bind::<BigInt, _>(q.from_ts)
        .bind::<Nullable<BigInt>, _>(q.until_ts)
        .bind::<Nullable<Text>, _>(id_pattern.as_deref())
        .bind::<Nullable<Text>, _>(name_pattern.as_deref())
        .get_result_on::<Count>(c)?
        .n;
    let dir = if q.descending { "DESC" } else { "ASC" };
    let sql = format!(
        "SELECT m.user_id AS user_id, p.displayname AS displayname, COUNT(*) AS media_count, \
         CAST(COALESCE(SUM(m.media_length), 0) AS BIGINT) AS media_length {base} \
         ORDER BY {col} {dir}, m.user_id {dir} LIMIT ?5 OFFSET ?6",
        col = q.order.column()
    );
    let rows = super::sql_query(c, &sql)
        .bind::<BigInt, _>(q.from_ts)
        .bind::<Nullable<BigInt>, _>(q.until_ts)
        .bind::<Nullable<Text>, _>(id_pattern.as_deref())
        .bind::<Nullable<Text>, _>(name_pattern.as_deref())
        .bind::<BigInt, _>(q.limit)
        .bind::<BigInt, _>(q.from)
        .load_on(c)?;
    Ok((rows, total))
}
