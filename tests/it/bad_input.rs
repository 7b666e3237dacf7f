//! Malformed and hostile requests: every one gets a Matrix error with the right status and
//! errcode, never a 500, and the server keeps working afterwards.

use crate::common::*;
use serde_json::{Value, json};

const V3: &str = "/_matrix/client/v3";

fn room_path(room: &str, rest: &str) -> String {
    format!("{V3}/rooms/{}/{rest}", enc(room))
}

/// A server with alice (in a room she created) and bob (registered, in no room).
async fn setup() -> (TestServer, User, User, String) {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat", "name": "Bad input"})).await;
    (s, alice, bob, room)
}

/// The server still answers ordinary requests: no panic took an actor or a worker down.
async fn still_works(s: &TestServer, user: &User, room: &str) {
    let id = s.send_text(user, room, "still alive").await;
    let ev = s.get(&room_path(room, &format!("event/{}", enc(&id))), &user.token).await.ok();
    assert_eq!(ev["content"]["body"], "still alive");
    let who = s.get(&format!("{V3}/account/whoami"), &user.token).await.ok();
    assert_eq!(who["user_id"], user.user_id);
    s.sync(user, None, 0).await;
}

/// Every JSON-body endpoint under test, as (method, path, needs a token).
fn json_endpoints(alice: &User, room: &str) -> Vec<(&'static str, String, bool)> {
    let me = enc(&alice.user_id);
    vec![
        ("POST", format!("{V3}/login"), false),
        ("POST", format!("{V3}/register"), false),
        ("POST", format!("{V3}/createRoom"), true),
        ("PUT", room_path(room, "send/m.room.message/txn-bad"), true),
        ("PUT", room_path(room, "state/m.room.topic/"), true),
        ("PUT", room_path(room, "state/m.room.topic"), true),
        ("PUT", room_path(room, "state/org.example.thing/key"), true),
        ("POST", room_path(room, "invite"), true),
        ("POST", room_path(room, "kick"), true),
        ("POST", room_path(room, "ban"), true),
        ("POST", room_path(room, "unban"), true),
        ("POST", room_path(room, "join"), true),
        ("POST", room_path(room, "leave"), true),
        ("PUT", format!("{V3}/profile/{me}/displayname"), true),
        ("PUT", format!("{V3}/user/{me}/account_data/org.example.data"), true),
        ("PUT", format!("{V3}/user/{me}/rooms/{}/account_data/org.example.data", enc(room)), true),
        ("POST", format!("{V3}/user/{me}/filter"), true),
        ("PUT", format!("{V3}/devices/{}", enc(&alice.device_id)), true),
        ("PUT", format!("{V3}/directory/room/{}", enc("#bad:test.local")), true),
    ]
}

#[actix_rt::test]
async fn malformed_json_is_m_not_json() {
    let (s, alice, _bob, room) = setup().await;
    for (method, path, auth) in json_endpoints(&alice, &room) {
        let token = auth.then_some(alice.token.as_str());
        for body in [&b"{not json"[..], b"{\"a\": 1", b"\xff\xfe", b"{\"a\": 1}}", b"nul"] {
            let r = s.raw(method, &path, token, body.to_vec()).await;
            assert_eq!(r.status, 400, "{method} {path} {:?}: {}", String::from_utf8_lossy(body), r.body);
            assert_eq!(r.body["errcode"], "M_NOT_JSON", "{method} {path}: {}", r.body);
            assert!(r.body["error"].is_string(), "{}", r.body);
        }
    }
    still_works(&s, &alice, &room).await;
}

#[actix_rt::test]
async fn json_that_is_not_an_object_is_m_bad_json() {
    let (s, alice, _bob, room) = setup().await;
    for (method, path, auth) in json_endpoints(&alice, &room) {
        let token = auth.then_some(alice.token.as_str());
        for body in [json!([]), json!([1, 2]), json!("a string"), json!(5), json!(true), json!(null)] {
            let r = s.req(method, &path, token, Some(body.clone())).await;
            assert_eq!(r.status, 400, "{method} {path} {body}: {}", r.body);
            assert_eq!(r.body["errcode"], "M_BAD_JSON", "{method} {path} {body}: {}", r.body);
            assert!(r.body["error"].is_string(), "{}", r.body);
        }
    }
    still_works(&s, &alice, &room).await;
}

