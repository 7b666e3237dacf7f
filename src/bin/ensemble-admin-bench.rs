//! One-shot timings of the heavy admin operations on a generated store, in-process on loopback:
//! search reindex over N searchable events, evacuateRoom of a room with M local members, and
//! purgeRoom of a room with N events. Prints JSON. Meant for release builds:
//!
//!   cargo run --release --bin ensemble-admin-bench -- --events 1000000 --members 10000
//!
//! With `--resident-rooms N --resident-users M` it instead measures the process's memory with M
//! user actors and N room actors live (each room made by one of the users through the room
//! creation service, so it holds what a fresh private room holds).

use clap::Parser;
use ensemble::events::EventDraft;
use ensemble::service::fixtures::{self, FixtureUser};
use serde_json::json;
use std::time::Instant;

#[derive(Parser)]
struct Args {
    /// Searchable messages generated in the big room (reindexed, then purged).
    #[arg(long, default_value_t = 1_000_000)]
    events: usize,
    /// Local members joined to the evacuated room.
    #[arg(long, default_value_t = 10_000)]
    members: usize,
    /// Users generated for timing the admin user list (0 skips it).
    #[arg(long, default_value_t = 0)]
    list_users: usize,
    /// Skip the reindex/evacuate/purge part (to time only the user list).
    #[arg(long)]
    only_list: bool,
    /// Only time a reindex of what `--data-dir` already holds (from an earlier run with --keep).
    #[arg(long, requires = "data_dir")]
    reindex_only: bool,
    /// Instead of the Dendrite timings: one room with `--members` local members and `--events`
    /// messages, deleted with Synapse's `DELETE v2/rooms/{id}` (shutdown and purge), timed until
    /// its `delete_status` says complete.
    #[arg(long)]
    synapse_delete: bool,
    /// Keep the generated store: skip the evacuate and purge part.
    #[arg(long)]
    keep: bool,
    /// Room actors to keep live for the memory measurement (0: not measured).
    #[arg(long, default_value_t = 0)]
    resident_rooms: usize,
    /// User actors to keep live for the memory measurement.
    #[arg(long, default_value_t = 0)]
    resident_users: usize,
    /// Data directory (a fresh temp dir by default).
    #[arg(long)]
    data_dir: Option<std::path::PathBuf>,
}

async fn call(http: &reqwest::Client, method: reqwest::Method, url: String, token: &str, body: serde_json::Value) -> serde_json::Value {
    let res = http.request(method, url).bearer_auth(token).json(&body).send().await.expect("request");
    let status = res.status();
    let v: serde_json::Value = res.json().await.unwrap_or(serde_json::Value::Null);
    assert!(status.is_success(), "{status}: {v}");
    v
}

