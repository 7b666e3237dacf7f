//! Shadow-banning through the Synapse admin API: a shadow-banned user's messages reach nobody, and
//! their rooms and invites are fakes.

use crate::common::*;
use serde_json::{Value, json};

fn timeline_ids(sync: &Value, room: &str) -> Vec<String> {
    timeline(sync, room).iter().map(|e| e["event_id"].as_str().unwrap_or_default().to_owned()).collect()
}

async fn history_ids(s: &TestServer, viewer: &User, room: &str) -> Vec<String> {
    let b = aget(s, &viewer.token, &client(&format!("rooms/{}/messages?dir=b&limit=100", enc(room)))).await.ok();
    b["chunk"].as_array().unwrap().iter().map(|e| e["event_id"].as_str().unwrap().to_owned()).collect()
}

#[actix_rt::test]
async fn shadow_banned_messages_reach_nobody() {
    let s = TestServer::start().await;
    let admin = s.register_admin("boss").await;
    let alice = s.register_user("alice").await;
    let mallory = s.register_user("mallory").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    s.join(&mallory, &room).await.ok();

    let ban = v1_user(&mallory.user_id, "shadow_ban");
    assert_eq!(apost(&s, &admin.token, &ban, json!({})).await.ok(), json!({}));
    assert_eq!(user_json(&s, &admin, &mallory.user_id).await["shadow_banned"], true);

    let since = s.sync(&alice, None, 0).await["next_batch"].as_str().unwrap().to_owned();
    let r = s.send_text_resp(&mallory, &room, "shadow words").await.ok();
    let hidden = r["event_id"].as_str().unwrap_or_else(|| panic!("event_id: {r}")).to_owned();
    assert!(hidden.starts_with('$'), "{hidden}");
    let marker = s.send_text(&alice, &room, "marker").await;

    let filter = json!({"room": {"timeline": {"limit": 50}}}).to_string();
    let path = client(&format!("sync?since={since}&timeout=0&filter={}", enc(&filter)));
    let sync = eventually(10, || async {
        let b = aget(&s, &alice.token, &path).await.ok();
        timeline_ids(&b, &room).contains(&marker).then_some(b)
    })
    .await;
    assert!(!timeline_ids(&sync, &room).contains(&hidden), "the shadow-banned message reached alice's sync: {sync}");
    assert!(!sync.to_string().contains("shadow words"), "{sync}");
    let full = s.get(&client(&format!("sync?filter={}", enc(&filter))), &alice.token).await.ok();
    assert!(!full.to_string().contains("shadow words"), "{full}");
    assert!(!history_ids(&s, &alice, &room).await.contains(&hidden));
    aget(&s, &alice.token, &client(&format!("rooms/{}/event/{}", enc(&room), enc(&hidden)))).await.err(404, "M_NOT_FOUND");

    // Lifted: sends work again.
    assert_eq!(adelete(&s, &admin.token, &ban).await.ok(), json!({}));
    assert_eq!(user_json(&s, &admin, &mallory.user_id).await["shadow_banned"], false);
    let visible = s.send_text(&mallory, &room, "back in the light").await;
    let seen = aget(&s, &alice.token, &client(&format!("rooms/{}/event/{}", enc(&room), enc(&visible)))).await.ok();
    assert_eq!(seen["content"]["body"], "back in the light");
    assert!(history_ids(&s, &alice, &room).await.contains(&visible));
}

#[actix_rt::test]
async fn shadow_banned_rooms_and_invites_are_fake() {
    let s = TestServer::start().await;
    let admin = s.register_admin("boss").await;
    let alice = s.register_user("alice").await;
    let dave = s.register_user("dave").await;
    let mallory = s.register_user("mallory").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    s.join(&mallory, &room).await.ok();
    let ban = v1_user(&mallory.user_id, "shadow_ban");
    assert_eq!(apost(&s, &admin.token, &ban, json!({})).await.ok(), json!({}));

    // createRoom answers with a room that does not exist.
    let fake = apost(&s, &mallory.token, &client("createRoom"), json!({"preset": "public_chat", "name": "Fake"})).await.ok();
    let fake = fake["room_id"].as_str().unwrap_or_else(|| panic!("room_id: {fake}")).to_owned();
    assert!(fake.starts_with('!') && fake.ends_with(":test.local"), "{fake}");
    s.join(&alice, &fake).await.err(404, "M_UNKNOWN");
    s.join(&dave, &fake).await.err(404, "M_UNKNOWN");
    assert!(!s.joined_rooms(&mallory).await.contains(&fake));

    // An invite answers 200 but nobody is invited.
    assert_eq!(s.invite(&mallory, &room, &dave.user_id).await.ok(), json!({}));
    let sync = s.sync(&dave, None, 0).await;
    assert!(sync["rooms"]["invite"].get(&room).is_none(), "dave sees the shadow-banned invite: {sync}");
    let members = aget(&s, &alice.token, &client(&format!("rooms/{}/members", enc(&room)))).await.ok();
    assert!(!members.to_string().contains(&dave.user_id), "{members}");

    // Lifted: invites work again.
    assert_eq!(adelete(&s, &admin.token, &ban).await.ok(), json!({}));
    assert_eq!(user_json(&s, &admin, &mallory.user_id).await["shadow_banned"], false);
    s.invite(&mallory, &room, &dave.user_id).await.ok();
    let sync = s.sync(&dave, None, 0).await;
    assert!(sync["rooms"]["invite"].get(&room).is_some(), "{sync}");
    let real = s.create_room(&mallory, json!({})).await;
    assert!(s.joined_rooms(&mallory).await.contains(&real));
}
