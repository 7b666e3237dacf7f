//! The deprecated routes: the `/events` stream, `/initialSync`, a room's `/initialSync` and
//! `POST /rooms/{roomId}/send/{eventType}`.

use crate::common::*;
use serde_json::{Value, json};

const R0: &str = "/_matrix/client/r0";

async fn stream(s: &TestServer, user: &User, from: Option<&str>, timeout: u64) -> Value {
    let mut p = format!("{R0}/events?timeout={timeout}");
    if let Some(f) = from {
        p.push_str(&format!("&from={}", enc(f)));
    }
    s.get(&p, &user.token).await.ok()
}

fn of_type<'a>(chunk: &'a Value, kind: &str) -> Vec<&'a Value> {
    chunk["chunk"].as_array().expect("chunk").iter().filter(|e| e["type"] == kind).collect()
}

#[actix_rt::test]
async fn the_event_stream_starts_now_and_catches_up_in_order() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = public_room(&s, &alice, &[&bob]).await;
    s.send_text(&alice, &room, "before the stream").await;

    let first = stream(&s, &bob, None, 0).await;
    assert!(first["start"].is_string() && first["end"].is_string(), "{first}");
    assert!(of_type(&first, "m.room.message").is_empty(), "a stream without from starts now: {first}");
    let mut token = first["end"].as_str().expect("end").to_owned();

    let mut sent = Vec::new();
    for i in 0..20 {
        sent.push(s.send_text(&alice, &room, &format!("n{i}")).await);
    }
    let tag = format!("/_matrix/client/v3/user/{}/rooms/{}/tags/fav", enc(&bob.user_id), enc(&room));
    s.put(&tag, &bob.token, json!({})).await.ok();
    let page = stream(&s, &bob, Some(&token), 5000).await;
    let messages = of_type(&page, "m.room.message");
    assert_eq!(messages.iter().map(|e| event_id(e)).collect::<Vec<_>>(), sent, "every message, in order");
    assert!(messages.iter().all(|e| e["room_id"] == room.as_str()), "{page}");
    let tags = of_type(&page, "m.tag");
    assert_eq!(tags.first().map(|e| e["room_id"].clone()), Some(json!(room)), "{page}");
    token = page["end"].as_str().expect("end").to_owned();

    // Nothing new: the stream waits up to the timeout and answers empty, at the same place.
    let idle = stream(&s, &bob, Some(&token), 50).await;
    assert!(of_type(&idle, "m.room.message").is_empty(), "{idle}");

    // A long poll answers with an event sent while (or before) it waits.
    let (woken, _) = futures_util::join!(stream(&s, &bob, Some(&token), 10_000), s.send_text(&alice, &room, "wake up"));
    assert_eq!(of_type(&woken, "m.room.message").len(), 1, "{woken}");

    s.get(&format!("{R0}/events?from=bogus"), &bob.token).await.err(400, "M_INVALID_PARAM");
    s.get(&format!("{R0}/events?timeout=-1"), &bob.token).await.err(400, "M_INVALID_PARAM");
    s.req("GET", &format!("{R0}/events"), None, None).await.err(401, "M_MISSING_TOKEN");
}