fn main() {
    ensemble::federation::tls::install_default_provider();
    let args = Args::parse();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = args.data_dir.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    let cfg = ensemble::Config {
        server_name: "bench.local".into(),
        listen: "127.0.0.1:0".into(),
        data_dir: dir,
        password_hash_log_n: 4,
        enable_registration: true,
        // The memory measurement keeps every actor it activated live while it runs.
        actor_idle_secs: if args.resident_rooms + args.resident_users > 0 { 24 * 3600 } else { 600 },
        log: "warn".into(),
        ..ensemble::Config::default()
    };
    env_logger::Builder::new()
        .parse_filters(&std::env::var("ENSEMBLE_LOG").unwrap_or_else(|_| "warn,ensemble::actors::search=info".into()))
        .init();
    actix_rt::System::new().block_on(async move {
        let server = ensemble::start(cfg).await.expect("server");
        let svc = server.services.clone();
        let base = server.base_url.clone();
        if args.reindex_only {
            let t = Instant::now();
            let (docs, secs) = fixtures::reindex_and_wait(&svc).await.expect("reindex");
            println!("{}", json!({"reindex_docs": docs, "reindex_secs": secs, "reindex_events_per_sec": docs as f64 / secs, "wall_secs": t.elapsed().as_secs_f64()}));
            server.stop().await;
            return;
        }

        if args.resident_rooms + args.resident_users > 0 {
            println!("{}", resident(&svc, args.resident_users.max(1), args.resident_rooms).await);
            server.stop().await;
            return;
        }

        let http = reqwest::Client::new();
        let reg = call(&http, reqwest::Method::POST, format!("{base}/_matrix/client/v3/register"), "", json!({"username": "admin", "password": "bench-password", "auth": {"type": "m.login.dummy"}})).await;
        let token = reg["access_token"].as_str().expect("token").to_owned();
        let admin = reg["user_id"].as_str().expect("user").to_owned();
        fixtures::make_admin(&svc, &ensemble::ids::parse_user_id(&admin).expect("admin ID")).await.expect("admin");

        if args.list_users > 0 {
            let timings = time_user_list(&svc, &http, &base, &token, args.list_users).await;
            println!("{timings}");
            if args.only_list {
                server.stop().await;
                return;
            }
        }

        if args.synapse_delete {
            let timings = time_synapse_delete(&svc, &http, &base, &token, &admin, args.members, args.events).await;
            println!("{timings}");
            server.stop().await;
            return;
        }
        // The big room: N searchable messages through the room actor (group commit).
        let big = call(&http, reqwest::Method::POST, format!("{base}/_matrix/client/v3/createRoom"), &token, json!({"name": "big"})).await["room_id"].as_str().expect("room").to_owned();
        let t0 = Instant::now();
        let words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"];
        let admin_id = ensemble::ids::parse_user_id(&admin).expect("admin ID");
        let msgs: Vec<_> = (0..args.events)
            .map(|i| (admin_id.clone(), EventDraft::message("m.room.message", json!({"msgtype": "m.text", "body": format!("message {i} {} {}", words[i % 10], words[(i / 10) % 10])}))))
            .collect();
        fixtures::send_all(&svc, &big, msgs).await.expect("messages");
        let gen_secs = t0.elapsed().as_secs_f64();

        // Push evaluation still to do is waited out before each timed operation, so the timings
        // are the admin operations' own: the 10,000 joins below leave the evaluator 75-115 s of
        // work (each join is evaluated for every member already in), which evacuate and purge
        // used to share the machine and the write lock with.
        let settle_reindex_secs = fixtures::wait_push_evaluated(&svc).await.expect("push evaluation");
        // Reindex the whole store.
        let t1 = Instant::now();
        let (docs, rebuild_secs) = fixtures::reindex_and_wait(&svc).await.expect("reindex");
        let reindex_wall = t1.elapsed().as_secs_f64();
        if args.keep {
            println!("{}", json!({"events": args.events, "generate_secs": gen_secs, "reindex_docs": docs, "reindex_secs": rebuild_secs, "reindex_wall_secs": reindex_wall}));
            server.stop().await;
            return;
        }

        // M local members in one room, then evacuate it over HTTP.
        let ev_room = call(&http, reqwest::Method::POST, format!("{base}/_matrix/client/v3/createRoom"), &token, json!({"preset": "public_chat"})).await["room_id"].as_str().expect("room").to_owned();
        let users: Vec<String> = (0..args.members).map(|i| format!("@member{i}:bench.local")).collect();
        let members = users
            .iter()
            .map(|u| FixtureUser { user_id: ensemble::ids::parse_user_id(u).expect("member ID"), admin: false, creation_ts: None, last_seen_ts: None, displayname: None })
            .collect();
        fixtures::create_users(&svc, members).await.expect("users");
        let joins: Vec<_> = users
            .iter()
            .map(|u| (ensemble::ids::parse_user_id(u).expect("member ID"), EventDraft::state("m.room.member", u, json!({"membership": "join"}))))
            .collect();
        let t2 = Instant::now();
        fixtures::send_all(&svc, &ev_room, joins).await.expect("joins");
        let join_secs = t2.elapsed().as_secs_f64();
        let settle_evacuate_secs = fixtures::wait_push_evaluated(&svc).await.expect("push evaluation");
        let t3 = Instant::now();
        let enc = ensemble::federation::client::encode_segment;
        let ev = call(&http, reqwest::Method::POST, format!("{base}/_dendrite/admin/evacuateRoom/{}", enc(&ev_room)), &token, json!({})).await;
        let evacuate_secs = t3.elapsed().as_secs_f64();
        let affected = ev["affected"].as_array().map(|a| a.len()).unwrap_or(0);

        // Purge the big room, once the evacuation's leaves are evaluated too.
        let settle_purge_secs = fixtures::wait_push_evaluated(&svc).await.expect("push evaluation");
        let t4 = Instant::now();
        call(&http, reqwest::Method::POST, format!("{base}/_dendrite/admin/purgeRoom/{}", enc(&big)), &token, json!({})).await;
        let purge_secs = t4.elapsed().as_secs_f64();

        println!(
            "{}",
            json!({
                "events": args.events, "generate_secs": gen_secs, "generate_events_per_sec": args.events as f64 / gen_secs,
                "settle_reindex_secs": settle_reindex_secs, "reindex_docs": docs, "reindex_secs": rebuild_secs, "reindex_wall_secs": reindex_wall, "reindex_events_per_sec": docs as f64 / rebuild_secs,
                "members": args.members, "join_secs": join_secs, "settle_evacuate_secs": settle_evacuate_secs, "evacuate_affected": affected, "evacuate_secs": evacuate_secs,
                "settle_purge_secs": settle_purge_secs, "purge_secs": purge_secs,
            })
        );
        server.stop().await;
    });
}

