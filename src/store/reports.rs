//! Reports users file against events, rooms and users, for the admins to read.

use super::Conn;
use super::schema::reports;
use crate::error::Result;
use diesel::prelude::*;

/// What a report is about: the value of its `kind` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Event,
    Room,
    User,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Event => "event",
            Kind::Room => "room",
            Kind::User => "user",
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = reports)]
pub struct Report {
    pub id: i64,
    pub received_ts: i64,
    /// Who reported.
    pub user_id: String,
    pub room_id: Option<String>,
    pub event_id: Option<String>,
    pub event_sender: Option<String>,
    pub target_user_id: Option<String>,
    pub reason: Option<String>,
    pub score: Option<i64>,
}

#[derive(Debug, Clone, Default, Insertable)]
#[diesel(table_name = reports)]
pub struct NewReport {
    pub kind: String,
    pub received_ts: i64,
    pub user_id: String,
    pub room_id: Option<String>,
    pub event_id: Option<String>,
    pub event_sender: Option<String>,
    pub target_user_id: Option<String>,
    pub reason: Option<String>,
    pub score: Option<i64>,
}

impl NewReport {
    pub fn new(kind: Kind, received_ts: i64, reporter: &str) -> Self {
        Self { kind: kind.as_str().to_owned(), received_ts, user_id: reporter.to_owned(), ..Self::default() }
    }
}

/// A page of reports of one kind: filters are substrings of the reporter (`user_id`), the room
/// and the reported user, and the exact sender of a reported event.
#[derive(Debug, Clone, Default)]
pub struct ReportQuery {
    pub from: i64,
    pub limit: i64,
    pub newest_first: bool,
    pub user_id: Option<String>,
    pub room_id: Option<String>,
    pub target_user_id: Option<String>,
    pub event_sender: Option<String>,
}

pub fn insert(conn: &mut Conn, r: &NewReport) -> Result<()> {
    diesel::insert_into(reports::table).values(r).execute(conn)?;
    Ok(())
}

/// `%text%` for LIKE, with LIKE's own wildcards in `text` matched literally.
fn contains(text: &str) -> String {
    let escaped: String = text.chars().flat_map(|c| if matches!(c, '%' | '_' | '\\') { vec!['\\', c] } else { vec![c] }).collect();
    format!("%{escaped}%")
}

/// The page `q` asks for, ordered by arrival, and how many reports match in all.
pub fn list(conn: &mut Conn, kind: Kind, q: &ReportQuery) -> Result<(Vec<Report>, i64)> {
    let filtered = || {
        let mut b = reports::table.filter(reports::kind.eq(kind.as_str())).into_boxed();
        if let Some(u) = &q.user_id {
            b = b.filter(reports::user_id.like(contains(u)).escape('\\'));
        }
        if let Some(r) = &q.room_id {
            b = b.filter(reports::room_id.like(contains(r)).escape('\\'));
        }
        if let Some(t) = &q.target_user_id {
            b = b.filter(reports::target_user_id.like(contains(t)).escape('\\'));
        }
        if let Some(s) = &q.event_sender {
            b = b.filter(reports::event_sender.eq(s.clone()));
        }
        b
    };
    let total = filtered().count().get_result(conn)?;
    let ordered = if q.newest_first {
        filtered().order((reports::received_ts.desc(), reports::id.desc()))
    } else {
        filtered().order((reports::received_ts.asc(), reports::id.asc()))
    };
    let rows = ordered.offset(q.from).limit(q.limit).select(Report::as_select()).load(conn)?;
    Ok((rows, total))
}

pub fn get(conn: &mut Conn, kind: Kind, id: i64) -> Result<Option<Report>> {
    Ok(reports::table
        .filter(reports::kind.eq(kind.as_str()))
        .filter(reports::id.eq(id))
        .select(Report::as_select())
        .first(conn)
        .optional()?)
}

/// Whether a report of that kind and ID was there to delete.
pub fn delete(conn: &mut Conn, kind: Kind, id: i64) -> Result<bool> {
    Ok(diesel::delete(reports::table.filter(reports::kind.eq(kind.as_str())).filter(reports::id.eq(id))).execute(conn)? > 0)
}

/// A purged room's reports (its events' and its own) go with it.
pub fn delete_room(conn: &mut Conn, room_id: &str) -> Result<()> {
    diesel::delete(reports::table.filter(reports::room_id.eq(room_id))).execute(conn)?;
    Ok(())
}
