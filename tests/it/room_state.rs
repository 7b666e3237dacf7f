//! Reading and writing room state: identical state is idempotent, `?format=event`, the
//! `joined_members` shape, and redactions confined to their room.

use crate::common::*;
use serde_json::json;

#[actix_rt::test]
async fn setting_identical_state_twice_is_idempotent() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    s.join(&bob, &room).await.ok();
    let path = room_path(&room, "state/a.test.state/");
    let since = next_batch(&s.sync(&bob, None, 0).await);

    let first = s.put(&path, &alice.token, json!({"a_key": "a_value"})).await.ok();
    let again = s.put(&path, &alice.token, json!({"a_key": "a_value"})).await.ok();
    assert_eq!(first["event_id"], again["event_id"]);
    let later = s.sync(&bob, Some(&since), 0).await;
    let seen: Vec<_> = timeline(&later, &room).into_iter().filter(|e| e["type"] == "a.test.state").collect();
    assert_eq!(seen.len(), 1, "one event for two identical puts: {later}");

    // Different content, or the same content from someone else, is a new event.
    let changed = s.put(&path, &alice.token, json!({"a_key": "other"})).await.ok();
    assert_ne!(changed["event_id"], first["event_id"]);
    set_level(&s, &alice, &room, &bob.user_id, 100).await.ok();
    let by_bob = s.put(&path, &bob.token, json!({"a_key": "other"})).await.ok();
    assert_ne!(by_bob["event_id"], changed["event_id"]);
    let event = s.get(&format!("{path}?format=event"), &alice.token).await.ok();
    assert_eq!(event["event_id"], by_bob["event_id"]);
    assert_eq!(event["sender"], bob.user_id.as_str());
}

#[actix_rt::test]
async fn state_reads_in_event_format() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({"name": "Named"})).await;
    let member = room_path(&room, &format!("state/m.room.member/{}", enc(&alice.user_id)));

    let content = s.get(&member, &alice.token).await.ok();
    assert_eq!(content["membership"], "join");
    assert!(content.get("sender").is_none() && content.get("event_id").is_none(), "{content}");
    let content = s.get(&format!("{member}?format=content"), &alice.token).await.ok();
    assert_eq!(content["membership"], "join");

    let event = s.get(&format!("{member}?format=event"), &alice.token).await.ok();
    assert_eq!(event["sender"], alice.user_id.as_str());
    assert_eq!(event["room_id"], room.as_str());
    assert_eq!(event["type"], "m.room.member");
    assert_eq!(event["state_key"], alice.user_id.as_str());
    assert_eq!(event["content"]["membership"], "join");
    assert!(event["event_id"].is_string());
    // The empty state key form too.
    let name = s.get(&format!("{}?format=event", room_path(&room, "state/m.room.name")), &alice.token).await.ok();
    assert_eq!(name["content"]["name"], "Named");

    s.get(&format!("{member}?format=nonsense"), &alice.token).await.err(400, "M_INVALID_PARAM");
    s.get(&format!("{}?format=event", room_path(&room, "state/m.room.topic/")), &alice.token).await.err(404, "M_NOT_FOUND");
}

#[actix_rt::test]
async fn joined_members_always_carry_name_and_avatar() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let carol = s.register_user("carol").await;
    s.put(&format!("{V3}/profile/{}/displayname", enc(&alice.user_id)), &alice.token, json!({"displayname": "Alice"})).await.ok();
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    s.join(&bob, &room).await.ok();
    s.invite(&alice, &room, &carol.user_id).await.ok();

    let body = s.get(&room_path(&room, "joined_members"), &bob.token).await.ok();
    let joined = body["joined"].as_object().expect("joined");
    assert_eq!(joined.len(), 2, "the invited user is not joined: {body}");
    assert_eq!(joined[&alice.user_id], json!({"display_name": "Alice", "avatar_url": null}));
    assert_eq!(joined[&bob.user_id], json!({"display_name": "bob", "avatar_url": null}));
    s.get(&room_path(&room, "joined_members"), &carol.token).await.err(403, "M_FORBIDDEN");
}

#[actix_rt::test]
async fn redacting_an_event_of_another_room_is_refused() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let room1 = s.create_room(&alice, json!({})).await;
    let room2 = s.create_room(&alice, json!({})).await;
    let msg = s.send_text(&alice, &room1, "stays").await;

    s.put(&room_path(&room2, &format!("redact/{}/t1", enc(&msg))), &alice.token, json!({})).await.err(400, "M_UNKNOWN");
    let event = s.get(&room_path(&room1, &format!("event/{}", enc(&msg))), &alice.token).await.ok();
    assert_eq!(event["content"]["body"], "stays");
    // In its own room it works.
    s.put(&room_path(&room1, &format!("redact/{}/t2", enc(&msg))), &alice.token, json!({})).await.ok();
    let event = s.get(&room_path(&room1, &format!("event/{}", enc(&msg))), &alice.token).await.ok();
    assert_eq!(event["content"], json!({}));
}