/// Generates `n` users (with displaynames) straight into the store, then times pages of the
/// admin user list for several sort keys and filters.
async fn time_user_list(
    svc: &std::sync::Arc<ensemble::Services>,
    http: &reqwest::Client,
    base: &str,
    token: &str,
    n: usize,
) -> serde_json::Value {
    let t0 = Instant::now();
    let generated = (0..n)
        .map(|i| FixtureUser {
            user_id: ensemble::ids::parse_user_id(&format!("@user{i:07}:bench.local")).expect("user ID"),
            admin: i % 97 == 0,
            creation_ts: Some(1_700_000_000_000 + ((i * 7919) % n) as i64),
            last_seen_ts: Some(1_700_000_000_000 + ((i * 104_729) % n) as i64),
            displayname: Some(format!("Name {}", (i * 31) % n)),
        })
        .collect();
    fixtures::create_users(svc, generated).await.expect("users");
    let gen_secs = t0.elapsed().as_secs_f64();
    let mut out = serde_json::Map::new();
    out.insert("users".into(), json!(n));
    out.insert("generate_secs".into(), json!(gen_secs));
    let queries = [
        "order_by=name&limit=100",
        "order_by=name&limit=100&from=500000",
        "order_by=displayname&limit=100",
        "order_by=creation_ts&dir=b&limit=100",
        "order_by=last_seen_ts&dir=b&limit=100",
        "order_by=admin&dir=b&limit=100",
        "order_by=is_guest&dir=b&limit=100",
        "order_by=shadow_banned&dir=b&limit=100",
        "order_by=user_type&dir=b&limit=100",
        "order_by=displayname&dir=b&limit=100",
        "order_by=avatar_url&limit=100",
        "name=user0500&limit=100",
        "admins=true&limit=100",
    ];
    for q in queries {
        let t = Instant::now();
        let v = call(http, reqwest::Method::GET, format!("{base}/_synapse/admin/v2/users?{q}"), token, json!(null)).await;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        out.insert(q.into(), json!({"ms": ms, "returned": v["users"].as_array().map(|a| a.len()), "total": v["total"]}));
    }
    serde_json::Value::Object(out)
}

