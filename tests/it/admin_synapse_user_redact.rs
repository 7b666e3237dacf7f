//! Synapse's redaction of a user's events (`POST v1/user/{user}/redact`, `redact_status`): a
//! job through the room actors whose effect shows in the client API, with Synapse 1.163's shapes
//! and errors, listed among the scheduled tasks.

use crate::common::*;
use serde_json::{Value, json};

fn redact_path(user: &str) -> String {
    sa(&format!("v1/user/{}/redact", enc(user)))
}

fn status_path(id: &str) -> String {
    sa(&format!("v1/user/redact_status/{}", enc(id)))
}

/// Starts a redaction; answers its ID.
async fn start(s: &TestServer, admin: &User, user: &str, body: Value) -> String {
    let r = apost(s, &admin.token, &redact_path(user), body).await.ok();
    r["redact_id"].as_str().expect("redact_id").to_owned()
}

/// Polls the redaction until it is no longer scheduled or active; answers its status object.
async fn finished(s: &TestServer, admin: &User, id: &str) -> Value {
    eventually(30, || async {
        let st = aget(s, &admin.token, &status_path(id)).await.ok();
        (st["status"] != "active" && st["status"] != "scheduled").then_some(st)
    })
    .await
}

async fn event(s: &TestServer, user: &User, room: &str, id: &str) -> Value {
    s.get(&room_path(room, &format!("event/{}", enc(id))), &user.token).await.ok()
}

#[actix_rt::test]
async fn redacts_the_users_events_in_all_their_rooms_and_nothing_else() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = public_room(&s, &bob, &[&alice]).await;
    let other = public_room(&s, &bob, &[&alice]).await;
    let a1 = s.send_text(&alice, &room, "spam one").await;
    let a2 = s.send_text(&alice, &other, "spam two").await;
    let b1 = s.send_text(&bob, &room, "fine").await;

    let id = start(&s, &admin, &alice.user_id, json!({"rooms": [], "reason": "spam"})).await;
    assert_eq!(finished(&s, &admin, &id).await, json!({"status": "complete", "failed_redactions": {}}));

    // The admin is in neither room, so, as in Synapse, the user's own redactions remove them.
    for (r, e) in [(&room, &a1), (&other, &a2)] {
        let ev = event(&s, &bob, r, e).await;
        assert_eq!(ev["content"], json!({}), "{ev}");
        let because = &ev["unsigned"]["redacted_because"];
        assert_eq!(because["sender"], alice.user_id.as_str(), "{ev}");
        assert_eq!(because["content"]["reason"], "spam", "{ev}");
    }
    assert_eq!(event(&s, &bob, &room, &b1).await["content"]["body"], "fine");
    let chunk = s.get(&room_path(&room, "messages?dir=b&limit=50"), &bob.token).await.ok()["chunk"].clone();
    let events = chunk.as_array().expect("chunk");
    let bodies: Vec<&str> = events.iter().filter_map(|e| e["content"]["body"].as_str()).collect();
    assert_eq!(bodies, vec!["fine"], "{chunk}");
    // Alice's join is redacted too; Bob's events are not.
    let alice_join = events.iter().find(|e| e["type"] == "m.room.member" && e["state_key"] == alice.user_id.as_str()).expect("join");
    assert!(alice_join["unsigned"]["redacted_because"].is_object(), "{alice_join}");
    assert!(events.iter().filter(|e| e["type"] == "m.room.redaction").all(|e| e["sender"] == alice.user_id.as_str()));
    assert!(events.iter().filter(|e| e["sender"] == bob.user_id.as_str()).all(|e| e["unsigned"]["redacted_because"].is_null()));

    // Listed among the scheduled tasks under Synapse's action name.
    let tasks = aget(&s, &admin.token, &sa("v1/scheduled_tasks?action_name=redact_all_events")).await.ok();
    let task = &tasks["scheduled_tasks"][0];
    assert_eq!(task["id"], id.as_str(), "{tasks}");
    assert_eq!(task["status"], "complete");
    assert_eq!(task["resource_id"], alice.user_id.as_str());
    assert_eq!(task["result"], json!({"failed_redactions": {}}));
}

#[actix_rt::test]
async fn use_admin_sends_as_the_admin_and_the_limit_takes_the_newest() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    let room = public_room(&s, &admin, &[&alice]).await;
    let old = s.send_text(&alice, &room, "old").await;
    let new = s.send_text(&alice, &room, "new").await;

    let id = start(&s, &admin, &alice.user_id, json!({"rooms": [room], "limit": 1, "use_admin": true})).await;
    assert_eq!(finished(&s, &admin, &id).await["status"], "complete");
    let ev = event(&s, &admin, &room, &new).await;
    assert_eq!(ev["content"], json!({}), "{ev}");
    assert_eq!(ev["unsigned"]["redacted_because"]["sender"], admin.user_id.as_str());
    assert_eq!(event(&s, &admin, &room, &old).await["content"]["body"], "old");
}

