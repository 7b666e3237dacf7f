//! Sending messages: transaction IDs idempotent per device and scoped per endpoint and room, and
//! concurrent sends all stored once, in stream order, as `/messages` pages them both ways.

use crate::common::*;
use futures_util::future::join_all;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};

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
    let User { token: token2, device_id: device2, .. } = new_device(&s, &alice).await;
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

#[actix_rt::test]
async fn txn_ids_are_scoped_per_endpoint() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({})).await;
    let msg = event_id(&send_txn(&s, &alice.token, &room, "shared", "to be redacted").await.ok());
    // The spec scopes a transaction ID to one device and one HTTP endpoint: this is a new request.
    let r = s.put(&format!("{V3}/rooms/{}/redact/{}/shared", enc(&room), enc(&msg)), &alice.token, json!({"reason": "oops"})).await.ok();
    let redaction = event_id(&r);
    assert_ne!(redaction, msg, "the redaction was answered with the redacted message's own event ID");
    let ev = s.get(&format!("{V3}/rooms/{}/event/{}", enc(&room), enc(&redaction)), &alice.token).await.ok();
    assert_eq!(ev["type"], "m.room.redaction", "{ev}");
    let target = s.get(&format!("{V3}/rooms/{}/event/{}", enc(&room), enc(&msg)), &alice.token).await.ok();
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
    let ev = s.get(&format!("{V3}/rooms/{}/event/{}", enc(&second), enc(&b)), &alice.token).await.ok();
    assert_eq!(ev["room_id"], second.as_str());
    assert_eq!(ev["content"]["body"], "second room");
}
