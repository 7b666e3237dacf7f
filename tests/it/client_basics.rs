//! What every client does first: the whole journey of issue 2 (register, log in, create, invite,
//! join, talk, sync, paginate, leave, log out), capabilities, push rules, versions, login flows,
//! whoami, the r0 aliases and logout/all.

use crate::common::*;
use serde_json::json;

#[actix_rt::test]
async fn small_endpoints_and_logout_all() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;

    let caps = s.get(&format!("{V3}/capabilities"), &alice.token).await.ok();
    let caps = &caps["capabilities"];
    assert_eq!(caps["m.change_password"]["enabled"], true, "{caps}");
    assert_eq!(caps["m.room_versions"]["default"], "10", "{caps}");
    assert_eq!(caps["m.room_versions"]["available"]["9"], "stable", "{caps}");
    assert_eq!(caps["m.room_versions"]["available"]["10"], "stable", "{caps}");

    // As Synapse (and SyTest) have it, the listing is at the trailing slash only.
    s.get(&format!("{V3}/pushrules"), &alice.token).await.err(404, "M_UNRECOGNIZED");
    {
        let rules = s.get(&format!("{V3}/pushrules/"), &alice.token).await.ok();
        let global = &rules["global"];
        let overrides = global["override"].as_array().unwrap_or_else(|| panic!("no global.override: {rules}"));
        assert!(overrides.iter().any(|r| r["rule_id"] == ".m.rule.master"), "{rules}");
        let underride = global["underride"].as_array().unwrap_or_else(|| panic!("no global.underride: {rules}"));
        assert!(!underride.is_empty(), "{rules}");
    }

    let versions = s.req("GET", "/_matrix/client/versions", None, None).await.ok();
    let list = versions["versions"].as_array().expect("versions");
    assert!(list.iter().any(|v| v == "v1.1") && list.iter().any(|v| v == "r0.6.1"), "{versions}");

    let flows = s.req("GET", &format!("{V3}/login"), None, None).await.ok();
    assert!(flows["flows"].as_array().expect("flows").iter().any(|f| f["type"] == "m.login.password"), "{flows}");

    let free = s.req("GET", &format!("{V3}/register/available?username=nobody-yet"), None, None).await.ok();
    assert_eq!(free, json!({"available": true}));
    s.req("GET", &format!("{V3}/register/available?username=alice"), None, None).await.err(400, "M_USER_IN_USE");
    s.req("GET", &format!("{V3}/register/available?username=Not%20Valid!"), None, None).await.err(400, "M_INVALID_USERNAME");

    let me = whoami(&s, &alice.token).await.ok();
    assert_eq!(me["user_id"], alice.user_id);
    assert_eq!(me["device_id"], alice.device_id.as_str());
    assert_eq!(me["is_guest"], false);

    // r0 aliases.
    let r0 = s.get("/_matrix/client/r0/account/whoami", &alice.token).await.ok();
    assert_eq!(r0["user_id"], alice.user_id);
    let room = s.create_room(&alice, json!({})).await;
    let r0_rooms = s.get("/_matrix/client/r0/joined_rooms", &alice.token).await.ok();
    assert_eq!(r0_rooms["joined_rooms"], json!([room]));
    let r0_sync = s.get("/_matrix/client/r0/sync?timeout=0", &alice.token).await.ok();
    assert!(r0_sync["rooms"]["join"][&room].is_object(), "{r0_sync}");

    // logout/all kills every token of the user, and only theirs.
    let bob = s.register_user("bob").await;
    let t2 = new_device(&s, &alice).await.token;
    let t3 = new_device(&s, &alice).await.token;
    s.post(&format!("{V3}/logout/all"), &t2, json!({})).await.ok();
    for t in [&alice.token, &t2, &t3] {
        whoami(&s, t).await.err(401, "M_UNKNOWN_TOKEN");
    }
    assert_eq!(whoami(&s, &bob.token).await.ok()["user_id"], bob.user_id);
    // And the account itself still works; the old devices are gone with their tokens.
    let User { token: t4, device_id: d4, .. } = new_device(&s, &alice).await;
    assert_eq!(whoami(&s, &t4).await.ok()["user_id"], alice.user_id);
    let list = s.get(&format!("{V3}/devices"), &t4).await.ok();
    let devices: Vec<&str> = list["devices"].as_array().expect("devices").iter().map(|d| d["device_id"].as_str().unwrap_or("")).collect();
    assert_eq!(devices, vec![d4.as_str()], "logout/all deletes every device");
}

