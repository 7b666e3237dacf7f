//! The store: an r2d2 pool of diesel SQLite connections, embedded migrations, and one file of
//! query functions per table group. Every query runs off the async threads through [`Db::run`].

pub mod account_data;
pub mod admin_jobs;
pub mod client_ips;
pub mod devices;
pub mod e2e_keys;
pub mod events;
pub mod key_backup;
pub mod media;
pub mod media_admin;
pub mod memberships;
pub mod notifications;
pub mod openid_tokens;
pub mod presence;
pub mod purge;
pub mod pushers;
pub mod receipts;
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
use diesel::connection::SimpleConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool};
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use std::path::Path;

pub type Conn = SqliteConnection;
pub type DbPool = Pool<ConnectionManager<Conn>>;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

#[derive(Debug)]
struct Pragmas;

impl CustomizeConnection<Conn, diesel::r2d2::Error> for Pragmas {
    fn on_acquire(&self, conn: &mut Conn) -> Result<(), diesel::r2d2::Error> {
        // WAL lets readers run beside the single writer; NORMAL sync is durable at each
        // commit in WAL mode except on power loss mid-checkpoint, so use FULL to keep the
        // promise that an acknowledged event survives.
        conn.batch_execute(
            "PRAGMA busy_timeout = 10000; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
             PRAGMA cache_size = -16000;",
        )
        .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// The handle every component uses to reach the database.
#[derive(Clone)]
pub struct Db {
    pool: DbPool,
}

impl Db {
    pub fn open(path: &Path, size: u32) -> Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::internal_from(format!("creating {}", dir.display()), e))?;
        }
        let manager = ConnectionManager::<Conn>::new(path.to_string_lossy());
        let pool = Pool::builder()
            .max_size(size.max(2))
            .connection_customizer(Box::new(Pragmas))
            .build(manager)
            .map_err(|e| Error::internal_from(format!("opening database {}", path.display()), e))?;
        let mut conn = pool.get().map_err(|e| Error::internal_from("database connection", e))?;
        // WAL is a property of the file: set once, before other connections write.
        conn.batch_execute("PRAGMA journal_mode = WAL;").map_err(|e| Error::internal_from("enabling WAL", e))?;
        conn.run_pending_migrations(SQLITE_MIGRATIONS).map_err(|e| Error::internal_from("migrations", e))?;
        optimize(&mut conn)?;
        Ok(Self { pool })
    }

    /// Runs `f` with a pooled connection on the blocking thread pool.
    pub async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Conn) -> Result<T> + Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get()?;
            f(&mut conn)
        })
        .await
        .map_err(|e| Error::internal(format!("blocking task failed: {e}")))?
    }

    /// For code that is already on a blocking thread (CLI, actor load paths inside `run`).
    pub fn get(&self) -> Result<diesel::r2d2::PooledConnection<ConnectionManager<Conn>>> {
        Ok(self.pool.get()?)
    }
}

/// Refreshes the planner's statistics where they are stale, so sorted listings (the admin user
/// list above all) walk their sort key's index instead of filtering on a low-cardinality flag
/// and sorting in memory. Cheap when nothing changed; run at start and periodically.
pub fn optimize(conn: &mut Conn) -> Result<()> {
    conn.batch_execute("PRAGMA optimize = 0x10002;")?;
    Ok(())
}

/// Runs `f` in an IMMEDIATE transaction so concurrent writers queue on the busy timeout
/// instead of failing to upgrade a read lock.
pub fn write_txn<T>(conn: &mut Conn, f: impl FnOnce(&mut Conn) -> Result<T>) -> Result<T> {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    let depth = AnsiTransactionManager::transaction_manager_status_mut(conn).transaction_depth().ok().flatten();
    if depth.is_some() {
        // Already inside a transaction: a savepoint keeps the outer one's write lock.
        return diesel::Connection::transaction(conn, f);
    }
    conn.immediate_transaction(f)
}

#[cfg(test)]
mod tests {
    use diesel::prelude::*;

    /// Without the planner's stability guarantee (.cargo/config.toml), STAT4 re-prepares keyed
    /// look-ups on every new key, which cost a tenth of the send path.
    #[test]
    fn sqlite_plans_each_statement_once() {
        let mut c = super::Conn::establish(":memory:").unwrap();
        let on: i32 = diesel::select(diesel::dsl::sql::<diesel::sql_types::Integer>("sqlite_compileoption_used('ENABLE_QPSG')"))
            .get_result(&mut c)
            .unwrap();
        assert_eq!(on, 1);
    }
}
