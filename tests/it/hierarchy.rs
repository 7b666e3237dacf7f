//! `GET /_matrix/client/v1/rooms/{roomId}/hierarchy`: a space's rooms depth first, each room's
//! summary and children, the rooms left out (invisible, unknown, no `via`), `suggested_only`,
//! `max_depth`, paging, and errors. Local rooms only (no federation).

use crate::common::*;
use serde_json::{Value, json};

fn hierarchy_path(room: &str, query: &str) -> String {
    format!("/_matrix/client/v1/rooms/{}/hierarchy{query}", enc(room))
}

async fn space(s: &TestServer, user: &User, name: &str, preset: &str) -> String {
    s.create_room(user, json!({"preset": preset, "name": name, "creation_content": {"type": "m.space"}})).await
}

async fn add_child(s: &TestServer, user: &User, parent: &str, child: &str, extra: Value) {
    let mut content = json!({"via": ["test.local"]});
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        content[k] = v;
    }
    s.put(&room_path(parent, &format!("state/m.space.child/{}", enc(child))), &user.token, content).await.ok();
}

fn room_ids(body: &Value) -> Vec<String> {
    body["rooms"].as_array().expect("rooms").iter().map(|r| r["room_id"].as_str().unwrap().to_owned()).collect()
}

#[actix_web::test]
async fn a_space_is_walked_depth_first_with_each_rooms_summary() {
    let (s, alice, bob, _) = alice_bob_and_a_room().await;
    let root = space(&s, &alice, "Root", "public_chat").await;
    let sub = space(&s, &alice, "Sub", "public_chat").await;
    let a = s.create_room(&alice, json!({"preset": "public_chat", "name": "A", "topic": "about a"})).await;
    let b = s.create_room(&alice, json!({"preset": "public_chat", "name": "B"})).await;
    let deep = s.create_room(&alice, json!({"preset": "public_chat", "name": "Deep"})).await;
    // `order` sorts first, then the rest by timestamp.
    add_child(&s, &alice, &root, &b, json!({})).await;
    add_child(&s, &alice, &root, &sub, json!({"order": "a"})).await;
    add_child(&s, &alice, &root, &a, json!({"suggested": true})).await;
    add_child(&s, &alice, &sub, &deep, json!({})).await;
    // Not children: no via, an empty via, a state key that is no room ID, an unknown room.
    s.put(&room_path(&root, "state/m.space.child/!novia:test.local"), &alice.token, json!({})).await.ok();
    let empty = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    s.put(&room_path(&root, &format!("state/m.space.child/{}", enc(&empty))), &alice.token, json!({"via": []})).await.ok();
    s.put(&room_path(&root, "state/m.space.child/not-a-room"), &alice.token, json!({"via": ["test.local"]})).await.ok();
    add_child(&s, &alice, &root, "!unknown:test.local", json!({})).await;

    let body = s.get(&hierarchy_path(&root, ""), &bob.token).await.ok();
    assert_eq!(room_ids(&body), vec![root.clone(), sub.clone(), deep.clone(), b.clone(), a.clone()]);
    assert!(body.get("next_batch").is_none(), "{body}");
    let top = &body["rooms"][0];
    assert_eq!(top["name"], "Root");
    assert_eq!(top["room_type"], "m.space");
    assert_eq!(top["num_joined_members"], 1);
    assert_eq!(top["join_rule"], "public");
    assert_eq!(top["world_readable"], false);
    assert_eq!(top["guest_can_join"], false);
    assert_eq!(top["room_version"], "10");
    let children: Vec<&str> = top["children_state"].as_array().unwrap().iter().map(|c| c["state_key"].as_str().unwrap()).collect();
    assert_eq!(children, vec![sub.as_str(), b.as_str(), a.as_str(), "!unknown:test.local"]);
    let child = &top["children_state"][0];
    assert_eq!(child["type"], "m.space.child");
    assert_eq!(child["sender"], alice.user_id.as_str());
    assert!(child["origin_server_ts"].is_i64() && child.get("event_id").is_none(), "{child}");
    let room_a = body["rooms"].as_array().unwrap().iter().find(|r| r["room_id"] == a.as_str()).unwrap();
    assert_eq!(room_a["topic"], "about a");
    assert_eq!(room_a["children_state"], json!([]));
    assert!(room_a.get("room_type").is_none());

    // suggested_only keeps suggested children; max_depth stops the walk.
    let suggested = s.get(&hierarchy_path(&root, "?suggested_only=true"), &bob.token).await.ok();
    assert_eq!(room_ids(&suggested), vec![root.clone(), a.clone()]);
    let shallow = s.get(&hierarchy_path(&root, "?max_depth=1"), &bob.token).await.ok();
    assert_eq!(room_ids(&shallow), vec![root.clone(), sub.clone(), b.clone(), a.clone()]);
    let only_root = s.get(&hierarchy_path(&root, "?max_depth=0"), &bob.token).await.ok();
    assert_eq!(room_ids(&only_root), vec![root.clone()]);

    // Pages of two, following next_batch, give the same walk.
    let mut seen = Vec::new();
    let mut from: Option<String> = None;
    for _ in 0..10 {
        let q = from.as_ref().map_or_else(|| "?limit=2".to_owned(), |f| format!("?limit=2&from={}", enc(f)));
        let page = s.get(&hierarchy_path(&root, &q), &bob.token).await.ok();
        assert!(room_ids(&page).len() <= 2);
        seen.extend(room_ids(&page));
        match page["next_batch"].as_str() {
            Some(n) => from = Some(n.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, vec![root.clone(), sub, deep, b, a]);
    // A space that lists itself (a cycle) is walked once.
    add_child(&s, &alice, &root, &root, json!({})).await;
    let cyclic = s.get(&hierarchy_path(&root, ""), &bob.token).await.ok();
    assert_eq!(room_ids(&cyclic).iter().filter(|r| **r == root).count(), 1);
}

#[actix_web::test]
async fn rooms_the_requester_may_not_see_are_left_out() {
    let (s, alice, bob, _) = alice_bob_and_a_room().await;
    let root = space(&s, &alice, "Root", "public_chat").await;
    let private = s.create_room(&alice, json!({"preset": "private_chat", "name": "Private"})).await;
    let invited = s.create_room(&alice, json!({"preset": "private_chat", "name": "Invited"})).await;
    let readable = s.create_room(&alice, json!({"preset": "private_chat", "name": "Readable"})).await;
    let restricted = s.create_room(&alice, json!({"preset": "private_chat", "name": "Restricted"})).await;
    s.put(&room_path(&readable, "state/m.room.history_visibility/"), &alice.token, json!({"history_visibility": "world_readable"}))
        .await
        .ok();
    let rule = json!({"join_rule": "restricted", "allow": [{"type": "m.room_membership", "room_id": root}]});
    s.put(&room_path(&restricted, "state/m.room.join_rules/"), &alice.token, rule).await.ok();
    s.invite(&alice, &invited, &bob.user_id).await.ok();
    for child in [&private, &invited, &readable, &restricted] {
        add_child(&s, &alice, &root, child, json!({})).await;
    }
    let seen = room_ids(&s.get(&hierarchy_path(&root, ""), &bob.token).await.ok());
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(seen.contains(&invited) && seen.contains(&readable) && !seen.contains(&private) && !seen.contains(&restricted));
    // Joined to the space, bob may join the restricted room: it shows, with the rooms it names.
    s.join(&bob, &root).await.ok();
    let body = s.get(&hierarchy_path(&root, ""), &bob.token).await.ok();
    let r = body["rooms"].as_array().unwrap().iter().find(|r| r["room_id"] == restricted.as_str()).cloned().expect("restricted shown");
    assert_eq!(r["join_rule"], "restricted");
    assert_eq!(r["allowed_room_ids"], json!([root]));
    assert!(!room_ids(&body).contains(&private));
    // Alice, a member of everything, sees every room.
    assert_eq!(room_ids(&s.get(&hierarchy_path(&root, ""), &alice.token).await.ok()).len(), 5);
}

#[actix_web::test]
async fn hierarchy_errors() {
    let (s, alice, bob, _) = alice_bob_and_a_room().await;
    let root = space(&s, &alice, "Root", "public_chat").await;
    let hidden = space(&s, &alice, "Hidden", "private_chat").await;
    for q in ["?limit=0", "?limit=-1", "?max_depth=-1", "?limit=x", "?suggested_only=perhaps", "?from=garbage", "?from=9999999_-_0"] {
        s.get(&hierarchy_path(&root, q), &bob.token).await.err(400, "M_INVALID_PARAM");
    }
    // A token is bound to the parameters it was given with.
    for i in 0..3 {
        let r = s.create_room(&alice, json!({"preset": "public_chat", "name": format!("r{i}")})).await;
        add_child(&s, &alice, &root, &r, json!({"suggested": true})).await;
    }
    let page = s.get(&hierarchy_path(&root, "?limit=1"), &bob.token).await.ok();
    let next = page["next_batch"].as_str().expect("next_batch").to_owned();
    s.get(&hierarchy_path(&root, &format!("?limit=1&from={}&suggested_only=true", enc(&next))), &bob.token)
        .await
        .err(400, "M_INVALID_PARAM");
    s.get(&hierarchy_path(&root, &format!("?limit=1&from={}&max_depth=1", enc(&next))), &bob.token).await.err(400, "M_INVALID_PARAM");
    s.get(&hierarchy_path(&root, &format!("?limit=1&from={}", enc(&next))), &bob.token).await.ok();
    // An invisible or unknown root is 403, so the answer does not tell whether it exists.
    s.get(&hierarchy_path(&hidden, ""), &bob.token).await.err(403, "M_FORBIDDEN");
    s.get(&hierarchy_path("!unknown:test.local", ""), &bob.token).await.err(403, "M_FORBIDDEN");
    s.get(&hierarchy_path("not-a-room", ""), &bob.token).await.err(400, "M_INVALID_PARAM");
    s.req("GET", &hierarchy_path(&root, ""), None, None).await.err(401, "M_MISSING_TOKEN");
    // Invited to it, bob sees it.
    s.invite(&alice, &hidden, &bob.user_id).await.ok();
    assert_eq!(room_ids(&s.get(&hierarchy_path(&hidden, ""), &bob.token).await.ok()), vec![hidden]);
}

/// Synapse's admin `GET /_synapse/admin/v1/rooms/{roomId}/hierarchy`: every local room of the
/// tree, private ones included, in the client's shape; admins only; 404 for an unknown root.
#[actix_web::test]
async fn the_admin_hierarchy_shows_private_rooms_too() {
    let (s, alice, bob, _) = alice_bob_and_a_room().await;
    let admin = s.register_admin("boss").await;
    let root = space(&s, &alice, "Secret space", "private_chat").await;
    let hidden = s.create_room(&alice, json!({"preset": "private_chat", "name": "Hidden"})).await;
    let open = s.create_room(&alice, json!({"preset": "public_chat", "name": "Open"})).await;
    add_child(&s, &alice, &root, &hidden, json!({})).await;
    add_child(&s, &alice, &root, &open, json!({})).await;
    let admin_path = |room: &str, q: &str| format!("/_synapse/admin/v1/rooms/{}/hierarchy{q}", enc(room));

    // Bob may not preview the private space; the admin sees all of it.
    s.get(&hierarchy_path(&root, ""), &bob.token).await.err(403, "M_FORBIDDEN");
    let body = s.get(&admin_path(&root, ""), &admin.token).await.ok();
    assert_eq!(room_ids(&body), vec![root.clone(), hidden.clone(), open.clone()], "{body}");
    assert_eq!(body["rooms"][1]["name"], "Hidden");
    assert_eq!(body["rooms"][1]["join_rule"], "invite");
    assert_eq!(body["rooms"][0]["children_state"].as_array().map(Vec::len), Some(2));

    // Paging as the client's.
    let first = s.get(&admin_path(&root, "?limit=1"), &admin.token).await.ok();
    assert_eq!(room_ids(&first), vec![root.clone()]);
    let next = first["next_batch"].as_str().expect("next_batch").to_owned();
    let second = s.get(&admin_path(&root, &format!("?limit=5&from={next}")), &admin.token).await.ok();
    assert_eq!(room_ids(&second), vec![hidden.clone(), open.clone()]);

    s.get(&admin_path(&root, ""), &bob.token).await.err(403, "M_FORBIDDEN");
    s.get(&admin_path("!unknown:test.local", ""), &admin.token).await.err(404, "M_NOT_FOUND");
    s.get(&admin_path(&root, "?limit=0"), &admin.token).await.err(400, "M_INVALID_PARAM");
    s.get(&admin_path(&root, "?limit=abc"), &admin.token).await.err(400, "M_INVALID_PARAM");
}
