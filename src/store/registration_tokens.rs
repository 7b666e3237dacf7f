//! Registration tokens (Synapse's admin API and the `m.login.registration_token` stage). Only
//! completed uses are stored; pending uses are the UIA sessions holding a token, in memory.

use super::Conn;
use super::schema::registration_tokens as rt;
use crate::error::Result;
use diesel::prelude::*;

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = rt)]
pub struct RegistrationToken {
    pub token: String,
    pub uses_allowed: Option<i64>,
    pub completed: i64,
    pub expiry_time: Option<i64>,
    pub created_ts: i64,
}

/// Every token, oldest first.
pub fn list(conn: &mut Conn) -> Result<Vec<RegistrationToken>> {
    Ok(rt::table.order((rt::created_ts.asc(), rt::token.asc())).select(RegistrationToken::as_select()).load(conn)?)
}

pub fn find(conn: &mut Conn, token: &str) -> Result<Option<RegistrationToken>> {
    Ok(rt::table.find(token).select(RegistrationToken::as_select()).first(conn).optional()?)
}

/// Creates the token; false if one with that text exists.
pub fn create(conn: &mut Conn, t: &RegistrationToken) -> Result<bool> {
    Ok(both!(conn, |c| diesel::insert_into(rt::table).values(t).on_conflict_do_nothing().execute(c))? == 1)
}

/// What an update changes: `Some(value)` sets the column (`Some(None)` clears it).
#[derive(Debug, Clone, Default)]
pub struct TokenChange {
    pub uses_allowed: Option<Option<i64>>,
    pub expiry_time: Option<Option<i64>>,
}

/// Applies `change` and returns the token as it now is; `None` if there is no such token.
pub fn update(conn: &mut Conn, token: &str, change: &TokenChange) -> Result<Option<RegistrationToken>> {
    super::write_txn(conn, |c| {
        if let Some(uses) = change.uses_allowed {
            diesel::update(rt::table.find(token)).set(rt::uses_allowed.eq(uses)).execute(c)?;
        }
        if let Some(expiry) = change.expiry_time {
            diesel::update(rt::table.find(token)).set(rt::expiry_time.eq(expiry)).execute(c)?;
        }
        find(c, token)
    })
}

/// Deletes the token; false if there was none.
pub fn delete(conn: &mut Conn, token: &str) -> Result<bool> {
    Ok(diesel::delete(rt::table.find(token)).execute(conn)? == 1)
}

/// Counts one completed registration with the token (a token deleted meanwhile counts nothing).
pub fn complete_use(conn: &mut Conn, token: &str) -> Result<()> {
    diesel::update(rt::table.find(token)).set(rt::completed.eq(rt::completed + 1)).execute(conn)?;
    Ok(())
}
