//! Actor lifecycle: idle room actors are passivated and come back with their state, one actor per
//! room however many activate it at once, a deactivation beats a racing join, a room actor answers a
//! retried transaction ID it no longer remembers with the same event (also for a device with more
//! stored transaction IDs than it keeps), one duplicate never fails a batch, expired transaction IDs are deleted, concurrent requests with one transaction ID make one event, and a stopped server leaves no loops or actors running.

use crate::common::*;
use ensemble::actors::room::{GetMember, SendEvent};
use ensemble::events::EventDraft;
use ensemble::store::events::TxnKey;
use futures_util::future::join_all;
use serde_json::json;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// The key `PUT /rooms/{room}/send/m.room.message/{txn}` stores for this user's device.
fn send_key(user: &User, room: &str, txn: &str) -> TxnKey {
    TxnKey {
        user_id: user.user_id.clone(),
        device_id: user.device_id.clone(),
        txn_id: format!("send/{room}/m.room.message{}{txn}", ensemble::store::events::TXN_SCOPE_SEP),
    }
}

fn message(user: &User, body: &str, txn: Option<TxnKey>) -> SendEvent {
    let sender = ensemble::ids::parse_user_id(&user.user_id).expect("user ID");
    let draft = EventDraft::message("m.room.message", json!({"msgtype": "m.text", "body": body}));
    SendEvent { txn, ..SendEvent::new(sender, draft) }
}

fn room_id(room: &str) -> ruma::OwnedRoomId {
    ruma::RoomId::parse(room).expect("room ID")
}

async fn live_membership(svc: &Arc<ensemble::Services>, room: &str, user: &str) -> String {
    svc.send_to_room(&room_id(room), GetMember { user: ensemble::ids::parse_user_id(user).expect("user ID"), state_type: None })
        .await
        .expect("room actor")
        .expect("member")
        .membership
}

async fn messages_with_body(s: &TestServer, user: &User, room: &str, body: &str) -> usize {
    let page = s.get(&format!("{V3}/rooms/{}/messages?dir=b&limit=100", enc(room)), &user.token).await.ok();
    page["chunk"].as_array().expect("chunk").iter().filter(|e| e["content"]["body"] == body).count()
}

#[actix_rt::test]
async fn a_join_racing_a_deactivation_never_leaves_the_user_joined() {
    let s = TestServer::start().await;
    let admin = s.register_admin("admin").await;
    let room = s.create_room(&admin, json!({"preset": "public_chat"})).await;
    // Rooms the racers are in already, so leaving them takes a while.
    let mut others = Vec::new();
    for _ in 0..4 {
        others.push(s.create_room(&admin, json!({"preset": "public_chat"})).await);
    }
    let svc = s.server.services.clone();
    for i in 0..6u64 {
        let user = s.register_user(&format!("racer{i}")).await;
        for r in &others {
            s.join(&user, r).await.ok();
        }
        let join = async {
            tokio::time::sleep(Duration::from_millis(i)).await;
            s.join(&user, &room).await
        };
        let deactivate = async {
            s.post(&format!("/_synapse/admin/v1/deactivate/{}", enc(&user.user_id)), &admin.token, json!({"erase": false})).await.ok()
        };
        let (joined, _) = futures_util::join!(join, deactivate);
        assert!(matches!(joined.status, 200 | 401 | 403), "join answered {} {}", joined.status, joined.body);
        // Whichever came first, the account ends outside the room, in the live state and the store.
        let (svc, room, id) = (&svc, &room, &user.user_id);
        eventually(5, || async move {
            let live = live_membership(svc, room, id).await;
            let (r, u) = (room.clone(), id.clone());
            let stored = svc.db.run(move |c| ensemble::store::memberships::membership(c, &r, &u)).await.expect("store");
            (live != "join" && stored.is_none_or(|m| m.membership != "join")).then_some(())
        })
        .await;
        // And it cannot come back.
        s.join(&user, room).await.err(401, "M_UNKNOWN_TOKEN");
    }
}

