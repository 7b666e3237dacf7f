//! Every in-memory map keyed by client input stays bounded however many requests fill it:
//! shared-secret nonces, UIA sessions, the token cache, the typing board, the notifier.

use crate::common::*;
use ensemble::actors::notifier::Sweep;
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Sends `n` requests, `width` at a time, and hands each answer to `check`.
async fn flood<F, Fut>(n: usize, width: usize, f: F)
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    futures_util::stream::iter(0..n).map(f).buffer_unordered(width).collect::<Vec<()>>().await;
}

#[actix_rt::test]
async fn nonces_are_capped_and_the_newest_still_registers() {
    let s = TestServer::start().await;
    // The default cap (MAX_NONCES) works the same way; a small one is reached quickly.
    let cap = 300;
    s.server.services.nonces.set_capacity(cap);
    flood(cap * 3, 8, |_| async {
        let r = s.req("GET", "/_synapse/admin/v1/register", None, None).await;
        assert_eq!(r.status, 200, "{}", r.body);
    })
    .await;
    let held = s.server.services.nonces.len();
    assert!(held <= cap, "{held} nonces held, cap {cap}");
    let nonce = s.req("GET", "/_synapse/admin/v1/register", None, None).await.ok()["nonce"].as_str().unwrap().to_owned();
    let mac = ensemble::auth::shared_secret::mac("test-shared-secret", &nonce, "late", "pw-late-secret", false, None);
    let body = json!({"nonce": nonce, "username": "late", "password": "pw-late-secret", "admin": false, "mac": mac});
    s.req("POST", "/_synapse/admin/v1/register", None, Some(body)).await.ok();
}

#[actix_rt::test]
async fn uia_sessions_are_capped() {
    let s = TestServer::start().await;
    // The default cap (MAX_SESSIONS) works the same way; a small one is reached quickly.
    let cap = 300;
    s.server.services.uia.set_capacity(cap);
    // Every unauthenticated /register without `auth` is handed a session.
    flood(cap * 3, 8, |i| {
        let s = &s;
        async move {
            let r = s
                .req("POST", "/_matrix/client/v3/register", None, Some(json!({"username": format!("u{i}"), "password": "pw-long-enough"})))
                .await;
            assert_eq!(r.status, 401, "{}", r.body);
            assert!(r.body["session"].is_string());
        }
    })
    .await;
    let held = s.server.services.uia.len();
    assert!(held <= cap, "{held} sessions held, cap {cap}");
    // Registration still works after the flood.
    s.register_user("after").await;
}

#[actix_rt::test]
async fn token_cache_is_capped_and_evicted_tokens_still_work() {
    let s = TestServer::start().await;
    let cache = &s.server.services.tokens;
    cache.set_capacity(20);
    let alice = s.register_user("alice").await;
    let mut tokens = vec![alice.token.clone()];
    for _ in 0..50 {
        let t = s.login("alice", &alice.password).await.ok()["access_token"].as_str().unwrap().to_owned();
        s.get("/_matrix/client/v3/account/whoami", &t).await.ok();
        tokens.push(t);
        assert!(cache.len() <= 20, "{} sessions cached", cache.len());
    }
    // Evicted sessions are read back from the store.
    for t in &tokens {
        assert_eq!(s.get("/_matrix/client/v3/account/whoami", t).await.ok()["user_id"], alice.user_id.as_str());
    }
    assert!(cache.len() <= 20);
}

#[actix_rt::test]
async fn typing_board_forgets_quiet_rooms_beyond_its_cap() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({})).await;
    let since = s.sync(&alice, None, 0).await["next_batch"].as_str().unwrap().to_owned();
    let path = format!("/_matrix/client/v3/rooms/{}/typing/{}", enc(&room), enc(&alice.user_id));
    s.put(&path, &alice.token, json!({"typing": true, "timeout": 30000})).await.ok();
    // Rooms whose typing stopped pile up; the board keeps the live one and sheds the rest.
    let board = &s.server.services.typing;
    let cap = ensemble::typing::MAX_ROOMS;
    for i in 0..cap + 1_000 {
        board.publish(&ruma::RoomId::parse(format!("!quiet{i}:test.local")).unwrap(), Vec::new());
    }
    assert!(board.len() <= cap, "{} rooms on the board", board.len());
    let sync = s.sync(&alice, Some(&since), 0).await;
    let typing: Vec<&Value> = sync["rooms"]["join"][&room]["ephemeral"]["events"]
        .as_array()
        .map(|a| a.iter().filter(|e| e["type"] == "m.typing").collect())
        .unwrap_or_default();
    assert_eq!(typing.first().map(|e| e["content"]["user_ids"].clone()), Some(json!([alice.user_id])), "{sync}");
}

#[actix_rt::test]
async fn notifier_forgets_users_nobody_waits_for_and_still_wakes_waiters() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    // One to-device request names thousands of local users who do not exist.
    let messages: serde_json::Map<String, Value> =
        (0..3_000).map(|i| (format!("@ghost{i}:test.local"), json!({"DEV": {"x": i}}))).collect();
    s.put("/_matrix/client/v3/sendToDevice/m.test/txn1", &alice.token, json!({"messages": messages})).await.ok();
    let notifier = &s.server.services.notifier;
    let keep = Duration::from_secs(3600);
    eventually(10, || async { (notifier.send(Sweep { retain: keep }).await.unwrap().0 >= 3_000).then_some(()) }).await;

    // Bob parks a long-poll; then everything older than now is swept.
    let since = s.sync(&bob, None, 0).await["next_batch"].as_str().unwrap().to_owned();
    let waiting = async { s.sync(&bob, Some(&since), 20_000).await };
    let sweep_and_send = async {
        let (latest, waiters) = eventually(10, || async {
            let sizes = notifier.send(Sweep { retain: Duration::ZERO }).await.unwrap();
            (sizes.1 == 1).then_some(sizes)
        })
        .await;
        assert_eq!(latest, 0, "positions of users nobody waits for are forgotten");
        assert_eq!(waiters, 1);
        let started = Instant::now();
        let to_bob = json!({"messages": {bob.user_id.clone(): {bob.device_id.clone(): {"hello": 1}}}});
        s.put("/_matrix/client/v3/sendToDevice/m.test/txn2", &alice.token, to_bob).await.ok();
        started
    };
    let (woken, started) = tokio::join!(waiting, sweep_and_send);
    assert!(started.elapsed() < Duration::from_secs(10), "the waiting sync was not woken");
    let events = woken["to_device"]["events"].as_array().cloned().unwrap_or_default();
    assert!(events.iter().any(|e| e["content"]["hello"] == 1), "{woken}");
}
