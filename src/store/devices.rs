//! Devices and the access tokens that belong to them.

use super::Conn;
use super::Direct;
use super::schema::{access_tokens, devices};
use crate::error::Result;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = devices)]
pub struct Device {
    pub user_id: String,
    pub device_id: String,
    pub display_name: Option<String>,
    pub last_seen_ts: Option<i64>,
    pub last_seen_ip: Option<String>,
    pub last_seen_user_agent: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = access_tokens)]
pub struct AccessToken {
    pub token_hash: String,
    pub user_id: String,
    pub device_id: Option<String>,
    pub valid_until_ms: Option<i64>,
    pub puppeted_by: Option<String>,
    pub created_ts: i64,
}

/// Creates the device if it does not exist (keeping its name if it does) and a token for it.
pub fn login(conn: &mut Conn, user_id: &str, device_id: &str, display_name: Option<&str>, token_hash: &str) -> Result<Vec<String>> {
    super::write_txn(conn, |c| {
        let mut replaced = Vec::new();
        let existing: Option<String> = devices::table.find((user_id, device_id)).select(devices::device_id).first_on(c).optional()?;
        if existing.is_none() {
            diesel::insert_into(devices::table)
                .values(Device {
                    user_id: user_id.into(),
                    device_id: device_id.into(),
                    display_name: display_name.map(str::to_owned),
                    last_seen_ts: Some(crate::ids::now_ms()),
                    last_seen_ip: None,
                    last_seen_user_agent: None,
                })
                .execute(c)?;
            super::e2e_keys::bump_device_list(c, user_id)?;
        } else {
            // Logging in again on a device replaces its old tokens, as the spec requires.
            let old = access_tokens::table.filter(access_tokens::user_id.eq(user_id)).filter(access_tokens::device_id.eq(device_id));
            replaced = old.select(access_tokens::token_hash).load_on(c)?;
            diesel::delete(old).execute(c)?;
        }
        diesel::insert_into(access_tokens::table)
            .values(AccessToken {
                token_hash: token_hash.into(),
                user_id: user_id.into(),
                device_id: Some(device_id.into()),
                valid_until_ms: None,
                puppeted_by: None,
                created_ts: crate::ids::now_ms(),
            })
            .execute(c)?;
        Ok(replaced)
    })
}

pub fn insert_token(conn: &mut Conn, token: &AccessToken) -> Result<()> {
    diesel::insert_into(access_tokens::table).values(token).execute(conn)?;
    Ok(())
}

pub fn find_token(conn: &mut Conn, token_hash: &str) -> Result<Option<AccessToken>> {
    Ok(access_tokens::table.find(token_hash).select(AccessToken::as_select()).first(conn).optional()?)
}

pub fn delete_token(conn: &mut Conn, token_hash: &str) -> Result<()> {
    diesel::delete(access_tokens::table.find(token_hash)).execute(conn)?;
    Ok(())
}

/// Deletes every token of the user (and their devices unless `keep_devices`), except those of
/// `except_device`. Returns the hashes deleted so caches can forget them.
pub fn delete_all_tokens(conn: &mut Conn, user_id: &str, except_device: Option<&str>, keep_devices: bool) -> Result<Vec<String>> {
    super::write_txn(conn, |c| {
        // Tokens this user minted as an admin to act as others die with their own sessions.
        let mut q = access_tokens::table
            .filter(
                access_tokens::user_id
                    .eq(user_id)
                    .or(access_tokens::puppeted_by.eq(user_id).and(except_device.is_none().into_sql::<diesel::sql_types::Bool>())),
            )
            .into_boxed();
        if let Some(d) = except_device {
            q = q.filter(access_tokens::device_id.ne(d).or(access_tokens::device_id.is_null()));
        }
        let hashes: Vec<String> = q.select(access_tokens::token_hash).load(c)?;
        diesel::delete(access_tokens::table.filter(access_tokens::token_hash.eq_any(&hashes))).execute(c)?;
        if !keep_devices {
            let mut gone: Vec<String> = devices::table.filter(devices::user_id.eq(user_id)).select(devices::device_id).load_on(c)?;
            gone.retain(|d| Some(d.as_str()) != except_device);
            diesel::delete(devices::table.filter(devices::user_id.eq(user_id)).filter(devices::device_id.eq_any(&gone))).execute(c)?;
            forget_device_data(c, user_id, &gone)?;
        }
        Ok(hashes)
    })
}

