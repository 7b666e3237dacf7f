//! Media metadata; the bytes live under `<data_dir>/media`.

use super::Conn;
use super::schema::media;
use crate::error::MResult;
use diesel::prelude::*;

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
}

pub fn insert(conn: &mut Conn, m: &Media) -> MResult<()> {
    diesel::insert_into(media::table).values(m).execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut Conn, id: &str) -> MResult<Option<Media>> {
    Ok(media::table.find(id).select(Media::as_select()).first(conn).optional()?)
}

/// Fills in a media ID reserved with `/create`.
pub fn complete(conn: &mut Conn, id: &str, media_type: Option<&str>, length: i64, upload_name: Option<&str>) -> MResult<usize> {
    Ok(diesel::update(media::table.find(id).filter(media::uploaded.eq(false)))
        .set((
            media::uploaded.eq(true),
            media::media_type.eq(media_type),
            media::media_length.eq(length),
            media::upload_name.eq(upload_name),
        ))
        .execute(conn)?)
}

pub fn touch(conn: &mut Conn, id: &str, ts: i64) -> MResult<()> {
    diesel::update(media::table.find(id)).set(media::last_access_ts.eq(ts)).execute(conn)?;
    Ok(())
}

/// A user's uploaded media, newest first (ties by media ID, descending), and the total.
pub fn list_for_user(conn: &mut Conn, user_id: &str, from: i64, limit: i64) -> MResult<(Vec<Media>, i64)> {
    let base = || media::table.filter(media::user_id.eq(user_id)).filter(media::uploaded.eq(true));
    let total = base().count().get_result(conn)?;
    let rows =
        base().order((media::created_ts.desc(), media::media_id.desc())).offset(from).limit(limit).select(Media::as_select()).load(conn)?;
    Ok((rows, total))
}

pub fn delete(conn: &mut Conn, ids: &[String]) -> MResult<usize> {
    Ok(diesel::delete(media::table.filter(media::media_id.eq_any(ids))).execute(conn)?)
}
