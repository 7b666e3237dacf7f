//! `ensemble-load` run as the operator runs it, against an in-process server: every phase with
//! tiny counts, then `--compare` of the server with itself, and its refusals.

use crate::common::*;
use serde_json::Value;
use std::process::{Command, Output};

async fn load(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || Command::new(env!("CARGO_BIN_EXE_ensemble-load")).args(args).output().expect("runs"))
        .await
        .expect("joined")
}

fn small_run(url: &str) -> Vec<String> {
    let pid = std::process::id().to_string();
    [
        "--url",
        url,
        "--shared-secret",
        "test-shared-secret",
        "--server-pid",
        &pid,
        "--users",
        "4",
        "--rooms",
        "3",
        "--clients",
        "3",
        "--messages",
        "12",
        "--long-polls",
        "6",
        "--wake-rounds",
        "2",
        "--wake-settle-ms",
        "50",
        "--wake-lazy",
        "--burst-size",
        "5",
        "--burst-rounds",
        "2",
        "--admin-queries",
        "3",
        "--member-sizes",
        "3,6",
        "--max-members",
        "6",
        "--members-messages",
        "6",
        "--purge-rooms",
        "2",
        "--purge-messages",
        "3",
        "--max-secs",
        "20",
    ]
    .map(str::to_owned)
    .to_vec()
}

const PHASES: [&str; 12] = [
    "register",
    "create-rooms",
    "join",
    "send",
    "spread",
    "wake",
    "burst",
    "initial-sync",
    "admin-users",
    "members-3",
    "members-6",
    "purge",
];

fn check_phases(target: &Value, expected: &[(&str, u64)]) {
    let phases = target["phases"].as_object().unwrap_or_else(|| panic!("no phases: {target}"));
    assert_eq!(phases.len(), PHASES.len(), "{target}");
    for (name, count) in expected {
        let p = &phases[*name];
        assert_eq!(p["count"], *count, "{name}: {p}");
        assert_eq!(p["errors"], 0, "{name}: {p}");
        let f = |k: &str| p[k].as_f64().unwrap_or_else(|| panic!("{name}.{k}: {p}"));
        assert!(f("seconds") > 0.0 && f("rate") > 0.0, "{name}: {p}");
        assert!(f("p50_ms") > 0.0 && f("p50_ms") <= f("p90_ms") && f("p90_ms") <= f("p99_ms") && f("p99_ms") <= f("max_ms"), "{name}: {p}");
        // The server is this process: its CPU time and peak RSS are readable.
        assert!(f("server_cpu_secs") >= 0.0 && f("server_peak_rss_kb") > 0.0, "{name}: {p}");
    }
    assert!(target["server_peak_rss_kb"].as_u64().is_some_and(|kb| kb > 0), "{target}");
    assert!(target.get("error").is_none(), "{target}");
}

#[actix_rt::test]
async fn every_phase_reports_and_compare_gives_ratios() {
    let s = TestServer::start().await;
    let url = s.url("");
    let mut args = small_run(&url);
    let pid = std::process::id().to_string();
    args.extend(
        ["--compare", &url, "--compare-shared-secret", "test-shared-secret", "--compare-server-pid", &pid, "--prefix", "lt"]
            .map(str::to_owned),
    );
    let out = load(args).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    // 4 users, 3 rooms joined by 3 users each, 12 sends each way, 6 polls x 2 rounds, 5 whoami x 2
    // rounds, one initial
    // sync per user, rooms of 3 and 6 members, 2 rooms purged.
    let expected = [
        ("register", 4),
        ("create-rooms", 3),
        ("join", 9),
        ("send", 12),
        ("spread", 12),
        ("wake", 12),
        ("burst", 10),
        ("initial-sync", 4),
        ("admin-users", 3),
        ("members-3", 6),
        ("members-6", 6),
        ("purge", 2),
    ];
    let targets = v["targets"].as_array().expect("two targets");
    assert_eq!(targets.len(), 2);
    for t in targets {
        check_phases(t, &expected);
    }
    assert_eq!(v["targets"][0]["phases"]["members-6"]["members"], 6);
    assert_eq!(v["targets"][0]["phase_order"], serde_json::json!(PHASES));
    for name in PHASES {
        assert!(v["ratios"][name]["rate_ratio"].as_f64().is_some_and(|r| r > 0.0), "{name}: {}", v["ratios"]);
        assert!(stderr.contains(&format!("] {name}:")), "no progress line for {name}: {stderr}");
    }
    // The table names each phase.
    assert!(stderr.lines().any(|l| l.starts_with("members-6 ")), "{stderr}");

    // Through the client API: the purged rooms are gone, the first room holds the sends.
    let admin = s.login("ltadmin", "load-test-password").await.ok();
    let token = admin["access_token"].as_str().expect("token");
    let rooms = s.get("/_synapse/admin/v1/rooms?limit=100", token).await.ok();
    let names: Vec<&str> = rooms["rooms"].as_array().expect("rooms").iter().filter_map(|r| r["name"].as_str()).collect();
    assert!(names.contains(&"members 6"), "{names:?}");
    // Two targets made 3 load rooms each, and 2 purge rooms each that are gone again.
    assert_eq!(names.iter().filter(|n| n.starts_with("load room")).count(), 6, "{names:?}");
}

