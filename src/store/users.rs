//! Users and their profiles.

use super::Conn;
use super::Direct;
use super::schema::{profiles, users};
use crate::error::Result;
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
    pub suspended: bool,
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
            suspended: false,
        }
    }
}

pub fn find(conn: &mut Conn, id: &str) -> Result<Option<User>> {
    Ok(users::table.find(id).select(User::as_select()).first(conn).optional()?)
}

pub fn exists(conn: &mut Conn, id: &str) -> Result<bool> {
    Ok(diesel::select(diesel::dsl::exists(users::table.find(id))).get_result_on(conn)?)
}

/// Inserts the user and a profile whose displayname is the localpart. Returns false if taken.
pub fn create(conn: &mut Conn, user: &User) -> Result<bool> {
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

pub fn set_password_hash(conn: &mut Conn, id: &str, hash: Option<&str>) -> Result<usize> {
    Ok(diesel::update(users::table.find(id)).set(users::password_hash.eq(hash)).execute(conn)?)
}

pub fn set_admin(conn: &mut Conn, id: &str, admin: bool) -> Result<usize> {
    Ok(diesel::update(users::table.find(id)).set(users::admin.eq(admin)).execute(conn)?)
}

pub fn set_deactivated(conn: &mut Conn, id: &str, deactivated: bool) -> Result<usize> {
    Ok(diesel::update(users::table.find(id)).set(users::deactivated.eq(deactivated)).execute(conn)?)
}

pub fn profile(conn: &mut Conn, id: &str) -> Result<Option<Profile>> {
    Ok(profiles::table.find(id).select(Profile::as_select()).first(conn).optional()?)
}

pub fn set_profile(conn: &mut Conn, p: &Profile) -> Result<()> {
    both!(conn, |c| diesel::insert_into(profiles::table)
        .values(p)
        .on_conflict(profiles::user_id)
        .do_update()
        .set((profiles::displayname.eq(&p.displayname), profiles::avatar_url.eq(&p.avatar_url)))
        .execute(c))?;
    Ok(())
}

/// Marks the user deactivated, removes password, devices, tokens, keys and key backups; with
/// `erase` also the profile. Returns the token hashes removed.
pub fn deactivate(conn: &mut Conn, id: &str, erase: bool) -> Result<Vec<String>> {
    super::write_txn(conn, |c| {
        diesel::update(users::table.find(id)).set((users::deactivated.eq(true), users::password_hash.eq(None::<String>))).execute(c)?;
        if erase {
            diesel::update(users::table.find(id)).set(users::erased.eq(true)).execute(c)?;
            diesel::update(profiles::table.find(id))
                .set((profiles::displayname.eq(None::<String>), profiles::avatar_url.eq(None::<String>)))
                .execute(c)?;
        }
        diesel::delete(super::schema::user_threepids::table.filter(super::schema::user_threepids::user_id.eq(id))).execute(c)?;
        diesel::delete(super::schema::pushers::table.filter(super::schema::pushers::user_id.eq(id))).execute(c)?;
        super::e2e_keys::delete_all(c, id)?;
        super::key_backup::delete_all(c, id)?;
        super::devices::delete_all_tokens(c, id, None, false)
    })
}

/// Filters and order of the admin user list (`GET /_synapse/admin/v2/users`, `/v3/users`).
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub from: i64,
    pub limit: i64,
    pub user_id: Option<String>,
    pub name: Option<String>,
    pub guests: bool,
    /// None: everyone; Some(true): only deactivated; Some(false): only active.
    pub deactivated: Option<bool>,
    pub admins: Option<bool>,
    /// false hides locked users (the default), true includes them.
    pub locked: bool,
    pub not_user_types: Vec<String>,
    pub order_by: String,
    pub descending: bool,
}

pub const ORDER_KEYS: &[&str] = &[
    "name",
    "displayname",
    "is_guest",
    "admin",
    "deactivated",
    "user_type",
    "avatar_url",
    "shadow_banned",
    "creation_ts",
    "last_seen_ts",
    "locked",
];

