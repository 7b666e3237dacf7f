//! Durability and concurrency of sends (transaction IDs, restarts, one actor per room), the
//! sync long-poll and filters, and the account surface clients touch every day: profile, tags,
//! account data, devices, password, deactivation, room creation options and the small endpoints.

use crate::common::*;
use futures_util::future::join_all;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const C: &str = "/_matrix/client/v3";

fn send_path(room: &str, kind: &str, txn: &str) -> String {
    format!("{C}/rooms/{}/send/{kind}/{}", enc(room), enc(txn))
}

/// PUTs an m.text message with an explicit transaction ID.
async fn send_txn(s: &TestServer, token: &str, room: &str, txn: &str, body: &str) -> Resp {
    s.put(&send_path(room, "m.room.message", txn), token, json!({"msgtype": "m.text", "body": body})).await
}

fn event_id(v: &Value) -> String {
    v["event_id"].as_str().unwrap_or_else(|| panic!("no event_id in {v}")).to_owned()
}

fn ids(events: &[Value]) -> Vec<String> {
    events.iter().map(event_id).collect()
}

fn messages_only(events: &[Value]) -> Vec<Value> {
    events.iter().filter(|e| e["type"] == "m.room.message").cloned().collect()
}

fn assert_unique(list: &[String]) {
    let set: HashSet<&String> = list.iter().collect();
    assert_eq!(set.len(), list.len(), "duplicates in {list:?}");
}

/// Every event of the room, oldest first, through `/messages?dir=f` in pages of `page`.
async fn all_forward(s: &TestServer, token: &str, room: &str, page: usize) -> Vec<Value> {
    let mut from: Option<String> = None;
    let mut out = Vec::new();
    for _ in 0..10_000 {
        let mut p = format!("{C}/rooms/{}/messages?dir=f&limit={page}", enc(room));
        if let Some(f) = &from {
            p.push_str(&format!("&from={}", enc(f)));
        }
        let body = s.get(&p, token).await.ok();
        let chunk = body["chunk"].as_array().expect("chunk");
        assert!(chunk.len() <= page, "page larger than the limit: {}", chunk.len());
        out.extend(chunk.iter().cloned());
        match body["end"].as_str() {
            Some(e) => from = Some(e.to_owned()),
            None => return out,
        }
    }
    panic!("forward pagination does not terminate");
}

/// Events newest first through `/messages?dir=b`, starting at `from` and stopping at `to`.
async fn all_backward(s: &TestServer, token: &str, room: &str, from: Option<&str>, to: Option<&str>, page: usize) -> Vec<Value> {
    let mut from = from.map(str::to_owned);
    let mut out = Vec::new();
    for _ in 0..10_000 {
        let mut p = format!("{C}/rooms/{}/messages?dir=b&limit={page}", enc(room));
        if let Some(f) = &from {
            p.push_str(&format!("&from={}", enc(f)));
        }
        if let Some(t) = to {
            p.push_str(&format!("&to={}", enc(t)));
        }
        let body = s.get(&p, token).await.ok();
        let chunk = body["chunk"].as_array().expect("chunk");
        assert!(chunk.len() <= page, "page larger than the limit: {}", chunk.len());
        out.extend(chunk.iter().cloned());
        match body["end"].as_str() {
            Some(e) => from = Some(e.to_owned()),
            None => return out,
        }
    }
    panic!("backward pagination does not terminate");
}

/// The m.login.password UIA auth dict for `user`.
fn password_auth(user: &User, password: &str, session: &str) -> Value {
    json!({
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": user.user_id},
        "password": password,
        "session": session,
    })
}

/// Asserts a UIA 401 offering m.login.password and returns its session.
#[track_caller]
fn uia_session(r: &Resp) -> String {
    assert_eq!(r.status, 401, "expected a UIA challenge: {}", r.body);
    let flows = r.body["flows"].as_array().unwrap_or_else(|| panic!("no flows: {}", r.body));
    assert!(
        flows.iter().any(|f| f["stages"].as_array().is_some_and(|st| st.iter().any(|x| x == "m.login.password"))),
        "m.login.password not offered: {}",
        r.body
    );
    let session = r.body["session"].as_str().unwrap_or_else(|| panic!("no session: {}", r.body));
    assert!(!session.is_empty());
    session.to_owned()
}

async fn whoami(s: &TestServer, token: &str) -> Resp {
    s.get(&format!("{C}/account/whoami"), token).await
}

async fn login_token(s: &TestServer, user: &User) -> (String, String) {
    let b = s.login(&user.user_id, &user.password).await.ok();
    (b["access_token"].as_str().expect("token").to_owned(), b["device_id"].as_str().expect("device").to_owned())
}

async fn public_room(s: &TestServer, creator: &User, members: &[&User]) -> String {
    let room = s.create_room(creator, json!({"preset": "public_chat"})).await;
    for m in members {
        s.join(m, &room).await.ok();
    }
    room
}

fn sync_path(since: Option<&str>, timeout_ms: u64, filter: Option<&str>) -> String {
    let mut p = format!("{C}/sync?timeout={timeout_ms}");
    if let Some(s) = since {
        p.push_str(&format!("&since={}", enc(s)));
    }
    if let Some(f) = filter {
        p.push_str(&format!("&filter={}", enc(f)));
    }
    p
}

fn next_batch(sync: &Value) -> String {
    sync["next_batch"].as_str().unwrap_or_else(|| panic!("no next_batch: {sync}")).to_owned()
}

