//! Server-side search (`POST /search`, room_events) and the Dendrite reindex, over HTTP; paging
//! numbers bounded and query syntax searched as plain words (issue 8, item 2).

use crate::common::*;
use serde_json::{Value, json};
use std::collections::HashSet;

const SEARCH: &str = "/_matrix/client/v3/search";

async fn search(s: &TestServer, u: &User, criteria: Value) -> Value {
    let b = s.post(SEARCH, &u.token, json!({"search_categories": {"room_events": criteria}})).await.ok();
    b["search_categories"]["room_events"].clone()
}

async fn search_term(s: &TestServer, u: &User, term: &str) -> Value {
    search(s, u, json!({"search_term": term})).await
}

fn result_ids(room_events: &Value) -> Vec<String> {
    room_events["results"].as_array().expect("results").iter().map(|r| r["result"]["event_id"].as_str().unwrap().to_owned()).collect()
}

fn result_rooms(room_events: &Value) -> HashSet<String> {
    room_events["results"].as_array().expect("results").iter().map(|r| r["result"]["room_id"].as_str().unwrap().to_owned()).collect()
}

async fn set_state(s: &TestServer, u: &User, room: &str, kind: &str, content: Value) -> String {
    let b = s.put(&room_path(room, &format!("state/{kind}/")), &u.token, content).await.ok();
    b["event_id"].as_str().unwrap().to_owned()
}

async fn send(s: &TestServer, u: &User, room: &str, content: Value) -> String {
    let txn = format!("{}", ensemble::ids::now_ms()) + &ensemble::ids::random_hex(4);
    let b = s.put(&room_path(room, &format!("send/m.room.message/{txn}")), &u.token, content).await.ok();
    b["event_id"].as_str().unwrap().to_owned()
}

async fn edit(s: &TestServer, u: &User, room: &str, original: &str, new_body: &str) -> String {
    send(
        s,
        u,
        room,
        json!({
            "msgtype": "m.text",
            "body": format!("* {new_body}"),
            "m.new_content": {"msgtype": "m.text", "body": new_body},
            "m.relates_to": {"rel_type": "m.replace", "event_id": original},
        }),
    )
    .await
}

async fn redact(s: &TestServer, u: &User, room: &str, event: &str) {
    let txn = format!("r{}", ensemble::ids::random_hex(8));
    s.put(&room_path(room, &format!("redact/{}/{txn}", enc(event))), &u.token, json!({"reason": "test"})).await.ok();
}

/// The name of the live search index directory (changes when a reindex is swapped in).
fn current_index(s: &TestServer) -> String {
    std::fs::read_to_string(s.config.data_dir.join("search").join("CURRENT"))
        .map(|x| x.trim().to_owned())
        .unwrap_or_else(|_| "idx-0".into())
}

fn body(term: &str) -> Value {
    json!({"search_categories": {"room_events": {"search_term": term}}})
}

/// The event IDs of a whole `/search` answer.
fn answer_ids(b: &Value) -> Vec<String> {
    result_ids(&b["search_categories"]["room_events"])
}

