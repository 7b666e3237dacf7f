//! Memory and abuse bounds without an account: concurrent password hashing is capped (429 past a
//! short queue), unknown users cost the same work as known ones, and Synapse-shaped rate limits
//! (`rc_message`, `rc_login`, `rc_registration`, `rc_joins`, `rc_invites`, `rc_reports`) answer 429
//! `M_LIMIT_EXCEEDED` with `retry_after_ms`, admins exempt.

use crate::common::*;
use ensemble::Config;
use ensemble::config::RateLimit;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// A limit that does not refill during a test.
fn tight(burst_count: u32) -> RateLimit {
    RateLimit::new(0.0001, burst_count)
}

async fn start(tweak: impl FnOnce(&mut Config)) -> TestServer {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = test_config(dir.path());
    tweak(&mut config);
    TestServer::start_with(dir, config).await
}

#[track_caller]
fn limited(r: &Resp) {
    r.err(429, "M_LIMIT_EXCEEDED");
    assert!(r.body["retry_after_ms"].as_u64().is_some_and(|ms| ms > 0), "retry_after_ms missing: {}", r.body);
}

fn login_body(user: &str, password: &str) -> Value {
    json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user}, "password": password})
}

/// Median wall time of `n` failed logins for `user`.
async fn median_failed_login(s: &TestServer, user: &str, n: usize) -> Duration {
    let mut times = Vec::with_capacity(n);
    for i in 0..n {
        let started = Instant::now();
        let r = s.req("POST", "/_matrix/client/v3/login", None, Some(login_body(user, &format!("nope-{i}")))).await;
        times.push(started.elapsed());
        r.err(403, "M_FORBIDDEN");
    }
    times.sort();
    times[n / 2]
}

/// A login from the address a reverse proxy says the client has.
async fn login_via_proxy(s: &TestServer, user: &User, forwarded_for: &str) -> Resp {
    let r = s
        .http
        .post(s.url("/_matrix/client/v3/login"))
        .header("x-forwarded-for", forwarded_for)
        .json(&login_body(&user.user_id, &user.password))
        .send()
        .await
        .expect("sent");
    let status = r.status().as_u16();
    Resp { status, body: r.json().await.unwrap_or(Value::Null) }
}

#[actix_rt::test]
async fn concurrent_password_checks_past_the_queue_get_429() {
    // One hash at a time and one waiting; each hash takes tens of milliseconds at this cost.
    let s = start(|c| {
        c.password_hash_log_n = 15;
        c.password_hash_concurrency = 1;
        c.password_hash_queue_per_slot = 1;
    })
    .await;
    let alice = s.register_user("alice").await;
    let attempts = (0..12).map(|i| s.req("POST", "/_matrix/client/v3/login", None, Some(login_body("alice", &format!("wrong-{i}")))));
    let answers = futures_util::future::join_all(attempts).await;
    let refused: Vec<&Resp> = answers.iter().filter(|r| r.status == 429).collect();
    assert!(!refused.is_empty(), "12 concurrent checks with room for 2 were all admitted: {answers:?}");
    for r in &refused {
        limited(r);
    }
    for r in answers.iter().filter(|r| r.status != 429) {
        r.err(403, "M_FORBIDDEN");
    }
    assert!(answers.iter().any(|r| r.status == 403), "some checks ran");
    // The slots come back once the hashes finish.
    s.login("alice", &alice.password).await.ok();
}

#[actix_rt::test]
async fn unknown_user_login_takes_as_long_as_a_wrong_password() {
    let s = start(|c| c.password_hash_log_n = 13).await;
    s.register_user("known").await;
    median_failed_login(&s, "known", 1).await;
    let mut known = Duration::ZERO;
    let mut unknown = Duration::ZERO;
    // Interleaved rounds, so a burst of load on the machine hits both sides alike.
    for _ in 0..3 {
        known += median_failed_login(&s, "known", 3).await;
        unknown += median_failed_login(&s, "nobody-here", 3).await;
    }
    assert!(
        unknown.as_secs_f64() >= 0.3 * known.as_secs_f64(),
        "an unknown user answers in {unknown:?}, a known one in {known:?}: timing reveals accounts"
    );
}

#[actix_rt::test]
async fn event_sends_are_limited_per_user_and_admins_are_exempt() {
    let s = start(|c| c.rc_message = tight(3)).await;
    let admin = s.register_admin("admin").await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    s.join(&bob, &room).await.ok();
    s.join(&admin, &room).await.ok();
    for i in 0..3 {
        s.send_text(&alice, &room, &format!("m{i}")).await;
    }
    limited(&s.send_text_resp(&alice, &room, "one too many").await);
    // State events and redactions are sends too.
    let state = s.put(&format!("/_matrix/client/v3/rooms/{}/state/m.room.topic", enc(&room)), &alice.token, json!({"topic": "t"})).await;
    limited(&state);
    // Others keep their own budget; admins have none.
    s.send_text(&bob, &room, "bob is fine").await;
    for i in 0..6 {
        s.send_text(&admin, &room, &format!("admin {i}")).await;
    }
}

