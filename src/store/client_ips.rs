//! Where and with what each device was last seen (whois, device lists).

use super::Conn;
use super::Direct;
use super::schema::{devices, user_ips, users};
use crate::error::Result;
use diesel::prelude::*;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Seen {
    pub user_id: String,
    pub device_id: String,
    pub ip: String,
    pub user_agent: String,
}

/// Writes a batch of sightings in one transaction, and each device's latest to `devices`.
pub fn record(conn: &mut Conn, batch: &[(Seen, i64)]) -> Result<()> {
    super::write_txn(conn, |c| {
        for (s, ts) in batch {
            both!(c, |c| diesel::insert_into(user_ips::table)
                .values((
                    user_ips::user_id.eq(&s.user_id),
                    user_ips::device_id.eq(&s.device_id),
                    user_ips::ip.eq(&s.ip),
                    user_ips::user_agent.eq(&s.user_agent),
                    user_ips::last_seen.eq(ts),
                ))
                .on_conflict((user_ips::user_id, user_ips::device_id, user_ips::ip, user_ips::user_agent))
                .do_update()
                .set(user_ips::last_seen.eq(ts))
                .execute(c))?;
            diesel::update(users::table.find(&s.user_id))
                .filter(users::last_seen_ts.is_null().or(users::last_seen_ts.lt(ts)))
                .set(users::last_seen_ts.eq(ts))
                .execute(c)?;
            if !s.device_id.is_empty() {
                diesel::update(devices::table.find((&s.user_id, &s.device_id)))
                    .filter(devices::last_seen_ts.is_null().or(devices::last_seen_ts.le(ts)))
                    .set((devices::last_seen_ts.eq(ts), devices::last_seen_ip.eq(&s.ip), devices::last_seen_user_agent.eq(&s.user_agent)))
                    .execute(c)?;
            }
        }
        Ok(())
    })
}

/// (device_id, ip, user_agent, last_seen) for every connection of the user's current devices.
pub fn connections(conn: &mut Conn, user_id: &str) -> Result<Vec<(String, String, String, i64)>> {
    Ok(user_ips::table
        .inner_join(devices::table.on(devices::user_id.eq(user_ips::user_id).and(devices::device_id.eq(user_ips::device_id))))
        .filter(user_ips::user_id.eq(user_id))
        .order(user_ips::last_seen.desc())
        .select((user_ips::device_id, user_ips::ip, user_ips::user_agent, user_ips::last_seen))
        .load_on(conn)?)
}

pub fn forget_devices(conn: &mut Conn, user_id: &str, device_ids: &[String]) -> Result<()> {
    diesel::delete(user_ips::table.filter(user_ips::user_id.eq(user_id)).filter(user_ips::device_id.eq_any(device_ids))).execute(conn)?;
    Ok(())
}