#[actix_rt::test]
async fn wrong_field_types_are_m_bad_json() {
    let (s, alice, bob, room) = setup().await;
    let me = enc(&alice.user_id);
    let profile_before = s.get(&format!("{V3}/profile/{me}"), &alice.token).await.ok();
    let cases: Vec<(&str, String, Value)> = vec![
        (
            "POST",
            format!("{V3}/login"),
            json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"}, "password": 5}),
        ),
        ("POST", format!("{V3}/login"), json!({"type": 5, "user": "alice", "password": alice.password})),
        ("POST", format!("{V3}/register"), json!({"username": 5, "password": "a-good-password"})),
        ("POST", format!("{V3}/register"), json!({"username": "newuser", "password": ["x"]})),
        ("POST", format!("{V3}/createRoom"), json!({"name": 5})),
        ("POST", format!("{V3}/createRoom"), json!({"topic": {"a": 1}})),
        ("POST", format!("{V3}/createRoom"), json!({"preset": 5})),
        ("POST", format!("{V3}/createRoom"), json!({"invite": "@bob:test.local"})),
        ("POST", format!("{V3}/createRoom"), json!({"invite": [5]})),
        ("POST", format!("{V3}/createRoom"), json!({"initial_state": {"type": "m.room.topic"}})),
        ("POST", format!("{V3}/createRoom"), json!({"power_level_content_override": 5})),
        ("POST", format!("{V3}/createRoom"), json!({"is_direct": "yes"})),
        ("POST", room_path(&room, "invite"), json!({"user_id": 5})),
        ("POST", room_path(&room, "kick"), json!({"user_id": ["@bob:test.local"]})),
        ("POST", room_path(&room, "ban"), json!({"user_id": bob.user_id, "reason": 5})),
        ("POST", room_path(&room, "join"), json!({"reason": 5})),
        ("PUT", format!("{V3}/profile/{me}/displayname"), json!({"displayname": 5})),
        ("PUT", format!("{V3}/profile/{me}/avatar_url"), json!({"avatar_url": {"a": "b"}})),
        ("POST", format!("{V3}/user/{me}/filter"), json!({"room": {"timeline": {"limit": "ten"}}})),
        ("PUT", format!("{V3}/devices/{}", enc(&alice.device_id)), json!({"display_name": 5})),
        ("PUT", format!("{V3}/directory/room/{}", enc("#new:test.local")), json!({"room_id": 5})),
    ];
    for (method, path, body) in cases {
        let r = s.req(method, &path, Some(&alice.token), Some(body.clone())).await;
        assert_eq!(r.status, 400, "{method} {path} {body}: {}", r.body);
        assert_eq!(r.body["errcode"], "M_BAD_JSON", "{method} {path} {body}: {}", r.body);
    }
    // Nothing was changed by the refused requests.
    assert!(s.joined_rooms(&bob).await.is_empty());
    assert_eq!(s.get(&format!("{V3}/profile/{me}"), &alice.token).await.ok(), profile_before);
    still_works(&s, &alice, &room).await;
}

#[actix_rt::test]
async fn login_identifier_of_wrong_type_is_m_bad_json() {
    let (s, alice, _bob, room) = setup().await;
    let body = json!({"type": "m.login.password", "identifier": "alice", "password": alice.password});
    s.req("POST", &format!("{V3}/login"), None, Some(body)).await.err(400, "M_BAD_JSON");
    still_works(&s, &alice, &room).await;
}