/// ketesa's "redact all events" before an erase: the admin has joined the room without the power
/// to redact others' events; as in Synapse the user's own redactions still remove theirs.
#[actix_rt::test]
async fn by_default_the_user_redacts_even_where_a_powerless_admin_is_joined() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = public_room(&s, &bob, &[&alice, &admin]).await;
    let a1 = s.send_text(&alice, &room, "spam").await;
    // Synapse takes messages, encrypted events and joins only.
    let custom = s.put(&room_path(&room, "send/org.example.custom/c1"), &alice.token, json!({"x": 1})).await.ok()["event_id"]
        .as_str()
        .expect("event_id")
        .to_owned();

    let id = start(&s, &admin, &alice.user_id, json!({"rooms": []})).await;
    assert_eq!(finished(&s, &admin, &id).await, json!({"status": "complete", "failed_redactions": {}}));
    let ev = event(&s, &bob, &room, &a1).await;
    assert_eq!(ev["content"], json!({}), "{ev}");
    assert_eq!(ev["unsigned"]["redacted_because"]["sender"], alice.user_id.as_str(), "{ev}");
    assert_eq!(event(&s, &bob, &room, &custom).await["content"], json!({"x": 1}));
}

#[actix_rt::test]
async fn redactions_the_room_refuses_are_reported() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    // The admin is joined without the power to redact others' events and asks to send them.
    let room = public_room(&s, &bob, &[&alice, &admin]).await;
    let a1 = s.send_text(&alice, &room, "spam").await;

    let id = start(&s, &admin, &alice.user_id, json!({"rooms": [room], "use_admin": true})).await;
    let st = finished(&s, &admin, &id).await;
    assert_eq!(st["status"], "complete", "{st}");
    assert!(st["failed_redactions"][&a1].is_string(), "{st}");
    assert_eq!(event(&s, &bob, &room, &a1).await["content"]["body"], "spam");
}

/// `after_ts` and `before_ts` bound the events taken by `origin_server_ts`, both ends included.
#[actix_rt::test]
async fn the_time_window_bounds_what_is_redacted() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    let room = public_room(&s, &alice, &[]).await;
    let ts = |ev: &Value| ev["origin_server_ts"].as_i64().expect("origin_server_ts");
    // Three messages with distinct timestamps (a message sent in the same millisecond is resent).
    let mut sent: Vec<(String, i64)> = Vec::new();
    for body in ["first", "second", "third"] {
        let mut tries = 0;
        loop {
            let id = s.send_text(&alice, &room, body).await;
            let t = ts(&event(&s, &alice, &room, &id).await);
            if sent.last().is_none_or(|(_, prev)| t > *prev) {
                sent.push((id, t));
                break;
            }
            tries += 1;
            assert!(tries < 1000, "the clock does not move");
        }
    }
    let (middle, t) = (&sent[1].0, sent[1].1);
    let id = start(&s, &admin, &alice.user_id, json!({"rooms": [room], "after_ts": t, "before_ts": t})).await;
    assert_eq!(finished(&s, &admin, &id).await["status"], "complete");
    assert_eq!(event(&s, &alice, &room, middle).await["content"], json!({}));
    for (other, _) in [&sent[0], &sent[2]] {
        assert!(event(&s, &alice, &room, other).await["content"]["body"].is_string());
    }
}

#[actix_rt::test]
async fn unknown_users_rooms_and_ids_and_bad_requests() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;

    // Any user ID is taken, as in Synapse: nothing to redact.
    let id = start(&s, &admin, "@nobody:test.local", json!({"rooms": []})).await;
    assert_eq!(finished(&s, &admin, &id).await, json!({"status": "complete", "failed_redactions": {}}));
    // An unknown room fails the job.
    let id = start(&s, &admin, &alice.user_id, json!({"rooms": ["!nope:test.local"]})).await;
    let st = finished(&s, &admin, &id).await;
    assert_eq!(st["status"], "failed", "{st}");
    assert_eq!(st["error"], "404: Could not find room_version for !nope:test.local");

    aget(&s, &admin.token, &status_path("nope")).await.err(404, "M_NOT_FOUND");
    let path = redact_path(&alice.user_id);
    call_raw(&s, "POST", &path, &admin.token, b"").await.err(400, "M_NOT_JSON");
    apost(&s, &admin.token, &path, json!({})).await.err(400, "M_MISSING_PARAM");
    apost(&s, &admin.token, &path, json!({"rooms": "x"})).await.err(400, "M_BAD_JSON");
    apost(&s, &admin.token, &path, json!({"rooms": [1]})).await.err(400, "M_BAD_JSON");
    apost(&s, &admin.token, &path, json!({"rooms": [], "reason": 5})).await.err(400, "M_BAD_JSON");
    apost(&s, &admin.token, &path, json!({"rooms": [], "limit": "x"})).await.err(400, "M_BAD_JSON");
    apost(&s, &admin.token, &path, json!({"rooms": [], "limit": -1})).await.err(400, "M_UNKNOWN");
    apost(&s, &admin.token, &path, json!({"rooms": [], "use_admin": "yes"})).await.err(400, "M_BAD_JSON");
    apost(&s, &admin.token, &path, json!({"rooms": [], "before_ts": "x"})).await.err(400, "M_BAD_JSON");
    apost(&s, &admin.token, &path, json!({"rooms": [], "after_ts": 1.5})).await.err(400, "M_BAD_JSON");
    apost(&s, &admin.token, &redact_path("@nobody"), json!({"rooms": []})).await.err(400, "M_INVALID_PARAM");

    // Not for ordinary users.
    apost(&s, &alice.token, &path, json!({"rooms": []})).await.err(403, "M_FORBIDDEN");
    aget(&s, &alice.token, &status_path(&id)).await.err(403, "M_FORBIDDEN");
}
