//! Client accounts: registration (username rules, reserved localparts), password changes, devices
//! (list, rename, delete with user-interactive auth, bounded IDs and names) and deactivation.

use crate::common::*;
use serde_json::{Value, json};

/// A registration attempt through the UIA dummy flow, answered as is.
async fn try_register(s: &TestServer, localpart: &str) -> Resp {
    let body = json!({"username": localpart, "password": "a-long-enough-password", "auth": {"type": "m.login.dummy"}});
    s.req("POST", &format!("{V3}/register"), None, Some(body)).await
}

#[actix_rt::test]
async fn registration_username_checks() {
    let (s, alice, _bob, room) = alice_bob_and_a_room().await;
    let register = format!("{V3}/register");
    for name in ["Bad Name!", "with space", "émile", "a:b", "@alice", "", &"x".repeat(300)] {
        let r = s.req("POST", &register, None, Some(json!({"username": name, "password": "a-long-password"}))).await;
        r.err(400, "M_INVALID_USERNAME");
        let avail = format!("{V3}/register/available?username={}", enc(name));
        s.req("GET", &avail, None, None).await.err(400, "M_INVALID_USERNAME");
    }
    // Taken, before the interactive-auth step and at it.
    s.req("POST", &register, None, Some(json!({"username": "alice", "password": "a-long-password"}))).await.err(400, "M_USER_IN_USE");
    s.req("GET", &format!("{V3}/register/available?username=alice"), None, None).await.err(400, "M_USER_IN_USE");
    let free = s.req("GET", &format!("{V3}/register/available?username=carol"), None, None).await.ok();
    assert_eq!(free["available"], true);

    // Capitals are folded to lower case, as Synapse does, so "ALICE" is taken too...
    s.req("POST", &register, None, Some(json!({"username": "ALICE", "password": "a-long-password"}))).await.err(400, "M_USER_IN_USE");
    // ...and "Carol" registers as @carol.
    let carol = s.register_user("Carol").await;
    assert_eq!(carol.user_id, format!("@carol:{}", s.server_name()));
    still_works(&s, &alice, &room).await;
}

#[actix_rt::test]
async fn devices_list_rename_and_delete_with_uia() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let User { token: token2, device_id: device2, .. } = new_device(&s, &alice).await;

    let list = s.get(&format!("{V3}/devices"), &alice.token).await.ok();
    let devices: Vec<&str> = list["devices"].as_array().expect("devices").iter().map(|d| d["device_id"].as_str().unwrap_or("")).collect();
    assert!(devices.contains(&alice.device_id.as_str()), "{list}");
    assert!(devices.contains(&device2.as_str()), "{list}");

    let dev = format!("{V3}/devices/{}", enc(&device2));
    s.put(&dev, &alice.token, json!({"display_name": "Phone"})).await.ok();
    assert_eq!(s.get(&dev, &alice.token).await.ok()["display_name"], "Phone");
    s.put(&format!("{V3}/devices/NOSUCHDEVICE"), &alice.token, json!({"display_name": "x"})).await.err(404, "M_NOT_FOUND");

    // Without auth: a UIA challenge, nothing deleted.
    let first = s.req("DELETE", &dev, Some(&alice.token), None).await;
    let session = uia_session(&first);
    assert_eq!(whoami(&s, &token2).await.ok()["device_id"], device2.as_str());

    // A wrong password is challenged again.
    let wrong = s.req("DELETE", &dev, Some(&alice.token), Some(json!({"auth": password_auth(&alice, "not-it", &session)}))).await;
    uia_session(&wrong);
    assert_eq!(wrong.body["errcode"], "M_FORBIDDEN", "{}", wrong.body);
    assert_eq!(whoami(&s, &token2).await.ok()["device_id"], device2.as_str());

    s.req("DELETE", &dev, Some(&alice.token), Some(json!({"auth": password_auth(&alice, &alice.password, &session)}))).await.ok();
    whoami(&s, &token2).await.err(401, "M_UNKNOWN_TOKEN");
    s.get(&dev, &alice.token).await.err(404, "M_NOT_FOUND");
    let list = s.get(&format!("{V3}/devices"), &alice.token).await.ok();
    let devices: Vec<&str> = list["devices"].as_array().expect("devices").iter().map(|d| d["device_id"].as_str().unwrap_or("")).collect();
    assert_eq!(devices, vec![alice.device_id.as_str()]);
    assert_eq!(whoami(&s, &alice.token).await.ok()["user_id"], alice.user_id);
}

