//! `/sync` with lazy-loaded members (only the timeline's senders, each sent to a device once
//! unless redundant members are asked for), the room summary, strict filter validation, and a
//! room joined since the token reading like an initial sync.

use crate::common::*;
use serde_json::{Value, json};

async fn filter_id(s: &TestServer, user: &User, filter: Value) -> String {
    let r = s.post(&format!("/_matrix/client/v3/user/{}/filter", enc(&user.user_id)), &user.token, filter).await.ok();
    r["filter_id"].as_str().expect("filter_id").to_owned()
}

async fn sync_with(s: &TestServer, user: &User, since: Option<&str>, filter: &str) -> Value {
    s.get(&sync_path(since, 0, Some(filter)), &user.token).await.ok()
}

fn members(sync: &Value, room: &str) -> Vec<String> {
    let mut m: Vec<String> = sync["rooms"]["join"][room]["state"]["events"]
        .as_array()
        .map(|a| a.iter().filter(|e| e["type"] == "m.room.member").map(|e| e["state_key"].as_str().unwrap_or("").to_owned()).collect())
        .unwrap_or_default();
    m.sort();
    m
}

const LAZY: &str = r#"{"room": {"state": {"lazy_load_members": true}, "timeline": {"limit": 3}}}"#;

#[actix_rt::test]
async fn lazy_members_are_the_timeline_senders_sent_once_per_device() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let carol = s.register_user("carol").await;
    let room = public_room(&s, &alice, &[&bob, &carol]).await;
    for i in 0..3 {
        s.send_text(&bob, &room, &format!("bob {i}")).await;
    }
    let f = filter_id(&s, &alice, serde_json::from_str(LAZY).unwrap()).await;

    // Initial: the senders in the timeline (bob) and the syncing user, not carol.
    let first = sync_with(&s, &alice, None, &f).await;
    assert_eq!(members(&first, &room), vec![alice.user_id.clone(), bob.user_id.clone()], "{first}");
    // Other state is all there.
    let state = first["rooms"]["join"][&room]["state"]["events"].as_array().expect("state");
    assert!(state.iter().any(|e| e["type"] == "m.room.create"), "{first}");

    // Incremental: carol speaks, her member event comes once; bob's, already sent, does not.
    s.send_text(&carol, &room, "carol").await;
    s.send_text(&bob, &room, "bob again").await;
    let inc = sync_with(&s, &alice, Some(&next_batch(&first)), &f).await;
    assert_eq!(members(&inc, &room), vec![carol.user_id.clone()], "{inc}");
    s.send_text(&carol, &room, "carol again").await;
    let inc2 = sync_with(&s, &alice, Some(&next_batch(&inc)), &f).await;
    assert_eq!(members(&inc2, &room), Vec::<String>::new(), "{inc2}");

    // Asked for redundant members, the same device gets them again.
    let redundant = filter_id(
        &s,
        &alice,
        json!({"room": {"state": {"lazy_load_members": true, "include_redundant_members": true}, "timeline": {"limit": 3}}}),
    )
    .await;
    s.send_text(&carol, &room, "once more").await;
    let inc3 = sync_with(&s, &alice, Some(&next_batch(&inc2)), &redundant).await;
    assert_eq!(members(&inc3, &room), vec![carol.user_id.clone()], "{inc3}");

    // Without lazy loading, an initial sync carries every member.
    let full = sync_with(&s, &alice, None, r#"{"room": {"timeline": {"limit": 1}}}"#).await;
    assert_eq!(members(&full, &room).len(), 3, "{full}");
}

#[actix_rt::test]
async fn a_gappy_lazy_sync_carries_the_gaps_member_changes() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let carol = s.register_user("carol").await;
    let dave = s.register_user("dave").await;
    let room = public_room(&s, &alice, &[&bob, &carol]).await;
    // Enough that carol's join is not in the first timeline.
    for i in 0..3 {
        s.send_text(&bob, &room, &format!("hello {i}")).await;
    }
    let f = filter_id(&s, &alice, serde_json::from_str(LAZY).unwrap()).await;
    let first = sync_with(&s, &alice, None, &f).await;
    assert_eq!(members(&first, &room), vec![alice.user_id.clone(), bob.user_id.clone()], "{first}");
    s.join(&dave, &room).await.ok();
    for i in 0..5 {
        s.send_text(&carol, &room, &format!("carol {i}")).await;
    }
    let inc = sync_with(&s, &alice, Some(&next_batch(&first)), &f).await;
    assert_eq!(inc["rooms"]["join"][&room]["timeline"]["limited"], true, "{inc}");
    let mut want = vec![carol.user_id.clone(), dave.user_id.clone()];
    want.sort();
    assert_eq!(members(&inc, &room), want, "{inc}");
}

