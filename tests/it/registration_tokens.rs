//! Registration tokens: Synapse's admin API (`/_synapse/admin/v1/registration_tokens`), the
//! `m.login.registration_token` stage of `/register` with `registration_requires_token`, pending
//! and completed uses counted as Synapse counts them, and the validity check.

use crate::common::*;
use serde_json::{Value, json};

const TOKENS: &str = "/_synapse/admin/v1/registration_tokens";
const REGISTER: &str = "/_matrix/client/v3/register";
const VALIDITY: &str = "/_matrix/client/v1/register/m.login.registration_token/validity";
const TOKEN_STAGE: &str = "m.login.registration_token";

fn token_path(token: &str) -> String {
    format!("{TOKENS}/{}", enc(token))
}

async fn server_requiring_tokens() -> TestServer {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = ensemble::Config { registration_requires_token: true, ..test_config(dir.path()) };
    TestServer::start_with(dir, config).await
}

/// An admin on a server that requires tokens: registered through a token of its own, the way
/// every account there is made.
async fn admin_of(s: &TestServer) -> User {
    let db = s.server.services.db.clone();
    let row = ensemble::store::registration_tokens::RegistrationToken {
        token: "bootstrap".into(),
        uses_allowed: None,
        completed: 0,
        expiry_time: None,
        created_ts: 0,
    };
    db.run(move |c| ensemble::store::registration_tokens::create(c, &row)).await.expect("bootstrap token");
    let u = register_with_token(s, "admin", "bootstrap").await.ok();
    let user_id = u["user_id"].as_str().expect("user_id").to_owned();
    let id = user_id.clone();
    db.run(move |c| ensemble::store::users::set_admin(c, &id, true)).await.expect("set admin");
    s.server.services.tokens.forget_user(&user_id);
    User {
        user_id,
        token: u["access_token"].as_str().expect("token").into(),
        device_id: u["device_id"].as_str().expect("device").into(),
        password: "pw-admin-secret".into(),
    }
}

async fn step(s: &TestServer, body: Value) -> Resp {
    s.req("POST", REGISTER, None, Some(body)).await
}

/// Opens a registration session for `localpart`; its ID.
async fn open_session(s: &TestServer, localpart: &str) -> String {
    let first = step(s, json!({"username": localpart, "password": format!("pw-{localpart}-secret")})).await;
    assert_eq!(first.status, 401, "{}", first.body);
    first.body["session"].as_str().expect("session").to_owned()
}

fn token_auth(session: &str, token: &str) -> Value {
    json!({"auth": {"type": TOKEN_STAGE, "token": token, "session": session}})
}

fn dummy_auth(session: &str) -> Value {
    json!({"auth": {"type": "m.login.dummy", "session": session}})
}

/// The whole registration: token stage, then dummy stage; the last reply.
async fn register_with_token(s: &TestServer, localpart: &str, token: &str) -> Resp {
    let session = open_session(s, localpart).await;
    let r = step(s, token_auth(&session, token)).await;
    if r.status != 401 || r.body["completed"] != json!([TOKEN_STAGE]) {
        return r;
    }
    step(s, dummy_auth(&session)).await
}

async fn create(s: &TestServer, admin: &User, body: Value) -> Resp {
    s.post(&format!("{TOKENS}/new"), &admin.token, body).await
}

async fn show(s: &TestServer, admin: &User, token: &str) -> Value {
    s.get(&token_path(token), &admin.token).await.ok()
}

fn listed(body: &Value) -> Vec<String> {
    let list = body["registration_tokens"].as_array().expect("registration_tokens");
    list.iter().map(|t| t["token"].as_str().expect("token").to_owned()).collect()
}

fn future_ms() -> i64 {
    ensemble::ids::now_ms() + 3_600_000
}

