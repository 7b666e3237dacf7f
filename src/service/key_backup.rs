//! Server-side key backups: a user's versions (an algorithm and its `auth_data`) and the megolm
//! sessions backed up in them. Only the current version (the highest not deleted) takes keys.

use crate::Services;
use crate::error::{Error, ErrorKind, Result};
use crate::store::key_backup::{self, AuthDataUpdate, Session, Upload};
use ruma::UserId;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// Live versions a user may hold; SyTest creates a dozen, clients one at a time.
pub const MAX_LIVE_VERSIONS: i64 = 1_000;
/// Sessions one version may hold (a heavy Element account backs up tens of thousands).
pub const MAX_SESSIONS_PER_VERSION: i64 = 200_000;
/// Sessions one request may carry.
pub const MAX_SESSIONS_PER_UPLOAD: usize = 10_000;
/// Room and session IDs are opaque to the backup; bounded like other IDs.
const MAX_ID_BYTES: usize = 255;
const MAX_ALGORITHM_BYTES: usize = 255;

/// A version as `GET /room_keys/version` shows it.
#[derive(Debug, Serialize)]
pub struct VersionInfo {
    pub algorithm: String,
    pub auth_data: Value,
    pub count: i64,
    pub etag: String,
    pub version: String,
}

/// One backed-up session, as clients send and read it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyData {
    pub first_message_index: i64,
    pub forwarded_count: i64,
    pub is_verified: bool,
    pub session_data: Value,
}

/// Sessions by room ID, then session ID.
pub type RoomKeys = BTreeMap<String, BTreeMap<String, KeyData>>;

/// A version number from a path or query: anything that is not one of ours names no version.
fn parse_version(v: &str) -> Result<i64> {
    v.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| Error::not_found(format!("Unknown backup version {v}")))
}

fn unknown_version(v: &str) -> Error {
    Error::not_found(format!("Unknown backup version {v}"))
}

fn check_json_size(svc: &Services, what: &str, v: &Value) -> Result<String> {
    let text = v.to_string();
    if text.len() > svc.config.max_event_bytes {
        return Err(Error::new(ErrorKind::FieldTooLong, format!("{what} is longer than {} bytes", svc.config.max_event_bytes)));
    }
    Ok(text)
}

fn check_algorithm(algorithm: &str) -> Result<()> {
    if algorithm.is_empty() || algorithm.len() > MAX_ALGORITHM_BYTES {
        return Err(Error::invalid_param("algorithm must be a non-empty string of at most 255 bytes"));
    }
    Ok(())
}

/// The spec's order of preference: a verified key, then the lower first message index, then the
/// lower forwarded count. A key no better than the stored one leaves it alone.
fn replaces(new: &Session, old: &Session) -> bool {
    (!new.is_verified, new.first_message_index, new.forwarded_count) < (!old.is_verified, old.first_message_index, old.forwarded_count)
}

fn info(v: key_backup::Version, count: i64) -> VersionInfo {
    VersionInfo {
        algorithm: v.algorithm,
        auth_data: serde_json::from_str(&v.auth_data).unwrap_or(Value::Null),
        count,
        etag: v.etag.to_string(),
        version: v.version.to_string(),
    }
}

pub async fn create(svc: &Services, user: &UserId, algorithm: String, auth_data: Value) -> Result<String> {
    check_algorithm(&algorithm)?;
    let auth = check_json_size(svc, "auth_data", &auth_data)?;
    let u = user.to_string();
    let created = svc.db.run(move |c| key_backup::create(c, &u, &algorithm, &auth, MAX_LIVE_VERSIONS)).await?;
    let version = created.ok_or_else(|| Error::forbidden(format!("At most {MAX_LIVE_VERSIONS} backup versions: delete one first")))?;
    Ok(version.to_string())
}

/// The current version, or (with `version`) that one.
pub async fn version_info(svc: &Services, user: &UserId, version: Option<&str>) -> Result<VersionInfo> {
    let wanted = version.map(parse_version).transpose()?;
    let u = user.to_string();
    let found = svc
        .db
        .run(move |c| {
            let v = match wanted {
                Some(n) => key_backup::get(c, &u, n)?,
                None => key_backup::current(c, &u)?,
            };
            v.map(|v| key_backup::count(c, &u, v.version).map(|n| (v, n))).transpose()
        })
        .await?;
    match (found, version) {
        (Some((v, n)), _) => Ok(info(v, n)),
        (None, Some(v)) => Err(unknown_version(v)),
        (None, None) => Err(Error::not_found("No current backup version")),
    }
}

/// Replaces a version's `auth_data`; the algorithm cannot change.
pub async fn update(
    svc: &Services,
    user: &UserId,
    version: &str,
    body_version: Option<&str>,
    algorithm: &str,
    auth_data: Value,
) -> Result<()> {
    if body_version.is_some_and(|b| b != version) {
        return Err(Error::invalid_param("The version in the body does not match the one in the path"));
    }
    let n = parse_version(version)?;
    let auth = check_json_size(svc, "auth_data", &auth_data)?;
    let (u, algorithm) = (user.to_string(), algorithm.to_owned());
    match svc.db.run(move |c| key_backup::set_auth_data(c, &u, n, &algorithm, &auth)).await? {
        AuthDataUpdate::Updated => Ok(()),
        AuthDataUpdate::NoVersion => Err(unknown_version(version)),
        AuthDataUpdate::AlgorithmDiffers => Err(Error::invalid_param("The algorithm of a backup version cannot change")),
    }
}