#[actix_rt::test]
async fn capabilities_require_authentication() {
    let s = TestServer::start().await;
    s.req("GET", &format!("{V3}/capabilities"), None, None).await.err(401, "M_MISSING_TOKEN");
    s.req("GET", "/_matrix/client/r0/capabilities", None, None).await.err(401, "M_MISSING_TOKEN");
}

#[actix_rt::test]
async fn full_journey() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;

    // Log in again with the password, both identifier forms.
    let login = s.login("alice", &alice.password).await.ok();
    assert_eq!(login["user_id"], alice.user_id);
    let legacy = s
        .req(
            "POST",
            "/_matrix/client/v3/login",
            None,
            Some(json!({"type": "m.login.password", "user": bob.user_id, "password": bob.password})),
        )
        .await
        .ok();
    assert_eq!(legacy["user_id"], bob.user_id);
    let bob_token = legacy["access_token"].as_str().unwrap().to_owned();

    let room = s.create_room(&alice, json!({"name": "Journey", "preset": "private_chat"})).await;
    assert!(room.starts_with('!') && room.ends_with(":test.local"), "{room}");
    s.invite(&alice, &room, &bob.user_id).await.ok();

    // Bob sees the invite in sync, then joins.
    let first = s.sync(&bob, None, 0).await;
    assert!(first["rooms"]["invite"][&room]["invite_state"]["events"].is_array(), "{first}");
    let since = first["next_batch"].as_str().unwrap().to_owned();
    s.join(&bob, &room).await.ok();

    let mut sent = Vec::new();
    for i in 0..20 {
        let who = if i % 2 == 0 { &alice } else { &bob };
        sent.push(s.send_text(who, &room, &format!("message {i}")).await);
    }

    // Incremental sync with a large enough limit sees all 20 in order.
    let filter = json!({"room": {"timeline": {"limit": 50}}}).to_string();
    let path = format!("/_matrix/client/v3/sync?since={since}&filter={}", enc(&filter));
    let inc = s.get(&path, &bob.token).await.ok();
    let events = timeline(&inc, &room);
    let messages: Vec<&str> = events.iter().filter(|e| e["type"] == "m.room.message").map(|e| e["event_id"].as_str().unwrap()).collect();
    assert_eq!(messages, sent.iter().map(String::as_str).collect::<Vec<_>>());
    let bodies: Vec<String> =
        events.iter().filter(|e| e["type"] == "m.room.message").map(|e| e["content"]["body"].as_str().unwrap().to_owned()).collect();
    assert_eq!(bodies, (0..20).map(|i| format!("message {i}")).collect::<Vec<_>>());

    // The room name is in the joined room's state.
    let name = s.get(&format!("/_matrix/client/v3/rooms/{}/state/m.room.name/", enc(&room)), &bob.token).await.ok();
    assert_eq!(name["name"], "Journey");

    // /messages backwards in pages of 7 walks the 20 messages newest first, then the rest.
    let mut from: Option<String> = None;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let mut p = format!("/_matrix/client/v3/rooms/{}/messages?dir=b&limit=7", enc(&room));
        if let Some(f) = &from {
            p.push_str(&format!("&from={f}"));
        }
        let page = s.get(&p, &alice.token).await.ok();
        let chunk = page["chunk"].as_array().unwrap();
        assert!(chunk.len() <= 7);
        pages += 1;
        seen.extend(chunk.iter().map(|e| e["event_id"].as_str().unwrap().to_owned()));
        match page["end"].as_str() {
            Some(e) => from = Some(e.to_owned()),
            None => break,
        }
        assert!(pages < 20, "pagination does not terminate");
    }
    let newest_first: Vec<String> = sent.iter().rev().cloned().collect();
    assert_eq!(&seen[..20], &newest_first[..]);
    assert_eq!(seen.len(), seen.iter().collect::<std::collections::HashSet<_>>().len(), "no event twice");
    // Everything else is the room's creation events, down to m.room.create.
    let oldest = seen.last().unwrap();
    let ev = s.get(&format!("/_matrix/client/v3/rooms/{}/event/{}", enc(&room), enc(oldest)), &alice.token).await.ok();
    assert_eq!(ev["type"], "m.room.create");

    // Bob leaves: his joined rooms no longer list it, and he can no longer send.
    s.post(&format!("/_matrix/client/v3/rooms/{}/leave", enc(&room)), &bob.token, json!({})).await.ok();
    assert!(!s.joined_rooms(&bob).await.contains(&room));
    s.send_text_resp(&bob, &room, "after leaving").await.err(403, "M_FORBIDDEN");

    // Logout kills the token.
    s.post("/_matrix/client/v3/logout", &bob_token, json!({})).await.ok();
    s.get("/_matrix/client/v3/account/whoami", &bob_token).await.err(401, "M_UNKNOWN_TOKEN");
    // The other session of bob is unaffected.
    let who = s.get("/_matrix/client/v3/account/whoami", &bob.token).await.ok();
    assert_eq!(who["user_id"], bob.user_id);
}