#[actix_rt::test]
async fn login_is_limited_per_address_and_per_account() {
    let s = start(|c| {
        c.rc_login.address = tight(4);
        c.rc_login.account = tight(2);
    })
    .await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    s.login("alice", &alice.password).await.ok();
    s.login("alice", &alice.password).await.ok();
    limited(&s.login("alice", &alice.password).await);
    // Bob's account has its own budget, but this address has used its last.
    s.login("bob", &bob.password).await.ok();
    limited(&s.login("bob", &bob.password).await);
}

#[actix_rt::test]
async fn behind_a_proxy_each_forwarded_address_has_its_own_login_budget() {
    let s = start(|c| {
        c.rc_login.address = tight(1);
        c.x_forwarded = true;
    })
    .await;
    let alice = s.register_user("alice").await;
    login_via_proxy(&s, &alice, "203.0.113.7, 10.0.0.1").await.ok();
    limited(&login_via_proxy(&s, &alice, "203.0.113.7").await);
    let login = login_via_proxy(&s, &alice, "198.51.100.2").await.ok();
    // And whois shows the client's address, not the proxy's.
    let token = login["access_token"].as_str().expect("token");
    let r = s.http.get(s.url("/_matrix/client/v3/account/whoami")).bearer_auth(token).header("x-forwarded-for", "198.51.100.2").send();
    assert_eq!(r.await.expect("sent").status().as_u16(), 200);
    let admin = s.register_admin("root").await;
    let who = s.get(&format!("/_synapse/admin/v1/whois/{}", enc(&alice.user_id)), &admin.token).await.ok();
    assert!(who.to_string().contains("198.51.100.2"), "{who}");

    // Without `x_forwarded` the header is the client's word and is ignored.
    let s = start(|c| c.rc_login.address = tight(1)).await;
    let alice = s.register_user("alice").await;
    login_via_proxy(&s, &alice, "203.0.113.7").await.ok();
    limited(&login_via_proxy(&s, &alice, "198.51.100.2").await);
}

#[actix_rt::test]
async fn failed_logins_per_account_are_limited() {
    let s = start(|c| c.rc_login.failed_attempts = tight(3)).await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    for i in 0..3 {
        s.login("alice", &format!("guess-{i}")).await.err(403, "M_FORBIDDEN");
    }
    limited(&s.login("alice", "guess-3").await);
    // Even the right password waits: guessing cannot continue by luck.
    limited(&s.login("alice", &alice.password).await);
    // Unknown accounts are counted the same way, and other accounts are untouched.
    for i in 0..3 {
        s.login("nobody", &format!("guess-{i}")).await.err(403, "M_FORBIDDEN");
    }
    limited(&s.login("nobody", "guess-3").await);
    s.login("bob", &bob.password).await.ok();
}

#[actix_rt::test]
async fn registration_is_limited_per_address() {
    let s = start(|c| c.rc_registration = tight(2)).await;
    // Each registration is two requests (the UIA challenge, then the dummy stage); only
    // accounts made count.
    s.register_user("first").await;
    s.register_user("second").await;
    let third = s.req("POST", "/_matrix/client/v3/register", None, Some(json!({"username": "third", "password": "pw-third"}))).await;
    limited(&third);
}

#[actix_rt::test]
async fn joins_are_limited_per_user_and_admins_are_exempt() {
    let s = start(|c| c.rc_joins.local = tight(2)).await;
    let admin = s.register_admin("admin").await;
    let owner = s.register_user("owner").await;
    let carol = s.register_user("carol").await;
    let mut rooms = Vec::new();
    for _ in 0..3 {
        rooms.push(s.create_room(&owner, json!({"preset": "public_chat"})).await);
    }
    s.join(&carol, &rooms[0]).await.ok();
    s.join(&carol, &rooms[1]).await.ok();
    limited(&s.join(&carol, &rooms[2]).await);
    let by_join_path = s.post(&format!("/_matrix/client/v3/join/{}", enc(&rooms[2])), &carol.token, json!({})).await;
    limited(&by_join_path);
    for room in &rooms {
        s.join(&admin, room).await.ok();
    }
}

