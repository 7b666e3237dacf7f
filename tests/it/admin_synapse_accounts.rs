//! The Synapse admin API for one account (`/_synapse/admin/v2/users/<id>` and friends): query,
//! create and modify, lock, deactivate (with erase), reset the password, the admin flag, joined rooms,
//! account data, username availability and the server version (contract:
//! shared/seeds/004_synapse_user_admin_api.rst and shared/spec/admin-api.md).

use crate::common::*;
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// `membership` of `user` in `room` as `viewer` sees the room's state.
async fn membership_of(s: &TestServer, viewer: &User, room: &str, user: &str) -> Value {
    aget(s, &viewer.token, &client(&format!("rooms/{}/state/m.room.member/{}", enc(room), enc(user)))).await.ok()
}

fn str_list(v: &Value) -> BTreeSet<String> {
    v.as_array().unwrap_or_else(|| panic!("not a list: {v}")).iter().map(|x| x.as_str().expect("string").to_owned()).collect()
}

fn threepid_set(user: &Value) -> BTreeSet<(String, String)> {
    user["threepids"]
        .as_array()
        .unwrap_or_else(|| panic!("threepids must be a list: {user}"))
        .iter()
        .map(|t| (t["medium"].as_str().unwrap().to_owned(), t["address"].as_str().unwrap().to_owned()))
        .collect()
}

#[actix_rt::test]
async fn admin_flag_can_be_granted_read_and_revoked() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let bob = s.register_user("bob").await;
    let path = format!("/_synapse/admin/v1/users/{}/admin", enc(&bob.user_id));

    assert_eq!(s.get(&path, &admin.token).await.ok(), json!({"admin": false}));
    s.get("/_dendrite/admin/fulltext/reindex", &bob.token).await.err(403, "M_FORBIDDEN");

    s.put(&path, &admin.token, json!({"admin": true})).await.ok();
    assert_eq!(s.get(&path, &admin.token).await.ok(), json!({"admin": true}));
    // Takes effect at once for bob's existing token.
    assert_eq!(s.get("/_dendrite/admin/fulltext/reindex", &bob.token).await.ok(), json!({}));
    assert_eq!(s.get(&path, &bob.token).await.ok(), json!({"admin": true}));

    // Demoting yourself is refused; demoting someone else works.
    let own = format!("/_synapse/admin/v1/users/{}/admin", enc(&admin.user_id));
    let r = s.put(&own, &admin.token, json!({"admin": false})).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body["errcode"].is_string() && r.body["error"].is_string(), "{}", r.body);
    assert_eq!(s.get(&own, &admin.token).await.ok(), json!({"admin": true}));
    // Promoting yourself is a no-op, not an error.
    s.put(&own, &admin.token, json!({"admin": true})).await.ok();

    s.put(&path, &admin.token, json!({"admin": false})).await.ok();
    assert_eq!(s.get(&path, &admin.token).await.ok(), json!({"admin": false}));
    s.get("/_dendrite/admin/fulltext/reindex", &bob.token).await.err(403, "M_FORBIDDEN");

    // Errors.
    s.put(&path, &admin.token, json!({})).await.err(400, "M_MISSING_PARAM");
    s.put(&path, &admin.token, json!({"admin": "yes"})).await.err(400, "M_BAD_JSON");
    s.raw("PUT", &path, Some(&admin.token), b"{".to_vec()).await.err(400, "M_NOT_JSON");
    let ghost = format!("/_synapse/admin/v1/users/{}/admin", enc("@ghost:test.local"));
    s.get(&ghost, &admin.token).await.err(404, "M_NOT_FOUND");
    s.put(&ghost, &admin.token, json!({"admin": true})).await.err(404, "M_NOT_FOUND");
    let remote = format!("/_synapse/admin/v1/users/{}/admin", enc("@x:other.server"));
    s.get(&remote, &admin.token).await.err(400, "M_INVALID_PARAM");
    s.put(&remote, &admin.token, json!({"admin": true})).await.err(400, "M_INVALID_PARAM");
}