#[actix_rt::test]
async fn selected_phases_only_and_refusals() {
    let s = TestServer::start().await;
    let url = s.url("");
    let args: Vec<String> = [
        "--url",
        &url,
        "--phases",
        "send,register",
        "--users",
        "2",
        "--clients",
        "2",
        "--messages",
        "5",
        "--rooms",
        "1",
        "--max-secs",
        "20",
    ]
    .map(str::to_owned)
    .to_vec();
    let out = load(args).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    let names: Vec<&String> = v["phases"].as_object().expect("phases").keys().collect();
    assert_eq!(names, ["register", "send"], "{v}");
    assert_eq!(v["phases"]["send"]["count"], 5);
    // Rooms were made and joined as setup, reported only on stderr.
    assert!(String::from_utf8_lossy(&out.stderr).contains("create-rooms (setup)"));

    for bad in [
        vec!["--url", "http://10.1.2.3:8008"],
        vec!["--url", &url, "--phases", "send,teleport"],
        vec!["--url", &url, "--phases", "purge"],
        vec!["--url", &url, "--long-polls", "2001"],
        vec!["--url", &url, "--burst-size", "0"],
        vec!["--url", &url, "--compare", "http://example.org"],
    ] {
        let out = load(bad.iter().map(|s| s.to_string()).collect()).await;
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert!(out.stdout.is_empty(), "{bad:?}");
        assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: "), "{bad:?}");
    }
}

#[actix_rt::test]
async fn an_admin_token_makes_the_users() {
    let s = TestServer::start().await;
    let url = s.url("");
    let admin = s.register_admin("boss").await;
    let args: Vec<String> = [
        "--url",
        &url,
        "--admin-token",
        &admin.token,
        "--phases",
        "register,send,admin-users,purge",
        "--users",
        "3",
        "--clients",
        "2",
        "--messages",
        "4",
        "--rooms",
        "1",
        "--admin-queries",
        "2",
        "--purge-rooms",
        "1",
        "--purge-messages",
        "2",
        "--prefix",
        "tok",
        "--max-secs",
        "20",
    ]
    .map(str::to_owned)
    .to_vec();
    let out = load(args).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    for (name, count) in [("register", 3), ("send", 4), ("admin-users", 2), ("purge", 1)] {
        assert_eq!(v["phases"][name]["count"], count, "{name}: {v}");
        assert_eq!(v["phases"][name]["errors"], 0, "{name}: {v}");
    }
    // Made by the admin's PUT, password-less, and sending with login-as tokens.
    let user = s.get("/_synapse/admin/v2/users/%40toku2%3Atest.local", &admin.token).await.ok();
    assert_eq!(user["name"], "@toku2:test.local");
    assert_eq!(user["admin"], false);
}

/// A server whose password hasher is busy refuses registrations with 429 and the wait it wants;
/// the load tool waits and tries again, as a client would, so every user is made and none is
/// counted as an error (before, the phases ran with whichever users got through).
#[actix_rt::test]
async fn registrations_refused_while_passwords_hash_are_tried_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config(dir.path());
    cfg.password_hash_log_n = 12;
    cfg.password_hash_concurrency = 1;
    cfg.password_hash_queue_per_slot = 0;
    let s = TestServer::start_with(dir, cfg).await;
    let url = s.url("");
    let args = [
        "--url",
        &url,
        "--shared-secret",
        "test-shared-secret",
        "--phases",
        "register",
        "--users",
        "12",
        "--clients",
        "12",
        "--max-secs",
        "60",
        "--prefix",
        "busy",
    ];
    let out = load(args.map(str::to_owned).to_vec()).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    let register = &v["phases"]["register"];
    assert_eq!(register["count"], 12, "{register}");
    assert_eq!(register["errors"], 0, "{register}");
    // Every user exists and logs in.
    for i in 0..12 {
        s.login(&format!("busyu{i}"), "load-test-password").await.ok();
    }
}
