//! What an incremental `/sync` says about what happened in its gap: a profile change is not a
//! new join, a room joined and left within the gap comes with its state, current state shows
//! even from a stretch of history the user may not see, new room-mates' presence, and the
//! filter's event format, type-narrowed limits and presence switch.

use crate::common::*;
use serde_json::{Value, json};

fn joined<'a>(sync: &'a Value, room: &str) -> &'a Value {
    &sync["rooms"]["join"][room]
}

async fn filtered(s: &TestServer, user: &User, since: Option<&str>, filter: &Value) -> Value {
    s.get(&sync_path(since, 0, Some(&filter.to_string())), &user.token).await.ok()
}

#[actix_rt::test]
async fn a_display_name_change_is_not_a_new_join() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({})).await;
    let since = next_batch(&s.sync(&alice, None, 0).await);

    let member = room_path(&room, &format!("state/m.room.member/{}", enc(&alice.user_id)));
    let renamed = s.put(&member, &alice.token, json!({"membership": "join", "displayname": "boris"})).await.ok();
    let msg = s.send_text(&alice, &room, "after the rename").await;
    let inc = s.sync(&alice, Some(&since), 0).await;
    let r = joined(&inc, &room);
    assert_eq!(ids(r["timeline"]["events"].as_array().expect("timeline")), vec![event_id(&renamed), msg], "only the gap: {inc}");
    assert_eq!(r["timeline"]["limited"], false, "{inc}");
    assert_eq!(r["state"]["events"], json!([]), "no full state: {inc}");

    // With those events filtered out, the room has nothing to say at all.
    let quiet = json!({"room": {"timeline": {"types": []}, "state": {"types": ["a.madeup.state"]}, "ephemeral": {"types": []}}});
    let inc = filtered(&s, &alice, Some(&since), &quiet).await;
    assert!(inc["rooms"]["join"].get(&room).is_none(), "{inc}");
}

#[actix_rt::test]
async fn a_room_joined_and_left_in_the_gap_comes_with_its_state() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    s.put(&room_path(&room, "state/a.madeup.state/"), &alice.token, json!({"my_key": 1})).await.ok();
    let filter = json!({"room": {"timeline": {"types": []}, "state": {"types": ["a.madeup.state"]}, "include_leave": true}});
    let since = next_batch(&filtered(&s, &bob, None, &filter).await);

    s.join(&bob, &room).await.ok();
    leave(&s, &bob, &room).await.ok();
    let inc = filtered(&s, &bob, Some(&since), &filter).await;
    let state = inc["rooms"]["leave"][&room]["state"]["events"].as_array().cloned().unwrap_or_default();
    assert_eq!(state.len(), 1, "{inc}");
    assert_eq!((state[0]["type"].clone(), state[0]["content"]["my_key"].clone()), (json!("a.madeup.state"), json!(1)));

    // A room left after a stay that began before the token gets only the gap's changes.
    s.join(&bob, &room).await.ok();
    let since = next_batch(&filtered(&s, &bob, None, &filter).await);
    leave(&s, &bob, &room).await.ok();
    let inc = filtered(&s, &bob, Some(&since), &filter).await;
    assert_eq!(inc["rooms"]["leave"][&room]["state"]["events"], json!([]), "{inc}");
}

#[actix_rt::test]
async fn current_state_shows_in_the_timeline_from_a_hidden_stretch() {
    let s = TestServer::start().await;
    let creator = s.register_user("creator").await;
    let syncer = s.register_user("syncer").await;
    let invitee = s.register_user("invitee").await;
    let room = public_room(&s, &creator, &[&syncer]).await;
    s.put(&room_path(&room, "state/m.room.history_visibility/"), &creator.token, json!({"history_visibility": "joined"})).await.ok();
    s.invite(&creator, &room, &invitee.user_id).await.ok();
    let since = next_batch(&s.sync(&syncer, None, 0).await);

    leave(&s, &syncer, &room).await.ok();
    s.send_text(&creator, &room, "said while syncer was away").await;
    let join = s.join(&invitee, &room).await.ok();
    s.join(&syncer, &room).await.ok();
    let inc = s.sync(&syncer, Some(&since), 0).await;
    let tl = joined(&inc, &room)["timeline"]["events"].as_array().cloned().unwrap_or_default();
    let join_id = join["event_id"].as_str().map(str::to_owned);
    let joins: Vec<&Value> = tl.iter().filter(|e| e["type"] == "m.room.member" && e["state_key"] == invitee.user_id.as_str()).collect();
    assert_eq!(joins.len(), 1, "the invitee's join is current state: {inc}");
    assert!(join_id.is_none() || joins[0]["event_id"].as_str() == join_id.as_deref(), "{inc}");
    assert!(!tl.iter().any(|e| e["content"]["body"] == "said while syncer was away"), "history visibility still holds: {inc}");
}