#[actix_rt::test]
async fn a_retried_transaction_the_room_forgot_answers_the_same_event() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config(dir.path());
    cfg.actor_idle_secs = 1;
    let s = TestServer::start_with(dir, cfg).await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({})).await;
    let path = format!("{V3}/rooms/{}/send/m.room.message/retry-1", enc(&room));
    let first = s.put(&path, &alice.token, json!({"msgtype": "m.text", "body": "once"})).await.ok()["event_id"].clone();
    // The retry reaches a room actor that does not remember the transaction (passivated here).
    let svc = s.server.services.clone();
    eventually(10, || async { (svc.directory.active_rooms() == 0).then_some(()) }).await;
    // Another send first, so the retry meets a room that has read the device's keys.
    s.send_text(&alice, &room, "in between").await;
    let again = svc.send_to_room(&room_id(&room), message(&alice, "once", Some(send_key(&alice, &room, "retry-1")))).await;
    assert_eq!(json!(again.expect("room actor").expect("send")), first);
    // Through HTTP too, and the room holds the message once.
    assert_eq!(s.put(&path, &alice.token, json!({"msgtype": "m.text", "body": "once"})).await.ok()["event_id"], first);
    assert_eq!(messages_with_body(&s, &alice, &room, "once").await, 1);
}

#[actix_rt::test]
async fn a_duplicate_transaction_in_a_batch_does_not_stop_the_room() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({})).await;
    s.send_text(&alice, &room, "warm up").await;
    let svc = s.server.services.clone();
    let activations = svc.directory.room_activations.load(Ordering::Relaxed);

    // A transaction ID already stored that the actor does not know of (as after a restart),
    // sent while other events of the room are being accepted.
    let key = send_key(&alice, &room, "dup");
    let k = key.clone();
    let r = room.clone();
    svc.db
        .run(move |c| {
            use diesel::prelude::*;
            use ensemble::store::schema::txn_ids;
            diesel::insert_into(txn_ids::table)
                .values((
                    txn_ids::user_id.eq(&k.user_id),
                    txn_ids::device_id.eq(&k.device_id),
                    txn_ids::txn_id.eq(&k.txn_id),
                    txn_ids::room_id.eq(&r),
                    txn_ids::event_id.eq("$first-holder"),
                ))
                .execute(c)?;
            Ok(())
        })
        .await
        .expect("insert txn");
    let rid = room_id(&room);
    let dup = svc.send_to_room(&rid, message(&alice, "dup", Some(key)));
    let texts: Vec<String> = (0..5).map(|i| format!("beside {i}")).collect();
    let others = futures_util::future::join_all(texts.iter().map(|t| s.send_text_resp(&alice, &room, t)));
    let (dup, others) = futures_util::join!(dup, others);
    assert_eq!(dup.expect("room actor").expect("the duplicate is answered"), "$first-holder");
    for r in others {
        r.ok();
    }
    // The same actor carries on.
    s.send_text(&alice, &room, "still here").await;
    assert_eq!(svc.directory.room_activations.load(Ordering::Relaxed), activations, "the room actor stopped");
}