fn is_v10_event_id(id: &str) -> bool {
    id.len() == 44 && id.starts_with('$') && id[1..].chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

// 1. ------------------------------------------------------------------------------------------

#[actix_rt::test]
async fn txn_ids_are_idempotent_per_device() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({})).await;

    let first = event_id(&send_txn(&s, &alice.token, &room, "same-txn", "idempotent").await.ok());
    let again = event_id(&send_txn(&s, &alice.token, &room, "same-txn", "idempotent").await.ok());
    assert_eq!(first, again, "a retried transaction must return the original event ID");

    let count = |events: &[Value], body: &str| events.iter().filter(|e| e["content"]["body"] == body).count();
    let events = all_forward(&s, &alice.token, &room, 50).await;
    assert_eq!(count(&events, "idempotent"), 1, "the retry created a second event");

    // Another device of the same user has its own transaction namespace.
    let (token2, device2) = login_token(&s, &alice).await;
    assert_ne!(device2, alice.device_id);
    let other = event_id(&send_txn(&s, &token2, &room, "same-txn", "idempotent").await.ok());
    assert_ne!(other, first, "the same txn ID from another device is a new event");
    assert_eq!(event_id(&send_txn(&s, &token2, &room, "same-txn", "idempotent").await.ok()), other);
    let events = all_forward(&s, &alice.token, &room, 50).await;
    assert_eq!(count(&events, "idempotent"), 2);

    // Two concurrent PUTs with one txn ID: one event, both answered with its ID.
    let (a, b) = tokio::join!(
        send_txn(&s, &alice.token, &room, "racing-txn", "concurrent"),
        send_txn(&s, &alice.token, &room, "racing-txn", "concurrent")
    );
    let (a, b) = (event_id(&a.ok()), event_id(&b.ok()));
    assert_eq!(a, b, "concurrent retries of one transaction got different event IDs");
    let events = all_forward(&s, &alice.token, &room, 50).await;
    assert_eq!(count(&events, "concurrent"), 1, "concurrent retries created two events");
    let found: Vec<&Value> = events.iter().filter(|e| e["content"]["body"] == "concurrent").collect();
    assert_eq!(found[0]["event_id"], a.as_str());

    // A batch of concurrent retries of one more transaction, all at once.
    let retries = join_all((0..10).map(|_| send_txn(&s, &alice.token, &room, "burst-txn", "burst"))).await;
    let burst: HashSet<String> = retries.into_iter().map(|r| event_id(&r.ok())).collect();
    assert_eq!(burst.len(), 1, "{burst:?}");
    assert_eq!(count(&all_forward(&s, &alice.token, &room, 50).await, "burst"), 1);
}

// 2. ------------------------------------------------------------------------------------------

#[actix_rt::test]
async fn acknowledged_events_survive_restart() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = public_room(&s, &alice, &[&bob]).await;

    let mut acked = Vec::new();
    for i in 0..50 {
        acked.push(event_id(&send_txn(&s, &alice.token, &room, &format!("before-{i}"), &format!("before {i}")).await.ok()));
    }
    assert_unique(&acked);
    let since = next_batch(&s.sync(&bob, None, 0).await);

    let s = s.restart().await;

    // Every acknowledged event is readable, by ID and in /messages, in send order.
    for (i, id) in acked.iter().enumerate() {
        let ev = s.get(&format!("{C}/rooms/{}/event/{}", enc(&room), enc(id)), &bob.token).await.ok();
        assert_eq!(ev["event_id"], id.as_str());
        assert_eq!(ev["content"]["body"], format!("before {i}"));
        assert_eq!(ev["sender"], alice.user_id);
    }
    let listed = ids(&messages_only(&all_forward(&s, &bob.token, &room, 16).await));
    assert_eq!(listed, acked);

    // Old tokens still work.
    assert_eq!(whoami(&s, &alice.token).await.ok()["user_id"], alice.user_id);
    assert_eq!(whoami(&s, &bob.token).await.ok()["user_id"], bob.user_id);

    // Re-sending an old transaction returns the original event and adds nothing.
    let retried = event_id(&send_txn(&s, &alice.token, &room, "before-7", "before 7").await.ok());
    assert_eq!(retried, acked[7]);
    let retried = event_id(&send_txn(&s, &alice.token, &room, "before-49", "before 49").await.ok());
    assert_eq!(retried, acked[49]);
    assert_eq!(ids(&messages_only(&all_forward(&s, &bob.token, &room, 50).await)), acked);

    // New sends work and land after the old ones.
    let mut after = Vec::new();
    for i in 0..5 {
        after.push(event_id(&send_txn(&s, &alice.token, &room, &format!("after-{i}"), &format!("after {i}")).await.ok()));
    }
    after.push(s.send_text(&bob, &room, "bob after restart").await);
    let listed = ids(&messages_only(&all_forward(&s, &bob.token, &room, 50).await));
    let expected: Vec<String> = acked.iter().chain(after.iter()).cloned().collect();
    // A sync token from before the restart still works and yields exactly the new events.
    let filter = json!({"room": {"timeline": {"limit": 100}}}).to_string();
    let inc = s.get(&sync_path(Some(&since), 0, Some(&filter)), &bob.token).await.ok();
    let synced: Vec<Value> = timeline(&inc, &room).into_iter().cloned().collect();
    assert_eq!(ids(&messages_only(&synced)), after, "{inc}");
    assert!(s.joined_rooms(&bob).await.contains(&room));
    assert_eq!(listed, expected);
    // And newest first the new ones lead.
    let newest = ids(&messages_only(&all_backward(&s, &alice.token, &room, None, None, 7).await));
    let reversed: Vec<String> = expected.iter().rev().cloned().collect();
    assert_eq!(newest, reversed);
}

// 3. ------------------------------------------------------------------------------------------

