//! What the server keeps for itself: the server notices user and other reserved localparts, the
//! one admin check (a login-as token never carries admin rights), and the signing key, which is
//! never replaced behind an operator's back.

use crate::common::*;
use serde_json::json;

const C: &str = "/_matrix/client/v3";

/// A registration attempt through the UIA dummy flow, answered as is.
async fn try_register(s: &TestServer, localpart: &str) -> Resp {
    let body = json!({"username": localpart, "password": "a-long-enough-password", "auth": {"type": "m.login.dummy"}});
    s.req("POST", &format!("{C}/register"), None, Some(body)).await
}

async fn send_notice(s: &TestServer, admin: &User, to: &User) {
    let body = json!({"user_id": to.user_id, "content": {"msgtype": "m.text", "body": "hi"}});
    s.post("/_synapse/admin/v1/send_server_notice", &admin.token, body).await.ok();
}

#[actix_rt::test]
async fn the_notices_localpart_and_numeric_localparts_are_reserved() {
    let s = TestServer::start().await;
    for name in ["notices", "NOTICES", "12345"] {
        try_register(&s, name).await.err(400, "M_INVALID_USERNAME");
        s.req("GET", &format!("{C}/register/available?username={name}"), None, None).await.err(400, "M_INVALID_USERNAME");
    }
    // A localpart with digits among letters is fine.
    s.req("GET", &format!("{C}/register/available?username=user123"), None, None).await.ok();

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
async fn a_notice_room_cannot_be_left_through_the_state_api_or_a_self_kick() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    send_notice(&s, &admin, &alice).await;
    let sync = s.sync(&alice, None, 0).await;
    let room = sync["rooms"]["invite"].as_object().and_then(|m| m.keys().next().cloned()).expect("notice invite");
    let member_path = format!("{C}/rooms/{}/state/m.room.member/{}", enc(&room), enc(&alice.user_id));

    // Rejecting the invite through the state API, as through /leave, is refused.
    s.put(&member_path, &alice.token, json!({"membership": "leave"})).await.err(403, "M_CANNOT_LEAVE_SERVER_NOTICE_ROOM");
    s.post(&format!("{C}/rooms/{}/leave", enc(&room)), &alice.token, json!({})).await.err(403, "M_CANNOT_LEAVE_SERVER_NOTICE_ROOM");
    s.join(&alice, &room).await.ok();
    s.put(&member_path, &alice.token, json!({"membership": "leave"})).await.err(403, "M_CANNOT_LEAVE_SERVER_NOTICE_ROOM");
    s.post(&format!("{C}/rooms/{}/kick", enc(&room)), &alice.token, json!({"user_id": alice.user_id}))
        .await
        .err(403, "M_CANNOT_LEAVE_SERVER_NOTICE_ROOM");
    assert!(s.joined_rooms(&alice).await.contains(&room));

    // Leaving an ordinary room through the state API still works.
    let other = s.create_room(&alice, json!({})).await;
    s.put(&format!("{C}/rooms/{}/state/m.room.member/{}", enc(&other), enc(&alice.user_id)), &alice.token, json!({"membership": "leave"}))
        .await
        .ok();
    assert!(!s.joined_rooms(&alice).await.contains(&other));
}

#[actix_rt::test]
async fn a_login_as_token_of_an_admin_does_not_pass_the_admin_check_of_whois() {
    let s = TestServer::start().await;
    let root = s.register_admin("root").await;
    let other_admin = s.register_admin("deputy").await;
    let carol = s.register_user("carol").await;
    let puppet = s.post(&format!("/_synapse/admin/v1/users/{}/login", enc(&other_admin.user_id)), &root.token, json!({})).await.ok();
    let puppet = puppet["access_token"].as_str().expect("puppet token").to_owned();
    let whois = format!("/_synapse/admin/v1/whois/{}", enc(&carol.user_id));
    s.get(&whois, &puppet).await.err(403, "M_FORBIDDEN");
    s.get(&format!("{C}/admin/whois/{}", enc(&carol.user_id)), &puppet).await.err(403, "M_FORBIDDEN");
    // The puppet may still ask about the user it acts as, and the real admins about anyone.
    s.get(&format!("/_synapse/admin/v1/whois/{}", enc(&other_admin.user_id)), &puppet).await.ok();
    s.get(&whois, &other_admin.token).await.ok();
    s.get(&whois, &root.token).await.ok();
}

/// The error `ensemble::start` gives for a data directory, when it refuses to start.
async fn start_error(dir: &std::path::Path) -> String {
    match ensemble::start(test_config(dir)).await {
        Ok(server) => {
            server.stop().await;
            panic!("the server started");
        }
        Err(e) => e.message(),
    }
}

#[actix_rt::test]
async fn a_missing_or_unreadable_signing_key_stops_the_start_unless_the_database_is_new() {
    let s = TestServer::start().await;
    // Events signed with the key make it irreplaceable.
    let alice = s.register_user("alice").await;
    s.create_room(&alice, json!({})).await;
    let key_path = s.dir.path().join("signing.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_path).expect("key written").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the key is readable by its owner only");
    }
    let original = std::fs::read(&key_path).unwrap();
    let TestServer { server, dir, .. } = s;
    server.stop().await;

    // Missing: refused, and no new key is written.
    std::fs::remove_file(&key_path).unwrap();
    let err = start_error(dir.path()).await;
    assert!(err.contains("signing key") && err.contains("missing"), "{err}");
    assert!(!key_path.exists());

    // Not text: refused, and the file is left as it was.
    std::fs::write(&key_path, [0xff, 0xfe, 0x00, 0x80]).unwrap();
    let err = start_error(dir.path()).await;
    assert!(err.contains("signing key"), "{err}");
    assert_eq!(std::fs::read(&key_path).unwrap(), vec![0xff, 0xfe, 0x00, 0x80]);

    // Truncated: refused.
    std::fs::write(&key_path, "ed25519_only_a_version\n").unwrap();
    let err = start_error(dir.path()).await;
    assert!(err.contains("malformed"), "{err}");

    // Restored: the server starts with the same key.
    std::fs::write(&key_path, &original).unwrap();
    let config = test_config(dir.path());
    let s = TestServer::start_with(dir, config).await;
    let keys = s.req("GET", "/_matrix/key/v2/server", None, None).await.ok();
    let version = String::from_utf8(original).unwrap().split_whitespace().next().unwrap().to_owned();
    assert!(keys["verify_keys"].get(format!("ed25519:{version}")).is_some(), "{keys}");
}