#[actix_rt::test]
async fn the_admin_api_creates_shows_changes_lists_and_deletes_tokens() {
    let s = TestServer::start().await;
    let admin = s.register_admin("admin").await;
    let alice = s.register_user("alice").await;

    let expiry = future_ms();
    let made = create(&s, &admin, json!({"token": "abc.DEF_~-1", "uses_allowed": 2, "expiry_time": expiry})).await.ok();
    assert_eq!(made, json!({"token": "abc.DEF_~-1", "uses_allowed": 2, "pending": 0, "completed": 0, "expiry_time": expiry}));
    assert_eq!(show(&s, &admin, "abc.DEF_~-1").await, made);
    create(&s, &admin, json!({"token": "abc.DEF_~-1"})).await.err(400, "M_INVALID_PARAM");

    // Generated: 16 characters of the token alphabet by default, or the length asked for.
    let generated = create(&s, &admin, json!({})).await.ok();
    let text = generated["token"].as_str().expect("token").to_owned();
    assert_eq!(text.len(), 16, "{generated}");
    assert!(text.bytes().all(|b| b.is_ascii_alphanumeric() || b"._~-".contains(&b)), "{text}");
    assert_eq!(generated["uses_allowed"], Value::Null);
    assert_eq!(generated["expiry_time"], Value::Null);
    let long = create(&s, &admin, json!({"length": 64, "uses_allowed": 0})).await.ok();
    assert_eq!(long["token"].as_str().map(str::len), Some(64));
    // A named token makes `length` irrelevant.
    create(&s, &admin, json!({"token": "named", "length": "ignored"})).await.ok();

    for bad in [
        json!({"length": 0}),
        json!({"length": 65}),
        json!({"length": "5"}),
        json!({"length": 1.5}),
        json!({"token": ""}),
        json!({"token": "x".repeat(65)}),
        json!({"token": "no spaces"}),
        json!({"token": "ünïcode"}),
        json!({"token": 5}),
        json!({"token": null}),
        json!({"uses_allowed": -1}),
        json!({"uses_allowed": "1"}),
        json!({"uses_allowed": 1.5}),
        json!({"uses_allowed": true}),
        json!({"expiry_time": 1}),
        json!({"expiry_time": "tomorrow"}),
    ] {
        let r = create(&s, &admin, bad.clone()).await;
        assert_eq!((r.status, r.body["errcode"].as_str()), (400, Some("M_INVALID_PARAM")), "{bad}: {}", r.body);
    }

    // Changes: each field alone, null clears, an empty body changes nothing.
    let changed = s.put(&token_path("abc.DEF_~-1"), &admin.token, json!({"uses_allowed": 5})).await.ok();
    assert_eq!(changed["uses_allowed"], 5);
    assert_eq!(changed["expiry_time"], expiry);
    let cleared = s.put(&token_path("abc.DEF_~-1"), &admin.token, json!({"expiry_time": null})).await.ok();
    assert_eq!((cleared["uses_allowed"].as_i64(), cleared["expiry_time"].is_null()), (Some(5), true), "{cleared}");
    assert_eq!(s.put(&token_path("abc.DEF_~-1"), &admin.token, json!({})).await.ok(), cleared);
    for bad in [json!({"uses_allowed": -2}), json!({"uses_allowed": "x"}), json!({"expiry_time": 5}), json!({"expiry_time": [1]})] {
        s.put(&token_path("abc.DEF_~-1"), &admin.token, bad).await.err(400, "M_INVALID_PARAM");
    }
    assert_eq!(show(&s, &admin, "abc.DEF_~-1").await, cleared);
    s.put(&token_path("nosuch"), &admin.token, json!({"uses_allowed": 1})).await.err(404, "M_NOT_FOUND");
    s.get(&token_path("nosuch"), &admin.token).await.err(404, "M_NOT_FOUND");
    // `new` takes POST only, and a token's path anything but POST (Synapse's 405s).
    s.get(&format!("{TOKENS}/new"), &admin.token).await.err(405, "M_UNRECOGNIZED");
    s.put(&format!("{TOKENS}/new"), &admin.token, json!({})).await.err(405, "M_UNRECOGNIZED");
    s.post(&token_path("other"), &admin.token, json!({})).await.err(405, "M_UNRECOGNIZED");

    // The list, whole and filtered: a token with no uses left is invalid.
    let all = listed(&s.get(TOKENS, &admin.token).await.ok());
    assert_eq!(all.len(), 4, "{all:?}");
    let long_token = long["token"].as_str().expect("token").to_owned();
    let valid = listed(&s.get(&format!("{TOKENS}?valid=true"), &admin.token).await.ok());
    assert!(!valid.contains(&long_token) && valid.len() == 3, "{valid:?}");
    let invalid = listed(&s.get(&format!("{TOKENS}?valid=false"), &admin.token).await.ok());
    assert_eq!(invalid, vec![long_token.clone()]);
    s.get(&format!("{TOKENS}?valid=maybe"), &admin.token).await.err(400, "M_INVALID_PARAM");

    // Deleting: gone from the list and from show; a second delete is 404.
    assert_eq!(s.req("DELETE", &token_path(&long_token), Some(&admin.token), None).await.ok(), json!({}));
    s.get(&token_path(&long_token), &admin.token).await.err(404, "M_NOT_FOUND");
    s.req("DELETE", &token_path(&long_token), Some(&admin.token), None).await.err(404, "M_NOT_FOUND");
    assert_eq!(listed(&s.get(TOKENS, &admin.token).await.ok()).len(), 3);

    // Only admins.
    s.get(TOKENS, &alice.token).await.err(403, "M_FORBIDDEN");
    create(&s, &alice, json!({})).await.err(403, "M_FORBIDDEN");
    s.req("DELETE", &token_path("named"), Some(&alice.token), None).await.err(403, "M_FORBIDDEN");
    s.req("GET", TOKENS, None, None).await.err(401, "M_MISSING_TOKEN");
    show(&s, &admin, "named").await;
}