#[actix_rt::test]
async fn concurrent_sends_are_all_stored_once_in_stream_order() {
    let s = TestServer::start().await;
    let mut users = Vec::new();
    for i in 0..8 {
        users.push(s.register_user(&format!("sender{i}")).await);
    }
    let room = public_room(&s, &users[0], &users.iter().skip(1).collect::<Vec<_>>()).await;
    let since = next_batch(&s.sync(&users[0], None, 0).await);

    // Phase 1: eight users send 25 messages each, the users concurrently, each user in sequence.
    let s_ref = &s;
    let room_ref = room.as_str();
    let chains = users.iter().map(|u| async move {
        let mut mine = Vec::new();
        for n in 0..25 {
            let r = send_txn(s_ref, &u.token, room_ref, &format!("chain-{n}"), &format!("{} {n}", u.user_id)).await;
            mine.push(event_id(&r.ok()));
        }
        (u.user_id.clone(), mine)
    });
    let per_user: Vec<(String, Vec<String>)> = join_all(chains).await;

    // Phase 2: one user fires 200 sends at once.
    let burst = join_all((0..200).map(|n| {
        let tok = users[3].token.as_str();
        async move { send_txn(s_ref, tok, room_ref, &format!("burst-{n}"), &format!("burst {n}")).await }
    }))
    .await;
    let burst: Vec<String> = burst.into_iter().map(|r| event_id(&r.ok())).collect();
    assert_unique(&burst);

    let mut acked: Vec<String> = per_user.iter().flat_map(|(_, l)| l.iter().cloned()).collect();
    acked.extend(burst.iter().cloned());
    assert_eq!(acked.len(), 400);
    assert_unique(&acked);

    let events = messages_only(&all_forward(&s, &users[0].token, &room, 37).await);
    let listed = ids(&events);
    assert_unique(&listed);
    let listed_set: HashSet<&String> = listed.iter().collect();
    for id in &acked {
        assert!(listed_set.contains(id), "acknowledged {id} missing from /messages");
    }
    assert_eq!(listed.len(), acked.len(), "/messages has events nobody sent");

    // Each user's sequential sends appear in the order they were acknowledged.
    let pos: HashMap<&String, usize> = listed.iter().enumerate().map(|(i, id)| (id, i)).collect();
    for (user, mine) in &per_user {
        let positions: Vec<usize> = mine.iter().map(|id| pos[id]).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{user}'s messages out of order: {positions:?}");
    }
    for (id, ev) in listed.iter().zip(&events) {
        let owner = per_user.iter().find(|(_, l)| l.contains(id)).map(|(u, _)| u.clone()).unwrap_or_else(|| users[3].user_id.clone());
        assert_eq!(ev["sender"], owner.as_str(), "{id}");
    }

    // Backwards pagination is the exact reverse, and an incremental sync sees the same stream.
    let back = ids(&messages_only(&all_backward(&s, &users[5].token, &room, None, None, 41).await));
    assert_eq!(back, listed.iter().rev().cloned().collect::<Vec<_>>());
    let filter = json!({"room": {"timeline": {"limit": 1000}}}).to_string();
    let inc = s.get(&sync_path(Some(&since), 0, Some(&filter)), &users[0].token).await.ok();
    let tl = &inc["rooms"]["join"][&room]["timeline"];
    assert_eq!(tl["limited"], false, "a limit of 1000 covers all 400: {} events", tl["events"].as_array().map_or(0, Vec::len));
    let synced: Vec<Value> = timeline(&inc, &room).into_iter().cloned().collect();
    assert_eq!(ids(&messages_only(&synced)), listed, "sync and /messages disagree on the order");
}

// 4. ------------------------------------------------------------------------------------------

#[actix_rt::test]
async fn one_actor_per_room_under_concurrent_activation() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({})).await;
    s.send_text(&alice, &room, "before restart").await;

    let s = s.restart().await;
    let dir = &s.server.services.directory;
    assert_eq!(dir.active_rooms(), 0, "no room actor should be active right after a restart");
    let before = dir.room_activations.load(Ordering::SeqCst);

    let sends = join_all((0..20).map(|i| {
        let (sr, a, r) = (&s, &alice, room.as_str());
        async move { sr.send_text_resp(a, r, &format!("wake {i}")).await }
    }))
    .await;
    let sent: Vec<String> = sends.into_iter().map(|r| event_id(&r.ok())).collect();
    assert_unique(&sent);

    let after = dir.room_activations.load(Ordering::SeqCst);
    assert_eq!(after - before, 1, "20 concurrent sends to an inactive room activated {} actors", after - before);
    assert_eq!(dir.active_rooms(), 1);

    // All 20 were applied on top of one consistent state: each is stored, once, after the old one.
    let listed = ids(&messages_only(&all_forward(&s, &alice.token, &room, 50).await));
    assert_eq!(listed.len(), 21, "{listed:?}");
    let set: HashSet<&String> = listed[1..].iter().collect();
    for id in &sent {
        assert!(set.contains(id), "{id} missing");
    }
    // A second burst to the now active room activates nothing.
    let more = join_all((0..20).map(|i| {
        let (sr, a, r) = (&s, &alice, room.as_str());
        async move { sr.send_text_resp(a, r, &format!("again {i}")).await }
    }))
    .await;
    for r in more {
        r.ok();
    }
    assert_eq!(dir.room_activations.load(Ordering::SeqCst), after);
}

// 5. ------------------------------------------------------------------------------------------

