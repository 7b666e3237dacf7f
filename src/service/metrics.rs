//! The operators' metrics: the gauges read from the actors when scraped, then the whole text.

use crate::Services;
use crate::actors::notifier::Waiting;
use crate::error::Result;
use std::sync::atomic::Ordering;

/// Reads what is only known on asking (live actors, waiting long-polls, how far search and push
/// are behind the event stream) and renders every metric.
pub async fn scrape(svc: &Services) -> Result<String> {
    let m = &svc.metrics;
    m.room_actors.set(svc.directory.active_rooms() as i64);
    m.user_actors.set(svc.directory.active_users() as i64);
    m.sync_waiters.set(svc.notifier.send(Waiting).await.unwrap_or(0) as i64);
    let head = svc.db.run(crate::store::events::max_stream).await?;
    m.search_lag.set((head - m.search_covered.get()).max(0));
    m.push_lag.set((head - *svc.push_progress.borrow()).max(0));
    let wal = svc.committer.checkpoints();
    m.wal_checkpoints.inner().fetch_max(wal.runs.load(Ordering::Relaxed), Ordering::Relaxed);
    m.wal_pages.set(wal.log_pages.load(Ordering::Relaxed) as i64);
    Ok(m.render())
}
