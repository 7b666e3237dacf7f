//! Rooms the server does not know answer as Synapse answers them: a read or a send is refused
//! with 403, as for a room one is not in, so no answer tells whether a room exists; an event one
//! may not see is 404; membership changes that need a room to go to (join, leave, kick, unban)
//! are 404 `M_UNKNOWN`; forgetting a room one was never in is a no-op.

use crate::common::*;
use serde_json::{Value, json};

/// Every client route that takes a room ID, with what it sends, as (label, method, path, body).
fn routes(room: &str, event: &str, user: &str, target: &str) -> Vec<(&'static str, &'static str, String, Option<Value>)> {
    let r = |rest: &str| room_path(room, rest);
    let ev = enc(event);
    vec![
        ("state", "GET", r("state"), None),
        ("state event", "GET", r("state/m.room.name/"), None),
        ("create event", "GET", r("state/m.room.create/"), None),
        ("messages", "GET", r("messages"), None),
        ("members", "GET", r("members"), None),
        ("joined_members", "GET", r("joined_members"), None),
        ("context", "GET", r(&format!("context/{ev}")), None),
        ("aliases", "GET", r("aliases"), None),
        ("initialSync", "GET", r("initialSync"), None),
        ("event", "GET", r(&format!("event/{ev}")), None),
        ("send", "PUT", r("send/m.room.message/u1"), Some(json!({"msgtype": "m.text", "body": "x"}))),
        ("send without txn", "POST", r("send/m.room.message"), Some(json!({"msgtype": "m.text", "body": "x"}))),
        ("put state", "PUT", r("state/m.room.name/"), Some(json!({"name": "x"}))),
        ("typing", "PUT", r(&format!("typing/{}", enc(user))), Some(json!({"typing": true, "timeout": 1000}))),
        ("receipt", "POST", r(&format!("receipt/m.read/{ev}")), Some(json!({}))),
        ("read_markers", "POST", r("read_markers"), Some(json!({"m.fully_read": event}))),
        ("redact", "PUT", r(&format!("redact/{ev}/u2")), Some(json!({}))),
        ("invite", "POST", r("invite"), Some(json!({"user_id": target}))),
        ("ban", "POST", r("ban"), Some(json!({"user_id": target}))),
        ("kick", "POST", r("kick"), Some(json!({"user_id": target}))),
        ("unban", "POST", r("unban"), Some(json!({"user_id": target}))),
        ("join", "POST", r("join"), Some(json!({}))),
        ("join by id", "POST", format!("{V3}/join/{}", enc(room)), Some(json!({}))),
        ("leave", "POST", r("leave"), Some(json!({}))),
        ("forget", "POST", r("forget"), Some(json!({}))),
        ("upgrade", "POST", r("upgrade"), Some(json!({"new_version": "10"}))),
        ("directory visibility", "GET", format!("{V3}/directory/list/room/{}", enc(room)), None),
    ]
}

/// What Synapse answers for a room it does not know (receipts and read markers aside: Synapse
/// accepts or 404s those, Ensemble refuses them as for any room one is not joined to).
fn unknown_room_answer(label: &str) -> (u16, &'static str) {
    match label {
        "event" | "redact" | "upgrade" | "directory visibility" => (404, "M_NOT_FOUND"),
        "kick" | "unban" | "join" | "join by id" | "leave" => (404, "M_UNKNOWN"),
        "forget" => (200, ""),
        _ => (403, "M_FORBIDDEN"),
    }
}

/// What Synapse answers for a room that exists and the requester is not in.
fn not_in_room_answer(label: &str) -> (u16, &'static str) {
    match label {
        "event" => (404, "M_NOT_FOUND"),
        "forget" | "directory visibility" => (200, ""),
        _ => (403, "M_FORBIDDEN"),
    }
}

async fn answer(s: &TestServer, token: &str, method: &str, path: &str, body: Option<Value>) -> (u16, String) {
    let r = s.req(method, path, Some(token), body).await;
    (r.status, r.body["errcode"].as_str().unwrap_or("").to_owned())
}

