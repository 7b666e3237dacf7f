//! The store: an r2d2 pool of diesel connections to SQLite (embedded, the default) or
//! PostgreSQL, embedded migrations for each, and one file of query functions per table group.
//! Every query runs off the async threads through [`Db::run`].
//!
//! Queries are written once. [`Conn`] is diesel's `MultiConnection` over both backends, so most
//! of the DSL runs on it directly; what diesel offers only per backend (upserts, batch inserts)
//! goes through [`both!`], which compiles the same expression once for each backend.

/// Runs one diesel expression against the backend `conn` holds: the expression is written once
/// and type-checked once per backend, for the DSL the shared connection type lacks
/// (`on_conflict`, batch `values`). `$c` names the backend's own connection.
macro_rules! both {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::store::Conn::Sqlite($c) => $body,
            $crate::store::Conn::Pg($c) => $body,
        }
    };
}

/// Runs a query on the backend's own connection rather than through the shared connection type.
///
/// The `MultiConnection` wrapper writes a query's whole SQL text out again on every execution
/// (to check that it may be cached, then again to bind it), which cost a long-poll's wake a
/// seventh of its CPU. On the backend's connection a cached statement is found by its Rust
/// type and no SQL is written. For queries of a static shape: DSL chains, not boxed ones.
pub trait Direct: Sized {
    fn load_on<'q, U>(self, conn: &mut Conn) -> diesel::QueryResult<Vec<U>>
    where
        Self: diesel::query_dsl::LoadQuery<'q, SqliteConnection, U> + diesel::query_dsl::LoadQuery<'q, PgConnection, U>,
    {
        match conn {
            Conn::Sqlite(c) => diesel::RunQueryDsl::load(self, c),
            Conn::Pg(c) => diesel::RunQueryDsl::load(self, c),
        }
    }

    fn first_on<'q, U>(self, conn: &mut Conn) -> diesel::QueryResult<U>
    where
        Self: diesel::query_dsl::methods::LimitDsl + diesel::RunQueryDsl<SqliteConnection> + diesel::RunQueryDsl<PgConnection>,
        diesel::dsl::Limit<Self>: diesel::query_dsl::LoadQuery<'q, SqliteConnection, U> + diesel::query_dsl::LoadQuery<'q, PgConnection, U>,
    {
        match conn {
            Conn::Sqlite(c) => diesel::RunQueryDsl::first(self, c),
            Conn::Pg(c) => diesel::RunQueryDsl::first(self, c),
        }
    }

    fn get_result_on<'q, U>(self, conn: &mut Conn) -> diesel::QueryResult<U>
    where
        Self: diesel::query_dsl::LoadQuery<'q, SqliteConnection, U> + diesel::query_dsl::LoadQuery<'q, PgConnection, U>,
    {
        match conn {
            Conn::Sqlite(c) => diesel::RunQueryDsl::get_result(self, c),
            Conn::Pg(c) => diesel::RunQueryDsl::get_result(self, c),
        }
    }
}

impl<T> Direct for T {}

pub mod account_data;
pub mod admin_jobs;
mod background;
pub mod backup;
pub mod checkpoint;
pub mod client_ips;
pub mod committer;
pub mod devices;
pub mod e2e_keys;
pub mod events;
pub mod kept;
pub mod key_backup;
pub mod media;
pub mod media_admin;
pub mod memberships;
pub mod notifications;
pub mod openid_tokens;
pub mod port;
pub mod presence;
pub mod purge;
pub mod pushers;
pub mod receipts;
pub mod recent;
pub mod registration_tokens;
pub mod relations;
pub mod reports;
pub mod room_stats;
pub mod rooms;
pub mod schema;
pub mod streams;
pub mod to_device;
pub mod typed;
pub mod user_controls;
pub mod users;
pub mod visibility;

use crate::error::{Error, Result};
use diesel::Connection;
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{CustomizeConnection, Pool, R2D2Connection};
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use std::path::PathBuf;

/// A connection to either backend.
#[derive(diesel::MultiConnection)]
pub enum Conn {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

pub type DbPool = Pool<Manager>;

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Where the database lives, from the configured `database_url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Sqlite(PathBuf),
    /// A libpq connection URL (`postgres://` or `postgresql://`).
    Postgres(String),
}

