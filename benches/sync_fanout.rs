//! Notifier fan-out: N users (N = 100 and 1,000), all in one room, each with a `/sync` long-poll
//! waiting; one message is sent. Measured: from just before the send to the last long-poll's
//! answer read in full (the setup, registering and parking the long-polls, is outside the
//! timing). The p50/p99 of the single wakes is printed beside it.
//! Run with `cargo bench --bench sync_fanout` (release; about a minute).

#[path = "support/mod.rs"]
mod support;

use criterion::{BenchmarkId, Criterion, SamplingMode, criterion_group, criterion_main};
use ensemble::actors::notifier::Waiting;
use serde_json::json;
use std::time::{Duration, Instant};
use support::{Bench, User};

/// Small answers: the bench is about waking, not about serialising 1,000 member events.
const FILTER: &str = r#"{"room":{"state":{"lazy_load_members":true},"timeline":{"limit":5}}}"#;

struct Room {
    sender: User,
    room: String,
    waiters: Vec<(User, String)>,
}

async fn setup(b: &Bench, n: usize) -> Room {
    let sender = b.register(&format!("sender{n}")).await;
    let room = b.create_room(&sender, json!({"preset": "public_chat"})).await;
    let users = b.register_many(&format!("w{n}_"), n).await;
    support::bounded(&users, |u| b.join(u, &room)).await;
    let waiters = support::bounded(users, |u| async move {
        let token = support::next_batch(&b.sync(&u, None, 0, Some(FILTER)).await);
        (u, token)
    })
    .await;
    Room { sender, room, waiters }
}

/// One round: park every long-poll, send, and answer the time to the last wake and each wake.
async fn round(b: &Bench, r: &mut Room, tag: u64) -> (Duration, Vec<Duration>) {
    let svc = b.server.services.clone();
    let polls: Vec<_> = r
        .waiters
        .iter()
        .map(|(u, since)| {
            let (http, url, token) =
                (b.http.clone(), format!("{}{}", b.base, support::sync_path(Some(since), 30_000, Some(FILTER))), u.token.clone());
            actix_rt::spawn(async move {
                let body: serde_json::Value = http.get(url).bearer_auth(token).send().await.expect("sync").json().await.expect("json");
                (Instant::now(), body)
            })
        })
        .collect();
    let n = polls.len();
    support::wait_until("long-polls parked", Duration::from_secs(60), || {
        let svc = svc.clone();
        async move { svc.notifier.send(Waiting).await.unwrap_or(0) >= n }
    })
    .await;
    let start = Instant::now();
    b.send_text(&r.sender, &r.room, &format!("wake {tag}")).await;
    let mut wakes = Vec::with_capacity(n);
    for (poll, (_, since)) in polls.into_iter().zip(r.waiters.iter_mut()) {
        let (at, body) = poll.await.expect("poll task");
        let timeline = &body["rooms"]["join"][&r.room]["timeline"]["events"];
        assert!(timeline.as_array().is_some_and(|t| !t.is_empty()), "woken without the message: {body}");
        wakes.push(at.duration_since(start));
        *since = support::next_batch(&body);
    }
    (wakes.iter().copied().max().unwrap_or_default(), wakes)
}

fn fanout(c: &mut Criterion) {
    let sys = actix_rt::System::new();
    let b = sys.block_on(support::start(600));
    let mut group = c.benchmark_group("sync_fanout");
    group.sampling_mode(SamplingMode::Flat).sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(5));
    for n in [100, 1_000] {
        let mut room = sys.block_on(setup(&b, n));
        let mut all_wakes = Vec::new();
        let mut tag = 0;
        group.bench_with_input(BenchmarkId::new("send_to_last_wake", n), &n, |bench, _| {
            bench.iter_custom(|iters| {
                sys.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        tag += 1;
                        let (last, wakes) = round(&b, &mut room, tag).await;
                        total += last;
                        all_wakes.extend(wakes);
                    }
                    total
                })
            })
        });
        eprintln!("sync_fanout/{n}: single wakes {}", support::percentiles(&mut all_wakes));
    }
    group.finish();
    sys.block_on(support::stop(b));
}

criterion_group!(benches, fanout);
criterion_main!(benches);
