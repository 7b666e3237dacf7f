//! Every room version from 1 to 12 end to end: created, joined by a second user, written to,
//! read back through /messages, /state and /sync, also after a restart; unsupported versions
//! refused; the forms of v1 event IDs and v12 room IDs.

use crate::common::*;
use serde_json::{Value, json};

const C: &str = "/_matrix/client/v3";

fn room_path(room: &str, rest: &str) -> String {
    format!("{C}/rooms/{}/{rest}", enc(room))
}

async fn messages(s: &TestServer, user: &User, room: &str) -> Vec<Value> {
    let page = s.get(&room_path(room, "messages?dir=b&limit=50"), &user.token).await.ok();
    page["chunk"].as_array().cloned().unwrap_or_else(|| panic!("no chunk: {page}"))
}

/// An event's signed JSON as stored.
async fn stored(s: &TestServer, event_id: &str) -> Value {
    use diesel::prelude::*;
    use ensemble::store::schema::events;
    let id = event_id.to_owned();
    let json: String = s
        .server
        .services
        .db
        .run(move |c| Ok(events::table.filter(events::event_id.eq(id)).select(events::json).first(c)?))
        .await
        .expect("stored");
    serde_json::from_str(&json).expect("json")
}

/// Checks that every reference of a v1/v2 event carries the referenced event's reference hash.
async fn check_v1_references(s: &TestServer, event_id: &str) {
    let pdu = stored(s, event_id).await;
    assert_eq!(pdu["event_id"], event_id, "{pdu}");
    let rules = ruma::room_version_rules::RoomVersionRules::V1;
    for field in ["prev_events", "auth_events"] {
        let refs = pdu[field].as_array().unwrap_or_else(|| panic!("{field}: {pdu}"));
        assert!(!refs.is_empty(), "{pdu}");
        for r in refs {
            let id = r[0].as_str().unwrap_or_else(|| panic!("{field}: {pdu}"));
            let target: ruma::CanonicalJsonObject = serde_json::from_value(stored(s, id).await).expect("canonical");
            let hash = ruma::signatures::reference_hash(&target, &rules).expect("hash");
            assert_eq!(r[1]["sha256"], hash.as_str(), "{field} of {event_id}: {pdu}");
        }
    }
}

fn bodies(events: &[Value]) -> Vec<String> {
    events.iter().filter(|e| e["type"] == "m.room.message").filter_map(|e| e["content"]["body"].as_str().map(str::to_owned)).collect()
}

#[actix_rt::test]
async fn every_version_from_1_to_12_end_to_end() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let mut rooms = Vec::new();
    for v in 1..=12 {
        let v = v.to_string();
        let room = s.create_room(&alice, json!({"room_version": v, "preset": "private_chat", "name": format!("v{v}")})).await;
        let create = s.get(&room_path(&room, "state/m.room.create/"), &alice.token).await.ok();
        assert_eq!(create["room_version"], v.as_str(), "{create}");
        s.invite(&alice, &room, &bob.user_id).await.ok();
        s.join(&bob, &room).await.ok();
        let msg = s.send_text(&bob, &room, &format!("hello v{v}")).await;
        s.put(&room_path(&room, "state/m.room.topic/"), &alice.token, json!({"topic": format!("topic v{v}")})).await.ok();
        // A redaction of one's own message (the redaction format changes in v11).
        let gone = s.send_text(&bob, &room, "oops").await;
        s.put(&room_path(&room, &format!("redact/{}/r{v}", enc(&gone))), &bob.token, json!({})).await.ok();
        // Bob, a plain member, may not change the name.
        s.put(&room_path(&room, "state/m.room.name/"), &bob.token, json!({"name": "mine"})).await.err(403, "M_FORBIDDEN");

        let history = messages(&s, &alice, &room).await;
        assert!(bodies(&history).contains(&format!("hello v{v}")), "v{v}: {history:?}");
        assert!(history.iter().any(|e| e["event_id"] == msg.as_str()), "v{v}");
        let redacted = history.iter().find(|e| e["event_id"] == gone.as_str()).unwrap_or_else(|| panic!("v{v}: redacted event missing"));
        assert_eq!(redacted["content"], json!({}), "v{v}: {redacted}");
        let topic = s.get(&room_path(&room, "state/m.room.topic/"), &bob.token).await.ok();
        assert_eq!(topic["topic"], format!("topic v{v}"));
        rooms.push((v, room, msg));
    }
    let sync = s.sync(&bob, None, 0).await;
    for (v, room, _) in &rooms {
        let texts: Vec<&str> = timeline(&sync, room).iter().filter_map(|e| e["content"]["body"].as_str()).collect();
        assert!(texts.contains(&format!("hello v{v}").as_str()), "v{v}: {texts:?}");
        let state = s.get(&room_path(room, "state"), &bob.token).await.ok();
        assert!(state.as_array().is_some_and(|a| a.len() >= 8), "v{v}: {state}");
    }

    // After a restart each room's actor loads its state again and carries on.
    let s = s.restart().await;
    for (v, room, _) in &rooms {
        s.send_text(&alice, room, &format!("again v{v}")).await;
        s.put(&room_path(room, "state/m.room.name/"), &bob.token, json!({"name": "mine"})).await.err(403, "M_FORBIDDEN");
        let sync = s.sync(&bob, None, 0).await;
        let texts: Vec<&str> = timeline(&sync, room).iter().filter_map(|e| e["content"]["body"].as_str()).collect();
        assert!(texts.contains(&format!("again v{v}").as_str()), "v{v}: {texts:?}");
        assert!(bodies(&messages(&s, &bob, room).await).contains(&format!("hello v{v}")), "v{v}");
    }
}

