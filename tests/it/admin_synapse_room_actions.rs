//! Synapse's room admin API, history and actions: messages, context and timestamp_to_event for
//! an admin who is not in the room; block (joins and invites refused, the flag kept);
//! make_room_admin; force-join; forward extremities; with Synapse 1.163's shapes and errors.

use crate::common::*;
use serde_json::{Value, json};

fn room_admin_path(room: &str, rest: &str) -> String {
    sa(&format!("v1/rooms/{}/{rest}", enc(room)))
}

fn bodies(chunk: &Value) -> Vec<String> {
    chunk.as_array().unwrap().iter().filter_map(|e| e["content"]["body"].as_str().map(str::to_owned)).collect()
}

#[actix_rt::test]
async fn an_admin_reads_messages_of_a_room_they_are_not_in() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    let room = s
        .create_room(
            &alice,
            json!({"preset": "private_chat", "initial_state": [
        {"type": "m.room.history_visibility", "state_key": "", "content": {"history_visibility": "joined"}}]}),
        )
        .await;
    for i in 0..5 {
        s.send_text(&alice, &room, &format!("m{i}")).await;
    }
    // The client API refuses the admin; the admin API does not.
    s.get(&room_path(&room, "messages"), &admin.token).await.err(403, "M_FORBIDDEN");
    let first = aget(&s, &admin.token, &room_admin_path(&room, "messages?limit=3")).await.ok();
    assert_eq!(first["chunk"][0]["type"], "m.room.create", "forwards from the start by default: {first}");
    let mut all = bodies(&first["chunk"]);
    let mut from = first["end"].as_str().unwrap().to_owned();
    loop {
        let page = aget(&s, &admin.token, &room_admin_path(&room, &format!("messages?limit=3&from={}", enc(&from)))).await.ok();
        all.extend(bodies(&page["chunk"]));
        match page["end"].as_str() {
            Some(e) => from = e.to_owned(),
            None => break,
        }
    }
    assert_eq!(all, vec!["m0", "m1", "m2", "m3", "m4"]);
    let back = aget(&s, &admin.token, &room_admin_path(&room, "messages?dir=b&limit=2")).await.ok();
    assert_eq!(bodies(&back["chunk"]), vec!["m4", "m3"]);
    let filtered =
        aget(&s, &admin.token, &room_admin_path(&room, &format!("messages?limit=50&filter={}", enc(r#"{"types":["m.room.message"]}"#))))
            .await
            .ok();
    assert_eq!(filtered["chunk"].as_array().unwrap().len(), 5, "{filtered}");

    aget(&s, &admin.token, &room_admin_path(&room, "messages?dir=x")).await.err(400, "M_INVALID_PARAM");
    aget(&s, &admin.token, &room_admin_path(&room, "messages?limit=-1")).await.err(400, "M_INVALID_PARAM");
    aget(&s, &alice.token, &room_admin_path(&room, "messages")).await.err(403, "M_FORBIDDEN");
    let unknown = aget(&s, &admin.token, &room_admin_path("!nope:test.local", "messages")).await.ok();
    assert_eq!(unknown["chunk"], json!([]), "{unknown}");
    assert!(unknown.get("end").is_none());
}

#[actix_rt::test]
async fn an_admin_reads_an_events_context_and_finds_events_by_time() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({"preset": "private_chat"})).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(s.send_text(&alice, &room, &format!("m{i}")).await);
    }
    let ctx = aget(&s, &admin.token, &room_admin_path(&room, &format!("context/{}?limit=2", enc(&ids[2])))).await.ok();
    assert_eq!(ctx["event"]["event_id"], ids[2]);
    assert_eq!(bodies(&ctx["events_before"]), vec!["m1"]);
    assert_eq!(bodies(&ctx["events_after"]), vec!["m3"]);
    assert!(ctx["state"].as_array().unwrap().iter().any(|e| e["type"] == "m.room.create"));
    assert!(ctx["start"].is_string() && ctx["end"].is_string());
    aget(&s, &admin.token, &room_admin_path(&room, "context/$nope")).await.err(404, "M_NOT_FOUND");
    aget(&s, &admin.token, &room_admin_path("!nope:test.local", &format!("context/{}", enc(&ids[0])))).await.err(404, "M_NOT_FOUND");
    aget(&s, &admin.token, &room_admin_path(&room, &format!("context/{}?limit=-1", enc(&ids[0])))).await.err(400, "M_INVALID_PARAM");

    let created = aget(&s, &admin.token, &room_admin_path(&room, "timestamp_to_event?ts=0")).await.ok();
    assert!(created["event_id"].is_string() && created["origin_server_ts"].is_i64(), "{created}");
    let last = aget(&s, &admin.token, &room_admin_path(&room, &format!("timestamp_to_event?ts={}&dir=b", now_ms() + 60_000))).await.ok();
    assert_eq!(last["event_id"], ids[4]);
    aget(&s, &admin.token, &room_admin_path(&room, "timestamp_to_event?ts=0&dir=b")).await.err(404, "M_NOT_FOUND");
    aget(&s, &admin.token, &room_admin_path(&room, "timestamp_to_event")).await.err(400, "M_MISSING_PARAM");
    aget(&s, &admin.token, &room_admin_path(&room, "timestamp_to_event?ts=abc")).await.err(400, "M_INVALID_PARAM");
    aget(&s, &admin.token, &room_admin_path(&room, "timestamp_to_event?ts=0&dir=x")).await.err(400, "M_INVALID_PARAM");
    aget(&s, &admin.token, &room_admin_path("!nope:test.local", "timestamp_to_event?ts=0")).await.err(404, "M_NOT_FOUND");
}

