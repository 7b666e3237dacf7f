//! Authorization over HTTP: membership, join rules, bans, power levels, kicks, redactions,
//! forgetting, the alias directory, and leaving as seen by /sync.

use crate::common::*;
use serde_json::{Value, json};

fn room_path(room: &str, rest: &str) -> String {
    format!("/_matrix/client/v3/rooms/{}/{rest}", enc(room))
}

async fn set_name(s: &TestServer, user: &User, room: &str, name: &str) -> Resp {
    s.put(&room_path(room, "state/m.room.name/"), &user.token, json!({ "name": name })).await
}

async fn power_levels(s: &TestServer, user: &User, room: &str) -> Value {
    s.get(&room_path(room, "state/m.room.power_levels/"), &user.token).await.ok()
}

async fn put_power_levels(s: &TestServer, user: &User, room: &str, content: Value) -> Resp {
    s.put(&room_path(room, "state/m.room.power_levels/"), &user.token, content).await
}

/// Sets `target`'s level through `by`'s m.room.power_levels update.
async fn set_level(s: &TestServer, by: &User, room: &str, target: &str, level: i64) -> Resp {
    let mut pl = power_levels(s, by, room).await;
    pl["users"][target] = json!(level);
    put_power_levels(s, by, room, pl).await
}

async fn moderate(s: &TestServer, by: &User, room: &str, action: &str, target: &str) -> Resp {
    s.post(&room_path(room, action), &by.token, json!({ "user_id": target, "reason": "test" })).await
}

async fn leave(s: &TestServer, user: &User, room: &str) -> Resp {
    s.post(&room_path(room, "leave"), &user.token, json!({})).await
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
async fn power_levels_gate_state_events() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat", "name": "Before"})).await;
    s.join(&bob, &room).await.ok();

    set_name(&s, &bob, &room, "Bob's room").await.err(403, "M_FORBIDDEN");
    set_name(&s, &alice, &room, "Alice's room").await.ok();
    let name = s.get(&room_path(&room, "state/m.room.name/"), &bob.token).await.ok();
    assert_eq!(name["name"], "Alice's room");

    set_level(&s, &alice, &room, &bob.user_id, 50).await.ok();
    assert_eq!(power_levels(&s, &bob, &room).await["users"][&bob.user_id], 50);
    set_name(&s, &bob, &room, "Bob's room").await.ok();
    let name = s.get(&room_path(&room, "state/m.room.name/"), &alice.token).await.ok();
    assert_eq!(name["name"], "Bob's room");
}

