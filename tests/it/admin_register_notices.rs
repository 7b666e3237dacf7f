//! The Synapse admin dialect over HTTP: shared-secret registration, server notices, whois and
//! the admin flag (docs: shared/spec/admin-api.md).

use crate::common::*;
use ensemble::auth::shared_secret::mac;
use serde_json::{Value, json};

const SECRET: &str = "test-shared-secret";
const REGISTER: &str = "/_synapse/admin/v1/register";
const NOTICE: &str = "/_synapse/admin/v1/send_server_notice";

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

fn room_path(room: &str, rest: &str) -> String {
    format!("/_matrix/client/v3/rooms/{}/{rest}", enc(room))
}

async fn whoami(s: &TestServer, token: &str) -> Resp {
    s.get("/_matrix/client/v3/account/whoami", token).await
}

// ---------------------------------------------------------------------------------------------
// Shared-secret registration
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Server notices
// ---------------------------------------------------------------------------------------------

/// The rooms `user` is invited to, from an initial sync.
async fn invites(s: &TestServer, user: &User) -> serde_json::Map<String, Value> {
    let sync = s.sync(user, None, 0).await;
    sync["rooms"]["invite"].as_object().cloned().unwrap_or_default()
}

async fn messages_f(s: &TestServer, user: &User, room: &str) -> Vec<Value> {
    let b = s.get(&format!("{}?dir=f&limit=100", room_path(room, "messages")), &user.token).await.ok();
    b["chunk"].as_array().unwrap().clone()
}

#[actix_rt::test]
async fn server_notice_creates_an_unleavable_tagged_room() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let bob = s.register_user("bob").await;

    let first = s
        .post(NOTICE, &admin.token, json!({"user_id": bob.user_id, "content": {"msgtype": "m.text", "body": "Maintenance tonight"}}))
        .await
        .ok();
    let first_id = first["event_id"].as_str().expect("event_id").to_owned();
    assert!(first_id.starts_with('$'), "{first}");

    // Bob is invited by the system user, to a room named "Server Notices".
    let inv = invites(&s, &bob).await;
    assert_eq!(inv.len(), 1, "{inv:?}");
    let (room, invite) = inv.iter().next().unwrap();
    let room = room.clone();
    let stripped = invite["invite_state"]["events"].as_array().unwrap();
    let name = stripped.iter().find(|e| e["type"] == "m.room.name").expect("name in the invite state");
    assert_eq!(name["content"]["name"], "Server Notices");
    let my_invite = stripped.iter().find(|e| e["type"] == "m.room.member" && e["state_key"] == bob.user_id).expect("invite event");
    assert_eq!(my_invite["sender"], "@notices:test.local");
    assert_eq!(my_invite["content"]["membership"], "invite");

    // Tagged m.server_notice in bob's room account data.
    let tags = s.get(&format!("/_matrix/client/v3/user/{}/rooms/{}/tags", enc(&bob.user_id), enc(&room)), &bob.token).await.ok();
    assert!(tags["tags"]["m.server_notice"].is_object(), "{tags}");

    // A second notice goes to the same room.
    let second = s
        .post(NOTICE, &admin.token, json!({"user_id": bob.user_id, "content": {"msgtype": "m.text", "body": "Maintenance done"}}))
        .await
        .ok();
    let second_id = second["event_id"].as_str().unwrap().to_owned();
    assert_ne!(first_id, second_id);
    let inv = invites(&s, &bob).await;
    assert_eq!(inv.keys().cloned().collect::<Vec<_>>(), vec![room.clone()]);

    // Bob cannot reject the invite.
    s.post(&room_path(&room, "leave"), &bob.token, json!({})).await.err(403, "M_CANNOT_LEAVE_SERVER_NOTICE_ROOM");
    assert_eq!(invites(&s, &bob).await.len(), 1);

    // After joining he sees both notices, from the system user.
    s.join(&bob, &room).await.ok();
    let events = messages_f(&s, &bob, &room).await;
    let notices: Vec<&Value> = events.iter().filter(|e| e["type"] == "m.room.message").collect();
    assert_eq!(notices.iter().map(|e| e["event_id"].as_str().unwrap()).collect::<Vec<_>>(), vec![first_id.as_str(), second_id.as_str()]);
    assert_eq!(notices[0]["content"]["body"], "Maintenance tonight");
    assert_eq!(notices[1]["content"]["body"], "Maintenance done");
    assert!(notices.iter().all(|e| e["sender"] == "@notices:test.local"));
    let create = s.get(&room_path(&room, "state/m.room.create/"), &bob.token).await.ok();
    assert_eq!(create["creator"], "@notices:test.local", "{create}");
    let pl = s.get(&room_path(&room, "state/m.room.power_levels/"), &bob.token).await.ok();
    assert_eq!(pl["users_default"], -10, "{pl}");
    // Joined, he still cannot leave; and at -10 he cannot talk back.
    s.post(&room_path(&room, "leave"), &bob.token, json!({})).await.err(403, "M_CANNOT_LEAVE_SERVER_NOTICE_ROOM");
    s.send_text_resp(&bob, &room, "hello?").await.err(403, "M_FORBIDDEN");
    // A third notice, to the joined room.
    s.post(NOTICE, &admin.token, json!({"user_id": bob.user_id, "content": {"msgtype": "m.text", "body": "Third"}})).await.ok();
    assert_eq!(s.joined_rooms(&bob).await, vec![room.clone()]);
    let events = messages_f(&s, &bob, &room).await;
    assert_eq!(events.iter().filter(|e| e["type"] == "m.room.message").count(), 3);
}

