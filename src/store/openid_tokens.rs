//! OpenID tokens: the SHA-256 of each token, whose it is and until when.

use super::Conn;
use super::Direct;
use super::schema::openid_tokens as ot;
use crate::error::Result;
use diesel::prelude::*;

/// Stores a token's hash for `user_id` until `expires_at` (ms). Expired tokens are dropped
/// first, and past `keep` live tokens of the user the oldest go, so the table stays bounded.
pub fn insert(conn: &mut Conn, token_hash: &str, user_id: &str, expires_at: i64, now: i64, keep: i64) -> Result<()> {
    super::write_txn(conn, |c| {
        diesel::delete(ot::table.filter(ot::expires_at.le(now))).execute(c)?;
        diesel::insert_into(ot::table)
            .values((ot::token_hash.eq(token_hash), ot::user_id.eq(user_id), ot::expires_at.eq(expires_at)))
            .execute(c)?;
        let kept = ot::table
            .filter(ot::user_id.eq(user_id))
            .order((ot::expires_at.desc(), ot::token_hash.asc()))
            .limit(keep)
            .select(ot::token_hash)
            .load_on::<String>(c)?;
        diesel::delete(ot::table.filter(ot::user_id.eq(user_id)).filter(ot::token_hash.ne_all(kept))).execute(c)?;
        Ok(())
    })
}

/// The user a live token belongs to.
pub fn user_of(conn: &mut Conn, token_hash: &str, now: i64) -> Result<Option<String>> {
    Ok(ot::table.find(token_hash).filter(ot::expires_at.gt(now)).select(ot::user_id).first_on(conn).optional()?)
}
