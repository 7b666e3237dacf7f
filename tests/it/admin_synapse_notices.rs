//! Server notices (`/_synapse/admin/v1/send_server_notice`): an unleavable tagged room, type and
//! content sent verbatim, idempotent PUTs, errors, and the notice room refusing every way out.

use crate::common::*;
use serde_json::{Value, json};

const NOTICE: &str = "/_synapse/admin/v1/send_server_notice";

/// The rooms `user` is invited to, from an initial sync.
async fn invites(s: &TestServer, user: &User) -> serde_json::Map<String, Value> {
    let sync = s.sync(user, None, 0).await;
    sync["rooms"]["invite"].as_object().cloned().unwrap_or_default()
}

async fn messages_f(s: &TestServer, user: &User, room: &str) -> Vec<Value> {
    let b = s.get(&format!("{}?dir=f&limit=100", room_path(room, "messages")), &user.token).await.ok();
    b["chunk"].as_array().unwrap().clone()
}

#[actix_rt::test]
async fn server_notice_creates_an_unleavable_tagged_room() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let bob = s.register_user("bob").await;

    let first = s
        .post(NOTICE, &admin.token, json!({"user_id": bob.user_id, "content": {"msgtype": "m.text", "body": "Maintenance tonight"}}))
        .await
        .ok();
    let first_id = first["event_id"].as_str().expect("event_id").to_owned();
    assert!(first_id.starts_with('$'), "{first}");

    // Bob is invited by the system user, to a room named "Server Notices".
    let inv = invites(&s, &bob).await;
    assert_eq!(inv.len(), 1, "{inv:?}");
    let (room, invite) = inv.iter().next().unwrap();
    let room = room.clone();
    let stripped = invite["invite_state"]["events"].as_array().unwrap();
    let name = stripped.iter().find(|e| e["type"] == "m.room.name").expect("name in the invite state");
    assert_eq!(name["content"]["name"], "Server Notices");
    let my_invite = stripped.iter().find(|e| e["type"] == "m.room.member" && e["state_key"] == bob.user_id).expect("invite event");
    assert_eq!(my_invite["sender"], "@notices:test.local");
    assert_eq!(my_invite["content"]["membership"], "invite");

    // Tagged m.server_notice in bob's room account data.
    let tags = s.get(&format!("/_matrix/client/v3/user/{}/rooms/{}/tags", enc(&bob.user_id), enc(&room)), &bob.token).await.ok();
    assert!(tags["tags"]["m.server_notice"].is_object(), "{tags}");

    // A second notice goes to the same room.
    let second = s
        .post(NOTICE, &admin.token, json!({"user_id": bob.user_id, "content": {"msgtype": "m.text", "body": "Maintenance done"}}))
        .await
        .ok();
    let second_id = second["event_id"].as_str().unwrap().to_owned();
    assert_ne!(first_id, second_id);
    let inv = invites(&s, &bob).await;
    assert_eq!(inv.keys().cloned().collect::<Vec<_>>(), vec![room.clone()]);

    // Bob cannot reject the invite.
    s.post(&room_path(&room, "leave"), &bob.token, json!({})).await.err(403, "M_CANNOT_LEAVE_SERVER_NOTICE_ROOM");
    assert_eq!(invites(&s, &bob).await.len(), 1);

    // After joining he sees both notices, from the system user.
    s.join(&bob, &room).await.ok();
    let events = messages_f(&s, &bob, &room).await;
    let notices: Vec<&Value> = events.iter().filter(|e| e["type"] == "m.room.message").collect();
    assert_eq!(notices.iter().map(|e| e["event_id"].as_str().unwrap()).collect::<Vec<_>>(), vec![first_id.as_str(), second_id.as_str()]);
    assert_eq!(notices[0]["content"]["body"], "Maintenance tonight");
    assert_eq!(notices[1]["content"]["body"], "Maintenance done");
    assert!(notices.iter().all(|e| e["sender"] == "@notices:test.local"));
    let create = s.get(&room_path(&room, "state/m.room.create/"), &bob.token).await.ok();
    assert_eq!(create["creator"], "@notices:test.local", "{create}");
    let pl = s.get(&room_path(&room, "state/m.room.power_levels/"), &bob.token).await.ok();
    assert_eq!(pl["users_default"], -10, "{pl}");
    // Joined, he still cannot leave; and at -10 he cannot talk back.
    s.post(&room_path(&room, "leave"), &bob.token, json!({})).await.err(403, "M_CANNOT_LEAVE_SERVER_NOTICE_ROOM");
    s.send_text_resp(&bob, &room, "hello?").await.err(403, "M_FORBIDDEN");
    // A third notice, to the joined room.
    s.post(NOTICE, &admin.token, json!({"user_id": bob.user_id, "content": {"msgtype": "m.text", "body": "Third"}})).await.ok();
    assert_eq!(s.joined_rooms(&bob).await, vec![room.clone()]);
    let events = messages_f(&s, &bob, &room).await;
    assert_eq!(events.iter().filter(|e| e["type"] == "m.room.message").count(), 3);
}

