//! Pushers set with the client API's `/pushers/set`.

use super::Conn;
use super::schema::pushers;
use crate::error::Result;
use diesel::prelude::*;
use std::collections::HashMap;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = pushers)]
pub struct Pusher {
    pub user_id: String,
    pub app_id: String,
    pub pushkey: String,
    pub kind: String,
    pub app_display_name: String,
    pub device_display_name: String,
    pub profile_tag: Option<String>,
    pub lang: String,
    pub data: String,
    pub device_id: Option<String>,
    pub created_ts: i64,
}

pub fn list(conn: &mut Conn, user_id: &str) -> Result<Vec<Pusher>> {
    Ok(pushers::table.filter(pushers::user_id.eq(user_id)).order(pushers::created_ts.asc()).select(Pusher::as_select()).load(conn)?)
}

/// The HTTP pushers of each of `users` who has any, oldest first: one query per 500 users.
pub fn http_of(conn: &mut Conn, users: &[&str]) -> Result<HashMap<String, Vec<Pusher>>> {
    let mut out: HashMap<String, Vec<Pusher>> = HashMap::new();
    for chunk in users.chunks(500) {
        let rows: Vec<Pusher> = pushers::table
            .filter(pushers::user_id.eq_any(chunk))
            .filter(pushers::kind.eq("http"))
            .order(pushers::created_ts.asc())
            .select(Pusher::as_select())
            .load(conn)?;
        for p in rows {
            out.entry(p.user_id.clone()).or_default().push(p);
        }
    }
    Ok(out)
}

/// Creates or replaces the pusher (user, app_id, pushkey); without `append`, the same
/// (app_id, pushkey) is removed from every other user, as the spec requires.
pub fn set(conn: &mut Conn, p: &Pusher, append: bool) -> Result<()> {
    super::write_txn(conn, |c| {
        if !append {
            diesel::delete(
                pushers::table
                    .filter(pushers::app_id.eq(&p.app_id))
                    .filter(pushers::pushkey.eq(&p.pushkey))
                    .filter(pushers::user_id.ne(&p.user_id)),
            )
            .execute(c)?;
        }
        diesel::delete(pushers::table.find((&p.user_id, &p.app_id, &p.pushkey))).execute(c)?;
        diesel::insert_into(pushers::table).values(p).execute(c)?;
        Ok(())
    })
}

pub fn delete(conn: &mut Conn, user_id: &str, app_id: &str, pushkey: &str) -> Result<usize> {
    Ok(diesel::delete(pushers::table.find((user_id, app_id, pushkey))).execute(conn)?)
}

pub fn delete_for_devices(conn: &mut Conn, user_id: &str, device_ids: &[String]) -> Result<()> {
    diesel::delete(pushers::table.filter(pushers::user_id.eq(user_id)).filter(pushers::device_id.eq_any(device_ids))).execute(conn)?;
    Ok(())
}