impl Location {
    /// The database a URL names: `postgres://` or `postgresql://` is PostgreSQL; `sqlite://path`,
    /// `sqlite:path` or a bare path is an SQLite file. `None` for an empty URL.
    pub fn from_url(url: &str) -> Option<Location> {
        if url.is_empty() {
            return None;
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Some(Location::Postgres(url.to_owned()));
        }
        let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
        Some(Location::Sqlite(PathBuf::from(path)))
    }
}

/// Opens connections of the configured backend. Diesel's own manager for a `MultiConnection`
/// tries each backend in turn and reports only that none accepted the URL, which hides why a
/// PostgreSQL server refused (wrong password, no such database); this one says.
#[derive(Debug)]
pub struct Manager {
    location: Location,
}

impl diesel::r2d2::ManageConnection for Manager {
    type Connection = Conn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<Conn, Self::Error> {
        match &self.location {
            Location::Sqlite(path) => {
                SqliteConnection::establish(&path.to_string_lossy()).map(Conn::Sqlite).map_err(diesel::r2d2::Error::ConnectionError)
            }
            Location::Postgres(url) => PgConnection::establish(url).map(Conn::Pg).map_err(diesel::r2d2::Error::ConnectionError),
        }
    }

    fn is_valid(&self, conn: &mut Conn) -> Result<(), Self::Error> {
        conn.ping().map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut Conn) -> bool {
        std::thread::panicking() || conn.is_broken()
    }
}

#[derive(Debug)]
struct Pragmas;

/// Every pooled SQLite connection's settings, set when it is opened and again by anything that
/// changes them for a while (a purge). The log is checkpointed by a thread of its own
/// ([`checkpoint`]); a commit checkpoints only past 10,000 pages (40 MB), should that thread
/// fall far behind.
pub(crate) const SQLITE_CONNECTION_SETTINGS: &str = "PRAGMA busy_timeout = 10000; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -16000; PRAGMA wal_autocheckpoint = 10000;";

impl CustomizeConnection<Conn, diesel::r2d2::Error> for Pragmas {
    fn on_acquire(&self, conn: &mut Conn) -> Result<(), diesel::r2d2::Error> {
        match conn {
            // WAL lets readers run beside the single writer; NORMAL sync is durable at each
            // commit in WAL mode except on power loss mid-checkpoint, so use FULL to keep the
            // promise that an acknowledged event survives.
            Conn::Sqlite(c) => c.batch_execute(SQLITE_CONNECTION_SETTINGS).map_err(diesel::r2d2::Error::QueryError),
            // Its defaults serve: the schema has no time types, and commits are durable.
            Conn::Pg(_) => Ok(()),
        }
    }
}

/// The handle every component uses to reach the database.
#[derive(Clone)]
pub struct Db {
    pool: DbPool,
    location: Location,
    /// One permit per pooled connection: a query waits here, as a task, for its turn. Without
    /// it each waiting query held a blocking-pool thread parked on the pool (1,000 woken
    /// long-polls started over 500 threads to share eight connections).
    turns: std::sync::Arc<tokio::sync::Semaphore>,
    /// Purges under way, during which the checkpoint thread waits ([`checkpoint`]).
    checkpoint_holds: checkpoint::Holds,
    /// The thread that runs [`Db::run_background`]'s work.
    background: std::sync::Arc<background::BackgroundThread>,
}

/// Whether a pooled connection is tried before each use: a PostgreSQL connection can break (a
/// server restart, a dropped socket), an SQLite one cannot, and the try is a statement per query.
fn checks_connections(location: &Location) -> bool {
    matches!(location, Location::Postgres(_))
}