#[actix_rt::test]
async fn sync_long_poll_wakes_on_events_and_account_data() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = public_room(&s, &alice, &[&bob]).await;
    let since = next_batch(&s.sync(&bob, None, 0).await);

    // A pending sync returns as soon as another user's message is committed.
    let started = Instant::now();
    let (woken, sent) = tokio::join!(
        async {
            let r = s.get(&sync_path(Some(&since), 10_000, None), &bob.token).await.ok();
            (r, started.elapsed())
        },
        async {
            // Bounded: only so the sync is already waiting when the message arrives. If it is
            // not yet waiting, it still finds the message and returns at once.
            tokio::time::sleep(Duration::from_millis(300)).await;
            s.send_text(&alice, &room, "wake up").await
        }
    );
    let (body, elapsed) = woken;
    assert!(elapsed < Duration::from_secs(5), "sync took {elapsed:?} to notice a new message");
    let tl = timeline(&body, &room);
    assert!(tl.iter().any(|e| e["event_id"] == sent.as_str()), "message missing from woken sync: {body}");
    let since = next_batch(&body);

    // Nothing new: the sync waits out its (short) timeout and returns empty.
    let started = Instant::now();
    let quiet = s.get(&sync_path(Some(&since), 200, None), &bob.token).await.ok();
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(150), "sync with nothing new returned after {elapsed:?}, before its timeout");
    assert!(elapsed < Duration::from_secs(5), "sync timeout 200ms took {elapsed:?}");
    assert_eq!(quiet["rooms"]["join"], json!({}), "{quiet}");
    let since = next_batch(&quiet);

    // Account data wakes a pending sync too.
    let started = Instant::now();
    let ad_path = format!("{C}/user/{}/account_data/org.example.settings", enc(&bob.user_id));
    let (woken, put) = tokio::join!(
        async {
            let r = s.get(&sync_path(Some(&since), 10_000, None), &bob.token).await.ok();
            (r, started.elapsed())
        },
        async {
            // Bounded, as above.
            tokio::time::sleep(Duration::from_millis(300)).await;
            s.put(&ad_path, &bob.token, json!({"theme": "dark"})).await
        }
    );
    put.ok();
    let (body, elapsed) = woken;
    assert!(elapsed < Duration::from_secs(5), "sync took {elapsed:?} to notice account data");
    let ad = body["account_data"]["events"].as_array().expect("account_data.events");
    assert!(
        ad.iter().any(|e| e["type"] == "org.example.settings" && e["content"]["theme"] == "dark"),
        "account data missing from woken sync: {body}"
    );
    assert_eq!(s.get(&ad_path, &bob.token).await.ok(), json!({"theme": "dark"}));
}

// 6. ------------------------------------------------------------------------------------------

#[actix_rt::test]
async fn sync_filters_limit_the_timeline_and_prev_batch_fills_the_gap() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let filter = json!({"room": {"timeline": {"limit": 3}}});
    let created = s.post(&format!("{C}/user/{}/filter", enc(&alice.user_id)), &alice.token, filter.clone()).await.ok();
    let filter_id = created["filter_id"].as_str().unwrap_or_else(|| panic!("filter_id must be a string: {created}")).to_owned();
    let got = s.get(&format!("{C}/user/{}/filter/{}", enc(&alice.user_id), enc(&filter_id)), &alice.token).await.ok();
    assert_eq!(got, filter);

    let room = s.create_room(&alice, json!({"name": "filtered"})).await;
    let since = next_batch(&s.sync(&alice, None, 0).await);
    let mut sent = Vec::new();
    for i in 0..10 {
        sent.push(s.send_text(&alice, &room, &format!("m{i}")).await);
    }
    let everything = ids(&all_forward(&s, &alice.token, &room, 100).await);

    // Initial sync with the stored filter: the last three, limited, and prev_batch reaches back.
    let initial = s.get(&sync_path(None, 0, Some(&filter_id)), &alice.token).await.ok();
    let tl = &initial["rooms"]["join"][&room]["timeline"];
    let events: Vec<Value> = tl["events"].as_array().expect("events").clone();
    assert_eq!(ids(&events), sent[7..].to_vec());
    assert_eq!(tl["limited"], true, "{tl}");
    let prev = tl["prev_batch"].as_str().expect("prev_batch");
    let earlier = ids(&all_backward(&s, &alice.token, &room, Some(prev), None, 4).await);
    let mut joined: Vec<String> = earlier.iter().rev().cloned().collect();
    joined.extend(ids(&events));
    assert_unique(&joined);
    assert_eq!(joined, everything, "prev_batch pagination plus the timeline must be the whole room, no gaps");

    // Incremental sync with the filter: the gap since `since` is exactly what prev_batch yields.
    let inc = s.get(&sync_path(Some(&since), 0, Some(&filter_id)), &alice.token).await.ok();
    let tl = &inc["rooms"]["join"][&room]["timeline"];
    let events: Vec<Value> = tl["events"].as_array().expect("events").clone();
    assert_eq!(ids(&events), sent[7..].to_vec());
    assert_eq!(tl["limited"], true, "{tl}");
    let prev = tl["prev_batch"].as_str().expect("prev_batch");
    let gap = ids(&all_backward(&s, &alice.token, &room, Some(prev), Some(&since), 2).await);
    let mut joined: Vec<String> = gap.iter().rev().cloned().collect();
    joined.extend(ids(&events));
    assert_eq!(joined, sent, "the gap between since and the limited timeline");

    // Inline filter JSON.
    let inline = json!({"room": {"timeline": {"limit": 2}}}).to_string();
    let body = s.get(&sync_path(None, 0, Some(&inline)), &alice.token).await.ok();
    let tl = &body["rooms"]["join"][&room]["timeline"];
    assert_eq!(ids(tl["events"].as_array().expect("events")), sent[8..].to_vec());
    assert_eq!(tl["limited"], true);

    // Another user's filter ID is not ours.
    let bob = s.register_user("bob").await;
    s.get(&format!("{C}/user/{}/filter/{}", enc(&alice.user_id), enc(&filter_id)), &bob.token).await.err(403, "M_FORBIDDEN");
}

// 7. ------------------------------------------------------------------------------------------

async fn member_content(s: &TestServer, room: &str, user_id: &str, token: &str) -> Value {
    s.get(&format!("{C}/rooms/{}/state/m.room.member/{}", enc(room), enc(user_id)), token).await.ok()
}

