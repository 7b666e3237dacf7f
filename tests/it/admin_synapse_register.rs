//! Shared-secret registration (`/_synapse/admin/v1/register`): the MAC, users and admins created
//! with working tokens, user types, errors, and the endpoint off without a secret.

use crate::common::*;
use ensemble::auth::shared_secret::mac;
use serde_json::{Value, json};

const SECRET: &str = "test-shared-secret";

const REGISTER: &str = "/_synapse/admin/v1/register";

async fn nonce(s: &TestServer) -> String {
    let b = s.req("GET", REGISTER, None, None).await.ok();
    b["nonce"].as_str().expect("nonce").to_owned()
}

fn register_body(nonce: &str, user: &str, password: &str, admin: bool, user_type: Option<&str>) -> Value {
    let mut b = json!({
        "nonce": nonce,
        "username": user,
        "password": password,
        "admin": admin,
        "mac": mac(SECRET, nonce, user, password, admin, user_type),
    });
    if let Some(t) = user_type {
        b["user_type"] = json!(t);
    }
    b
}

async fn register(s: &TestServer, body: Value) -> Resp {
    s.req("POST", REGISTER, None, Some(body)).await
}

#[actix_rt::test]
async fn mac_matches_the_documented_test_vector() {
    assert_eq!(mac("shared_secret", "thisisanonce", "pepper_roni", "pizza", true, None), "48715842ad67d5dc9a9ee938a3bda4fcfae8d7c7");
}

#[actix_rt::test]
async fn shared_secret_registration_creates_a_user_with_a_working_token() {
    let s = TestServer::start().await;
    let n = nonce(&s).await;
    assert_eq!(n.len(), 128, "{n}");
    assert!(n.bytes().all(|b| b.is_ascii_hexdigit()), "{n}");
    assert_ne!(nonce(&s).await, n, "nonces are fresh");

    let body = register(&s, register_body(&n, "newbie", "newbie-password", false, None)).await.ok();
    assert_eq!(body["user_id"], "@newbie:test.local");
    assert_eq!(body["home_server"], "test.local");
    let token = body["access_token"].as_str().expect("access_token");
    let device = body["device_id"].as_str().expect("device_id");
    let who = whoami(&s, token).await.ok();
    assert_eq!(who["user_id"], "@newbie:test.local");
    assert_eq!(who["device_id"], device);
    // The password works.
    s.login("newbie", "newbie-password").await.ok();
    // Not an admin.
    s.get("/_dendrite/admin/fulltext/reindex", token).await.err(403, "M_FORBIDDEN");

    // The nonce was used up.
    register(&s, register_body(&n, "newbie2", "newbie-password", false, None)).await.err(400, "M_UNKNOWN");
    s.login("newbie2", "newbie-password").await.err(403, "M_FORBIDDEN");
}

#[actix_rt::test]
async fn shared_secret_registration_of_an_admin_and_user_type() {
    let s = TestServer::start().await;
    let n = nonce(&s).await;
    let body = register(&s, register_body(&n, "boss", "boss-password", true, None)).await.ok();
    let token = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(s.get("/_dendrite/admin/fulltext/reindex", &token).await.ok(), json!({}));
    let flag = s.get(&format!("/_synapse/admin/v1/users/{}/admin", enc("@boss:test.local")), &token).await.ok();
    assert_eq!(flag, json!({"admin": true}));

    // user_type is covered by the MAC: a MAC without it does not match a body with it.
    let n = nonce(&s).await;
    let mut b = register_body(&n, "robot", "robot-password", false, None);
    b["user_type"] = json!("bot");
    register(&s, b).await.err(403, "M_FORBIDDEN");
    // ... and admin is covered too.
    let n = nonce(&s).await;
    let mut b = register_body(&n, "robot", "robot-password", false, None);
    b["admin"] = json!(true);
    register(&s, b).await.err(403, "M_FORBIDDEN");
    // Signed with the user type, it works.
    let n = nonce(&s).await;
    let body = register(&s, register_body(&n, "robot", "robot-password", false, Some("bot"))).await.ok();
    assert_eq!(body["user_id"], "@robot:test.local");
    whoami(&s, body["access_token"].as_str().unwrap()).await.ok();
    // The bot is no admin.
    s.get("/_dendrite/admin/fulltext/reindex", body["access_token"].as_str().unwrap()).await.err(403, "M_FORBIDDEN");
    // A user type the server does not know is refused, even signed (Synapse: 400 M_UNKNOWN).
    let n = nonce(&s).await;
    register(&s, register_body(&n, "wizard", "wizard-password", false, Some("wizard"))).await.err(400, "M_UNKNOWN");
    s.login("wizard", "wizard-password").await.err(403, "M_FORBIDDEN");
}

