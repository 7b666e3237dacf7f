//! `POST /rooms/{roomId}/upgrade`: the replacement room and what it carries over, the old
//! room's tombstone and restricted power levels, aliases, directory listing, tags and
//! direct-chat marks moved, and each refusal.

use crate::common::*;
use serde_json::{Value, json};

async fn upgrade(s: &TestServer, user: &User, room: &str, version: &str) -> Resp {
    s.post(&room_path(room, "upgrade"), &user.token, json!({ "new_version": version })).await
}

async fn upgraded(s: &TestServer, user: &User, room: &str, version: &str) -> String {
    let b = upgrade(s, user, room, version).await.ok();
    b["replacement_room"].as_str().unwrap_or_else(|| panic!("no replacement_room: {b}")).to_owned()
}

async fn state(s: &TestServer, user: &User, room: &str, kind: &str) -> Resp {
    s.get(&room_path(room, &format!("state/{kind}/")), &user.token).await
}

async fn full_state(s: &TestServer, user: &User, room: &str) -> Vec<Value> {
    s.get(&room_path(room, "state"), &user.token).await.ok().as_array().cloned().expect("state list")
}

#[actix_rt::test]
async fn upgrade_links_the_rooms_and_copies_the_state() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let carol = s.register_user("carol").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat", "creation_content": {"m.federate": false}})).await;
    s.join(&bob, &room).await.ok();
    let copied = [
        ("m.room.name", json!({"name": "name"})),
        ("m.room.topic", json!({"topic": "topic"})),
        ("m.room.guest_access", json!({"guest_access": "forbidden"})),
        ("m.room.history_visibility", json!({"history_visibility": "joined"})),
        ("m.room.avatar", json!({"url": "mxc://x/y"})),
        ("m.room.encryption", json!({"algorithm": "m.megolm.v1.aes-sha2"})),
        ("m.room.server_acl", json!({"allow": ["*"], "allow_ip_literals": false, "deny": ["evil.com"]})),
    ];
    for (kind, content) in &copied {
        s.put(&room_path(&room, &format!("state/{kind}/")), &alice.token, content.clone()).await.ok();
    }
    s.put(&room_path(&room, "state/m.room.member/@spammer:elsewhere"), &alice.token, json!({"membership": "ban"})).await.ok();
    s.invite(&alice, &room, &carol.user_id).await.ok();
    set_level(&s, &alice, &room, "@someone:xyz", 40).await.ok();
    let old_pl = power_levels(&s, &alice, &room).await;
    let since = next_batch(&s.sync(&alice, None, 0).await);

    let new_room = upgraded(&s, &alice, &room, "2").await;
    assert_ne!(new_room, room);

    // The old room's tombstone names the replacement; the replacement's create event names it.
    let tombstone = state(&s, &alice, &room, "m.room.tombstone").await.ok();
    assert_eq!(tombstone["replacement_room"], new_room.as_str(), "{tombstone}");
    let old_state = full_state(&s, &alice, &room).await;
    let tombstone_id = old_state.iter().find(|e| e["type"] == "m.room.tombstone").map(event_id).expect("tombstone in state");
    let create = state(&s, &alice, &new_room, "m.room.create").await.ok();
    assert_eq!(create["room_version"], "2");
    assert_eq!(create["predecessor"], json!({"room_id": room, "event_id": tombstone_id}));
    assert_eq!(create["m.federate"], false);

    for (kind, content) in &copied {
        assert_eq!(&state(&s, &alice, &new_room, kind).await.ok(), content, "{kind}");
    }
    assert_eq!(state(&s, &alice, &new_room, "m.room.join_rules").await.ok()["join_rule"], "public");
    assert_eq!(power_levels(&s, &alice, &new_room).await, old_pl, "power levels copied as they were");
    let new_state = full_state(&s, &alice, &new_room).await;
    let membership = |user: &str| {
        new_state
            .iter()
            .find(|e| e["type"] == "m.room.member" && e["state_key"] == user)
            .map(|e| e["content"]["membership"].clone())
            .unwrap_or(Value::Null)
    };
    assert_eq!(membership("@spammer:elsewhere"), "ban");
    assert_eq!(membership(&carol.user_id), "invite", "invites are carried over");
    assert_eq!(membership(&alice.user_id), "join");
    assert_eq!(membership(&bob.user_id), Value::Null, "members join the replacement themselves");

    // Sync shows the replacement from its create event on, and the tombstone first in the old room.
    let sync = s.get(&sync_path(Some(&since), 0, Some(r#"{"room":{"timeline":{"limit":50}}}"#)), &alice.token).await.ok();
    let new_tl = timeline(&sync, &new_room);
    assert_eq!(new_tl.first().map(|e| e["type"].clone()), Some(json!("m.room.create")), "{sync}");
    let old_tl = timeline(&sync, &room);
    assert_eq!(old_tl.first().map(|e| e["type"].clone()), Some(json!("m.room.tombstone")), "{sync}");
    assert!(old_tl.iter().any(|e| e["type"] == "m.room.power_levels"), "{sync}");
    s.join(&bob, &new_room).await.ok();

    // Nobody but the powerful speaks or invites in the old room any more.
    let pl = power_levels(&s, &alice, &room).await;
    assert_eq!((pl["events_default"].clone(), pl["invite"].clone()), (json!(50), json!(50)), "{pl}");
    s.send_text_resp(&bob, &room, "still here?").await.err(403, "M_FORBIDDEN");
}

#[actix_rt::test]
async fn a_moderator_keeps_their_level_in_both_rooms() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let moderator = s.register_user("moderator").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    s.join(&moderator, &room).await.ok();
    let mut pl = power_levels(&s, &alice, &room).await;
    pl["users"][&moderator.user_id] = json!(50);
    pl["events"]["m.room.tombstone"] = json!(50);
    put_power_levels(&s, &alice, &room, pl.clone()).await.ok();

    let new_room = upgraded(&s, &moderator, &room, "10").await;
    assert_eq!(power_levels(&s, &moderator, &new_room).await, pl, "raised to copy the state, then set back");
    assert_eq!(power_levels(&s, &moderator, &room).await, pl, "a moderator may not restrict the old room");
    // Raised to 100 for the copy, then back to 50: both in the replacement's timeline.
    let chunk = s.get(&room_path(&new_room, "messages?dir=f&limit=50"), &moderator.token).await.ok();
    let levels: Vec<Value> = chunk["chunk"]
        .as_array()
        .expect("chunk")
        .iter()
        .filter(|e| e["type"] == "m.room.power_levels")
        .map(|e| e["content"]["users"][&moderator.user_id].clone())
        .collect();
    assert_eq!(levels, vec![json!(100), json!(50)]);
}

#[actix_rt::test]
async fn high_levels_unusual_defaults_and_v12() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({"power_level_content_override": {"users": {alice.user_id.clone(): 500}}})).await;
    let mut pl = power_levels(&s, &alice, &room).await;
    pl["users_default"] = json!(80);
    put_power_levels(&s, &alice, &room, pl).await.ok();

    let v12 = upgraded(&s, &alice, &room, "12").await;
    let old = power_levels(&s, &alice, &room).await;
    assert_eq!((old["events_default"].clone(), old["invite"].clone()), (json!(81), json!(81)), "{old}");
    // From v12 the creator is not listed: they hold every power.
    let new_pl = power_levels(&s, &alice, &v12).await;
    assert!(new_pl["users"].get(&alice.user_id).is_none(), "{new_pl}");
    let create = state(&s, &alice, &v12, "m.room.create").await.ok();
    assert_eq!(create["predecessor"], json!({"room_id": room}), "a v12 room's ID hashes its create event, which cannot name the tombstone");
    assert_eq!(state(&s, &alice, &room, "m.room.tombstone").await.ok()["replacement_room"], v12.as_str());

    // And from v12 back to an older version: the creator is listed again, at 100.
    let back = upgraded(&s, &alice, &v12, "11").await;
    let pl = power_levels(&s, &alice, &back).await;
    assert_eq!(pl["users"][&alice.user_id], json!(100), "{pl}");
    s.send_text(&alice, &back, "works").await;
}

