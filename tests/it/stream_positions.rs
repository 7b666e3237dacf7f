//! Stream positions: one allocator per stream that never regresses or hands a position out twice
//! (after to-device acknowledgements, purges and restarts), and long-polls that wait instead of
//! spinning when nothing is new.

use crate::common::*;
use serde_json::{Value, json};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// The positions of a sync token, in token order.
fn positions(token: &str) -> Vec<i64> {
    token.trim_start_matches('s').split('_').map(|p| p.parse().expect("position")).collect()
}

#[track_caller]
fn assert_not_behind(later: &str, earlier: &str) {
    let (l, e) = (positions(later), positions(earlier));
    assert!(l.iter().zip(&e).all(|(a, b)| a >= b), "token {later} went behind {earlier}");
}

/// Long-polls `/sync` from `since` for `ms` and checks it waited the whole time without
/// re-reading the store in a loop. Returns the response.
async fn long_poll_waits(s: &TestServer, user: &User, since: &str, ms: u64) -> Value {
    let rechecks = &s.server.services.sync_rechecks;
    let before = rechecks.load(Ordering::Relaxed);
    let started = Instant::now();
    let body = s.sync(user, Some(since), ms).await;
    let took = started.elapsed();
    let rereads = rechecks.load(Ordering::Relaxed) - before;
    assert!(took >= Duration::from_millis(ms - 100), "the long-poll returned after {took:?}: {body}");
    assert!(rereads <= 1, "the long-poll re-read the store {rereads} times while nothing happened");
    assert_not_behind(&next_batch(&body), since);
    body
}

#[actix_rt::test]
async fn a_long_poll_after_a_to_device_acknowledgement_waits() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let t0 = next_batch(&s.sync(&bob, None, 0).await);
    let body = json!({"messages": {&bob.user_id: {&bob.device_id: {"n": 1}}}});
    s.put(&format!("{V3}/sendToDevice/m.test/txn1"), &alice.token, body).await.ok();
    let first = s.sync(&bob, Some(&t0), 0).await;
    assert_eq!(first["to_device"]["events"].as_array().map(Vec::len), Some(1), "{first}");
    let t1 = next_batch(&first);

    // Presenting t1 acknowledges (deletes) the message; the stream must not fall back, and the
    // next long-poll must wait out its timeout with nothing to say.
    let t2 = next_batch(&s.sync(&bob, Some(&t1), 0).await);
    assert_eq!(positions(&t2)[2], positions(&t1)[2], "to-device position moved without news");
    let waited = long_poll_waits(&s, &bob, &t2, 2000).await;
    assert_eq!(waited["to_device"]["events"], json!([]));
    assert_eq!(positions(&next_batch(&waited))[2], positions(&t1)[2], "to-device position moved without news");

    // A new message gets a position past the acknowledged one.
    let body = json!({"messages": {&bob.user_id: {&bob.device_id: {"n": 2}}}});
    s.put(&format!("{V3}/sendToDevice/m.test/txn2"), &alice.token, body).await.ok();
    let next = s.sync(&bob, Some(&next_batch(&waited)), 0).await;
    assert_eq!(next["to_device"]["events"][0]["content"]["n"], 2, "{next}");
    assert!(positions(&next_batch(&next))[2] > positions(&t1)[2]);
}

#[actix_rt::test]
async fn a_purge_of_the_newest_events_frees_no_positions() {
    let s = TestServer::start().await;
    let admin = s.register_admin("admin").await;
    let alice = s.register_user("alice").await;
    let older = s.create_room(&alice, json!({"name": "older"})).await;
    s.send_text(&alice, &older, "old news").await;
    let newest = s.create_room(&alice, json!({"name": "newest"})).await;
    let last = s.send_text(&alice, &newest, "the newest event").await;
    // The newest receipt is in the room that goes.
    s.post(&format!("{V3}/rooms/{}/receipt/m.read/{}", enc(&newest), enc(&last)), &alice.token, json!({})).await.ok();
    let before = next_batch(&s.sync(&alice, None, 0).await);

    s.post(&format!("/_dendrite/admin/purgeRoom/{}", enc(&newest)), &admin.token, json!({})).await.ok();

    // Nothing new for alice in the rooms she still has: the long-poll waits, and its token does
    // not fall behind the one from before the purge.
    let waited = long_poll_waits(&s, &alice, &before, 2000).await;
    assert!(timeline(&waited, &older).is_empty(), "{waited}");

    // A new event and receipt in the other room come after every earlier token.
    let fresh = s.send_text(&alice, &older, "after the purge").await;
    s.post(&format!("{V3}/rooms/{}/receipt/m.read/{}", enc(&older), enc(&fresh)), &alice.token, json!({})).await.ok();
    let after = s.sync(&alice, Some(&before), 0).await;
    let ids: Vec<&str> = timeline(&after, &older).iter().filter_map(|e| e["event_id"].as_str()).collect();
    assert!(ids.contains(&fresh.as_str()), "the new event is missing from the sync since {before}: {after}");
    let receipts = &after["rooms"]["join"][&older]["ephemeral"]["events"];
    assert!(
        receipts.as_array().is_some_and(|list| list.iter().any(|e| e["type"] == "m.receipt" && e["content"][&fresh].is_object())),
        "the new receipt is missing from the sync since {before}: {after}"
    );
    let (b, a) = (positions(&before), positions(&next_batch(&after)));
    assert!(a[0] > b[0] && a[4] > b[4], "events and receipts must move past {before}: {}", next_batch(&after));
}

