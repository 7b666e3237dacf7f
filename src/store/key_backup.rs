//! Server-side key backups: the versions of each user's backup and the sessions stored in them.

use super::Conn;
use super::Direct;
use super::schema::{key_backup_sessions as ks, key_backup_versions as kv};
use crate::error::Result;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = kv)]
pub struct Version {
    pub version: i64,
    pub algorithm: String,
    pub auth_data: String,
    pub etag: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = ks)]
pub struct Session {
    pub user_id: String,
    pub version: i64,
    pub room_id: String,
    pub session_id: String,
    pub first_message_index: i64,
    pub forwarded_count: i64,
    pub is_verified: bool,
    pub session_data: String,
}

/// What a write of sessions found.
pub enum Upload {
    /// Written (or kept, where the stored session was better): the version's etag and count.
    Done { etag: i64, count: i64 },
    /// The user has no backup at all.
    NoBackup,
    /// The version named is not the current one, which is this.
    NotCurrent(i64),
    /// The version would hold more sessions than allowed.
    TooMany,
}

/// Creates the next version (one above any the user ever had) and makes it current; `None` when
/// the user already has `max_live` versions.
pub fn create(conn: &mut Conn, user_id: &str, algorithm: &str, auth_data: &str, max_live: i64) -> Result<Option<i64>> {
    super::write_txn(conn, |c| {
        let live: i64 = kv::table.filter(kv::user_id.eq(user_id)).filter(kv::deleted.eq(false)).count().get_result_on(c)?;
        if live >= max_live {
            return Ok(None);
        }
        let highest: Option<i64> = kv::table.filter(kv::user_id.eq(user_id)).select(diesel::dsl::max(kv::version)).first_on(c)?;
        let version = highest.unwrap_or(0) + 1;
        diesel::insert_into(kv::table)
            .values((
                kv::user_id.eq(user_id),
                kv::version.eq(version),
                kv::algorithm.eq(algorithm),
                kv::auth_data.eq(auth_data),
                kv::etag.eq(0i64),
                kv::deleted.eq(false),
            ))
            .execute(c)?;
        Ok(Some(version))
    })
}

/// The current version: the highest one not deleted.
pub fn current(conn: &mut Conn, user_id: &str) -> Result<Option<Version>> {
    Ok(kv::table
        .filter(kv::user_id.eq(user_id))
        .filter(kv::deleted.eq(false))
        .order(kv::version.desc())
        .select(Version::as_select())
        .first(conn)
        .optional()?)
}

/// A version not deleted.
pub fn get(conn: &mut Conn, user_id: &str, version: i64) -> Result<Option<Version>> {
    Ok(kv::table.find((user_id, version)).filter(kv::deleted.eq(false)).select(Version::as_select()).first(conn).optional()?)
}

/// How many sessions a version holds.
pub fn count(conn: &mut Conn, user_id: &str, version: i64) -> Result<i64> {
    Ok(ks::table.filter(ks::user_id.eq(user_id)).filter(ks::version.eq(version)).count().get_result_on(conn)?)
}

/// What a change of `auth_data` found.
pub enum AuthDataUpdate {
    Updated,
    NoVersion,
    /// The stored version has another algorithm, which cannot change.
    AlgorithmDiffers,
}

/// Replaces a live version's auth_data if its algorithm is `algorithm`.
pub fn set_auth_data(conn: &mut Conn, user_id: &str, version: i64, algorithm: &str, auth_data: &str) -> Result<AuthDataUpdate> {
    super::write_txn(conn, |c| {
        let Some(v) = get(c, user_id, version)? else { return Ok(AuthDataUpdate::NoVersion) };
        if v.algorithm != algorithm {
            return Ok(AuthDataUpdate::AlgorithmDiffers);
        }
        diesel::update(kv::table.find((user_id, version))).set(kv::auth_data.eq(auth_data)).execute(c)?;
        Ok(AuthDataUpdate::Updated)
    })
}