#[actix_rt::test]
async fn registration_asks_for_a_token_first_and_counts_its_use() {
    let s = server_requiring_tokens().await;
    let admin = admin_of(&s).await;
    create(&s, &admin, json!({"token": "welcome", "uses_allowed": 3})).await.ok();

    let first = step(&s, json!({"username": "carol", "password": "pw-carol-secret"})).await;
    assert_eq!(first.status, 401, "{}", first.body);
    assert_eq!(first.body["flows"], json!([{"stages": [TOKEN_STAGE, "m.login.dummy"]}]));
    let session = first.body["session"].as_str().expect("session").to_owned();

    // The dummy stage alone does not register.
    let r = step(&s, dummy_auth(&session)).await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(r.body["completed"], json!(["m.login.dummy"]));
    s.login(&format!("@carol:{}", s.server_name()), "pw-carol-secret").await.err(403, "M_FORBIDDEN");

    // A wrong token: 401 M_UNAUTHORIZED with the flows, and the session goes on.
    let wrong = step(&s, token_auth(&session, "not-a-token")).await;
    wrong.err(401, "M_UNAUTHORIZED");
    assert_eq!(wrong.body["session"], session.as_str());
    assert_eq!(wrong.body["flows"], first.body["flows"]);
    // Malformed token stages.
    step(&s, json!({"auth": {"type": TOKEN_STAGE, "session": session}})).await.err(400, "M_MISSING_PARAM");
    step(&s, json!({"auth": {"type": TOKEN_STAGE, "session": session, "token": 7}})).await.err(400, "M_INVALID_PARAM");
    step(&s, json!({"auth": {"type": "m.login.password", "session": session}})).await.err(401, "M_UNRECOGNIZED");

    // The right token completes the flow (dummy came first) and registers.
    let done = step(&s, token_auth(&session, "welcome")).await.ok();
    assert_eq!(done["user_id"], format!("@carol:{}", s.server_name()));
    let carol = done["access_token"].as_str().expect("token");
    assert_eq!(whoami(&s, carol).await.ok()["user_id"], done["user_id"]);
    s.login(&format!("@carol:{}", s.server_name()), "pw-carol-secret").await.ok();
    let token = show(&s, &admin, "welcome").await;
    assert_eq!((token["pending"].as_i64(), token["completed"].as_i64()), (Some(0), Some(1)), "{token}");

    // Token first, then dummy: pending in between, completed after.
    let session = open_session(&s, "dave").await;
    let r = step(&s, token_auth(&session, "welcome")).await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(r.body["completed"], json!([TOKEN_STAGE]));
    assert_eq!(show(&s, &admin, "welcome").await["pending"], 1);
    // The session's token cannot change; repeating it is fine.
    step(&s, token_auth(&session, "bootstrap")).await.err(400, "M_INVALID_PARAM");
    step(&s, dummy_auth(&session)).await.ok();
    let token = show(&s, &admin, "welcome").await;
    assert_eq!((token["pending"].as_i64(), token["completed"].as_i64()), (Some(0), Some(2)), "{token}");
    // A retry of the finished session is the same account again, not another use.
    assert_eq!(step(&s, dummy_auth(&session)).await.ok()["user_id"], format!("@dave:{}", s.server_name()));
    assert_eq!(show(&s, &admin, "welcome").await["completed"], 2);
}

#[actix_rt::test]
async fn a_token_is_not_used_more_than_allowed() {
    let s = server_requiring_tokens().await;
    let admin = admin_of(&s).await;
    create(&s, &admin, json!({"token": "once", "uses_allowed": 1})).await.ok();

    // Erin's session holds the only use: Frank is refused while it is pending.
    let erin = open_session(&s, "erin").await;
    assert_eq!(step(&s, token_auth(&erin, "once")).await.status, 401);
    let frank = open_session(&s, "frank").await;
    step(&s, token_auth(&frank, "once")).await.err(401, "M_UNAUTHORIZED");
    let r = s.req("GET", &format!("{VALIDITY}?token=once"), None, None).await.ok();
    assert_eq!(r, json!({"valid": false}));
    assert!(listed(&s.get(&format!("{TOKENS}?valid=false"), &admin.token).await.ok()).contains(&"once".to_owned()));

    // Erin registers; the use is completed and Frank is still refused.
    step(&s, dummy_auth(&erin)).await.ok();
    let token = show(&s, &admin, "once").await;
    assert_eq!((token["pending"].as_i64(), token["completed"].as_i64()), (Some(0), Some(1)), "{token}");
    step(&s, token_auth(&frank, "once")).await.err(401, "M_UNAUTHORIZED");
    s.login(&format!("@frank:{}", s.server_name()), "pw-frank-secret").await.err(403, "M_FORBIDDEN");

    // More uses allowed: Frank goes on.
    s.put(&token_path("once"), &admin.token, json!({"uses_allowed": 2})).await.ok();
    assert_eq!(step(&s, token_auth(&frank, "once")).await.status, 401);
    step(&s, dummy_auth(&frank)).await.ok();
    assert_eq!(show(&s, &admin, "once").await["completed"], 2);
}