#[actix_rt::test]
async fn shared_secret_registration_errors() {
    let s = TestServer::start().await;
    s.register_user("taken").await;

    // A nonce never issued.
    let made_up = "ab".repeat(64);
    register(&s, register_body(&made_up, "someone", "someone-password", false, None)).await.err(400, "M_UNKNOWN");

    // A bad MAC is refused, and uses up the nonce.
    let n = nonce(&s).await;
    let mut b = register_body(&n, "someone", "someone-password", false, None);
    b["mac"] = json!("0".repeat(40));
    register(&s, b).await.err(403, "M_FORBIDDEN");
    register(&s, register_body(&n, "someone", "someone-password", false, None)).await.err(400, "M_UNKNOWN");
    // A MAC made with another secret.
    let n = nonce(&s).await;
    let mut b = register_body(&n, "someone", "someone-password", false, None);
    b["mac"] = json!(mac("wrong-secret", &n, "someone", "someone-password", false, None));
    register(&s, b).await.err(403, "M_FORBIDDEN");
    // A MAC over another password.
    let n = nonce(&s).await;
    let mut b = register_body(&n, "someone", "someone-password", false, None);
    b["password"] = json!("other-password");
    register(&s, b).await.err(403, "M_FORBIDDEN");
    s.login("someone", "someone-password").await.err(403, "M_FORBIDDEN");

    // A taken username.
    let n = nonce(&s).await;
    register(&s, register_body(&n, "taken", "taken-password", false, None)).await.err(400, "M_USER_IN_USE");
    // An invalid username.
    for bad in ["not valid!", "ünïcödé", ""] {
        let n = nonce(&s).await;
        register(&s, register_body(&n, bad, "some-password", false, None)).await.err(400, "M_INVALID_USERNAME");
    }
    // Malformed requests.
    s.raw("POST", REGISTER, None, b"{nope".to_vec()).await.err(400, "M_NOT_JSON");
    let n = nonce(&s).await;
    let mut b = register_body(&n, "someone", "someone-password", false, None);
    b.as_object_mut().unwrap().remove("mac");
    register(&s, b).await.err(400, "M_MISSING_PARAM");

    // After all that, a correct request still works.
    let n = nonce(&s).await;
    register(&s, register_body(&n, "someone", "someone-password", false, None)).await.ok();
}

#[actix_rt::test]
async fn shared_secret_registration_disabled_without_a_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = test_config(dir.path());
    cfg.registration_shared_secret = String::new();
    let s = TestServer::start_with(dir, cfg).await;
    s.req("GET", REGISTER, None, None).await.err(400, "M_UNKNOWN");
    // POST too, even with a MAC over the empty secret.
    let body = json!({
        "nonce": "ab".repeat(64), "username": "sneaky", "password": "sneaky-password", "admin": true,
        "mac": mac("", &"ab".repeat(64), "sneaky", "sneaky-password", true, None),
    });
    register(&s, body).await.err(400, "M_UNKNOWN");
    s.login("sneaky", "sneaky-password").await.err(403, "M_FORBIDDEN");
}
