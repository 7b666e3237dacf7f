//! User-interactive authentication bound to its request: a session authorizes only the method,
//! path, body and user that opened it; registration keeps the parameters of its first step; a
//! completed session repeats the same operation; another user's password is refused.

use crate::common::*;
use serde_json::{Value, json};

const REGISTER: &str = "/_matrix/client/v3/register";

async fn device_exists(s: &TestServer, user: &User, device: &str) -> bool {
    let r = s.get(&format!("{V3}/devices/{}", enc(device)), &user.token).await;
    match r.status {
        200 => true,
        404 => false,
        other => panic!("device lookup answered {other}: {}", r.body),
    }
}

#[actix_rt::test]
async fn a_session_opened_for_one_device_cannot_delete_another() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let a = new_device(&s, &alice).await;
    let b = new_device(&s, &alice).await;
    let path_a = format!("{V3}/devices/{}", enc(&a.device_id));
    let path_b = format!("{V3}/devices/{}", enc(&b.device_id));

    let session = uia_session(&s.req("DELETE", &path_a, Some(&alice.token), Some(json!({}))).await);
    // The right password, but for a different operation: refused, nothing deleted.
    let auth = json!({"auth": password_auth(&alice, &alice.password, &session)});
    s.req("DELETE", &path_b, Some(&alice.token), Some(auth.clone())).await.err(403, "M_FORBIDDEN");
    assert!(device_exists(&s, &alice, &b.device_id).await);
    assert!(device_exists(&s, &alice, &a.device_id).await);

    // The operation the session was opened for goes through.
    s.req("DELETE", &path_a, Some(&alice.token), Some(auth)).await.ok();
    assert!(!device_exists(&s, &alice, &a.device_id).await);
    whoami(&s, &a.token).await.err(401, "M_UNKNOWN_TOKEN");
    assert_eq!(whoami(&s, &b.token).await.ok()["device_id"], b.device_id.as_str());
}

#[actix_rt::test]
async fn a_session_is_bound_to_its_body() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let a = new_device(&s, &alice).await;
    let b = new_device(&s, &alice).await;
    let path = format!("{V3}/delete_devices");

    let session = uia_session(&s.post(&path, &alice.token, json!({"devices": [a.device_id]})).await);
    let auth = password_auth(&alice, &alice.password, &session);
    // The same session may not delete a different set of devices...
    s.post(&path, &alice.token, json!({"devices": [b.device_id], "auth": auth})).await.err(403, "M_FORBIDDEN");
    s.post(&path, &alice.token, json!({"devices": [a.device_id, b.device_id], "auth": auth})).await.err(403, "M_FORBIDDEN");
    assert!(device_exists(&s, &alice, &a.device_id).await);
    assert!(device_exists(&s, &alice, &b.device_id).await);
    // ...while key order does not make a body different.
    let same = json!({"auth": auth, "devices": [a.device_id]});
    s.post(&path, &alice.token, same.clone()).await.ok();
    assert!(!device_exists(&s, &alice, &a.device_id).await);
    assert!(device_exists(&s, &alice, &b.device_id).await);

    // Completed: retrying the same request (a lost reply) does the same thing again, without
    // the password...
    let retry = json!({"devices": [a.device_id], "auth": {"session": session}});
    s.post(&path, &alice.token, retry).await.ok();
    // ...but still only that thing.
    let other = json!({"devices": [b.device_id], "auth": {"session": session}});
    s.post(&path, &alice.token, other).await.err(403, "M_FORBIDDEN");
    assert!(device_exists(&s, &alice, &b.device_id).await);

    // A session nobody opened.
    let unknown = json!({"devices": [b.device_id], "auth": {"session": "no-such-session", "type": "m.login.password"}});
    s.post(&path, &alice.token, unknown).await.err(400, "M_UNKNOWN");
}

#[actix_rt::test]
async fn another_users_password_or_session_is_refused() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let eve = s.register_user("eve").await;
    let a = new_device(&s, &alice).await;
    let path = format!("{V3}/devices/{}", enc(&a.device_id));

    // Eve holds Alice's token and offers her own (valid) password.
    let eve_auth = json!({
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": eve.user_id},
        "password": eve.password,
    });
    s.req("DELETE", &path, Some(&alice.token), Some(json!({"auth": eve_auth}))).await.err(403, "M_FORBIDDEN");
    assert!(device_exists(&s, &alice, &a.device_id).await);

    // A session Alice opened cannot be completed with Eve's token.
    let pw = format!("{V3}/account/password");
    let body = json!({"new_password": "the-new-password", "logout_devices": false});
    let challenge = s.post(&pw, &alice.token, body.clone()).await;
    let session = uia_session(&challenge);
    // No stage tried yet: the flows alone, no errcode (as Synapse).
    assert!(challenge.body.get("errcode").is_none() && challenge.body.get("error").is_none(), "{}", challenge.body);
    let mut as_eve = body.clone();
    as_eve["auth"] = password_auth(&eve, &eve.password, &session);
    s.post(&pw, &eve.token, as_eve).await.err(403, "M_FORBIDDEN");
    s.login(&eve.user_id, &eve.password).await.ok();

    // A wrong password: 401 M_FORBIDDEN naming the same session, which then still works.
    let mut wrong = body.clone();
    wrong["auth"] = password_auth(&alice, "not-the-password", &session);
    let r = s.post(&pw, &alice.token, wrong).await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(r.body["errcode"], "M_FORBIDDEN");
    assert_eq!(r.body["session"], session.as_str());
    assert_eq!(r.body["completed"], json!([]));
    let mut right = body;
    right["auth"] = password_auth(&alice, &alice.password, &session);
    s.post(&pw, &alice.token, right).await.ok();
    s.login(&alice.user_id, "the-new-password").await.ok();

    // Without a session, the owner's password alone deletes the device.
    let mut one_shot = password_auth(&alice, "the-new-password", "");
    one_shot.as_object_mut().expect("auth").remove("session");
    s.req("DELETE", &path, Some(&alice.token), Some(json!({"auth": one_shot}))).await.ok();
    assert!(!device_exists(&s, &alice, &a.device_id).await);
}