#[actix_rt::test]
async fn initial_sync_lists_rooms_state_receipts_and_account_data() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({"name": "kept"})).await;
    let gone = s.create_room(&alice, json!({})).await;
    for i in 0..3 {
        s.send_text(&alice, &room, &format!("m{i}")).await;
    }
    let last = s.send_text(&alice, &room, "last").await;
    s.post(&room_path(&room, &format!("receipt/m.read/{}", enc(&last))), &alice.token, json!({})).await.ok();
    let ad = format!("/_matrix/client/v3/user/{}/account_data/my.type", enc(&alice.user_id));
    s.put(&ad, &alice.token, json!({"cats": 1})).await.ok();
    leave(&s, &alice, &gone).await.ok();

    let body = s.get("/_matrix/client/v3/initialSync?limit=2", &alice.token).await.ok();
    assert!(body["end"].is_string(), "{body}");
    let rooms = body["rooms"].as_array().expect("rooms");
    assert_eq!(rooms.len(), 1, "left rooms only when archived: {body}");
    let r = &rooms[0];
    assert_eq!((r["room_id"].clone(), r["membership"].clone()), (json!(room), json!("join")));
    assert_eq!(r["visibility"], "private", "not in the directory: {body}");
    let chunk = r["messages"]["chunk"].as_array().expect("chunk");
    assert_eq!(chunk.len(), 2, "{body}");
    assert_eq!(chunk[1]["event_id"], last.as_str(), "oldest first");
    assert!(r["state"].as_array().expect("state").iter().any(|e| e["type"] == "m.room.name"), "{body}");
    assert!(body["account_data"].as_array().expect("account data").iter().any(|e| e["type"] == "my.type"), "{body}");
    // Push rules are a /sync addition: the initial sync never carried them.
    assert!(!body["account_data"].as_array().expect("account data").iter().any(|e| e["type"] == "m.push_rules"), "{body}");
    // The legacy event shape: `user_id` beside `sender`, `age` lifted out of `unsigned`.
    assert!(
        chunk.iter().chain(r["state"].as_array().expect("state")).all(|e| e["user_id"] == e["sender"] && e["age"].is_number()),
        "{body}"
    );
    let receipts = body["receipts"].as_array().expect("receipts");
    assert!(
        receipts.iter().any(|e| e["room_id"] == room.as_str() && e["content"][&last]["m.read"][&alice.user_id]["ts"].is_number()),
        "{body}"
    );

    // The messages' start pages on back.
    let start = r["messages"]["start"].as_str().expect("start");
    let older = s.get(&room_path(&room, &format!("messages?dir=b&limit=1&from={}", enc(start))), &alice.token).await.ok();
    assert_eq!(older["chunk"][0]["content"]["body"], "m1", "{older}");

    let archived = s.get("/_matrix/client/v3/initialSync?limit=2&archived=true", &alice.token).await.ok();
    let left: Vec<&Value> = archived["rooms"].as_array().expect("rooms").iter().filter(|r| r["membership"] == "leave").collect();
    assert_eq!(left.len(), 1, "{archived}");
    assert_eq!(left[0]["room_id"], gone.as_str());

    s.get("/_matrix/client/v3/initialSync?limit=-2", &alice.token).await.err(400, "M_INVALID_PARAM");
}

#[actix_rt::test]
async fn initial_syncs_carry_the_presence_of_self_and_room_mates() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let stranger = s.register_user("stranger").await;
    let room = public_room(&s, &alice, &[&bob]).await;
    let status = |u: &User| format!("/_matrix/client/v3/presence/{}/status", enc(&u.user_id));
    s.put(&status(&alice), &alice.token, json!({"presence": "online", "status_msg": "here"})).await.ok();
    s.put(&status(&stranger), &stranger.token, json!({"presence": "online"})).await.ok();

    // Everyone sharing a room, and the user, in the legacy shape (`user_id` inside the content);
    // bob never set his and reads as offline. A stranger is not listed.
    let body = s.get("/_matrix/client/v3/initialSync?limit=1", &bob.token).await.ok();
    let by_user = |b: &Value| -> std::collections::HashMap<String, Value> {
        b["presence"]
            .as_array()
            .expect("presence")
            .iter()
            .map(|e| (e["content"]["user_id"].as_str().unwrap_or("").to_owned(), e.clone()))
            .collect()
    };
    let seen = by_user(&body);
    assert_eq!(seen.len(), 2, "{body}");
    assert_eq!(seen[&alice.user_id]["type"], "m.presence");
    assert_eq!(seen[&alice.user_id]["content"]["presence"], "online", "{body}");
    assert_eq!(seen[&alice.user_id]["content"]["status_msg"], "here", "{body}");
    assert!(seen[&alice.user_id]["content"]["last_active_ago"].is_number(), "{body}");
    assert_eq!(seen[&bob.user_id]["content"]["presence"], "offline", "{body}");

    // A room's initial sync: its joined members' presence, for members only.
    let one = s.get(&room_path(&room, "initialSync"), &bob.token).await.ok();
    let members = by_user(&one);
    assert!(members.contains_key(&alice.user_id) && members.contains_key(&bob.user_id) && members.len() == 2, "{one}");
    let m = one["state"].as_array().expect("state").iter().find(|e| e["type"] == "m.room.member" && e["state_key"] == bob.user_id.as_str());
    assert_eq!(m.map(|e| e["user_id"].clone()), Some(json!(bob.user_id)), "{one}");
    leave(&s, &bob, &room).await.ok();
    let departed = s.get(&room_path(&room, "initialSync"), &bob.token).await.ok();
    assert_eq!(departed["presence"], json!([]), "{departed}");
    s.get("/_matrix/client/v3/initialSync?archived=maybe", &alice.token).await.err(400, "M_INVALID_PARAM");
}