/// A pooled connection reused after a pause of several seconds still answers: an idle
/// keep-alive connection is not closed after actix's default 5 s.
#[actix_rt::test]
async fn an_idle_keep_alive_connection_is_kept_past_five_seconds() {
    use std::io::{Read, Write};
    let s = TestServer::start().await;
    let addr = s.server.addr;
    let exchange = |stream: &mut std::net::TcpStream| -> String {
        let req = "GET /_matrix/client/versions HTTP/1.1\r\nHost: localhost\r\n\r\n";
        stream.write_all(req.as_bytes()).expect("write");
        let mut buf = vec![0u8; 8192];
        let n = stream.read(&mut buf).expect("read");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let answers = actix_rt::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(std::time::Duration::from_secs(10))).expect("timeout");
        let first = exchange(&mut stream);
        std::thread::sleep(std::time::Duration::from_secs(6));
        let second = exchange(&mut stream);
        (first, second)
    })
    .await
    .expect("joined");
    assert!(answers.0.starts_with("HTTP/1.1 200"), "{}", answers.0);
    assert!(answers.1.starts_with("HTTP/1.1 200"), "after 6 s idle: {:?}", answers.1);
}

/// What Element asks at start and in its settings about things this server has none of: TURN
/// servers, bridged networks, an account's email addresses and phone numbers. Each answers as
/// Synapse does without them, not with a 404.
#[actix_rt::test]
async fn turn_servers_bridged_networks_and_third_party_ids() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let admin = s.register_admin("root").await;
    for prefix in [V3, "/_matrix/client/r0"] {
        assert_eq!(s.get(&format!("{prefix}/voip/turnServer"), &alice.token).await.ok(), json!({}));
        assert_eq!(s.get(&format!("{prefix}/thirdparty/protocols"), &alice.token).await.ok(), json!({}));
        s.get(&format!("{prefix}/thirdparty/protocol/irc"), &alice.token).await.err(404, "M_NOT_FOUND");
        assert_eq!(s.get(&format!("{prefix}/account/3pid"), &alice.token).await.ok(), json!({"threepids": []}));
        for path in ["/voip/turnServer", "/thirdparty/protocols", "/thirdparty/protocol/irc", "/account/3pid"] {
            s.req("GET", &format!("{prefix}{path}"), None, None).await.err(401, "M_MISSING_TOKEN");
            s.get(&format!("{prefix}{path}"), "not-a-token").await.err(401, "M_UNKNOWN_TOKEN");
        }
    }
    // An address an admin binds (this server validates none itself) is the account's own.
    let set = json!({"threepids": [{"medium": "email", "address": "alice@example.org"}]});
    s.put("/_synapse/admin/v2/users/%40alice%3Atest.local", &admin.token, set).await.ok();
    let mine = s.get(&format!("{V3}/account/3pid"), &alice.token).await.ok();
    let list = mine["threepids"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{mine}");
    assert_eq!((list[0]["medium"].as_str(), list[0]["address"].as_str()), (Some("email"), Some("alice@example.org")));
    assert!(list[0]["added_at"].as_i64().unwrap() > 0 && list[0]["validated_at"].as_i64().unwrap() > 0, "{mine}");
    assert_eq!(s.get(&format!("{V3}/account/3pid"), &bob.token).await.ok(), json!({"threepids": []}));
}
