//! End-to-end encryption keys: local device keys, one-time and fallback keys, cross-signing keys,
//! device list versions, and remote users' device lists as their servers last reported them.
//! Key objects are kept as the JSON the client signed: re-serialising would break signatures.

use super::Conn;
use super::Direct;
use super::schema::{
    cross_signing_keys, device_keys, device_list_streams, devices, fallback_keys, key_signatures, one_time_keys, remote_device_lists,
    remote_devices,
};
use crate::error::{Error, Result};
use diesel::prelude::*;
use std::collections::BTreeMap;

/// One device as `/keys/query` and the federation device list report it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceKeys {
    pub device_id: String,
    pub display_name: Option<String>,
    pub key_json: Option<String>,
}

pub struct OneTimeKey {
    pub key_id: String,
    pub algorithm: String,
    pub key_json: String,
}

/// Stores what `/keys/upload` carries in one transaction and returns the one-time key counts.
pub fn upload(
    conn: &mut Conn,
    user_id: &str,
    device_id: &str,
    keys: Option<&str>,
    one_time: &[OneTimeKey],
    fallback: &[OneTimeKey],
) -> Result<BTreeMap<String, i64>> {
    super::write_txn(conn, |c| {
        if let Some(json) = keys {
            let old: Option<String> = device_keys::table.find((user_id, device_id)).select(device_keys::key_json).first_on(c).optional()?;
            if old.as_deref() != Some(json) {
                both!(c, |c| diesel::insert_into(device_keys::table)
                    .values((device_keys::user_id.eq(user_id), device_keys::device_id.eq(device_id), device_keys::key_json.eq(json)))
                    .on_conflict((device_keys::user_id, device_keys::device_id))
                    .do_update()
                    .set(device_keys::key_json.eq(json))
                    .execute(c))?;
                bump_device_list(c, user_id)?;
            }
        }
        for k in one_time {
            let old: Option<String> =
                one_time_keys::table.find((user_id, device_id, &k.key_id)).select(one_time_keys::key_json).first_on(c).optional()?;
            match old {
                // Clients retry uploads: the same key again is fine, a different one under the
                // same ID would silently replace a key a peer may already have claimed.
                Some(old) if old == k.key_json => {}
                Some(_) => return Err(Error::invalid_param(format!("One time key {} already exists with other content", k.key_id))),
                None => {
                    diesel::insert_into(one_time_keys::table)
                        .values((
                            one_time_keys::user_id.eq(user_id),
                            one_time_keys::device_id.eq(device_id),
                            one_time_keys::key_id.eq(&k.key_id),
                            one_time_keys::algorithm.eq(&k.algorithm),
                            one_time_keys::key_json.eq(&k.key_json),
                        ))
                        .execute(c)?;
                }
            }
        }
        for k in fallback {
            both!(c, |c| diesel::insert_into(fallback_keys::table)
                .values((
                    fallback_keys::user_id.eq(user_id),
                    fallback_keys::device_id.eq(device_id),
                    fallback_keys::algorithm.eq(&k.algorithm),
                    fallback_keys::key_id.eq(&k.key_id),
                    fallback_keys::key_json.eq(&k.key_json),
                    fallback_keys::used.eq(false),
                ))
                .on_conflict((fallback_keys::user_id, fallback_keys::device_id, fallback_keys::algorithm))
                .do_update()
                .set((fallback_keys::key_id.eq(&k.key_id), fallback_keys::key_json.eq(&k.key_json), fallback_keys::used.eq(false)))
                .execute(c))?;
        }
        one_time_key_counts(c, user_id, device_id)
    })
}

pub fn one_time_key_counts(conn: &mut Conn, user_id: &str, device_id: &str) -> Result<BTreeMap<String, i64>> {
    let rows: Vec<(String, i64)> = one_time_keys::table
        .filter(one_time_keys::user_id.eq(user_id))
        .filter(one_time_keys::device_id.eq(device_id))
        .group_by(one_time_keys::algorithm)
        .select((one_time_keys::algorithm, diesel::dsl::count_star()))
        .load_on(conn)?;
    Ok(rows.into_iter().collect())
}