async fn display_name_in(s: &TestServer, room: &str, user_id: &str, token: &str) -> Value {
    let jm = s.get(&format!("{C}/rooms/{}/joined_members", enc(room)), token).await.ok();
    jm["joined"][user_id]["display_name"].clone()
}

#[actix_rt::test]
async fn displayname_propagates_to_every_joined_room() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let own_room = s.create_room(&alice, json!({})).await;
    let bobs_room = s.create_room(&bob, json!({"preset": "public_chat"})).await;
    s.join(&alice, &bobs_room).await.ok();
    let left_room = s.create_room(&bob, json!({"preset": "public_chat"})).await;
    s.join(&alice, &left_room).await.ok();
    s.post(&format!("{C}/rooms/{}/leave", enc(&left_room)), &alice.token, json!({})).await.ok();
    let (sr, uid, tok) = (&s, alice.user_id.as_str(), alice.token.as_str());

    let set_name = |name: &'static str| async move {
        sr.put(&format!("{C}/profile/{}/displayname", enc(uid)), tok, json!({"displayname": name})).await.ok();
    };

    set_name("Alice Liddell").await;
    let p = s.get(&format!("{C}/profile/{}", enc(uid)), &bob.token).await.ok();
    assert_eq!(p["displayname"], "Alice Liddell");
    let p = s.get(&format!("{C}/profile/{}/displayname", enc(uid)), &bob.token).await.ok();
    assert_eq!(p["displayname"], "Alice Liddell");

    for room in [own_room.as_str(), bobs_room.as_str()] {
        let content =
            eventually(5, || async move { Some(member_content(sr, room, uid, tok).await).filter(|c| c["displayname"] == "Alice Liddell") })
                .await;
        assert_eq!(content["membership"], "join", "{content}");
        assert_eq!(display_name_in(&s, room, uid, tok).await, "Alice Liddell");
    }
    assert_eq!(display_name_in(&s, &bobs_room, uid, &bob.token).await, "Alice Liddell");
    // The room she left gets no new member event: she is still recorded as gone.
    let gone = member_content(&s, &left_room, uid, &bob.token).await;
    assert_eq!(gone["membership"], "leave", "{gone}");

    // A room joined while the profile's actor is active is tracked as well.
    let third = s.create_room(&bob, json!({"preset": "public_chat"})).await;
    s.join(&alice, &third).await.ok();
    let joined = member_content(&s, &third, uid, &bob.token).await;
    assert_eq!(joined["displayname"], "Alice Liddell", "joining uses the current profile: {joined}");
    set_name("Alice L.").await;
    for room in [own_room.as_str(), bobs_room.as_str(), third.as_str()] {
        eventually(5, || async move { (member_content(sr, room, uid, tok).await["displayname"] == "Alice L.").then_some(()) }).await;
    }
    assert_eq!(display_name_in(&s, &third, uid, &bob.token).await, "Alice L.");
    let gone = member_content(&s, &left_room, uid, &bob.token).await;
    assert_eq!(gone["membership"], "leave", "{gone}");
    assert!(gone.get("displayname").is_none_or(|d| d != "Alice L."), "{gone}");

    // Nobody changes someone else's name.
    s.put(&format!("{C}/profile/{}/displayname", enc(uid)), &bob.token, json!({"displayname": "Mallory"})).await.err(403, "M_FORBIDDEN");
    assert_eq!(s.get(&format!("{C}/profile/{}", enc(uid)), &bob.token).await.ok()["displayname"], "Alice L.");
}

// 8. ------------------------------------------------------------------------------------------

#[actix_rt::test]
async fn room_tags_and_room_account_data() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({})).await;
    let tags = format!("{C}/user/{}/rooms/{}/tags", enc(&alice.user_id), enc(&room));
    let since = next_batch(&s.sync(&alice, None, 0).await);

    assert_eq!(s.get(&tags, &alice.token).await.ok(), json!({"tags": {}}));
    s.put(&format!("{tags}/u.work"), &alice.token, json!({"order": 0.5})).await.ok();
    s.put(&format!("{tags}/m.favourite"), &alice.token, json!({})).await.ok();
    assert_eq!(s.get(&tags, &alice.token).await.ok(), json!({"tags": {"u.work": {"order": 0.5}, "m.favourite": {}}}));
    s.req("DELETE", &format!("{tags}/u.work"), Some(&alice.token), None).await.ok();
    assert_eq!(s.get(&tags, &alice.token).await.ok(), json!({"tags": {"m.favourite": {}}}));

    let room_ad = |kind: &str| format!("{C}/user/{}/rooms/{}/account_data/{kind}", enc(&alice.user_id), enc(&room));
    s.put(&room_ad("org.example.room"), &alice.token, json!({"pinned": true, "n": 3})).await.ok();
    assert_eq!(s.get(&room_ad("org.example.room"), &alice.token).await.ok(), json!({"pinned": true, "n": 3}));
    s.get(&room_ad("org.example.unset"), &alice.token).await.err(404, "M_NOT_FOUND");

    let check = |body: &Value| {
        let ad =
            body["rooms"]["join"][&room]["account_data"]["events"].as_array().unwrap_or_else(|| panic!("no room account_data: {body}"));
        let tag = ad.iter().find(|e| e["type"] == "m.tag").unwrap_or_else(|| panic!("m.tag missing: {body}"));
        assert_eq!(tag["content"], json!({"tags": {"m.favourite": {}}}));
        let custom = ad.iter().find(|e| e["type"] == "org.example.room").unwrap_or_else(|| panic!("room account data missing: {body}"));
        assert_eq!(custom["content"], json!({"pinned": true, "n": 3}));
        // Room account data is not global account data.
        let global = body["account_data"]["events"].as_array().expect("account_data");
        assert!(!global.iter().any(|e| e["type"] == "m.tag" || e["type"] == "org.example.room"), "{body}");
    };
    // Initial sync and an incremental one where only account data changed both carry it.
    check(&s.sync(&alice, None, 0).await);
    let inc = s.sync(&alice, Some(&since), 0).await;
    check(&inc);
    assert!(timeline(&inc, &room).is_empty(), "no new events, only account data: {inc}");

    // Someone else's tags are off limits.
    let bob = s.register_user("bob").await;
    s.get(&tags, &bob.token).await.err(403, "M_FORBIDDEN");
    s.put(&format!("{tags}/u.evil"), &bob.token, json!({})).await.err(403, "M_FORBIDDEN");
}