#[actix_rt::test]
async fn reports_are_limited_per_user_and_admins_are_exempt() {
    let s = start(|c| c.rc_reports = tight(2)).await;
    let admin = s.register_admin("admin").await;
    let owner = s.register_user("owner").await;
    let carol = s.register_user("carol").await;
    let room = s.create_room(&owner, json!({"preset": "public_chat"})).await;
    let said = s.send_text(&owner, &room, "hi").await;
    s.post(&room_path(&room, "report"), &carol.token, json!({"reason": "a"})).await.ok();
    s.post(&format!("{V3}/users/{}/report", enc(&owner.user_id)), &carol.token, json!({"reason": "b"})).await.ok();
    // Every kind of report counts against the same bucket.
    limited(&s.post(&room_path(&room, "report"), &carol.token, json!({"reason": "c"})).await);
    // Another user has a bucket of their own.
    let report_event = room_path(&room, &format!("report/{}", enc(&said)));
    s.post(&report_event, &owner.token, json!({})).await.ok();
    s.post(&report_event, &owner.token, json!({})).await.ok();
    limited(&s.post(&report_event, &owner.token, json!({})).await);
    for _ in 0..3 {
        s.post(&room_path(&room, "report"), &admin.token, json!({"reason": "admin"})).await.ok();
    }
}

#[actix_rt::test]
async fn invites_are_limited_per_issuer_room_and_invitee() {
    let s = start(|c| {
        c.rc_invites.per_issuer = tight(2);
        c.rc_invites.per_room = tight(3);
        c.rc_invites.per_user = tight(2);
    })
    .await;
    let admin = s.register_admin("admin").await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let mut targets = Vec::new();
    for i in 0..4 {
        targets.push(s.register_user(&format!("u{i}")).await.user_id);
    }
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    s.join(&bob, &room).await.ok();
    s.join(&admin, &room).await.ok();

    // Per issuer: alice may send two.
    s.invite(&alice, &room, &targets[0]).await.ok();
    s.invite(&alice, &room, &targets[1]).await.ok();
    limited(&s.invite(&alice, &room, &targets[2]).await);
    // Per room: the refused invite was not counted, so bob's first is the room's third and last.
    s.invite(&bob, &room, &targets[2]).await.ok();
    limited(&s.invite(&bob, &room, &targets[3]).await);
    // Admins are exempt.
    s.invite(&admin, &room, &targets[3]).await.ok();

    // Per invitee: one user receives at most two, whoever sends them.
    let victim = s.register_user("victim").await;
    for (i, name) in ["carol", "dave", "erin"].into_iter().enumerate() {
        let sender = s.register_user(name).await;
        let own = s.create_room(&sender, json!({})).await;
        let r = s.invite(&sender, &own, &victim.user_id).await;
        if i < 2 {
            r.ok();
        } else {
            limited(&r);
        }
    }
}

#[test]
fn defaults_are_synapses_and_config_keys_nest_like_its_yaml() {
    let d = Config::default();
    assert_eq!(d.rc_message, RateLimit::new(0.2, 10));
    assert_eq!(d.rc_registration, RateLimit::new(0.17, 3));
    assert_eq!(d.rc_login.address, RateLimit::new(0.003, 5));
    assert_eq!(d.rc_login.account, RateLimit::new(0.003, 5));
    assert_eq!(d.rc_login.failed_attempts, RateLimit::new(0.17, 3));
    assert_eq!(d.rc_joins.local, RateLimit::new(0.1, 10));
    assert_eq!(d.rc_joins.remote, RateLimit::new(0.01, 10));
    assert_eq!(d.rc_invites.per_room, RateLimit::new(0.3, 10));
    assert_eq!(d.rc_invites.per_user, RateLimit::new(0.003, 5));
    assert_eq!(d.rc_invites.per_issuer, RateLimit::new(0.3, 10));
    assert_eq!(d.rc_reports, RateLimit::new(1.0, 5));

    let mut cfg: Config =
        toml::from_str("[rc_message]\nper_second = 1\nburst_count = 20\n[rc_login.failed_attempts]\nper_second = 0.5\nburst_count = 7\n")
            .expect("parses");
    assert_eq!(cfg.rc_message, RateLimit::new(1.0, 20));
    assert_eq!(cfg.rc_login.failed_attempts, RateLimit::new(0.5, 7));
    assert_eq!(cfg.rc_login.address, d.rc_login.address, "unnamed limits keep their defaults");
    let vars = [("ENSEMBLE_RC_INVITES_PER_ROOM_BURST_COUNT", "42"), ("ENSEMBLE_RC_LOGIN_ADDRESS_PER_SECOND", "2.5")];
    cfg.apply_env(vars.iter().map(|(k, v)| (k.to_string(), v.to_string()))).expect("overrides apply");
    assert_eq!(cfg.rc_invites.per_room.burst_count, 42);
    assert_eq!(cfg.rc_login.address.per_second, 2.5);
    assert!(cfg.apply_env(std::iter::once(("ENSEMBLE_RC_MESSAGE_BURST_COUNT".to_string(), "many".to_string()))).is_err());
    let generated: Config = toml::from_str(&Config::generate_toml()).expect("generated config parses");
    assert_eq!(generated.rc_invites.per_user, d.rc_invites.per_user);
}
