//! The event writer: one thread with its own connection that commits the batches of every room
//! actor, as many as are waiting, in one transaction.
//!
//! SQLite admits one writer at a time. When each room committed its own batch on a pooled
//! connection, rooms committing at once queued in SQLite's busy handler, which sleeps (1, 2,
//! 5, 10 ms and up) rather than waking at the lock's release, and each paid its own fsync. Here
//! the rooms' batches wait in a queue while a transaction runs and the next transaction takes
//! them all: one fsync for every room, and no reader of the pool waits for a connection behind
//! a writer. PostgreSQL's writers serialize on an advisory lock (`write_txn`) just the same.

use super::checkpoint::{CheckpointStats, Checkpointer};
use super::events::{NewEvent, commit_rows};
use super::recent::{CommittedBatch, RecentEvents};
use super::rooms::RoomRow;
use super::{Db, DbPool, write_txn};
use crate::error::{Error, Result};
use ruma::OwnedUserId;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// Events one transaction takes at most; a larger batch still goes whole, alone.
const MAX_EVENTS_PER_COMMIT: usize = 10_000;

/// One room's batch, and where its outcome goes.
struct Job {
    new_room: Option<Box<RoomRow>>,
    /// The room's joined members, for the log of recent events.
    joined: Arc<[OwnedUserId]>,
    batch: Vec<NewEvent>,
    reply: oneshot::Sender<Result<Vec<NewEvent>>>,
}

/// The handle room actors commit through. Cloning shares the one writer.
#[derive(Clone)]
pub struct Committer {
    queue: Arc<Mutex<Option<mpsc::Sender<Job>>>>,
    checkpoints: Arc<CheckpointStats>,
}

impl Committer {
    /// Starts the writer thread on a connection of its own (same database and settings as `db`);
    /// what it commits goes to `recent` as well.
    /// With SQLite the log is checkpointed by a thread of its own, nudged after each commit and
    /// ended with the writer.
    pub fn start(db: &Db, recent: Arc<RecentEvents>) -> Result<Self> {
        let pool = db.writer_pool()?;
        let checkpoints = Arc::new(CheckpointStats::default());
        let checkpointer = Checkpointer::start(db, checkpoints.clone())?;
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("ensemble-writer".into())
            .spawn(move || run(&pool, &rx, &recent, checkpointer.as_ref()))
            .map_err(|e| Error::internal_from("starting the event writer", e))?;
        Ok(Self { queue: Arc::new(Mutex::new(Some(tx))), checkpoints })
    }

    /// What the checkpoint thread has done (zero with PostgreSQL).
    pub fn checkpoints(&self) -> &CheckpointStats {
        &self.checkpoints
    }

    /// Commits a room's batch (and, for a room being created, its row), filling in the stream
    /// positions; answers once the transaction holding it has committed. `joined` are the room's
    /// joined members, sorted.
    pub async fn commit(&self, new_room: Option<Box<RoomRow>>, joined: Arc<[OwnedUserId]>, batch: Vec<NewEvent>) -> Result<Vec<NewEvent>> {
        let (reply, rx) = oneshot::channel();
        let sent = match self.queue.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            Some(tx) => tx.send(Job { new_room, joined, batch, reply }).is_ok(),
            None => false,
        };
        if !sent {
            return Err(Error::internal("The server is stopping"));
        }
        rx.await.unwrap_or_else(|_| Err(Error::internal("The event writer stopped")))
    }

    /// Takes no more batches; the thread commits those already queued, then ends.
    pub fn stop(&self) {
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).take();
    }
}

fn run(pool: &DbPool, rx: &mpsc::Receiver<Job>, recent: &RecentEvents, checkpointer: Option<&Checkpointer>) {
    while let Ok(first) = rx.recv() {
        let mut events = first.batch.len();
        let mut jobs = vec![first];
        while events < MAX_EVENTS_PER_COMMIT {
            match rx.try_recv() {
                Ok(job) => {
                    events += job.batch.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        // A panic fails only this round's senders (their replies drop, the pooled connection is
        // discarded as broken); the writer goes on with the next round.
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| commit_round(pool, jobs, recent))).is_err() {
            log::error!("the event writer panicked while committing; that round's events were not stored");
        }
        if let Some(c) = checkpointer {
            c.nudge();
        }
    }
}

/// Commits every job in one transaction. Should that fail, each job is tried alone, so one
/// room's bad batch fails only that room's senders. What was committed goes to `recent` before
/// any sender hears of it, so a sync woken by the commit finds it there.
fn commit_round(pool: &DbPool, mut jobs: Vec<Job>, recent: &RecentEvents) {
    let together = in_write_txn(pool, |c| jobs.iter_mut().try_for_each(|job| commit_rows(c, job.new_room.as_deref(), &mut job.batch)));
    match together {
        Ok(()) => {
            recent.append(jobs.iter().filter_map(Job::committed).collect());
            for job in jobs {
                let _ = job.reply.send(Ok(job.batch));
            }
        }
        Err(e) if jobs.len() == 1 => {
            let job = jobs.pop().expect("one job");
            let _ = job.reply.send(Err(e));
        }
        Err(_) => {
            for mut job in jobs {
                // What the failed attempt noted about transaction IDs held by other events.
                for ev in job.batch.iter_mut() {
                    ev.existing_txn_event = None;
                }
                let alone = in_write_txn(pool, |c| commit_rows(c, job.new_room.as_deref(), &mut job.batch));
                if let (Ok(()), Some(b)) = (&alone, job.committed()) {
                    recent.append(vec![b]);
                }
                let _ = job.reply.send(alone.map(|()| job.batch));
            }
        }
    }
}

impl Job {
    fn committed(&self) -> Option<CommittedBatch> {
        let room = self.batch.first()?.pdu.room_id.clone();
        Some(CommittedBatch::new(room, self.joined.clone(), &self.batch))
    }
}

fn in_write_txn(pool: &DbPool, f: impl FnOnce(&mut super::Conn) -> Result<()>) -> Result<()> {
    write_txn(&mut *pool.get()?, f)
}
