//! Synapse's room admin API, read side: the room list (orderings, direction, search, paging,
//! filters), one room's details, members and state, and the rooms' sizes in the store, with
//! Synapse 1.163's shapes and errors.

use crate::common::*;
use serde_json::{Value, json};

fn rooms_path(query: &str) -> String {
    sa(&format!("v1/rooms{query}"))
}

fn room_admin_path(room: &str, rest: &str) -> String {
    if rest.is_empty() { sa(&format!("v1/rooms/{}", enc(room))) } else { sa(&format!("v1/rooms/{}/{rest}", enc(room))) }
}

async fn ids(s: &TestServer, token: &str, query: &str) -> Vec<String> {
    listed_ids(&aget(s, token, &rooms_path(query)).await.ok())
}

fn listed_ids(list: &Value) -> Vec<String> {
    list["rooms"]
        .as_array()
        .unwrap_or_else(|| panic!("no rooms: {list}"))
        .iter()
        .map(|r| r["room_id"].as_str().unwrap().to_owned())
        .collect()
}

/// Three rooms: "Alpha" (public, listed, alias #alpha, alice and bob), "beta" (private,
/// encrypted, alice alone) and one with no name (bob's, a space).
async fn three_rooms(s: &TestServer) -> (User, User, String, String, String) {
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let alpha =
        s.create_room(&alice, json!({"preset": "public_chat", "name": "Alpha", "room_alias_name": "alpha", "visibility": "public"})).await;
    s.join(&bob, &alpha).await.ok();
    let beta = s
        .create_room(
            &alice,
            json!({"preset": "private_chat", "name": "beta", "initial_state": [
                {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}
            ]}),
        )
        .await;
    let space = s.create_room(&bob, json!({"preset": "private_chat", "creation_content": {"type": "m.space"}})).await;
    (alice, bob, alpha, beta, space)
}

#[actix_rt::test]
async fn the_room_list_shows_every_room_with_synapses_fields() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let (alice, bob, alpha, beta, space) = three_rooms(&s).await;

    let list = aget(&s, &admin.token, &rooms_path("")).await.ok();
    assert_eq!(list["total_rooms"], 3, "{list}");
    assert_eq!(list["offset"], 0);
    assert!(list.get("next_batch").is_none() && list.get("prev_batch").is_none(), "{list}");
    // By name, a room without one first (as Synapse on SQLite).
    assert_eq!(listed_ids(&list), vec![space.clone(), alpha.clone(), beta.clone()]);

    let a = &list["rooms"][1];
    assert_eq!(a["name"], "Alpha");
    assert_eq!(a["canonical_alias"], "#alpha:test.local");
    assert_eq!(a["joined_members"], 2);
    assert_eq!(a["joined_local_members"], 2);
    assert_eq!(a["version"], "10");
    assert_eq!(a["creator"], alice.user_id);
    assert_eq!(a["encryption"], Value::Null);
    assert_eq!(a["federatable"], true);
    assert_eq!(a["public"], true, "published to the directory");
    assert_eq!(a["join_rules"], "public");
    assert_eq!(a["history_visibility"], "shared");
    assert_eq!(a["room_type"], Value::Null);
    assert!(a["state_events"].as_i64().unwrap() >= 6, "{a}");
    assert!(a.get("guest_access").is_some(), "guest_access present: {a}");
    let b = &list["rooms"][2];
    assert_eq!(b["encryption"], "m.megolm.v1.aes-sha2");
    assert_eq!(b["public"], false);
    assert_eq!(b["join_rules"], "invite");
    assert_eq!(b["canonical_alias"], Value::Null);
    let sp = &list["rooms"][0];
    assert_eq!(sp["name"], Value::Null);
    assert_eq!(sp["room_type"], "m.space");
    assert_eq!(sp["creator"], bob.user_id);
}

