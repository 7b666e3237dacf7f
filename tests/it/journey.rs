//! The journey of issue 2: register, log in, create, invite, join, talk, sync, paginate, leave,
//! log out.

use crate::common::*;
use serde_json::json;

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
