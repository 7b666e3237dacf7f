//! Actor activation and passivation, with `actor_idle_secs = 1`. `room/first_send_passivated`:
//! a message sent into a room whose actor was passivated (the actor is started again and loads
//! the room from the store before the send commits); `room/send_active` is the same send into a
//! room whose actor is live, for comparison. `user/...`: the same for a user actor, reached by
//! setting the display name of a user in no room. Waiting for passivation (`active_rooms()` /
//! `active_users()` back to zero) is outside the timing. The resident memory added by activating
//! 1,000 room actors (on the same data, restarted with a long idle time) is printed beside it
//! (RSS of the whole process, SQLite's cache included: a rough figure).
//! Run with `cargo bench --bench actor_activation` (release; about a minute).

#[path = "support/mod.rs"]
mod support;

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{Bench, User};

/// Rooms (and users) woken per wait for passivation; more iterations wait again.
const POOL: usize = 200;
/// Rooms activated at once for the memory figure.
const MEMORY_ROOMS: usize = 1_000;

fn svc(b: &Bench) -> Arc<ensemble::Services> {
    b.server.services.clone()
}

/// Waits (bounded) until every room and user actor has passivated.
async fn all_passivated(b: &Bench) {
    let svc = svc(b);
    support::wait_until("every actor passivated", Duration::from_secs(30), || {
        let svc = svc.clone();
        async move { svc.directory.active_rooms() == 0 && svc.directory.active_users() == 0 }
    })
    .await;
}

async fn set_name(b: &Bench, user: &User, name: &str) {
    let path = format!("/_matrix/client/v3/profile/{}/displayname", support::enc(&user.user_id));
    b.put(&path, &user.token, json!({"displayname": name})).await;
}

/// Times `op` once per iteration. Cold: on pool item `i % POOL`, each item's actor passivated
/// before its turn. Warm: always on item 0, woken by an untimed call first.
async fn timed<F, Fut>(b: &Bench, iters: u64, cold: bool, mut op: F) -> Duration
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut total = Duration::ZERO;
    if !cold {
        op(0).await;
    }
    for i in 0..iters as usize {
        if cold && i % POOL == 0 {
            all_passivated(b).await;
        }
        let start = Instant::now();
        op(if cold { i % POOL } else { 0 }).await;
        total += start.elapsed();
    }
    total
}

fn activation(c: &mut Criterion) {
    let sys = actix_rt::System::new();
    let b = sys.block_on(support::start(1));
    let (owner, rooms, users) = sys.block_on(async {
        let owner = b.register("owner").await;
        let rooms = support::bounded(0..MEMORY_ROOMS, |i| b.create_room(&owner, json!({"name": format!("room {i}")}))).await;
        let users = b.register_many("lonely", POOL).await;
        (owner, rooms, users)
    });
    let mut group = c.benchmark_group("actor_activation");
    group.sampling_mode(SamplingMode::Flat).sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    let mut n = 0u64;
    for (name, cold) in [("room/first_send_passivated", true), ("room/send_active", false)] {
        group.bench_function(name, |bench| {
            bench.iter_custom(|iters| {
                sys.block_on(timed(&b, iters, cold, |i| {
                    n += 1;
                    let (b, owner, room, text) = (&b, &owner, &rooms[i], format!("wake {n}"));
                    async move {
                        b.send_text(owner, room, &text).await;
                    }
                }))
            })
        });
    }
    for (name, cold) in [("user/set_displayname_passivated", true), ("user/set_displayname_active", false)] {
        group.bench_function(name, |bench| {
            bench.iter_custom(|iters| {
                sys.block_on(timed(&b, iters, cold, |i| {
                    n += 1;
                    let (b, user, text) = (&b, &users[i], format!("name {n}"));
                    async move { set_name(b, user, &text).await }
                }))
            })
        });
    }
    group.finish();
    // Memory on a server restarted with a long idle time, so no actor passivates while measured.
    let b = sys.block_on(support::restart(b, 600));
    sys.block_on(async {
        let before = support::rss_kib();
        let start = Instant::now();
        support::bounded(&rooms, |room| b.send_text(&owner, room, "memory")).await;
        let took = start.elapsed();
        let live = svc(&b).directory.active_rooms();
        let after = support::rss_kib();
        if let (Some(before), Some(after)) = (before, after) {
            eprintln!(
                "actor_activation: {live} room actors activated by a send each in {took:.2?}; RSS {before} -> {after} KiB, {:.1} KiB per room actor (process-wide, rough)",
                (after as f64 - before as f64) / live.max(1) as f64
            );
        }
    });
    sys.block_on(support::stop(b));
}

criterion_group!(benches, activation);
criterion_main!(benches);