#[actix_rt::test]
async fn server_notice_type_and_content_are_sent_verbatim() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let bob = s.register_user("bob").await;
    let content = json!({"msgtype": "m.server_notice", "body": "Limit reached", "server_notice_type": "m.server_notice.usage_limit_reached", "admin_contact": "mailto:root@test.local"});
    s.post(NOTICE, &admin.token, json!({"user_id": bob.user_id, "type": "m.room.message", "content": content})).await.ok();
    let room = invites(&s, &bob).await.keys().next().cloned().expect("invited");
    s.join(&bob, &room).await.ok();
    let events = messages_f(&s, &bob, &room).await;
    let ev = events.iter().find(|e| e["type"] == "m.room.message").expect("notice");
    assert_eq!(ev["content"], content);
}

#[actix_rt::test]
async fn server_notice_errors() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let bob = s.register_user("bob").await;
    let content = json!({"msgtype": "m.text", "body": "hi"});
    s.post(NOTICE, &admin.token, json!({"user_id": "@x:other.server", "content": content})).await.err(400, "M_INVALID_PARAM");
    s.post(NOTICE, &admin.token, json!({"user_id": "@ghost:test.local", "content": content})).await.err(404, "M_NOT_FOUND");
    s.post(NOTICE, &admin.token, json!({"user_id": "not-a-user", "content": content})).await.err(400, "M_INVALID_PARAM");
    s.post(NOTICE, &admin.token, json!({"user_id": bob.user_id})).await.err(400, "M_MISSING_PARAM");
    s.post(NOTICE, &admin.token, json!({"content": content})).await.err(400, "M_MISSING_PARAM");
    s.post(NOTICE, &admin.token, json!({"user_id": bob.user_id, "content": "text"})).await.err(400, "M_BAD_JSON");
    s.raw("POST", NOTICE, Some(&admin.token), b"{oops".to_vec()).await.err(400, "M_NOT_JSON");
    s.post(NOTICE, &bob.token, json!({"user_id": bob.user_id, "content": content})).await.err(403, "M_FORBIDDEN");
    s.put(&format!("{NOTICE}/t1"), &bob.token, json!({"user_id": bob.user_id, "content": content})).await.err(403, "M_FORBIDDEN");
    s.get(NOTICE, &admin.token).await.err(405, "M_UNRECOGNIZED");
    // None of it created anything.
    assert!(invites(&s, &bob).await.is_empty());
}

