//! `GET /rooms/{roomId}/context/{eventId}` (limits, filters, lazy-loaded members, tokens that
//! page on through `/messages`, visibility) and `/messages`' `end` and `state`.

use crate::common::*;
use serde_json::{Value, json};

fn context_path(room: &str, event: &str, query: &str) -> String {
    room_path(room, &format!("context/{}?{query}", enc(event)))
}

fn bodies(events: &Value) -> Vec<String> {
    events.as_array().expect("list").iter().filter_map(|e| e["content"]["body"].as_str().map(str::to_owned)).collect()
}

fn members(state: &Value) -> Vec<String> {
    let mut out: Vec<String> = state
        .as_array()
        .expect("state")
        .iter()
        .filter(|e| e["type"] == "m.room.member")
        .filter_map(|e| e["state_key"].as_str().map(str::to_owned))
        .collect();
    out.sort();
    out
}

/// alice's public room with bob and carol joined and alice's messages m0..m9.
async fn room_with_messages() -> (TestServer, User, User, String, Vec<String>) {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let carol = s.register_user("carol").await;
    let room = public_room(&s, &alice, &[&bob, &carol]).await;
    let mut ids = Vec::new();
    for i in 0..10 {
        ids.push(s.send_text(&alice, &room, &format!("m{i}")).await);
    }
    (s, alice, bob, room, ids)
}

#[actix_rt::test]
async fn context_splits_the_limit_and_its_tokens_page_on() {
    let (s, _alice, bob, room, ids) = room_with_messages().await;
    let ctx = s.get(&context_path(&room, &ids[5], "limit=4"), &bob.token).await.ok();
    assert_eq!(ctx["event"]["event_id"], ids[5].as_str());
    assert_eq!(bodies(&ctx["events_before"]), vec!["m4", "m3"], "newest first");
    assert_eq!(bodies(&ctx["events_after"]), vec!["m6", "m7"]);
    assert!(members(&ctx["state"]).len() == 3, "full state by default: {ctx}");

    // start pages backwards from the oldest event returned, end forwards from the newest.
    let start = ctx["start"].as_str().expect("start");
    let back = s.get(&room_path(&room, &format!("messages?dir=b&limit=2&from={}", enc(start))), &bob.token).await.ok();
    assert_eq!(bodies(&back["chunk"]), vec!["m2", "m1"]);
    let end = ctx["end"].as_str().expect("end");
    let fwd = s.get(&room_path(&room, &format!("messages?dir=f&limit=2&from={}", enc(end))), &bob.token).await.ok();
    assert_eq!(bodies(&fwd["chunk"]), vec!["m8", "m9"]);

    // The default is 10, split in two; a huge limit is capped, not refused.
    let ctx = s.get(&context_path(&room, &ids[9], ""), &bob.token).await.ok();
    assert_eq!(ctx["events_before"].as_array().map(Vec::len), Some(5));
    assert_eq!(ctx["events_after"], json!([]));
    s.get(&context_path(&room, &ids[9], "limit=1000000"), &bob.token).await.ok();
    let none = s.get(&context_path(&room, &ids[5], "limit=0"), &bob.token).await.ok();
    assert_eq!((none["events_before"].clone(), none["events_after"].clone()), (json!([]), json!([])));
}