/// The user list's filters on the `users` columns, for a boxed query with or without the profile
/// join. `user_id` is ignored when `name` is given, as in Synapse.
/// `column = TRUE|FALSE` as SQL text, not a bound value: SQLite plans each statement once
/// (`SQLITE_ENABLE_QPSG`), from literals only, and the list's flags are so lopsided (few admins,
/// fewer deactivated) that the right index depends on the value.
fn flag_is(column: &'static str, value: bool) -> diesel::expression::SqlLiteral<diesel::sql_types::Bool> {
    diesel::dsl::sql(&format!("{column} = {}", if value { "TRUE" } else { "FALSE" }))
}

macro_rules! user_filters {
    ($b:expr, $q:expr) => {{
        let mut b = $b;
        let q = $q;
        if q.name.is_none()
            && let Some(u) = &q.user_id
        {
            b = b.filter(users::user_id.like(format!("%{}%", u.to_lowercase())));
        }
        if !q.guests {
            b = b.filter(flag_is("users.is_guest", false));
        }
        if let Some(d) = q.deactivated {
            b = b.filter(flag_is("users.deactivated", d));
        }
        if let Some(a) = q.admins {
            b = b.filter(flag_is("users.admin", a));
        }
        if !q.locked {
            b = b.filter(flag_is("users.locked", false));
        }
        if !q.not_user_types.is_empty() {
            let named: Vec<String> = q.not_user_types.iter().filter(|t| !t.is_empty()).cloned().collect();
            if q.not_user_types.iter().any(String::is_empty) {
                b = b.filter(users::user_type.is_not_null());
            }
            if !named.is_empty() {
                b = b.filter(users::user_type.is_null().or(users::user_type.ne_all(named)));
            }
        }
        b
    }};
}

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Nullable<diesel::sql_types::Text>) -> diesel::sql_types::Nullable<diesel::sql_types::Text>);

/// How many users the flag filters alone keep, from the counts the `users` triggers maintain
/// (migration `user_counts`) instead of a walk over every user.
fn kept_total(conn: &mut Conn, q: &ListQuery) -> Result<i64> {
    use super::schema::user_counts as c;
    let mut b = c::table.into_boxed();
    if !q.guests {
        b = b.filter(c::is_guest.eq(false));
    }
    if let Some(d) = q.deactivated {
        b = b.filter(c::deactivated.eq(d));
    }
    if let Some(a) = q.admins {
        b = b.filter(c::admin.eq(a));
    }
    if !q.locked {
        b = b.filter(c::locked.eq(false));
    }
    let counts: Vec<i64> = b.select(c::n).load(conn)?;
    Ok(counts.into_iter().sum())
}

/// A user with their displayname and avatar URL.
pub type ListedUser = (User, Option<String>, Option<String>);