/// A device whose stored transaction IDs are too many to keep in the room actor is looked up
/// at each send: its old keys still answer with their events, its new ones make events.
#[actix_rt::test]
async fn a_device_with_many_stored_transaction_ids_is_looked_up_per_send() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config(dir.path());
    cfg.actor_idle_secs = 1;
    let s = TestServer::start_with(dir, cfg).await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({})).await;
    let first = s.send_text(&alice, &room, "first").await;
    let svc = s.server.services.clone();
    // Passivated, so the next send reads the device's keys again: now more than it keeps.
    eventually(10, || async { (svc.directory.active_rooms() == 0).then_some(()) }).await;
    let kept = send_key(&alice, &room, "kept");
    let (k, r, f) = (kept.clone(), room.clone(), first.clone());
    svc.db
        .run(move |c| {
            use diesel::prelude::*;
            use ensemble::store::schema::txn_ids;
            let mut rows: Vec<(String, String, String)> =
                (0..4_000).map(|n| (format!("elsewhere-{n}"), "!elsewhere:localhost".to_owned(), format!("$elsewhere-{n}"))).collect();
            rows.push((k.txn_id.clone(), r.clone(), f.clone()));
            c.transaction::<_, diesel::result::Error, _>(|c| {
                for (txn, room, event) in &rows {
                    diesel::insert_into(txn_ids::table)
                        .values((
                            txn_ids::user_id.eq(&k.user_id),
                            txn_ids::device_id.eq(&k.device_id),
                            txn_ids::txn_id.eq(txn),
                            txn_ids::room_id.eq(room),
                            txn_ids::event_id.eq(event),
                        ))
                        .execute(c)?;
                }
                Ok(())
            })?;
            Ok(())
        })
        .await
        .expect("insert txns");
    let rid = room_id(&room);
    // The first send reads the device's keys; the retry after it finds them too many to keep.
    let new = svc.send_to_room(&rid, message(&alice, "new", Some(send_key(&alice, &room, "new")))).await;
    assert_ne!(new.expect("room actor").expect("send").as_str(), first);
    let again = svc.send_to_room(&rid, message(&alice, "kept", Some(kept))).await;
    assert_eq!(again.expect("room actor").expect("send").as_str(), first, "the stored key answers its event");
    assert_eq!(messages_with_body(&s, &alice, &room, "kept").await, 0);
    assert_eq!(messages_with_body(&s, &alice, &room, "new").await, 1);
}

/// Transaction IDs expire after a day, as Synapse's do: once deleted, a retry of an expired one
/// is a new send, while a younger one still answers with its event.
#[actix_rt::test]
async fn expired_transaction_ids_are_deleted_and_younger_ones_kept() {
    use ensemble::store::events::{TXN_ID_LIFETIME_MS, prune_txn_ids};
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config(dir.path());
    cfg.actor_idle_secs = 1;
    let s = TestServer::start_with(dir, cfg).await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({})).await;
    let path = |txn: &str| format!("{V3}/rooms/{}/send/m.room.message/{txn}", enc(&room));
    let body = |b: &str| json!({"msgtype": "m.text", "body": b});
    let old = s.put(&path("old"), &alice.token, body("old")).await.ok()["event_id"].clone();
    let young = s.put(&path("young"), &alice.token, body("young")).await.ok()["event_id"].clone();
    let svc = s.server.services.clone();
    // The first key as if taken more than a day ago.
    let aged = send_key(&alice, &room, "old");
    let n = svc
        .db
        .run(move |c| {
            use diesel::prelude::*;
            use ensemble::store::schema::txn_ids;
            let key = txn_ids::table.find((&aged.user_id, &aged.device_id, &aged.txn_id));
            let n = match c {
                ensemble::store::Conn::Sqlite(c) => {
                    diesel::update(key).set(txn_ids::ts.eq(txn_ids::ts - TXN_ID_LIFETIME_MS - 1)).execute(c)?
                }
                ensemble::store::Conn::Pg(c) => diesel::update(key).set(txn_ids::ts.eq(txn_ids::ts - TXN_ID_LIFETIME_MS - 1)).execute(c)?,
            };
            Ok(n)
        })
        .await
        .expect("age the key");
    assert_eq!(n, 1, "the stored key was not found");
    let cutoff = ensemble::ids::now_ms() - TXN_ID_LIFETIME_MS;
    assert_eq!(svc.db.run(move |c| prune_txn_ids(c, cutoff)).await.expect("prune"), 1, "only the expired key goes");
    assert_eq!(svc.db.run(move |c| prune_txn_ids(c, cutoff)).await.expect("prune again"), 0);
    // Passivated, so the room actor no longer remembers either key.
    eventually(10, || async { (svc.directory.active_rooms() == 0).then_some(()) }).await;
    assert_eq!(s.put(&path("young"), &alice.token, body("young")).await.ok()["event_id"], young);
    let again = s.put(&path("old"), &alice.token, body("old")).await.ok()["event_id"].clone();
    assert!(again.is_string() && again != old, "an expired key makes a new event: {again} {old}");
    assert_eq!(messages_with_body(&s, &alice, &room, "old").await, 2);
    assert_eq!(messages_with_body(&s, &alice, &room, "young").await, 1);
}

