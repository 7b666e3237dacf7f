//! Malformed and hostile requests: bad JSON, wrong field types, missing fields, invalid identifiers,
//! unknown rooms, tokens, routes and methods, bad query parameters; every one gets a Matrix error with
//! the right status and errcode, never a 500, and the server keeps working afterwards.

use crate::common::*;
use serde_json::{Value, json};

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
    let (s, alice, _bob, room) = alice_bob_and_a_room().await;
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
    let (s, alice, _bob, room) = alice_bob_and_a_room().await;
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
    let (s, alice, bob, room) = alice_bob_and_a_room().await;
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
    let (s, alice, _bob, room) = alice_bob_and_a_room().await;
    let body = json!({"type": "m.login.password", "identifier": "alice", "password": alice.password});
    s.req("POST", &format!("{V3}/login"), None, Some(body)).await.err(400, "M_BAD_JSON");
    still_works(&s, &alice, &room).await;
}

#[actix_rt::test]
async fn missing_required_fields_are_m_missing_param() {
    let (s, alice, _bob, room) = alice_bob_and_a_room().await;
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
    let (s, alice, bob, room) = alice_bob_and_a_room().await;
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
async fn unknown_rooms_answer_as_synapse_does() {
    let (s, alice, bob, room) = alice_bob_and_a_room().await;
    let ghost = format!("!doesnotexist:{}", s.server_name());
    let remote = "!abc:elsewhere.example";
    for r in [ghost.as_str(), remote] {
        // As Synapse: reads and sends 403 (as for a room one is not in), joins and leaves 404
        // M_UNKNOWN, forgetting a no-op (the full list is in unknown_rooms.rs).
        s.send_text_resp(&alice, r, "into the void").await.err(403, "M_FORBIDDEN");
        s.join(&alice, r).await.err(404, "M_UNKNOWN");
        s.post(&format!("{V3}/join/{}", enc(r)), &alice.token, json!({})).await.err(404, "M_UNKNOWN");
        s.put(&room_path(r, "state/m.room.name/"), &alice.token, json!({"name": "x"})).await.err(403, "M_FORBIDDEN");
        s.invite(&alice, r, &bob.user_id).await.err(403, "M_FORBIDDEN");
        s.get(&room_path(r, "state/m.room.name/"), &alice.token).await.err(403, "M_FORBIDDEN");
        s.get(&room_path(r, "state"), &alice.token).await.err(403, "M_FORBIDDEN");
        s.get(&room_path(r, "messages"), &alice.token).await.err(403, "M_FORBIDDEN");
        s.get(&room_path(r, "members"), &alice.token).await.err(403, "M_FORBIDDEN");
        s.post(&room_path(r, "leave"), &alice.token, json!({})).await.err(404, "M_UNKNOWN");
        s.post(&room_path(r, "forget"), &alice.token, json!({})).await.ok();
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
async fn missing_and_unknown_tokens() {
    let (s, alice, _bob, room) = alice_bob_and_a_room().await;
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
    let (s, alice, _bob, room) = alice_bob_and_a_room().await;
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
    let (s, alice, _bob, room) = alice_bob_and_a_room().await;
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
    let (s, alice, _bob, room) = alice_bob_and_a_room().await;
    for (method, path) in [("DELETE", format!("{V3}/sync")), ("PUT", format!("{V3}/login")), ("GET", format!("{V3}/createRoom"))] {
        let r = s.req(method, &path, Some(&alice.token), None).await;
        assert!(matches!(r.status, 404 | 405), "{method} {path}: {r:?}");
        assert_eq!(r.body["errcode"], "M_UNRECOGNIZED", "{method} {path}: {r:?}");
    }
    still_works(&s, &alice, &room).await;
}

#[actix_rt::test]
async fn bad_query_params_are_m_invalid_param() {
    let (s, alice, _bob, room) = alice_bob_and_a_room().await;
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
async fn server_survives_a_barrage_of_bad_requests() {
    let (s, alice, bob, room) = alice_bob_and_a_room().await;
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
    let (s, alice, bob, room) = alice_bob_and_a_room().await;
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
    let wrong: Vec<(&str, String, Value, &str)> = vec![
        ("POST", format!("{V3}/keys/query"), json!({"device_keys": {bob.user_id.clone(): "all"}}), "device_keys"),
        ("POST", format!("{V3}/keys/claim"), json!({"one_time_keys": {bob.user_id.clone(): {"DEV": 5}}}), "one_time_keys"),
        (
            "PUT",
            format!("{V3}/sendToDevice/m.test/txn-wrong"),
            json!({"messages": {bob.user_id.clone(): {"*": "not an object"}}}),
            "messages",
        ),
        ("POST", format!("{V3}/user_directory/search"), json!({"search_term": "bob", "limit": -1}), "limit"),
        ("POST", format!("{V3}/delete_devices"), json!({"devices": "X1"}), "devices"),
        ("POST", format!("{V3}/keys/upload"), json!({"one_time_keys": ["k"]}), "one_time_keys"),
        ("PUT", format!("{V3}/presence/{}/status", enc(&alice.user_id)), json!({"presence": 5}), "presence"),
        // A nested field is named by its path in the body.
        (
            "POST",
            format!("{V3}/search"),
            json!({"search_categories": {"room_events": {"search_term": "x", "filter": {"limit": "ten"}}}}),
            "search_categories.room_events.filter.limit",
        ),
    ];
    for (method, path, body, field) in wrong {
        let r = s.req(method, &path, Some(t), Some(body.clone())).await;
        assert_eq!((r.status, r.body["errcode"].as_str()), (400, Some("M_BAD_JSON")), "{method} {path} {body}: {}", r.body);
        assert!(r.body["error"].as_str().unwrap_or_default().contains(field), "{method} {path}: the error names {field}: {}", r.body);
    }
    // A bad user ID inside a body keeps its own errcode.
    s.post(&format!("{V3}/keys/query"), t, json!({"device_keys": {"bob": []}})).await.err(400, "M_INVALID_PARAM");
    let pushers = s.get(&format!("{V3}/pushers"), t).await.ok();
    assert_eq!(pushers["pushers"], json!([]), "no pusher was stored");
    still_works(&s, &alice, &room).await;
}
