//! Send-to-device messages: delivery in the recipient device's sync, acknowledgement by the next
//! token, idempotent transaction IDs, `*` for every device, long-poll wake-ups, bad input.

use crate::common::*;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn events(sync: &Value) -> Vec<Value> {
    sync["to_device"]["events"].as_array().cloned().unwrap_or_default()
}

#[actix_rt::test]
async fn messages_reach_the_device_once_acknowledged() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let t0 = s.sync(&bob, None, 0).await["next_batch"].as_str().unwrap().to_owned();

    let path = "/_matrix/client/v3/sendToDevice/m.room_key_request/txn1";
    let body = json!({"messages": {&bob.user_id: {&bob.device_id: {"action": "request", "n": 1}}}});
    s.put(path, &alice.token, body.clone()).await.ok();
    // The same transaction again delivers nothing more.
    s.put(path, &alice.token, body).await.ok();

    let first = s.sync(&bob, Some(&t0), 0).await;
    assert_eq!(
        events(&first),
        vec![json!({"sender": alice.user_id, "type": "m.room_key_request", "content": {"action": "request", "n": 1}})]
    );
    // Until a newer token is presented the message is delivered again (the client may not have
    // received the response).
    assert_eq!(events(&s.sync(&bob, Some(&t0), 0).await).len(), 1);
    let t1 = first["next_batch"].as_str().unwrap().to_owned();
    assert_eq!(events(&s.sync(&bob, Some(&t1), 0).await), Vec::<Value>::new(), "acknowledged by t1");
    assert_eq!(events(&s.sync(&bob, Some(&t0), 0).await), Vec::<Value>::new(), "and deleted");
    // Alice's own device got nothing.
    assert_eq!(events(&s.sync(&alice, None, 0).await), Vec::<Value>::new());
}

#[actix_rt::test]
async fn star_reaches_every_device_and_long_polls_wake() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let alice2 = new_device(&s, &alice).await;
    let bob = s.register_user("bob").await;
    let a1 = s.sync(&alice, None, 0).await["next_batch"].as_str().unwrap().to_owned();
    let a2 = s.sync(&alice2, None, 0).await["next_batch"].as_str().unwrap().to_owned();

    let started = Instant::now();
    let waiting = s.sync(&alice2, Some(&a2), 20_000);
    let send = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let body = json!({"messages": {&alice.user_id: {"*": {"hello": "all"}}}});
        s.put("/_matrix/client/v3/sendToDevice/m.test/t1", &bob.token, body).await.ok();
    };
    let (woken, ()) = tokio::join!(waiting, send);
    assert!(started.elapsed() < Duration::from_secs(10), "the long poll woke: {:?}", started.elapsed());
    assert_eq!(events(&woken)[0]["content"], json!({"hello": "all"}));
    assert_eq!(events(&s.sync(&alice, Some(&a1), 0).await)[0]["sender"], bob.user_id.as_str());
}

#[actix_rt::test]
async fn many_messages_come_in_batches_of_a_hundred() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let mut msgs = serde_json::Map::new();
    let mut token = s.sync(&bob, None, 0).await["next_batch"].as_str().unwrap().to_owned();
    for i in 0..150 {
        msgs.insert(bob.device_id.clone(), json!({"i": i}));
        s.put(&format!("/_matrix/client/v3/sendToDevice/m.test/t{i}"), &alice.token, json!({"messages": {&bob.user_id: msgs}})).await.ok();
    }
    let mut seen = Vec::new();
    for _ in 0..3 {
        let sync = s.sync(&bob, Some(&token), 0).await;
        seen.extend(events(&sync).iter().map(|e| e["content"]["i"].as_i64().unwrap()));
        token = sync["next_batch"].as_str().unwrap().to_owned();
    }
    assert_eq!(seen, (0..150).collect::<Vec<_>>(), "in order, each once");
}

#[actix_rt::test]
async fn bad_send_to_device_requests() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let path = "/_matrix/client/v3/sendToDevice/m.test/t";
    s.put(path, &alice.token, json!({})).await.err(400, "M_MISSING_PARAM");
    s.put(path, &alice.token, json!({"messages": []})).await.err(400, "M_BAD_JSON");
    s.put(path, &alice.token, json!({"messages": {"not-a-user": {"D": {}}}})).await.err(400, "M_INVALID_PARAM");
    s.put(path, &alice.token, json!({"messages": {&alice.user_id: ["D"]}})).await.err(400, "M_BAD_JSON");
    s.put(path, &alice.token, json!({"messages": {&alice.user_id: {"D": "text"}}})).await.err(400, "M_BAD_JSON");
    s.raw("PUT", path, Some(&alice.token), b"{".to_vec()).await.err(400, "M_NOT_JSON");
    s.req("PUT", path, None, Some(json!({"messages": {}}))).await.err(401, "M_MISSING_TOKEN");
    s.req("POST", path, Some(&alice.token), Some(json!({"messages": {}}))).await.err(405, "M_UNRECOGNIZED");
    // A sync token from before the to-device stream existed still works.
    let old = s.get("/_matrix/client/v3/sync?since=s1_0&timeout=0", &alice.token).await.ok();
    assert!(old["next_batch"].as_str().unwrap().starts_with('s'), "{old}");
}