#[actix_rt::test]
async fn concurrent_requests_with_one_transaction_id_make_one_event() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({})).await;
    let path = format!("{V3}/rooms/{}/send/m.room.message/same", enc(&room));
    let body = json!({"msgtype": "m.text", "body": "only once"});
    let sends = (0..8).map(|_| s.put(&path, &alice.token, body.clone()));
    let ids: Vec<serde_json::Value> = futures_util::future::join_all(sends).await.into_iter().map(|r| r.ok()["event_id"].clone()).collect();
    assert!(ids[0].is_string());
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    assert_eq!(messages_with_body(&s, &alice, &room, "only once").await, 1);
    // Another device of the same user may use the same transaction ID for its own event.
    let other = login_on(&s, "alice", "pw-alice-secret", "SECOND").await;
    let theirs = s.put(&path, &other, body.clone()).await.ok()["event_id"].clone();
    assert_ne!(theirs, ids[0]);
    assert_eq!(messages_with_body(&s, &alice, &room, "only once").await, 2);
}

#[actix_rt::test]
async fn a_stopped_server_leaves_nothing_running() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({})).await;
    let svc = s.server.services.clone();
    let TestServer { server, dir, .. } = s;
    server.stop().await;

    // The room actors' arbiters are gone: no actor of the old server answers.
    let (svc2, r, u) = (svc.clone(), room.clone(), alice.user_id.clone());
    eventually(5, || {
        let (svc, r, u) = (svc2.clone(), r.clone(), u.clone());
        async move {
            svc.send_to_room(&room_id(&r), GetMember { user: ensemble::ids::parse_user_id(&u).expect("user ID"), state_type: None })
                .await
                .is_err()
                .then_some(())
        }
    })
    .await;

    // The client IP flush loop (every 2 s) is gone: a sighting noted now is never written.
    let seen = ensemble::store::client_ips::Seen {
        user_id: alice.user_id.clone(),
        device_id: alice.device_id.clone(),
        ip: "127.0.0.9".into(),
        user_agent: "after-stop".into(),
    };
    svc.client_ips.note(seen, 1);
    tokio::time::sleep(Duration::from_millis(2600)).await;
    let u = alice.user_id.clone();
    let rows = svc.db.run(move |c| ensemble::store::client_ips::connections(c, &u)).await.expect("store");
    assert!(rows.iter().all(|(_, ip, _, _)| ip != "127.0.0.9"), "the old server's flush loop still writes: {rows:?}");
    drop(dir);
}

#[actix_rt::test]
async fn idle_room_actors_are_passivated_and_reactivated_with_their_state() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config(dir.path());
    cfg.actor_idle_secs = 1;
    let s = TestServer::start_with(dir, cfg).await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = s.create_room(&alice, json!({"preset": "private_chat", "name": "sleepy"})).await;
    let first = s.send_text(&alice, &room, "before the nap").await;
    assert!(s.server.services.directory.active_rooms() >= 1);

    // Idle for a second: the directory forgets the room's actor.
    let dirx = &s.server.services.directory;
    eventually(10, || async { (dirx.active_rooms() == 0).then_some(()) }).await;

    // The re-activated actor still knows the room's state: bob, never invited, is refused...
    s.join(&bob, &room).await.err(403, "M_FORBIDDEN");
    // ...and after an invite he can join and talk, with events ordered after the old ones.
    s.invite(&alice, &room, &bob.user_id).await.ok();
    s.join(&bob, &room).await.ok();
    let second = s.send_text(&bob, &room, "after the nap").await;
    let page = s.get(&format!("/_matrix/client/v3/rooms/{}/messages?dir=f&limit=100", enc(&room)), &alice.token).await.ok();
    let ids: Vec<&str> = page["chunk"].as_array().unwrap().iter().map(|e| e["event_id"].as_str().unwrap()).collect();
    let (a, b) = (ids.iter().position(|i| *i == first).unwrap(), ids.iter().position(|i| *i == second).unwrap());
    assert!(a < b);
    // The new events chain onto the old ones (prev_events continue the room's history).
    let name = s.get(&format!("/_matrix/client/v3/rooms/{}/state/m.room.name/", enc(&room)), &bob.token).await.ok();
    assert_eq!(name["name"], "sleepy");
}

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