impl Db {
    /// Opens (creating an SQLite file and its directory if needed) and migrates the database.
    pub fn open(location: &Location, size: u32) -> Result<Self> {
        if let Location::Sqlite(path) = location
            && let Some(dir) = path.parent()
        {
            std::fs::create_dir_all(dir).map_err(|e| Error::internal_from(format!("creating {}", dir.display()), e))?;
        }
        let what = match location {
            Location::Sqlite(path) => path.display().to_string(),
            Location::Postgres(_) => "PostgreSQL".to_owned(),
        };
        let pool = Pool::builder()
            .max_size(size.max(2))
            .test_on_check_out(checks_connections(location))
            .connection_customizer(Box::new(Pragmas))
            .build(Manager { location: location.clone() })
            .map_err(|e| Error::internal_from(format!("opening database {what}"), e))?;
        let mut conn = pool.get().map_err(|e| Error::internal_from("database connection", e))?;
        match &mut *conn {
            Conn::Sqlite(c) => {
                // WAL is a property of the file: set once, before other connections write.
                c.batch_execute("PRAGMA journal_mode = WAL;").map_err(|e| Error::internal_from("enabling WAL", e))?;
                c.run_pending_migrations(SQLITE_MIGRATIONS).map_err(|e| Error::internal_from("migrations", e))?;
            }
            Conn::Pg(c) => {
                migrate_postgres(c)?;
                if port::unfinished(c)? {
                    return Err(Error::internal("a port-db into this database has not finished: run it again before serving"));
                }
            }
        }
        optimize(&mut conn)?;
        let turns = std::sync::Arc::new(tokio::sync::Semaphore::new(pool.max_size() as usize));
        Ok(Self { pool, location: location.clone(), turns, checkpoint_holds: Default::default(), background: Default::default() })
    }

    /// A pool of one connection to the same database, apart from the shared pool: the event
    /// writer's ([`committer`]) and the checkpoint thread's ([`checkpoint`]), so neither waits
    /// behind readers for a connection.
    pub fn writer_pool(&self) -> Result<DbPool> {
        Pool::builder()
            .max_size(1)
            .test_on_check_out(checks_connections(&self.location))
            .connection_customizer(Box::new(Pragmas))
            .build(Manager { location: self.location.clone() })
            .map_err(|e| Error::internal_from("opening the event writer's connection", e))
    }

    /// Runs `f` with a pooled connection on the blocking thread pool, once a connection is free.
    pub async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Conn) -> Result<T> + Send + 'static,
    {
        let job = self.with_turn(f).await?;
        tokio::task::spawn_blocking(job).await.map_err(|e| Error::internal(format!("blocking task failed: {e}")))?
    }

    /// As [`Db::run`], on the thread of background priority ([`crate::priority`]): for work
    /// nobody waits on, which then takes the cores only when requests leave them idle.
    pub async fn run_background<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Conn) -> Result<T> + Send + 'static,
    {
        let job = self.with_turn(f).await?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.background.send(Box::new(move || {
            let _ = tx.send(job());
        }))?;
        rx.await.map_err(|_| Error::internal("background database work failed"))?
    }

    /// Waits for a turn, then answers `f` as a job that runs it on a pooled connection. The turn
    /// goes with the job: a caller that stops waiting does not free it early.
    async fn with_turn<T, F>(&self, f: F) -> Result<impl FnOnce() -> Result<T> + Send + 'static>
    where
        T: Send + 'static,
        F: FnOnce(&mut Conn) -> Result<T> + Send + 'static,
    {
        let pool = self.pool.clone();
        let turn = self.turns.clone().acquire_owned().await.map_err(|e| Error::internal_from("database queue", e))?;
        Ok(move || {
            let _turn = turn;
            let mut conn = pool.get()?;
            f(&mut conn)
        })
    }

    pub fn is_sqlite(&self) -> bool {
        matches!(self.location, Location::Sqlite(_))
    }

    /// Keeps the checkpoint thread from copying the log until the hold is dropped: a purge's
    /// freed pages are not copied back while it still deletes (that doubled its I/O).
    pub fn hold_checkpoints(&self) -> checkpoint::Hold {
        checkpoint::Hold::new(&self.checkpoint_holds)
    }

    /// For code that is already on a blocking thread (CLI, actor load paths inside `run`).
    pub fn get(&self) -> Result<r2d2::PooledConnection<Manager>> {
        Ok(self.pool.get()?)
    }
}

/// PostgreSQL advisory lock keys, one per purpose, so no two uses wait on each other by accident.
pub(crate) mod pg_locks {
    /// Held while migrating: two servers (or a server and port-db) starting on one empty
    /// database must not both create the tables.
    pub const MIGRATE: i64 = 7285001;
    /// Held by every write transaction: SQLite's one writer at a time.
    pub const WRITE: i64 = 7285002;
    /// Held for a whole port-db run, so two ports of one target never interleave.
    pub const PORT: i64 = 7285003;
}

