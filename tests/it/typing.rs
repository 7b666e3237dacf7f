//! Typing notifications: delivered to room members in sync's ephemeral section, woken long polls,
//! stopping, expiry after the timeout, timeouts capped, bad input.

use crate::common::*;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn typing_users(sync: &Value, room: &str) -> Option<Value> {
    sync["rooms"]["join"][room]["ephemeral"]["events"]
        .as_array()?
        .iter()
        .find(|e| e["type"] == "m.typing")
        .map(|e| e["content"]["user_ids"].clone())
}

#[actix_rt::test]
async fn typing_timeouts_are_capped_not_refused_and_junk_is_bad_json() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({})).await;
    let path = room_path(&room, &format!("typing/{}", enc(&alice.user_id)));
    s.put(&path, &alice.token, json!({"typing": true, "timeout": 9_007_199_254_740_991_i64})).await.ok();
    s.put(&path, &alice.token, json!({"typing": true, "timeout": 1e300})).await.err(400, "M_BAD_JSON");
    s.put(&path, &alice.token, json!({"typing": true, "timeout": "30000"})).await.err(400, "M_BAD_JSON");
    s.put(&path, &alice.token, json!({"typing": false})).await.ok();
}

#[actix_rt::test]
async fn typing_reaches_members_stops_and_expires() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    s.join(&bob, &room).await.ok();
    let path = format!("/_matrix/client/v3/rooms/{}/typing/{}", enc(&room), enc(&alice.user_id));
    let tb = next_batch(&s.sync(&bob, None, 0).await);

    let started = Instant::now();
    let waiting = s.sync(&bob, Some(&tb), 20_000);
    let start_typing = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        s.put(&path, &alice.token, json!({"typing": true, "timeout": 30000})).await.ok();
    };
    let (woken, ()) = tokio::join!(waiting, start_typing);
    assert!(started.elapsed() < Duration::from_secs(10), "woke after {:?}", started.elapsed());
    assert_eq!(typing_users(&woken, &room), Some(json!([alice.user_id])), "{woken}");

    s.put(&path, &alice.token, json!({"typing": false})).await.ok();
    let stopped = s.sync(&bob, Some(&next_batch(&woken)), 0).await;
    assert_eq!(typing_users(&stopped, &room), Some(json!([])), "{stopped}");

    // A short timeout expires by itself and wakes the waiting sync.
    s.put(&path, &alice.token, json!({"typing": true, "timeout": 500})).await.ok();
    let shown = s.sync(&bob, Some(&next_batch(&stopped)), 0).await;
    assert_eq!(typing_users(&shown, &room), Some(json!([alice.user_id])));
    let started = Instant::now();
    let expired = s.sync(&bob, Some(&next_batch(&shown)), 20_000).await;
    assert!(started.elapsed() < Duration::from_secs(10), "expiry woke the sync after {:?}", started.elapsed());
    assert_eq!(typing_users(&expired, &room), Some(json!([])), "{expired}");
}

#[actix_rt::test]
async fn bad_typing_requests() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let carol = s.register_user("carol").await;
    let room = s.create_room(&alice, json!({})).await;
    let path = |user: &str| format!("/_matrix/client/v3/rooms/{}/typing/{}", enc(&room), enc(user));
    s.put(&path(&alice.user_id), &carol.token, json!({"typing": true})).await.err(403, "M_FORBIDDEN");
    s.put(&path(&carol.user_id), &carol.token, json!({"typing": true})).await.err(403, "M_FORBIDDEN");
    s.put(
        &format!("/_matrix/client/v3/rooms/{}/typing/{}", enc("!nope:test.local"), enc(&alice.user_id)),
        &alice.token,
        json!({"typing": true}),
    )
    .await
    .err(403, "M_FORBIDDEN");
    s.put(&path(&alice.user_id), &alice.token, json!({})).await.err(400, "M_MISSING_PARAM");
    s.put(&path(&alice.user_id), &alice.token, json!({"typing": "yes"})).await.err(400, "M_BAD_JSON");
    s.put(&path(&alice.user_id), &alice.token, json!({"typing": true, "timeout": -1})).await.err(400, "M_BAD_JSON");
    s.put(&path("not-a-user"), &alice.token, json!({"typing": true})).await.err(400, "M_INVALID_PARAM");
    s.req("PUT", &path(&alice.user_id), None, Some(json!({"typing": true}))).await.err(401, "M_MISSING_TOKEN");
    s.req("GET", &path(&alice.user_id), Some(&alice.token), None).await.err(405, "M_UNRECOGNIZED");
}
