//! Sizes and depths a client cannot exceed: oversized events and bodies are `M_TOO_LARGE` (events
//! just under the limit pass), floats and content nested too deep are `M_BAD_JSON`, and paging numbers
//! of the admin and directory APIs cannot overflow; the server keeps working afterwards.

use crate::common::*;
use serde_json::{Value, json};

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

#[actix_rt::test]
async fn oversized_events_are_m_too_large() {
    let (s, alice, _bob, room) = alice_bob_and_a_room().await;
    let big = "a".repeat(70 * 1024);
    let mut wrong = Vec::new();
    for (path, body) in [
        (room_path(&room, "send/m.room.message/big1"), json!({"msgtype": "m.text", "body": big})),
        (room_path(&room, "state/org.example.big/"), json!({"data": big})),
        (room_path(&room, "state/m.room.topic/"), json!({"topic": big})),
    ] {
        let r = s.put(&path, &alice.token, body).await;
        if r.status != 413 || r.body["errcode"] != "M_TOO_LARGE" {
            wrong.push(format!("PUT {path} -> {} {}", r.status, r.body));
        }
    }
    assert!(wrong.is_empty(), "expected 413 M_TOO_LARGE:\n{}", wrong.join("\n"));
    still_works(&s, &alice, &room).await;
}

#[actix_rt::test]
async fn events_just_under_the_limit_are_accepted() {
    let (s, alice, _bob, room) = alice_bob_and_a_room().await;
    // The envelope (hashes, signature, IDs) takes the rest of the 64 KiB.
    let fits = "a".repeat(60 * 1024);
    let id = s.put(&room_path(&room, "send/m.room.message/fits1"), &alice.token, json!({"msgtype": "m.text", "body": fits})).await.ok();
    let ev = s.get(&room_path(&room, &format!("event/{}", enc(id["event_id"].as_str().expect("event_id")))), &alice.token).await.ok();
    assert_eq!(ev["content"]["body"].as_str().map(str::len), Some(60 * 1024));
    // Whatever an oversized event is refused with, it is a client error, and nothing is stored.
    let big = "a".repeat(70 * 1024);
    let r = s.put(&room_path(&room, "send/m.room.message/big1"), &alice.token, json!({"msgtype": "m.text", "body": big})).await;
    assert!((400..500).contains(&r.status) && r.body["errcode"].is_string(), "{r:?}");
    let page = s.get(&format!("{}?dir=b&limit=50", room_path(&room, "messages")), &alice.token).await.ok();
    let stored = page["chunk"].as_array().expect("chunk").iter().filter(|e| e["type"] == "m.room.message").count();
    assert_eq!(stored, 1, "{page}");
    still_works(&s, &alice, &room).await;
}

#[actix_rt::test]
async fn oversized_bodies_are_m_too_large() {
    let (s, alice, _bob, room) = alice_bob_and_a_room().await;
    // A body past 1 MiB, on an event endpoint and elsewhere.
    let huge = json!({"msgtype": "m.text", "body": "b".repeat((1 << 20) + 10)}).to_string().into_bytes();
    s.raw("PUT", &room_path(&room, "send/m.room.message/huge1"), Some(&alice.token), huge.clone()).await.err(413, "M_TOO_LARGE");
    let me = enc(&alice.user_id);
    s.raw("PUT", &format!("{V3}/user/{me}/account_data/org.example.huge"), Some(&alice.token), huge.clone()).await.err(413, "M_TOO_LARGE");
    s.raw("POST", &format!("{V3}/createRoom"), Some(&alice.token), huge.clone()).await.err(413, "M_TOO_LARGE");
    s.raw("POST", &format!("{V3}/login"), None, huge).await.err(413, "M_TOO_LARGE");
    still_works(&s, &alice, &room).await;
}

