//! Room membership rules: who may send, join (invite-only, public, by alias), be banned, kicked
//! and unbanned, forget a room, and what a member event's state key must be.

use crate::common::*;
use serde_json::json;

async fn moderate(s: &TestServer, by: &User, room: &str, action: &str, target: &str) -> Resp {
    s.post(&room_path(room, action), &by.token, json!({ "user_id": target, "reason": "test" })).await
}

#[actix_rt::test]
async fn non_member_cannot_send() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let mallory = s.register_user("mallory").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;

    s.send_text_resp(&mallory, &room, "hello?").await.err(403, "M_FORBIDDEN");
    // Nor state events.
    set_name(&s, &mallory, &room, "taken over").await.err(403, "M_FORBIDDEN");
    // The member can.
    s.send_text(&alice, &room, "hello").await;
}

#[actix_rt::test]
async fn invited_user_cannot_send_before_joining() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = s.create_room(&alice, json!({"preset": "private_chat"})).await;
    s.invite(&alice, &room, &bob.user_id).await.ok();

    s.send_text_resp(&bob, &room, "too early").await.err(403, "M_FORBIDDEN");

    s.join(&bob, &room).await.ok();
    s.send_text(&bob, &room, "now I can").await;
}

#[actix_rt::test]
async fn invite_only_room_refuses_uninvited_join() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = s.create_room(&alice, json!({"preset": "private_chat"})).await;

    s.join(&bob, &room).await.err(403, "M_FORBIDDEN");
    assert!(!s.joined_rooms(&bob).await.contains(&room));

    s.invite(&alice, &room, &bob.user_id).await.ok();
    let joined = s.join(&bob, &room).await.ok();
    assert_eq!(joined["room_id"], room);
    assert!(s.joined_rooms(&bob).await.contains(&room));
}

#[actix_rt::test]
async fn public_room_accepts_join_without_invite_by_id_and_alias() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let carol = s.register_user("carol").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat", "room_alias_name": "lobby"})).await;

    // By room ID.
    s.join(&bob, &room).await.ok();
    assert!(s.joined_rooms(&bob).await.contains(&room));

    // By alias, through /join/{roomIdOrAlias}.
    let alias = format!("#lobby:{}", s.server_name());
    let joined = s.post(&format!("/_matrix/client/v3/join/{}", enc(&alias)), &carol.token, json!({})).await.ok();
    assert_eq!(joined["room_id"], room);
    assert!(s.joined_rooms(&carol).await.contains(&room));
    s.send_text(&carol, &room, "joined by alias").await;

    // The alias resolves through the directory too.
    let resolved = s.get(&format!("/_matrix/client/v3/directory/room/{}", enc(&alias)), &bob.token).await.ok();
    assert_eq!(resolved["room_id"], room);
}

#[actix_rt::test]
async fn banned_user_cannot_join_until_unbanned() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    s.join(&bob, &room).await.ok();

    moderate(&s, &alice, &room, "ban", &bob.user_id).await.ok();
    assert!(!s.joined_rooms(&bob).await.contains(&room));
    s.send_text_resp(&bob, &room, "still here?").await.err(403, "M_FORBIDDEN");
    s.join(&bob, &room).await.err(403, "M_FORBIDDEN");

    moderate(&s, &alice, &room, "unban", &bob.user_id).await.ok();
    s.join(&bob, &room).await.ok();
    assert!(s.joined_rooms(&bob).await.contains(&room));
    s.send_text(&bob, &room, "back").await;
}

#[actix_rt::test]
async fn ban_kick_and_unban_require_power() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let carol = s.register_user("carol").await;
    let dave = s.register_user("dave").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    s.join(&bob, &room).await.ok();
    s.join(&carol, &room).await.ok();

    // bob is a plain member at level 0.
    moderate(&s, &bob, &room, "ban", &carol.user_id).await.err(403, "M_FORBIDDEN");
    moderate(&s, &bob, &room, "kick", &carol.user_id).await.err(403, "M_FORBIDDEN");
    // Nor against the creator.
    moderate(&s, &bob, &room, "ban", &alice.user_id).await.err(403, "M_FORBIDDEN");
    moderate(&s, &bob, &room, "kick", &alice.user_id).await.err(403, "M_FORBIDDEN");
    assert!(s.joined_rooms(&carol).await.contains(&room));

    // A ban from someone with power; bob still cannot lift it.
    moderate(&s, &alice, &room, "ban", &dave.user_id).await.ok();
    moderate(&s, &bob, &room, "unban", &dave.user_id).await.err(403, "M_FORBIDDEN");
    s.join(&dave, &room).await.err(403, "M_FORBIDDEN");
}