/// Algorithms of the device's fallback keys that no one has claimed yet.
pub fn unused_fallback_algorithms(conn: &mut Conn, user_id: &str, device_id: &str) -> Result<Vec<String>> {
    Ok(fallback_keys::table
        .filter(fallback_keys::user_id.eq(user_id))
        .filter(fallback_keys::device_id.eq(device_id))
        .filter(fallback_keys::used.eq(false))
        .select(fallback_keys::algorithm)
        .load_on(conn)?)
}

/// A local user's devices with their keys (devices that uploaded none have `key_json: None`);
/// an empty `only` means every device.
pub fn local_devices(conn: &mut Conn, user_id: &str, only: &[String]) -> Result<Vec<DeviceKeys>> {
    let mut q = devices::table
        .left_join(device_keys::table.on(device_keys::user_id.eq(devices::user_id).and(device_keys::device_id.eq(devices::device_id))))
        .filter(devices::user_id.eq(user_id))
        .select((devices::device_id, devices::display_name, device_keys::key_json.nullable()))
        .order(devices::device_id)
        .into_boxed();
    if !only.is_empty() {
        q = q.filter(devices::device_id.eq_any(only));
    }
    let rows: Vec<(String, Option<String>, Option<String>)> = q.load(conn)?;
    Ok(rows.into_iter().map(|(device_id, display_name, key_json)| DeviceKeys { device_id, display_name, key_json }).collect())
}

/// Takes one key of `algorithm` for the device: a one-time key if any is left (removed, so no
/// two peers get it), else the fallback key (kept, marked used).
pub fn claim(conn: &mut Conn, user_id: &str, device_id: &str, algorithm: &str) -> Result<Option<(String, String)>> {
    super::write_txn(conn, |c| {
        let otk: Option<(String, String)> = one_time_keys::table
            .filter(one_time_keys::user_id.eq(user_id))
            .filter(one_time_keys::device_id.eq(device_id))
            .filter(one_time_keys::algorithm.eq(algorithm))
            .order(one_time_keys::key_id)
            .select((one_time_keys::key_id, one_time_keys::key_json))
            .first_on(c)
            .optional()?;
        if let Some((key_id, json)) = otk {
            diesel::delete(one_time_keys::table.find((user_id, device_id, &key_id))).execute(c)?;
            return Ok(Some((key_id, json)));
        }
        let fb = fallback_keys::table.find((user_id, device_id, algorithm));
        let found: Option<(String, String)> = fb.select((fallback_keys::key_id, fallback_keys::key_json)).first_on(c).optional()?;
        if found.is_some() {
            diesel::update(fb).set(fallback_keys::used.eq(true)).execute(c)?;
        }
        Ok(found)
    })
}

/// The user's cross-signing keys by type (`master`, `self_signing`, `user_signing`).
pub fn cross_signing(conn: &mut Conn, user_id: &str) -> Result<BTreeMap<String, String>> {
    let rows: Vec<(String, String)> = cross_signing_keys::table
        .filter(cross_signing_keys::user_id.eq(user_id))
        .select((cross_signing_keys::key_type, cross_signing_keys::key_json))
        .load_on(conn)?;
    Ok(rows.into_iter().collect())
}

pub fn set_cross_signing(conn: &mut Conn, user_id: &str, keys: &BTreeMap<String, String>) -> Result<()> {
    super::write_txn(conn, |c| {
        for (kind, json) in keys {
            both!(c, |c| diesel::insert_into(cross_signing_keys::table)
                .values((
                    cross_signing_keys::user_id.eq(user_id),
                    cross_signing_keys::key_type.eq(kind),
                    cross_signing_keys::key_json.eq(json),
                ))
                .on_conflict((cross_signing_keys::user_id, cross_signing_keys::key_type))
                .do_update()
                .set(cross_signing_keys::key_json.eq(json))
                .execute(c))?;
        }
        // Only a user-signing key alone stays private (others verify with master and self-signing).
        bump(c, user_id, keys.keys().any(|k| k != "user_signing"))
    })
}

/// Marks a change to the user's device list: the user moves to the head of the device list
/// stream, so syncs see them as changed and remote servers see a newer `stream_id`. Callers run
/// inside a write transaction, so the next position is not taken twice.
pub fn bump_device_list(conn: &mut Conn, user_id: &str) -> Result<()> {
    bump(conn, user_id, true)
}

