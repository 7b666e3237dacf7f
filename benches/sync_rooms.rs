//! Sync of one user who is in R rooms (R = 10, 100, 500), each room made by that user (so a
//! handful of state events each): the initial `/sync`, and an incremental `/sync` after one
//! message in one of the rooms (the send is outside the timing). No filter: what a fresh client
//! asks for. Run with `cargo bench --bench sync_rooms` (release; about a minute).

#[path = "support/mod.rs"]
mod support;

use criterion::{BenchmarkId, Criterion, SamplingMode, criterion_group, criterion_main};
use serde_json::json;
use std::time::{Duration, Instant};

fn sync_rooms(c: &mut Criterion) {
    let sys = actix_rt::System::new();
    let b = sys.block_on(support::start(600));
    let mut group = c.benchmark_group("sync_rooms");
    group.sampling_mode(SamplingMode::Flat).sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    for r in [10, 100, 500] {
        let (user, rooms) = sys.block_on(async {
            let user = b.register(&format!("member{r}")).await;
            let rooms = support::bounded(0..r, |i| b.create_room(&user, json!({"name": format!("room {i}")}))).await;
            (user, rooms)
        });
        let first = sys.block_on(b.sync(&user, None, 0, None));
        assert_eq!(first["rooms"]["join"].as_object().map(|m| m.len()), Some(r), "initial sync sees every room");
        group.bench_with_input(BenchmarkId::new("initial", r), &r, |bench, _| {
            bench.iter_custom(|iters| {
                sys.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        std::hint::black_box(b.sync(&user, None, 0, None).await);
                    }
                    start.elapsed()
                })
            })
        });
        let mut since = support::next_batch(&first);
        let mut sent = 0usize;
        group.bench_with_input(BenchmarkId::new("incremental_after_one_message", r), &r, |bench, _| {
            bench.iter_custom(|iters| {
                sys.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let room = &rooms[sent % rooms.len()];
                        sent += 1;
                        b.send_text(&user, room, &format!("message {sent}")).await;
                        let start = Instant::now();
                        let body = b.sync(&user, Some(&since), 0, None).await;
                        total += start.elapsed();
                        assert!(body["rooms"]["join"][room]["timeline"]["events"].as_array().is_some_and(|t| !t.is_empty()), "{body}");
                        since = support::next_batch(&body);
                    }
                    total
                })
            })
        });
    }
    group.finish();
    sys.block_on(support::stop(b));
}

criterion_group!(benches, sync_rooms);
criterion_main!(benches);