/// One page of users with their profiles, and the total matching the filters.
pub fn list(conn: &mut Conn, q: &ListQuery) -> Result<(Vec<ListedUser>, i64)> {
    let build = || {
        // Every user has a profile row (created with the user), so an inner join loses no one and
        // lets the planner walk a profile index when sorting by displayname or avatar.
        let mut b = users::table.inner_join(profiles::table.on(profiles::user_id.eq(users::user_id))).into_boxed();
        if let Some(name) = &q.name {
            let n = name.to_lowercase();
            b = b.filter(users::user_id.like(format!("@%{n}%:%")).or(lower(profiles::displayname).like(format!("%{n}%"))));
        }
        user_filters!(b, q)
    };
    // The profile join only matters to the name filter; counting without it is a third cheaper.
    let total: i64 = if q.name.is_some() {
        build().count().get_result(conn)?
    } else if q.user_id.is_none() && q.not_user_types.is_empty() {
        kept_total(conn, q)?
    } else {
        let b = users::table.into_boxed();
        user_filters!(b, q).count().get_result(conn)?
    };
    // PostgreSQL sorts NULLs (no display name, no avatar) last in ascending order, SQLite first:
    // on PostgreSQL they are put first explicitly, so a list pages alike on both.
    let postgres = matches!(conn, Conn::Pg(_));
    let mut page = build();
    macro_rules! order {
        ($col:expr) => {
            order!($col, users::user_id)
        };
        ($col:expr, $tie:expr) => {
            match (q.descending, postgres) {
                (false, false) => page.order(($col.asc(), $tie.asc())),
                (true, false) => page.order(($col.desc(), $tie.asc())),
                (false, true) => page.order(($col.is_null().desc(), $col.asc(), $tie.asc())),
                (true, true) => page.order(($col.is_null().asc(), $col.desc(), $tie.asc())),
            }
        };
    }
    page = match q.order_by.as_str() {
        // Ties by the profile's copy of the user ID, so the (key, user_id) profile index applies.
        "displayname" => order!(profiles::displayname, profiles::user_id),
        "is_guest" => order!(users::is_guest),
        "admin" => order!(users::admin),
        "deactivated" => order!(users::deactivated),
        "user_type" => order!(users::user_type),
        "avatar_url" => order!(profiles::avatar_url, profiles::user_id),
        "shadow_banned" => order!(users::shadow_banned),
        "creation_ts" => order!(users::creation_ts),
        "last_seen_ts" => order!(users::last_seen_ts),
        "locked" => order!(users::locked),
        _ => {
            if q.descending {
                page.order(users::user_id.desc())
            } else {
                page.order(users::user_id.asc())
            }
        }
    };
    let rows: Vec<ListedUser> = page
        .offset(q.from)
        .limit(q.limit)
        .select((User::as_select(), profiles::displayname.nullable(), profiles::avatar_url.nullable()))
        .load(conn)?;
    Ok((rows, total))
}

pub fn update_flags(
    conn: &mut Conn,
    id: &str,
    locked: Option<bool>,
    shadow_banned: Option<bool>,
    user_type: Option<Option<String>>,
) -> Result<()> {
    if let Some(l) = locked {
        diesel::update(users::table.find(id)).set(users::locked.eq(l)).execute(conn)?;
    }
    if let Some(s) = shadow_banned {
        diesel::update(users::table.find(id)).set(users::shadow_banned.eq(s)).execute(conn)?;
    }
    if let Some(t) = user_type {
        diesel::update(users::table.find(id)).set(users::user_type.eq(t)).execute(conn)?;
    }
    Ok(())
}

/// Clears the deactivated and erased flags (the password is set separately).
pub fn reactivate(conn: &mut Conn, id: &str) -> Result<()> {
    diesel::update(users::table.find(id)).set((users::deactivated.eq(false), users::erased.eq(false))).execute(conn)?;
    Ok(())
}

pub fn threepids(conn: &mut Conn, id: &str) -> Result<Vec<(String, String, i64, i64)>> {
    use super::schema::user_threepids as t;
    Ok(t::table
        .filter(t::user_id.eq(id))
        .order((t::medium, t::address))
        .select((t::medium, t::address, t::added_at, t::validated_at))
        .load_on(conn)?)
}

/// Replaces the user's third-party IDs with `list` (medium, address).
pub fn set_threepids(conn: &mut Conn, id: &str, list: &[(String, String)]) -> Result<()> {
    use super::schema::user_threepids as t;
    super::write_txn(conn, |c| {
        let now = crate::ids::now_ms();
        let existing = threepids(c, id)?;
        diesel::delete(t::table.filter(t::user_id.eq(id))).execute(c)?;
        for (medium, address) in list {
            let kept = existing.iter().find(|(m, a, _, _)| m == medium && a == address);
            let (added, validated) = kept.map(|(_, _, a, v)| (*a, *v)).unwrap_or((now, now));
            both!(c, |c| diesel::insert_into(t::table)
                .values((
                    t::user_id.eq(id),
                    t::medium.eq(medium),
                    t::address.eq(address),
                    t::added_at.eq(added),
                    t::validated_at.eq(validated),
                ))
                .on_conflict_do_nothing()
                .execute(c))?;
        }
        Ok(())
    })
}