/// `public`: room-mates hear of the change too; otherwise only the user's own devices do.
fn bump(conn: &mut Conn, user_id: &str, public: bool) -> Result<()> {
    let next = super::streams::next(conn, super::streams::Stream::DeviceLists)?;
    let public_at = if public { next } else { device_list_public_stream(conn, user_id)? };
    both!(conn, |c| diesel::insert_into(device_list_streams::table)
        .values((
            device_list_streams::user_id.eq(user_id),
            device_list_streams::stream_id.eq(next),
            device_list_streams::public_stream_id.eq(public_at),
        ))
        .on_conflict(device_list_streams::user_id)
        .do_update()
        .set((device_list_streams::stream_id.eq(next), device_list_streams::public_stream_id.eq(public_at)))
        .execute(c))?;
    Ok(())
}

fn device_list_public_stream(conn: &mut Conn, user_id: &str) -> Result<i64> {
    Ok(device_list_streams::table.find(user_id).select(device_list_streams::public_stream_id).first_on(conn).optional()?.unwrap_or(0))
}

/// The head of the device list stream.
pub fn device_list_position(conn: &mut Conn) -> Result<i64> {
    super::streams::current(conn, super::streams::Stream::DeviceLists)
}

/// Users whose device list changed in (after, upto] and who share a joined room with `user`
/// (the user themself included): whom a client should re-query keys for.
pub fn changed_for(conn: &mut Conn, user: &str, after: i64, upto: i64) -> Result<Vec<ruma::OwnedUserId>> {
    let rows: Vec<(String, i64)> = device_list_streams::table
        .filter(device_list_streams::stream_id.gt(after))
        .filter(device_list_streams::stream_id.le(upto))
        .select((device_list_streams::user_id, device_list_streams::public_stream_id))
        .load_on(conn)?;
    // Someone else's private change (a user-signing key) is not news to this user.
    let changed: Vec<String> =
        rows.into_iter().filter(|(u, public)| u == user || (*public > after && *public <= upto)).map(|(u, _)| u).collect();
    if changed.is_empty() {
        return Ok(Vec::new());
    }
    let mut users = super::memberships::room_mates(conn, user)?;
    users.retain(|u| changed.iter().any(|c| c == u.as_str()));
    users.sort();
    Ok(users)
}

pub fn device_list_stream(conn: &mut Conn, user_id: &str) -> Result<i64> {
    Ok(device_list_streams::table.find(user_id).select(device_list_streams::stream_id).first_on(conn).optional()?.unwrap_or(0))
}

/// Removes the keys of deleted devices; runs inside the caller's device deletion transaction.
pub fn delete_for_devices(conn: &mut Conn, user_id: &str, device_ids: &[String]) -> Result<()> {
    diesel::delete(device_keys::table.filter(device_keys::user_id.eq(user_id)).filter(device_keys::device_id.eq_any(device_ids)))
        .execute(conn)?;
    diesel::delete(one_time_keys::table.filter(one_time_keys::user_id.eq(user_id)).filter(one_time_keys::device_id.eq_any(device_ids)))
        .execute(conn)?;
    diesel::delete(fallback_keys::table.filter(fallback_keys::user_id.eq(user_id)).filter(fallback_keys::device_id.eq_any(device_ids)))
        .execute(conn)?;
    if !device_ids.is_empty() {
        bump_device_list(conn, user_id)?;
    }
    Ok(())
}

/// Everything a deactivated user had: device and cross-signing keys go with the account.
pub fn delete_all(conn: &mut Conn, user_id: &str) -> Result<()> {
    diesel::delete(device_keys::table.filter(device_keys::user_id.eq(user_id))).execute(conn)?;
    diesel::delete(one_time_keys::table.filter(one_time_keys::user_id.eq(user_id))).execute(conn)?;
    diesel::delete(fallback_keys::table.filter(fallback_keys::user_id.eq(user_id))).execute(conn)?;
    diesel::delete(cross_signing_keys::table.filter(cross_signing_keys::user_id.eq(user_id))).execute(conn)?;
    diesel::delete(key_signatures::table.filter(key_signatures::target_user.eq(user_id).or(key_signatures::signer_user.eq(user_id))))
        .execute(conn)?;
    bump_device_list(conn, user_id)
}