#[actix_rt::test]
async fn positions_keep_increasing_across_a_restart() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({})).await;
    let first = s.send_text(&alice, &room, "before").await;
    s.post(&format!("{V3}/rooms/{}/receipt/m.read/{}", enc(&room), enc(&first)), &alice.token, json!({})).await.ok();
    let typing = format!("{V3}/rooms/{}/typing/{}", enc(&room), enc(&alice.user_id));
    s.put(&typing, &alice.token, json!({"typing": true, "timeout": 30000})).await.ok();
    let before = next_batch(&s.sync(&alice, None, 0).await);

    let s = s.restart().await;
    let second = s.send_text(&alice, &room, "after").await;
    s.post(&format!("{V3}/rooms/{}/receipt/m.read/{}", enc(&room), enc(&second)), &alice.token, json!({})).await.ok();
    s.put(&typing, &alice.token, json!({"typing": true, "timeout": 30000})).await.ok();
    s.put(&format!("{V3}/user/{}/account_data/m.test", enc(&alice.user_id)), &alice.token, json!({"a": 1})).await.ok();

    let after = s.sync(&alice, Some(&before), 0).await;
    let ids: Vec<&str> = timeline(&after, &room).iter().filter_map(|e| e["event_id"].as_str()).collect();
    assert_eq!(ids, vec![second.as_str()], "{after}");
    let ephemeral = after["rooms"]["join"][&room]["ephemeral"]["events"].as_array().cloned().unwrap_or_default();
    assert!(ephemeral.iter().any(|e| e["type"] == "m.typing"), "typing after the restart is missing: {after}");
    assert!(ephemeral.iter().any(|e| e["type"] == "m.receipt"), "the receipt after the restart is missing: {after}");
    let (b, a) = (positions(&before), positions(&next_batch(&after)));
    for (i, name) in [(0, "events"), (1, "account data"), (4, "receipts"), (5, "typing")] {
        assert!(a[i] > b[i], "{name} did not move past {before}: {}", next_batch(&after));
    }
    // And a long-poll on the new server with nothing new waits.
    long_poll_waits(&s, &alice, &next_batch(&after), 1500).await;
}

/// A writer that took a position holds the stream until it commits: a second writer asking for
/// the next position waits, so the two cannot commit out of order, and a reader meanwhile sees
/// the old head. On PostgreSQL (`make test-postgres`) this is what keeps the largest committed
/// position also the largest below which everything is committed.
#[actix_rt::test]
async fn a_later_position_cannot_commit_before_an_earlier_one() {
    use ensemble::store::{self, streams};
    let s = TestServer::start().await;
    let db = s.server.services.db.clone();
    let mut reader = db.get().expect("connection");
    let before = streams::heads(&mut reader).expect("heads").events;
    let (taken_tx, taken_rx) = std::sync::mpsc::channel();
    let first = {
        let db = db.clone();
        std::thread::spawn(move || {
            let mut c = db.get().expect("connection");
            store::write_txn(&mut c, |c| {
                let pos = streams::next(c, streams::Stream::Events)?;
                taken_tx.send(()).expect("the test waits");
                // Long enough that the second writer, started now, would finish first if it could.
                std::thread::sleep(Duration::from_millis(400));
                // Taken before the commit: the second writer must finish after this.
                Ok((pos, Instant::now()))
            })
            .expect("first writer")
        })
    };
    taken_rx.recv().expect("first writer took a position");
    let second = {
        let db = db.clone();
        std::thread::spawn(move || {
            let mut c = db.get().expect("connection");
            let pos = store::write_txn(&mut c, |c| streams::next(c, streams::Stream::Events)).expect("second writer");
            (pos, Instant::now())
        })
    };
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(streams::heads(&mut reader).expect("heads").events, before, "a reader saw a position before its commit");
    let (p1, t1) = first.join().expect("first writer");
    let (p2, t2) = second.join().expect("second writer");
    assert_eq!((p1, p2), (before + 1, before + 2));
    assert!(t2 >= t1, "the later position committed while the earlier one was uncommitted");
    assert_eq!(streams::heads(&mut reader).expect("heads").events, before + 2);
}