/// Empties the content of the messages among `events` that users erased at deactivation sent
/// before `joined_at` (the reader's join). Only the senders of such messages are looked up, so
/// a read of new events costs nothing however many users were ever erased.
pub fn hide_erased<'a>(conn: &mut Conn, events: impl IntoIterator<Item = &'a mut crate::events::Pdu>, joined_at: i64) -> Result<()> {
    let older: Vec<&mut crate::events::Pdu> =
        events.into_iter().filter(|p| p.stream_ordering < joined_at && p.state_key.is_none()).collect();
    if older.is_empty() {
        return Ok(());
    }
    let mut senders: Vec<String> = older.iter().map(|p| p.sender.to_string()).collect();
    senders.sort_unstable();
    senders.dedup();
    let mut erased = std::collections::HashSet::new();
    // Bounded pages keep this to one query; the chunks keep any caller under SQLite's limit on
    // bound values.
    for chunk in senders.chunks(500) {
        erased.extend(
            users::table
                .filter(users::erased.eq(true))
                .filter(users::user_id.eq_any(chunk))
                .select(users::user_id)
                .load_on::<String>(conn)?,
        );
    }
    if !erased.is_empty() {
        for p in older {
            p.hide_if_erased(&erased, joined_at);
        }
    }
    Ok(())
}

/// `/user_directory/search`: active users whose localpart or displayname contains `term`
/// (case-insensitive), limited (unless `everyone`) as Synapse limits it: users sharing a joined
/// room with `me` (never `me` through such a room), and members of publicly joinable or
/// world-readable rooms. At most `limit` rows, ordered by displayname then user ID.
pub fn search_directory(conn: &mut Conn, me: &str, term: &str, limit: i64, everyone: bool) -> Result<Vec<ListedProfile>> {
    use super::schema::memberships;
    let escaped: String =
        term.to_lowercase().chars().flat_map(|c| if matches!(c, '%' | '_' | '\\') { vec!['\\', c] } else { vec![c] }).collect();
    let (in_localpart, in_name) = (format!("@%{escaped}%:%"), format!("%{escaped}%"));
    let matching = || {
        users::table
            .inner_join(profiles::table.on(profiles::user_id.eq(users::user_id)))
            .filter(users::deactivated.eq(false))
            .filter(
                lower(users::user_id.nullable())
                    .like(in_localpart.clone())
                    .escape('\\')
                    .or(lower(profiles::displayname).like(in_name.clone()).escape('\\')),
            )
            .order((profiles::displayname.asc(), users::user_id.asc()))
            .limit(limit)
            .select((users::user_id, profiles::displayname, profiles::avatar_url))
            .into_boxed()
    };
    if everyone {
        return Ok(matching().load(conn)?);
    }
    let (mine, theirs) = diesel::alias!(memberships as mine, memberships as theirs);
    let shared = mine
        .inner_join(theirs.on(theirs.field(memberships::room_id).eq(mine.field(memberships::room_id))))
        .filter(mine.field(memberships::user_id).eq(me.to_owned()))
        .filter(mine.field(memberships::membership).eq("join"))
        .filter(theirs.field(memberships::membership).eq("join"))
        .filter(theirs.field(memberships::user_id).ne(me.to_owned()))
        .select(theirs.field(memberships::user_id));
    let mut found: Vec<ListedProfile> = matching().filter(users::user_id.eq_any(shared)).load(conn)?;
    let public = super::events::public_rooms(conn)?;
    // Bounded bind lists; each chunk's best `limit` rows are enough for the overall best.
    for rooms in public.chunks(500) {
        let members = memberships::table
            .filter(memberships::room_id.eq_any(rooms))
            .filter(memberships::membership.eq("join"))
            .select(memberships::user_id);
        found.extend(matching().filter(users::user_id.eq_any(members)).load::<ListedProfile>(conn)?);
    }
    found.sort_by(|a, b| (&a.1, &a.0).cmp(&(&b.1, &b.0)));
    found.dedup_by(|a, b| a.0 == b.0);
    found.truncate(limit.max(0) as usize);
    Ok(found)
}

/// A user ID with their displayname and avatar URL.
pub type ListedProfile = (String, Option<String>, Option<String>);