#[actix_rt::test]
async fn server_notice_put_with_a_txn_id_is_idempotent() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let bob = s.register_user("bob").await;
    let body = json!({"user_id": bob.user_id, "content": {"msgtype": "m.text", "body": "only once"}});
    let a = s.put(&format!("{NOTICE}/txn-1"), &admin.token, body.clone()).await.ok();
    let b = s.put(&format!("{NOTICE}/txn-1"), &admin.token, body.clone()).await.ok();
    assert_eq!(a["event_id"], b["event_id"]);
    assert!(a["event_id"].is_string());
    // Another txn ID is another event.
    let c = s.put(&format!("{NOTICE}/txn-2"), &admin.token, body.clone()).await.ok();
    assert_ne!(a["event_id"], c["event_id"]);

    let room = invites(&s, &bob).await.keys().next().cloned().expect("invited");
    s.join(&bob, &room).await.ok();
    let events = messages_f(&s, &bob, &room).await;
    let ids: Vec<&str> = events.iter().filter(|e| e["type"] == "m.room.message").map(|e| e["event_id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![a["event_id"].as_str().unwrap(), c["event_id"].as_str().unwrap()]);
    // Still the same answer later.
    let again = s.put(&format!("{NOTICE}/txn-1"), &admin.token, body).await.ok();
    assert_eq!(again["event_id"], a["event_id"]);
}

#[actix_rt::test]
async fn evacuate_user_rejects_a_server_notice_invite() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let bob = s.register_user("bob").await;
    let alice = s.register_user("alice").await;
    let other = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    s.join(&bob, &other).await.ok();
    s.post(NOTICE, &admin.token, json!({"user_id": bob.user_id, "content": {"msgtype": "m.text", "body": "first"}})).await.ok();
    let notice_room = invites(&s, &bob).await.keys().next().cloned().expect("invited");

    let body = s.post(&format!("/_dendrite/admin/evacuateUser/{}", enc(&bob.user_id)), &admin.token, json!({})).await.ok();
    let mut got: Vec<String> = body["affected"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect();
    got.sort();
    let mut want = vec![other.clone(), notice_room.clone()];
    want.sort();
    assert_eq!(got, want, "{body}");
    assert!(invites(&s, &bob).await.is_empty());
    assert!(s.joined_rooms(&bob).await.is_empty());

    // Having left, a new notice brings a new room.
    s.post(NOTICE, &admin.token, json!({"user_id": bob.user_id, "content": {"msgtype": "m.text", "body": "second"}})).await.ok();
    let inv = invites(&s, &bob).await;
    assert_eq!(inv.len(), 1);
    assert_ne!(inv.keys().next().unwrap(), &notice_room);
}

#[actix_rt::test]
async fn a_notice_room_cannot_be_left_through_the_state_api_or_a_self_kick() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    send_notice(&s, &admin, &alice).await;
    let sync = s.sync(&alice, None, 0).await;
    let room = sync["rooms"]["invite"].as_object().and_then(|m| m.keys().next().cloned()).expect("notice invite");
    let member_path = format!("{V3}/rooms/{}/state/m.room.member/{}", enc(&room), enc(&alice.user_id));

    // Rejecting the invite through the state API, as through /leave, is refused.
    s.put(&member_path, &alice.token, json!({"membership": "leave"})).await.err(403, "M_CANNOT_LEAVE_SERVER_NOTICE_ROOM");
    s.post(&format!("{V3}/rooms/{}/leave", enc(&room)), &alice.token, json!({})).await.err(403, "M_CANNOT_LEAVE_SERVER_NOTICE_ROOM");
    s.join(&alice, &room).await.ok();
    s.put(&member_path, &alice.token, json!({"membership": "leave"})).await.err(403, "M_CANNOT_LEAVE_SERVER_NOTICE_ROOM");
    s.post(&format!("{V3}/rooms/{}/kick", enc(&room)), &alice.token, json!({"user_id": alice.user_id}))
        .await
        .err(403, "M_CANNOT_LEAVE_SERVER_NOTICE_ROOM");
    assert!(s.joined_rooms(&alice).await.contains(&room));

    // Leaving an ordinary room through the state API still works.
    let other = s.create_room(&alice, json!({})).await;
    s.put(&format!("{V3}/rooms/{}/state/m.room.member/{}", enc(&other), enc(&alice.user_id)), &alice.token, json!({"membership": "leave"}))
        .await
        .ok();
    assert!(!s.joined_rooms(&alice).await.contains(&other));
}