#[actix_rt::test]
async fn a_type_narrowed_timeline_is_limited_only_by_its_own_events() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({})).await;
    let msg = s.send_text(&alice, &room, "my message").await;
    for i in 0..12 {
        s.put(&room_path(&room, &format!("send/a.filler.type/f{i}")), &alice.token, json!({})).await.ok();
    }
    let one_message = json!({"room": {"timeline": {"limit": 1, "types": ["m.room.message"]}, "state": {"types": []}}});
    let sync = filtered(&s, &alice, None, &one_message).await;
    let tl = &joined(&sync, &room)["timeline"];
    assert_eq!(ids(tl["events"].as_array().expect("timeline")), vec![msg], "{sync}");
    assert_eq!(tl["limited"], false, "no earlier message exists: {sync}");

    s.send_text(&alice, &room, "a second").await;
    let sync = filtered(&s, &alice, None, &one_message).await;
    assert_eq!(joined(&sync, &room)["timeline"]["limited"], true, "{sync}");

    // A room joined since the token is limited unless its timeline reaches the room's creation,
    // whatever the types (as Synapse marks it): the client knows nothing of it yet.
    s.put(&room_path(&room, "state/m.room.join_rules/"), &alice.token, json!({"join_rule": "public"})).await.ok();
    let bob = s.register_user("bob").await;
    let ten_messages = json!({"room": {"timeline": {"limit": 10, "types": ["m.room.message"]}, "state": {"types": []}}});
    let since = next_batch(&filtered(&s, &bob, None, &ten_messages).await);
    s.join(&bob, &room).await.ok();
    let inc = filtered(&s, &bob, Some(&since), &ten_messages).await;
    let tl = &joined(&inc, &room)["timeline"];
    assert_eq!(tl["events"].as_array().map(Vec::len), Some(2), "{inc}");
    assert_eq!(tl["limited"], true, "{inc}");
}

#[actix_rt::test]
async fn the_federation_event_format() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({})).await;
    let msg = s.send_text(&alice, &room, "in federation form").await;
    let sync = filtered(&s, &alice, None, &json!({"event_format": "federation", "room": {"timeline": {"limit": 1}}})).await;
    let e = &joined(&sync, &room)["timeline"]["events"][0];
    for key in [
        "event_id",
        "content",
        "room_id",
        "sender",
        "origin_server_ts",
        "type",
        "prev_events",
        "auth_events",
        "depth",
        "hashes",
        "signatures",
    ] {
        assert!(e.get(key).is_some(), "{key} missing: {e}");
    }
    assert_eq!((e["event_id"].as_str(), e["content"]["body"].as_str()), (Some(msg.as_str()), Some("in federation form")));
    // The client form, by default.
    let sync = filtered(&s, &alice, None, &json!({"room": {"timeline": {"limit": 1}}})).await;
    assert!(joined(&sync, &room)["timeline"]["events"][0].get("prev_events").is_none(), "{sync}");
}

#[actix_rt::test]
async fn new_room_mates_presence_and_the_presence_filter() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    // Neither has ever set a presence (both sync with set_presence=offline).
    let quiet = |since: Option<&str>, filter: Option<&str>| {
        let mut p = sync_path(since, 0, filter);
        p.push_str("&set_presence=offline");
        p
    };
    let since_a = next_batch(&s.get(&quiet(None, None), &alice.token).await.ok());
    let since_b = next_batch(&s.get(&quiet(None, None), &bob.token).await.ok());
    s.join(&bob, &room).await.ok();

    // Each is news to the other, and reads as offline.
    let senders = |b: &Value| -> Vec<(String, String)> {
        b["presence"]["events"]
            .as_array()
            .expect("presence")
            .iter()
            .map(|e| (e["sender"].as_str().unwrap_or("").to_owned(), e["content"]["presence"].as_str().unwrap_or("").to_owned()))
            .collect()
    };
    let a = s.get(&quiet(Some(&since_a), None), &alice.token).await.ok();
    assert_eq!(senders(&a), vec![(bob.user_id.clone(), "offline".to_owned())], "{a}");
    let b = s.get(&quiet(Some(&since_b), None), &bob.token).await.ok();
    assert_eq!(senders(&b), vec![(alice.user_id.clone(), "offline".to_owned())], "{b}");
    // Once told, not again.
    let again = s.get(&quiet(Some(&next_batch(&b)), None), &bob.token).await.ok();
    assert!(senders(&again).is_empty(), "{again}");

    // A filter that leaves presence out gets none, new room-mates included.
    let carol = s.register_user("carol").await;
    s.put(&format!("/_matrix/client/v3/presence/{}/status", enc(&carol.user_id)), &carol.token, json!({"presence": "online"})).await.ok();
    let no_presence = json!({"presence": {"types": []}}).to_string();
    let since = next_batch(&s.get(&quiet(None, Some(&no_presence)), &alice.token).await.ok());
    s.join(&carol, &room).await.ok();
    let inc = s.get(&quiet(Some(&since), Some(&no_presence)), &alice.token).await.ok();
    assert!(senders(&inc).is_empty(), "{inc}");
    assert!(joined(&inc, &room).is_object(), "the join itself still comes: {inc}");
}