/// Deletes a version with its keys.
pub async fn delete(svc: &Services, user: &UserId, version: &str) -> Result<()> {
    let n = parse_version(version)?;
    let u = user.to_string();
    if svc.db.run(move |c| key_backup::delete(c, &u, n)).await? { Ok(()) } else { Err(unknown_version(version)) }
}

/// What a write of keys answers: the version's etag and session count after it.
#[derive(Debug, Serialize)]
pub struct KeysWritten {
    pub etag: String,
    pub count: i64,
}

/// Backs up `keys` into the current version, which `version` must name; all or nothing.
pub async fn upload(svc: &Services, user: &UserId, version: &str, keys: RoomKeys) -> Result<KeysWritten> {
    let n = parse_version(version)?;
    let total: usize = keys.values().map(BTreeMap::len).sum();
    if total > MAX_SESSIONS_PER_UPLOAD {
        return Err(Error::new(ErrorKind::FieldTooLong, format!("At most {MAX_SESSIONS_PER_UPLOAD} sessions per request")));
    }
    let mut rows = Vec::with_capacity(total);
    for (room_id, sessions) in keys {
        check_id("room ID", &room_id)?;
        for (session_id, k) in sessions {
            check_id("session ID", &session_id)?;
            if k.first_message_index < 0 || k.forwarded_count < 0 {
                return Err(Error::invalid_param("first_message_index and forwarded_count must not be negative"));
            }
            rows.push(Session {
                user_id: user.to_string(),
                version: n,
                room_id: room_id.clone(),
                session_id,
                first_message_index: k.first_message_index,
                forwarded_count: k.forwarded_count,
                is_verified: k.is_verified,
                session_data: check_json_size(svc, "session_data", &k.session_data)?,
            });
        }
    }
    let u = user.to_string();
    match svc.db.run(move |c| key_backup::upload(c, &u, n, &rows, MAX_SESSIONS_PER_VERSION, replaces)).await? {
        Upload::Done { etag, count } => Ok(KeysWritten { etag: etag.to_string(), count }),
        Upload::NoBackup => Err(unknown_version(version)),
        Upload::NotCurrent(current) => {
            let mut extra = Map::new();
            extra.insert("current_version".into(), json!(current.to_string()));
            Err(Error::new(ErrorKind::WrongRoomKeysVersion, "Keys go to the current backup version only").with_extra(extra))
        }
        Upload::TooMany => Err(Error::forbidden(format!("A backup version holds at most {MAX_SESSIONS_PER_VERSION} sessions"))),
    }
}

fn check_id(what: &str, id: &str) -> Result<()> {
    if id.is_empty() || id.len() > MAX_ID_BYTES {
        return Err(Error::invalid_param(format!("{what} must be 1 to {MAX_ID_BYTES} bytes")));
    }
    Ok(())
}

/// The keys of a version, all of them or a room's; a session asked for and not found is 404.
pub async fn keys(svc: &Services, user: &UserId, version: &str, room_id: Option<&str>, session_id: Option<&str>) -> Result<RoomKeys> {
    let n = parse_version(version)?;
    let (u, room, session) = (user.to_string(), room_id.map(str::to_owned), session_id.map(str::to_owned));
    let found = svc
        .db
        .run(move |c| {
            if key_backup::get(c, &u, n)?.is_none() {
                return Ok(None);
            }
            key_backup::sessions(c, &u, n, room.as_deref(), session.as_deref()).map(Some)
        })
        .await?
        .ok_or_else(|| unknown_version(version))?;
    if session_id.is_some() && found.is_empty() {
        return Err(Error::not_found("No backed-up key for this session"));
    }
    let mut out = RoomKeys::new();
    for s in found {
        let key = KeyData {
            first_message_index: s.first_message_index,
            forwarded_count: s.forwarded_count,
            is_verified: s.is_verified,
            session_data: serde_json::from_str(&s.session_data).unwrap_or(Value::Null),
        };
        out.entry(s.room_id).or_default().insert(s.session_id, key);
    }
    Ok(out)
}

/// Deletes keys of a version: all of them, a room's, or one session.
pub async fn delete_keys(
    svc: &Services,
    user: &UserId,
    version: &str,
    room_id: Option<&str>,
    session_id: Option<&str>,
) -> Result<KeysWritten> {
    let n = parse_version(version)?;
    let (u, room, session) = (user.to_string(), room_id.map(str::to_owned), session_id.map(str::to_owned));
    let (etag, count) = svc
        .db
        .run(move |c| key_backup::delete_sessions(c, &u, n, room.as_deref(), session.as_deref()))
        .await?
        .ok_or_else(|| unknown_version(version))?;
    Ok(KeysWritten { etag: etag.to_string(), count })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(verified: bool, index: i64, forwarded: i64) -> Session {
        Session {
            user_id: String::new(),
            version: 1,
            room_id: String::new(),
            session_id: String::new(),
            first_message_index: index,
            forwarded_count: forwarded,
            is_verified: verified,
            session_data: String::new(),
        }
    }

    #[test]
    fn verified_wins_then_lower_index_then_fewer_forwards() {
        assert!(replaces(&s(true, 9, 9), &s(false, 0, 0)));
        assert!(!replaces(&s(false, 0, 0), &s(true, 9, 9)));
        assert!(replaces(&s(false, 1, 9), &s(false, 2, 0)));
        assert!(!replaces(&s(false, 3, 0), &s(false, 2, 9)));
        assert!(replaces(&s(false, 2, 0), &s(false, 2, 1)));
        assert!(!replaces(&s(false, 2, 1), &s(false, 2, 1)));
    }
}