/// One room with `members` local members (joined through the room actor) and `events`
/// messages, then `DELETE v2/rooms/{id}` with purge, polled until its status is final.
async fn time_synapse_delete(
    svc: &std::sync::Arc<ensemble::Services>,
    http: &reqwest::Client,
    base: &str,
    token: &str,
    admin: &str,
    members: usize,
    events: usize,
) -> serde_json::Value {
    let room = call(http, reqwest::Method::POST, format!("{base}/_matrix/client/v3/createRoom"), token, json!({"preset": "public_chat"}))
        .await["room_id"]
        .as_str()
        .expect("room")
        .to_owned();
    let t0 = Instant::now();
    let users: Vec<String> = (0..members).map(|i| format!("@member{i}:bench.local")).collect();
    let fixture_users = users
        .iter()
        .map(|u| FixtureUser {
            user_id: ensemble::ids::parse_user_id(u).expect("member ID"),
            admin: false,
            creation_ts: None,
            last_seen_ts: None,
            displayname: None,
        })
        .collect();
    fixtures::create_users(svc, fixture_users).await.expect("users");
    let joins: Vec<_> = users
        .iter()
        .map(|u| {
            (ensemble::ids::parse_user_id(u).expect("member ID"), EventDraft::state("m.room.member", u, json!({"membership": "join"})))
        })
        .collect();
    fixtures::send_all(svc, &room, joins).await.expect("joins");
    let admin_id = ensemble::ids::parse_user_id(admin).expect("admin ID");
    let msgs: Vec<_> = (0..events)
        .map(|i| (admin_id.clone(), EventDraft::message("m.room.message", json!({"msgtype": "m.text", "body": format!("message {i}")}))))
        .collect();
    fixtures::send_all(svc, &room, msgs).await.expect("messages");
    let generate_secs = t0.elapsed().as_secs_f64();
    let enc = ensemble::federation::client::encode_segment(&room);
    let t1 = Instant::now();
    let started = call(http, reqwest::Method::DELETE, format!("{base}/_synapse/admin/v2/rooms/{enc}"), token, json!({"purge": true})).await;
    let id = started["delete_id"].as_str().expect("delete_id").to_owned();
    let status = loop {
        let s = call(http, reqwest::Method::GET, format!("{base}/_synapse/admin/v2/rooms/delete_status/{id}"), token, json!({})).await;
        match s["status"].as_str() {
            Some("complete" | "failed") => break s,
            _ => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    };
    json!({
        "members": members, "events": events, "generate_secs": generate_secs,
        "delete_v2_secs": t1.elapsed().as_secs_f64(), "status": status["status"],
        "kicked_users": status["shutdown_room"]["kicked_users"].as_array().map(Vec::len),
    })
}

/// The process's resident set and its peak, in KiB (`/proc/self/status`).
fn rss_kib() -> (u64, u64) {
    (ensemble::memory::resident_kib(), ensemble::memory::status_kib("VmHWM:"))
}

/// Activates `users` user actors, then has them create `rooms` rooms (one room actor each),
/// and reports the resident memory after each step and per actor.
async fn resident(svc: &std::sync::Arc<ensemble::Services>, users: usize, rooms: usize) -> serde_json::Value {
    use ensemble::service::room_creation::{NewRoom, create_room};
    use futures_util::StreamExt;
    let ids: Vec<_> = (0..users).map(|i| ensemble::ids::parse_user_id(&format!("@res{i:07}:bench.local")).expect("user ID")).collect();
    let t0 = Instant::now();
    let list = ids
        .iter()
        .map(|id| FixtureUser {
            user_id: id.clone(),
            admin: false,
            creation_ts: None,
            last_seen_ts: None,
            displayname: Some(format!("Resident {id}")),
        })
        .collect();
    fixtures::create_users(svc, list).await.expect("users");
    let generate_secs = t0.elapsed().as_secs_f64();
    let (before, _) = rss_kib();
    let t1 = Instant::now();
    futures_util::stream::iter(ids.iter())
        .for_each_concurrent(256, |id| async move {
            svc.directory.user(svc, id).await.expect("user actor");
        })
        .await;
    let activate_secs = t1.elapsed().as_secs_f64();
    // Actors load their profile and rooms as they start: let the last loads finish.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let (with_users, _) = rss_kib();
    let t2 = Instant::now();
    futures_util::stream::iter(0..rooms)
        .for_each_concurrent(64, |i| {
            let creator = ids[i % ids.len()].clone();
            async move {
                create_room(svc, NewRoom::new(creator)).await.expect("room");
            }
        })
        .await;
    let create_secs = t2.elapsed().as_secs_f64();
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let (with_rooms, peak) = rss_kib();
    // What the server's periodic trim (`ensemble::memory`) leaves resident.
    let t3 = Instant::now();
    ensemble::memory::trim();
    let trim_secs = t3.elapsed().as_secs_f64();
    let trimmed = ensemble::memory::resident_kib();
    let (live_users, live_rooms) = (svc.directory.active_users(), svc.directory.active_rooms());
    let per = |kib: u64, n: usize| if n == 0 { 0.0 } else { kib as f64 / n as f64 };
    json!({
        "users": users, "rooms": rooms, "live_user_actors": live_users, "live_room_actors": live_rooms,
        "generate_users_secs": generate_secs, "activate_users_secs": activate_secs, "create_rooms_secs": create_secs,
        "rss_kib_before_actors": before, "rss_kib_with_users": with_users, "rss_kib_with_rooms": with_rooms, "peak_rss_kib": peak,
        "kib_per_user_actor": per(with_users.saturating_sub(before), live_users),
        "kib_per_room_actor": per(with_rooms.saturating_sub(with_users), live_rooms),
        "rss_kib_trimmed": trimmed, "trim_secs": trim_secs,
    })
}