// 9. ------------------------------------------------------------------------------------------

#[actix_rt::test]
async fn devices_list_rename_and_delete_with_uia() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let (token2, device2) = login_token(&s, &alice).await;

    let list = s.get(&format!("{C}/devices"), &alice.token).await.ok();
    let devices: Vec<&str> = list["devices"].as_array().expect("devices").iter().map(|d| d["device_id"].as_str().unwrap_or("")).collect();
    assert!(devices.contains(&alice.device_id.as_str()), "{list}");
    assert!(devices.contains(&device2.as_str()), "{list}");

    let dev = format!("{C}/devices/{}", enc(&device2));
    s.put(&dev, &alice.token, json!({"display_name": "Phone"})).await.ok();
    assert_eq!(s.get(&dev, &alice.token).await.ok()["display_name"], "Phone");
    s.put(&format!("{C}/devices/NOSUCHDEVICE"), &alice.token, json!({"display_name": "x"})).await.err(404, "M_NOT_FOUND");

    // Without auth: a UIA challenge, nothing deleted.
    let first = s.req("DELETE", &dev, Some(&alice.token), None).await;
    let session = uia_session(&first);
    assert_eq!(whoami(&s, &token2).await.ok()["device_id"], device2.as_str());

    // A wrong password is challenged again.
    let wrong = s.req("DELETE", &dev, Some(&alice.token), Some(json!({"auth": password_auth(&alice, "not-it", &session)}))).await;
    uia_session(&wrong);
    assert_eq!(wrong.body["errcode"], "M_FORBIDDEN", "{}", wrong.body);
    assert_eq!(whoami(&s, &token2).await.ok()["device_id"], device2.as_str());

    s.req("DELETE", &dev, Some(&alice.token), Some(json!({"auth": password_auth(&alice, &alice.password, &session)}))).await.ok();
    whoami(&s, &token2).await.err(401, "M_UNKNOWN_TOKEN");
    s.get(&dev, &alice.token).await.err(404, "M_NOT_FOUND");
    let list = s.get(&format!("{C}/devices"), &alice.token).await.ok();
    let devices: Vec<&str> = list["devices"].as_array().expect("devices").iter().map(|d| d["device_id"].as_str().unwrap_or("")).collect();
    assert_eq!(devices, vec![alice.device_id.as_str()]);
    assert_eq!(whoami(&s, &alice.token).await.ok()["user_id"], alice.user_id);
}

// 10. -----------------------------------------------------------------------------------------

#[actix_rt::test]
async fn password_change_logs_out_other_devices() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let (other, other_device) = login_token(&s, &alice).await;
    let new_password = "a-brand-new-password";

    let path = format!("{C}/account/password");
    let first = s.post(&path, &alice.token, json!({"new_password": new_password})).await;
    let session = uia_session(&first);
    // Nothing changed yet.
    s.login(&alice.user_id, &alice.password).await.ok();

    s.post(&path, &alice.token, json!({"new_password": new_password, "auth": password_auth(&alice, &alice.password, &session)})).await.ok();

    s.login(&alice.user_id, &alice.password).await.err(403, "M_FORBIDDEN");
    let fresh = s.login(&alice.user_id, new_password).await.ok();
    assert_eq!(fresh["user_id"], alice.user_id);

    // logout_devices defaults to true: the other session is gone, the requesting one lives.
    whoami(&s, &other).await.err(401, "M_UNKNOWN_TOKEN");
    assert_eq!(whoami(&s, &alice.token).await.ok()["device_id"], alice.device_id.as_str());
    let list = s.get(&format!("{C}/devices"), &alice.token).await.ok();
    let devices: Vec<&str> = list["devices"].as_array().expect("devices").iter().map(|d| d["device_id"].as_str().unwrap_or("")).collect();
    assert!(!devices.contains(&other_device.as_str()), "the other device is deleted with its token: {list}");
    assert!(devices.contains(&alice.device_id.as_str()), "{list}");
    let fresh_token = fresh["access_token"].as_str().expect("token");
    assert_eq!(whoami(&s, fresh_token).await.ok()["user_id"], alice.user_id);

    // logout_devices: false keeps other sessions.
    let session = uia_session(&s.post(&path, &alice.token, json!({"new_password": "third"})).await);
    let updated = User { password: new_password.into(), ..alice.clone() };
    s.post(
        &path,
        &alice.token,
        json!({"new_password": "third-password", "logout_devices": false, "auth": password_auth(&updated, new_password, &session)}),
    )
    .await
    .ok();
    assert_eq!(whoami(&s, fresh_token).await.ok()["user_id"], alice.user_id);
    s.login(&alice.user_id, "third-password").await.ok();
}

// 11. -----------------------------------------------------------------------------------------