#[actix_rt::test]
async fn query_user_has_the_seed_fields() {
    let s = TestServer::start().await;
    let admin = s.register_admin("boss").await;
    let before = now_ms() / 1000;
    let alice = s.register_user("alice").await;
    let after = now_ms() / 1000;

    let u = user_json(&s, &admin, &alice.user_id).await;
    assert_eq!(u["name"], alice.user_id);
    assert_eq!(u["displayname"], "alice");
    assert_eq!(u["threepids"], json!([]));
    assert!(u["avatar_url"].is_null(), "{u}");
    assert_eq!(u["admin"], false);
    assert_eq!(u["deactivated"], false);
    assert_eq!(u["locked"], false);
    assert_eq!(u["shadow_banned"], false);
    assert_eq!(u["erased"], false);
    assert_eq!(u["is_guest"], false);
    assert!(u["user_type"].is_null(), "{u}");
    for key in ["appservice_id", "consent_server_notice_sent", "consent_version"] {
        assert!(u.get(key).is_some_and(Value::is_null), "{key} must be present and null: {u}");
    }
    // creation_ts is in seconds here (unlike the list).
    let ts = u["creation_ts"].as_i64().unwrap_or_else(|| panic!("creation_ts: {u}"));
    assert!((before..=after).contains(&ts), "creation_ts {ts} not in [{before}, {after}] seconds");

    let me = user_json(&s, &admin, &admin.user_id).await;
    assert_eq!(me["admin"], true);
    assert_eq!(me["name"], admin.user_id);
}