/// Applies the pending PostgreSQL migrations under [`pg_locks::MIGRATE`].
pub(crate) fn migrate_postgres(c: &mut PgConnection) -> Result<()> {
    let lock = |c: &mut PgConnection, f: &str| {
        c.batch_execute(&format!("SELECT {f}({});", pg_locks::MIGRATE)).map_err(|e| Error::internal_from("migration lock", e))
    };
    lock(c, "pg_advisory_lock")?;
    let done = c.run_pending_migrations(POSTGRES_MIGRATIONS).map(|_| ());
    lock(c, "pg_advisory_unlock")?;
    done.map_err(|e| Error::internal_from("migrations", e))
}

/// A raw SQL statement for `conn`'s backend, written once with SQLite's numbered (`?1`) or
/// positional (`?`) parameters; PostgreSQL numbers its own as `$1`.
pub fn sql_query(conn: &Conn, sql: &str) -> diesel::query_builder::SqlQuery {
    match conn {
        Conn::Sqlite(_) => diesel::sql_query(sql),
        Conn::Pg(_) => diesel::sql_query(dollar_params(sql)),
    }
}

/// `?N` becomes `$N` and each bare `?` the next number. (No statement here has a `?` inside a
/// string literal.)
fn dollar_params(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut next = 1;
    let mut chars = sql.chars().peekable();
    while let Some(ch) = chars.next() {
        if ch != '?' {
            out.push(ch);
            continue;
        }
        let mut digits = String::new();
        while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            digits.push(*d);
            chars.next();
        }
        if digits.is_empty() {
            digits = next.to_string();
            next += 1;
        }
        out.push('$');
        out.push_str(&digits);
    }
    out
}

/// Refreshes the planner's statistics where they are stale, so sorted listings (the admin user
/// list above all) walk their sort key's index instead of filtering on a low-cardinality flag
/// and sorting in memory. Cheap when nothing changed; run at start and periodically.
pub fn optimize(conn: &mut Conn) -> Result<()> {
    match conn {
        Conn::Sqlite(c) => c.batch_execute("PRAGMA optimize = 0x10002;")?,
        // PostgreSQL's autovacuum keeps its statistics.
        Conn::Pg(_) => {}
    }
    Ok(())
}

/// Runs `f` in a write transaction that holds the database's one write lock from its start, so
/// concurrent writers queue instead of failing to upgrade a read lock (SQLite) or interleaving
/// read-modify-write sequences and stream positions (PostgreSQL, where an advisory lock keeps
/// SQLite's one writer at a time). Nested calls become savepoints of the outer transaction.
pub fn write_txn<T>(conn: &mut Conn, f: impl FnOnce(&mut Conn) -> Result<T>) -> Result<T> {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    type Tm = <Conn as Connection>::TransactionManager;
    let depth = Tm::transaction_manager_status_mut(conn).transaction_depth().ok().flatten();
    if depth.is_some() {
        // Already inside a transaction: a savepoint keeps the outer one's write lock.
        return conn.transaction(f);
    }
    match conn {
        Conn::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?,
        Conn::Pg(c) => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN")?;
            if let Err(e) = c.batch_execute(&format!("SELECT pg_advisory_xact_lock({});", pg_locks::WRITE)) {
                let _ = AnsiTransactionManager::rollback_transaction(c);
                return Err(e.into());
            }
        }
    }
    match f(conn) {
        Ok(v) => {
            Tm::commit_transaction(conn)?;
            Ok(v)
        }
        Err(e) => {
            if let Err(rollback) = Tm::rollback_transaction(conn) {
                log::warn!("rolling back after {e}: {rollback}");
            }
            Err(e)
        }
    }
}

/// Runs `f`, a sequence of reads, in one read transaction on SQLite: one snapshot, and one
/// acquisition of the WAL read lock rather than one per statement. PostgreSQL runs it as it is
/// (each statement its own snapshot, without two more round trips). `f` must not write: SQLite
/// cannot turn a read transaction into a write one once another writer has committed.
pub fn read_txn<T>(conn: &mut Conn, f: impl FnOnce(&mut Conn) -> Result<T>) -> Result<T> {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    type Tm = <Conn as Connection>::TransactionManager;
    let depth = Tm::transaction_manager_status_mut(conn).transaction_depth().ok().flatten();
    match conn {
        Conn::Sqlite(c) if depth.is_none() => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN DEFERRED")?,
        _ => return f(conn),
    }
    let out = f(conn);
    // Nothing was written: ending the transaction either way only releases the snapshot.
    if let Err(e) = Tm::commit_transaction(conn) {
        log::warn!("ending a read transaction: {e}");
        let _ = Tm::rollback_transaction(conn);
    }
    out
}