/// Deletes a live version and its sessions; false when there is no such version.
pub fn delete(conn: &mut Conn, user_id: &str, version: i64) -> Result<bool> {
    super::write_txn(conn, |c| {
        let n = diesel::update(kv::table.find((user_id, version)).filter(kv::deleted.eq(false)))
            .set((kv::deleted.eq(true), kv::auth_data.eq("null")))
            .execute(c)?;
        if n == 0 {
            return Ok(false);
        }
        diesel::delete(ks::table.filter(ks::user_id.eq(user_id)).filter(ks::version.eq(version))).execute(c)?;
        // Only the highest row is needed to keep numbers increasing: older deleted rows go.
        let highest: Option<i64> = kv::table.filter(kv::user_id.eq(user_id)).select(diesel::dsl::max(kv::version)).first_on(c)?;
        if let Some(highest) = highest {
            diesel::delete(kv::table.filter(kv::user_id.eq(user_id)).filter(kv::deleted.eq(true)).filter(kv::version.lt(highest)))
                .execute(c)?;
        }
        Ok(true)
    })
}

/// Removes every version and session of a user (deactivation), inside the caller's transaction.
pub fn delete_all(conn: &mut Conn, user_id: &str) -> Result<()> {
    diesel::delete(ks::table.filter(ks::user_id.eq(user_id))).execute(conn)?;
    diesel::delete(kv::table.filter(kv::user_id.eq(user_id))).execute(conn)?;
    Ok(())
}

/// Stores `sessions` in the current version if it is `version`, in one transaction: each one
/// replaces a stored session of the same room and ID only where `replaces(new, stored)` says so.
/// The etag moves when anything changed.
pub fn upload(
    conn: &mut Conn,
    user_id: &str,
    version: i64,
    sessions: &[Session],
    max_sessions: i64,
    replaces: impl Fn(&Session, &Session) -> bool,
) -> Result<Upload> {
    super::write_txn(conn, |c| {
        let Some(current) = current(c, user_id)? else { return Ok(Upload::NoBackup) };
        if current.version != version {
            return Ok(Upload::NotCurrent(current.version));
        }
        let mut count = count(c, user_id, version)?;
        let mut changed = false;
        for s in sessions {
            let stored: Option<Session> =
                ks::table.find((user_id, version, &s.room_id, &s.session_id)).select(Session::as_select()).first(c).optional()?;
            match stored {
                Some(old) if !replaces(s, &old) => continue,
                Some(_) => {
                    diesel::delete(ks::table.find((user_id, version, &s.room_id, &s.session_id))).execute(c)?;
                }
                None if count >= max_sessions => return Ok(Upload::TooMany),
                None => count += 1,
            }
            diesel::insert_into(ks::table).values(s).execute(c)?;
            changed = true;
        }
        let mut etag = current.etag;
        if changed {
            etag += 1;
            diesel::update(kv::table.find((user_id, version))).set(kv::etag.eq(etag)).execute(c)?;
        }
        Ok(Upload::Done { etag, count })
    })
}

/// The sessions of a version, narrowed to a room and to one session of it.
pub fn sessions(conn: &mut Conn, user_id: &str, version: i64, room_id: Option<&str>, session_id: Option<&str>) -> Result<Vec<Session>> {
    let mut q = ks::table.filter(ks::user_id.eq(user_id)).filter(ks::version.eq(version)).into_boxed();
    if let Some(room) = room_id {
        q = q.filter(ks::room_id.eq(room));
    }
    if let Some(session) = session_id {
        q = q.filter(ks::session_id.eq(session));
    }
    Ok(q.order((ks::room_id.asc(), ks::session_id.asc())).select(Session::as_select()).load(conn)?)
}

/// Deletes sessions of a live version (all, a room's, or one) and moves its etag when any went;
/// `None` when there is no such version.
pub fn delete_sessions(
    conn: &mut Conn,
    user_id: &str,
    version: i64,
    room_id: Option<&str>,
    session_id: Option<&str>,
) -> Result<Option<(i64, i64)>> {
    super::write_txn(conn, |c| {
        let Some(v) = get(c, user_id, version)? else { return Ok(None) };
        let mut q = diesel::delete(ks::table).filter(ks::user_id.eq(user_id)).filter(ks::version.eq(version)).into_boxed();
        if let Some(room) = room_id {
            q = q.filter(ks::room_id.eq(room));
        }
        if let Some(session) = session_id {
            q = q.filter(ks::session_id.eq(session));
        }
        let removed = q.execute(c)?;
        let mut etag = v.etag;
        if removed > 0 {
            etag += 1;
            diesel::update(kv::table.find((user_id, version))).set(kv::etag.eq(etag)).execute(c)?;
        }
        Ok(Some((etag, count(c, user_id, version)?)))
    })
}