pub fn list_devices(conn: &mut Conn, user_id: &str) -> Result<Vec<Device>> {
    Ok(devices::table.filter(devices::user_id.eq(user_id)).order(devices::device_id).select(Device::as_select()).load(conn)?)
}

pub fn find_device(conn: &mut Conn, user_id: &str, device_id: &str) -> Result<Option<Device>> {
    Ok(devices::table.find((user_id, device_id)).select(Device::as_select()).first(conn).optional()?)
}

/// Renames a device; a name is part of what others see of the device list, so it counts as a change.
pub fn rename_device(conn: &mut Conn, user_id: &str, device_id: &str, name: Option<&str>) -> Result<usize> {
    super::write_txn(conn, |c| {
        let n = diesel::update(devices::table.find((user_id, device_id))).set(devices::display_name.eq(name)).execute(c)?;
        if n == 1 {
            super::e2e_keys::bump_device_list(c, user_id)?;
        }
        Ok(n)
    })
}

/// Deletes the devices and their tokens; returns the token hashes removed.
pub fn delete_devices(conn: &mut Conn, user_id: &str, device_ids: &[String]) -> Result<Vec<String>> {
    super::write_txn(conn, |c| {
        let hashes: Vec<String> = access_tokens::table
            .filter(access_tokens::user_id.eq(user_id))
            .filter(access_tokens::device_id.eq_any(device_ids))
            .select(access_tokens::token_hash)
            .load_on(c)?;
        diesel::delete(access_tokens::table.filter(access_tokens::token_hash.eq_any(&hashes))).execute(c)?;
        diesel::delete(devices::table.filter(devices::user_id.eq(user_id)).filter(devices::device_id.eq_any(device_ids))).execute(c)?;
        forget_device_data(c, user_id, device_ids)?;
        Ok(hashes)
    })
}

/// Creates a device with no token (admin API); false if it already existed.
pub fn create_device(conn: &mut Conn, user_id: &str, device_id: &str) -> Result<bool> {
    super::write_txn(conn, |c| {
        let n = both!(c, |c| diesel::insert_into(devices::table)
            .values(Device {
                user_id: user_id.into(),
                device_id: device_id.into(),
                display_name: None,
                last_seen_ts: None,
                last_seen_ip: None,
                last_seen_user_agent: None,
            })
            .on_conflict_do_nothing()
            .execute(c))?;
        if n == 1 {
            super::e2e_keys::bump_device_list(c, user_id)?;
        }
        Ok(n == 1)
    })
}

/// `/logout/all`: every device and token of the user, and every token the user minted as an admin
/// to act as others; tokens an admin minted to act as this user survive (Synapse's rule).
pub fn logout_everywhere(conn: &mut Conn, user_id: &str) -> Result<Vec<String>> {
    super::write_txn(conn, |c| {
        let hashes: Vec<String> = access_tokens::table
            .filter(access_tokens::user_id.eq(user_id).and(access_tokens::puppeted_by.is_null()).or(access_tokens::puppeted_by.eq(user_id)))
            .select(access_tokens::token_hash)
            .load_on(c)?;
        diesel::delete(access_tokens::table.filter(access_tokens::token_hash.eq_any(&hashes))).execute(c)?;
        let devices: Vec<String> = devices::table.filter(devices::user_id.eq(user_id)).select(devices::device_id).load_on(c)?;
        diesel::delete(devices::table.filter(devices::user_id.eq(user_id))).execute(c)?;
        forget_device_data(c, user_id, &devices)?;
        Ok(hashes)
    })
}

/// What belongs to a device beside its tokens: pushers, connection history, E2E keys, inbox.
/// Runs inside the caller's device deletion transaction.
fn forget_device_data(c: &mut Conn, user_id: &str, device_ids: &[String]) -> Result<()> {
    super::pushers::delete_for_devices(c, user_id, device_ids)?;
    super::client_ips::forget_devices(c, user_id, device_ids)?;
    super::e2e_keys::delete_for_devices(c, user_id, device_ids)?;
    super::to_device::delete_for_devices(c, user_id, device_ids)
}
