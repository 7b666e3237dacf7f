//! Smaller holes in input checking: power level shapes, member state keys, typing timeouts,
//! room alias names and device IDs.

use crate::common::*;
use serde_json::json;

const V3: &str = "/_matrix/client/v3";

fn room_path(room: &str, rest: &str) -> String {
    format!("{V3}/rooms/{}/{rest}", enc(room))
}

#[actix_rt::test]
async fn power_levels_must_be_integers_from_v10_and_well_formed_always() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({"room_version": "10"})).await;
    let pl_path = room_path(&room, "state/m.room.power_levels/");
    let pl = s.get(&pl_path, &alice.token).await.ok();

    // The creator locking themself out with a string level is refused, as are floats and
    // malformed maps.
    let mut bad = pl.clone();
    bad["users"][&alice.user_id] = json!("100");
    s.put(&pl_path, &alice.token, bad).await.err(400, "M_BAD_JSON");
    let mut bad = pl.clone();
    bad["ban"] = json!(50.5);
    s.put(&pl_path, &alice.token, bad).await.err(400, "M_BAD_JSON");
    let mut bad = pl.clone();
    bad["events"] = json!(["m.room.name"]);
    s.put(&pl_path, &alice.token, bad).await.err(400, "M_BAD_JSON");
    let mut bad = pl.clone();
    bad["users"]["not-a-user"] = json!(10);
    s.put(&pl_path, &alice.token, bad).await.err(400, "M_BAD_JSON");
    let r = s.post(&format!("{V3}/createRoom"), &alice.token, json!({"power_level_content_override": {"users_default": "5"}})).await;
    r.err(400, "M_BAD_JSON");

    // Alice still rules her room, and integer levels are accepted.
    let mut good = pl.clone();
    good["users_default"] = json!(5);
    s.put(&pl_path, &alice.token, good).await.ok();
    s.put(&room_path(&room, "state/m.room.name/"), &alice.token, json!({"name": "still mine"})).await.ok();

    // Before v10 the rules allow strings that hold integers, but nothing else.
    let old = s.create_room(&alice, json!({"room_version": "9"})).await;
    let old_path = room_path(&old, "state/m.room.power_levels/");
    let mut pl = s.get(&old_path, &alice.token).await.ok();
    pl["users_default"] = json!("abc");
    s.put(&old_path, &alice.token, pl.clone()).await.err(400, "M_BAD_JSON");
    pl["users_default"] = json!("3");
    s.put(&old_path, &alice.token, pl).await.ok();
}

#[actix_rt::test]
async fn member_events_need_a_user_id_as_state_key() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({"preset": "private_chat"})).await;
    for (key, membership) in [("not-a-user", "invite"), ("@nocolon", "ban"), ("", "invite"), ("%23room%3Atest.local", "invite")] {
        let r = s.put(&room_path(&room, &format!("state/m.room.member/{key}")), &alice.token, json!({"membership": membership})).await;
        r.err(400, "M_INVALID_PARAM");
    }
    let state = s.get(&room_path(&room, "state"), &alice.token).await.ok();
    let members = state.as_array().unwrap().iter().filter(|e| e["type"] == "m.room.member").count();
    assert_eq!(members, 1, "{state}");
}

#[actix_rt::test]
async fn typing_timeouts_are_capped_not_refused_and_junk_is_bad_json() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({})).await;
    let path = room_path(&room, &format!("typing/{}", enc(&alice.user_id)));
    s.put(&path, &alice.token, json!({"typing": true, "timeout": 9_007_199_254_740_991_i64})).await.ok();
    s.put(&path, &alice.token, json!({"typing": true, "timeout": 1e300})).await.err(400, "M_BAD_JSON");
    s.put(&path, &alice.token, json!({"typing": true, "timeout": "30000"})).await.err(400, "M_BAD_JSON");
    s.put(&path, &alice.token, json!({"typing": false})).await.ok();
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
async fn device_ids_and_names_are_bounded() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let huge = "D".repeat(100 * 1024);
    let login = |device: serde_json::Value| json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"}, "password": alice.password.clone(), "device_id": device});
    s.req("POST", &format!("{V3}/login"), None, Some(login(json!(huge)))).await.err(400, "M_INVALID_PARAM");
    s.req("POST", &format!("{V3}/login"), None, Some(login(json!("")))).await.err(400, "M_INVALID_PARAM");
    let mut long_name = login(json!("OKDEVICE"));
    long_name["initial_device_display_name"] = json!("n".repeat(101));
    s.req("POST", &format!("{V3}/login"), None, Some(long_name)).await.err(400, "M_TOO_LARGE");
    let ok = s.req("POST", &format!("{V3}/login"), None, Some(login(json!("D".repeat(512))))).await.ok();
    assert_eq!(ok["device_id"].as_str().map(str::len), Some(512));

    // Registration refuses before creating the account.
    let body = json!({"username": "bob", "password": "pw-bob-secret", "device_id": huge, "auth": {"type": "m.login.dummy"}});
    s.req("POST", &format!("{V3}/register"), None, Some(body)).await.err(400, "M_INVALID_PARAM");
    let bob = s.register_user("bob").await;

    // Renaming a device is bounded too.
    let dev = format!("{V3}/devices/{}", enc(&bob.device_id));
    s.put(&dev, &bob.token, json!({"display_name": "n".repeat(101)})).await.err(400, "M_TOO_LARGE");
    s.put(&dev, &bob.token, json!({"display_name": "phone"})).await.ok();
}