#[actix_rt::test]
async fn finds_messages_names_and_topics_in_joined_rooms_only() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let a =
        s.create_room(&alice, json!({"preset": "public_chat", "name": "Pelican harbour", "topic": "All about pelican migration"})).await;
    let msg = s.send_text(&alice, &a, "the pelican flew south").await;
    s.send_text(&alice, &a, "nothing to see here").await;
    let b = s.create_room(&bob, json!({"preset": "private_chat"})).await;
    let secret = s.send_text(&bob, &b, "a secret pelican plan").await;
    flush_search(&s).await;

    let all = search_term(&s, &alice, "pelican").await;
    assert_eq!(all["count"], 3, "{all}");
    assert_eq!(result_rooms(&all), HashSet::from([a.clone()]));
    let kinds: HashSet<String> =
        all["results"].as_array().unwrap().iter().map(|r| r["result"]["type"].as_str().unwrap().to_owned()).collect();
    assert_eq!(kinds, HashSet::from(["m.room.message".to_owned(), "m.room.name".to_owned(), "m.room.topic".to_owned()]));
    assert!(!result_ids(&all).contains(&secret));
    assert!(all["highlights"].as_array().unwrap().iter().any(|h| h == "pelican"), "{all}");
    for r in all["results"].as_array().unwrap() {
        assert!(r["rank"].is_number(), "{r}");
    }

    // Keys restrict what is searched.
    let body = search(&s, &alice, json!({"search_term": "pelican", "keys": ["content.body"]})).await;
    assert_eq!(result_ids(&body), vec![msg.clone()]);
    let name = search(&s, &alice, json!({"search_term": "pelican", "keys": ["content.name"]})).await;
    assert_eq!(name["count"], 1);
    assert_eq!(name["results"][0]["result"]["type"], "m.room.name");
    assert_eq!(name["results"][0]["result"]["content"]["name"], "Pelican harbour");
    let topic = search(&s, &alice, json!({"search_term": "migration", "keys": ["content.topic"]})).await;
    assert_eq!(topic["count"], 1);
    assert_eq!(topic["results"][0]["result"]["type"], "m.room.topic");
    let none = search(&s, &alice, json!({"search_term": "migration", "keys": ["content.body", "content.name"]})).await;
    assert_eq!(none["count"], 0);
    let two = search(&s, &alice, json!({"search_term": "pelican", "keys": ["content.body", "content.name"]})).await;
    assert_eq!(two["count"], 2);

    // Bob only finds his own room's message.
    let bobs = search_term(&s, &bob, "pelican").await;
    assert_eq!(result_ids(&bobs), vec![secret.clone()]);
    // Being invited is not being joined.
    s.invite(&bob, &b, &alice.user_id).await.ok();
    assert_eq!(search_term(&s, &alice, "pelican").await["count"], 3);
    // Joining opens the room; leaving closes it.
    s.join(&alice, &b).await.ok();
    assert_eq!(search_term(&s, &alice, "pelican").await["count"], 4);
    s.post(&room_path(&b, "leave"), &alice.token, json!({})).await.ok();
    let after = search_term(&s, &alice, "pelican").await;
    assert_eq!(after["count"], 3);
    assert!(!result_ids(&after).contains(&secret));
    // A term nobody used.
    assert_eq!(search_term(&s, &alice, "flamingo").await["count"], 0);
}

#[actix_rt::test]
async fn filter_rooms_restricts_the_search() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let r1 = s.create_room(&alice, json!({})).await;
    let r2 = s.create_room(&alice, json!({})).await;
    let e1 = s.send_text(&alice, &r1, "otter one").await;
    let e2 = s.send_text(&alice, &r2, "otter two").await;
    flush_search(&s).await;
    assert_eq!(search_term(&s, &alice, "otter").await["count"], 2);
    let only2 = search(&s, &alice, json!({"search_term": "otter", "filter": {"rooms": [r2]}})).await;
    assert_eq!(result_ids(&only2), vec![e2.clone()]);
    assert_eq!(only2["count"], 1);
    let not2 = search(&s, &alice, json!({"search_term": "otter", "filter": {"not_rooms": [r2]}})).await;
    assert_eq!(result_ids(&not2), vec![e1.clone()]);
    // A room alice is not in does not widen anything.
    let foreign = search(&s, &alice, json!({"search_term": "otter", "filter": {"rooms": ["!elsewhere:test.local"]}})).await;
    assert_eq!(foreign["count"], 0);
    assert!(foreign["results"].as_array().unwrap().is_empty());
}

