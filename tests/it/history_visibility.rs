//! History visibility (`m.room.history_visibility`), judged per event, on every read path:
//! `/messages`, `/context`, `/event`, `/state`, `/members`, `/joined_members`, `/sync`, `/search`.

use crate::common::*;
use serde_json::{Value, json};

async fn set_visibility(s: &TestServer, u: &User, room: &str, v: &str) {
    s.put(&room_path(room, "state/m.room.history_visibility/"), &u.token, json!({"history_visibility": v})).await.ok();
}

/// Bodies of the `m.room.message` events a user reads from `/messages` (newest first, whole room).
async fn message_bodies(s: &TestServer, u: &User, room: &str) -> Vec<String> {
    let b = s.get(&room_path(room, "messages?dir=b&limit=100"), &u.token).await.ok();
    bodies(&b["chunk"])
}

fn bodies(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("event list")
        .iter()
        .filter(|e| e["type"] == "m.room.message")
        .map(|e| e["content"]["body"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn search_bodies(s: &TestServer, u: &User, term: &str) -> Vec<String> {
    let b = s.post("/_matrix/client/v3/search", &u.token, json!({"search_categories": {"room_events": {"search_term": term}}})).await.ok();
    let bodies: Vec<String> = b["search_categories"]["room_events"]["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["result"]["content"]["body"].as_str().unwrap_or_default().to_owned())
        .collect();
    // Hidden events are not counted either: the count would tell how many match.
    assert_eq!(b["search_categories"]["room_events"]["count"], bodies.len(), "{b}");
    bodies
}

/// Every read of the room's history or state is 403 for `u`; one event is 404, the spec's (and
/// Synapse's) answer for an event one may not read.
async fn assert_locked_out(s: &TestServer, u: &User, room: &str, event: &str) {
    s.get(&room_path(room, &format!("event/{}", enc(event))), &u.token).await.err(404, "M_NOT_FOUND");
    for path in [
        room_path(room, "messages?dir=b"),
        room_path(room, "state"),
        room_path(room, "state/m.room.name/"),
        room_path(room, &format!("context/{}", enc(event))),
        room_path(room, "members"),
        room_path(room, "joined_members"),
    ] {
        s.get(&path, &u.token).await.err(403, "M_FORBIDDEN");
    }
    s.get(&room_path(room, &format!("event/{}", enc(event))), &u.token).await.err(404, "M_NOT_FOUND");
}

#[actix_rt::test]
async fn a_rejected_invite_reads_nothing_of_a_shared_room() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = s.create_room(&alice, json!({"preset": "private_chat", "name": "secret plans"})).await;
    let secret = s.send_text(&alice, &room, "the secret before the invite").await;
    s.invite(&alice, &room, &bob.user_id).await.ok();
    let first = s.sync(&bob, None, 0).await;
    assert!(first["rooms"]["invite"][&room].is_object(), "{first}");
    s.send_text(&alice, &room, "the secret while invited").await;
    s.post(&room_path(&room, "leave"), &bob.token, json!({})).await.ok();

    assert_locked_out(&s, &bob, &room, &secret).await;
    // The leave section of the next sync shows the room going, not its history or state.
    let next = s.sync(&bob, first["next_batch"].as_str(), 0).await;
    let left = &next["rooms"]["leave"][&room];
    assert!(left.is_object(), "{next}");
    assert_eq!(bodies(&left["timeline"]["events"]), Vec::<String>::new(), "{left}");
    assert!(left["state"]["events"].as_array().is_none_or(|a| a.is_empty()), "{left}");
}

#[actix_rt::test]
async fn a_user_banned_before_joining_reads_nothing() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let mallory = s.register_user("mallory").await;
    let room = s.create_room(&alice, json!({"preset": "private_chat"})).await;
    let secret = s.send_text(&alice, &room, "not for mallory").await;
    s.post(&room_path(&room, "ban"), &alice.token, json!({"user_id": mallory.user_id})).await.ok();
    assert_locked_out(&s, &mallory, &room, &secret).await;
}

#[actix_rt::test]
async fn joined_visibility_hides_everything_before_the_join() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    set_visibility(&s, &alice, &room, "joined").await;
    let early = s.send_text(&alice, &room, "earlyword before bob").await;
    s.join(&bob, &room).await.ok();
    let late = s.send_text(&alice, &room, "lateword after bob").await;

    assert_eq!(message_bodies(&s, &bob, &room).await, vec!["lateword after bob"]);
    s.get(&room_path(&room, &format!("event/{}", enc(&early))), &bob.token).await.err(404, "M_NOT_FOUND");
    s.get(&room_path(&room, &format!("context/{}", enc(&early))), &bob.token).await.err(404, "M_NOT_FOUND");
    let ctx = s.get(&room_path(&room, &format!("context/{}?limit=20", enc(&late))), &bob.token).await.ok();
    assert_eq!(ctx["event"]["event_id"], late.as_str());
    assert_eq!(bodies(&ctx["events_before"]), Vec::<String>::new(), "{ctx}");
    assert!(ctx["events_before"].as_array().unwrap().iter().any(|e| e["type"] == "m.room.member"), "bob's join is visible: {ctx}");
    let sync = s.sync(&bob, None, 0).await;
    let tl: Vec<String> = timeline(&sync, &room).iter().filter_map(|e| e["content"]["body"].as_str().map(str::to_owned)).collect();
    assert_eq!(tl, vec!["lateword after bob"], "{sync}");
    // Alice, joined throughout, still sees both.
    assert_eq!(message_bodies(&s, &alice, &room).await, vec!["lateword after bob", "earlyword before bob"]);

    flush_search(&s).await;
    assert_eq!(search_bodies(&s, &bob, "earlyword").await, Vec::<String>::new());
    assert_eq!(search_bodies(&s, &bob, "lateword").await, vec!["lateword after bob"]);
    assert_eq!(search_bodies(&s, &alice, "earlyword").await, vec!["earlyword before bob"]);
}

#[actix_rt::test]
async fn invited_visibility_shows_from_the_invite_on() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = s.create_room(&alice, json!({"preset": "private_chat"})).await;
    set_visibility(&s, &alice, &room, "invited").await;
    s.send_text(&alice, &room, "before the invite").await;
    s.invite(&alice, &room, &bob.user_id).await.ok();
    s.send_text(&alice, &room, "while invited").await;
    s.join(&bob, &room).await.ok();
    s.send_text(&alice, &room, "after the join").await;
    assert_eq!(message_bodies(&s, &bob, &room).await, vec!["after the join", "while invited"]);
}

