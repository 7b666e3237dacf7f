//! Search indexing. `lag_after_2000_messages`: 2,000 messages sent at once into one room, timed
//! from before the first send to `/search` finding the last one (polled every 5 ms, bounded):
//! the index lag under load, the sends included. `rebuild`: the SearchActor's own throughput,
//! a full reindex of the store (every message so far) driven through its `Reindex` message and
//! timed until `ReindexStatus` says it finished; documents per second printed beside it.
//! Run with `cargo bench --bench search_index` (release; about a minute).

#[path = "support/mod.rs"]
mod support;

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use ensemble::actors::search::{Reindex, ReindexStatus};
use serde_json::json;
use std::time::{Duration, Instant};

const MESSAGES: usize = 2_000;

fn search_index(c: &mut Criterion) {
    let sys = actix_rt::System::new();
    let b = sys.block_on(support::start(600));
    let (user, room) = sys.block_on(async {
        let user = b.register("searcher").await;
        let room = b.create_room(&user, json!({"name": "search bench"})).await;
        (user, room)
    });
    let mut group = c.benchmark_group("search_index");
    group.sampling_mode(SamplingMode::Flat).sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Elements(MESSAGES as u64));
    let mut round = 0u64;
    group.bench_function("lag_after_2000_messages", |bench| {
        bench.iter_custom(|iters| {
            sys.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    round += 1;
                    // One word no other message has, so the hit is the last message and no other.
                    let needle = format!("needle{round}x");
                    let start = Instant::now();
                    let sends = (0..MESSAGES).map(|i| {
                        let text = if i + 1 == MESSAGES { format!("the last one {needle}") } else { format!("filler {round} {i}") };
                        let (b, user, room) = (&b, &user, &room);
                        async move { b.send_text(user, room, &text).await }
                    });
                    let ids = futures_util::future::join_all(sends).await;
                    let last = ids.last().expect("sent").clone();
                    let query = json!({"search_categories": {"room_events": {"search_term": needle}}});
                    support::wait_until("the last message searchable", Duration::from_secs(60), || {
                        let (b, user, query, last) = (&b, &user, query.clone(), &last);
                        async move {
                            let found = b.post("/_matrix/client/v3/search", Some(&user.token), query).await;
                            found["search_categories"]["room_events"]["results"][0]["result"]["event_id"] == last.as_str()
                        }
                    })
                    .await;
                    total += start.elapsed();
                }
                total
            })
        })
    });
    let svc = b.server.services.clone();
    let mut rebuilds = Vec::new();
    group.throughput(Throughput::Elements(1));
    group.bench_function("rebuild", |bench| {
        bench.iter_custom(|iters| {
            sys.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    assert!(svc.search.send(Reindex).await.expect("search actor"), "a rebuild already runs");
                    support::wait_until("the rebuild", Duration::from_secs(60), || async {
                        !svc.search.send(ReindexStatus).await.expect("search actor").0
                    })
                    .await;
                    let (_, last) = svc.search.send(ReindexStatus).await.expect("search actor");
                    rebuilds.extend(last);
                }
                start.elapsed()
            })
        })
    });
    group.finish();
    if let Some((docs, secs)) = rebuilds.last() {
        eprintln!("search_index/rebuild: {docs} documents in {secs:.3} s = {:.0} docs/s (as the actor reports it)", *docs as f64 / secs);
    }
    sys.block_on(support::stop(b));
}

criterion_group!(benches, search_index);
criterion_main!(benches);
