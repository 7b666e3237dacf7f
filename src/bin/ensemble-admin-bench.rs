//! One-shot timings of the heavy admin operations on a generated store, in-process on loopback:
//! search reindex over N searchable events, evacuateRoom of a room with M local members, and
//! purgeRoom of a room with N events. Prints JSON. Meant for release builds:
//!
//!   cargo run --release --bin ensemble-admin-bench -- --events 1000000 --members 10000

use clap::Parser;
use ensemble::actors::room::SendEvent;
use ensemble::actors::search::{Reindex, ReindexStatus};
use ensemble::events::EventDraft;
use serde_json::json;
use std::time::{Duration, Instant};

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
    /// Keep the generated store: skip the evacuate and purge part.
    #[arg(long)]
    keep: bool,
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

async fn send_many(svc: &std::sync::Arc<ensemble::Services>, room: &str, msgs: Vec<SendEvent>) {
    for chunk in msgs.chunks(20_000) {
        let sends = chunk.iter().cloned().map(|m| svc.send_to_room(room, m));
        for r in futures_util::future::join_all(sends).await {
            r.expect("mailbox").expect("committed");
        }
    }
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
            assert!(svc.search.send(Reindex).await.expect("search actor"));
            let (docs, secs) = loop {
                tokio::time::sleep(Duration::from_millis(50)).await;
                if let (false, Some(r)) = svc.search.send(ReindexStatus).await.expect("search actor") {
                    break r;
                }
            };
            println!("{}", json!({"reindex_docs": docs, "reindex_secs": secs, "reindex_events_per_sec": docs as f64 / secs, "wall_secs": t.elapsed().as_secs_f64()}));
            server.stop().await;
            return;
        }

        let http = reqwest::Client::new();
        let reg = call(&http, reqwest::Method::POST, format!("{base}/_matrix/client/v3/register"), "", json!({"username": "admin", "password": "bench-password", "auth": {"type": "m.login.dummy"}})).await;
        let token = reg["access_token"].as_str().expect("token").to_owned();
        let admin = reg["user_id"].as_str().expect("user").to_owned();
        let db = svc.db.clone();
        let a = admin.clone();
        db.run(move |c| ensemble::store::users::set_admin(c, &a, true)).await.expect("admin");
        svc.tokens.forget_user(&admin);

        if args.list_users > 0 {
            let timings = time_user_list(&svc, &http, &base, &token, args.list_users).await;
            println!("{timings}");
            if args.only_list {
                server.stop().await;
                return;
            }
        }

        // The big room: N searchable messages through the room actor (group commit).
        let big = call(&http, reqwest::Method::POST, format!("{base}/_matrix/client/v3/createRoom"), &token, json!({"name": "big"})).await["room_id"].as_str().expect("room").to_owned();
        let t0 = Instant::now();
        let words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"];
        let msgs: Vec<SendEvent> = (0..args.events)
            .map(|i| SendEvent {
                sender: admin.clone(),
                draft: EventDraft::message("m.room.message", json!({"msgtype": "m.text", "body": format!("message {i} {} {}", words[i % 10], words[(i / 10) % 10])})),
                txn: None,
                txn_checked_at: None,
                redacts_sender: None,
            })
            .collect();
        send_many(&svc, &big, msgs).await;
        let gen_secs = t0.elapsed().as_secs_f64();

        // Reindex the whole store.
        let t1 = Instant::now();
        assert!(svc.search.send(Reindex).await.expect("search actor"));
        let (docs, rebuild_secs) = loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            if let (false, Some(r)) = svc.search.send(ReindexStatus).await.expect("search actor") {
                break r;
            }
        };
        let reindex_wall = t1.elapsed().as_secs_f64();
        if args.keep {
            println!("{}", json!({"events": args.events, "generate_secs": gen_secs, "reindex_docs": docs, "reindex_secs": rebuild_secs, "reindex_wall_secs": reindex_wall}));
            server.stop().await;
            return;
        }

        // M local members in one room, then evacuate it over HTTP.
        let ev_room = call(&http, reqwest::Method::POST, format!("{base}/_matrix/client/v3/createRoom"), &token, json!({"preset": "public_chat"})).await["room_id"].as_str().expect("room").to_owned();
        let users: Vec<String> = (0..args.members).map(|i| format!("@member{i}:bench.local")).collect();
        let us = users.clone();
        db.run(move |c| {
            for u in &us {
                let id = ensemble::ids::parse_user_id(u)?;
                ensemble::store::users::create(c, &ensemble::store::users::User::new(&id, None, false))?;
            }
            Ok(())
        })
        .await
        .expect("users");
        let joins: Vec<SendEvent> = users
            .iter()
            .map(|u| SendEvent { sender: u.clone(), draft: EventDraft::state("m.room.member", u, json!({"membership": "join"})), txn: None, txn_checked_at: None, redacts_sender: None })
            .collect();
        let t2 = Instant::now();
        send_many(&svc, &ev_room, joins).await;
        let join_secs = t2.elapsed().as_secs_f64();
        let t3 = Instant::now();
        let enc = |r: &str| percent_encoding::utf8_percent_encode(r, percent_encoding::NON_ALPHANUMERIC).to_string();
        let ev = call(&http, reqwest::Method::POST, format!("{base}/_dendrite/admin/evacuateRoom/{}", enc(&ev_room)), &token, json!({})).await;
        let evacuate_secs = t3.elapsed().as_secs_f64();
        let affected = ev["affected"].as_array().map(|a| a.len()).unwrap_or(0);

        // Purge the big room.
        let t4 = Instant::now();
        call(&http, reqwest::Method::POST, format!("{base}/_dendrite/admin/purgeRoom/{}", enc(&big)), &token, json!({})).await;
        let purge_secs = t4.elapsed().as_secs_f64();

        println!(
            "{}",
            json!({
                "events": args.events, "generate_secs": gen_secs, "generate_events_per_sec": args.events as f64 / gen_secs,
                "reindex_docs": docs, "reindex_secs": rebuild_secs, "reindex_wall_secs": reindex_wall, "reindex_events_per_sec": docs as f64 / rebuild_secs,
                "members": args.members, "join_secs": join_secs, "evacuate_affected": affected, "evacuate_secs": evacuate_secs,
                "purge_secs": purge_secs,
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
    for start in (0..n).step_by(50_000) {
        let end = (start + 50_000).min(n);
        svc.db
            .run(move |c| {
                ensemble::store::write_txn(c, |c| {
                    for i in start..end {
                        let id = ensemble::ids::parse_user_id(&format!("@user{i:07}:bench.local"))?;
                        let mut u = ensemble::store::users::User::new(&id, None, i % 97 == 0);
                        u.creation_ts = 1_700_000_000_000 + ((i * 7919) % n) as i64;
                        u.last_seen_ts = Some(1_700_000_000_000 + ((i * 104_729) % n) as i64);
                        ensemble::store::users::create(c, &u)?;
                        ensemble::store::users::set_profile(
                            c,
                            &ensemble::store::users::Profile {
                                user_id: id.to_string(),
                                displayname: Some(format!("Name {}", (i * 31) % n)),
                                avatar_url: None,
                            },
                        )?;
                    }
                    Ok(())
                })
            })
            .await
            .expect("users");
    }
    // What the server's periodic statistics refresh does (every 10 minutes and at start).
    svc.db.run(ensemble::store::optimize).await.expect("optimize");
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