#[actix_rt::test]
async fn shared_visibility_shows_earlier_history_to_a_later_joiner() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    let early = s.send_text(&alice, &room, "before bob").await;
    s.join(&bob, &room).await.ok();
    assert_eq!(message_bodies(&s, &bob, &room).await, vec!["before bob"]);
    s.get(&room_path(&room, &format!("event/{}", enc(&early))), &bob.token).await.ok();
}

#[actix_rt::test]
async fn a_former_member_sees_history_up_to_the_leave_and_no_current_members() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat", "name": "old name"})).await;
    s.join(&bob, &room).await.ok();
    s.send_text(&alice, &room, "while bob was here").await;
    s.post(&room_path(&room, "leave"), &bob.token, json!({})).await.ok();
    let after = s.send_text(&alice, &room, "after bob left").await;
    s.put(&room_path(&room, "state/m.room.name/"), &alice.token, json!({"name": "new name"})).await.ok();

    assert_eq!(message_bodies(&s, &bob, &room).await, vec!["while bob was here"]);
    s.get(&room_path(&room, &format!("event/{}", enc(&after))), &bob.token).await.err(404, "M_NOT_FOUND");
    let name = s.get(&room_path(&room, "state/m.room.name/"), &bob.token).await.ok();
    assert_eq!(name["name"], "old name");
    let members = s.get(&room_path(&room, "members"), &bob.token).await.ok();
    assert!(!members["chunk"].as_array().unwrap().is_empty());
    s.get(&room_path(&room, "joined_members"), &bob.token).await.err(403, "M_FORBIDDEN");
    // A member lists the current members.
    let joined = s.get(&room_path(&room, "joined_members"), &alice.token).await.ok();
    assert!(joined["joined"][&alice.user_id].is_object() && joined["joined"][&bob.user_id].is_null(), "{joined}");
}

#[actix_rt::test]
async fn world_readable_rooms_are_readable_by_anyone() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let carol = s.register_user("carol").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat", "name": "open"})).await;
    set_visibility(&s, &alice, &room, "world_readable").await;
    s.send_text(&alice, &room, "for everyone").await;
    assert_eq!(message_bodies(&s, &carol, &room).await, vec!["for everyone"]);
    let state = s.get(&room_path(&room, "state"), &carol.token).await.ok();
    assert!(state.as_array().unwrap().iter().any(|e| e["type"] == "m.room.name"), "{state}");
    let joined = s.get(&room_path(&room, "joined_members"), &carol.token).await.ok();
    assert!(joined["joined"][&alice.user_id].is_object(), "{joined}");
}

#[actix_rt::test]
async fn a_visibility_change_mid_room_is_judged_per_event() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    s.send_text(&alice, &room, "said while shared").await;
    set_visibility(&s, &alice, &room, "joined").await;
    s.send_text(&alice, &room, "said while joined-only").await;
    s.join(&bob, &room).await.ok();
    s.send_text(&alice, &room, "said to bob").await;
    assert_eq!(message_bodies(&s, &bob, &room).await, vec!["said to bob", "said while shared"]);
    // The change itself is visible: judged by the setting before it (shared).
    let b = s.get(&room_path(&room, "messages?dir=b&limit=100"), &bob.token).await.ok();
    assert!(b["chunk"].as_array().unwrap().iter().any(|e| e["type"] == "m.room.history_visibility"), "{b}");
}
