//! Power levels: they gate state events and redactions, nobody raises themselves above their level,
//! and their content must be well formed (integers from room version 10).

use crate::common::*;
use serde_json::json;

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
async fn power_levels_must_be_integers_from_v10_and_well_formed_always() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({"room_version": "10"})).await;
    let pl_path = room_path(&room, "state/m.room.power_levels/");
    let pl = s.get(&pl_path, &alice.token).await.ok();

    // The creator locking themself out with a string level is refused, as are floats and
    // malformed maps.
    let mut bad = pl.clone();
    bad["users"][&alice.user_id] = json!("100");
    s.put(&pl_path, &alice.token, bad).await.err(400, "M_BAD_JSON");
    let mut bad = pl.clone();
    bad["ban"] = json!(50.5);
    s.put(&pl_path, &alice.token, bad).await.err(400, "M_BAD_JSON");
    let mut bad = pl.clone();
    bad["events"] = json!(["m.room.name"]);
    s.put(&pl_path, &alice.token, bad).await.err(400, "M_BAD_JSON");
    let mut bad = pl.clone();
    bad["users"]["not-a-user"] = json!(10);
    s.put(&pl_path, &alice.token, bad).await.err(400, "M_BAD_JSON");
    let r = s.post(&format!("{V3}/createRoom"), &alice.token, json!({"power_level_content_override": {"users_default": "5"}})).await;
    r.err(400, "M_BAD_JSON");

    // Alice still rules her room, and integer levels are accepted.
    let mut good = pl.clone();
    good["users_default"] = json!(5);
    s.put(&pl_path, &alice.token, good).await.ok();
    s.put(&room_path(&room, "state/m.room.name/"), &alice.token, json!({"name": "still mine"})).await.ok();

    // Before v10 the rules allow strings that hold integers, but nothing else.
    let old = s.create_room(&alice, json!({"room_version": "9"})).await;
    let old_path = room_path(&old, "state/m.room.power_levels/");
    let mut pl = s.get(&old_path, &alice.token).await.ok();
    pl["users_default"] = json!("abc");
    s.put(&old_path, &alice.token, pl.clone()).await.err(400, "M_BAD_JSON");
    pl["users_default"] = json!("3");
    s.put(&old_path, &alice.token, pl).await.ok();
}