#[actix_rt::test]
async fn server_notice_type_and_content_are_sent_verbatim() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let bob = s.register_user("bob").await;
    let content = json!({"msgtype": "m.server_notice", "body": "Limit reached", "server_notice_type": "m.server_notice.usage_limit_reached", "admin_contact": "mailto:root@test.local"});
    s.post(NOTICE, &admin.token, json!({"user_id": bob.user_id, "type": "m.room.message", "content": content})).await.ok();
    let room = invites(&s, &bob).await.keys().next().cloned().expect("invited");
    s.join(&bob, &room).await.ok();
    let events = messages_f(&s, &bob, &room).await;
    let ev = events.iter().find(|e| e["type"] == "m.room.message").expect("notice");
    assert_eq!(ev["content"], content);
}

#[actix_rt::test]
async fn server_notice_errors() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let bob = s.register_user("bob").await;
    let content = json!({"msgtype": "m.text", "body": "hi"});
    s.post(NOTICE, &admin.token, json!({"user_id": "@x:other.server", "content": content})).await.err(400, "M_INVALID_PARAM");
    s.post(NOTICE, &admin.token, json!({"user_id": "@ghost:test.local", "content": content})).await.err(404, "M_NOT_FOUND");
    s.post(NOTICE, &admin.token, json!({"user_id": "not-a-user", "content": content})).await.err(400, "M_INVALID_PARAM");
    s.post(NOTICE, &admin.token, json!({"user_id": bob.user_id})).await.err(400, "M_MISSING_PARAM");
    s.post(NOTICE, &admin.token, json!({"content": content})).await.err(400, "M_MISSING_PARAM");
    s.post(NOTICE, &admin.token, json!({"user_id": bob.user_id, "content": "text"})).await.err(400, "M_BAD_JSON");
    s.raw("POST", NOTICE, Some(&admin.token), b"{oops".to_vec()).await.err(400, "M_NOT_JSON");
    s.post(NOTICE, &bob.token, json!({"user_id": bob.user_id, "content": content})).await.err(403, "M_FORBIDDEN");
    s.put(&format!("{NOTICE}/t1"), &bob.token, json!({"user_id": bob.user_id, "content": content})).await.err(403, "M_FORBIDDEN");
    s.get(NOTICE, &admin.token).await.err(405, "M_UNRECOGNIZED");
    // None of it created anything.
    assert!(invites(&s, &bob).await.is_empty());
}