#[actix_rt::test]
async fn a_blocked_room_refuses_joins_and_invites_until_unblocked() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let carol = s.register_user("carol").await;
    let room = public_room(&s, &alice, &[&carol]).await;
    let block = room_admin_path(&room, "block");
    assert_eq!(aget(&s, &admin.token, &block).await.ok(), json!({"block": false}));
    assert_eq!(aput(&s, &admin.token, &block, json!({"block": true})).await.ok(), json!({"block": true}));
    assert_eq!(aget(&s, &admin.token, &block).await.ok(), json!({"block": true, "user_id": admin.user_id}));

    s.join(&bob, &room).await.err(403, "M_UNKNOWN");
    s.invite(&alice, &room, &bob.user_id).await.err(403, "M_UNKNOWN");
    // Leaving and messages still work.
    s.send_text(&alice, &room, "still here").await;
    leave(&s, &carol, &room).await.ok();

    // The block is kept in the store.
    let s = s.restart().await;
    assert_eq!(aget(&s, &admin.token, &block).await.ok()["block"], true);
    s.join(&carol, &room).await.err(403, "M_UNKNOWN");

    assert_eq!(aput(&s, &admin.token, &block, json!({"block": false})).await.ok(), json!({"block": false}));
    s.join(&bob, &room).await.ok();
    assert!(s.joined_rooms(&bob).await.contains(&room));

    // A room this server does not know may be blocked ahead.
    let unknown = room_admin_path("!later:test.local", "block");
    aput(&s, &admin.token, &unknown, json!({"block": true})).await.ok();
    assert_eq!(aget(&s, &admin.token, &unknown).await.ok()["block"], true);

    aput(&s, &admin.token, &block, json!({"block": "yes"})).await.err(400, "M_BAD_JSON");
    aput(&s, &admin.token, &block, json!({})).await.err(400, "M_MISSING_PARAM");
    call_raw(&s, "PUT", &block, &admin.token, b"").await.err(400, "M_NOT_JSON");
    aget(&s, &admin.token, &room_admin_path("notaroom", "block")).await.err(400, "M_UNKNOWN");
    aput(&s, &admin.token, &room_admin_path("notaroom", "block"), json!({"block": true})).await.err(400, "M_UNKNOWN");
    aget(&s, &bob.token, &block).await.err(403, "M_FORBIDDEN");
}

#[actix_rt::test]
async fn make_room_admin_raises_a_user_through_the_most_powerful_local_member() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = s.create_room(&alice, json!({"preset": "private_chat", "room_alias_name": "priv"})).await;

    // The admin, not in the room: raised to alice's level and invited by her.
    apost(&s, &admin.token, &room_admin_path(&room, "make_room_admin"), json!({})).await.ok();
    let pl = power_levels(&s, &alice, &room).await;
    assert_eq!(pl["users"][&admin.user_id], 100, "{pl}");
    let sync = s.sync(&admin, None, 0).await;
    assert!(sync["rooms"]["invite"].get(&room).is_some(), "invited: {sync}");
    s.join(&admin, &room).await.ok();

    // Another user, named by alias.
    apost(&s, &admin.token, &sa(&format!("v1/rooms/{}/make_room_admin", enc("#priv:test.local"))), json!({"user_id": bob.user_id}))
        .await
        .ok();
    assert_eq!(power_levels(&s, &alice, &room).await["users"][&bob.user_id], 100);

    apost(&s, &admin.token, &room_admin_path("!nope:test.local", "make_room_admin"), json!({})).await.err(400, "M_UNKNOWN");
    apost(&s, &admin.token, &room_admin_path("notaroom", "make_room_admin"), json!({})).await.err(400, "M_UNKNOWN");
    apost(&s, &admin.token, &sa(&format!("v1/rooms/{}/make_room_admin", enc("#nope:test.local"))), json!({})).await.err(404, "M_NOT_FOUND");
    apost(&s, &bob.token, &room_admin_path(&room, "make_room_admin"), json!({})).await.err(403, "M_FORBIDDEN");

    // Nobody local joined with power: 400.
    let lonely = s.create_room(&alice, json!({"preset": "private_chat"})).await;
    leave(&s, &alice, &lonely).await.ok();
    apost(&s, &admin.token, &room_admin_path(&lonely, "make_room_admin"), json!({})).await.err(400, "M_UNKNOWN");
}