#[actix_rt::test]
async fn pagination_returns_every_result_once_and_recent_order_is_newest_first() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({})).await;
    let mut sent = Vec::new();
    for i in 0..25 {
        sent.push(s.send_text(&alice, &room, &format!("kumquat number {i}")).await);
    }
    s.send_text(&alice, &room, "no fruit here").await;
    flush_search(&s).await;

    for order in ["rank", "recent"] {
        let mut seen = Vec::new();
        let mut next: Option<String> = None;
        let mut pages = 0;
        loop {
            let path = match &next {
                Some(n) => format!("{SEARCH}?next_batch={}", enc(n)),
                None => SEARCH.to_owned(),
            };
            let body = s
                .post(
                    &path,
                    &alice.token,
                    json!({"search_categories": {"room_events": {"search_term": "kumquat", "order_by": order, "filter": {"limit": 10}}}}),
                )
                .await
                .ok();
            let re = &body["search_categories"]["room_events"];
            assert_eq!(re["count"], 25, "{re}");
            let ids = result_ids(re);
            assert!(ids.len() <= 10);
            seen.extend(ids);
            pages += 1;
            match re["next_batch"].as_str() {
                Some(n) => next = Some(n.to_owned()),
                None => break,
            }
            assert!(pages < 10, "pagination does not terminate");
        }
        assert_eq!(pages, 3);
        assert_eq!(seen.len(), 25, "{order}");
        assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 25, "no duplicates ({order})");
        assert_eq!(seen.iter().collect::<HashSet<_>>(), sent.iter().collect::<HashSet<_>>());
        if order == "recent" {
            let newest_first: Vec<String> = sent.iter().rev().cloned().collect();
            assert_eq!(seen, newest_first);
        }
    }
    // One page with everything, recent order.
    let all = search(&s, &alice, json!({"search_term": "kumquat", "order_by": "recent", "filter": {"limit": 50}})).await;
    assert_eq!(result_ids(&all), sent.iter().rev().cloned().collect::<Vec<_>>());
    assert!(all.get("next_batch").is_none_or(Value::is_null), "{all}");
}

#[actix_rt::test]
async fn event_context_returns_surrounding_events() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({})).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(s.send_text(&alice, &room, &format!("filler before {i}")).await);
    }
    let target = s.send_text(&alice, &room, "the needle itself").await;
    for i in 0..3 {
        ids.push(s.send_text(&alice, &room, &format!("filler after {i}")).await);
    }
    flush_search(&s).await;
    let re = search(
        &s,
        &alice,
        json!({"search_term": "needle", "event_context": {"before_limit": 2, "after_limit": 2, "include_profile": true}}),
    )
    .await;
    assert_eq!(result_ids(&re), vec![target.clone()]);
    let ctx = &re["results"][0]["context"];
    let before: HashSet<String> =
        ctx["events_before"].as_array().unwrap().iter().map(|e| e["event_id"].as_str().unwrap().to_owned()).collect();
    let after: HashSet<String> =
        ctx["events_after"].as_array().unwrap().iter().map(|e| e["event_id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(before, HashSet::from([ids[1].clone(), ids[2].clone()]), "{ctx}");
    assert_eq!(after, HashSet::from([ids[3].clone(), ids[4].clone()]), "{ctx}");
    assert!(ctx["start"].is_string() && ctx["end"].is_string(), "{ctx}");
    assert!(ctx["profile_info"][&alice.user_id].is_object(), "{ctx}");
    // Without event_context there is no context.
    let plain = search_term(&s, &alice, "needle").await;
    assert!(plain["results"][0].get("context").is_none_or(Value::is_null));
}

#[actix_rt::test]
async fn redacted_messages_disappear_and_edits_replace_the_original() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({})).await;
    let walrus = s.send_text(&alice, &room, "an ephemeral walrus").await;
    let original = s.send_text(&alice, &room, "the colour is mauve").await;
    flush_search(&s).await;
    assert_eq!(result_ids(&search_term(&s, &alice, "walrus").await), vec![walrus.clone()]);
    assert_eq!(result_ids(&search_term(&s, &alice, "mauve").await), vec![original.clone()]);

    redact(&s, &alice, &room, &walrus).await;
    let edited = edit(&s, &alice, &room, &original, "the colour is teal").await;
    flush_search(&s).await;
    assert_eq!(search_term(&s, &alice, "walrus").await["count"], 0);
    let teal = search_term(&s, &alice, "teal").await;
    assert_eq!(teal["count"], 1, "{teal}");
    assert_eq!(result_ids(&teal), vec![edited.clone()]);
    assert_eq!(search_term(&s, &alice, "mauve").await["count"], 0);
    assert_eq!(search_term(&s, &alice, "colour").await["count"], 1);
}