#[actix_rt::test]
async fn aliases_directory_push_rules_tags_and_direct_marks_move() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat", "visibility": "public", "room_alias_name": "main"})).await;
    let main = format!("#main:{}", s.server_name());
    let other = format!("#other:{}", s.server_name());
    s.put(&format!("/_matrix/client/v3/directory/room/{}", enc(&other)), &alice.token, json!({"room_id": room})).await.ok();
    let canonical = json!({"alias": main, "alt_aliases": [other]});
    s.put(&room_path(&room, "state/m.room.canonical_alias/"), &alice.token, canonical.clone()).await.ok();
    s.join(&bob, &room).await.ok();
    let tag_path = format!("/_matrix/client/v3/user/{}/rooms/{}/tags/work", enc(&bob.user_id), enc(&room));
    s.put(&tag_path, &bob.token, json!({"order": 0.5})).await.ok();
    let direct_path = format!("/_matrix/client/v3/user/{}/account_data/m.direct", enc(&bob.user_id));
    s.put(&direct_path, &bob.token, json!({ alice.user_id.clone(): [room] })).await.ok();
    let rule = |r: &str| format!("/_matrix/client/v3/pushrules/global/room/{}", enc(r));
    s.put(&rule(&room), &bob.token, json!({"actions": ["dont_notify"]})).await.ok();

    let new_room = upgraded(&s, &alice, &room, "11").await;

    // Bob's room push rule holds for the new room too.
    let copied = s.get(&rule(&new_room), &bob.token).await.ok();
    assert_eq!((copied["rule_id"].clone(), copied["actions"].clone()), (json!(new_room), json!(["dont_notify"])), "{copied}");

    for alias in [&main, &other] {
        let b = s.get(&format!("/_matrix/client/v3/directory/room/{}", enc(alias)), &alice.token).await.ok();
        assert_eq!(b["room_id"], new_room.as_str(), "{alias}");
    }
    assert_eq!(state(&s, &alice, &new_room, "m.room.canonical_alias").await.ok(), canonical);
    assert_eq!(state(&s, &alice, &room, "m.room.canonical_alias").await.ok(), json!({}));

    let listed = s.get("/_matrix/client/v3/publicRooms", &alice.token).await.ok();
    let ids: Vec<&str> = listed["chunk"].as_array().expect("chunk").iter().filter_map(|r| r["room_id"].as_str()).collect();
    assert_eq!(ids, vec![new_room.as_str()], "{listed}");
    let vis = s.get(&format!("/_matrix/client/v3/directory/list/room/{}", enc(&new_room)), &alice.token).await.ok();
    assert_eq!(vis["visibility"], "public");

    let tags = s.get(&format!("/_matrix/client/v3/user/{}/rooms/{}/tags", enc(&bob.user_id), enc(&new_room)), &bob.token).await.ok();
    assert_eq!(tags["tags"], json!({"work": {"order": 0.5}}));
    let direct = s.get(&direct_path, &bob.token).await.ok();
    assert_eq!(direct, json!({ alice.user_id.clone(): [room, new_room] }));
}

