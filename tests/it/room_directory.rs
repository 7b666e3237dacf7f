//! The room directory: room aliases (create, resolve, delete, validated names) and the
//! `/publicRooms` listing, paging and search, and directory visibility.

use crate::common::*;
use serde_json::{Value, json};

fn names(v: &Value) -> Vec<String> {
    v["chunk"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap_or("").to_owned()).collect()
}

#[actix_rt::test]
async fn alias_directory() {
    let s = TestServer::start().await;
    let admin = s.register_admin("admin").await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    let other = s.create_room(&bob, json!({"preset": "public_chat"})).await;
    let alias = format!("#stuff:{}", s.server_name());
    let path = format!("/_matrix/client/v3/directory/room/{}", enc(&alias));

    s.put(&path, &alice.token, json!({"room_id": room})).await.ok();
    let got = s.get(&path, &bob.token).await.ok();
    assert_eq!(got["room_id"], room);
    assert!(got["servers"].as_array().is_some_and(|a| a.contains(&json!(s.server_name()))), "{got}");

    // Taken, by anyone, for any room.
    s.put(&path, &alice.token, json!({"room_id": room})).await.err(409, "M_UNKNOWN");
    s.put(&path, &bob.token, json!({"room_id": other})).await.err(409, "M_UNKNOWN");

    let unknown = format!("/_matrix/client/v3/directory/room/{}", enc(&format!("#nothing:{}", s.server_name())));
    s.get(&unknown, &alice.token).await.err(404, "M_NOT_FOUND");
    s.req("DELETE", &unknown, Some(&alice.token), None).await.err(404, "M_NOT_FOUND");

    // bob did not create it and is no admin.
    s.req("DELETE", &path, Some(&bob.token), None).await.err(403, "M_FORBIDDEN");
    assert_eq!(s.get(&path, &bob.token).await.ok()["room_id"], room);

    // Its creator deletes it; then it is gone and free again.
    s.req("DELETE", &path, Some(&alice.token), None).await.ok();
    s.get(&path, &alice.token).await.err(404, "M_NOT_FOUND");
    s.put(&path, &bob.token, json!({"room_id": other})).await.ok();

    // A server admin may delete anyone's alias.
    s.req("DELETE", &path, Some(&admin.token), None).await.ok();
    s.get(&path, &alice.token).await.err(404, "M_NOT_FOUND");
}

#[actix_rt::test]
async fn room_alias_names_are_validated() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let create = format!("{V3}/createRoom");
    for name in ["".to_owned(), "a b".into(), "a:b".into(), "tab\there".into(), "x".repeat(250)] {
        s.post(&create, &alice.token, json!({"room_alias_name": name})).await.err(400, "M_INVALID_PARAM");
    }
    // Nothing was created along the way, and a good name still works.
    assert!(s.joined_rooms(&alice).await.is_empty());
    let room = s.create_room(&alice, json!({"room_alias_name": "good"})).await;
    let found = s.get(&format!("{V3}/directory/room/{}", enc("#good:test.local")), &alice.token).await.ok();
    assert_eq!(found["room_id"], room.as_str());
}

