//! Profiles and account data: a display name change reaches every joined room, room tags and
//! per-room account data.

use crate::common::*;
use serde_json::{Value, json};

async fn member_content(s: &TestServer, room: &str, user_id: &str, token: &str) -> Value {
    s.get(&format!("{V3}/rooms/{}/state/m.room.member/{}", enc(room), enc(user_id)), token).await.ok()
}

async fn display_name_in(s: &TestServer, room: &str, user_id: &str, token: &str) -> Value {
    let jm = s.get(&format!("{V3}/rooms/{}/joined_members", enc(room)), token).await.ok();
    jm["joined"][user_id]["display_name"].clone()
}

#[actix_rt::test]
async fn displayname_propagates_to_every_joined_room() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let own_room = s.create_room(&alice, json!({})).await;
    let bobs_room = s.create_room(&bob, json!({"preset": "public_chat"})).await;
    s.join(&alice, &bobs_room).await.ok();
    let left_room = s.create_room(&bob, json!({"preset": "public_chat"})).await;
    s.join(&alice, &left_room).await.ok();
    s.post(&format!("{V3}/rooms/{}/leave", enc(&left_room)), &alice.token, json!({})).await.ok();
    let (sr, uid, tok) = (&s, alice.user_id.as_str(), alice.token.as_str());

    let set_name = |name: &'static str| async move {
        sr.put(&format!("{V3}/profile/{}/displayname", enc(uid)), tok, json!({"displayname": name})).await.ok();
    };

    set_name("Alice Liddell").await;
    let p = s.get(&format!("{V3}/profile/{}", enc(uid)), &bob.token).await.ok();
    assert_eq!(p["displayname"], "Alice Liddell");
    let p = s.get(&format!("{V3}/profile/{}/displayname", enc(uid)), &bob.token).await.ok();
    assert_eq!(p["displayname"], "Alice Liddell");

    for room in [own_room.as_str(), bobs_room.as_str()] {
        let content =
            eventually(5, || async move { Some(member_content(sr, room, uid, tok).await).filter(|c| c["displayname"] == "Alice Liddell") })
                .await;
        assert_eq!(content["membership"], "join", "{content}");
        assert_eq!(display_name_in(&s, room, uid, tok).await, "Alice Liddell");
    }
    assert_eq!(display_name_in(&s, &bobs_room, uid, &bob.token).await, "Alice Liddell");
    // The room she left gets no new member event: she is still recorded as gone.
    let gone = member_content(&s, &left_room, uid, &bob.token).await;
    assert_eq!(gone["membership"], "leave", "{gone}");

    // A room joined while the profile's actor is active is tracked as well.
    let third = s.create_room(&bob, json!({"preset": "public_chat"})).await;
    s.join(&alice, &third).await.ok();
    let joined = member_content(&s, &third, uid, &bob.token).await;
    assert_eq!(joined["displayname"], "Alice Liddell", "joining uses the current profile: {joined}");
    set_name("Alice L.").await;
    for room in [own_room.as_str(), bobs_room.as_str(), third.as_str()] {
        eventually(5, || async move { (member_content(sr, room, uid, tok).await["displayname"] == "Alice L.").then_some(()) }).await;
    }
    assert_eq!(display_name_in(&s, &third, uid, &bob.token).await, "Alice L.");
    let gone = member_content(&s, &left_room, uid, &bob.token).await;
    assert_eq!(gone["membership"], "leave", "{gone}");
    assert!(gone.get("displayname").is_none_or(|d| d != "Alice L."), "{gone}");

    // Nobody changes someone else's name.
    s.put(&format!("{V3}/profile/{}/displayname", enc(uid)), &bob.token, json!({"displayname": "Mallory"})).await.err(403, "M_FORBIDDEN");
    assert_eq!(s.get(&format!("{V3}/profile/{}", enc(uid)), &bob.token).await.ok()["displayname"], "Alice L.");
}