#[actix_rt::test]
async fn deactivation_leaves_rooms_and_blocks_login() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = public_room(&s, &bob, &[&alice]).await;
    let invited_to = s.create_room(&bob, json!({})).await;
    s.invite(&bob, &invited_to, &alice.user_id).await.ok();

    let path = format!("{C}/account/deactivate");
    let session = uia_session(&s.post(&path, &alice.token, json!({})).await);
    s.post(&path, &alice.token, json!({"auth": password_auth(&alice, &alice.password, &session)})).await.ok();

    let membership_of = |body: &Value| {
        body["chunk"]
            .as_array()
            .expect("chunk")
            .iter()
            .find(|e| e["state_key"] == alice.user_id.as_str())
            .map(|e| e["content"]["membership"].as_str().unwrap_or_default().to_owned())
    };
    let members = s.get(&format!("{C}/rooms/{}/members", enc(&room)), &bob.token).await.ok();
    assert_eq!(membership_of(&members).as_deref(), Some("leave"), "{members}");
    let members = s.get(&format!("{C}/rooms/{}/members", enc(&invited_to)), &bob.token).await.ok();
    assert_eq!(membership_of(&members).as_deref(), Some("leave"), "the invite is rejected: {members}");
    let jm = s.get(&format!("{C}/rooms/{}/joined_members", enc(&room)), &bob.token).await.ok();
    assert!(jm["joined"].get(&alice.user_id).is_none(), "{jm}");

    s.login(&alice.user_id, &alice.password).await.err(403, "M_USER_DEACTIVATED");
    whoami(&s, &alice.token).await.err(401, "M_UNKNOWN_TOKEN");
    // The name stays taken.
    s.req("GET", &format!("{C}/register/available?username=alice"), None, None).await.err(400, "M_USER_IN_USE");
}

// 12. -----------------------------------------------------------------------------------------

#[actix_rt::test]
async fn create_room_options() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;

    let room = s
        .create_room(
            &alice,
            json!({
                "name": "The Room",
                "topic": "Everything",
                "invite": [bob.user_id],
                "initial_state": [
                    {"type": "m.room.history_visibility", "content": {"history_visibility": "joined"}},
                    {"type": "org.example.custom", "state_key": "k", "content": {"x": 1}}
                ],
                "power_level_content_override": {"events_default": 5, "users": {alice.user_id.clone(): 100, bob.user_id.clone(): 50}},
            }),
        )
        .await;
    let state = |kind: &str, key: &str| format!("{C}/rooms/{}/state/{kind}/{}", enc(&room), enc(key));
    assert_eq!(s.get(&state("m.room.name", ""), &alice.token).await.ok()["name"], "The Room");
    assert_eq!(s.get(&state("m.room.topic", ""), &alice.token).await.ok()["topic"], "Everything");
    assert_eq!(s.get(&state("m.room.history_visibility", ""), &alice.token).await.ok()["history_visibility"], "joined");
    assert_eq!(s.get(&state("org.example.custom", "k"), &alice.token).await.ok(), json!({"x": 1}));
    let pl = s.get(&state("m.room.power_levels", ""), &alice.token).await.ok();
    assert_eq!(pl["events_default"], 5, "{pl}");
    assert_eq!(pl["users"][&bob.user_id], 50, "{pl}");
    assert_eq!(pl["users"][&alice.user_id], 100, "{pl}");
    assert_eq!(s.get(&state("m.room.member", &bob.user_id), &alice.token).await.ok()["membership"], "invite");
    let create = s.get(&state("m.room.create", ""), &alice.token).await.ok();
    assert_eq!(create["room_version"], "10", "the default room version: {create}");

    // The invitee sees the invite with stripped state.
    let sync = s.sync(&bob, None, 0).await;
    let invite_state = sync["rooms"]["invite"][&room]["invite_state"]["events"].as_array().unwrap_or_else(|| panic!("no invite: {sync}"));
    let find = |kind: &str| invite_state.iter().find(|e| e["type"] == kind).unwrap_or_else(|| panic!("{kind} missing: {sync}"));
    assert_eq!(find("m.room.name")["content"]["name"], "The Room");
    assert_eq!(find("m.room.topic")["content"]["topic"], "Everything");
    assert!(
        invite_state.iter().any(|e| e["type"] == "m.room.member"
            && e["state_key"] == bob.user_id.as_str()
            && e["content"]["membership"] == "invite"
            && e["sender"] == alice.user_id.as_str()),
        "bob's invite missing from invite_state: {sync}"
    );
    s.join(&bob, &room).await.ok();

    // Every event ID is a room v10 reference hash.
    let all = s.get(&format!("{C}/rooms/{}/state", enc(&room)), &alice.token).await.ok();
    let all = all.as_array().expect("state list");
    assert!(all.len() >= 8, "{all:?}");
    for ev in all {
        let id = event_id(ev);
        assert!(is_v10_event_id(&id), "bad event ID {id}");
    }
    let msg = s.send_text(&bob, &room, "hello").await;
    assert!(is_v10_event_id(&msg), "bad event ID {msg}");

    // Room version 9.
    let v9 = s.create_room(&alice, json!({"room_version": "9"})).await;
    let create = s.get(&format!("{C}/rooms/{}/state/m.room.create/", enc(&v9)), &alice.token).await.ok();
    assert_eq!(create["room_version"], "9", "{create}");
    let msg = s.send_text(&alice, &v9, "in v9").await;
    assert!(is_v10_event_id(&msg), "bad event ID {msg}");

    // An unsupported version is refused and creates nothing.
    let before = s.joined_rooms(&alice).await.len();
    s.post(&format!("{C}/createRoom"), &alice.token, json!({"room_version": "999"})).await.err(400, "M_UNSUPPORTED_ROOM_VERSION");
    assert_eq!(s.joined_rooms(&alice).await.len(), before);
}

// 13. -----------------------------------------------------------------------------------------