#[actix_rt::test]
async fn published_rooms_are_listed_paged_and_searched() {
    let s = TestServer::start().await;
    let admin = s.register_admin("admin").await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let carol = s.register_user("carol").await;
    let general = s
        .create_room(
            &alice,
            json!({"visibility": "public", "preset": "public_chat", "name": "General", "topic": "Everything", "room_alias_name": "general"}),
        )
        .await;
    s.join(&bob, &general).await.ok();
    s.create_room(&alice, json!({"name": "Secret"})).await;
    let random = s.create_room(&carol, json!({"visibility": "public", "preset": "public_chat", "name": "Random"})).await;

    let all = s.req("GET", "/_matrix/client/v3/publicRooms", None, None).await.ok();
    assert_eq!(names(&all), vec!["General", "Random"], "largest first, private rooms absent: {all}");
    assert_eq!(all["total_room_count_estimate"], 2);
    let g = &all["chunk"][0];
    assert_eq!(g["room_id"], general.as_str());
    assert_eq!(g["num_joined_members"], 2);
    assert_eq!(all["chunk"][1]["room_id"], random.as_str());
    assert_eq!(g["topic"], "Everything");
    assert_eq!(g["canonical_alias"], format!("#general:{}", s.server_name()));
    assert_eq!(
        (g["join_rule"].as_str(), g["world_readable"].as_bool(), g["guest_can_join"].as_bool()),
        (Some("public"), Some(false), Some(false))
    );

    let first = s.get("/_matrix/client/v3/publicRooms?limit=1", &alice.token).await.ok();
    assert_eq!(names(&first), vec!["General"]);
    let next = first["next_batch"].as_str().unwrap();
    let second = s.get(&format!("/_matrix/client/v3/publicRooms?limit=1&since={next}"), &alice.token).await.ok();
    assert_eq!(names(&second), vec!["Random"]);
    assert!(second.get("next_batch").is_none() && second["prev_batch"].is_string(), "{second}");

    let found = s.post("/_matrix/client/v3/publicRooms", &alice.token, json!({"filter": {"generic_search_term": "RAND"}})).await.ok();
    assert_eq!(names(&found), vec!["Random"]);
    let by_topic =
        s.post("/_matrix/client/v3/publicRooms", &alice.token, json!({"filter": {"generic_search_term": "everything"}})).await.ok();
    assert_eq!(names(&by_topic), vec!["General"]);

    // Visibility: the creator withdraws a room, a member without power cannot, an admin can.
    let vis = |room: &str| format!("/_matrix/client/v3/directory/list/room/{}", enc(room));
    assert_eq!(s.req("GET", &vis(&general), None, None).await.ok(), json!({"visibility": "public"}));
    s.put(&vis(&general), &bob.token, json!({"visibility": "private"})).await.err(403, "M_FORBIDDEN");
    s.put(&vis(&general), &alice.token, json!({"visibility": "private"})).await.ok();
    assert_eq!(s.req("GET", &vis(&general), None, None).await.ok(), json!({"visibility": "private"}));
    assert_eq!(names(&s.req("GET", "/_matrix/client/v3/publicRooms", None, None).await.ok()), vec!["Random"]);
    s.put(&vis(&general), &admin.token, json!({"visibility": "public"})).await.ok();
    assert_eq!(names(&s.req("GET", "/_matrix/client/v3/publicRooms", None, None).await.ok()), vec!["General", "Random"]);
}

#[actix_rt::test]
async fn bad_directory_requests() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({})).await;
    s.req("GET", "/_matrix/client/v3/publicRooms?since=zzz", None, None).await.err(400, "M_INVALID_PARAM");
    s.req("GET", "/_matrix/client/v3/publicRooms?limit=-1", None, None).await.err(400, "M_INVALID_PARAM");
    s.req("GET", "/_matrix/client/v3/publicRooms?server=elsewhere.example", None, None).await.err(400, "M_INVALID_PARAM");
    s.req("POST", "/_matrix/client/v3/publicRooms", None, Some(json!({}))).await.err(401, "M_MISSING_TOKEN");
    s.post("/_matrix/client/v3/publicRooms", &alice.token, json!({"limit": "x"})).await.err(400, "M_BAD_JSON");
    s.post("/_matrix/client/v3/publicRooms", &alice.token, json!({"filter": {"generic_search_term": 1}})).await.err(400, "M_BAD_JSON");
    let vis = format!("/_matrix/client/v3/directory/list/room/{}", enc(&room));
    s.put(&vis, &alice.token, json!({"visibility": "everyone"})).await.err(400, "M_INVALID_PARAM");
    s.put(&vis, &alice.token, json!({})).await.err(400, "M_MISSING_PARAM");
    s.req("PUT", &vis, None, Some(json!({"visibility": "public"}))).await.err(401, "M_MISSING_TOKEN");
    let unknown = format!("/_matrix/client/v3/directory/list/room/{}", enc("!nope:test.local"));
    s.req("GET", &unknown, None, None).await.err(404, "M_NOT_FOUND");
    s.put(&unknown, &alice.token, json!({"visibility": "public"})).await.err(404, "M_NOT_FOUND");
}