#[actix_rt::test]
async fn room_tags_and_room_account_data() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({})).await;
    let tags = format!("{V3}/user/{}/rooms/{}/tags", enc(&alice.user_id), enc(&room));
    let since = next_batch(&s.sync(&alice, None, 0).await);

    assert_eq!(s.get(&tags, &alice.token).await.ok(), json!({"tags": {}}));
    s.put(&format!("{tags}/u.work"), &alice.token, json!({"order": 0.5})).await.ok();
    s.put(&format!("{tags}/m.favourite"), &alice.token, json!({})).await.ok();
    assert_eq!(s.get(&tags, &alice.token).await.ok(), json!({"tags": {"u.work": {"order": 0.5}, "m.favourite": {}}}));
    s.req("DELETE", &format!("{tags}/u.work"), Some(&alice.token), None).await.ok();
    assert_eq!(s.get(&tags, &alice.token).await.ok(), json!({"tags": {"m.favourite": {}}}));

    let room_ad = |kind: &str| format!("{V3}/user/{}/rooms/{}/account_data/{kind}", enc(&alice.user_id), enc(&room));
    s.put(&room_ad("org.example.room"), &alice.token, json!({"pinned": true, "n": 3})).await.ok();
    assert_eq!(s.get(&room_ad("org.example.room"), &alice.token).await.ok(), json!({"pinned": true, "n": 3}));
    s.get(&room_ad("org.example.unset"), &alice.token).await.err(404, "M_NOT_FOUND");

    let check = |body: &Value| {
        let ad =
            body["rooms"]["join"][&room]["account_data"]["events"].as_array().unwrap_or_else(|| panic!("no room account_data: {body}"));
        let tag = ad.iter().find(|e| e["type"] == "m.tag").unwrap_or_else(|| panic!("m.tag missing: {body}"));
        assert_eq!(tag["content"], json!({"tags": {"m.favourite": {}}}));
        let custom = ad.iter().find(|e| e["type"] == "org.example.room").unwrap_or_else(|| panic!("room account data missing: {body}"));
        assert_eq!(custom["content"], json!({"pinned": true, "n": 3}));
        // Room account data is not global account data.
        let global = body["account_data"]["events"].as_array().expect("account_data");
        assert!(!global.iter().any(|e| e["type"] == "m.tag" || e["type"] == "org.example.room"), "{body}");
    };
    // Initial sync and an incremental one where only account data changed both carry it.
    check(&s.sync(&alice, None, 0).await);
    let inc = s.sync(&alice, Some(&since), 0).await;
    check(&inc);
    assert!(timeline(&inc, &room).is_empty(), "no new events, only account data: {inc}");

    // Someone else's tags are off limits.
    let bob = s.register_user("bob").await;
    s.get(&tags, &bob.token).await.err(403, "M_FORBIDDEN");
    s.put(&format!("{tags}/u.evil"), &bob.token, json!({})).await.err(403, "M_FORBIDDEN");
}

#[actix_rt::test]
async fn unset_profile_fields_read_as_empty_and_avatar_updates_reach_rooms() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({})).await;
    let avatar = format!("{V3}/profile/{}/avatar_url", enc(&alice.user_id));

    // Unset: an empty object, not a 404 (a client reads "no avatar" that way).
    assert_eq!(s.get(&avatar, &alice.token).await.ok(), json!({}));
    s.get(&format!("{V3}/profile/{}/avatar_url", enc(&local("nobody"))), &alice.token).await.err(404, "M_NOT_FOUND");
    s.get(&format!("{V3}/profile/{}/not_a_field", enc(&alice.user_id)), &alice.token).await.err(404, "M_NOT_FOUND");

    s.put(&avatar, &alice.token, json!({"avatar_url": "mxc://example.org/lemur"})).await.ok();
    assert_eq!(s.get(&avatar, &alice.token).await.ok()["avatar_url"], "mxc://example.org/lemur");
    let (sr, room_ref, uid, tok) = (&s, room.as_str(), alice.user_id.as_str(), alice.token.as_str());
    let content = eventually(5, || async move {
        Some(member_content(sr, room_ref, uid, tok).await).filter(|c| c["avatar_url"] == "mxc://example.org/lemur")
    })
    .await;
    assert_eq!(content["membership"], "join");
}
