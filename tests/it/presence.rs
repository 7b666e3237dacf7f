//! Presence: set and read, delivered to room-mates in sync, set by syncs themselves, hidden from
//! strangers, switched off by config.

use crate::common::*;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn presence_of(sync: &Value, user: &str) -> Option<Value> {
    sync["presence"]["events"].as_array()?.iter().find(|e| e["sender"] == user).map(|e| e["content"].clone())
}

fn status(user: &User) -> String {
    format!("/_matrix/client/v3/presence/{}/status", enc(&user.user_id))
}

#[actix_rt::test]
async fn presence_reaches_room_mates() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let carol = s.register_user("carol").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    s.join(&bob, &room).await.ok();
    let tb = next_batch(&s.get("/_matrix/client/v3/sync?set_presence=offline", &bob.token).await.ok());

    let started = Instant::now();
    let long_poll = format!("/_matrix/client/v3/sync?since={tb}&timeout=20000&set_presence=offline");
    let waiting = s.get(&long_poll, &bob.token);
    let set = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        s.put(&status(&alice), &alice.token, json!({"presence": "online", "status_msg": "busy"})).await.ok();
    };
    let (woken, ()) = tokio::join!(waiting, set);
    let woken = woken.ok();
    assert!(started.elapsed() < Duration::from_secs(10), "woke after {:?}", started.elapsed());
    let p = presence_of(&woken, &alice.user_id).expect("alice's presence");
    assert_eq!(
        (p["presence"].as_str(), p["status_msg"].as_str(), p["currently_active"].as_bool()),
        (Some("online"), Some("busy"), Some(true))
    );

    let seen = s.get(&status(&alice), &bob.token).await.ok();
    assert_eq!(seen["presence"], "online");
    assert_eq!(seen["status_msg"], "busy");
    assert!(seen["last_active_ago"].as_i64().unwrap() < 60_000);
    s.get(&status(&alice), &carol.token).await.err(403, "M_FORBIDDEN");
    assert_eq!(s.get(&status(&carol), &carol.token).await.ok(), json!({"presence": "offline"}), "never set");

    s.put(&status(&alice), &alice.token, json!({"presence": "unavailable"})).await.ok();
    let away = s.get(&format!("/_matrix/client/v3/sync?since={}&set_presence=offline", next_batch(&woken)), &bob.token).await.ok();
    let p = presence_of(&away, &alice.user_id).expect("changed");
    // As in Synapse, a PUT without status_msg clears it; a sync's set_presence keeps it.
    assert_eq!((p["presence"].as_str(), p["status_msg"].as_str()), (Some("unavailable"), None));

    // Alice's own sync (set_presence defaults to online) brings her back online.
    s.sync(&alice, None, 0).await;
    let back = s.get(&format!("/_matrix/client/v3/sync?since={}&set_presence=offline", next_batch(&away)), &bob.token).await.ok();
    assert_eq!(presence_of(&back, &alice.user_id).expect("changed")["presence"], "online");
    // Carol shares no room with Alice and hears nothing.
    assert_eq!(presence_of(&s.sync(&carol, None, 0).await, &alice.user_id), None);
}

#[actix_rt::test]
async fn bad_presence_requests() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    s.put(&status(&bob), &alice.token, json!({"presence": "online"})).await.err(403, "M_FORBIDDEN");
    s.put(&status(&alice), &alice.token, json!({})).await.err(400, "M_MISSING_PARAM");
    s.put(&status(&alice), &alice.token, json!({"presence": "asleep"})).await.err(400, "M_INVALID_PARAM");
    s.put(&status(&alice), &alice.token, json!({"presence": "online", "status_msg": 3})).await.err(400, "M_BAD_JSON");
    s.get("/_matrix/client/v3/presence/%40nobody%3Atest.local/status", &alice.token).await.err(404, "M_NOT_FOUND");
    s.get("/_matrix/client/v3/presence/nobody/status", &alice.token).await.err(400, "M_INVALID_PARAM");
    s.req("GET", &status(&alice), None, None).await.err(401, "M_MISSING_TOKEN");
    s.get("/_matrix/client/v3/sync?set_presence=asleep", &alice.token).await.err(400, "M_INVALID_PARAM");
}

#[actix_rt::test]
async fn presence_can_be_switched_off() {
    let dir = tempfile::tempdir().unwrap();
    let config = ensemble::Config { presence_enabled: false, ..test_config(dir.path()) };
    let s = TestServer::start_with(dir, config).await;
    let alice = s.register_user("alice").await;
    s.put(&status(&alice), &alice.token, json!({"presence": "online"})).await.ok();
    assert_eq!(s.get(&status(&alice), &alice.token).await.ok(), json!({"presence": "offline"}));
    assert_eq!(s.sync(&alice, None, 0).await["presence"]["events"], json!([]));
}
