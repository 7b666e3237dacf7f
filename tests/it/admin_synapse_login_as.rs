//! Logging in as a user through the Synapse admin API: the token acts as the user without a device,
//! expires at `valid_until_ms`, dies with the admin's logout-all, outlives the target's, and never
//! carries admin rights.

use crate::common::*;
use serde_json::{Value, json};

async fn login_as(s: &TestServer, admin: &User, target: &str, body: Value) -> String {
    let b = apost(s, &admin.token, &v1_user(target, "login"), body).await.ok();
    b["access_token"].as_str().unwrap_or_else(|| panic!("access_token: {b}")).to_owned()
}

#[actix_rt::test]
async fn login_as_user_acts_as_them_without_a_device() {
    let s = TestServer::start().await;
    let admin = s.register_admin("boss").await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    s.join(&bob, &room).await.ok();

    let puppet = login_as(&s, &admin, &alice.user_id, json!({})).await;
    assert_ne!(puppet, alice.token);
    assert_eq!(whoami(&s, &puppet).await.ok()["user_id"], alice.user_id);
    let puppet_user = User { token: puppet.clone(), ..alice.clone() };
    let ev = s.send_text(&puppet_user, &room, "sent on alice's behalf").await;
    let seen = aget(&s, &bob.token, &client(&format!("rooms/{}/event/{}", enc(&room), enc(&ev)))).await.ok();
    assert_eq!(seen["sender"], alice.user_id);
    assert_eq!(seen["content"]["body"], "sent on alice's behalf");

    // No new device, neither for alice herself nor for the admin API.
    let own = aget(&s, &alice.token, &client("devices")).await.ok();
    let ids: Vec<&str> = own["devices"].as_array().unwrap().iter().map(|d| d["device_id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![alice.device_id.as_str()], "{own}");
    let listed = aget(&s, &admin.token, &devices_path(&alice.user_id)).await.ok();
    assert_eq!(listed["total"], 1, "{listed}");
    assert_eq!(listed["devices"][0]["device_id"], alice.device_id);

    // Never an admin token.
    aget(&s, &puppet, &sa("v2/users")).await.err(403, "M_FORBIDDEN");
    let admin2 = s.register_admin("boss2").await;
    let puppet_admin = login_as(&s, &admin, &admin2.user_id, json!({})).await;
    assert_eq!(whoami(&s, &puppet_admin).await.ok()["user_id"], admin2.user_id);
    for (method, path, body) in user_routes(&bob.user_id, &bob.device_id) {
        let r = call(&s, method, &path, Some(&puppet_admin), body).await;
        assert_eq!(r.status, 403, "{method} {path} with a puppet token of an admin: {}", r.body);
        r.err(403, "M_FORBIDDEN");
    }
    aget(&s, &admin2.token, &sa("v2/users")).await.ok();

    // Logging in as yourself is refused.
    let r = apost(&s, &admin.token, &v1_user(&admin.user_id, "login"), json!({})).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body["errcode"].is_string(), "{}", r.body);

    // /logout with the puppet token ends it, and only it.
    apost(&s, &puppet, &client("logout"), json!({})).await.ok();
    assert_token_dead(&whoami(&s, &puppet).await);
    whoami(&s, &alice.token).await.ok();
    assert_eq!(aget(&s, &admin.token, &devices_path(&alice.user_id)).await.ok()["total"], 1);
}

#[actix_rt::test]
async fn login_as_user_token_expires_at_valid_until_ms() {
    let s = TestServer::start().await;
    let admin = s.register_admin("boss").await;
    let alice = s.register_user("alice").await;

    let past = login_as(&s, &admin, &alice.user_id, json!({"valid_until_ms": now_ms() - 1000})).await;
    assert_token_dead(&whoami(&s, &past).await);

    let until = now_ms() + 1500;
    let token = login_as(&s, &admin, &alice.user_id, json!({"valid_until_ms": until})).await;
    assert_eq!(whoami(&s, &token).await.ok()["user_id"], alice.user_id);
    let r = eventually(15, || async {
        let r = whoami(&s, &token).await;
        (r.status != 200).then_some(r)
    })
    .await;
    assert_token_dead(&r);
    assert!(now_ms() >= until, "the token died before valid_until_ms");
    whoami(&s, &alice.token).await.ok();
}

#[actix_rt::test]
async fn login_as_user_token_dies_with_the_admins_logout_all() {
    let s = TestServer::start().await;
    let admin = s.register_admin("boss").await;
    let ops = s.register_admin("ops").await;
    let alice = s.register_user("alice").await;

    let by_ops = login_as(&s, &ops, &alice.user_id, json!({})).await;
    let by_admin = login_as(&s, &admin, &alice.user_id, json!({})).await;
    whoami(&s, &by_ops).await.ok();
    apost(&s, &ops.token, &client("logout/all"), json!({})).await.ok();
    assert_token_dead(&whoami(&s, &by_ops).await);
    assert_token_dead(&whoami(&s, &ops.token).await);
    // Other sessions of the target, and another admin's puppet token, are untouched.
    whoami(&s, &alice.token).await.ok();
    whoami(&s, &by_admin).await.ok();
}

#[actix_rt::test]
async fn login_as_user_token_survives_the_targets_logout_all() {
    let s = TestServer::start().await;
    let admin = s.register_admin("boss").await;
    let alice = s.register_user("alice").await;

    let puppet = login_as(&s, &admin, &alice.user_id, json!({})).await;
    whoami(&s, &puppet).await.ok();
    apost(&s, &alice.token, &client("logout/all"), json!({})).await.ok();
    assert_token_dead(&whoami(&s, &alice.token).await);
    let r = whoami(&s, &puppet).await;
    assert_eq!(r.status, 200, "the puppet token died with the target's /logout/all: {}", r.body);
    assert_eq!(r.body["user_id"], alice.user_id);
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
    s.get(&format!("{V3}/admin/whois/{}", enc(&carol.user_id)), &puppet).await.err(403, "M_FORBIDDEN");
    // The puppet may still ask about the user it acts as, and the real admins about anyone.
    s.get(&format!("/_synapse/admin/v1/whois/{}", enc(&other_admin.user_id)), &puppet).await.ok();
    s.get(&whois, &other_admin.token).await.ok();
    s.get(&whois, &root.token).await.ok();
}