/// Many rooms written at once while a client syncs incrementally: every event reaches it exactly
/// once. A reader that took a head past an uncommitted event would skip that event forever.
#[actix_rt::test]
async fn concurrent_writers_never_make_an_incremental_sync_skip_an_event() {
    const ROOMS: usize = 6;
    const PER_ROOM: usize = 20;
    let s = TestServer::start().await;
    let reader = s.register_user("reader").await;
    let mut writers = Vec::new();
    let mut rooms = Vec::new();
    for i in 0..ROOMS {
        let w = s.register_user(&format!("writer{i}")).await;
        rooms.push(public_room(&s, &w, &[&reader]).await);
        writers.push(w);
    }
    let filter = json!({"room": {"timeline": {"limit": 100}}}).to_string();
    let start = s.get(&sync_path(None, 0, Some(&filter)), &reader.token).await.ok();
    let mut since = next_batch(&start);
    let sends = futures_util::future::join_all(writers.iter().zip(&rooms).map(|(w, room)| {
        let s = &s;
        async move {
            let mut ids = Vec::new();
            for n in 0..PER_ROOM {
                ids.push(s.send_text(w, room, &format!("{n}")).await);
            }
            ids
        }
    }));
    let seen = std::cell::RefCell::new(Vec::<String>::new());
    let read = async {
        let deadline = Instant::now() + Duration::from_secs(60);
        while seen.borrow().len() < ROOMS * PER_ROOM && Instant::now() < deadline {
            let body = s.get(&sync_path(Some(&since), 1000, Some(&filter)), &reader.token).await.ok();
            for room in &rooms {
                assert_ne!(body["rooms"]["join"][room]["timeline"]["limited"], json!(true), "{body}");
                let batch = timeline(&body, room);
                seen.borrow_mut().extend(batch.iter().filter(|e| e["type"] == "m.room.message").map(|e| event_id(e)));
            }
            since = next_batch(&body);
        }
    };
    let (sent, ()) = futures_util::join!(sends, read);
    let mut sent: Vec<String> = sent.into_iter().flatten().collect();
    let mut seen = seen.into_inner();
    assert_unique(&seen);
    sent.sort();
    seen.sort();
    assert_eq!(seen, sent, "incremental syncs missed or invented events");
}

/// A long-poll sent with the token the last answer gave parks at the notifier without reading
/// the store; what the notifier cannot vouch for (news it holds, news it swept out, news from
/// before a restart) is read from the store and answered at once.
#[actix_rt::test]
async fn a_long_poll_parks_without_a_read_only_when_nothing_can_be_new() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    s.join(&bob, &room).await.ok();
    let parks = || s.server.services.sync_quiet_parks.load(Ordering::Relaxed);
    let timeline_of = |body: &Value| -> Vec<String> {
        timeline(body, &room).iter().filter_map(|e| e["content"]["body"].as_str().map(str::to_owned)).collect()
    };

    // Nothing new since the token: parked without a read, woken by the next message.
    let t0 = next_batch(&s.sync(&bob, None, 0).await);
    let before = parks();
    let (poll, sent) = tokio::join!(s.sync(&bob, Some(&t0), 10_000), async {
        eventually(10, || async { (parks() > before).then_some(()) }).await;
        s.send_text(&alice, &room, "wake up").await
    });
    assert!(!sent.is_empty());
    assert_eq!(timeline_of(&poll), vec!["wake up"], "{poll}");
    assert_eq!(parks(), before + 1);
    let t1 = next_batch(&poll);
    assert_not_behind(&t1, &t0);

    // News after the token, already known to the notifier: answered at once, no park.
    s.send_text(&alice, &room, "while away").await;
    let started = Instant::now();
    let poll = s.sync(&bob, Some(&t1), 10_000).await;
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert_eq!(timeline_of(&poll), vec!["while away"], "{poll}");
    assert_eq!(parks(), before + 1);
    let t2 = next_batch(&poll);

    // News the notifier swept out of its memory: still read from the store at once.
    s.send_text(&alice, &room, "then forgotten").await;
    let swept = s.server.services.notifier.send(ensemble::actors::notifier::Sweep { retain: Duration::ZERO }).await.unwrap();
    assert_eq!(swept.0, 0, "every user's positions were swept");
    let started = Instant::now();
    let poll = s.sync(&bob, Some(&t2), 10_000).await;
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert_eq!(timeline_of(&poll), vec!["then forgotten"], "{poll}");
    let t3 = next_batch(&poll);

    // News from before a restart: the new notifier knows nothing of it, and reads.
    s.send_text(&alice, &room, "before the restart").await;
    let s = s.restart().await;
    let started = Instant::now();
    let poll = s.sync(&bob, Some(&t3), 10_000).await;
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    let texts: Vec<String> = timeline(&poll, &room).iter().filter_map(|e| e["content"]["body"].as_str().map(str::to_owned)).collect();
    assert_eq!(texts, vec!["before the restart"], "{poll}");

    // And with nothing new, the timeout answers with the key counts a client tops up from.
    let t4 = next_batch(&poll);
    let before = s.server.services.sync_quiet_parks.load(Ordering::Relaxed);
    let idle = long_poll_waits(&s, &bob, &t4, 1500).await;
    assert_eq!(s.server.services.sync_quiet_parks.load(Ordering::Relaxed), before + 1);
    assert_eq!(idle["device_one_time_keys_count"]["signed_curve25519"], 0, "{idle}");
}