#[actix_rt::test]
async fn server_notice_put_with_a_txn_id_is_idempotent() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let bob = s.register_user("bob").await;
    let body = json!({"user_id": bob.user_id, "content": {"msgtype": "m.text", "body": "only once"}});
    let a = s.put(&format!("{NOTICE}/txn-1"), &admin.token, body.clone()).await.ok();
    let b = s.put(&format!("{NOTICE}/txn-1"), &admin.token, body.clone()).await.ok();
    assert_eq!(a["event_id"], b["event_id"]);
    assert!(a["event_id"].is_string());
    // Another txn ID is another event.
    let c = s.put(&format!("{NOTICE}/txn-2"), &admin.token, body.clone()).await.ok();
    assert_ne!(a["event_id"], c["event_id"]);

    let room = invites(&s, &bob).await.keys().next().cloned().expect("invited");
    s.join(&bob, &room).await.ok();
    let events = messages_f(&s, &bob, &room).await;
    let ids: Vec<&str> = events.iter().filter(|e| e["type"] == "m.room.message").map(|e| e["event_id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![a["event_id"].as_str().unwrap(), c["event_id"].as_str().unwrap()]);
    // Still the same answer later.
    let again = s.put(&format!("{NOTICE}/txn-1"), &admin.token, body).await.ok();
    assert_eq!(again["event_id"], a["event_id"]);
}

#[actix_rt::test]
async fn evacuate_user_rejects_a_server_notice_invite() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let bob = s.register_user("bob").await;
    let alice = s.register_user("alice").await;
    let other = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    s.join(&bob, &other).await.ok();
    s.post(NOTICE, &admin.token, json!({"user_id": bob.user_id, "content": {"msgtype": "m.text", "body": "first"}})).await.ok();
    let notice_room = invites(&s, &bob).await.keys().next().cloned().expect("invited");

    let body = s.post(&format!("/_dendrite/admin/evacuateUser/{}", enc(&bob.user_id)), &admin.token, json!({})).await.ok();
    let mut got: Vec<String> = body["affected"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect();
    got.sort();
    let mut want = vec![other.clone(), notice_room.clone()];
    want.sort();
    assert_eq!(got, want, "{body}");
    assert!(invites(&s, &bob).await.is_empty());
    assert!(s.joined_rooms(&bob).await.is_empty());

    // Having left, a new notice brings a new room.
    s.post(NOTICE, &admin.token, json!({"user_id": bob.user_id, "content": {"msgtype": "m.text", "body": "second"}})).await.ok();
    let inv = invites(&s, &bob).await;
    assert_eq!(inv.len(), 1);
    assert_ne!(inv.keys().next().unwrap(), &notice_room);
}

// ---------------------------------------------------------------------------------------------
// whois
// ---------------------------------------------------------------------------------------------

async fn request_with_agent(s: &TestServer, token: &str, agent: &str) {
    let r =
        s.http.get(s.url("/_matrix/client/v3/account/whoami")).bearer_auth(token).header("User-Agent", agent).send().await.expect("sent");
    assert_eq!(r.status().as_u16(), 200);
}

fn connections(whois: &Value, device: &str) -> Vec<Value> {
    let sessions = whois["devices"][device]["sessions"].as_array().unwrap_or_else(|| panic!("no sessions for {device}: {whois}"));
    assert_eq!(sessions.len(), 1, "{whois}");
    sessions[0]["connections"].as_array().expect("connections").clone()
}

#[actix_rt::test]
async fn whois_reports_connections_per_device() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let bob = s.register_user("bob").await;
    let started = ensemble::ids::now_ms();
    request_with_agent(&s, &bob.token, "EnsembleTest/1.0").await;
    request_with_agent(&s, &bob.token, "EnsembleTest/1.0").await;
    request_with_agent(&s, &bob.token, "OtherClient/2.0").await;
    let phone = s.login("bob", &bob.password).await.ok();
    let phone_device = phone["device_id"].as_str().unwrap().to_owned();
    request_with_agent(&s, phone["access_token"].as_str().unwrap(), "Phone/3.0").await;

    for path in [
        format!("/_synapse/admin/v1/whois/{}", enc(&bob.user_id)),
        format!("/_matrix/client/v3/admin/whois/{}", enc(&bob.user_id)),
        format!("/_matrix/client/r0/admin/whois/{}", enc(&bob.user_id)),
    ] {
        let w = s.get(&path, &admin.token).await.ok();
        assert_eq!(w["user_id"], bob.user_id);
        let conns = connections(&w, &bob.device_id);
        let test: Vec<&Value> = conns.iter().filter(|c| c["user_agent"] == "EnsembleTest/1.0").collect();
        assert_eq!(test.len(), 1, "one entry per distinct (ip, user agent): {w}");
        assert_eq!(test[0]["ip"], "127.0.0.1");
        let last_seen = test[0]["last_seen"].as_i64().expect("last_seen in ms");
        let now = ensemble::ids::now_ms();
        assert!(last_seen >= started - 1000 && last_seen <= now + 1000, "{last_seen} not in [{started}, {now}]");
        assert_eq!(conns.iter().filter(|c| c["user_agent"] == "OtherClient/2.0").count(), 1, "{w}");
        assert!(conns.iter().all(|c| c["user_agent"] != "Phone/3.0"), "the phone is another device: {w}");
        let phone_conns = connections(&w, &phone_device);
        assert!(phone_conns.iter().any(|c| c["user_agent"] == "Phone/3.0" && c["ip"] == "127.0.0.1"), "{w}");
    }

    // last_seen moves forward.
    let w1 = s.get(&format!("/_synapse/admin/v1/whois/{}", enc(&bob.user_id)), &admin.token).await.ok();
    let seen = |w: &Value| {
        connections(w, &bob.device_id).iter().find(|c| c["user_agent"] == "EnsembleTest/1.0").unwrap()["last_seen"].as_i64().unwrap()
    };
    let before = seen(&w1);
    eventually(10, || async { (ensemble::ids::now_ms() > before).then_some(()) }).await;
    request_with_agent(&s, &bob.token, "EnsembleTest/1.0").await;
    let w2 = s.get(&format!("/_synapse/admin/v1/whois/{}", enc(&bob.user_id)), &admin.token).await.ok();
    assert!(seen(&w2) > before, "{w1} then {w2}");
    assert_eq!(connections(&w2, &bob.device_id).iter().filter(|c| c["user_agent"] == "EnsembleTest/1.0").count(), 1);
}

