//! Poison events: content too deep to store is refused at the edge, and one unreadable stored
//! row never fails a read, a sync, the room's loading, evacuation or purge.

use crate::common::*;
use serde_json::{Value, json};

const V3: &str = "/_matrix/client/v3";

fn room_path(room: &str, rest: &str) -> String {
    format!("{V3}/rooms/{}/{rest}", enc(room))
}

/// An object nesting `depth` levels: `{"a":{"a":...{}}}` (a depth of 1 is `{}`).
fn nested(depth: usize) -> Value {
    let mut v = json!({});
    for _ in 1..depth {
        v = json!({ "a": v });
    }
    v
}

/// A message content nesting `depth` levels in all.
fn deep_message(depth: usize) -> Value {
    let mut c = nested(depth);
    c["msgtype"] = json!("m.text");
    c["body"] = json!("deep");
    c
}

fn event_ids(chunk: &Value) -> Vec<String> {
    chunk.as_array().map(|a| a.iter().filter_map(|e| e["event_id"].as_str().map(str::to_owned)).collect()).unwrap_or_default()
}

/// Replaces an event's stored JSON with text serde_json cannot read back (200 levels deep),
/// as the old edge let through.
async fn poison(s: &TestServer, event_id: &str) {
    use diesel::RunQueryDsl;
    use diesel::sql_types::Text;
    let bad = format!(r#"{{"type":"m.room.message","content":{}{}}}"#, "[".repeat(200), "]".repeat(200));
    let id = event_id.to_owned();
    let n = s
        .server
        .services
        .db
        .run(move |c| {
            Ok(diesel::sql_query("UPDATE events SET json = ? WHERE event_id = ?").bind::<Text, _>(bad).bind::<Text, _>(id).execute(c)?)
        })
        .await
        .expect("poison the row");
    assert_eq!(n, 1, "the event row exists");
}

#[actix_rt::test]
async fn content_nested_too_deep_is_refused_with_bad_json() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;

    // 127 levels: serde_json parses it, but stored inside an event it would not read back.
    let deep = deep_message(127);
    s.put(&room_path(&room, "send/m.room.message/deep1"), &alice.token, deep.clone()).await.err(400, "M_BAD_JSON");
    s.put(&room_path(&room, "state/org.example.deep/"), &alice.token, deep.clone()).await.err(400, "M_BAD_JSON");
    let mut member = nested(127);
    member["membership"] = json!("join");
    s.put(&room_path(&room, &format!("state/m.room.member/{}", enc(&alice.user_id))), &alice.token, member).await.err(400, "M_BAD_JSON");
    // Past serde's own limit it is still a bad body, not "not JSON".
    let body = format!("{}{}", "[".repeat(300), "]".repeat(300));
    let wrapped = format!(r#"{{"msgtype":"m.text","body":"x","a":{body}}}"#);
    s.raw("PUT", &room_path(&room, "send/m.room.message/deep2"), Some(&alice.token), wrapped.into_bytes()).await.err(400, "M_BAD_JSON");
    // Brackets inside strings are text, not nesting.
    let text = "[{".repeat(500);
    let id = s.send_text(&alice, &room, &text).await;
    let ev = s.get(&room_path(&room, &format!("event/{}", enc(&id))), &alice.token).await.ok();
    assert_eq!(ev["content"]["body"], text);
    // The limit applies to the event as built: content at the body limit is one level too deep.
    s.put(&room_path(&room, "send/m.room.message/deep3"), &alice.token, deep_message(64)).await.err(400, "M_BAD_JSON");
    s.put(&room_path(&room, "send/m.room.message/deep4"), &alice.token, deep_message(63)).await.ok();

    // Fields the PDU format bounds to 255 bytes.
    let long = "t".repeat(256);
    s.put(&room_path(&room, &format!("send/{long}/long1")), &alice.token, json!({})).await.err(413, "M_TOO_LARGE");
    s.put(&room_path(&room, &format!("state/org.example.k/{long}")), &alice.token, json!({})).await.err(413, "M_TOO_LARGE");

    // Ordinary nesting is accepted and reads back everywhere.
    let id = s.put(&room_path(&room, "send/m.room.message/deep5"), &alice.token, deep_message(20)).await.ok()["event_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ev = s.get(&room_path(&room, &format!("event/{}", enc(&id))), &alice.token).await.ok();
    assert_eq!(ev["content"], deep_message(20));
    let page = s.get(&room_path(&room, "messages?dir=b&limit=5"), &alice.token).await.ok();
    assert!(event_ids(&page["chunk"]).contains(&id));
    let sync = s.sync(&alice, None, 0).await;
    assert!(timeline(&sync, &room).iter().any(|e| e["event_id"] == id.as_str()));
}

#[actix_rt::test]
async fn an_unreadable_stored_event_does_not_brick_the_room() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let carol = s.register_user("carol").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    s.join(&bob, &room).await.ok();
    s.join(&carol, &room).await.ok();
    let before = s.send_text(&alice, &room, "before").await;
    let bad_msg = s.send_text(&bob, &room, "to be poisoned").await;
    let after = s.send_text(&alice, &room, "after").await;
    let since = s.sync(&alice, None, 0).await["next_batch"].as_str().unwrap().to_owned();
    // Bob's join (current state) and a message become unreadable.
    let state = s.get(&room_path(&room, "state"), &alice.token).await.ok();
    let bob_join =
        state.as_array().unwrap().iter().find(|e| e["state_key"] == bob.user_id.as_str()).unwrap()["event_id"].as_str().unwrap().to_owned();
    poison(&s, &bad_msg).await;
    poison(&s, &bob_join).await;

    // A restart: the room is loaded again from the store, past the unreadable rows.
    let s = s.restart().await;
    assert_eq!(s.server.services.directory.active_rooms(), 0);
    let newer = s.send_text(&alice, &room, "after restart").await;

    // History reads skip the bad row, and paging reaches past it.
    let page = s.get(&room_path(&room, "messages?dir=b&limit=3"), &alice.token).await.ok();
    let ids = event_ids(&page["chunk"]);
    assert_eq!(ids, vec![newer.clone(), after.clone(), before.clone()], "page: {page}");
    assert!(page["end"].is_string(), "a full page names the next: {page}");
    s.get(&room_path(&room, &format!("event/{}", enc(&bad_msg))), &alice.token).await.err(404, "M_NOT_FOUND");
    s.get(&room_path(&room, "state"), &alice.token).await.ok();
    s.get(&room_path(&room, "members"), &carol.token).await.ok();

    // Syncs, initial and incremental, for every member including the one whose join is unreadable.
    for u in [&alice, &bob, &carol] {
        let sync = s.sync(u, None, 0).await;
        assert!(sync["rooms"]["join"][&room].is_object(), "{} initial sync: {sync}", u.user_id);
    }
    let inc = s.sync(&alice, Some(&since), 0).await;
    assert_eq!(timeline(&inc, &room).iter().map(|e| e["event_id"].as_str().unwrap()).collect::<Vec<_>>(), vec![newer.as_str()]);

    // The room still works: the unreadable member can still leave and come back.
    s.post(&room_path(&room, "leave"), &bob.token, json!({})).await.ok();
    s.join(&bob, &room).await.ok();
    s.send_text(&bob, &room, "bob is back").await;
    // Redacting the unreadable message succeeds and leaves it readable, redacted.
    let redaction = s.put(&room_path(&room, &format!("redact/{}/r1", enc(&bad_msg))), &alice.token, json!({})).await.ok();
    let target = s.get(&room_path(&room, &format!("event/{}", enc(&bad_msg))), &alice.token).await.ok();
    assert_eq!(target["content"], json!({}));
    assert_eq!(target["sender"], bob.user_id.as_str());
    assert_eq!(target["unsigned"]["redacted_because"]["event_id"], redaction["event_id"]);

    // Evacuate and purge reach the room.
    let body = s.post(&format!("/_dendrite/admin/evacuateRoom/{}", enc(&room)), &admin.token, json!({})).await.ok();
    assert_eq!(body["affected"].as_array().map(Vec::len), Some(3), "{body}");
    s.post(&format!("/_dendrite/admin/purgeRoom/{}", enc(&room)), &admin.token, json!({})).await.ok();
    s.get(&room_path(&room, "state"), &alice.token).await.err(404, "M_NOT_FOUND");
}
