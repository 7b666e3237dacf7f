//! The wire form of positions: pagination and sync tokens.

use crate::error::{Error, Result};
use crate::service::sync::Positions;

/// A pagination or sync token: `s<events>_<account data>` or `t<events>`; the events position.
pub fn parse_token(t: &str) -> Result<i64> {
    let body = t.strip_prefix('s').or_else(|| t.strip_prefix('t')).unwrap_or(t);
    body.split('_').next().and_then(|p| p.parse().ok()).ok_or_else(|| Error::invalid_param("Invalid pagination token"))
}

/// A pagination token for an events position.
pub fn page_token(pos: i64) -> String {
    format!("t{pos}")
}

/// A sync token: `s<events>_<account data>_<to-device>_<device lists>_<receipts>_<typing>_<presence>`.
/// Positions added later are missing from older tokens: they read as 0.
pub fn parse_since(t: &str) -> Result<Positions> {
    let bad = || Error::invalid_param("Invalid since token");
    let body = t.strip_prefix('s').ok_or_else(bad)?;
    let mut parts = body.split('_');
    let events = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let mut next = || parts.next().map_or(Ok(0), |p| p.parse::<i64>().map_err(|_| bad()));
    Ok(Positions {
        events,
        account_data: next()?,
        to_device: next()?,
        device_lists: next()?,
        receipts: next()?,
        typing: next()?,
        presence: next()?,
    })
}

/// The `next_batch` for positions `p`: the inverse of [`parse_since`].
pub fn since_token(p: &Positions) -> String {
    format!("s{}_{}_{}_{}_{}_{}_{}", p.events, p.account_data, p.to_device, p.device_lists, p.receipts, p.typing, p.presence)
}