#[actix_rt::test]
async fn put_user_creates_with_201_and_the_get_body() {
    let s = TestServer::start().await;
    let admin = s.register_admin("boss").await;
    let id = local("newbie");
    let body = json!({
        "password": "newbie-password",
        "displayname": "New Bie",
        "threepids": [{"medium": "email", "address": "newbie@example.org"}, {"medium": "email", "address": "nb2@example.org"}],
        "avatar_url": "mxc://test.local/newbie",
        "admin": true,
        "user_type": "bot",
    });
    let r = aput(&s, &admin.token, &v2_user(&id), body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let created = r.body;
    assert_eq!(created["name"], id);
    assert_eq!(created["displayname"], "New Bie");
    assert_eq!(created["avatar_url"], "mxc://test.local/newbie");
    assert_eq!(created["admin"], true);
    assert_eq!(created["user_type"], "bot");
    assert_eq!(created["deactivated"], false);
    assert_eq!(
        threepid_set(&created),
        BTreeSet::from([("email".to_owned(), "newbie@example.org".to_owned()), ("email".to_owned(), "nb2@example.org".to_owned())])
    );
    assert_eq!(user_json(&s, &admin, &id).await, created, "PUT returns the GET body");

    // The password works, and the new user really is an admin.
    let l = login_checked(&s, "newbie", "newbie-password").await.ok();
    assert_eq!(l["user_id"], id);
    aget(&s, l["access_token"].as_str().unwrap(), &sa("v2/users")).await.ok();

    // Defaults of a bare creation: not admin, not deactivated, no type, displayname set.
    let plain = local("plain");
    let r = aput(&s, &admin.token, &v2_user(&plain), json!({"password": "plain-password"})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["admin"], false);
    assert_eq!(r.body["deactivated"], false);
    assert!(r.body["user_type"].is_null(), "{}", r.body);
    assert!(r.body["displayname"].is_string(), "{}", r.body);
    assert_eq!(r.body["threepids"], json!([]));

    // A second PUT modifies: 200.
    let r = aput(&s, &admin.token, &v2_user(&plain), json!({"displayname": "Plain"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["displayname"], "Plain");

    // As Synapse: a body is required, and a localpart no user may have is M_INVALID_USERNAME.
    call_raw(&s, "PUT", &v2_user(&plain), &admin.token, b"").await.err(400, "M_NOT_JSON");
    call_raw(&s, "PUT", &v2_user(&local("nobody")), &admin.token, b"").await.err(400, "M_NOT_JSON");
    for bad in ["@bad name:test.local", "@Capital:test.local", "@ünï:test.local"] {
        aput(&s, &admin.token, &v2_user(bad), json!({"password": "some-password"})).await.err(400, "M_INVALID_USERNAME");
    }
    for remote in ["@x:other.server", "@bad name:other.server"] {
        aput(&s, &admin.token, &v2_user(remote), json!({"password": "some-password"})).await.err(400, "M_UNKNOWN");
    }
    aput(&s, &admin.token, &v2_user("not-a-user-id"), json!({"password": "some-password"})).await.err(400, "M_INVALID_PARAM");
    aget(&s, &admin.token, &v2_user(&local("nobody"))).await.err(404, "M_NOT_FOUND");
}

#[actix_rt::test]
async fn put_user_modifies_and_keeps_omitted_fields() {
    let s = TestServer::start().await;
    let admin = s.register_admin("boss").await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    s.join(&bob, &room).await.ok();

    let path = v2_user(&alice.user_id);
    let full = aput(
        &s,
        &admin.token,
        &path,
        json!({"threepids": [{"medium": "email", "address": "alice@example.org"}], "avatar_url": "mxc://test.local/a", "user_type": "bot"}),
    )
    .await
    .ok();
    assert_eq!(full["user_type"], "bot");

    // Only the displayname changes; everything else keeps its value.
    let changed = aput(&s, &admin.token, &path, json!({"displayname": "Alice Liddell"})).await.ok();
    assert_eq!(changed["displayname"], "Alice Liddell");
    for key in ["avatar_url", "admin", "deactivated", "locked", "user_type", "threepids", "creation_ts", "shadow_banned"] {
        assert_eq!(changed[key], full[key], "{key} changed: {full} -> {changed}");
    }
    // The new displayname is visible in the profile and in the member event of her room.
    let profile = aget(&s, &bob.token, &client(&format!("profile/{}", enc(&alice.user_id)))).await.ok();
    assert_eq!(profile["displayname"], "Alice Liddell");
    let m = membership_of(&s, &bob, &room, &alice.user_id).await;
    assert_eq!(m["displayname"], "Alice Liddell", "{m}");
    assert_eq!(m["membership"], "join");
    // Her token still works: no password was given.
    whoami(&s, &alice.token).await.ok();

    // threepids replace the set.
    let replaced = aput(&s, &admin.token, &path, json!({"threepids": [{"medium": "msisdn", "address": "441234567890"}]})).await.ok();
    assert_eq!(threepid_set(&replaced), BTreeSet::from([("msisdn".to_owned(), "441234567890".to_owned())]));
    let cleared = aput(&s, &admin.token, &path, json!({"threepids": []})).await.ok();
    assert_eq!(cleared["threepids"], json!([]));
    assert_eq!(cleared["displayname"], "Alice Liddell");

    // user_type: null clears, an unknown type is refused.
    let r = aput(&s, &admin.token, &path, json!({"user_type": "nonsense"})).await;
    r.err(400, "M_UNKNOWN");
    assert_eq!(user_json(&s, &admin, &alice.user_id).await["user_type"], "bot");
    let r = aput(&s, &admin.token, &path, json!({"user_type": null})).await.ok();
    assert!(r["user_type"].is_null(), "{r}");

    // An admin may not demote themself.
    let r = aput(&s, &admin.token, &v2_user(&admin.user_id), json!({"admin": false})).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body["error"].as_str().unwrap_or_default().contains("You may not demote yourself"), "{}", r.body);
    assert_eq!(user_json(&s, &admin, &admin.user_id).await["admin"], true);
    // ...but may promote and demote others.
    assert_eq!(aput(&s, &admin.token, &path, json!({"admin": true})).await.ok()["admin"], true);
    assert_eq!(aput(&s, &admin.token, &path, json!({"admin": false})).await.ok()["admin"], false);

    // Wrong types are M_BAD_JSON.
    aput(&s, &admin.token, &path, json!({"admin": "yes"})).await.err(400, "M_BAD_JSON");
    aput(&s, &admin.token, &path, json!({"displayname": 7})).await.err(400, "M_BAD_JSON");
}

#[actix_rt::test]
async fn put_user_password_logs_out_unless_told_not_to() {
    let s = TestServer::start().await;
    let admin = s.register_admin("boss").await;
    let alice = s.register_user("alice").await;
    let second = login_checked(&s, "alice", &alice.password).await.ok()["access_token"].as_str().unwrap().to_owned();
    let path = v2_user(&alice.user_id);

    // Too long: 513 bytes is refused and nothing changes.
    let r = aput(&s, &admin.token, &path, json!({"password": "x".repeat(513)})).await;
    r.err(400, "M_INVALID_PARAM");
    whoami(&s, &alice.token).await.ok();
    login_checked(&s, "alice", &alice.password).await.ok();

    let r = aput(&s, &admin.token, &path, json!({"password": "the-second-password"})).await.ok();
    assert_eq!(r["name"], alice.user_id);
    assert_token_dead(&whoami(&s, &alice.token).await);
    assert_token_dead(&whoami(&s, &second).await);
    login_checked(&s, "alice", &alice.password).await.err(403, "M_FORBIDDEN");
    let fresh = login_checked(&s, "alice", "the-second-password").await.ok()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(aget(&s, &admin.token, &devices_path(&alice.user_id)).await.ok()["total"], 1);

    // logout_devices: false keeps the sessions.
    aput(&s, &admin.token, &path, json!({"password": "the-third-password", "logout_devices": false})).await.ok();
    whoami(&s, &fresh).await.ok();
    login_checked(&s, "alice", "the-second-password").await.err(403, "M_FORBIDDEN");
    login_checked(&s, "alice", "the-third-password").await.ok();

    // 512 bytes is still fine.
    let long = "y".repeat(512);
    aput(&s, &admin.token, &path, json!({"password": long})).await.ok();
    login_checked(&s, "alice", &long).await.ok();
    // The admin changing their own password keeps their own session.
    aput(&s, &admin.token, &v2_user(&admin.user_id), json!({"password": "admin-new-password"})).await.ok();
    whoami(&s, &admin.token).await.ok();
}

#[actix_rt::test]
async fn put_user_deactivates_and_reactivates() {
    let s = TestServer::start().await;
    let admin = s.register_admin("boss").await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    s.join(&bob, &room).await.ok();
    let path = v2_user(&bob.user_id);

    let r = aput(&s, &admin.token, &path, json!({"deactivated": true})).await.ok();
    assert_eq!(r["deactivated"], true);
    assert_eq!(r["erased"], false, "PUT deactivation does not erase");
    assert_eq!(r["displayname"], "bob");
    assert_token_dead(&whoami(&s, &bob.token).await);
    assert_eq!(membership_of(&s, &alice, &room, &bob.user_id).await["membership"], "leave");
    let jr = aget(&s, &admin.token, &v1_user(&bob.user_id, "joined_rooms")).await.ok();
    assert_eq!(jr, json!({"joined_rooms": [], "total": 0}));
    login_checked(&s, "bob", &bob.password).await.err(403, "M_USER_DEACTIVATED");
    // deactivated and locked at once is refused.
    aput(&s, &admin.token, &v2_user(&alice.user_id), json!({"deactivated": true, "locked": true})).await.err(400, "M_INVALID_PARAM");
    whoami(&s, &alice.token).await.ok();

    // Reactivation needs a password.
    aput(&s, &admin.token, &path, json!({"deactivated": false})).await.err(400, "M_BAD_JSON");
    assert_eq!(user_json(&s, &admin, &bob.user_id).await["deactivated"], true);
    let r = aput(&s, &admin.token, &path, json!({"deactivated": false, "password": "bob-is-back"})).await.ok();
    assert_eq!(r["deactivated"], false);
    let l = login_checked(&s, "bob", "bob-is-back").await.ok();
    whoami(&s, l["access_token"].as_str().unwrap()).await.ok();
    // Reactivation does not rejoin rooms.
    assert_eq!(membership_of(&s, &alice, &room, &bob.user_id).await["membership"], "leave");
}

#[actix_rt::test]
async fn put_user_locks_and_unlocks() {
    let s = TestServer::start().await;
    let admin = s.register_admin("boss").await;
    let alice = s.register_user("alice").await;
    let path = v2_user(&alice.user_id);
    whoami(&s, &alice.token).await.ok();

    let r = aput(&s, &admin.token, &path, json!({"locked": true})).await.ok();
    assert_eq!(r["locked"], true);
    whoami(&s, &alice.token).await.err(401, "M_USER_LOCKED");
    s.send_text_resp(&alice, "!nowhere:test.local", "x").await.err(401, "M_USER_LOCKED");

    let r = aput(&s, &admin.token, &path, json!({"locked": false})).await.ok();
    assert_eq!(r["locked"], false);
    assert_eq!(whoami(&s, &alice.token).await.ok()["user_id"], alice.user_id);
}

#[actix_rt::test]
async fn deactivate_with_erase() {
    let s = TestServer::start().await;
    let admin = s.register_admin("boss").await;
    let alice = s.register_user("alice").await;
    let carol = s.register_user("carol").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    s.join(&carol, &room).await.ok();
    aput(
        &s,
        &admin.token,
        &v2_user(&carol.user_id),
        json!({"threepids": [{"medium": "email", "address": "carol@example.org"}], "avatar_url": "mxc://test.local/carol"}),
    )
    .await
    .ok();
    set_http_pusher(&s, &carol.token, "org.example.app", "carolkey", json!({})).await.ok();

    let path = sa(&format!("v1/deactivate/{}", enc(&carol.user_id)));
    let r = apost(&s, &admin.token, &path, json!({"erase": true})).await.ok();
    assert_eq!(r, json!({"id_server_unbind_result": "success"}));

    assert_token_dead(&whoami(&s, &carol.token).await);
    let m = membership_of(&s, &alice, &room, &carol.user_id).await;
    assert_eq!(m["membership"], "leave", "{m}");
    login_checked(&s, "carol", &carol.password).await.err(403, "M_USER_DEACTIVATED");
    let u = user_json(&s, &admin, &carol.user_id).await;
    assert_eq!(u["deactivated"], true, "{u}");
    assert_eq!(u["erased"], true, "{u}");
    assert!(u["displayname"].is_null(), "{u}");
    assert!(u["avatar_url"].is_null(), "{u}");
    assert_eq!(u["threepids"], json!([]), "{u}");
    assert_eq!(aget(&s, &admin.token, &v1_user(&carol.user_id, "joined_rooms")).await.ok()["total"], 0);
    assert_eq!(aget(&s, &admin.token, &devices_path(&carol.user_id)).await.ok()["total"], 0);
    assert_eq!(aget(&s, &admin.token, &v1_user(&carol.user_id, "pushers")).await.ok()["total"], 0);

    // Idempotent.
    let r = apost(&s, &admin.token, &path, json!({"erase": true})).await.ok();
    assert_eq!(r, json!({"id_server_unbind_result": "success"}));
    assert_eq!(user_json(&s, &admin, &carol.user_id).await["deactivated"], true);

    // erase must be a boolean.
    let dave = s.register_user("dave").await;
    let dave_path = sa(&format!("v1/deactivate/{}", enc(&dave.user_id)));
    apost(&s, &admin.token, &dave_path, json!({"erase": "yes"})).await.err(400, "M_BAD_JSON");
    whoami(&s, &dave.token).await.ok();
    // An empty body works (erase defaults to false).
    let r = call_raw(&s, "POST", &dave_path, &admin.token, b"").await.ok();
    assert_eq!(r, json!({"id_server_unbind_result": "success"}));
    assert_token_dead(&whoami(&s, &dave.token).await);
    let u = user_json(&s, &admin, &dave.user_id).await;
    assert_eq!(u["deactivated"], true);
    assert_eq!(u["erased"], false);
    assert_eq!(u["displayname"], "dave");
}

#[actix_rt::test]
async fn reset_password() {
    let s = TestServer::start().await;
    let admin = s.register_admin("boss").await;
    let bob = s.register_user("bob").await;
    let second = login_checked(&s, "bob", &bob.password).await.ok()["access_token"].as_str().unwrap().to_owned();
    let path = sa(&format!("v1/reset_password/{}", enc(&bob.user_id)));

    apost(&s, &admin.token, &path, json!({})).await.err(400, "M_MISSING_PARAM");
    apost(&s, &admin.token, &path, json!({"logout_devices": false})).await.err(400, "M_MISSING_PARAM");
    apost(&s, &admin.token, &path, json!({"new_password": 12345678})).await.err(400, "M_BAD_JSON");
    whoami(&s, &bob.token).await.ok();

    // logout_devices defaults to true.
    let r = apost(&s, &admin.token, &path, json!({"new_password": "bobs-new-password"})).await.ok();
    assert_eq!(r, json!({}));
    assert_token_dead(&whoami(&s, &bob.token).await);
    assert_token_dead(&whoami(&s, &second).await);
    login_checked(&s, "bob", &bob.password).await.err(403, "M_FORBIDDEN");
    let kept = login_checked(&s, "bob", "bobs-new-password").await.ok()["access_token"].as_str().unwrap().to_owned();

    // logout_devices: false keeps the sessions.
    let r = apost(&s, &admin.token, &path, json!({"new_password": "bobs-third-password", "logout_devices": false})).await.ok();
    assert_eq!(r, json!({}));
    whoami(&s, &kept).await.ok();
    login_checked(&s, "bob", "bobs-new-password").await.err(403, "M_FORBIDDEN");
    login_checked(&s, "bob", "bobs-third-password").await.ok();

    // An admin resetting their own password keeps their own session, and only that one.
    let other_admin_session = login_checked(&s, "boss", &admin.password).await.ok()["access_token"].as_str().unwrap().to_owned();
    let own = sa(&format!("v1/reset_password/{}", enc(&admin.user_id)));
    assert_eq!(apost(&s, &admin.token, &own, json!({"new_password": "boss-new-password"})).await.ok(), json!({}));
    assert_eq!(whoami(&s, &admin.token).await.ok()["user_id"], admin.user_id);
    aget(&s, &admin.token, &sa("v2/users")).await.ok();
    assert_token_dead(&whoami(&s, &other_admin_session).await);
    login_checked(&s, "boss", "boss-new-password").await.ok();
}

#[actix_rt::test]
async fn admin_flag_and_joined_rooms() {
    let s = TestServer::start().await;
    let admin = s.register_admin("boss").await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;

    let path = v1_user(&bob.user_id, "admin");
    assert_eq!(aget(&s, &admin.token, &path).await.ok(), json!({"admin": false}));
    assert_eq!(aget(&s, &admin.token, &v1_user(&admin.user_id, "admin")).await.ok(), json!({"admin": true}));
    aget(&s, &bob.token, &sa("v2/users")).await.err(403, "M_FORBIDDEN");
    assert_eq!(aput(&s, &admin.token, &path, json!({"admin": true})).await.ok(), json!({}));
    assert_eq!(aget(&s, &admin.token, &path).await.ok(), json!({"admin": true}));
    assert_eq!(user_json(&s, &admin, &bob.user_id).await["admin"], true);
    // Bob's existing token now carries admin rights.
    aget(&s, &bob.token, &sa("v2/users")).await.ok();
    assert_eq!(aput(&s, &admin.token, &path, json!({"admin": false})).await.ok(), json!({}));
    aget(&s, &bob.token, &sa("v2/users")).await.err(403, "M_FORBIDDEN");
    assert_eq!(aget(&s, &admin.token, &path).await.ok(), json!({"admin": false}));

    aput(&s, &admin.token, &path, json!({})).await.err(400, "M_MISSING_PARAM");
    aput(&s, &admin.token, &path, json!({"admin": "yes"})).await.err(400, "M_BAD_JSON");
    let r = aput(&s, &admin.token, &v1_user(&admin.user_id, "admin"), json!({"admin": false})).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body["error"].as_str().unwrap_or_default().contains("demote yourself"), "{}", r.body);
    assert_eq!(aget(&s, &admin.token, &v1_user(&admin.user_id, "admin")).await.ok(), json!({"admin": true}));

    // joined_rooms matches the user's own /joined_rooms.
    let jr_path = v1_user(&bob.user_id, "joined_rooms");
    assert_eq!(aget(&s, &admin.token, &jr_path).await.ok(), json!({"joined_rooms": [], "total": 0}));
    let r1 = s.create_room(&bob, json!({})).await;
    let r2 = s.create_room(&bob, json!({})).await;
    let r3 = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    let r4 = s.create_room(&alice, json!({"preset": "private_chat"})).await;
    s.join(&bob, &r3).await.ok();
    s.invite(&alice, &r4, &bob.user_id).await.ok();
    let jr = aget(&s, &admin.token, &jr_path).await.ok();
    assert_eq!(str_list(&jr["joined_rooms"]), BTreeSet::from([r1.clone(), r2.clone(), r3.clone()]), "invites are not joins: {jr}");
    assert_eq!(jr["total"], 3);
    assert_eq!(str_list(&jr["joined_rooms"]), s.joined_rooms(&bob).await.into_iter().collect::<BTreeSet<_>>());
    apost(&s, &bob.token, &client(&format!("rooms/{}/leave", enc(&r1))), json!({})).await.ok();
    let jr = aget(&s, &admin.token, &jr_path).await.ok();
    assert_eq!(str_list(&jr["joined_rooms"]), BTreeSet::from([r2, r3]));
    assert_eq!(jr["total"], 2);
    assert_eq!(str_list(&jr["joined_rooms"]), s.joined_rooms(&bob).await.into_iter().collect::<BTreeSet<_>>());
}

#[actix_rt::test]
async fn server_version_and_username_available() {
    let s = TestServer::start().await;
    let admin = s.register_admin("boss").await;
    s.register_user("taken").await;

    let v = aget(&s, &admin.token, &sa("v1/server_version")).await.ok();
    assert!(v["server_version"].as_str().is_some_and(|x| !x.is_empty()), "{v}");

    let r = aget(&s, &admin.token, &sa("v1/username_available?username=free")).await.ok();
    assert_eq!(r, json!({"available": true}));
    aget(&s, &admin.token, &sa("v1/username_available?username=taken")).await.err(400, "M_USER_IN_USE");
    aget(&s, &admin.token, &sa("v1/username_available?username=boss")).await.err(400, "M_USER_IN_USE");
    let bad = format!("v1/username_available?username={}", enc("Not Valid!"));
    aget(&s, &admin.token, &sa(&bad)).await.err(400, "M_INVALID_USERNAME");
    // A name made available by the check is really free.
    let r = aput(&s, &admin.token, &v2_user(&local("free")), json!({"password": "free-password"})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    aget(&s, &admin.token, &sa("v1/username_available?username=free")).await.err(400, "M_USER_IN_USE");
}

#[actix_rt::test]
async fn account_data_reflects_the_clients_writes() {
    let s = TestServer::start().await;
    let admin = s.register_admin("boss").await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({})).await;
    let path = v1_user(&alice.user_id, "accountdata");

    let empty = aget(&s, &admin.token, &path).await.ok();
    assert!(empty["account_data"]["global"].is_object(), "{empty}");
    assert_eq!(empty["account_data"]["rooms"], json!({}), "{empty}");

    let global = client(&format!("user/{}/account_data/org.example.settings", enc(&alice.user_id)));
    aput(&s, &alice.token, &global, json!({"theme": "dark"})).await.ok();
    let per_room = client(&format!("user/{}/rooms/{}/account_data/org.example.room", enc(&alice.user_id), enc(&room)));
    aput(&s, &alice.token, &per_room, json!({"pinned": true})).await.ok();

    let ad = aget(&s, &admin.token, &path).await.ok();
    assert_eq!(ad["account_data"]["global"]["org.example.settings"], json!({"theme": "dark"}), "{ad}");
    assert_eq!(ad["account_data"]["rooms"][&room]["org.example.room"], json!({"pinned": true}), "{ad}");
    assert!(ad["account_data"]["global"].get("org.example.room").is_none(), "{ad}");

    // Overwrites show the latest value.
    aput(&s, &alice.token, &global, json!({"theme": "light"})).await.ok();
    let ad = aget(&s, &admin.token, &path).await.ok();
    assert_eq!(ad["account_data"]["global"]["org.example.settings"], json!({"theme": "light"}), "{ad}");

    // Another user's account data is theirs alone.
    let bob = s.register_user("bob").await;
    let other = aget(&s, &admin.token, &v1_user(&bob.user_id, "accountdata")).await.ok();
    assert!(other["account_data"]["global"].get("org.example.settings").is_none(), "{other}");
    assert_eq!(other["account_data"]["rooms"], json!({}));
}