#[actix_rt::test]
async fn room_initial_sync_for_members_former_members_and_others() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let outsider = s.register_user("outsider").await;
    let room = public_room(&s, &alice, &[&bob]).await;
    s.send_text(&alice, &room, "seen").await;
    let tag = format!("/_matrix/client/v3/user/{}/rooms/{}/tags/work", enc(&bob.user_id), enc(&room));
    s.put(&tag, &bob.token, json!({})).await.ok();
    leave(&s, &bob, &room).await.ok();
    s.send_text(&alice, &room, "after bob left").await;
    s.put(&room_path(&room, "state/m.room.history_visibility/"), &alice.token, json!({"history_visibility": "joined"})).await.ok();

    let mine = s.get(&room_path(&room, "initialSync?limit=3"), &alice.token).await.ok();
    assert_eq!((mine["room_id"].clone(), mine["membership"].clone()), (json!(room), json!("join")));
    assert_eq!(mine["messages"]["chunk"].as_array().map(Vec::len), Some(3), "{mine}");
    assert!(mine["messages"]["start"].is_string() && mine["messages"]["end"].is_string());

    let departed = s.get(&room_path(&room, "initialSync?limit=10"), &bob.token).await.ok();
    assert_eq!(departed["membership"], "leave");
    let bodies: Vec<&str> =
        departed["messages"]["chunk"].as_array().expect("chunk").iter().filter_map(|e| e["content"]["body"].as_str()).collect();
    assert!(bodies.contains(&"seen") && !bodies.contains(&"after bob left"), "{departed}");
    assert!(departed["account_data"].as_array().expect("ad").iter().any(|e| e["type"] == "m.tag"), "{departed}");

    s.get(&room_path(&room, "initialSync"), &outsider.token).await.err(403, "M_FORBIDDEN");
    s.get(&room_path(&room, "initialSync?limit=-1"), &alice.token).await.err(400, "M_INVALID_PARAM");
}

#[actix_rt::test]
async fn send_without_a_transaction_id() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let outsider = s.register_user("outsider").await;
    let room = s.create_room(&alice, json!({})).await;
    let path = room_path(&room, "send/m.room.message");
    let body = json!({"msgtype": "m.text", "body": "legacy"});
    let a = event_id(&s.post(&path, &alice.token, body.clone()).await.ok());
    let b = event_id(&s.post(&path, &alice.token, body.clone()).await.ok());
    assert_ne!(a, b, "no transaction ID: each call sends");
    let got = s.get(&room_path(&room, &format!("event/{}", enc(&a))), &alice.token).await.ok();
    assert_eq!(got["content"]["body"], "legacy");

    s.post(&path, &outsider.token, body).await.err(403, "M_FORBIDDEN");
    s.raw("POST", &path, Some(&alice.token), b"not json".to_vec()).await.err(400, "M_NOT_JSON");
    s.post(&room_path(&room, "send/m.room.redaction"), &alice.token, json!({})).await.err(400, "M_BAD_JSON");
}

#[actix_rt::test]
async fn the_stream_refuses_bad_limits_and_rooms_it_may_not_see() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = s.create_room(&alice, json!({"preset": "private_chat"})).await;
    let started = std::time::Instant::now();
    let path = format!("{R0}/events?timeout=20000&room_id={}", enc(&room));
    s.get(&path, &bob.token).await.err(403, "M_FORBIDDEN");
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "refused at once, not after the timeout");
    for bad in ["hello", "-1"] {
        let r = s.get(&format!("{R0}/events?timeout=0&limit={bad}"), &alice.token).await;
        assert_eq!(r.status, 400, "limit={bad}: {:?}", r.body);
    }
    // A member streams the room.
    s.get(&format!("{R0}/events?timeout=0&room_id={}", enc(&room)), &alice.token).await.ok();
}