#[actix_rt::test]
async fn the_room_list_orders_by_each_key_both_ways() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let (_alice, _bob, alpha, beta, space) = three_rooms(&s).await;
    let t = admin.token.as_str();
    assert_eq!(ids(&s, t, "?dir=b").await, vec![beta.clone(), alpha.clone(), space.clone()]);
    assert_eq!(ids(&s, t, "?order_by=alphabetical").await, ids(&s, t, "?order_by=name").await);
    // Largest first; ties by room ID.
    let sized = ids(&s, t, "?order_by=joined_members").await;
    assert_eq!(sized[0], alpha);
    assert_eq!(ids(&s, t, "?order_by=size").await, sized);
    assert_eq!(ids(&s, t, "?order_by=joined_members&dir=b").await.last(), Some(&alpha));
    assert_eq!(ids(&s, t, "?order_by=joined_local_members").await[0], alpha);
    assert_eq!(ids(&s, t, "?order_by=canonical_alias").await.last(), Some(&alpha), "rooms without an alias first");
    assert_eq!(ids(&s, t, "?order_by=encryption").await.last(), Some(&beta));
    assert_eq!(ids(&s, t, "?order_by=public").await.last(), Some(&alpha));
    assert_eq!(ids(&s, t, "?order_by=public&dir=b").await[0], alpha);
    assert_eq!(ids(&s, t, "?order_by=join_rules").await.last(), Some(&alpha), "invite < public");
    for key in ["version", "creator", "federatable", "guest_access", "history_visibility", "state_events"] {
        let mut forward = ids(&s, t, &format!("?order_by={key}")).await;
        let backward = ids(&s, t, &format!("?order_by={key}&dir=b")).await;
        assert_eq!(forward.len(), 3, "{key}");
        forward.reverse();
        assert_eq!(forward, backward, "{key}: dir=b reverses, ties included");
    }
}

#[actix_rt::test]
async fn the_room_list_searches_pages_and_filters() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let (_alice, _bob, alpha, beta, space) = three_rooms(&s).await;
    let get = |q: String| {
        let (s, t) = (&s, admin.token.clone());
        async move { aget(s, &t, &rooms_path(&q)).await.ok() }
    };
    // Name without case, the alias's local part, the exact room ID.
    assert_eq!(listed_ids(&get("?search_term=ALP".into()).await), vec![alpha.clone()]);
    assert_eq!(listed_ids(&get("?search_term=eta".into()).await), vec![beta.clone()]);
    assert_eq!(get("?search_term=test.local".into()).await["total_rooms"], 0, "not the alias's server part");
    assert_eq!(listed_ids(&get(format!("?search_term={}", enc(&space))).await), vec![space.clone()]);
    assert_eq!(get(format!("?search_term={}", enc(&space[..5]))).await["total_rooms"], 0, "room IDs match whole");

    let first = get("?limit=2".into()).await;
    assert_eq!(listed_ids(&first), vec![space.clone(), alpha.clone()]);
    assert_eq!((first["total_rooms"].clone(), first["next_batch"].clone()), (json!(3), json!(2)));
    assert!(first.get("prev_batch").is_none());
    let second = get("?limit=2&from=2".into()).await;
    assert_eq!(listed_ids(&second), vec![beta.clone()]);
    assert_eq!((second["offset"].clone(), second["prev_batch"].clone()), (json!(2), json!(0)));
    assert!(second.get("next_batch").is_none(), "{second}");
    assert_eq!(get("?from=1&limit=0".into()).await["rooms"], json!([]));

    assert_eq!(listed_ids(&get("?public_rooms=true".into()).await), vec![alpha.clone()]);
    assert_eq!(get("?public_rooms=false".into()).await["total_rooms"], 2);
    assert_eq!(get("?empty_rooms=true".into()).await["total_rooms"], 0);
    assert_eq!(get("?empty_rooms=false".into()).await["total_rooms"], 3);
}

#[actix_rt::test]
async fn the_room_list_refuses_bad_parameters_and_non_admins() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let user = s.register_user("alice").await;
    for q in ["?order_by=nope", "?from=-1", "?limit=-1", "?limit=abc", "?dir=x", "?search_term=", "?public_rooms=maybe", "?empty_rooms=1"] {
        aget(&s, &admin.token, &rooms_path(q)).await.err(400, "M_INVALID_PARAM");
    }
    aget(&s, &user.token, &rooms_path("")).await.err(403, "M_FORBIDDEN");
    call(&s, "GET", &rooms_path(""), None, None).await.err(401, "M_MISSING_TOKEN");
    aget(&s, &user.token, &room_admin_path("!a:test.local", "")).await.err(403, "M_FORBIDDEN");
    aget(&s, &user.token, &sa("v1/statistics/database/rooms")).await.err(403, "M_FORBIDDEN");
}