#[actix_rt::test]
async fn password_change_logs_out_other_devices() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let User { token: other, device_id: other_device, .. } = new_device(&s, &alice).await;
    let new_password = "a-brand-new-password";

    let path = format!("{V3}/account/password");
    let first = s.post(&path, &alice.token, json!({"new_password": new_password})).await;
    let session = uia_session(&first);
    // Nothing changed yet.
    s.login(&alice.user_id, &alice.password).await.ok();

    s.post(&path, &alice.token, json!({"new_password": new_password, "auth": password_auth(&alice, &alice.password, &session)})).await.ok();

    s.login(&alice.user_id, &alice.password).await.err(403, "M_FORBIDDEN");
    let fresh = s.login(&alice.user_id, new_password).await.ok();
    assert_eq!(fresh["user_id"], alice.user_id);

    // logout_devices defaults to true: the other session is gone, the requesting one lives.
    whoami(&s, &other).await.err(401, "M_UNKNOWN_TOKEN");
    assert_eq!(whoami(&s, &alice.token).await.ok()["device_id"], alice.device_id.as_str());
    let list = s.get(&format!("{V3}/devices"), &alice.token).await.ok();
    let devices: Vec<&str> = list["devices"].as_array().expect("devices").iter().map(|d| d["device_id"].as_str().unwrap_or("")).collect();
    assert!(!devices.contains(&other_device.as_str()), "the other device is deleted with its token: {list}");
    assert!(devices.contains(&alice.device_id.as_str()), "{list}");
    let fresh_token = fresh["access_token"].as_str().expect("token");
    assert_eq!(whoami(&s, fresh_token).await.ok()["user_id"], alice.user_id);

    // logout_devices: false keeps other sessions.
    let third = json!({"new_password": "third-password", "logout_devices": false});
    let session = uia_session(&s.post(&path, &alice.token, third.clone()).await);
    let updated = User { password: new_password.into(), ..alice.clone() };
    let mut with_auth = third;
    with_auth["auth"] = password_auth(&updated, new_password, &session);
    s.post(&path, &alice.token, with_auth).await.ok();
    assert_eq!(whoami(&s, fresh_token).await.ok()["user_id"], alice.user_id);
    s.login(&alice.user_id, "third-password").await.ok();
}