#[actix_rt::test]
async fn context_filters_and_lazy_loads_members() {
    let (s, alice, bob, room, ids) = room_with_messages().await;
    let lazy = enc(r#"{"lazy_load_members": true}"#);
    let ctx = s.get(&context_path(&room, &ids[5], &format!("limit=2&filter={lazy}")), &bob.token).await.ok();
    assert_eq!(members(&ctx["state"]), vec![alice.user_id.clone()], "only the senders' members: {ctx}");
    assert!(ctx["state"].as_array().expect("state").iter().all(|e| e["type"] == "m.room.member"), "{ctx}");

    // Type filters apply to the events around it and the state.
    let only_members = enc(r#"{"types": ["m.room.member"]}"#);
    let ctx = s.get(&context_path(&room, &ids[0], &format!("limit=20&filter={only_members}")), &bob.token).await.ok();
    assert_eq!(bodies(&ctx["events_after"]), Vec::<String>::new());
    assert!(!ctx["events_before"].as_array().expect("before").is_empty(), "{ctx}");
    assert!(ctx["state"].as_array().expect("state").iter().all(|e| e["type"] == "m.room.member"), "{ctx}");
}

#[actix_rt::test]
async fn context_refusals() {
    let (s, alice, bob, room, ids) = room_with_messages().await;
    let outsider = s.register_user("outsider").await;
    let other_room = s.create_room(&alice, json!({})).await;
    let other_event = s.send_text(&alice, &other_room, "elsewhere").await;

    s.get(&context_path(&room, "$unknown", ""), &bob.token).await.err(404, "M_NOT_FOUND");
    s.get(&context_path(&room, &other_event, ""), &alice.token).await.err(404, "M_NOT_FOUND");
    s.get(&context_path(&room, &ids[0], "limit=-1"), &bob.token).await.err(400, "M_INVALID_PARAM");
    s.get(&context_path(&room, &ids[0], "limit=x"), &bob.token).await.err(400, "M_INVALID_PARAM");
    s.get(&context_path(&room, &ids[0], "filter=nope"), &bob.token).await.err(400, "M_INVALID_PARAM");
    let bad_lazy = enc(r#"{"lazy_load_members": "yes"}"#);
    s.get(&context_path(&room, &ids[0], &format!("filter={bad_lazy}")), &bob.token).await.err(400, "M_BAD_JSON");

    // A room that hides history from those who were not there: a non-member sees nothing, and
    // a late joiner does not see what came before their join.
    let private = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    s.put(&room_path(&private, "state/m.room.history_visibility/"), &alice.token, json!({"history_visibility": "joined"})).await.ok();
    let early = s.send_text(&alice, &private, "before bob").await;
    s.get(&context_path(&private, &early, ""), &outsider.token).await.err(403, "M_FORBIDDEN");
    s.join(&bob, &private).await.ok();
    let late = s.send_text(&alice, &private, "after bob").await;
    s.get(&context_path(&private, &early, ""), &bob.token).await.err(404, "M_NOT_FOUND");
    let ctx = s.get(&context_path(&private, &late, "limit=20"), &bob.token).await.ok();
    assert!(!bodies(&ctx["events_before"]).contains(&"before bob".to_owned()), "{ctx}");
}

#[actix_rt::test]
async fn messages_end_is_omitted_once_the_timeline_is_exhausted() {
    let (s, alice, bob, room, _) = room_with_messages().await;
    // A page that is not full still names where the next one starts; the next is empty and
    // has no end.
    let first = s.get(&room_path(&room, "messages?dir=b&limit=100"), &bob.token).await.ok();
    let n = first["chunk"].as_array().expect("chunk").len();
    assert!(n > 10, "{first}");
    let end = first["end"].as_str().expect("end on a non-empty page");
    let last = s.get(&room_path(&room, &format!("messages?dir=b&limit=100&from={}", enc(end))), &bob.token).await.ok();
    assert_eq!(last["chunk"], json!([]));
    assert!(last.get("end").is_none(), "{last}");
    // Forwards alike.
    let fwd = s.get(&room_path(&room, "messages?dir=f&limit=100"), &bob.token).await.ok();
    let end = fwd["end"].as_str().expect("end");
    let after = s.get(&room_path(&room, &format!("messages?dir=f&from={}", enc(end))), &bob.token).await.ok();
    assert!(after.get("end").is_none() && after["chunk"] == json!([]), "{after}");

    // Lazy loading: the state holds the member events of the page's senders only.
    let lazy = enc(r#"{"lazy_load_members": true}"#);
    let page = s.get(&room_path(&room, &format!("messages?dir=b&limit=3&filter={lazy}")), &bob.token).await.ok();
    assert_eq!(members(&page["state"]), vec![alice.user_id.clone()], "{page}");
    let plain = s.get(&room_path(&room, "messages?dir=b&limit=3"), &bob.token).await.ok();
    assert!(plain.get("state").is_none(), "{plain}");
}

#[actix_rt::test]
async fn an_initial_sync_holding_the_whole_room_pages_back_from_now() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({})).await;
    s.send_text(&alice, &room, "hello").await;
    let sync = s.sync(&alice, None, 0).await;
    let tl = &sync["rooms"]["join"][&room]["timeline"];
    assert_eq!(tl["limited"], false, "{sync}");
    let prev = tl["prev_batch"].as_str().expect("prev_batch");
    let page = s.get(&room_path(&room, &format!("messages?dir=b&from={}", enc(prev))), &alice.token).await.ok();
    assert_eq!(bodies(&page["chunk"]).first().map(String::as_str), Some("hello"), "{page}");
    assert!(page["end"].is_string(), "{page}");
}