/// What the index should hold after everything below: messages, names, topics; an edit counts
/// once, redacted messages and purged rooms not at all.
#[actix_rt::test]
async fn reindex_rebuilds_the_same_documents_and_search_keeps_answering() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    let mut expected = 0u64;

    let a = s.create_room(&alice, json!({"name": "Reindex lagoon", "topic": "heron watching"})).await;
    expected += 2;
    set_state(&s, &alice, &a, "m.room.name", json!({"name": "Reindex lagoon renamed"})).await;
    expected += 1;
    for i in 0..30 {
        s.send_text(&alice, &a, &format!("heron sighting {i}")).await;
    }
    expected += 30;
    let doomed = s.send_text(&alice, &a, "a redacted heron").await;
    redact(&s, &alice, &a, &doomed).await;
    let original = s.send_text(&alice, &a, "heron colour grey").await;
    edit(&s, &alice, &a, &original, "heron colour blue").await;
    expected += 1;
    // Not searchable: no body.
    send(&s, &alice, &a, json!({"msgtype": "m.text"})).await;

    let purged = s.create_room(&alice, json!({"name": "Purged heron room"})).await;
    for i in 0..5 {
        s.send_text(&alice, &purged, &format!("purged heron {i}")).await;
    }
    s.post(&format!("/_dendrite/admin/purgeRoom/{}", enc(&purged)), &admin.token, json!({})).await.ok();

    // The live index already agrees.
    assert_eq!(flush_search(&s).await, expected);
    let before = search(&s, &alice, json!({"search_term": "heron", "filter": {"limit": 100}})).await;
    let heron_count = 30 + 1 + 1; // sightings, the edit, the topic
    assert_eq!(before["count"], heron_count, "{before}");

    let old_index = current_index(&s);
    assert_eq!(s.post("/_dendrite/admin/fulltext/reindex", &admin.token, json!({})).await.ok(), json!({}));
    // A second call while the first runs (or just after) answers the same way.
    assert_eq!(s.get("/_dendrite/admin/fulltext/reindex", &admin.token).await.ok(), json!({}));
    // A message sent during the rebuild must survive the swap.
    let during = s.send_text(&alice, &a, "heron during the rebuild").await;
    expected += 1;

    // Search keeps answering, with complete results, until and after the new index is in.
    eventually(30, || async {
        let re = search(&s, &alice, json!({"search_term": "heron", "filter": {"limit": 100}})).await;
        let n = re["count"].as_u64().unwrap();
        assert!(n == heron_count || n == heron_count + 1, "{re}");
        (current_index(&s) != old_index).then_some(())
    })
    .await;

    assert_eq!(flush_search(&s).await, expected);
    let after = search(&s, &alice, json!({"search_term": "heron", "filter": {"limit": 100}})).await;
    assert_eq!(after["count"], heron_count + 1, "{after}");
    assert!(result_ids(&after).contains(&during));
    assert!(!result_ids(&after).contains(&doomed));
    assert!(!result_ids(&after).contains(&original));
    assert_eq!(search_term(&s, &alice, "grey").await["count"], 0);
    assert_eq!(search_term(&s, &alice, "blue").await["count"], 1);
    assert_eq!(search_term(&s, &alice, "purged").await["count"], 0);
    assert_eq!(search(&s, &alice, json!({"search_term": "lagoon", "keys": ["content.name"]})).await["count"], 2);

    // Live indexing goes on into the new index.
    s.send_text(&alice, &a, "heron after the rebuild").await;
    assert_eq!(flush_search(&s).await, expected + 1);
    assert_eq!(search_term(&s, &alice, "heron").await["count"], heron_count + 2);

    // And a second full reindex gives the same count again.
    let idx = current_index(&s);
    s.get("/_dendrite/admin/fulltext/reindex", &admin.token).await.ok();
    eventually(30, || async { (current_index(&s) != idx).then_some(()) }).await;
    assert_eq!(flush_search(&s).await, expected + 1);
}

