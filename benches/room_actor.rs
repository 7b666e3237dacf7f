//! Room actor throughput in-process: 10,000 messages sent concurrently through one RoomActor,
//! each answered only after its group commit. Run with `make bench` (release profile).

use criterion::{Criterion, criterion_group, criterion_main};
use ensemble::actors::room::SendEvent;
use ensemble::events::EventDraft;
use serde_json::json;
use std::time::{Duration, Instant};

const MESSAGES: usize = 10_000;

async fn setup(dir: &std::path::Path) -> (ensemble::Server, ruma::OwnedUserId, String) {
    let cfg = ensemble::Config {
        server_name: "bench.local".into(),
        listen: "127.0.0.1:0".into(),
        data_dir: dir.to_path_buf(),
        password_hash_log_n: 4,
        enable_registration: true,
        log: "warn".into(),
        ..ensemble::Config::default()
    };
    let server = ensemble::start(cfg).await.expect("server");
    let http = reqwest::Client::new();
    let base = server.base_url.clone();
    let reg: serde_json::Value = http
        .post(format!("{base}/_matrix/client/v3/register"))
        .json(&json!({"username": "bencher", "password": "bench-password", "auth": {"type": "m.login.dummy"}}))
        .send()
        .await
        .expect("register")
        .json()
        .await
        .expect("json");
    let token = reg["access_token"].as_str().expect("token").to_owned();
    let user = ensemble::ids::parse_user_id(reg["user_id"].as_str().expect("user")).expect("user ID");
    let room: serde_json::Value = http
        .post(format!("{base}/_matrix/client/v3/createRoom"))
        .bearer_auth(&token)
        .json(&json!({"name": "bench"}))
        .send()
        .await
        .expect("createRoom")
        .json()
        .await
        .expect("json");
    (server, user, room["room_id"].as_str().expect("room").to_owned())
}

fn room_actor_group_commit(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let sys = actix_rt::System::new();
    let (server, user, room) = sys.block_on(setup(dir.path()));
    let room = ruma::RoomId::parse(&room).expect("room ID");
    let svc = server.services.clone();
    let mut group = c.benchmark_group("room_actor");
    group.sample_size(10).measurement_time(Duration::from_secs(30)).throughput(criterion::Throughput::Elements(MESSAGES as u64));
    group.bench_function("send_10k_messages_group_commit", |b| {
        b.iter_custom(|iters| {
            sys.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    let sends = (0..MESSAGES).map(|i| {
                        let draft = EventDraft::message("m.room.message", json!({"msgtype": "m.text", "body": format!("bench {i}")}));
                        let msg = SendEvent::new(user.clone(), draft);
                        svc.send_to_room(&room, msg)
                    });
                    for r in futures_util::future::join_all(sends).await {
                        r.expect("mailbox").expect("committed");
                    }
                    total += start.elapsed();
                }
                total
            })
        })
    });
    group.finish();
}

criterion_group!(benches, room_actor_group_commit);
criterion_main!(benches);