#[actix_rt::test]
async fn summary_counts_members_and_names_an_unnamed_room() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let users = [s.register_user("u1").await, s.register_user("u2").await, s.register_user("u3").await];
    let room = public_room(&s, &alice, &users.iter().collect::<Vec<_>>()).await;
    let dan = s.register_user("dan").await;
    s.invite(&alice, &room, &dan.user_id).await.ok();
    let sync = s.sync(&alice, None, 0).await;
    let summary = &sync["rooms"]["join"][&room]["summary"];
    assert_eq!(summary["m.joined_member_count"], 4, "{summary}");
    assert_eq!(summary["m.invited_member_count"], 1, "{summary}");
    let mut heroes: Vec<String> = users.iter().map(|u| u.user_id.clone()).chain([dan.user_id.clone()]).collect();
    heroes.sort();
    assert_eq!(summary["m.heroes"], json!(heroes), "{summary}");

    // A named room needs no heroes.
    set_name(&s, &alice, &room, "Named").await.ok();
    let sync = s.sync(&alice, None, 0).await;
    let summary = &sync["rooms"]["join"][&room]["summary"];
    assert!(summary.get("m.heroes").is_none(), "{summary}");
    assert_eq!(summary["m.joined_member_count"], 4, "{summary}");
}

#[actix_rt::test]
async fn filters_are_checked_strictly() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let path = format!("/_matrix/client/v3/user/{}/filter", enc(&alice.user_id));
    for bad in [
        json!({"room": {"state": {"lazy_load_members": "true"}}}),
        json!({"room": {"state": {"include_redundant_members": 1}}}),
        json!({"room": {"timeline": "yes"}}),
        json!({"room": {"timeline": {"limit": -5}}}),
        json!({"event_format": "binary"}),
    ] {
        s.post(&path, &alice.token, bad.clone()).await.err(400, "M_BAD_JSON");
        // Inline filters too.
        s.get(&sync_path(None, 0, Some(&bad.to_string())), &alice.token).await.err(400, "M_BAD_JSON");
    }
    // Unknown fields are allowed, as the spec lets filters grow.
    s.post(&path, &alice.token, json!({"room": {"org.example.new": true}})).await.ok();
}

#[actix_rt::test]
async fn a_room_joined_since_the_token_reads_like_an_initial_sync() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    s.send_text(&alice, &room, "before bob").await;
    let since = next_batch(&s.sync(&bob, None, 0).await);
    s.join(&bob, &room).await.ok();
    let inc = s.sync(&bob, Some(&since), 0).await;
    let joined = &inc["rooms"]["join"][&room];
    // The whole (short) history is the timeline, from the create event, so no state is needed.
    let events = joined["timeline"]["events"].as_array().expect("timeline");
    assert_eq!(events[0]["type"], "m.room.create", "{inc}");
    assert!(events.iter().any(|e| e["content"]["body"] == "before bob"), "{inc}");
    assert_eq!(joined["timeline"]["limited"], false, "{inc}");
    assert_eq!(joined["state"]["events"], json!([]), "{inc}");

    // With a timeline shorter than the history, it is limited and the state fills the gap.
    // (Narrowed by type, it is limited only when more events of those types came before.)
    let f = r#"{"room": {"timeline": {"limit": 1, "types": ["m.room.message"]}}}"#;
    let carol = s.register_user("carol").await;
    s.send_text(&alice, &room, "before carol").await;
    let since = next_batch(&s.sync(&carol, None, 0).await);
    s.join(&carol, &room).await.ok();
    let inc = s.get(&sync_path(Some(&since), 0, Some(f)), &carol.token).await.ok();
    let joined = &inc["rooms"]["join"][&room];
    assert_eq!(joined["timeline"]["limited"], true, "{inc}");
    assert!(joined["state"]["events"].as_array().is_some_and(|s| s.iter().any(|e| e["type"] == "m.room.create")), "{inc}");
}

#[actix_rt::test]
async fn new_room_mates_presence_comes_with_the_join() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    s.put(&format!("/_matrix/client/v3/presence/{}/status", enc(&bob.user_id)), &bob.token, json!({"presence": "online"})).await.ok();
    let since = next_batch(&s.sync(&alice, None, 0).await);
    s.join(&bob, &room).await.ok();
    let inc = s.sync(&alice, Some(&since), 0).await;
    let presence = inc["presence"]["events"].as_array().expect("presence");
    assert!(presence.iter().any(|p| p["sender"] == bob.user_id), "{inc}");
}

/// Many senders at once (past the count read one by one): each one's member event comes, as of
/// the timeline's start, and only theirs (redundant members asked for: the initial sync's
/// timeline already carried their joins).
#[actix_rt::test]
async fn many_new_senders_each_bring_their_member_event() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let mut senders = Vec::new();
    for i in 0..18 {
        senders.push(s.register_user(&format!("sender{i}")).await);
    }
    let quiet = s.register_user("quiet").await;
    let mut everyone: Vec<&User> = senders.iter().collect();
    everyone.push(&quiet);
    let room = public_room(&s, &alice, &everyone).await;
    let f = filter_id(
        &s,
        &alice,
        json!({"room": {"state": {"lazy_load_members": true, "include_redundant_members": true}, "timeline": {"limit": 30}}}),
    )
    .await;
    let first = sync_with(&s, &alice, None, &f).await;
    for u in &senders {
        s.send_text(u, &room, "hello").await;
    }
    let inc = sync_with(&s, &alice, Some(&next_batch(&first)), &f).await;
    let mut want: Vec<String> = senders.iter().map(|u| u.user_id.clone()).collect();
    want.sort();
    assert_eq!(members(&inc, &room), want, "{inc}");
    assert_eq!(inc["rooms"]["join"][&room]["timeline"]["limited"], false, "{inc}");
}