#[actix_rt::test]
async fn unknown_rooms_answer_as_synapse_does() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = s.create_room(&alice, json!({"preset": "private_chat"})).await;
    let event = s.send_text(&alice, &room, "only for members").await;
    let ghost = format!("!doesnotexist:{}", s.server_name());
    for unknown in [ghost.as_str(), "!abc:elsewhere.example"] {
        // The event exists, in another room: nothing about it shows through the unknown one.
        for (label, method, path, body) in routes(unknown, &event, &bob.user_id, &alice.user_id) {
            let (status, errcode) = answer(&s, &bob.token, method, &path, body).await;
            let want = unknown_room_answer(label);
            assert_eq!((status, errcode.as_str()), want, "{label}: {method} {path} in {unknown}");
        }
    }
    // Nothing was done: Bob is in no room, Alice's room holds her message only.
    assert!(s.joined_rooms(&bob).await.is_empty());
    let page = s.get(&format!("{}?dir=b&limit=5", room_path(&room, "messages")), &alice.token).await.ok();
    let texts: Vec<&str> = page["chunk"].as_array().expect("chunk").iter().filter_map(|e| e["content"]["body"].as_str()).collect();
    assert_eq!(texts, vec!["only for members"]);
}

#[actix_rt::test]
async fn a_room_one_is_not_in_answers_as_synapse_does() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = s.create_room(&alice, json!({"preset": "private_chat", "name": "Private"})).await;
    let event = s.send_text(&alice, &room, "only for members").await;
    for (label, method, path, body) in routes(&room, &event, &bob.user_id, &alice.user_id) {
        if label == "unban" {
            // Alice is not banned: Synapse's answer is about that (403 M_BAD_STATE), not the room.
            continue;
        }
        let (status, errcode) = answer(&s, &bob.token, method, &path, body).await;
        assert_eq!((status, errcode.as_str()), not_in_room_answer(label), "{label}: {method} {path}");
    }
    // Alice's room is untouched and Bob is in nothing.
    let state = s.get(&room_path(&room, "state/m.room.name/"), &alice.token).await.ok();
    assert_eq!(state["name"], "Private");
    assert!(s.joined_rooms(&bob).await.is_empty());
    let members = s.get(&room_path(&room, "joined_members"), &alice.token).await.ok();
    assert_eq!(members["joined"].as_object().map(|m| m.len()), Some(1), "{members}");
}

#[actix_rt::test]
async fn reads_do_not_tell_an_unknown_room_from_a_private_one() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let private = s.create_room(&alice, json!({"preset": "private_chat"})).await;
    let event = s.send_text(&alice, &private, "secret").await;
    let ghost = format!("!doesnotexist:{}", s.server_name());
    let reads = ["state", "state/m.room.name/", "messages", "members", "joined_members", "aliases", "initialSync"];
    for rest in reads.iter().map(|r| r.to_string()).chain([format!("context/{}", enc(&event)), format!("event/{}", enc(&event))]) {
        let known = answer(&s, &bob.token, "GET", &room_path(&private, &rest), None).await;
        let unknown = answer(&s, &bob.token, "GET", &room_path(&ghost, &rest), None).await;
        assert_eq!(known, unknown, "{rest}");
    }
    let send = |room: &str| room_path(room, "send/m.room.message/t");
    let known = answer(&s, &bob.token, "PUT", &send(&private), Some(json!({"body": "x", "msgtype": "m.text"}))).await;
    let unknown = answer(&s, &bob.token, "PUT", &send(&ghost), Some(json!({"body": "x", "msgtype": "m.text"}))).await;
    assert_eq!(known, unknown);
}

#[actix_rt::test]
async fn forgetting_a_room_one_was_never_in_changes_nothing() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    assert_eq!(s.post(&room_path(&room, "forget"), &bob.token, json!({})).await.ok(), json!({}));
    // Bob can still join, and Alice (joined) still may not forget it.
    s.join(&bob, &room).await.ok();
    s.post(&room_path(&room, "forget"), &alice.token, json!({})).await.err(400, "M_UNKNOWN");
    leave(&s, &bob, &room).await.ok();
    s.post(&room_path(&room, "forget"), &bob.token, json!({})).await.ok();
}
