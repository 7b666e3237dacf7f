//! Client-supplied paging numbers and search syntax: every one is bounded or refused with a
//! Matrix error, and the server keeps answering (issue 8, item 2).

use crate::common::*;
use serde_json::{Value, json};

const SEARCH: &str = "/_matrix/client/v3/search";

async fn flush(s: &TestServer) {
    s.server.services.search.send(ensemble::actors::search::Flush).await.expect("search actor alive");
}

fn body(term: &str) -> Value {
    json!({"search_categories": {"room_events": {"search_term": term}}})
}

fn ids(b: &Value) -> Vec<String> {
    b["search_categories"]["room_events"]["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["result"]["event_id"].as_str().unwrap().to_owned())
        .collect()
}

/// The server still serves an authenticated request.
async fn alive(s: &TestServer, u: &User) {
    s.get("/_matrix/client/v3/account/whoami", &u.token).await.ok();
}

#[actix_rt::test]
async fn a_deep_search_page_is_refused_not_allocated() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({})).await;
    for i in 0..3 {
        s.send_text(&alice, &room, &format!("pelican {i}")).await;
    }
    flush(&s).await;
    // Before the fix this one aborted the process: tantivy reserved room for 10^12 hits.
    for nb in ["1000000000000", "9223372036854775807", "10001", "-1"] {
        s.post(&format!("{SEARCH}?next_batch={nb}"), &alice.token, body("pelican")).await.err(400, "M_INVALID_PARAM");
    }
    s.post(&format!("{SEARCH}?next_batch=99999999999999999999"), &alice.token, body("pelican")).await.err(400, "M_INVALID_PARAM");
    // The deepest allowed page answers normally (empty here).
    let deep = s.post(&format!("{SEARCH}?next_batch=10000"), &alice.token, body("pelican")).await.ok();
    assert_eq!(deep["search_categories"]["room_events"]["count"], 3, "{deep}");
    assert!(ids(&deep).is_empty());
    // A huge filter limit is clamped, paging goes on from a token the server gave.
    let big = json!({"search_categories": {"room_events": {"search_term": "pelican", "filter": {"limit": 1_000_000_000_000u64}}}});
    assert_eq!(ids(&s.post(SEARCH, &alice.token, big).await.ok()).len(), 3);
    let one = json!({"search_categories": {"room_events": {"search_term": "pelican", "filter": {"limit": 1}}}});
    let first = s.post(SEARCH, &alice.token, one.clone()).await.ok();
    let next = first["search_categories"]["room_events"]["next_batch"].as_str().expect("next_batch").to_owned();
    let second = s.post(&format!("{SEARCH}?next_batch={next}"), &alice.token, one).await.ok();
    assert_eq!(ids(&second).len(), 1);
    assert_ne!(ids(&first), ids(&second));
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
    flush(&s).await;
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
    assert_eq!(ids(&r), vec![fields.clone()]);
    let r = s.post(SEARCH, &alice.token, body("content:pelican")).await.ok();
    assert_eq!(ids(&r), vec![content]);
    let mut all = ids(&s.post(SEARCH, &alice.token, body("PELICAN")).await.ok());
    all.sort();
    assert_eq!(all.len(), 3);
    assert!(all.contains(&plain) && all.contains(&fields));
    // A term of thousands of words is answered (only the first words are matched).
    let long = vec!["pelican"; 5000].join(" ") + &(0..500).map(|i| format!(" w{i}")).collect::<String>();
    assert_eq!(s.post(SEARCH, &alice.token, body(&long)).await.status, 200);
    alive(&s, &alice).await;
}

#[actix_rt::test]
async fn admin_and_directory_paging_numbers_cannot_overflow() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    s.create_room(&alice, json!({"preset": "public_chat", "visibility": "public", "name": "Open"})).await;
    let max = i64::MAX;
    // Before the fix `from + limit` overflowed in the user list: a panic, the request dropped.
    for v in ["v2", "v3"] {
        for q in [format!("from={max}&limit=10"), format!("from={max}&limit={max}"), format!("from=1&limit={max}")] {
            let b = s.get(&format!("/_synapse/admin/{v}/users?{q}"), &admin.token).await.ok();
            assert!(b["next_token"].is_null(), "{q}: {b}");
            assert!(b["users"].is_array());
        }
        s.get(&format!("/_synapse/admin/{v}/users?from=-1"), &admin.token).await.err(400, "M_INVALID_PARAM");
        s.get(&format!("/_synapse/admin/{v}/users?from=99999999999999999999"), &admin.token).await.err(400, "M_INVALID_PARAM");
    }
    let media = format!("/_synapse/admin/v1/users/{}/media", enc(&alice.user_id));
    for q in [format!("from={max}&limit={max}"), format!("from={max}"), format!("limit={max}")] {
        let b = s.get(&format!("{media}?{q}"), &admin.token).await.ok();
        assert!(b["next_token"].is_null(), "{q}: {b}");
    }
    s.get(&format!("{media}?from=-5"), &admin.token).await.err(400, "M_INVALID_PARAM");

    let umax = u64::MAX;
    for q in [format!("since=o{umax}&limit={max}"), format!("since=o{umax}&limit=1"), format!("limit={max}"), "since=o1&limit=0".into()] {
        let b = s.get(&format!("/_matrix/client/v3/publicRooms?{q}"), &alice.token).await.ok();
        assert!(b["chunk"].is_array(), "{q}: {b}");
    }
    s.get("/_matrix/client/v3/publicRooms?since=o99999999999999999999999", &alice.token).await.err(400, "M_INVALID_PARAM");
    let b = s.post("/_matrix/client/v3/publicRooms", &alice.token, json!({"since": format!("o{umax}"), "limit": umax})).await.ok();
    assert_eq!(b["chunk"], json!([]));
    // The directory is still served from the start.
    let b = s.get("/_matrix/client/v3/publicRooms?limit=1", &alice.token).await.ok();
    assert_eq!(b["chunk"].as_array().map(Vec::len), Some(1), "{b}");
    alive(&s, &admin).await;
}