/// A remote user's device list as last fetched: `None` if it was never fetched.
pub fn remote_devices(conn: &mut Conn, user_id: &str) -> Result<Option<(i64, Vec<DeviceKeys>)>> {
    let Some(stream_id) = remote_device_lists::table.find(user_id).select(remote_device_lists::stream_id).first_on(conn).optional()? else {
        return Ok(None);
    };
    let rows: Vec<(String, Option<String>, Option<String>)> = remote_devices::table
        .filter(remote_devices::user_id.eq(user_id))
        .order(remote_devices::device_id)
        .select((remote_devices::device_id, remote_devices::display_name, remote_devices::key_json))
        .load_on(conn)?;
    Ok(Some((
        stream_id,
        rows.into_iter().map(|(device_id, display_name, key_json)| DeviceKeys { device_id, display_name, key_json }).collect(),
    )))
}

/// Replaces a remote user's stored device list and cross-signing keys with a fresh answer from
/// their server, in one transaction: a reader sees the old list or the new one, never a mix.
pub fn replace_remote(conn: &mut Conn, user_id: &str, stream_id: i64, list: &[DeviceKeys], cross: &BTreeMap<String, String>) -> Result<()> {
    super::write_txn(conn, |c| {
        diesel::delete(remote_devices::table.filter(remote_devices::user_id.eq(user_id))).execute(c)?;
        for d in list {
            diesel::insert_into(remote_devices::table)
                .values((
                    remote_devices::user_id.eq(user_id),
                    remote_devices::device_id.eq(&d.device_id),
                    remote_devices::display_name.eq(&d.display_name),
                    remote_devices::key_json.eq(&d.key_json),
                ))
                .execute(c)?;
        }
        diesel::delete(cross_signing_keys::table.filter(cross_signing_keys::user_id.eq(user_id))).execute(c)?;
        for (kind, json) in cross {
            diesel::insert_into(cross_signing_keys::table)
                .values((
                    cross_signing_keys::user_id.eq(user_id),
                    cross_signing_keys::key_type.eq(kind),
                    cross_signing_keys::key_json.eq(json),
                ))
                .execute(c)?;
        }
        let now = crate::ids::now_ms();
        both!(c, |c| diesel::insert_into(remote_device_lists::table)
            .values((
                remote_device_lists::user_id.eq(user_id),
                remote_device_lists::stream_id.eq(stream_id),
                remote_device_lists::refreshed_ts.eq(now),
            ))
            .on_conflict(remote_device_lists::user_id)
            .do_update()
            .set((remote_device_lists::stream_id.eq(stream_id), remote_device_lists::refreshed_ts.eq(now)))
            .execute(c))?;
        Ok(())
    })
}

/// One uploaded signature: on `target_key` (a device ID or a cross-signing public key) of
/// `target_user`, by `signer_key` of `signer_user`.
pub struct KeySignature {
    pub target_user: String,
    pub target_key: String,
    pub signer_user: String,
    pub signer_key: String,
    pub signature: String,
}

pub fn add_signatures(conn: &mut Conn, sigs: &[KeySignature]) -> Result<()> {
    super::write_txn(conn, |c| {
        for s in sigs {
            both!(c, |c| diesel::insert_into(key_signatures::table)
                .values((
                    key_signatures::target_user.eq(&s.target_user),
                    key_signatures::target_key.eq(&s.target_key),
                    key_signatures::signer_user.eq(&s.signer_user),
                    key_signatures::signer_key.eq(&s.signer_key),
                    key_signatures::signature.eq(&s.signature),
                ))
                .on_conflict((
                    key_signatures::target_user,
                    key_signatures::target_key,
                    key_signatures::signer_user,
                    key_signatures::signer_key,
                ))
                .do_update()
                .set(key_signatures::signature.eq(&s.signature))
                .execute(c))?;
        }
        let mut targets: Vec<&str> = sigs.iter().map(|s| s.target_user.as_str()).collect();
        targets.dedup();
        for t in targets {
            bump_device_list(c, t)?;
        }
        Ok(())
    })
}

/// Signatures on `target_user`'s keys that `viewer` may see: the owner's own, and the viewer's.
/// (target key, signer user, signer key, signature).
pub fn signatures_for(conn: &mut Conn, target_user: &str, viewer: &str) -> Result<Vec<(String, String, String, String)>> {
    Ok(key_signatures::table
        .filter(key_signatures::target_user.eq(target_user))
        .filter(key_signatures::signer_user.eq(target_user).or(key_signatures::signer_user.eq(viewer)))
        .select((key_signatures::target_key, key_signatures::signer_user, key_signatures::signer_key, key_signatures::signature))
        .load_on(conn)?)
}
