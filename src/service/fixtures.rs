//! Synthetic data for the benchmark binaries: bulk accounts written straight to the store, many
//! events sent through room actors at once, and a reindex waited for. Not reachable over HTTP.

use crate::Services;
use crate::actors::room::SendEvent;
use crate::actors::search::{Reindex, ReindexStatus};
use crate::error::{Error, Result};
use crate::events::EventDraft;
use crate::store::users::{self, Profile, User};
use ruma::OwnedUserId;
use std::sync::Arc;
use std::time::Duration;

/// An account to generate: no password, optional admin flag, times and display name given.
pub struct FixtureUser {
    pub user_id: OwnedUserId,
    pub admin: bool,
    pub creation_ts: Option<i64>,
    pub last_seen_ts: Option<i64>,
    pub displayname: Option<String>,
}

/// Writes the accounts in transactions of up to 50,000, then refreshes the planner statistics
/// as the server's periodic refresh would.
pub async fn create_users(svc: &Services, list: Vec<FixtureUser>) -> Result<()> {
    let mut list = list.into_iter().peekable();
    while list.peek().is_some() {
        let chunk: Vec<FixtureUser> = list.by_ref().take(50_000).collect();
        svc.db
            .run(move |c| {
                crate::store::write_txn(c, |c| {
                    for f in &chunk {
                        let mut u = User::new(&f.user_id, None, f.admin);
                        if let Some(ts) = f.creation_ts {
                            u.creation_ts = ts;
                        }
                        u.last_seen_ts = f.last_seen_ts;
                        users::create(c, &u)?;
                        if let Some(name) = &f.displayname {
                            users::set_profile(
                                c,
                                &Profile { user_id: f.user_id.to_string(), displayname: Some(name.clone()), avatar_url: None },
                            )?;
                        }
                    }
                    Ok(())
                })
            })
            .await?;
    }
    svc.db.run(crate::store::optimize).await
}

/// Makes an existing account a server admin (the bench's first account registers over HTTP).
pub async fn make_admin(svc: &Services, user: &OwnedUserId) -> Result<()> {
    super::accounts::set_admin(svc, user, user, true).await
}

/// Sends each (sender, draft) into the room through its actor, up to 20,000 in flight, so the
/// actor's group commit batches them; fails on the first refused or uncommitted event.
pub async fn send_all(svc: &Arc<Services>, room: &str, events: Vec<(OwnedUserId, EventDraft)>) -> Result<()> {
    let room_id = ruma::RoomId::parse(room).map_err(|e| Error::invalid_param(format!("room ID {room}: {e}")))?;
    let msgs: Vec<SendEvent> = events.into_iter().map(|(sender, draft)| SendEvent::new(sender, draft)).collect();
    for chunk in msgs.chunks(20_000) {
        let sends = chunk.iter().cloned().map(|m| svc.send_to_room(&room_id, m));
        for r in futures_util::future::join_all(sends).await {
            r??;
        }
    }
    Ok(())
}

/// Starts a reindex and waits for it: the documents indexed and the seconds the rebuild took.
/// One already running (the rebuild a start begins for a missing or outdated index, or an
/// admin's) is waited out first, so the one timed is this call's own.
pub async fn reindex_and_wait(svc: &Services) -> Result<(u64, f64)> {
    while !svc.search.send(Reindex).await? {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if let (false, Some(done)) = svc.search.send(ReindexStatus).await? {
            return Ok(done);
        }
    }
}

/// The longest [`wait_push_evaluated`] waits.
const PUSH_WAIT_LIMIT: Duration = Duration::from_secs(30 * 60);

/// Waits until push rules have been evaluated for everything committed so far, and answers the
/// seconds it waited. A bench that generates events faster than they are evaluated (10,000
/// joins into one room) leaves the evaluator far behind, and an operation timed meanwhile would
/// share the machine and the write lock with that backlog instead of measuring itself.
pub async fn wait_push_evaluated(svc: &Services) -> Result<f64> {
    let started = std::time::Instant::now();
    let head = svc.db.run(crate::store::events::max_stream).await?;
    while !super::notifications::wait_evaluated(svc, head).await {
        // An evaluator that keeps failing never catches up: give up rather than hang the bench.
        if started.elapsed() > PUSH_WAIT_LIMIT {
            return Err(Error::internal(format!("push evaluation did not reach position {head} in {PUSH_WAIT_LIMIT:?}")));
        }
    }
    Ok(started.elapsed().as_secs_f64())
}