#[actix_rt::test]
async fn a_pending_use_ends_with_its_session() {
    let s = server_requiring_tokens().await;
    let admin = admin_of(&s).await;
    create(&s, &admin, json!({"token": "limited", "uses_allowed": 1})).await.ok();
    let gina = open_session(&s, "gina").await;
    assert_eq!(step(&s, token_auth(&gina, "limited")).await.status, 401);
    assert_eq!(show(&s, &admin, "limited").await["pending"], 1);

    // With room for one session only, a new one pushes Gina's out, and its pending use with it.
    s.server.services.uia.set_capacity(1);
    let hank = open_session(&s, "hank").await;
    assert_eq!(show(&s, &admin, "limited").await["pending"], 0);
    assert_eq!(step(&s, token_auth(&hank, "limited")).await.status, 401);
    step(&s, dummy_auth(&hank)).await.ok();
    step(&s, dummy_auth(&gina)).await.err(400, "M_UNKNOWN");
}

#[actix_rt::test]
async fn expired_and_deleted_tokens_are_refused() {
    let s = server_requiring_tokens().await;
    let admin = admin_of(&s).await;
    let db = s.server.services.db.clone();
    let expired = ensemble::store::registration_tokens::RegistrationToken {
        token: "stale".into(),
        uses_allowed: None,
        completed: 0,
        expiry_time: Some(ensemble::ids::now_ms() - 1000),
        created_ts: 1,
    };
    db.run(move |c| ensemble::store::registration_tokens::create(c, &expired)).await.expect("expired token");
    let session = open_session(&s, "ivan").await;
    step(&s, token_auth(&session, "stale")).await.err(401, "M_UNAUTHORIZED");
    assert_eq!(s.req("GET", &format!("{VALIDITY}?token=stale"), None, None).await.ok(), json!({"valid": false}));
    assert_eq!(listed(&s.get(&format!("{TOKENS}?valid=false"), &admin.token).await.ok()), vec!["stale".to_owned()]);

    // Extended into the future, it works again.
    s.put(&token_path("stale"), &admin.token, json!({"expiry_time": future_ms()})).await.ok();
    assert_eq!(s.req("GET", &format!("{VALIDITY}?token=stale"), None, None).await.ok(), json!({"valid": true}));

    // Deleted, it is gone.
    s.req("DELETE", &token_path("stale"), Some(&admin.token), None).await.ok();
    step(&s, token_auth(&session, "stale")).await.err(401, "M_UNAUTHORIZED");
    s.login(&format!("@ivan:{}", s.server_name()), "pw-ivan-secret").await.err(403, "M_FORBIDDEN");
}

#[actix_rt::test]
async fn validity_is_answered_on_every_path_and_rate_limited() {
    let s = TestServer::start().await;
    let admin = s.register_admin("admin").await;
    create(&s, &admin, json!({"token": "good"})).await.ok();
    let paths = [
        VALIDITY.to_owned(),
        "/_matrix/client/unstable/register/m.login.registration_token/validity".to_owned(),
        "/_matrix/client/unstable/org.matrix.msc3231/register/org.matrix.msc3231.login.registration_token/validity".to_owned(),
    ];
    for p in &paths {
        assert_eq!(s.req("GET", &format!("{p}?token=good"), None, None).await.ok(), json!({"valid": true}), "{p}");
    }
    assert_eq!(s.req("GET", &format!("{VALIDITY}?token=bad"), None, None).await.ok(), json!({"valid": false}));
    s.req("GET", VALIDITY, None, None).await.err(400, "M_MISSING_PARAM");
    // Five checks at once per address, then 429 (rc_registration_token_validity's default burst).
    s.req("GET", &format!("{VALIDITY}?token=good"), None, None).await.ok();
    let r = s.req("GET", &format!("{VALIDITY}?token=good"), None, None).await;
    r.err(429, "M_LIMIT_EXCEEDED");
    assert!(r.body["retry_after_ms"].as_u64().is_some_and(|ms| ms > 0), "{}", r.body);

    // With registration closed, 403.
    let dir = tempfile::tempdir().expect("tempdir");
    let config = ensemble::Config { enable_registration: false, ..test_config(dir.path()) };
    let closed = TestServer::start_with(dir, config).await;
    closed.req("GET", &format!("{VALIDITY}?token=good"), None, None).await.err(403, "M_FORBIDDEN");
}