async fn register_step(s: &TestServer, body: Value) -> Resp {
    s.req("POST", REGISTER, None, Some(body)).await
}

fn dummy(session: &str) -> Value {
    json!({"type": "m.login.dummy", "session": session})
}

#[actix_rt::test]
async fn registration_keeps_the_parameters_of_its_first_step() {
    let s = TestServer::start().await;
    let first = register_step(
        &s,
        json!({"username": "carol", "password": "carols-password", "device_id": "XYZZY", "initial_device_display_name": "Carol's phone"}),
    )
    .await;
    assert_eq!(first.status, 401, "{}", first.body);
    assert!(first.body.get("errcode").is_none(), "{}", first.body);
    let session = first.body["session"].as_str().expect("session").to_owned();

    // A later step may not change the username.
    let changed = json!({"username": "mallory", "password": "carols-password", "auth": dummy(&session)});
    register_step(&s, changed).await.err(403, "M_FORBIDDEN");
    s.login(&local("mallory"), "carols-password").await.err(403, "M_FORBIDDEN");

    // A step carrying only `auth` registers with the first step's parameters.
    let done = register_step(&s, json!({"auth": dummy(&session)})).await.ok();
    assert_eq!(done["user_id"], local("carol"));
    assert_eq!(done["device_id"], "XYZZY");
    let token = done["access_token"].as_str().expect("token");
    let device = s.get(&format!("{V3}/devices/XYZZY"), token).await.ok();
    assert_eq!(device["display_name"], "Carol's phone");
    s.login(&local("carol"), "carols-password").await.ok();

    // Retrying the completed session answers the same account, signed in again.
    let again = register_step(&s, json!({"auth": dummy(&session)})).await.ok();
    assert_eq!(again["user_id"], local("carol"));
    assert!(again["access_token"].is_string(), "{again}");
}

#[actix_rt::test]
async fn registration_without_a_username_is_idempotent() {
    let s = TestServer::start().await;
    let body = json!({"password": "a-long-enough-password"});
    let first = register_step(&s, body.clone()).await;
    assert_eq!(first.status, 401, "{}", first.body);
    let session = first.body["session"].as_str().expect("session").to_owned();
    let mut with_auth = body;
    with_auth["auth"] = dummy(&session);
    let done = register_step(&s, with_auth.clone()).await.ok();
    let again = register_step(&s, with_auth).await.ok();
    assert_eq!(done["user_id"], again["user_id"], "the same generated user both times");
    assert_ne!(done["access_token"], again["access_token"]);
    for token in [&done["access_token"], &again["access_token"]] {
        assert_eq!(whoami(&s, token.as_str().expect("token")).await.ok()["user_id"], done["user_id"]);
    }
}

#[actix_rt::test]
async fn registration_keeps_inhibit_login() {
    let s = TestServer::start().await;
    let first = register_step(&s, json!({"username": "dave", "password": "daves-password", "inhibit_login": true})).await;
    assert_eq!(first.status, 401, "{}", first.body);
    let session = first.body["session"].as_str().expect("session").to_owned();
    let done = register_step(&s, json!({"auth": dummy(&session)})).await.ok();
    assert_eq!(done["user_id"], local("dave"));
    assert!(done.get("access_token").is_none() && done.get("device_id").is_none(), "{done}");
    s.login(&local("dave"), "daves-password").await.ok();

    // A registration session is not a password session: it cannot authorize a device deletion.
    let dave =
        new_device(&s, &User { user_id: local("dave"), token: String::new(), device_id: String::new(), password: "daves-password".into() })
            .await;
    let path = format!("{V3}/devices/{}", enc(&dave.device_id));
    s.req("DELETE", &path, Some(&dave.token), Some(json!({"auth": dummy(&session)}))).await.err(403, "M_FORBIDDEN");
    assert!(device_exists(&s, &dave, &dave.device_id).await);
}
