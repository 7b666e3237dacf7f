//! Read receipts and read markers: delivery to room members through sync's ephemeral section,
//! private receipts, receipts that never move backwards, threads, `m.fully_read`, bad input.

use crate::common::*;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn ephemeral(sync: &Value, room: &str) -> Vec<Value> {
    sync["rooms"]["join"][room]["ephemeral"]["events"].as_array().cloned().unwrap_or_default()
}

#[actix_rt::test]
async fn receipts_reach_room_members() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    s.join(&bob, &room).await.ok();
    let e1 = s.send_text(&alice, &room, "one").await;
    let e2 = s.send_text(&alice, &room, "two").await;
    let ta = next_batch(&s.sync(&alice, None, 0).await);
    let receipt = |kind: &str, event: &str| format!("/_matrix/client/v3/rooms/{}/receipt/{kind}/{}", enc(&room), enc(event));

    // Alice's long poll wakes when Bob's receipt arrives.
    let started = Instant::now();
    let waiting = s.sync(&alice, Some(&ta), 20_000);
    let send = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        s.post(&receipt("m.read", &e2), &bob.token, json!({})).await.ok();
    };
    let (woken, ()) = tokio::join!(waiting, send);
    assert!(started.elapsed() < Duration::from_secs(10), "woke after {:?}", started.elapsed());
    let eph = ephemeral(&woken, &room);
    assert_eq!(eph.len(), 1, "{woken}");
    assert_eq!(eph[0]["type"], "m.receipt");
    assert!(eph[0]["content"][&e2]["m.read"][&bob.user_id]["ts"].is_i64(), "{eph:?}");
    let ta = next_batch(&woken);

    // A receipt for an earlier event changes nothing; a private one is Bob's alone.
    s.post(&receipt("m.read", &e1), &bob.token, json!({})).await.ok();
    s.post(&receipt("m.read.private", &e2), &bob.token, json!({})).await.ok();
    let quiet = s.sync(&alice, Some(&ta), 0).await;
    assert_eq!(ephemeral(&quiet, &room), Vec::<Value>::new(), "{quiet}");
    let bob_sees = s.sync(&bob, None, 0).await;
    let eph = &ephemeral(&bob_sees, &room)[0]["content"][&e2];
    assert!(eph["m.read"][&bob.user_id].is_object() && eph["m.read.private"][&bob.user_id].is_object(), "{bob_sees}");

    // Threaded receipts carry their thread; a newcomer's initial sync has the current receipts.
    s.post(&receipt("m.read", &e2), &alice.token, json!({"thread_id": "main"})).await.ok();
    let carol = s.register_user("carol").await;
    s.join(&carol, &room).await.ok();
    let initial = s.sync(&carol, None, 0).await;
    let content = &ephemeral(&initial, &room)[0]["content"][&e2];
    assert_eq!(content["m.read"][&alice.user_id]["thread_id"], "main", "{initial}");
    assert!(content["m.read"][&bob.user_id].is_object());
    assert!(content.get("m.read.private").is_none(), "private receipts stay private: {content}");
}

#[actix_rt::test]
async fn read_markers_set_fully_read_and_the_read_receipt() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({})).await;
    let e = s.send_text(&alice, &room, "hello").await;
    s.post(&format!("/_matrix/client/v3/rooms/{}/read_markers", enc(&room)), &alice.token, json!({"m.fully_read": e, "m.read": e}))
        .await
        .ok();
    let marker = s
        .get(&format!("/_matrix/client/v3/user/{}/rooms/{}/account_data/m.fully_read", enc(&alice.user_id), enc(&room)), &alice.token)
        .await
        .ok();
    assert_eq!(marker, json!({"event_id": e}));
    let sync = s.sync(&alice, None, 0).await;
    assert!(ephemeral(&sync, &room)[0]["content"][&e]["m.read"][&alice.user_id].is_object(), "{sync}");
    // The receipt endpoint takes m.fully_read too.
    let e2 = s.send_text(&alice, &room, "again").await;
    s.post(&format!("/_matrix/client/v3/rooms/{}/receipt/m.fully_read/{}", enc(&room), enc(&e2)), &alice.token, json!({})).await.ok();
    let marker = s
        .get(&format!("/_matrix/client/v3/user/{}/rooms/{}/account_data/m.fully_read", enc(&alice.user_id), enc(&room)), &alice.token)
        .await
        .ok();
    assert_eq!(marker, json!({"event_id": e2}));
}

#[actix_rt::test]
async fn bad_receipts() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let carol = s.register_user("carol").await;
    let room = s.create_room(&alice, json!({})).await;
    let other = s.create_room(&alice, json!({})).await;
    let e = s.send_text(&alice, &room, "hello").await;
    let elsewhere = s.send_text(&alice, &other, "elsewhere").await;
    let path = |kind: &str, event: &str| format!("/_matrix/client/v3/rooms/{}/receipt/{kind}/{}", enc(&room), enc(event));

    s.post(&path("m.read", &e), &carol.token, json!({})).await.err(403, "M_FORBIDDEN");
    s.post(&path("m.read", "$nope"), &alice.token, json!({})).await.err(404, "M_NOT_FOUND");
    s.post(&path("m.read", &elsewhere), &alice.token, json!({})).await.err(404, "M_NOT_FOUND");
    s.post(&path("m.seen", &e), &alice.token, json!({})).await.err(400, "M_INVALID_PARAM");
    s.post(&path("m.fully_read", &e), &alice.token, json!({"thread_id": "main"})).await.err(400, "M_INVALID_PARAM");
    s.post(&path("m.read", &e), &alice.token, json!({"thread_id": 5})).await.err(400, "M_BAD_JSON");
    s.post(&format!("/_matrix/client/v3/rooms/not-a-room/receipt/m.read/{}", enc(&e)), &alice.token, json!({}))
        .await
        .err(400, "M_INVALID_PARAM");
    s.req("POST", &path("m.read", &e), None, Some(json!({}))).await.err(401, "M_MISSING_TOKEN");
    s.req("GET", &path("m.read", &e), Some(&alice.token), None).await.err(405, "M_UNRECOGNIZED");
    let markers = format!("/_matrix/client/v3/rooms/{}/read_markers", enc(&room));
    s.raw("POST", &markers, Some(&alice.token), b"{".to_vec()).await.err(400, "M_NOT_JSON");
    s.post(&markers, &alice.token, json!({"m.read": 1})).await.err(400, "M_BAD_JSON");
    s.post(&markers, &carol.token, json!({"m.read": e})).await.err(403, "M_FORBIDDEN");
}
