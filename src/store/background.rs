//! The database thread of background priority ([`crate::priority`]): work that nobody waits
//! for runs here, behind the requests. It is started with the first such job and ends when the
//! last handle to the database goes.

use crate::error::{Error, Result};
use std::sync::{OnceLock, mpsc};

type Job = Box<dyn FnOnce() + Send>;

#[derive(Default)]
pub(super) struct BackgroundThread {
    jobs: OnceLock<mpsc::Sender<Job>>,
}

impl BackgroundThread {
    /// Hands `job` to the thread, starting it if this is the first.
    pub(super) fn send(&self, job: Job) -> Result<()> {
        let jobs = self.jobs.get_or_init(|| {
            let (tx, rx) = mpsc::channel::<Job>();
            let started = std::thread::Builder::new().name("ensemble-background".into()).spawn(move || {
                crate::priority::lower_this_thread();
                for job in rx {
                    // A panic fails only that job: its reply is dropped, and its caller hears
                    // that the work failed.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                }
            });
            // Not started: the receiver went with the closure, so every send below fails.
            if let Err(e) = started {
                log::error!("starting the background database thread: {e}");
            }
            tx
        });
        jobs.send(job).map_err(|_| Error::internal("the background database thread is not running"))
    }
}

#[cfg(test)]
mod tests {
    use crate::error::Result;
    use crate::store::{Db, Location};

    #[test]
    fn background_work_runs_on_its_lowered_thread_and_outlives_a_panicking_job() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&Location::Sqlite(dir.path().join("t.db")), 2).unwrap();
        let caller = crate::priority::this_threads_nice();
        let (nice, name) = rt
            .block_on(db.run_background(|_| Ok((crate::priority::this_threads_nice(), std::thread::current().name().map(str::to_owned)))))
            .unwrap();
        assert_eq!(name.as_deref(), Some("ensemble-background"));
        if cfg!(target_os = "linux") {
            assert!(nice > caller || caller >= i32::from(crate::priority::DEFAULT_NICE), "background nice {nice}, caller {caller}");
        }
        let failed: Result<()> = rt.block_on(db.run_background(|_| panic!("a job that fails")));
        assert!(failed.is_err());
        let joined: i64 = rt.block_on(db.run_background(|c| crate::store::memberships::joined_count(c, "!r:t"))).unwrap();
        assert_eq!(joined, 0, "the thread still runs jobs after one panicked");
    }
}