#[actix_rt::test]
async fn one_rooms_details_members_and_state() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let (alice, bob, alpha, _beta, _space) = three_rooms(&s).await;
    s.put(&room_path(&alpha, "state/m.room.topic/"), &alice.token, json!({"topic": "All about A"})).await.ok();
    s.put(&room_path(&alpha, "state/m.room.avatar/"), &alice.token, json!({"url": "mxc://test.local/abc"})).await.ok();

    let d = aget(&s, &admin.token, &room_admin_path(&alpha, "")).await.ok();
    assert_eq!(d["room_id"], alpha);
    assert_eq!(d["name"], "Alpha");
    assert_eq!(d["topic"], "All about A");
    assert_eq!(d["avatar"], "mxc://test.local/abc");
    assert_eq!(d["joined_members"], 2);
    assert_eq!(d["joined_local_devices"], 2, "one device each");
    assert_eq!(d["forgotten"], false);
    assert_eq!(d["tombstoned"], false);
    assert_eq!(d["replacement_room"], Value::Null);
    assert_eq!(d["public"], true);

    let m = aget(&s, &admin.token, &room_admin_path(&alpha, "members")).await.ok();
    assert_eq!(m["total"], 2);
    let mut members: Vec<&str> = m["members"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    members.sort();
    assert_eq!(members, vec![alice.user_id.as_str(), bob.user_id.as_str()]);

    // Leaving and forgetting: not a member any more; forgotten once every local member forgot.
    leave(&s, &bob, &alpha).await.ok();
    let m = aget(&s, &admin.token, &room_admin_path(&alpha, "members")).await.ok();
    assert_eq!(m, json!({"members": [alice.user_id], "total": 1}));
    leave(&s, &alice, &alpha).await.ok();
    s.post(&room_path(&alpha, "forget"), &alice.token, json!({})).await.ok();
    assert_eq!(aget(&s, &admin.token, &room_admin_path(&alpha, "")).await.ok()["forgotten"], false, "bob remembers");
    s.post(&room_path(&alpha, "forget"), &bob.token, json!({})).await.ok();
    let d = aget(&s, &admin.token, &room_admin_path(&alpha, "")).await.ok();
    assert_eq!((d["forgotten"].clone(), d["joined_members"].clone(), d["joined_local_devices"].clone()), (json!(true), json!(0), json!(0)));

    let state = aget(&s, &admin.token, &room_admin_path(&alpha, "state")).await.ok();
    let state = state["state"].as_array().unwrap();
    assert!(state.iter().any(|e| e["type"] == "m.room.create" && e["state_key"] == ""), "{state:?}");
    assert!(state.iter().any(|e| e["type"] == "m.room.topic" && e["content"]["topic"] == "All about A"));
    assert!(state.iter().all(|e| e["event_id"].is_string() && e["sender"].is_string()));
    let members = aget(&s, &admin.token, &room_admin_path(&alpha, "state?type=m.room.member")).await.ok();
    let members = members["state"].as_array().unwrap();
    assert_eq!(members.len(), 2, "{members:?}");
    assert!(members.iter().all(|e| e["type"] == "m.room.member" && e["content"]["membership"] == "leave"));
}

#[actix_rt::test]
async fn details_of_a_tombstoned_room_name_its_replacement() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({"name": "Old"})).await;
    let up = s.post(&room_path(&room, "upgrade"), &alice.token, json!({"new_version": "10"})).await.ok();
    let d = aget(&s, &admin.token, &room_admin_path(&room, "")).await.ok();
    assert_eq!(d["tombstoned"], true);
    assert_eq!(d["replacement_room"], up["replacement_room"]);
}

#[actix_rt::test]
async fn unknown_or_malformed_rooms_are_not_found() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    for room in ["!nope:test.local", "notaroom"] {
        for rest in ["", "members", "state"] {
            aget(&s, &admin.token, &room_admin_path(room, rest)).await.err(404, "M_NOT_FOUND");
        }
    }
}

#[actix_rt::test]
async fn database_statistics_list_rooms_largest_first() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    let small = s.create_room(&alice, json!({})).await;
    let big = s.create_room(&alice, json!({})).await;
    for i in 0..20 {
        s.send_text(&alice, &big, &format!("message number {i} with some words in it")).await;
    }
    let stats = aget(&s, &admin.token, &sa("v1/statistics/database/rooms")).await.ok();
    let rooms = stats["rooms"].as_array().unwrap();
    assert_eq!(rooms.len(), 2, "{stats}");
    assert_eq!(rooms[0]["room_id"], big);
    assert_eq!(rooms[1]["room_id"], small);
    assert!(rooms[0]["estimated_size"].as_i64().unwrap() > rooms[1]["estimated_size"].as_i64().unwrap());
    assert!(rooms[1]["estimated_size"].as_i64().unwrap() > 0);
}