#[actix_rt::test]
async fn moderator_kicks_member_and_member_cannot_kick() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let carol = s.register_user("carol").await;
    let dave = s.register_user("dave").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    for u in [&bob, &carol, &dave] {
        s.join(u, &room).await.ok();
    }
    set_level(&s, &alice, &room, &bob.user_id, 50).await.ok();

    // dave (0) cannot kick carol (0).
    moderate(&s, &dave, &room, "kick", &carol.user_id).await.err(403, "M_FORBIDDEN");
    assert!(s.joined_rooms(&carol).await.contains(&room));

    // bob (50) can.
    moderate(&s, &bob, &room, "kick", &carol.user_id).await.ok();
    assert!(!s.joined_rooms(&carol).await.contains(&room));
    s.send_text_resp(&carol, &room, "was I kicked?").await.err(403, "M_FORBIDDEN");
    let member = s.get(&room_path(&room, &format!("state/m.room.member/{}", enc(&carol.user_id))), &alice.token).await.ok();
    assert_eq!(member["membership"], "leave");
    assert_eq!(member["reason"], "test");

    // The kick is not a ban: the room is public, carol may come back.
    s.join(&carol, &room).await.ok();

    // bob (50) cannot kick alice (100).
    moderate(&s, &bob, &room, "kick", &alice.user_id).await.err(403, "M_FORBIDDEN");
}

#[actix_rt::test]
async fn forget_requires_leaving_first() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    s.join(&bob, &room).await.ok();

    s.post(&room_path(&room, "forget"), &bob.token, json!({})).await.err(400, "M_UNKNOWN");

    leave(&s, &bob, &room).await.ok();
    s.post(&room_path(&room, "forget"), &bob.token, json!({})).await.ok();
    assert!(!s.joined_rooms(&bob).await.contains(&room));
    // The room carries on for alice.
    s.send_text(&alice, &room, "still here").await;
}

#[actix_rt::test]
async fn member_events_need_a_user_id_as_state_key() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({"preset": "private_chat"})).await;
    for (key, membership) in [("not-a-user", "invite"), ("@nocolon", "ban"), ("", "invite"), ("%23room%3Atest.local", "invite")] {
        let r = s.put(&room_path(&room, &format!("state/m.room.member/{key}")), &alice.token, json!({"membership": membership})).await;
        r.err(400, "M_INVALID_PARAM");
    }
    let state = s.get(&room_path(&room, "state"), &alice.token).await.ok();
    let members = state.as_array().unwrap().iter().filter(|e| e["type"] == "m.room.member").count();
    assert_eq!(members, 1, "{state}");
}

#[actix_rt::test]
async fn kicking_a_banned_user_is_refused() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let carol = s.register_user("carol").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    s.join(&bob, &room).await.ok();

    moderate(&s, &alice, &room, "ban", &bob.user_id).await.ok();
    // A kick would turn the ban into a leave, letting bob back in.
    moderate(&s, &alice, &room, "kick", &bob.user_id).await.err(403, "M_FORBIDDEN");
    let member = s.get(&room_path(&room, &format!("state/m.room.member/{}", enc(&bob.user_id))), &alice.token).await.ok();
    assert_eq!(member["membership"], "ban", "{member}");
    s.join(&bob, &room).await.err(403, "M_FORBIDDEN");
    // Nor an invite; an unban of someone not banned is refused too.
    moderate(&s, &alice, &room, "invite", &bob.user_id).await.err(403, "M_FORBIDDEN");
    moderate(&s, &alice, &room, "unban", &carol.user_id).await.err(403, "M_FORBIDDEN");

    moderate(&s, &alice, &room, "unban", &bob.user_id).await.ok();
    s.join(&bob, &room).await.ok();
    // Once in again, a kick works; the same kick again is not a repeat: bob is gone.
    moderate(&s, &alice, &room, "kick", &bob.user_id).await.ok();
    assert!(!s.joined_rooms(&bob).await.contains(&room));
    moderate(&s, &alice, &room, "kick", &bob.user_id).await.err(403, "M_FORBIDDEN");
}