#[actix_rt::test]
async fn floats_in_event_content_are_m_bad_json() {
    let (s, alice, _bob, room) = alice_bob_and_a_room().await;
    for (i, content) in [json!({"x": 1.5}), json!({"nested": {"deep": [1, 2.25]}}), json!({"big": 1e300})].into_iter().enumerate() {
        s.put(&room_path(&room, &format!("send/org.example.float/f{i}")), &alice.token, content.clone()).await.err(400, "M_BAD_JSON");
        s.put(&room_path(&room, &format!("state/org.example.float/k{i}")), &alice.token, content).await.err(400, "M_BAD_JSON");
    }
    // Integers outside the canonical JSON range (±(2^53 - 1)) too.
    s.put(&room_path(&room, "send/org.example.int/i1"), &alice.token, json!({"n": 9_007_199_254_740_992_i64})).await.err(400, "M_BAD_JSON");
    // Integers inside it are fine.
    s.put(&room_path(&room, "send/org.example.int/i2"), &alice.token, json!({"n": 9_007_199_254_740_991_i64})).await.ok();
    // Nothing was stored for the refused events.
    let page = s.get(&format!("{}?dir=b&limit=50", room_path(&room, "messages")), &alice.token).await.ok();
    let chunk = page["chunk"].as_array().expect("chunk");
    assert!(!chunk.iter().any(|e| e["type"] == "org.example.float"), "{page}");
    assert_eq!(chunk.iter().filter(|e| e["type"] == "org.example.int").count(), 1, "{page}");
    still_works(&s, &alice, &room).await;
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

/// A NUL character is valid JSON (`\u0000`) but PostgreSQL's text columns cannot hold one: on
/// either backend, a body or a path carrying one is refused with a Matrix error, never a 500.
#[actix_rt::test]
async fn nul_characters_never_make_a_server_error() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({})).await;
    let nul = "a\u{0}b";
    let me = enc(&alice.user_id);
    let tries: Vec<(&str, String, Value)> = vec![
        ("PUT", format!("{V3}/profile/{me}/displayname"), json!({"displayname": nul})),
        ("PUT", format!("{V3}/profile/{me}/avatar_url"), json!({"avatar_url": format!("mxc://x/{nul}")})),
        ("PUT", room_path(&room, "state/m.room.name/"), json!({"name": nul})),
        ("PUT", room_path(&room, &format!("state/m.custom/{nul}")), json!({})),
        ("PUT", room_path(&room, "send/m.room.message/t1"), json!({"msgtype": "m.text", "body": nul})),
        ("PUT", room_path(&room, &format!("send/m.room.message/{nul}")), json!({"msgtype": "m.text", "body": "x"})),
        ("PUT", format!("{V3}/user/{me}/account_data/m.custom"), json!({"k": nul})),
        ("PUT", format!("{V3}/user/{me}/account_data/{}", enc(nul)), json!({})),
        ("PUT", format!("{V3}/devices/{}", enc(&alice.device_id)), json!({"display_name": nul})),
        ("POST", format!("{V3}/createRoom"), json!({"room_alias_name": nul})),
        ("POST", format!("{V3}/createRoom"), json!({"name": nul, "topic": nul})),
        ("PUT", format!("{V3}/directory/room/{}", enc(&format!("#{nul}:test.local"))), json!({"room_id": room})),
        ("POST", format!("{V3}/user/{me}/filter"), json!({"room": {"rooms": [nul]}})),
        ("POST", format!("{V3}/user_directory/search"), json!({"search_term": nul})),
        ("POST", format!("{V3}/search"), json!({"search_categories": {"room_events": {"search_term": nul}}})),
        (
            "POST",
            format!("{V3}/login"),
            json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": nul}, "password": nul}),
        ),
        ("PUT", format!("{V3}/sendToDevice/m.custom/{}", enc(nul)), json!({"messages": {&alice.user_id: {&alice.device_id: {"k": nul}}}})),
    ];
    for (method, path, body) in tries {
        let r = s.req(method, &path, Some(&alice.token), Some(body.clone())).await;
        assert_eq!(r.status, 400, "{method} {path} {body}: {}", r.body);
        let errcode = r.body["errcode"].as_str().unwrap_or_default();
        assert!(["M_BAD_JSON", "M_INVALID_PARAM"].contains(&errcode), "{method} {path}: {}", r.body);
    }
    // Text that only looks like the escape (a backslash, then "u0000") is ordinary text.
    let lookalike = "a\\u0000b";
    s.put(&format!("{V3}/profile/{me}/displayname"), &alice.token, json!({"displayname": lookalike})).await.ok();
    let profile = s.get(&format!("{V3}/profile/{me}"), &alice.token).await.ok();
    assert_eq!(profile["displayname"], lookalike);
    let sync = s.sync(&alice, None, 0).await;
    assert!(sync["rooms"]["join"][&room].is_object(), "{sync}");
    still_works(&s, &alice, &room).await;
}