#[actix_rt::test]
async fn deactivation_leaves_rooms_and_blocks_login() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = public_room(&s, &bob, &[&alice]).await;
    let invited_to = s.create_room(&bob, json!({})).await;
    s.invite(&bob, &invited_to, &alice.user_id).await.ok();

    let path = format!("{V3}/account/deactivate");
    let session = uia_session(&s.post(&path, &alice.token, json!({})).await);
    s.post(&path, &alice.token, json!({"auth": password_auth(&alice, &alice.password, &session)})).await.ok();

    let membership_of = |body: &Value| {
        body["chunk"]
            .as_array()
            .expect("chunk")
            .iter()
            .find(|e| e["state_key"] == alice.user_id.as_str())
            .map(|e| e["content"]["membership"].as_str().unwrap_or_default().to_owned())
    };
    let members = s.get(&format!("{V3}/rooms/{}/members", enc(&room)), &bob.token).await.ok();
    assert_eq!(membership_of(&members).as_deref(), Some("leave"), "{members}");
    let members = s.get(&format!("{V3}/rooms/{}/members", enc(&invited_to)), &bob.token).await.ok();
    assert_eq!(membership_of(&members).as_deref(), Some("leave"), "the invite is rejected: {members}");
    let jm = s.get(&format!("{V3}/rooms/{}/joined_members", enc(&room)), &bob.token).await.ok();
    assert!(jm["joined"].get(&alice.user_id).is_none(), "{jm}");

    s.login(&alice.user_id, &alice.password).await.err(403, "M_USER_DEACTIVATED");
    whoami(&s, &alice.token).await.err(401, "M_UNKNOWN_TOKEN");
    // The name stays taken.
    s.req("GET", &format!("{V3}/register/available?username=alice"), None, None).await.err(400, "M_USER_IN_USE");
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
    let body = json!({"username": "bob", "password": "pw-bob-secret", "initial_device_display_name": "n".repeat(101), "auth": {"type": "m.login.dummy"}});
    s.req("POST", &format!("{V3}/register"), None, Some(body)).await.err(400, "M_TOO_LARGE");
    let bob = s.register_user("bob").await;

    // Renaming a device is bounded too.
    let dev = format!("{V3}/devices/{}", enc(&bob.device_id));
    s.put(&dev, &bob.token, json!({"display_name": "n".repeat(101)})).await.err(400, "M_TOO_LARGE");
    s.put(&dev, &bob.token, json!({"display_name": "phone"})).await.ok();
}

#[actix_rt::test]
async fn the_notices_localpart_and_numeric_localparts_are_reserved() {
    let s = TestServer::start().await;
    for name in ["notices", "NOTICES", "12345"] {
        try_register(&s, name).await.err(400, "M_INVALID_USERNAME");
        s.req("GET", &format!("{V3}/register/available?username={name}"), None, None).await.err(400, "M_INVALID_USERNAME");
    }
    // A localpart with digits among letters is fine.
    s.req("GET", &format!("{V3}/register/available?username=user123"), None, None).await.ok();

    // The admin dialects refuse the reserved names too.
    let admin = s.register_admin("root").await;
    s.put("/_synapse/admin/v2/users/@notices:test.local", &admin.token, json!({"password": "a-long-enough-password"}))
        .await
        .err(400, "M_INVALID_USERNAME");
    let nonce = s.req("GET", "/_synapse/admin/v1/register", None, None).await.ok()["nonce"].as_str().unwrap().to_owned();
    let mac = ensemble::auth::shared_secret::mac("test-shared-secret", &nonce, "notices", "a-long-enough-password", false, None);
    let body = json!({"nonce": nonce, "username": "notices", "password": "a-long-enough-password", "admin": false, "mac": mac});
    s.req("POST", "/_synapse/admin/v1/register", None, Some(body)).await.err(400, "M_INVALID_USERNAME");

    // A notice still reaches its user from the real system user, who has no password to log in with.
    let alice = s.register_user("alice").await;
    send_notice(&s, &admin, &alice).await;
    s.login("notices", "a-long-enough-password").await.err(403, "M_FORBIDDEN");
}

#[actix_rt::test]
async fn login_names_the_public_baseurl_in_well_known() {
    // Unset: nothing said.
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let plain = s.login("alice", &alice.password).await.ok();
    assert!(plain.get("well_known").is_none(), "{plain}");

    // Set: every login answer names it, as Synapse's.
    let dir = tempfile::tempdir().expect("tempdir");
    let config = ensemble::Config { public_baseurl: "https://matrix.example.org/".into(), ..test_config(dir.path()) };
    let s = TestServer::start_with(dir, config).await;
    let alice = s.register_user("alice").await;
    let l = s.login("alice", &alice.password).await.ok();
    assert_eq!(l["well_known"], json!({"m.homeserver": {"base_url": "https://matrix.example.org/"}}), "{l}");
    whoami(&s, l["access_token"].as_str().unwrap()).await.ok();
}
