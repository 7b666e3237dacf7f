//! The write-ahead log's checkpoints, on a thread of their own (SQLite only).
//!
//! SQLite copies the log back into the database file inside whichever commit finds the log past
//! `wal_autocheckpoint` pages. Under a steady send that was the event writer's commit: profiled,
//! the copy was a sixth of the writer's time, and every send waiting on that commit waited for
//! it too. Here a thread with a connection of its own copies the log shortly after the writer's
//! commits, as a passive checkpoint: it takes no lock a writer or a reader waits on. The
//! connections' own automatic checkpoint stays as a bound ([`super::SQLITE_CONNECTION_SETTINGS`]),
//! far past what this thread lets the log reach.

use super::{Conn, Db, DbPool};
use crate::error::{Error, Result};
use diesel::RunQueryDsl;
use diesel::sql_types::BigInt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The least time between two checkpoints while commits keep coming: a page rewritten by many
/// commits meanwhile (the newest leaf of an index, the stream heads) is copied once.
const GAP: Duration = Duration::from_millis(100);
/// How often the log is checked without a nudge: other connections' commits are not announced.
const IDLE_CHECK: Duration = Duration::from_secs(1);

/// How many holds are taken ([`Db::hold_checkpoints`]).
pub type Holds = Arc<AtomicUsize>;

/// While alive, the checkpoint thread copies nothing.
pub struct Hold(Holds);

impl Hold {
    pub(super) fn new(holds: &Holds) -> Self {
        holds.fetch_add(1, Ordering::SeqCst);
        Self(holds.clone())
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What the checkpoint thread has done, for the operators' metrics.
#[derive(Debug, Default)]
pub struct CheckpointStats {
    /// Checkpoints that copied pages.
    pub runs: AtomicU64,
    /// Pages in the log at the last checkpoint: how large the log grows between two.
    pub log_pages: AtomicU64,
}

/// The handle the event writer nudges after each commit. Dropping it ends the thread, after a
/// last checkpoint.
pub struct Checkpointer {
    nudge: mpsc::SyncSender<()>,
}

impl Checkpointer {
    /// Starts the thread for an SQLite database; `None` for PostgreSQL, which checkpoints itself.
    pub fn start(db: &Db, stats: Arc<CheckpointStats>) -> Result<Option<Self>> {
        if !db.is_sqlite() {
            return Ok(None);
        }
        let pool = db.writer_pool()?;
        let holds = db.checkpoint_holds.clone();
        // One nudge waiting is as good as many.
        let (nudge, nudged) = mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name("ensemble-checkpoint".into())
            .spawn(move || {
                crate::priority::lower_this_thread();
                run(&pool, &nudged, &holds, &stats)
            })
            .map_err(|e| Error::internal_from("starting the checkpoint thread", e))?;
        Ok(Some(Self { nudge }))
    }

    /// Says a commit was made; never waits.
    pub fn nudge(&self) {
        let _ = self.nudge.try_send(());
    }
}

fn run(pool: &DbPool, nudged: &mpsc::Receiver<()>, holds: &AtomicUsize, stats: &CheckpointStats) {
    let mut last = Instant::now();
    // The log's frames and those copied, as the last checkpoint found them: the same again means
    // nothing was written meanwhile.
    let mut seen = (0, 0);
    loop {
        let ended = match nudged.recv_timeout(IDLE_CHECK) {
            Ok(()) => {
                if let Some(wait) = GAP.checked_sub(last.elapsed()) {
                    std::thread::sleep(wait);
                }
                false
            }
            Err(mpsc::RecvTimeoutError::Timeout) => false,
            Err(mpsc::RecvTimeoutError::Disconnected) => true,
        };
        last = Instant::now();
        if holds.load(Ordering::SeqCst) > 0 && !ended {
            continue;
        }
        match pool.get().map_err(Error::from).and_then(|mut c| checkpoint(&mut c)) {
            Ok(Some(now)) => {
                if now != seen && now.1 > 0 {
                    stats.runs.fetch_add(1, Ordering::Relaxed);
                    stats.log_pages.store(now.0 as u64, Ordering::Relaxed);
                }
                seen = now;
            }
            Ok(None) => {}
            Err(e) => log::warn!("checkpointing the write-ahead log failed: {e}"),
        }
        if ended {
            return;
        }
    }
}

#[derive(diesel::QueryableByName)]
struct Outcome {
    #[diesel(sql_type = BigInt)]
    log: i64,
    #[diesel(sql_type = BigInt)]
    checkpointed: i64,
}

/// A passive checkpoint: the frames in the log and those copied so far from it (both -1 when
/// the database is not in WAL mode); `None` for PostgreSQL.
fn checkpoint(conn: &mut Conn) -> Result<Option<(i64, i64)>> {
    let Conn::Sqlite(c) = conn else { return Ok(None) };
    let o: Outcome = diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE)").get_result(c)?;
    Ok(Some((o.log, o.checkpointed)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Location;
    use diesel::connection::SimpleConnection;

    fn db_file_len(dir: &std::path::Path) -> u64 {
        std::fs::metadata(dir.join("t.db")).unwrap().len()
    }

    /// Commits that leave the log below the connections' own automatic bound are copied into the
    /// database file by the thread alone, soon after it is nudged.
    #[test]
    fn the_thread_copies_the_log_into_the_database_file() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&Location::Sqlite(dir.path().join("t.db")), 2).unwrap();
        let stats = Arc::new(CheckpointStats::default());
        let checkpointer = Checkpointer::start(&db, stats.clone()).unwrap().expect("SQLite has a checkpoint thread");
        let mut conn = db.get().unwrap();
        let Conn::Sqlite(c) = &mut *conn else { unreachable!() };
        // About 2,000 pages: past SQLite's default bound (1,000), below the connections' own.
        c.batch_execute("CREATE TABLE filler (b BLOB); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) INSERT INTO filler SELECT randomblob(4000) FROM n;")
            .unwrap();
        let written = 2000 * 4000;
        assert!(db_file_len(dir.path()) < written, "the commit itself did not checkpoint");
        // A hold (a purge under way) keeps the thread from copying, nudged or not.
        let hold = db.hold_checkpoints();
        checkpointer.nudge();
        std::thread::sleep(GAP * 3);
        assert!(db_file_len(dir.path()) < written, "nothing was copied during the hold");
        drop(hold);
        checkpointer.nudge();
        let deadline = Instant::now() + Duration::from_secs(10);
        while stats.runs.load(Ordering::Relaxed) == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(db_file_len(dir.path()) >= written, "the log was copied into the database file");
        assert!(stats.log_pages.load(Ordering::Relaxed) >= 2000);
        // Checks with nothing new written copy nothing and are not counted.
        std::thread::sleep(IDLE_CHECK + Duration::from_millis(300));
        assert_eq!(stats.runs.load(Ordering::Relaxed), 1);
    }
}
