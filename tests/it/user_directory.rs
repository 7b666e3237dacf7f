//! `/user_directory/search`: who can be found (room-mates, members of public rooms, or
//! everyone when configured), matching on localpart and display name, limits, bad input.

use crate::common::*;
use serde_json::{Value, json};

async fn search(s: &TestServer, who: &User, term: &str, limit: Option<i64>) -> Value {
    let mut body = json!({"search_term": term});
    if let Some(l) = limit {
        body["limit"] = json!(l);
    }
    s.post("/_matrix/client/v3/user_directory/search", &who.token, body).await.ok()
}

fn user_ids(v: &Value) -> Vec<String> {
    v["results"].as_array().unwrap().iter().map(|r| r["user_id"].as_str().unwrap().to_owned()).collect()
}

#[actix_rt::test]
async fn finds_room_mates_and_members_of_published_rooms() {
    let s = TestServer::start().await;
    let admin = s.register_admin("admin").await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let carol = s.register_user("carol").await;
    let dave = s.register_user("dave").await;
    let eve = s.register_user("eve").await;
    s.put(&format!("/_matrix/client/v3/profile/{}/displayname", enc(&bob.user_id)), &bob.token, json!({"displayname": "Bobby Tables"}))
        .await
        .ok();
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    s.join(&bob, &room).await.ok();
    s.join(&eve, &room).await.ok();
    s.create_room(&dave, json!({"visibility": "public", "preset": "public_chat"})).await;

    let found = search(&s, &alice, "bob", None).await;
    assert_eq!(found["results"], json!([{"user_id": bob.user_id, "display_name": "Bobby Tables"}]));
    assert_eq!(found["limited"], false);
    assert_eq!(user_ids(&search(&s, &alice, "TABLES", None).await), vec![bob.user_id.clone()], "display names, any case");
    assert_eq!(user_ids(&search(&s, &alice, "carol", None).await), Vec::<String>::new(), "no shared room, no published room");
    assert_eq!(user_ids(&search(&s, &alice, "dave", None).await), vec![dave.user_id.clone()], "member of a published room");
    // bob's room is publicly joinable: anyone may find him, as in Synapse.
    assert_eq!(user_ids(&search(&s, &carol, "bob", None).await), vec![bob.user_id.clone()], "member of a public room");
    // The server name is not part of what is searched.
    assert_eq!(user_ids(&search(&s, &alice, "test.local", None).await), Vec::<String>::new());
    assert_eq!(user_ids(&search(&s, &alice, "%", None).await), Vec::<String>::new(), "LIKE wildcards are literal");

    // Deactivated users are not found.
    assert_eq!(user_ids(&search(&s, &alice, "eve", None).await), vec![eve.user_id.clone()]);
    s.post(&format!("/_synapse/admin/v1/deactivate/{}", enc(&eve.user_id)), &admin.token, json!({})).await.ok();
    assert_eq!(user_ids(&search(&s, &alice, "eve", None).await), Vec::<String>::new());

    // Limits.
    let both = search(&s, &alice, "a", Some(1)).await;
    assert_eq!(both["results"].as_array().unwrap().len(), 1);
    assert_eq!(both["limited"], true, "{both}");
    assert_eq!(search(&s, &alice, "   ", None).await["results"], json!([]));

    s.post("/_matrix/client/v3/user_directory/search", &alice.token, json!({})).await.err(400, "M_MISSING_PARAM");
    s.post("/_matrix/client/v3/user_directory/search", &alice.token, json!({"search_term": "b", "limit": "x"}))
        .await
        .err(400, "M_BAD_JSON");
    s.post("/_matrix/client/v3/user_directory/search", &alice.token, json!({"search_term": 5})).await.err(400, "M_BAD_JSON");
    s.req("POST", "/_matrix/client/v3/user_directory/search", None, Some(json!({"search_term": "b"}))).await.err(401, "M_MISSING_TOKEN");
}

#[actix_rt::test]
async fn search_all_users_finds_everyone_active() {
    let dir = tempfile::tempdir().unwrap();
    let config = ensemble::Config { user_directory_search_all_users: true, ..test_config(dir.path()) };
    let s = TestServer::start_with(dir, config).await;
    let alice = s.register_user("alice").await;
    let carol = s.register_user("carol").await;
    assert_eq!(user_ids(&search(&s, &alice, "carol", None).await), vec![carol.user_id]);
}

#[actix_rt::test]
async fn private_rooms_hide_their_members_and_the_searcher_from_themself() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let carol = s.register_user("carol").await;
    let room = s.create_room(&alice, json!({"preset": "private_chat", "invite": [bob.user_id]})).await;
    s.join(&bob, &room).await.ok();

    // bob and alice find each other; bob does not find himself through the private room, and
    // carol (no shared room) finds neither.
    assert_eq!(user_ids(&search(&s, &bob, "alice", None).await), vec![alice.user_id.clone()]);
    assert_eq!(user_ids(&search(&s, &bob, "bob", None).await), Vec::<String>::new());
    assert_eq!(user_ids(&search(&s, &carol, "bob", None).await), Vec::<String>::new());

    // A public join rule makes the room's members findable by anyone, bob by himself too...
    let join_rules = room_path(&room, "state/m.room.join_rules/");
    s.put(&join_rules, &alice.token, json!({"join_rule": "public"})).await.ok();
    assert_eq!(user_ids(&search(&s, &bob, "bob", None).await), vec![bob.user_id.clone()]);
    assert_eq!(user_ids(&search(&s, &carol, "bob", None).await), vec![bob.user_id.clone()]);
    // ...and so does world-readable history, which keeps them findable after the join rule
    // goes back to invite.
    let history = room_path(&room, "state/m.room.history_visibility/");
    s.put(&history, &alice.token, json!({"history_visibility": "world_readable"})).await.ok();
    s.put(&join_rules, &alice.token, json!({"join_rule": "invite"})).await.ok();
    assert_eq!(user_ids(&search(&s, &carol, "bob", None).await), vec![bob.user_id.clone()]);
    s.put(&history, &alice.token, json!({"history_visibility": "shared"})).await.ok();
    assert_eq!(user_ids(&search(&s, &carol, "bob", None).await), Vec::<String>::new());
    assert_eq!(user_ids(&search(&s, &bob, "bob", None).await), Vec::<String>::new());

    // Leaving the room ends being found through it.
    s.put(&join_rules, &alice.token, json!({"join_rule": "public"})).await.ok();
    leave(&s, &bob, &room).await.ok();
    assert_eq!(user_ids(&search(&s, &carol, "bob", None).await), Vec::<String>::new());
    assert_eq!(user_ids(&search(&s, &alice, "bob", None).await), Vec::<String>::new());
}