#[actix_rt::test]
async fn bad_search_requests() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    s.post(SEARCH, &alice.token, json!({})).await.err(400, "M_MISSING_PARAM");
    s.post(SEARCH, &alice.token, json!({"search_categories": {"room_events": {}}})).await.err(400, "M_MISSING_PARAM");
    s.post(SEARCH, &alice.token, json!({"search_categories": {"room_events": {"keys": ["content.body"]}}}))
        .await
        .err(400, "M_MISSING_PARAM");
    s.post(SEARCH, &alice.token, json!({"search_categories": {"room_events": {"search_term": "x", "order_by": "x"}}}))
        .await
        .err(400, "M_INVALID_PARAM");
    s.post(SEARCH, &alice.token, json!({"search_categories": {"room_events": {"search_term": "x", "keys": ["content.nope"]}}}))
        .await
        .err(400, "M_INVALID_PARAM");
    s.post(SEARCH, &alice.token, json!({"search_categories": {"room_events": {"search_term": 5}}})).await.err(400, "M_BAD_JSON");
    s.post(SEARCH, &alice.token, json!({"search_categories": {"room_events": {"search_term": "x", "filter": {"limit": "ten"}}}}))
        .await
        .err(400, "M_BAD_JSON");
    s.raw("POST", SEARCH, Some(&alice.token), b"{not json".to_vec()).await.err(400, "M_NOT_JSON");
    let body = json!({"search_categories": {"room_events": {"search_term": "x"}}});
    s.post(&format!("{SEARCH}?next_batch=abc"), &alice.token, body.clone()).await.err(400, "M_INVALID_PARAM");
    s.post(&format!("{SEARCH}?next_batch=-1"), &alice.token, body.clone()).await.err(400, "M_INVALID_PARAM");
    s.req("POST", SEARCH, None, Some(body.clone())).await.err(401, "M_MISSING_TOKEN");
    s.get(SEARCH, &alice.token).await.err(405, "M_UNRECOGNIZED");
    // Valid but empty.
    let empty = s.post(SEARCH, &alice.token, json!({"search_categories": {}})).await.ok();
    assert_eq!(empty["search_categories"], json!({}));
    let none = s.post(SEARCH, &alice.token, body).await.ok();
    assert_eq!(none["search_categories"]["room_events"]["count"], 0);
}

#[actix_rt::test]
async fn a_second_edit_replaces_the_first() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({})).await;
    let original = s.send_text(&alice, &room, "draft alpha").await;
    edit(&s, &alice, &room, &original, "draft beta").await;
    let last = edit(&s, &alice, &room, &original, "draft gamma").await;
    flush_search(&s).await;
    assert_eq!(search_term(&s, &alice, "alpha").await["count"], 0);
    assert_eq!(result_ids(&search_term(&s, &alice, "gamma").await), vec![last.clone()]);
    let beta = search_term(&s, &alice, "beta").await;
    assert_eq!(beta["count"], 0, "the first edit is superseded: {beta}");
    assert_eq!(search_term(&s, &alice, "draft").await["count"], 1);
}

#[actix_rt::test]
async fn redacting_an_edited_message_removes_its_edited_text() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({})).await;
    let original = s.send_text(&alice, &room, "my phone number is wrong").await;
    edit(&s, &alice, &room, &original, "my phone number is 5551234").await;
    flush_search(&s).await;
    assert_eq!(search_term(&s, &alice, "5551234").await["count"], 1);
    // Deleting the message deletes it, edits included.
    redact(&s, &alice, &room, &original).await;
    flush_search(&s).await;
    let left = search_term(&s, &alice, "5551234").await;
    assert_eq!(left["count"], 0, "the redacted message is still found through its edit: {left}");
}

#[actix_rt::test]
async fn an_edit_by_someone_else_replaces_nothing() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let mallory = s.register_user("mallory").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    s.join(&mallory, &room).await.ok();
    let original = s.send_text(&alice, &room, "meet at the lighthouse").await;
    edit(&s, &mallory, &room, &original, "meet at the quarry").await;
    flush_search(&s).await;
    // Only the sender of an event may replace it.
    let found = search_term(&s, &alice, "lighthouse").await;
    assert_eq!(result_ids(&found), vec![original.clone()], "{found}");
}