#[actix_rt::test]
async fn make_room_admin_in_a_v12_room_uses_the_creator() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({"preset": "private_chat", "room_version": "12"})).await;
    apost(&s, &admin.token, &room_admin_path(&room, "make_room_admin"), json!({})).await.ok();
    assert_eq!(power_levels(&s, &alice, &room).await["users"][&admin.user_id], 100);
}

#[actix_rt::test]
async fn force_join_invites_from_the_admin_when_the_room_is_not_public() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let public = public_room(&s, &alice, &[]).await;
    let body = json!({"user_id": bob.user_id});
    let r = apost(&s, &admin.token, &sa(&format!("v1/join/{}", enc(&public))), body.clone()).await.ok();
    assert_eq!(r, json!({"room_id": public}));
    assert!(s.joined_rooms(&bob).await.contains(&public));

    // A private room: the admin must be able to invite.
    let private = s.create_room(&alice, json!({"preset": "private_chat", "room_alias_name": "hidden"})).await;
    let by_alias = sa(&format!("v1/join/{}", enc("#hidden:test.local")));
    apost(&s, &admin.token, &by_alias, body.clone()).await.err(403, "M_FORBIDDEN");
    s.invite(&alice, &private, &admin.user_id).await.ok();
    s.join(&admin, &private).await.ok();
    set_level(&s, &alice, &private, &admin.user_id, 100).await.ok();
    assert_eq!(apost(&s, &admin.token, &by_alias, body.clone()).await.ok(), json!({"room_id": private}));
    assert!(s.joined_rooms(&bob).await.contains(&private));

    let path = sa(&format!("v1/join/{}", enc(&public)));
    apost(&s, &admin.token, &path, json!({"user_id": "@nobody:test.local"})).await.err(404, "M_NOT_FOUND");
    apost(&s, &admin.token, &path, json!({"user_id": "@x:other.org"})).await.err(400, "M_UNKNOWN");
    apost(&s, &admin.token, &path, json!({})).await.err(400, "M_MISSING_PARAM");
    call_raw(&s, "POST", &path, &admin.token, b"").await.err(400, "M_NOT_JSON");
    apost(&s, &admin.token, &sa("v1/join/notaroom"), body.clone()).await.err(400, "M_UNKNOWN");
    apost(&s, &admin.token, &sa(&format!("v1/join/{}", enc("#nope:test.local"))), body.clone()).await.err(404, "M_NOT_FOUND");
    apost(&s, &admin.token, &sa(&format!("v1/join/{}", enc("!nope:test.local"))), body.clone()).await.err(404, "M_UNKNOWN");
    apost(&s, &bob.token, &path, body).await.err(403, "M_FORBIDDEN");
}

#[actix_rt::test]
async fn forward_extremities_are_the_newest_event() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({"room_alias_name": "fx"})).await;
    let last = s.send_text(&alice, &room, "newest").await;
    let fx = aget(&s, &admin.token, &room_admin_path(&room, "forward_extremities")).await.ok();
    assert_eq!(fx["count"], 1, "{fx}");
    assert_eq!(fx["results"][0]["event_id"], last);
    assert!(fx["results"][0]["depth"].as_i64().unwrap() > 1 && fx["results"][0]["received_ts"].is_i64());
    let by_alias = sa(&format!("v1/rooms/{}/forward_extremities", enc("#fx:test.local")));
    assert_eq!(aget(&s, &admin.token, &by_alias).await.ok(), fx);
    assert_eq!(adelete(&s, &admin.token, &by_alias).await.ok(), json!({"deleted": 0}));
    assert_eq!(
        aget(&s, &admin.token, &room_admin_path("!nope:test.local", "forward_extremities")).await.ok(),
        json!({"count": 0, "results": []})
    );
    aget(&s, &admin.token, &room_admin_path("notaroom", "forward_extremities")).await.err(400, "M_UNKNOWN");
    aget(&s, &admin.token, &sa(&format!("v1/rooms/{}/forward_extremities", enc("#nope:test.local")))).await.err(404, "M_NOT_FOUND");
    aget(&s, &alice.token, &by_alias).await.err(403, "M_FORBIDDEN");
}