#[actix_rt::test]
async fn small_endpoints_and_logout_all() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;

    let caps = s.get(&format!("{C}/capabilities"), &alice.token).await.ok();
    let caps = &caps["capabilities"];
    assert_eq!(caps["m.change_password"]["enabled"], true, "{caps}");
    assert_eq!(caps["m.room_versions"]["default"], "10", "{caps}");
    assert_eq!(caps["m.room_versions"]["available"]["9"], "stable", "{caps}");
    assert_eq!(caps["m.room_versions"]["available"]["10"], "stable", "{caps}");

    for path in [format!("{C}/pushrules/"), format!("{C}/pushrules")] {
        let rules = s.get(&path, &alice.token).await.ok();
        let global = &rules["global"];
        let overrides = global["override"].as_array().unwrap_or_else(|| panic!("no global.override: {rules}"));
        assert!(overrides.iter().any(|r| r["rule_id"] == ".m.rule.master"), "{rules}");
        let underride = global["underride"].as_array().unwrap_or_else(|| panic!("no global.underride: {rules}"));
        assert!(!underride.is_empty(), "{rules}");
    }

    let versions = s.req("GET", "/_matrix/client/versions", None, None).await.ok();
    let list = versions["versions"].as_array().expect("versions");
    assert!(list.iter().any(|v| v == "v1.1") && list.iter().any(|v| v == "r0.6.1"), "{versions}");

    let flows = s.req("GET", &format!("{C}/login"), None, None).await.ok();
    assert!(flows["flows"].as_array().expect("flows").iter().any(|f| f["type"] == "m.login.password"), "{flows}");

    let free = s.req("GET", &format!("{C}/register/available?username=nobody-yet"), None, None).await.ok();
    assert_eq!(free, json!({"available": true}));
    s.req("GET", &format!("{C}/register/available?username=alice"), None, None).await.err(400, "M_USER_IN_USE");
    s.req("GET", &format!("{C}/register/available?username=Not%20Valid!"), None, None).await.err(400, "M_INVALID_USERNAME");

    let me = whoami(&s, &alice.token).await.ok();
    assert_eq!(me["user_id"], alice.user_id);
    assert_eq!(me["device_id"], alice.device_id.as_str());
    assert_eq!(me["is_guest"], false);

    // r0 aliases.
    let r0 = s.get("/_matrix/client/r0/account/whoami", &alice.token).await.ok();
    assert_eq!(r0["user_id"], alice.user_id);
    let room = s.create_room(&alice, json!({})).await;
    let r0_rooms = s.get("/_matrix/client/r0/joined_rooms", &alice.token).await.ok();
    assert_eq!(r0_rooms["joined_rooms"], json!([room]));
    let r0_sync = s.get("/_matrix/client/r0/sync?timeout=0", &alice.token).await.ok();
    assert!(r0_sync["rooms"]["join"][&room].is_object(), "{r0_sync}");

    // logout/all kills every token of the user, and only theirs.
    let bob = s.register_user("bob").await;
    let (t2, _) = login_token(&s, &alice).await;
    let (t3, _) = login_token(&s, &alice).await;
    s.post(&format!("{C}/logout/all"), &t2, json!({})).await.ok();
    for t in [&alice.token, &t2, &t3] {
        whoami(&s, t).await.err(401, "M_UNKNOWN_TOKEN");
    }
    assert_eq!(whoami(&s, &bob.token).await.ok()["user_id"], bob.user_id);
    // And the account itself still works; the old devices are gone with their tokens.
    let (t4, d4) = login_token(&s, &alice).await;
    assert_eq!(whoami(&s, &t4).await.ok()["user_id"], alice.user_id);
    let list = s.get(&format!("{C}/devices"), &t4).await.ok();
    let devices: Vec<&str> = list["devices"].as_array().expect("devices").iter().map(|d| d["device_id"].as_str().unwrap_or("")).collect();
    assert_eq!(devices, vec![d4.as_str()], "logout/all deletes every device");
}

#[actix_rt::test]
async fn capabilities_require_authentication() {
    let s = TestServer::start().await;
    s.req("GET", &format!("{C}/capabilities"), None, None).await.err(401, "M_MISSING_TOKEN");
    s.req("GET", "/_matrix/client/r0/capabilities", None, None).await.err(401, "M_MISSING_TOKEN");
}

#[actix_rt::test]
async fn txn_ids_are_scoped_per_endpoint() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({})).await;
    let msg = event_id(&send_txn(&s, &alice.token, &room, "shared", "to be redacted").await.ok());
    // The spec scopes a transaction ID to one device and one HTTP endpoint: this is a new request.
    let r = s.put(&format!("{C}/rooms/{}/redact/{}/shared", enc(&room), enc(&msg)), &alice.token, json!({"reason": "oops"})).await.ok();
    let redaction = event_id(&r);
    assert_ne!(redaction, msg, "the redaction was answered with the redacted message's own event ID");
    let ev = s.get(&format!("{C}/rooms/{}/event/{}", enc(&room), enc(&redaction)), &alice.token).await.ok();
    assert_eq!(ev["type"], "m.room.redaction", "{ev}");
    let target = s.get(&format!("{C}/rooms/{}/event/{}", enc(&room), enc(&msg)), &alice.token).await.ok();
    assert!(target["content"].get("body").is_none(), "the message was not redacted: {target}");
}

#[actix_rt::test]
async fn txn_ids_are_scoped_per_room() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let first = s.create_room(&alice, json!({})).await;
    let second = s.create_room(&alice, json!({})).await;
    let a = event_id(&send_txn(&s, &alice.token, &first, "shared", "first room").await.ok());
    let b = event_id(&send_txn(&s, &alice.token, &second, "shared", "second room").await.ok());
    assert_ne!(a, b, "the send to the second room was answered with the first room's event");
    let ev = s.get(&format!("{C}/rooms/{}/event/{}", enc(&second), enc(&b)), &alice.token).await.ok();
    assert_eq!(ev["room_id"], second.as_str());
    assert_eq!(ev["content"]["body"], "second room");
}