#[cfg(test)]
mod tests {
    use diesel::prelude::*;

    #[test]
    fn parameters_are_numbered_for_postgres() {
        assert_eq!(super::dollar_params("a = ?1 AND (?2 IS NULL OR b = ?2) LIMIT ?10"), "a = $1 AND ($2 IS NULL OR b = $2) LIMIT $10");
        assert_eq!(super::dollar_params("ts < ? LIMIT ?"), "ts < $1 LIMIT $2");
    }

    /// Without the planner's stability guarantee (.cargo/config.toml), STAT4 re-prepares keyed
    /// look-ups on every new key, which cost a tenth of the send path.
    #[test]
    fn sqlite_plans_each_statement_once() {
        let mut c = diesel::sqlite::SqliteConnection::establish(":memory:").unwrap();
        let on: i32 = diesel::select(diesel::dsl::sql::<diesel::sql_types::Integer>("sqlite_compileoption_used('ENABLE_QPSG')"))
            .get_result(&mut c)
            .unwrap();
        assert_eq!(on, 1);
    }

    /// Threads of this process with the given name (a test runtime names its blocking threads).
    fn threads_named(name: &str) -> usize {
        std::fs::read_dir("/proc/self/task")
            .map(|dir| {
                dir.filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok()).filter(|comm| comm.trim() == name).count()
            })
            .unwrap_or(0)
    }

    /// Queries waiting for a connection wait as tasks: they do not each hold a blocking thread.
    #[test]
    fn waiting_queries_hold_no_threads() {
        const NAME: &str = "db-turns-test";
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().thread_name(NAME).build().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let db = super::Db::open(&super::Location::Sqlite(dir.path().join("t.db")), 2).unwrap();
        let most = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        rt.block_on(futures_util::future::join_all((0..32).map(|_| {
            let most = most.clone();
            db.run(move |_| {
                std::thread::sleep(std::time::Duration::from_millis(10));
                most.fetch_max(threads_named(NAME), std::sync::atomic::Ordering::Relaxed);
                Ok(())
            })
        })))
        .into_iter()
        .for_each(|r| r.unwrap());
        // Two connections: two queries run at a time, plus threads started while a finished one
        // was not yet idle (a loaded machine); one per query (32) without the turns.
        let most = most.load(std::sync::atomic::Ordering::Relaxed);
        assert!((1..=12).contains(&most), "{most} blocking threads for 32 queries over 2 connections");
    }

    /// A write transaction of many multi-row INSERTs into a table with a random-keyed unique
    /// index commits. Each such statement journals the pages it changes; with that journal kept
    /// in memory up to 1 or 4 MiB (`SQLITE_STMTJRNL_SPILL`) instead of SQLite's 64 KiB, SQLite
    /// failed these statements with "database or disk is full" once the journal spilled.
    #[test]
    fn a_large_write_transaction_commits() {
        use diesel::connection::SimpleConnection;
        let dir = tempfile::tempdir().unwrap();
        // Its own connection: SQLite as built, without the pool's settings.
        let mut c = diesel::sqlite::SqliteConnection::establish(dir.path().join("t.db").to_str().unwrap()).unwrap();
        c.batch_execute("PRAGMA journal_mode = WAL; CREATE TABLE big (id INTEGER PRIMARY KEY, k TEXT NOT NULL UNIQUE, v TEXT NOT NULL);")
            .unwrap();
        let pad = "x".repeat(300);
        for round in 0..25u64 {
            c.immediate_transaction(|c| {
                for s in 0..10u64 {
                    let rows: Vec<String> = (0..1000u64)
                        .map(|i| format!("('{:016x}', '{pad}')", (round * 10_000 + s * 1000 + i).wrapping_mul(0x9E37_79B9_7F4A_7C15)))
                        .collect();
                    diesel::sql_query(format!("INSERT INTO big (k, v) VALUES {}", rows.join(","))).execute(c)?;
                }
                diesel::QueryResult::Ok(())
            })
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        }
    }
}
