//! `m.ignored_user_list`: an ignored user's messages leave the ignorer's `/sync` timelines and
//! `/messages`, their invites leave the ignorer's syncs, and a change applies at the next request.

use crate::common::*;
use serde_json::{Value, json};

async fn ignore(s: &TestServer, user: &User, ignored: &[&User]) {
    let list: serde_json::Map<String, Value> = ignored.iter().map(|u| (u.user_id.clone(), json!({}))).collect();
    let path = format!("{V3}/user/{}/account_data/m.ignored_user_list", enc(&user.user_id));
    s.put(&path, &user.token, json!({"ignored_users": list})).await.ok();
}

fn bodies(events: &[&Value]) -> Vec<String> {
    events.iter().filter(|e| e["type"] == "m.room.message").map(|e| e["content"]["body"].as_str().unwrap_or_default().to_owned()).collect()
}

#[actix_rt::test]
async fn ignored_users_messages_are_hidden() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let carol = s.register_user("carol").await;
    let room = public_room(&s, &alice, &[&bob, &carol]).await;
    s.send_text(&bob, &room, "from bob").await;
    s.send_text(&carol, &room, "from carol").await;

    ignore(&s, &alice, &[&bob]).await;
    let first = s.sync(&alice, None, 0).await;
    assert_eq!(bodies(&timeline(&first, &room)), vec!["from carol"], "{first}");
    // bob's membership (state) stays.
    let members = s.get(&room_path(&room, "members"), &alice.token).await.ok();
    assert!(members["chunk"].as_array().expect("chunk").iter().any(|e| e["state_key"] == bob.user_id.as_str()));
    let page = s.get(&room_path(&room, "messages?dir=b&limit=50"), &alice.token).await.ok();
    let chunk: Vec<&Value> = page["chunk"].as_array().expect("chunk").iter().collect();
    assert_eq!(bodies(&chunk), vec!["from carol"]);
    // Others still see bob.
    let carols = s.get(&room_path(&room, "messages?dir=b&limit=50"), &carol.token).await.ok();
    let chunk: Vec<&Value> = carols["chunk"].as_array().expect("chunk").iter().collect();
    assert_eq!(bodies(&chunk), vec!["from carol", "from bob"]);

    // Only bob speaking: the room has nothing new for alice.
    let since = next_batch(&first);
    s.send_text(&bob, &room, "again bob").await;
    let quiet = s.sync(&alice, Some(&since), 0).await;
    assert!(quiet["rooms"]["join"].get(&room).is_none(), "{quiet}");
    s.send_text(&carol, &room, "again carol").await;
    let next = s.sync(&alice, Some(&next_batch(&quiet)), 0).await;
    assert_eq!(bodies(&timeline(&next, &room)), vec!["again carol"]);

    // Unignoring takes effect on the next request.
    ignore(&s, &alice, &[]).await;
    let full = s.sync(&alice, None, 0).await;
    assert_eq!(bodies(&timeline(&full, &room)), vec!["from bob", "from carol", "again bob", "again carol"]);
}

#[actix_rt::test]
async fn invites_from_ignored_users_are_hidden() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let carol = s.register_user("carol").await;
    let bobs_room = s.create_room(&bob, json!({})).await;
    let carols_room = s.create_room(&carol, json!({})).await;
    let since = next_batch(&s.sync(&alice, None, 0).await);

    s.invite(&bob, &bobs_room, &alice.user_id).await.ok();
    s.invite(&carol, &carols_room, &alice.user_id).await.ok();
    ignore(&s, &alice, &[&bob]).await;

    for sync in [s.sync(&alice, Some(&since), 0).await, s.sync(&alice, None, 0).await] {
        let invites = sync["rooms"]["invite"].as_object().expect("invite");
        assert!(!invites.contains_key(&bobs_room), "{sync}");
        assert!(invites.contains_key(&carols_room), "{sync}");
    }
    // The invite itself stands: alice may still join.
    s.join(&alice, &bobs_room).await.ok();
}
