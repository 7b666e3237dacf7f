//! Remembers the (ip, user agent) of authenticated requests in memory and writes them to the
//! store in batches, so a busy client does not cost a write per request.
//!
//! The periodic write ([`ClientIps::flush_due`]) passes over a sighting written less than
//! [`REWRITE_GAP_MS`] ago: a client long-polling all day costs a write a minute, not one every
//! two seconds. Whatever reads last-seen times for an admin writes everything first
//! ([`ClientIps::flush`]), so those stay exact. (Synapse drops such sightings for two minutes.)

use crate::store::Db;
use crate::store::client_ips::Seen;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// How long after its last write a sighting waits for the next periodic one.
pub const REWRITE_GAP_MS: i64 = 60_000;

/// Sightings held at most, each way: past this the periodic write takes every pending one, and
/// forgets when each was written (they are then written again at most once each).
const HELD: usize = 100_000;

#[derive(Default)]
pub struct ClientIps {
    state: Mutex<Sightings>,
}

#[derive(Default)]
struct Sightings {
    /// Seen since written: the latest time of each.
    pending: HashMap<Seen, i64>,
    /// The time of each sighting as last written.
    written: HashMap<Seen, i64>,
}

impl ClientIps {
    fn locked(&self) -> MutexGuard<'_, Sightings> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn note(&self, seen: Seen, ts: i64) {
        self.locked().pending.insert(seen, ts);
    }

    /// Writes everything noted so far.
    pub async fn flush(&self, db: &Db) -> crate::error::Result<()> {
        let batch: Vec<(Seen, i64)> = std::mem::take(&mut self.locked().pending).into_iter().collect();
        self.write(db, batch).await
    }

    /// The periodic write: what was noted, but not sightings written less than
    /// [`REWRITE_GAP_MS`] before their latest time (they stay pending).
    pub async fn flush_due(&self, db: &Db) -> crate::error::Result<()> {
        let batch: Vec<(Seen, i64)> = {
            let mut g = self.locked();
            if g.pending.len() >= HELD {
                g.written.clear();
            }
            let Sightings { pending, written } = &mut *g;
            pending.extract_if(|seen, ts| written.get(seen).is_none_or(|w| *ts - w >= REWRITE_GAP_MS)).collect()
        };
        self.write(db, batch).await
    }

    async fn write(&self, db: &Db, batch: Vec<(Seen, i64)>) -> crate::error::Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let marks = db
            .run(move |c| {
                crate::store::client_ips::record(c, &batch)?;
                Ok(batch)
            })
            .await?;
        let mut g = self.locked();
        if g.written.len() + marks.len() > HELD {
            g.written.clear();
        }
        g.written.extend(marks);
        Ok(())
    }
}