#[actix_rt::test]
async fn member_cannot_raise_themselves_above_their_level() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let carol = s.register_user("carol").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    s.join(&bob, &room).await.ok();
    s.join(&carol, &room).await.ok();

    // At level 0, with m.room.power_levels needing 100.
    set_level(&s, &bob, &room, &bob.user_id, 100).await.err(403, "M_FORBIDDEN");

    // Let moderators (50) edit power levels, and make bob one.
    let mut pl = power_levels(&s, &alice, &room).await;
    pl["events"]["m.room.power_levels"] = json!(50);
    pl["users"][&bob.user_id] = json!(50);
    put_power_levels(&s, &alice, &room, pl).await.ok();

    // bob may send m.room.power_levels now, but not to go above 50 himself...
    set_level(&s, &bob, &room, &bob.user_id, 51).await.err(403, "M_FORBIDDEN");
    set_level(&s, &bob, &room, &bob.user_id, 100).await.err(403, "M_FORBIDDEN");
    // ...nor to lift someone else above his level, nor to demote the creator.
    set_level(&s, &bob, &room, &carol.user_id, 75).await.err(403, "M_FORBIDDEN");
    set_level(&s, &bob, &room, &alice.user_id, 0).await.err(403, "M_FORBIDDEN");
    // Raising carol up to his own level is allowed.
    set_level(&s, &bob, &room, &carol.user_id, 50).await.ok();

    let pl = power_levels(&s, &alice, &room).await;
    assert_eq!(pl["users"][&bob.user_id], 50);
    assert_eq!(pl["users"][&carol.user_id], 50);
    assert_eq!(pl["users"][&alice.user_id], 100);
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
async fn redaction_rights() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    s.join(&bob, &room).await.ok();

    let own = s.send_text(&bob, &room, "oops").await;
    let red = s.put(&room_path(&room, &format!("redact/{}/r1", enc(&own))), &bob.token, json!({"reason": "typo"})).await.ok();
    let red_id = red["event_id"].as_str().expect("redaction event_id").to_owned();

    let ev = s.get(&room_path(&room, &format!("event/{}", enc(&own))), &alice.token).await.ok();
    assert_eq!(ev["type"], "m.room.message");
    assert_eq!(ev["content"], json!({}), "{ev}");
    assert_eq!(ev["unsigned"]["redacted_because"]["event_id"], red_id, "{ev}");

    // bob (0) may not redact alice's event.
    let theirs = s.send_text(&alice, &room, "keep me").await;
    s.put(&room_path(&room, &format!("redact/{}/r2", enc(&theirs))), &bob.token, json!({})).await.err(403, "M_FORBIDDEN");
    let ev = s.get(&room_path(&room, &format!("event/{}", enc(&theirs))), &bob.token).await.ok();
    assert_eq!(ev["content"]["body"], "keep me");

    // alice (100) may redact bob's.
    let other = s.send_text(&bob, &room, "spam").await;
    s.put(&room_path(&room, &format!("redact/{}/r3", enc(&other))), &alice.token, json!({})).await.ok();
    let ev = s.get(&room_path(&room, &format!("event/{}", enc(&other))), &bob.token).await.ok();
    assert_eq!(ev["content"], json!({}), "{ev}");
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
async fn alias_directory() {
    let s = TestServer::start().await;
    let admin = s.register_admin("admin").await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    let other = s.create_room(&bob, json!({"preset": "public_chat"})).await;
    let alias = format!("#stuff:{}", s.server_name());
    let path = format!("/_matrix/client/v3/directory/room/{}", enc(&alias));

    s.put(&path, &alice.token, json!({"room_id": room})).await.ok();
    let got = s.get(&path, &bob.token).await.ok();
    assert_eq!(got["room_id"], room);
    assert!(got["servers"].as_array().is_some_and(|a| a.contains(&json!(s.server_name()))), "{got}");

    // Taken, by anyone, for any room.
    s.put(&path, &alice.token, json!({"room_id": room})).await.err(409, "M_UNKNOWN");
    s.put(&path, &bob.token, json!({"room_id": other})).await.err(409, "M_UNKNOWN");

    let unknown = format!("/_matrix/client/v3/directory/room/{}", enc(&format!("#nothing:{}", s.server_name())));
    s.get(&unknown, &alice.token).await.err(404, "M_NOT_FOUND");
    s.req("DELETE", &unknown, Some(&alice.token), None).await.err(404, "M_NOT_FOUND");

    // bob did not create it and is no admin.
    s.req("DELETE", &path, Some(&bob.token), None).await.err(403, "M_FORBIDDEN");
    assert_eq!(s.get(&path, &bob.token).await.ok()["room_id"], room);

    // Its creator deletes it; then it is gone and free again.
    s.req("DELETE", &path, Some(&alice.token), None).await.ok();
    s.get(&path, &alice.token).await.err(404, "M_NOT_FOUND");
    s.put(&path, &bob.token, json!({"room_id": other})).await.ok();

    // A server admin may delete anyone's alias.
    s.req("DELETE", &path, Some(&admin.token), None).await.ok();
    s.get(&path, &alice.token).await.err(404, "M_NOT_FOUND");
}

#[actix_rt::test]
async fn leave_shows_in_incremental_sync() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    s.join(&bob, &room).await.ok();

    let first = s.sync(&bob, None, 0).await;
    assert!(first["rooms"]["join"][&room].is_object(), "{first}");
    let since = first["next_batch"].as_str().expect("next_batch").to_owned();

    leave(&s, &bob, &room).await.ok();
    let inc = s.sync(&bob, Some(&since), 0).await;
    assert!(inc["rooms"]["leave"][&room].is_object(), "{inc}");
    assert!(inc["rooms"]["join"].get(&room).is_none(), "{inc}");
    let events = inc["rooms"]["leave"][&room]["timeline"]["events"].as_array().expect("timeline");
    assert!(
        events.iter().any(|e| e["type"] == "m.room.member" && e["state_key"] == bob.user_id && e["content"]["membership"] == "leave"),
        "{inc}"
    );

    // Once reported, the leave is not repeated.
    let next = inc["next_batch"].as_str().expect("next_batch").to_owned();
    let again = s.sync(&bob, Some(&next), 0).await;
    assert!(again["rooms"]["leave"].get(&room).is_none(), "{again}");
}