fn member_path(room: &str, user: &User) -> String {
    room_path(room, &format!("state/m.room.member/{}", enc(&user.user_id)))
}

#[actix_rt::test]
async fn joining_twice_makes_no_new_event() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    let event_of = |v: serde_json::Value| v["event_id"].as_str().expect("event_id").to_owned();

    // The creator joining again, and a member joining again.
    let creator_join = event_of(s.get(&format!("{}?format=event", member_path(&room, &alice)), &alice.token).await.ok());
    s.join(&alice, &room).await.ok();
    s.join(&bob, &room).await.ok();
    let bob_join = event_of(s.get(&format!("{}?format=event", member_path(&room, &bob)), &bob.token).await.ok());
    let since = next_batch(&s.sync(&bob, None, 0).await);
    s.join(&bob, &room).await.ok();
    s.post(&format!("{V3}/join/{}", enc(&room)), &bob.token, json!({})).await.ok();
    assert_eq!(event_of(s.get(&format!("{}?format=event", member_path(&room, &alice)), &alice.token).await.ok()), creator_join);
    assert_eq!(event_of(s.get(&format!("{}?format=event", member_path(&room, &bob)), &bob.token).await.ok()), bob_join);
    let members = s.get(&room_path(&room, "members"), &alice.token).await.ok();
    assert_eq!(members["chunk"].as_array().expect("chunk").len(), 2, "{members}");
    // Nothing new reached the timeline.
    let text = s.send_text(&alice, &room, "after").await;
    let later = s.sync(&bob, Some(&since), 0).await;
    let ids: Vec<&str> = timeline(&later, &room).iter().filter_map(|e| e["event_id"].as_str()).collect();
    assert_eq!(ids, vec![text.as_str()], "{later}");

    // A join with different content is a new event.
    let changed = s.post(&room_path(&room, "join"), &bob.token, json!({"reason": "back again"})).await.ok();
    assert_eq!(changed["room_id"], room.as_str());
    let now = s.get(&format!("{}?format=event", member_path(&room, &bob)), &bob.token).await.ok();
    assert_ne!(event_of(now.clone()), bob_join);
    assert_eq!(now["content"]["reason"], "back again");
}

#[actix_rt::test]
async fn join_bodies_keep_their_reason_and_custom_fields() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let carol = s.register_user("carol").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat", "room_alias_name": "custom"})).await;

    s.post(&format!("{V3}/join/{}", enc(&room)), &bob.token, json!({"foo": "bar", "reason": "hello", "membership": "leave"})).await.ok();
    let content = s.get(&member_path(&room, &bob), &bob.token).await.ok();
    assert_eq!(content["foo"], "bar", "{content}");
    assert_eq!(content["reason"], "hello");
    assert_eq!(content["membership"], "join", "the body cannot change what a join is");

    let alias = format!("#custom:{}", s.server_name());
    let joined = s.post(&format!("{V3}/join/{}", enc(&alias)), &carol.token, json!({"nested": {"x": 1}})).await.ok();
    assert_eq!(joined["room_id"], room.as_str());
    let content = s.get(&member_path(&room, &carol), &carol.token).await.ok();
    assert_eq!(content["nested"], json!({"x": 1}), "{content}");
    assert_eq!(content["membership"], "join");

    // A reason must be a string; nothing joins.
    let dave = s.register_user("dave").await;
    s.post(&room_path(&room, "join"), &dave.token, json!({"reason": 5})).await.err(400, "M_BAD_JSON");
    assert!(!s.joined_rooms(&dave).await.contains(&room));
}
