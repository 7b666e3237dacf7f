//! Admin jobs (Synapse's scheduled tasks): one row per room deletion or history purge, its
//! parameters, status, result and error, so the status is readable after a restart.

use super::Conn;
use super::Direct;
use super::schema::admin_jobs;
use crate::error::Result;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = admin_jobs)]
pub struct JobRow {
    pub id: String,
    pub action: String,
    pub resource_id: String,
    pub status: String,
    /// JSON.
    pub params: String,
    /// JSON.
    pub result: Option<String>,
    pub error: Option<String>,
    pub created_ts: i64,
    pub updated_ts: i64,
}

/// Rows a listing returns at most, newest first before they are put in time order.
pub const MAX_LISTED: i64 = 1000;

/// Records the job unless one of the same action on the same resource is in `running` status;
/// false if one is (checked and written in one transaction, so two requests cannot both start).
pub fn insert_unless_running(conn: &mut Conn, job: &JobRow, running: &str) -> Result<bool> {
    super::write_txn(conn, |c| {
        let busy: i64 = admin_jobs::table
            .filter(admin_jobs::resource_id.eq(&job.resource_id))
            .filter(admin_jobs::action.eq(&job.action))
            .filter(admin_jobs::status.eq(running))
            .count()
            .get_result_on(c)?;
        if busy > 0 {
            return Ok(false);
        }
        diesel::insert_into(admin_jobs::table).values(job).execute(c)?;
        Ok(true)
    })
}

pub fn insert(conn: &mut Conn, job: &JobRow) -> Result<()> {
    diesel::insert_into(admin_jobs::table).values(job).execute(conn)?;
    Ok(())
}

pub fn get(conn: &mut Conn, id: &str) -> Result<Option<JobRow>> {
    Ok(admin_jobs::table.find(id).select(JobRow::as_select()).first(conn).optional()?)
}

/// Sets the job's result while it runs (what has been done so far).
pub fn set_result(conn: &mut Conn, id: &str, result: Option<&str>, now: i64) -> Result<()> {
    diesel::update(admin_jobs::table.find(id)).set((admin_jobs::result.eq(result), admin_jobs::updated_ts.eq(now))).execute(conn)?;
    Ok(())
}

/// Ends the job with its final result.
pub fn complete(conn: &mut Conn, id: &str, status: &str, result: Option<&str>, now: i64) -> Result<()> {
    diesel::update(admin_jobs::table.find(id))
        .set((admin_jobs::status.eq(status), admin_jobs::result.eq(result), admin_jobs::updated_ts.eq(now)))
        .execute(conn)?;
    Ok(())
}

/// Ends the job with an error, keeping the result recorded so far.
pub fn fail(conn: &mut Conn, id: &str, status: &str, error: &str, now: i64) -> Result<()> {
    diesel::update(admin_jobs::table.find(id))
        .set((admin_jobs::status.eq(status), admin_jobs::error.eq(error), admin_jobs::updated_ts.eq(now)))
        .execute(conn)?;
    Ok(())
}

/// What a listing asks for; `None` matches everything.
#[derive(Debug, Default, Clone)]
pub struct JobFilter {
    pub actions: Option<Vec<String>>,
    pub resource_id: Option<String>,
    pub statuses: Option<Vec<String>>,
    /// Only jobs last changed strictly before this time.
    pub before_ts: Option<i64>,
}

/// Matching jobs in the order they last changed, the newest [`MAX_LISTED`] of them.
pub fn list(conn: &mut Conn, f: &JobFilter) -> Result<Vec<JobRow>> {
    let mut q = admin_jobs::table.select(JobRow::as_select()).into_boxed();
    if let Some(a) = &f.actions {
        q = q.filter(admin_jobs::action.eq_any(a));
    }
    if let Some(r) = &f.resource_id {
        q = q.filter(admin_jobs::resource_id.eq(r));
    }
    if let Some(s) = &f.statuses {
        q = q.filter(admin_jobs::status.eq_any(s));
    }
    if let Some(ts) = f.before_ts {
        q = q.filter(admin_jobs::updated_ts.lt(ts));
    }
    let mut rows: Vec<JobRow> = q.order((admin_jobs::updated_ts.desc(), admin_jobs::id.desc())).limit(MAX_LISTED).load(conn)?;
    rows.reverse();
    Ok(rows)
}
