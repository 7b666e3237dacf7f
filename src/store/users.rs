//! Users and their profiles.

use super::Conn;
use super::schema::{profiles, users};
use crate::error::MResult;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
pub struct User {
    pub user_id: String,
    pub localpart: String,
    pub password_hash: Option<String>,
    pub admin: bool,
    pub deactivated: bool,
    pub shadow_banned: bool,
    pub erased: bool,
    pub locked: bool,
    pub user_type: Option<String>,
    pub is_guest: bool,
    pub creation_ts: i64,
    pub last_seen_ts: Option<i64>,
}

#[derive(Debug, Clone, Default, Queryable, Selectable, Insertable)]
#[diesel(table_name = profiles)]
pub struct Profile {
    pub user_id: String,
    pub displayname: Option<String>,
    pub avatar_url: Option<String>,
}

impl User {
    pub fn new(user_id: &ruma::UserId, password_hash: Option<String>, admin: bool) -> Self {
        Self {
            user_id: user_id.to_string(),
            localpart: user_id.localpart().to_owned(),
            password_hash,
            admin,
            deactivated: false,
            shadow_banned: false,
            erased: false,
            locked: false,
            user_type: None,
            is_guest: false,
            creation_ts: crate::ids::now_ms(),
            last_seen_ts: None,
        }
    }
}

pub fn find(conn: &mut Conn, id: &str) -> MResult<Option<User>> {
    Ok(users::table.find(id).select(User::as_select()).first(conn).optional()?)
}

pub fn exists(conn: &mut Conn, id: &str) -> MResult<bool> {
    Ok(diesel::select(diesel::dsl::exists(users::table.find(id))).get_result(conn)?)
}

/// Inserts the user and a profile whose displayname is the localpart. Returns false if taken.
pub fn create(conn: &mut Conn, user: &User) -> MResult<bool> {
    super::write_txn(conn, |c| {
        if exists(c, &user.user_id)? {
            return Ok(false);
        }
        diesel::insert_into(users::table).values(user).execute(c)?;
        let profile = Profile { user_id: user.user_id.clone(), displayname: Some(user.localpart.clone()), avatar_url: None };
        diesel::insert_into(profiles::table).values(&profile).execute(c)?;
        Ok(true)
    })
}

pub fn set_password_hash(conn: &mut Conn, id: &str, hash: Option<&str>) -> MResult<usize> {
    Ok(diesel::update(users::table.find(id)).set(users::password_hash.eq(hash)).execute(conn)?)
}

pub fn set_admin(conn: &mut Conn, id: &str, admin: bool) -> MResult<usize> {
    Ok(diesel::update(users::table.find(id)).set(users::admin.eq(admin)).execute(conn)?)
}

pub fn set_deactivated(conn: &mut Conn, id: &str, deactivated: bool) -> MResult<usize> {
    Ok(diesel::update(users::table.find(id)).set(users::deactivated.eq(deactivated)).execute(conn)?)
}

pub fn profile(conn: &mut Conn, id: &str) -> MResult<Option<Profile>> {
    Ok(profiles::table.find(id).select(Profile::as_select()).first(conn).optional()?)
}

pub fn set_profile(conn: &mut Conn, p: &Profile) -> MResult<()> {
    diesel::insert_into(profiles::table)
        .values(p)
        .on_conflict(profiles::user_id)
        .do_update()
        .set((profiles::displayname.eq(&p.displayname), profiles::avatar_url.eq(&p.avatar_url)))
        .execute(conn)?;
    Ok(())
}

/// Marks the user deactivated, removes password, devices and tokens; with `erase` also the
/// profile. Returns the token hashes removed.
pub fn deactivate(conn: &mut Conn, id: &str, erase: bool) -> MResult<Vec<String>> {
    super::write_txn(conn, |c| {
        diesel::update(users::table.find(id)).set((users::deactivated.eq(true), users::password_hash.eq(None::<String>))).execute(c)?;
        if erase {
            diesel::update(users::table.find(id)).set(users::erased.eq(true)).execute(c)?;
            diesel::update(profiles::table.find(id))
                .set((profiles::displayname.eq(None::<String>), profiles::avatar_url.eq(None::<String>)))
                .execute(c)?;
        }
        super::sessions::delete_all_tokens(c, id, None, false)
    })
}
