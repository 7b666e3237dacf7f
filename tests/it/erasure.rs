//! GDPR erasure: an erased user's messages stay visible to those who were in the room when they
//! were sent, and are hidden from users who join afterwards.

use crate::common::*;
use serde_json::json;

#[actix_rt::test]
async fn erased_users_messages_are_hidden_from_later_joiners() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let carol = s.register_user("carol").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    s.join(&bob, &room).await.ok();
    s.join(&carol, &room).await.ok();
    let secret = s.send_text(&carol, &room, "carol's words").await;
    let root = s.send_text(&alice, &room, "a thread root").await;
    let reply_body =
        json!({"msgtype": "m.text", "body": "carol in the thread", "m.relates_to": {"rel_type": "m.thread", "event_id": root}});
    let reply = s.put(&room_path(&room, "send/m.room.message/t-reply"), &carol.token, reply_body).await.ok()["event_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let bobs = s.send_text(&bob, &room, "bob's words").await;

    let path = format!("/_synapse/admin/v1/deactivate/{}", enc(&carol.user_id));
    s.post(&path, &admin.token, json!({"erase": true})).await.ok();

    // Bob was there: he still sees the content.
    let seen = s.get(&format!("/_matrix/client/v3/rooms/{}/event/{}", enc(&room), enc(&secret)), &bob.token).await.ok();
    assert_eq!(seen["content"]["body"], "carol's words");

    // Dave joins afterwards: the event is there but its content is hidden, in /event, /messages and /sync.
    let dave = s.register_user("dave").await;
    s.join(&dave, &room).await.ok();
    let hidden = s.get(&format!("/_matrix/client/v3/rooms/{}/event/{}", enc(&room), enc(&secret)), &dave.token).await.ok();
    assert_eq!(hidden["content"], json!({}));
    let page = s.get(&format!("/_matrix/client/v3/rooms/{}/messages?dir=b&limit=50", enc(&room)), &dave.token).await.ok();
    let ev = page["chunk"].as_array().unwrap().iter().find(|e| e["event_id"] == secret.as_str()).cloned().expect("in history");
    assert_eq!(ev["content"], json!({}));
    let filter = json!({"room": {"timeline": {"limit": 50}}}).to_string();
    let sync = s.get(&format!("/_matrix/client/v3/sync?filter={}", enc(&filter)), &dave.token).await.ok();
    let in_sync = timeline(&sync, &room).into_iter().find(|e| e["event_id"] == secret.as_str()).cloned().expect("in sync");
    assert_eq!(in_sync["content"], json!({}));

    // Only the erased sender's messages are emptied, wherever an event is shown: /context,
    // /relations, and the thread summary bundled with the root.
    let ctx = s.get(&room_path(&room, &format!("context/{}?limit=10", enc(&secret))), &dave.token).await.ok();
    assert_eq!(ctx["event"]["content"], json!({}), "{ctx}");
    let after = ctx["events_after"].as_array().unwrap();
    let bob_after = after.iter().find(|e| e["event_id"] == bobs.as_str()).expect("bob's message after");
    assert_eq!(bob_after["content"]["body"], "bob's words");
    let rels = s.get(&format!("/_matrix/client/v1/rooms/{}/relations/{}", enc(&room), enc(&root)), &dave.token).await.ok();
    let listed = rels["chunk"].as_array().unwrap().iter().find(|e| e["event_id"] == reply.as_str()).cloned().expect("reply listed");
    assert_eq!(listed["content"], json!({}), "{rels}");
    let root_ev = s.get(&room_path(&room, &format!("event/{}", enc(&root))), &dave.token).await.ok();
    assert_eq!(root_ev["content"]["body"], "a thread root");
    assert_eq!(root_ev["unsigned"]["m.relations"]["m.thread"]["latest_event"]["content"], json!({}), "{root_ev}");
    let bob_sees = s.get(&room_path(&room, &format!("event/{}", enc(&root))), &bob.token).await.ok();
    assert_eq!(bob_sees["unsigned"]["m.relations"]["m.thread"]["latest_event"]["content"]["body"], "carol in the thread", "{bob_sees}");

    // Alice (there all along) still sees it in her sync.
    let sync = s.get(&format!("/_matrix/client/v3/sync?filter={}", enc(&filter)), &alice.token).await.ok();
    let in_sync = timeline(&sync, &room).into_iter().find(|e| e["event_id"] == secret.as_str()).cloned().expect("in sync");
    assert_eq!(in_sync["content"]["body"], "carol's words");
}
