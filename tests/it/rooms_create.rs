//! Room creation options: name, topic, initial state, invites (seen with stripped state), power
//! level overrides, v10 event IDs, room version 9, and an unsupported version refused.

use crate::common::*;
use serde_json::json;

fn is_v10_event_id(id: &str) -> bool {
    id.len() == 44 && id.starts_with('$') && id[1..].chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[actix_rt::test]
async fn create_room_options() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;

    let room = s
        .create_room(
            &alice,
            json!({
                "name": "The Room",
                "topic": "Everything",
                "invite": [bob.user_id],
                "initial_state": [
                    {"type": "m.room.history_visibility", "content": {"history_visibility": "joined"}},
                    {"type": "org.example.custom", "state_key": "k", "content": {"x": 1}}
                ],
                "power_level_content_override": {"events_default": 5, "users": {alice.user_id.clone(): 100, bob.user_id.clone(): 50}},
            }),
        )
        .await;
    let state = |kind: &str, key: &str| format!("{V3}/rooms/{}/state/{kind}/{}", enc(&room), enc(key));
    assert_eq!(s.get(&state("m.room.name", ""), &alice.token).await.ok()["name"], "The Room");
    assert_eq!(s.get(&state("m.room.topic", ""), &alice.token).await.ok()["topic"], "Everything");
    assert_eq!(s.get(&state("m.room.history_visibility", ""), &alice.token).await.ok()["history_visibility"], "joined");
    assert_eq!(s.get(&state("org.example.custom", "k"), &alice.token).await.ok(), json!({"x": 1}));
    let pl = s.get(&state("m.room.power_levels", ""), &alice.token).await.ok();
    assert_eq!(pl["events_default"], 5, "{pl}");
    assert_eq!(pl["users"][&bob.user_id], 50, "{pl}");
    assert_eq!(pl["users"][&alice.user_id], 100, "{pl}");
    assert_eq!(s.get(&state("m.room.member", &bob.user_id), &alice.token).await.ok()["membership"], "invite");
    let create = s.get(&state("m.room.create", ""), &alice.token).await.ok();
    assert_eq!(create["room_version"], "10", "the default room version: {create}");

    // The invitee sees the invite with stripped state.
    let sync = s.sync(&bob, None, 0).await;
    let invite_state = sync["rooms"]["invite"][&room]["invite_state"]["events"].as_array().unwrap_or_else(|| panic!("no invite: {sync}"));
    let find = |kind: &str| invite_state.iter().find(|e| e["type"] == kind).unwrap_or_else(|| panic!("{kind} missing: {sync}"));
    assert_eq!(find("m.room.name")["content"]["name"], "The Room");
    assert_eq!(find("m.room.topic")["content"]["topic"], "Everything");
    assert!(
        invite_state.iter().any(|e| e["type"] == "m.room.member"
            && e["state_key"] == bob.user_id.as_str()
            && e["content"]["membership"] == "invite"
            && e["sender"] == alice.user_id.as_str()),
        "bob's invite missing from invite_state: {sync}"
    );
    s.join(&bob, &room).await.ok();

    // Every event ID is a room v10 reference hash.
    let all = s.get(&format!("{V3}/rooms/{}/state", enc(&room)), &alice.token).await.ok();
    let all = all.as_array().expect("state list");
    assert!(all.len() >= 8, "{all:?}");
    for ev in all {
        let id = event_id(ev);
        assert!(is_v10_event_id(&id), "bad event ID {id}");
    }
    let msg = s.send_text(&bob, &room, "hello").await;
    assert!(is_v10_event_id(&msg), "bad event ID {msg}");

    // Room version 9.
    let v9 = s.create_room(&alice, json!({"room_version": "9"})).await;
    let create = s.get(&format!("{V3}/rooms/{}/state/m.room.create/", enc(&v9)), &alice.token).await.ok();
    assert_eq!(create["room_version"], "9", "{create}");
    let msg = s.send_text(&alice, &v9, "in v9").await;
    assert!(is_v10_event_id(&msg), "bad event ID {msg}");

    // An unsupported version is refused and creates nothing.
    let before = s.joined_rooms(&alice).await.len();
    s.post(&format!("{V3}/createRoom"), &alice.token, json!({"room_version": "999"})).await.err(400, "M_UNSUPPORTED_ROOM_VERSION");
    assert_eq!(s.joined_rooms(&alice).await.len(), before);
}