#[actix_rt::test]
async fn peeking_at_a_world_readable_room_through_the_stream() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let peeker = s.register_user("peeker").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    let elsewhere = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    let path = |from: Option<&str>, timeout: u64| {
        let mut p = format!("{R0}/events?timeout={timeout}&room_id={}", enc(&room));
        if let Some(f) = from {
            p.push_str(&format!("&from={}", enc(f)));
        }
        p
    };
    // Not world readable yet: refused.
    s.get(&path(None, 0), &peeker.token).await.err(403, "M_FORBIDDEN");
    s.put(&room_path(&room, "state/m.room.history_visibility/"), &alice.token, json!({"history_visibility": "world_readable"})).await.ok();
    let first = s.get(&path(None, 0), &peeker.token).await.ok();
    let token = first["end"].as_str().expect("end").to_owned();

    // A waiting peek answers with what is sent meanwhile, in the legacy shape; other rooms stay out.
    let waiting = path(Some(&token), 10_000);
    let wait = s.get(&waiting, &peeker.token);
    let send = async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        s.send_text(&alice, &elsewhere, "not this room").await;
        s.send_text(&alice, &room, "mice").await
    };
    let (page, sent) = futures_util::join!(wait, send);
    let page = page.ok();
    let messages = of_type(&page, "m.room.message");
    assert_eq!(messages.len(), 1, "{page}");
    assert_eq!((event_id(messages[0]), messages[0]["user_id"].clone()), (sent.clone(), json!(alice.user_id)));
    assert_eq!(messages[0]["room_id"], room.as_str());
    let token = page["end"].as_str().expect("end").to_owned();

    // The room's members' presence, its receipts and typing come too.
    let status = format!("/_matrix/client/v3/presence/{}/status", enc(&alice.user_id));
    s.put(&status, &alice.token, json!({"presence": "online", "status_msg": "lemurs"})).await.ok();
    s.post(&room_path(&room, &format!("receipt/m.read/{}", enc(&sent))), &alice.token, json!({})).await.ok();
    let typing = format!("/_matrix/client/v3/rooms/{}/typing/{}", enc(&room), enc(&alice.user_id));
    s.put(&typing, &alice.token, json!({"typing": true, "timeout": 10_000})).await.ok();
    let page = s.get(&path(Some(&token), 0), &peeker.token).await.ok();
    let presence = of_type(&page, "m.presence");
    assert_eq!(presence.first().map(|e| e["content"]["user_id"].clone()), Some(json!(alice.user_id)), "{page}");
    let receipts = of_type(&page, "m.receipt");
    assert!(receipts.first().is_some_and(|e| e["content"][&sent]["m.read"][&alice.user_id]["ts"].is_number()), "{page}");
    assert_eq!(of_type(&page, "m.typing").first().map(|e| e["content"]["user_ids"].clone()), Some(json!([alice.user_id])), "{page}");
    // A room's initial sync gives a pagination token the stream starts from (as SyTest's
    // SYN-606 does): the room's events after it, every other stream from now.
    let init = s.get(&room_path(&room, "initialSync"), &peeker.token).await.ok();
    let end = init["messages"]["end"].as_str().expect("messages.end").to_owned();
    let later = s.send_text(&alice, &room, "after the initial sync").await;
    let page_from_end = s.get(&path(Some(&end), 0), &peeker.token).await.ok();
    assert_eq!(of_type(&page_from_end, "m.room.message").iter().map(|e| event_id(e)).collect::<Vec<_>>(), vec![later], "{page_from_end}");

    // Nothing new: an idle peek answers empty at the same place.
    let idle = s.get(&path(page_from_end["end"].as_str(), 0), &peeker.token).await.ok();
    assert!(of_type(&idle, "m.room.message").is_empty(), "{idle}");
}