#[actix_rt::test]
async fn refusals() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let outsider = s.register_user("outsider").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    s.join(&bob, &room).await.ok();

    upgrade(&s, &alice, &room, "my_bad_version").await.err(400, "M_UNSUPPORTED_ROOM_VERSION");
    s.post(&room_path(&room, "upgrade"), &alice.token, json!({})).await.err(400, "M_MISSING_PARAM");
    s.post(&room_path(&room, "upgrade"), &alice.token, json!({"new_version": 2})).await.err(400, "M_BAD_JSON");
    upgrade(&s, &bob, &room, "10").await.err(403, "M_FORBIDDEN");
    upgrade(&s, &outsider, &room, "10").await.err(403, "M_FORBIDDEN");
    upgrade(&s, &alice, "!fail:unknown", "10").await.err(404, "M_NOT_FOUND");
    upgrade(&s, &alice, "not-a-room", "10").await.err(400, "M_INVALID_PARAM");

    // Nothing happened to the room: no tombstone, and bob still speaks.
    state(&s, &alice, &room, "m.room.tombstone").await.err(404, "M_NOT_FOUND");
    s.send_text(&bob, &room, "still fine").await;

    // A tombstone naming its own room is refused, as a state event or a message.
    let own = json!({"body": "x", "replacement_room": room});
    s.put(&room_path(&room, "state/m.room.tombstone/"), &alice.token, own.clone()).await.err(400, "M_BAD_JSON");
    s.put(&send_path(&room, "m.room.tombstone", "t1"), &alice.token, own).await.err(400, "M_BAD_JSON");
}

#[actix_rt::test]
async fn upgrades_race_sends_without_losing_any() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    let texts: Vec<String> = (0..20).map(|i| format!("m{i}")).collect();
    let sends = texts.iter().map(|t| s.send_text_resp(&alice, &room, t));
    let (results, new_room) = futures_util::join!(futures_util::future::join_all(sends), upgraded(&s, &alice, &room, "9"));
    // Every acknowledged send is in the old room's history, and so is the one tombstone.
    let history = all_forward(&s, &alice.token, &room, 50).await;
    for r in results {
        let id = r.ok()["event_id"].as_str().expect("event_id").to_owned();
        assert!(history.iter().any(|e| event_id(e) == id), "{id} missing");
    }
    let tombstones: Vec<&Value> = history.iter().filter(|e| e["type"] == "m.room.tombstone").collect();
    assert_eq!(tombstones.len(), 1);
    assert_eq!(tombstones[0]["content"]["replacement_room"], new_room.as_str());
    s.send_text(&alice, &new_room, "moved").await;
}

/// A repeated upgrade, whether a retry after the first answered or sent while it ran, answers
/// the replacement already made (Synapse keeps each user's answer five minutes): no second room,
/// and the tombstone keeps naming the first. The replacement can itself be upgraded.
#[actix_rt::test]
async fn a_repeated_upgrade_answers_the_same_replacement() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({"preset": "private_chat"})).await;
    let (first, second) = futures_util::future::join(upgrade(&s, &alice, &room, "10"), upgrade(&s, &alice, &room, "10")).await;
    let first = first.ok()["replacement_room"].as_str().unwrap().to_owned();
    assert_eq!(second.ok()["replacement_room"], first.as_str(), "a repeat sent while the first ran");
    assert_eq!(upgraded(&s, &alice, &room, "10").await, first, "a retry after the answer");
    assert_eq!(upgraded(&s, &alice, &room, "11").await, first, "the answer holds whatever version the repeat names");
    let tombstone = state(&s, &alice, &room, "m.room.tombstone").await.ok();
    assert_eq!(tombstone["replacement_room"], first.as_str(), "{tombstone}");
    let joined = s.get(&format!("{V3}/joined_rooms"), &alice.token).await.ok();
    assert_eq!(joined["joined_rooms"].as_array().unwrap().len(), 2, "the old room and one replacement: {joined}");

    let next = upgraded(&s, &alice, &first, "10").await;
    assert!(next != first && next != room);
    assert_eq!(upgraded(&s, &alice, &first, "10").await, next);
}