#[actix_rt::test]
async fn missing_required_fields_are_m_missing_param() {
    let (s, alice, _bob, room) = setup().await;
    let cases: Vec<(&str, String, Value)> = vec![
        ("POST", format!("{V3}/login"), json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"}})),
        ("POST", format!("{V3}/login"), json!({"type": "m.login.password", "password": alice.password})),
        ("POST", format!("{V3}/login"), json!({"identifier": {"type": "m.id.user", "user": "alice"}, "password": alice.password})),
        ("POST", room_path(&room, "invite"), json!({})),
        ("POST", room_path(&room, "invite"), json!({"reason": "no target"})),
        ("POST", room_path(&room, "kick"), json!({})),
        ("POST", room_path(&room, "ban"), json!({})),
        ("POST", room_path(&room, "unban"), json!({})),
        ("PUT", format!("{V3}/directory/room/{}", enc("#new:test.local")), json!({})),
    ];
    for (method, path, body) in cases {
        let r = s.req(method, &path, Some(&alice.token), Some(body.clone())).await;
        assert_eq!(r.status, 400, "{method} {path} {body}: {}", r.body);
        assert_eq!(r.body["errcode"], "M_MISSING_PARAM", "{method} {path} {body}: {}", r.body);
    }
    // GET /register/available without a username.
    s.req("GET", &format!("{V3}/register/available"), None, None).await.err(400, "M_MISSING_PARAM");
    still_works(&s, &alice, &room).await;
}

#[actix_rt::test]
async fn invalid_identifiers_in_paths_are_m_invalid_param() {
    let (s, alice, bob, room) = setup().await;
    let t = &alice.token;
    let bad_room = "notaroom";
    for (method, path, body) in [
        ("PUT", room_path(bad_room, "send/m.room.message/t1"), Some(json!({"body": "x", "msgtype": "m.text"}))),
        ("PUT", room_path(bad_room, "state/m.room.name/"), Some(json!({"name": "x"}))),
        ("GET", room_path(bad_room, "state/m.room.name/"), None),
        ("GET", room_path(bad_room, "state"), None),
        ("POST", room_path(bad_room, "join"), Some(json!({}))),
        ("POST", room_path(bad_room, "leave"), Some(json!({}))),
        ("POST", room_path(bad_room, "invite"), Some(json!({"user_id": bob.user_id}))),
        ("POST", room_path(bad_room, "kick"), Some(json!({"user_id": bob.user_id}))),
        ("POST", room_path(bad_room, "ban"), Some(json!({"user_id": bob.user_id}))),
        ("POST", room_path(bad_room, "forget"), Some(json!({}))),
        ("GET", room_path(bad_room, "messages?dir=b"), None),
        ("GET", room_path(bad_room, "members"), None),
        ("GET", room_path(bad_room, "event/$abc"), None),
        ("PUT", room_path(bad_room, "redact/$abc/t2"), Some(json!({}))),
        ("POST", format!("{V3}/join/{bad_room}"), Some(json!({}))),
        ("POST", format!("{V3}/join/{}", enc("#no-server")), Some(json!({}))),
        ("GET", format!("{V3}/directory/room/notanalias"), None),
        ("PUT", format!("{V3}/directory/room/notanalias"), Some(json!({"room_id": room}))),
        ("PUT", format!("{V3}/directory/room/{}", enc("#ok:test.local")), Some(json!({"room_id": "notaroom"}))),
        // User IDs: "bob" is a localpart, not a user ID.
        ("POST", room_path(&room, "invite"), Some(json!({"user_id": "bob"}))),
        ("POST", room_path(&room, "kick"), Some(json!({"user_id": "bob"}))),
        ("POST", room_path(&room, "ban"), Some(json!({"user_id": "bob"}))),
        ("POST", format!("{V3}/createRoom"), Some(json!({"invite": ["bob"]}))),
        ("GET", format!("{V3}/profile/bob"), None),
        ("GET", format!("{V3}/profile/bob/displayname"), None),
        ("PUT", format!("{V3}/profile/bob/displayname"), Some(json!({"displayname": "x"}))),
        ("GET", format!("{V3}/user/bob/account_data/org.example"), None),
        ("PUT", format!("{V3}/user/bob/account_data/org.example"), Some(json!({}))),
        ("POST", format!("{V3}/user/bob/filter"), Some(json!({}))),
    ] {
        let r = s.req(method, &path, Some(t), body.clone()).await;
        assert_eq!(r.status, 400, "{method} {path}: {}", r.body);
        assert_eq!(r.body["errcode"], "M_INVALID_PARAM", "{method} {path}: {}", r.body);
    }
    still_works(&s, &alice, &room).await;
}

#[actix_rt::test]
async fn unknown_rooms_are_not_found() {
    let (s, alice, bob, room) = setup().await;
    let ghost = format!("!doesnotexist:{}", s.server_name());
    let remote = "!abc:elsewhere.example";
    for r in [ghost.as_str(), remote] {
        s.send_text_resp(&alice, r, "into the void").await.err(404, "M_NOT_FOUND");
        s.join(&alice, r).await.err(404, "M_NOT_FOUND");
        s.post(&format!("{V3}/join/{}", enc(r)), &alice.token, json!({})).await.err(404, "M_NOT_FOUND");
        s.put(&room_path(r, "state/m.room.name/"), &alice.token, json!({"name": "x"})).await.err(404, "M_NOT_FOUND");
        s.invite(&alice, r, &bob.user_id).await.err(404, "M_NOT_FOUND");
        s.get(&room_path(r, "state/m.room.name/"), &alice.token).await.err(404, "M_NOT_FOUND");
        s.get(&room_path(r, "state"), &alice.token).await.err(404, "M_NOT_FOUND");
        s.get(&room_path(r, "messages"), &alice.token).await.err(404, "M_NOT_FOUND");
        s.get(&room_path(r, "members"), &alice.token).await.err(404, "M_NOT_FOUND");
        s.post(&room_path(r, "leave"), &alice.token, json!({})).await.err(404, "M_NOT_FOUND");
        s.post(&room_path(r, "forget"), &alice.token, json!({})).await.err(404, "M_NOT_FOUND");
    }
    s.post(&format!("{V3}/join/{}", enc("#nowhere:test.local")), &alice.token, json!({})).await.err(404, "M_NOT_FOUND");

    // An existing room the requester never was in: 403, not 404 or 500.
    s.get(&room_path(&room, "state/m.room.name/"), &bob.token).await.err(403, "M_FORBIDDEN");
    s.get(&room_path(&room, "state"), &bob.token).await.err(403, "M_FORBIDDEN");
    s.get(&room_path(&room, "messages"), &bob.token).await.err(403, "M_FORBIDDEN");
    // A state event that is not set, or an event that does not exist, in a room one is in.
    s.get(&room_path(&room, "state/m.room.topic/"), &alice.token).await.err(404, "M_NOT_FOUND");
    s.get(&room_path(&room, "event/$nope"), &alice.token).await.err(404, "M_NOT_FOUND");
    s.put(&room_path(&room, "redact/$nope/t1"), &alice.token, json!({})).await.err(404, "M_NOT_FOUND");
    // Inviting a local user who does not exist.
    s.invite(&alice, &room, "@ghost:test.local").await.err(404, "M_NOT_FOUND");
    still_works(&s, &alice, &room).await;
}

#[actix_rt::test]
async fn oversized_events_are_m_too_large() {
    let (s, alice, _bob, room) = setup().await;
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
    let (s, alice, _bob, room) = setup().await;
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
    let (s, alice, _bob, room) = setup().await;
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
async fn missing_and_unknown_tokens() {
    let (s, alice, _bob, room) = setup().await;
    let whoami = format!("{V3}/account/whoami");
    for (method, path) in [
        ("GET", whoami.clone()),
        ("GET", format!("{V3}/sync")),
        ("GET", format!("{V3}/joined_rooms")),
        ("POST", format!("{V3}/createRoom")),
        ("PUT", room_path(&room, "send/m.room.message/t1")),
        ("GET", room_path(&room, "messages")),
    ] {
        let body = (method != "GET").then(|| json!({}));
        s.req(method, &path, None, body.clone()).await.err(401, "M_MISSING_TOKEN");
        s.req(method, &path, Some("ens_not-a-real-token"), body.clone()).await.err(401, "M_UNKNOWN_TOKEN");
        let sep = if path.contains('?') { '&' } else { '?' };
        s.req(method, &format!("{path}{sep}access_token=ens_bogus"), None, body).await.err(401, "M_UNKNOWN_TOKEN");
    }
    // A good token in the query string works.
    let who = s.req("GET", &format!("{whoami}?access_token={}", enc(&alice.token)), None, None).await.ok();
    assert_eq!(who["user_id"], alice.user_id);
    // A bad token in the header is refused even with a good one in the query.
    let r = s.req("GET", &format!("{whoami}?access_token={}", enc(&alice.token)), Some("ens_bogus"), None).await;
    r.err(401, "M_UNKNOWN_TOKEN");
    still_works(&s, &alice, &room).await;
}

#[actix_rt::test]
async fn unknown_routes_are_m_unrecognized() {
    let (s, alice, _bob, room) = setup().await;
    for path in [
        "/_matrix/client/v3/nonexistent",
        "/_matrix/client/v3/rooms",
        "/_matrix/client/v9/sync",
        "/nothing/here",
        "/_matrix/client/r0/not_a_thing",
    ] {
        s.get(path, &alice.token).await.err(404, "M_UNRECOGNIZED");
        s.req("GET", path, None, None).await.err(404, "M_UNRECOGNIZED");
        s.req("POST", path, Some(&alice.token), Some(json!({}))).await.err(404, "M_UNRECOGNIZED");
    }
    still_works(&s, &alice, &room).await;
}

#[actix_rt::test]
async fn wrong_methods_are_405_m_unrecognized() {
    let (s, alice, _bob, room) = setup().await;
    let mut wrong = Vec::new();
    for (method, path) in [
        ("DELETE", format!("{V3}/sync")),
        ("POST", format!("{V3}/sync")),
        ("PUT", format!("{V3}/login")),
        ("GET", format!("{V3}/createRoom")),
        ("GET", room_path(&room, "send/m.room.message/t1")),
        ("POST", format!("{V3}/account/whoami")),
    ] {
        let r = s.req(method, &path, Some(&alice.token), None).await;
        if r.status != 405 || r.body["errcode"] != "M_UNRECOGNIZED" {
            wrong.push(format!("{method} {path} -> {} {}", r.status, r.body));
        }
    }
    assert!(wrong.is_empty(), "expected 405 M_UNRECOGNIZED:\n{}", wrong.join("\n"));
    still_works(&s, &alice, &room).await;
}

#[actix_rt::test]
async fn wrong_methods_are_a_matrix_error() {
    // What the server answers today (see `wrong_methods_are_405_m_unrecognized`): still a Matrix
    // error, never a 500, and the server carries on.
    let (s, alice, _bob, room) = setup().await;
    for (method, path) in [("DELETE", format!("{V3}/sync")), ("PUT", format!("{V3}/login")), ("GET", format!("{V3}/createRoom"))] {
        let r = s.req(method, &path, Some(&alice.token), None).await;
        assert!(matches!(r.status, 404 | 405), "{method} {path}: {r:?}");
        assert_eq!(r.body["errcode"], "M_UNRECOGNIZED", "{method} {path}: {r:?}");
    }
    still_works(&s, &alice, &room).await;
}

#[actix_rt::test]
async fn bad_query_params_are_m_invalid_param() {
    let (s, alice, _bob, room) = setup().await;
    let messages = room_path(&room, "messages");
    for q in ["dir=x", "dir=", "dir=backwards", "limit=-1", "limit=ten", "limit=1.5", "from=garbage", "to=garbage", "filter=%7Bnot"] {
        s.get(&format!("{messages}?{q}"), &alice.token).await.err(400, "M_INVALID_PARAM");
    }
    s.get(&format!("{messages}?dir=b&limit=0"), &alice.token).await.ok();

    let sync = format!("{V3}/sync");
    for q in [
        "since=garbage",
        "since=",
        "since=s",
        "since=sx_1",
        "since=s1_x",
        "timeout=-1",
        "timeout=soon",
        "full_state=maybe",
        "filter=%7Bnot",
    ] {
        s.get(&format!("{sync}?{q}"), &alice.token).await.err(400, "M_INVALID_PARAM");
    }
    s.get(&format!("{sync}?filter=not-a-filter-id"), &alice.token).await.err(400, "M_INVALID_PARAM");
    still_works(&s, &alice, &room).await;
}

#[actix_rt::test]
async fn registration_username_checks() {
    let (s, alice, _bob, room) = setup().await;
    let register = format!("{V3}/register");
    for name in ["Bad Name!", "with space", "émile", "a:b", "@alice", "", &"x".repeat(300)] {
        let r = s.req("POST", &register, None, Some(json!({"username": name, "password": "a-long-password"}))).await;
        r.err(400, "M_INVALID_USERNAME");
        let avail = format!("{V3}/register/available?username={}", enc(name));
        s.req("GET", &avail, None, None).await.err(400, "M_INVALID_USERNAME");
    }
    // Taken, before the interactive-auth step and at it.
    s.req("POST", &register, None, Some(json!({"username": "alice", "password": "a-long-password"}))).await.err(400, "M_USER_IN_USE");
    s.req("GET", &format!("{V3}/register/available?username=alice"), None, None).await.err(400, "M_USER_IN_USE");
    let free = s.req("GET", &format!("{V3}/register/available?username=carol"), None, None).await.ok();
    assert_eq!(free["available"], true);

    // Capitals are folded to lower case, as Synapse does, so "ALICE" is taken too...
    s.req("POST", &register, None, Some(json!({"username": "ALICE", "password": "a-long-password"}))).await.err(400, "M_USER_IN_USE");
    // ...and "Carol" registers as @carol.
    let carol = s.register_user("Carol").await;
    assert_eq!(carol.user_id, format!("@carol:{}", s.server_name()));
    still_works(&s, &alice, &room).await;
}

#[actix_rt::test]
async fn floats_in_event_content_are_m_bad_json() {
    let (s, alice, _bob, room) = setup().await;
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
async fn server_survives_a_barrage_of_bad_requests() {
    let (s, alice, bob, room) = setup().await;
    let paths = json_endpoints(&alice, &room);
    let mut futures = Vec::new();
    for (method, path, auth) in &paths {
        let token = auth.then_some(alice.token.as_str());
        for body in [&b"{"[..], b"[]", b"\"x\"", b"\x00\x01\x02", b"{\"a\": [1, 2}"] {
            futures.push(s.raw(method, path, token, body.to_vec()));
        }
    }
    for r in futures_util::future::join_all(futures).await {
        assert_eq!(r.status, 400, "{}", r.body);
        assert!(matches!(r.body["errcode"].as_str(), Some("M_NOT_JSON" | "M_BAD_JSON")), "{}", r.body);
    }
    // Both users, the room and the user actors all still answer.
    still_works(&s, &alice, &room).await;
    s.join(&bob, &room).await.ok();
    still_works(&s, &bob, &room).await;
    s.put(&format!("{V3}/profile/{}/displayname", enc(&bob.user_id)), &bob.token, json!({"displayname": "Bob"})).await.ok();
}

/// The typed bodies of the account-side endpoints: a missing field is `M_MISSING_PARAM` naming
/// it, a field of the wrong shape `M_BAD_JSON`, and nothing is stored.
#[actix_rt::test]
async fn typed_bodies_name_missing_fields_and_refuse_wrong_shapes() {
    let (s, alice, bob, room) = setup().await;
    let t = &alice.token;
    let pusher = json!({"kind": "http", "app_id": "a", "pushkey": "k", "device_display_name": "d", "lang": "en",
        "data": {"url": "https://push.example/_matrix/push/v1/notify"}});
    let missing: Vec<(&str, String, Value, &str)> = vec![
        ("POST", format!("{V3}/pushers/set"), pusher.clone(), "app_display_name"),
        ("POST", format!("{V3}/keys/query"), json!({}), "device_keys"),
        ("POST", format!("{V3}/keys/claim"), json!({}), "one_time_keys"),
        ("PUT", format!("{V3}/sendToDevice/m.test/txn-missing"), json!({}), "messages"),
        ("POST", format!("{V3}/user_directory/search"), json!({"limit": 5}), "search_term"),
        ("POST", format!("{V3}/account/password"), json!({"logout_devices": false}), "new_password"),
    ];
    for (method, path, body, field) in missing {
        let r = s.req(method, &path, Some(t), Some(body.clone())).await;
        assert_eq!((r.status, r.body["errcode"].as_str()), (400, Some("M_MISSING_PARAM")), "{method} {path} {body}: {}", r.body);
        assert!(r.body["error"].as_str().unwrap_or_default().contains(field), "{method} {path}: {}", r.body);
    }
    let wrong: Vec<(&str, String, Value)> = vec![
        ("POST", format!("{V3}/keys/query"), json!({"device_keys": {bob.user_id.clone(): "all"}})),
        ("POST", format!("{V3}/keys/claim"), json!({"one_time_keys": {bob.user_id.clone(): {"DEV": 5}}})),
        ("PUT", format!("{V3}/sendToDevice/m.test/txn-wrong"), json!({"messages": {bob.user_id.clone(): {"*": "not an object"}}})),
        ("POST", format!("{V3}/user_directory/search"), json!({"search_term": "bob", "limit": -1})),
        ("POST", format!("{V3}/delete_devices"), json!({"devices": "X1"})),
        ("POST", format!("{V3}/keys/upload"), json!({"one_time_keys": ["k"]})),
        ("PUT", format!("{V3}/presence/{}/status", enc(&alice.user_id)), json!({"presence": 5})),
    ];
    for (method, path, body) in wrong {
        let r = s.req(method, &path, Some(t), Some(body.clone())).await;
        assert_eq!((r.status, r.body["errcode"].as_str()), (400, Some("M_BAD_JSON")), "{method} {path} {body}: {}", r.body);
    }
    // A bad user ID inside a body keeps its own errcode.
    s.post(&format!("{V3}/keys/query"), t, json!({"device_keys": {"bob": []}})).await.err(400, "M_INVALID_PARAM");
    let pushers = s.get(&format!("{V3}/pushers"), t).await.ok();
    assert_eq!(pushers["pushers"], json!([]), "no pusher was stored");
    still_works(&s, &alice, &room).await;
}