#[actix_rt::test]
async fn a_deep_search_page_is_refused_not_allocated() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({})).await;
    for i in 0..3 {
        s.send_text(&alice, &room, &format!("pelican {i}")).await;
    }
    flush_search(&s).await;
    // Before the fix this one aborted the process: tantivy reserved room for 10^12 hits.
    for nb in ["1000000000000", "9223372036854775807", "10001", "-1"] {
        s.post(&format!("{SEARCH}?next_batch={nb}"), &alice.token, body("pelican")).await.err(400, "M_INVALID_PARAM");
    }
    s.post(&format!("{SEARCH}?next_batch=99999999999999999999"), &alice.token, body("pelican")).await.err(400, "M_INVALID_PARAM");
    // The deepest allowed page answers normally (empty here).
    let deep = s.post(&format!("{SEARCH}?next_batch=10000"), &alice.token, body("pelican")).await.ok();
    assert_eq!(deep["search_categories"]["room_events"]["count"], 3, "{deep}");
    assert!(answer_ids(&deep).is_empty());
    // A huge filter limit is clamped, paging goes on from a token the server gave.
    let big = json!({"search_categories": {"room_events": {"search_term": "pelican", "filter": {"limit": 1_000_000_000_000u64}}}});
    assert_eq!(answer_ids(&s.post(SEARCH, &alice.token, big).await.ok()).len(), 3);
    let one = json!({"search_categories": {"room_events": {"search_term": "pelican", "filter": {"limit": 1}}}});
    let first = s.post(SEARCH, &alice.token, one.clone()).await.ok();
    let next = first["search_categories"]["room_events"]["next_batch"].as_str().expect("next_batch").to_owned();
    let second = s.post(&format!("{SEARCH}?next_batch={next}"), &alice.token, one).await.ok();
    assert_eq!(answer_ids(&second).len(), 1);
    assert_ne!(answer_ids(&first), answer_ids(&second));
    alive(&s, &alice).await;
}

#[actix_rt::test]
async fn query_syntax_is_searched_as_plain_words() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({})).await;
    let plain = s.send_text(&alice, &room, "a pelican alone").await;
    let fields = s.send_text(&alice, &room, "the room_id OR event_id of a pelican").await;
    let content = s.send_text(&alice, &room, "content: pelican").await;
    flush_search(&s).await;
    // Field names, operators, wildcards, ranges, unbalanced quotes and parentheses: words, never
    // a 500, never a way to address the room_id or event_id fields.
    let hostile = [
        "room_id:* OR event_id:*",
        "event_id:*",
        "kind:m.room.message",
        "\"unbalanced pelican",
        "(pelican OR",
        "pelican)",
        "[a TO z]",
        "*",
        "pelican AND",
        "-pelican",
        "pelican^100",
        "content:pelican~2",
        "room_id:IN [x y]",
        "\\",
        "",
    ];
    for term in hostile {
        let r = s.post(SEARCH, &alice.token, body(term)).await;
        assert_eq!(r.status, 200, "{term:?}: {}", r.body);
    }
    // Every word must occur: the field syntax finds the message that says those words.
    let r = s.post(SEARCH, &alice.token, body("room_id:* OR event_id:*")).await.ok();
    assert_eq!(answer_ids(&r), vec![fields.clone()]);
    let r = s.post(SEARCH, &alice.token, body("content:pelican")).await.ok();
    assert_eq!(answer_ids(&r), vec![content]);
    let mut all = answer_ids(&s.post(SEARCH, &alice.token, body("PELICAN")).await.ok());
    all.sort();
    assert_eq!(all.len(), 3);
    assert!(all.contains(&plain) && all.contains(&fields));
    // A term of thousands of words is answered (only the first words are matched).
    let long = vec!["pelican"; 5000].join(" ") + &(0..500).map(|i| format!(" w{i}")).collect::<String>();
    assert_eq!(s.post(SEARCH, &alice.token, body(&long)).await.status, 200);
    alive(&s, &alice).await;
}

/// The bench's timed reindex, asked while another rebuild runs (the one a start begins for a
/// missing or outdated index, or an admin's), waits that one out and times its own.
#[actix_rt::test]
async fn a_timed_reindex_waits_out_one_already_running() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({})).await;
    for i in 0..50 {
        s.send_text(&alice, &room, &format!("kestrel {i}")).await;
    }
    let svc = &s.server.services;
    assert!(svc.search.send(ensemble::actors::search::Reindex).await.expect("search actor"), "the first rebuild starts");
    let (docs, secs) = ensemble::service::fixtures::reindex_and_wait(svc).await.expect("the timed reindex");
    assert_eq!(docs, 50, "the timed rebuild indexed every message");
    assert!(secs > 0.0);
    assert_eq!(search_term(&s, &alice, "kestrel").await["count"], 50);
}