#[actix_rt::test]
async fn whois_permissions_and_errors() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let bob = s.register_user("bob").await;
    let alice = s.register_user("alice").await;
    for prefix in ["/_synapse/admin/v1/whois", "/_matrix/client/v3/admin/whois", "/_matrix/client/r0/admin/whois"] {
        // Themselves: yes.
        let w = s.get(&format!("{prefix}/{}", enc(&bob.user_id)), &bob.token).await.ok();
        assert_eq!(w["user_id"], bob.user_id);
        assert!(w["devices"][&bob.device_id].is_object(), "{w}");
        // Others: no.
        s.get(&format!("{prefix}/{}", enc(&alice.user_id)), &bob.token).await.err(403, "M_FORBIDDEN");
        s.get(&format!("{prefix}/{}", enc(&admin.user_id)), &bob.token).await.err(403, "M_FORBIDDEN");
        // The admin: anyone.
        let w = s.get(&format!("{prefix}/{}", enc(&alice.user_id)), &admin.token).await.ok();
        assert_eq!(w["user_id"], alice.user_id);
        s.get(&format!("{prefix}/{}", enc("@ghost:test.local")), &admin.token).await.err(404, "M_NOT_FOUND");
        s.get(&format!("{prefix}/{}", enc("@x:other.server")), &admin.token).await.err(400, "M_INVALID_PARAM");
        s.get(&format!("{prefix}/{}", enc("not-a-user-id")), &admin.token).await.err(400, "M_INVALID_PARAM");
        s.req("GET", &format!("{prefix}/{}", enc(&bob.user_id)), None, None).await.err(401, "M_MISSING_TOKEN");
        s.req("GET", &format!("{prefix}/{}", enc(&bob.user_id)), Some("bogus"), None).await.err(401, "M_UNKNOWN_TOKEN");
    }
}

// ---------------------------------------------------------------------------------------------
// users/<id>/admin
// ---------------------------------------------------------------------------------------------

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