#[actix_rt::test]
async fn unsupported_versions_are_refused_and_1_to_12_advertised() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    for v in ["0", "13", "999", "org.example.custom", ""] {
        s.post(&format!("{C}/createRoom"), &alice.token, json!({"room_version": v})).await.err(400, "M_UNSUPPORTED_ROOM_VERSION");
    }
    s.post(&format!("{C}/createRoom"), &alice.token, json!({"room_version": 10})).await.err(400, "M_BAD_JSON");
    assert!(s.joined_rooms(&alice).await.is_empty());
    let caps = s.get(&format!("{C}/capabilities"), &alice.token).await.ok();
    let versions = &caps["capabilities"]["m.room_versions"];
    assert_eq!(versions["default"], "10", "{caps}");
    for v in 1..=12 {
        assert_eq!(versions["available"][v.to_string()], "stable", "{caps}");
    }
    // Without a version, the default.
    let room = s.create_room(&alice, json!({})).await;
    let create = s.get(&room_path(&room, "state/m.room.create/"), &alice.token).await.ok();
    assert_eq!(create["room_version"], "10");
}

#[actix_rt::test]
async fn event_and_room_id_forms() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;

    // v1: event IDs name this server.
    let v1 = s.create_room(&alice, json!({"room_version": "1"})).await;
    assert!(v1.ends_with(":test.local"), "{v1}");
    let id = s.send_text(&alice, &v1, "v1").await;
    assert!(id.starts_with('$') && id.ends_with(":test.local"), "{id}");
    check_v1_references(&s, &id).await;
    // The hashes are known again after a restart.
    let s = s.restart().await;
    let id = s.send_text(&alice, &v1, "v1 again").await;
    check_v1_references(&s, &id).await;
    s.put(&room_path(&v1, "state/m.room.topic/"), &alice.token, json!({"topic": "t"})).await.ok();
    let id = s.send_text(&alice, &v1, "v1 after state").await;
    check_v1_references(&s, &id).await;
    // v4 on: URL-safe reference hashes.
    let v4 = s.create_room(&alice, json!({"room_version": "4"})).await;
    let id = s.send_text(&alice, &v4, "v4").await;
    assert!(!id.contains([':', '+', '/']) && id.len() == 44, "{id}");

    // v12: the room ID is `!` and the create event's reference hash, with no server name.
    let v12 = s.create_room(&alice, json!({"room_version": "12", "preset": "trusted_private_chat", "invite": [bob.user_id]})).await;
    assert!(v12.starts_with('!') && !v12.contains(':') && v12.len() == 44, "{v12}");
    let state = s.get(&room_path(&v12, "state"), &alice.token).await.ok();
    let create = state.as_array().and_then(|a| a.iter().find(|e| e["type"] == "m.room.create")).cloned().expect("create");
    assert_eq!(create["event_id"].as_str().map(|e| e.replacen('$', "!", 1)), Some(v12.clone()), "{create}");
    // Creators are the sender and the trusted invitee; neither is listed in the power levels.
    assert!(create["content"].get("creator").is_none(), "{create}");
    assert_eq!(create["content"]["additional_creators"], json!([bob.user_id]), "{create}");
    let pl = s.get(&room_path(&v12, "state/m.room.power_levels/"), &alice.token).await.ok();
    assert!(pl["users"].get(&alice.user_id).is_none() && pl["users"].get(&bob.user_id).is_none(), "{pl}");
    assert_eq!(pl["events"]["m.room.tombstone"], 150, "{pl}");
    s.join(&bob, &v12).await.ok();
    // Both may do what needs the highest levels.
    s.put(&room_path(&v12, "state/m.room.power_levels/"), &bob.token, json!({"users_default": 0, "events": {"m.room.name": 100}}))
        .await
        .ok();
    s.put(&room_path(&v12, "state/m.room.name/"), &alice.token, json!({"name": "ours"})).await.ok();
    // Listing a creator in the power levels is refused.
    s.put(&room_path(&v12, "state/m.room.power_levels/"), &alice.token, json!({"users": {&alice.user_id: 100}}))
        .await
        .err(403, "M_FORBIDDEN");
    let msg = s.send_text(&bob, &v12, "in v12").await;
    let sync = s.sync(&alice, None, 0).await;
    assert!(timeline(&sync, &v12).iter().any(|e| e["event_id"] == msg.as_str()), "{sync}");
}
