//! The Synapse user admin API over HTTP (`/_synapse/admin/...`): query, create/modify and list
//! accounts, deactivate, reset password, the admin flag, joined rooms, login as a user, devices,
//! pushers, shadow-banning, account data, username availability and the server version
//! (contract: shared/seeds/004_synapse_user_admin_api.rst and shared/spec/admin-api.md).

use crate::common::*;
use serde_json::{Value, json};
use std::collections::BTreeSet;

const SERVER: &str = "test.local";

fn sa(rest: &str) -> String {
    format!("/_synapse/admin/{rest}")
}

fn v2_user(id: &str) -> String {
    sa(&format!("v2/users/{}", enc(id)))
}

fn v1_user(id: &str, rest: &str) -> String {
    sa(&format!("v1/users/{}/{rest}", enc(id)))
}

fn devices_path(id: &str) -> String {
    sa(&format!("v2/users/{}/devices", enc(id)))
}

fn device_path(id: &str, device: &str) -> String {
    sa(&format!("v2/users/{}/devices/{}", enc(id), enc(device)))
}

fn client(rest: &str) -> String {
    format!("/_matrix/client/v3/{rest}")
}

fn local(localpart: &str) -> String {
    format!("@{localpart}:{SERVER}")
}

/// No response of any endpoint may carry a password hash, however deep.
fn assert_no_password_hash(v: &Value, ctx: &str) {
    match v {
        Value::Object(m) => {
            assert!(!m.contains_key("password_hash"), "password_hash in the response of {ctx}: {v}");
            m.values().for_each(|x| assert_no_password_hash(x, ctx));
        }
        Value::Array(a) => a.iter().for_each(|x| assert_no_password_hash(x, ctx)),
        _ => {}
    }
}

/// Every request of this file goes through here, so every response is checked for hashes.
async fn call(s: &TestServer, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> Resp {
    let r = s.req(method, path, token, body).await;
    assert_no_password_hash(&r.body, &format!("{method} {path}"));
    r
}

async fn call_raw(s: &TestServer, method: &str, path: &str, token: &str, body: &[u8]) -> Resp {
    let r = s.raw(method, path, Some(token), body.to_vec()).await;
    assert_no_password_hash(&r.body, &format!("{method} {path}"));
    r
}

async fn aget(s: &TestServer, token: &str, path: &str) -> Resp {
    call(s, "GET", path, Some(token), None).await
}

async fn aput(s: &TestServer, token: &str, path: &str, body: Value) -> Resp {
    call(s, "PUT", path, Some(token), Some(body)).await
}

async fn apost(s: &TestServer, token: &str, path: &str, body: Value) -> Resp {
    call(s, "POST", path, Some(token), Some(body)).await
}

async fn adelete(s: &TestServer, token: &str, path: &str) -> Resp {
    call(s, "DELETE", path, Some(token), None).await
}

async fn login(s: &TestServer, user: &str, password: &str) -> Resp {
    let r = s.login(user, password).await;
    assert_no_password_hash(&r.body, "login");
    r
}

async fn login_on(s: &TestServer, user: &str, password: &str, device: &str) -> String {
    let body =
        json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user}, "password": password, "device_id": device});
    let b = call(s, "POST", &client("login"), None, Some(body)).await.ok();
    b["access_token"].as_str().expect("access_token").to_owned()
}

async fn whoami(s: &TestServer, token: &str) -> Resp {
    aget(s, token, &client("account/whoami")).await
}

#[track_caller]
fn assert_token_dead(r: &Resp) {
    r.err(401, "M_UNKNOWN_TOKEN");
}

async fn user_json(s: &TestServer, admin: &User, id: &str) -> Value {
    aget(s, &admin.token, &v2_user(id)).await.ok()
}

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

fn now_ms() -> i64 {
    ensemble::ids::now_ms()
}

// ---------------------------------------------------------------------------------------------
// Rules for every route
// ---------------------------------------------------------------------------------------------

/// Every user-scoped route of the Synapse user admin API for `user`, with a plausible body.
fn user_routes(user: &str, device: &str) -> Vec<(&'static str, String, Option<Value>)> {
    vec![
        ("GET", v2_user(user), None),
        ("PUT", v2_user(user), Some(json!({"displayname": "Changed by someone"}))),
        ("POST", sa(&format!("v1/deactivate/{}", enc(user))), Some(json!({"erase": true}))),
        ("POST", sa(&format!("v1/reset_password/{}", enc(user))), Some(json!({"new_password": "a-brand-new-password"}))),
        ("GET", v1_user(user, "admin"), None),
        ("PUT", v1_user(user, "admin"), Some(json!({"admin": true}))),
        ("GET", v1_user(user, "joined_rooms"), None),
        ("POST", v1_user(user, "login"), Some(json!({}))),
        ("GET", devices_path(user), None),
        ("POST", devices_path(user), Some(json!({"device_id": "NEWDEV"}))),
        ("POST", sa(&format!("v2/users/{}/delete_devices", enc(user))), Some(json!({"devices": [device]}))),
        ("GET", device_path(user, device), None),
        ("PUT", device_path(user, device), Some(json!({"display_name": "renamed"}))),
        ("DELETE", device_path(user, device), None),
        ("GET", v1_user(user, "pushers"), None),
        ("POST", v1_user(user, "shadow_ban"), None),
        ("DELETE", v1_user(user, "shadow_ban"), None),
        ("GET", v1_user(user, "accountdata"), None),
    ]
}

fn unscoped_routes() -> Vec<(&'static str, String, Option<Value>)> {
    vec![
        ("GET", sa("v2/users"), None),
        ("GET", sa("v2/users?limit=5&deactivated=true"), None),
        ("GET", sa("v3/users"), None),
        ("GET", sa("v1/username_available?username=somefreename"), None),
    ]
}

#[actix_rt::test]
async fn every_route_enforces_auth_user_and_body_rules() {
    let s = TestServer::start().await;
    let admin = s.register_admin("boss").await;
    let bob = s.register_user("bob").await;
    let carol = s.register_user("carol").await;
    let room = s.create_room(&carol, json!({})).await;
    let nobody = local("nobody");

    let mut all = user_routes(&carol.user_id, &carol.device_id);
    all.extend(user_routes(&nobody, "DEV"));
    all.extend(unscoped_routes());
    for (method, path, body) in &all {
        let r = call(&s, method, path, None, body.clone()).await;
        assert_eq!(r.status, 401, "{method} {path} without a token: {}", r.body);
        r.err(401, "M_MISSING_TOKEN");
        let r = call(&s, method, path, Some("not-a-real-token"), body.clone()).await;
        assert_eq!(r.status, 401, "{method} {path} with a bad token: {}", r.body);
        r.err(401, "M_UNKNOWN_TOKEN");
        let r = call(&s, method, path, Some(&bob.token), body.clone()).await;
        assert_eq!(r.status, 403, "{method} {path} as a non-admin: {}", r.body);
        r.err(403, "M_FORBIDDEN");
        // The target of a user route is no exception: carol may not manage herself either.
        let r = call(&s, method, path, Some(&carol.token), body.clone()).await;
        assert_eq!(r.status, 403, "{method} {path} as the (non-admin) target: {}", r.body);
        r.err(403, "M_FORBIDDEN");
    }

    // An unknown local user: 404 everywhere, except PUT v2/users which creates.
    for (method, path, body) in user_routes(&nobody, "DEV") {
        if method == "PUT" && path == v2_user(&nobody) {
            continue;
        }
        let r = call(&s, method, &path, Some(&admin.token), body).await;
        assert_eq!(r.status, 404, "{method} {path} for an unknown user: {}", r.body);
        r.err(404, "M_NOT_FOUND");
    }
    // A remote user, or something that is not a user ID at all: 400 M_INVALID_PARAM everywhere.
    for target in ["@x:other.org", "not-a-user-id", "@:test.local"] {
        for (method, path, body) in user_routes(target, "DEV") {
            let r = call(&s, method, &path, Some(&admin.token), body).await;
            assert_eq!(r.status, 400, "{method} {path} for {target}: {}", r.body);
            r.err(400, "M_INVALID_PARAM");
        }
    }
    // Malformed JSON: M_NOT_JSON; JSON that is not an object: M_BAD_JSON.
    for (method, path, body) in user_routes(&carol.user_id, &carol.device_id) {
        if body.is_none() {
            continue;
        }
        let r = call_raw(&s, method, &path, &admin.token, b"{\"erase\": tru").await;
        assert_eq!(r.status, 400, "{method} {path} with malformed JSON: {}", r.body);
        r.err(400, "M_NOT_JSON");
        let r = call_raw(&s, method, &path, &admin.token, b"[1, 2, 3]").await;
        assert_eq!(r.status, 400, "{method} {path} with a JSON array: {}", r.body);
        r.err(400, "M_BAD_JSON");
    }
    // The unknown user was not created by anything above.
    aget(&s, &admin.token, &v2_user(&nobody)).await.err(404, "M_NOT_FOUND");

    // None of the refused requests had an effect on carol.
    assert_eq!(whoami(&s, &carol.token).await.ok()["user_id"], carol.user_id);
    let c = user_json(&s, &admin, &carol.user_id).await;
    assert_eq!(c["displayname"], "carol");
    assert_eq!(c["admin"], false);
    assert_eq!(c["deactivated"], false);
    assert_eq!(c["shadow_banned"], false);
    assert_eq!(s.joined_rooms(&carol).await, vec![room]);
    let devs = aget(&s, &admin.token, &devices_path(&carol.user_id)).await.ok();
    assert_eq!(devs["total"], 1, "{devs}");
    assert_eq!(devs["devices"][0]["device_id"], carol.device_id);
    assert!(devs["devices"][0]["display_name"].is_null(), "{devs}");
    login(&s, "carol", &carol.password).await.ok();

    // A locked admin is refused like any locked user, a deactivated admin like a dead token.
    let locked_admin = s.register_admin("lockedboss").await;
    let gone_admin = s.register_admin("goneboss").await;
    aget(&s, &locked_admin.token, &sa("v2/users")).await.ok();
    aput(&s, &admin.token, &v2_user(&locked_admin.user_id), json!({"locked": true})).await.ok();
    aget(&s, &locked_admin.token, &sa("v2/users")).await.err(401, "M_USER_LOCKED");
    apost(&s, &admin.token, &sa(&format!("v1/deactivate/{}", enc(&gone_admin.user_id))), json!({})).await.ok();
    assert_token_dead(&aget(&s, &gone_admin.token, &sa("v2/users")).await);
}

// ---------------------------------------------------------------------------------------------
// GET/PUT /v2/users/<user_id>
// ---------------------------------------------------------------------------------------------

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
    let l = login(&s, "newbie", "newbie-password").await.ok();
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
    r.err(400, "M_INVALID_PARAM");
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
    let second = login(&s, "alice", &alice.password).await.ok()["access_token"].as_str().unwrap().to_owned();
    let path = v2_user(&alice.user_id);

    // Too long: 513 bytes is refused and nothing changes.
    let r = aput(&s, &admin.token, &path, json!({"password": "x".repeat(513)})).await;
    r.err(400, "M_INVALID_PARAM");
    whoami(&s, &alice.token).await.ok();
    login(&s, "alice", &alice.password).await.ok();

    let r = aput(&s, &admin.token, &path, json!({"password": "the-second-password"})).await.ok();
    assert_eq!(r["name"], alice.user_id);
    assert_token_dead(&whoami(&s, &alice.token).await);
    assert_token_dead(&whoami(&s, &second).await);
    login(&s, "alice", &alice.password).await.err(403, "M_FORBIDDEN");
    let fresh = login(&s, "alice", "the-second-password").await.ok()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(aget(&s, &admin.token, &devices_path(&alice.user_id)).await.ok()["total"], 1);

    // logout_devices: false keeps the sessions.
    aput(&s, &admin.token, &path, json!({"password": "the-third-password", "logout_devices": false})).await.ok();
    whoami(&s, &fresh).await.ok();
    login(&s, "alice", "the-second-password").await.err(403, "M_FORBIDDEN");
    login(&s, "alice", "the-third-password").await.ok();

    // 512 bytes is still fine.
    let long = "y".repeat(512);
    aput(&s, &admin.token, &path, json!({"password": long})).await.ok();
    login(&s, "alice", &long).await.ok();
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
    login(&s, "bob", &bob.password).await.err(403, "M_USER_DEACTIVATED");
    // deactivated and locked at once is refused.
    aput(&s, &admin.token, &v2_user(&alice.user_id), json!({"deactivated": true, "locked": true})).await.err(400, "M_INVALID_PARAM");
    whoami(&s, &alice.token).await.ok();

    // Reactivation needs a password.
    aput(&s, &admin.token, &path, json!({"deactivated": false})).await.err(400, "M_BAD_JSON");
    assert_eq!(user_json(&s, &admin, &bob.user_id).await["deactivated"], true);
    let r = aput(&s, &admin.token, &path, json!({"deactivated": false, "password": "bob-is-back"})).await.ok();
    assert_eq!(r["deactivated"], false);
    let l = login(&s, "bob", "bob-is-back").await.ok();
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

// ---------------------------------------------------------------------------------------------
// GET /v2/users and /v3/users
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Default)]
struct Model {
    id: String,
    displayname: Option<String>,
    avatar_url: Option<String>,
    admin: bool,
    deactivated: bool,
    locked: bool,
    shadow_banned: bool,
    user_type: Option<String>,
}

impl Model {
    fn localpart(&self) -> &str {
        &self.id[1..self.id.find(':').expect("colon")]
    }
    fn name_matches(&self, needle: &str) -> bool {
        self.localpart().contains(needle) || self.displayname.as_deref().is_some_and(|d| d.to_lowercase().contains(needle))
    }
}

/// (API version, extra query, which users of the model it must return).
type ListCase = (&'static str, &'static str, fn(&Model) -> bool);

fn active(m: &Model) -> bool {
    !m.deactivated && !m.locked
}

/// 25 users with varied flags, plus the admin, as the server should list them.
async fn populate(s: &TestServer, admin: &User) -> Vec<Model> {
    let mut out = vec![Model { id: admin.user_id.clone(), displayname: Some("boss".into()), admin: true, ..Model::default() }];
    for i in 1..=25u8 {
        let lp = format!("pg{i:02}");
        let id = local(&lp);
        let displayname = match i % 3 {
            0 => Some(format!("Alpha {}", (b'z' - i) as char)),
            1 if i > 12 => Some(format!("beta {}", 40 - i)),
            _ => None,
        };
        let avatar_url = (i % 4 == 2).then(|| format!("mxc://test.local/avatar{}", 9 - i % 9));
        let user_type = match i {
            11 => Some("support"),
            _ if i % 4 == 1 => Some("bot"),
            _ => None,
        };
        let admin_flag = i % 5 == 0;
        let mut body = json!({});
        if let Some(d) = &displayname {
            body["displayname"] = json!(d);
        }
        if let Some(a) = &avatar_url {
            body["avatar_url"] = json!(a);
        }
        if let Some(t) = user_type {
            body["user_type"] = json!(t);
        }
        if i % 2 == 0 {
            // Registered through the client API, then seen making a request, then edited.
            let u = s.register_user(&lp).await;
            whoami(s, &u.token).await.ok();
            if body != json!({}) {
                aput(s, &admin.token, &v2_user(&id), body).await.ok();
            }
            if admin_flag {
                aput(s, &admin.token, &v1_user(&id, "admin"), json!({"admin": true})).await.ok();
            }
        } else {
            body["password"] = json!(format!("pw-{lp}-secret"));
            body["admin"] = json!(admin_flag);
            let r = aput(s, &admin.token, &v2_user(&id), body).await;
            assert_eq!(r.status, 201, "{}", r.body);
        }
        let mut m = Model {
            id: id.clone(),
            displayname: Some(displayname.unwrap_or(lp)),
            avatar_url,
            admin: admin_flag,
            user_type: user_type.map(str::to_owned),
            ..Model::default()
        };
        if [6, 13, 20].contains(&i) {
            aput(s, &admin.token, &v2_user(&id), json!({"locked": true})).await.ok();
            m.locked = true;
        }
        if [2, 9, 16].contains(&i) {
            apost(s, &admin.token, &v1_user(&id, "shadow_ban"), json!({})).await.ok();
            m.shadow_banned = true;
        }
        match i {
            3 => {
                apost(s, &admin.token, &sa(&format!("v1/deactivate/{}", enc(&id))), json!({"erase": true})).await.ok();
                m.deactivated = true;
                m.displayname = None;
                m.avatar_url = None;
            }
            10 | 17 => {
                apost(s, &admin.token, &sa(&format!("v1/deactivate/{}", enc(&id))), json!({})).await.ok();
                m.deactivated = true;
            }
            24 => {
                aput(s, &admin.token, &v2_user(&id), json!({"deactivated": true})).await.ok();
                m.deactivated = true;
            }
            _ => {}
        }
        out.push(m);
    }
    // Every sighting so far is in the store; from here on only the admin makes requests. A
    // background flush may still be writing the batch it took, so wait until every registered
    // user (even numbers: they made a request) shows a last_seen_ts.
    s.server.services.client_ips.flush(&s.server.services.db).await.expect("flush");
    eventually(10, || async {
        let b = aget(s, &admin.token, &sa("v3/users?locked=true&user_id=pg&limit=1000")).await.ok();
        let users = b["users"].as_array().expect("users").clone();
        let seen = |e: &Value| e["last_seen_ts"].is_i64();
        let ok = users.len() == 25
            && users.iter().all(|e| {
                let n: u8 = e["name"].as_str().unwrap()[3..5].parse().unwrap();
                seen(e) == n.is_multiple_of(2)
            });
        ok.then_some(())
    })
    .await;
    out
}

#[track_caller]
fn check_entry(e: &Value, m: &Model) {
    assert_eq!(e["name"], m.id);
    assert_eq!(e["displayname"], json!(m.displayname), "{e}");
    assert_eq!(e["avatar_url"], json!(m.avatar_url), "{e}");
    assert_eq!(e["admin"], m.admin, "{e}");
    assert_eq!(e["deactivated"], m.deactivated, "{e}");
    assert_eq!(e["locked"], m.locked, "{e}");
    assert_eq!(e["shadow_banned"], m.shadow_banned, "{e}");
    assert_eq!(e["user_type"], json!(m.user_type), "{e}");
    assert_eq!(e["is_guest"], false, "{e}");
    assert_eq!(e["erased"], m.deactivated && m.displayname.is_none(), "{e}");
    assert!(e["creation_ts"].as_i64().is_some_and(|t| t > 1_000_000_000_000), "creation_ts must be in ms: {e}");
    assert!(e["last_seen_ts"].is_null() || e["last_seen_ts"].is_i64(), "{e}");
}

/// A sort key: null sorts first, then the value (booleans false < true).
fn sort_key(v: &Value) -> (u8, bool, i64, String) {
    match v {
        Value::Null => (0, false, 0, String::new()),
        Value::Bool(b) => (1, *b, 0, String::new()),
        Value::Number(n) => (1, false, n.as_i64().expect("integer"), String::new()),
        Value::String(s) => (1, false, 0, s.clone()),
        other => panic!("unexpected sort value {other}"),
    }
}

#[track_caller]
fn check_order(list: &[Value], key: &str, desc: bool, ctx: &str) {
    for w in list.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        let (na, nb) = (a["name"].as_str().unwrap(), b["name"].as_str().unwrap());
        let ok = if key == "name" {
            if desc { na > nb } else { na < nb }
        } else {
            match sort_key(&a[key]).cmp(&sort_key(&b[key])) {
                std::cmp::Ordering::Equal => na < nb,
                std::cmp::Ordering::Less => !desc,
                std::cmp::Ordering::Greater => desc,
            }
        };
        assert!(ok, "{ctx}: wrong order by {key} (desc: {desc}) between {a} and {b}");
    }
}

/// Follows next_token with pages of 7 to the end; returns every user seen and the total.
async fn walk(s: &TestServer, admin: &User, version: &str, query: &str) -> (Vec<Value>, i64) {
    let mut from: Option<String> = None;
    let mut all: Vec<Value> = Vec::new();
    let mut total: Option<i64> = None;
    for _ in 0..100 {
        let mut p = sa(&format!("{version}/users?limit=7{query}"));
        if let Some(f) = &from {
            p.push_str(&format!("&from={}", enc(f)));
        }
        let b = aget(s, &admin.token, &p).await.ok();
        let users = b["users"].as_array().unwrap_or_else(|| panic!("users: {b}"));
        assert!(users.len() <= 7, "{p}: page of {}", users.len());
        let t = b["total"].as_i64().unwrap_or_else(|| panic!("total: {b}"));
        if let Some(prev) = total {
            assert_eq!(prev, t, "{p}: total changed between pages");
        }
        total = Some(t);
        all.extend(users.iter().cloned());
        match b.get("next_token") {
            None => {
                assert_eq!(all.len() as i64, t, "{p}: the last page came before the total was reached");
                return (all, t);
            }
            Some(Value::String(n)) => {
                assert!(!users.is_empty(), "{p}: empty page with a next_token");
                from = Some(n.clone());
            }
            Some(other) => panic!("{p}: next_token must be a string when present, got {other}"),
        }
    }
    panic!("pagination of {version}/users{query} does not terminate");
}

const ORDER_KEYS: &[&str] = &[
    "name",
    "displayname",
    "is_guest",
    "admin",
    "deactivated",
    "user_type",
    "avatar_url",
    "shadow_banned",
    "creation_ts",
    "last_seen_ts",
    "locked",
];

#[actix_rt::test]
async fn list_users_paginates_in_order_for_every_key() {
    let s = TestServer::start().await;
    let admin = s.register_admin("boss").await;
    let model = populate(&s, &admin).await;
    assert!(model.iter().filter(|m| m.id.contains("pg") && m.user_type.is_none()).count() > 0);

    // Everyone, with their fields as set.
    let b = aget(&s, &admin.token, &sa("v3/users?locked=true&limit=1000")).await.ok();
    assert_eq!(b["total"], model.len());
    assert!(b.get("next_token").is_none(), "{b}");
    let users = b["users"].as_array().unwrap();
    assert_eq!(users.len(), model.len());
    for m in &model {
        let e = users.iter().find(|e| e["name"] == m.id).unwrap_or_else(|| panic!("{} missing from {b}", m.id));
        check_entry(e, m);
    }
    // Seen users have a last_seen_ts, the others none.
    let seen = users.iter().find(|e| e["name"] == local("pg04")).unwrap();
    assert!(seen["last_seen_ts"].as_i64().is_some_and(|t| t > 1_000_000_000_000), "{seen}");
    let unseen = users.iter().find(|e| e["name"] == local("pg05")).unwrap();
    assert!(unseen["last_seen_ts"].is_null(), "{unseen}");
    // The list's creation_ts is the single user's, in ms instead of seconds.
    let single = user_json(&s, &admin, &local("pg05")).await;
    assert_eq!(unseen["creation_ts"].as_i64().unwrap() / 1000, single["creation_ts"].as_i64().unwrap());

    let filters: [ListCase; 2] = [("v2", "", active), ("v3", "&locked=true", |_| true)];
    for key in ORDER_KEYS {
        for dir in ["f", "b"] {
            for (version, filter, pred) in &filters {
                // The admin's own last_seen_ts moves while the walk runs: leave them out of that one.
                let extra = if *key == "last_seen_ts" { "&user_id=pg" } else { "" };
                let query = format!("&order_by={key}&dir={dir}{filter}{extra}");
                let ctx = format!("{version}/users?{query}");
                let (list, total) = walk(&s, &admin, version, &query).await;
                let names: Vec<String> = list.iter().map(|e| e["name"].as_str().unwrap().to_owned()).collect();
                let unique: BTreeSet<String> = names.iter().cloned().collect();
                assert_eq!(unique.len(), names.len(), "{ctx}: duplicates in {names:?}");
                let expected: BTreeSet<String> =
                    model.iter().filter(|m| pred(m) && (extra.is_empty() || m.id.contains("pg"))).map(|m| m.id.clone()).collect();
                assert_eq!(unique, expected, "{ctx}");
                assert_eq!(total, expected.len() as i64, "{ctx}");
                check_order(&list, key, dir == "b", &ctx);
            }
        }
    }
}

#[actix_rt::test]
async fn list_users_filters() {
    let s = TestServer::start().await;
    let admin = s.register_admin("boss").await;
    let model = populate(&s, &admin).await;

    let cases: Vec<ListCase> = vec![
        ("v2", "", active),
        ("v2", "&guests=false", active),
        ("v2", "&guests=true", active),
        ("v2", "&deactivated=false", active),
        ("v2", "&deactivated=true", |m| !m.locked),
        ("v3", "", |m| !m.locked),
        ("v3", "&deactivated=true", |m| m.deactivated && !m.locked),
        ("v3", "&deactivated=false", |m| !m.deactivated && !m.locked),
        ("v2", "&locked=false", active),
        ("v2", "&locked=true", |m| !m.deactivated),
        ("v3", "&locked=true", |_| true),
        ("v3", "&locked=true&deactivated=true", |m| m.deactivated),
        ("v2", "&admins=true", |m| active(m) && m.admin),
        ("v2", "&admins=false", |m| active(m) && !m.admin),
        ("v3", "&locked=true&admins=true", |m| m.admin),
        ("v2", "&user_id=pg1", |m| active(m) && m.id.contains("pg1")),
        ("v2", "&user_id=PG1", |m| active(m) && m.id.contains("pg1")),
        ("v2", "&user_id=%40pg0", |m| active(m) && m.id.contains("@pg0")),
        ("v2", "&user_id=boss", |m| active(m) && m.id.contains("boss")),
        ("v2", "&name=alpha", |m| active(m) && m.name_matches("alpha")),
        ("v2", "&name=ALPHA", |m| active(m) && m.name_matches("alpha")),
        ("v2", "&name=beta", |m| active(m) && m.name_matches("beta")),
        ("v2", "&name=pg2", |m| active(m) && m.name_matches("pg2")),
        ("v3", "&locked=true&name=alpha", |m| m.name_matches("alpha")),
        // name wins over user_id.
        ("v2", "&name=alpha&user_id=pg2", |m| active(m) && m.name_matches("alpha")),
        ("v2", "&name=nothing-like-this", |_| false),
        ("v3", "&locked=true&not_user_type=bot", |m| m.user_type.as_deref() != Some("bot")),
        ("v3", "&locked=true&not_user_type=", |m| m.user_type.is_some()),
        ("v3", "&locked=true&not_user_type=bot&not_user_type=", |m| m.user_type.is_some() && m.user_type.as_deref() != Some("bot")),
        ("v2", "&not_user_type=support", |m| active(m) && m.user_type.as_deref() != Some("support")),
        ("v2", "&not_user_type=bot&not_user_type=support", |m| active(m) && m.user_type.is_none()),
        ("v3", "&deactivated=false&admins=false&not_user_type=bot", |m| active(m) && !m.admin && m.user_type.as_deref() != Some("bot")),
    ];
    for (version, query, pred) in &cases {
        let path = sa(&format!("{version}/users?limit=1000{query}"));
        let b = aget(&s, &admin.token, &path).await.ok();
        let users = b["users"].as_array().unwrap_or_else(|| panic!("{path}: {b}"));
        let got: Vec<String> = users.iter().map(|e| e["name"].as_str().unwrap().to_owned()).collect();
        let got_set: BTreeSet<String> = got.iter().cloned().collect();
        assert_eq!(got.len(), got_set.len(), "{path}: duplicates");
        let expected: BTreeSet<String> = model.iter().filter(|m| pred(m)).map(|m| m.id.clone()).collect();
        assert_eq!(got_set, expected, "{path}");
        assert_eq!(b["total"], expected.len(), "{path}: {b}");
        assert!(b.get("next_token").is_none(), "{path}: {b}");
        // Default order is by name ascending.
        check_order(users, "name", false, &path);
        for e in users {
            check_entry(e, model.iter().find(|m| m.id == e["name"].as_str().unwrap()).unwrap());
        }
    }

    // Defaults: limit 100, from 0; a limit smaller than the total yields a string next_token.
    let b = aget(&s, &admin.token, &sa("v3/users?locked=true&limit=10&from=20")).await.ok();
    assert_eq!(b["users"].as_array().unwrap().len(), 6);
    assert!(b.get("next_token").is_none(), "{b}");
    let b = aget(&s, &admin.token, &sa("v3/users?locked=true&limit=10")).await.ok();
    assert_eq!(b["next_token"], "10");
    assert_eq!(b["total"], 26);
    let b = aget(&s, &admin.token, &sa("v3/users?locked=true&limit=0")).await.ok();
    assert_eq!(b["users"], json!([]));
    assert_eq!(b["total"], 26);

    // Bad parameters.
    for version in ["v2", "v3"] {
        for q in [
            "limit=-1",
            "limit=abc",
            "from=abc",
            "from=-1",
            "dir=x",
            "order_by=nope",
            "order_by=password_hash",
            "deactivated=maybe",
            "guests=1",
            "admins=yes",
            "locked=sure",
        ] {
            let path = sa(&format!("{version}/users?{q}"));
            let r = aget(&s, &admin.token, &path).await;
            assert_eq!(r.status, 400, "{path}: {}", r.body);
            r.err(400, "M_INVALID_PARAM");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Deactivate, reset password, admin flag, joined rooms
// ---------------------------------------------------------------------------------------------

async fn set_http_pusher(s: &TestServer, token: &str, app_id: &str, pushkey: &str, extra: Value) -> Resp {
    let mut body = json!({
        "kind": "http",
        "app_id": app_id,
        "pushkey": pushkey,
        "app_display_name": "Example App",
        "device_display_name": "Some phone",
        "lang": "en",
        "data": {"url": "https://push.example.org/_matrix/push/v1/notify", "format": "event_id_only"},
    });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    apost(s, token, &client("pushers/set"), body).await
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
    login(&s, "carol", &carol.password).await.err(403, "M_USER_DEACTIVATED");
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
    let second = login(&s, "bob", &bob.password).await.ok()["access_token"].as_str().unwrap().to_owned();
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
    login(&s, "bob", &bob.password).await.err(403, "M_FORBIDDEN");
    let kept = login(&s, "bob", "bobs-new-password").await.ok()["access_token"].as_str().unwrap().to_owned();

    // logout_devices: false keeps the sessions.
    let r = apost(&s, &admin.token, &path, json!({"new_password": "bobs-third-password", "logout_devices": false})).await.ok();
    assert_eq!(r, json!({}));
    whoami(&s, &kept).await.ok();
    login(&s, "bob", "bobs-new-password").await.err(403, "M_FORBIDDEN");
    login(&s, "bob", "bobs-third-password").await.ok();

    // An admin resetting their own password keeps their own session, and only that one.
    let other_admin_session = login(&s, "boss", &admin.password).await.ok()["access_token"].as_str().unwrap().to_owned();
    let own = sa(&format!("v1/reset_password/{}", enc(&admin.user_id)));
    assert_eq!(apost(&s, &admin.token, &own, json!({"new_password": "boss-new-password"})).await.ok(), json!({}));
    assert_eq!(whoami(&s, &admin.token).await.ok()["user_id"], admin.user_id);
    aget(&s, &admin.token, &sa("v2/users")).await.ok();
    assert_token_dead(&whoami(&s, &other_admin_session).await);
    login(&s, "boss", "boss-new-password").await.ok();
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

// ---------------------------------------------------------------------------------------------
// Login as a user
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Devices
// ---------------------------------------------------------------------------------------------

#[actix_rt::test]
async fn user_devices() {
    let s = TestServer::start().await;
    let admin = s.register_admin("boss").await;
    let bob = s.register_user("bob").await;

    let before = now_ms();
    whoami(&s, &bob.token).await.ok();
    let list = aget(&s, &admin.token, &devices_path(&bob.user_id)).await.ok();
    assert_eq!(list["total"], 1, "{list}");
    let d = &list["devices"][0];
    assert_eq!(d["device_id"], bob.device_id);
    assert_eq!(d["user_id"], bob.user_id);
    assert_eq!(d["last_seen_ip"], "127.0.0.1", "{d}");
    assert!(d["last_seen_ts"].as_i64().is_some_and(|t| t >= before && t <= now_ms()), "{d} (before: {before})");
    assert!(d.get("display_name").is_some(), "{d}");

    // Create a device: it appears; creating it again changes nothing.
    let r = apost(&s, &admin.token, &devices_path(&bob.user_id), json!({"device_id": "NEWDEV"})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = apost(&s, &admin.token, &devices_path(&bob.user_id), json!({"device_id": "NEWDEV"})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    apost(&s, &admin.token, &devices_path(&bob.user_id), json!({})).await.err(400, "M_MISSING_PARAM");
    let list = aget(&s, &admin.token, &devices_path(&bob.user_id)).await.ok();
    assert_eq!(list["total"], 2, "{list}");
    let ids: BTreeSet<String> = list["devices"].as_array().unwrap().iter().map(|d| d["device_id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids, BTreeSet::from([bob.device_id.clone(), "NEWDEV".to_owned()]));
    let one = aget(&s, &admin.token, &device_path(&bob.user_id, "NEWDEV")).await.ok();
    assert_eq!(one["device_id"], "NEWDEV");
    assert_eq!(one["user_id"], bob.user_id);
    aget(&s, &admin.token, &device_path(&bob.user_id, "NOSUCHDEV")).await.err(404, "M_NOT_FOUND");

    // Rename: visible to bob himself.
    let r = aput(&s, &admin.token, &device_path(&bob.user_id, &bob.device_id), json!({"display_name": "Bob's phone"})).await.ok();
    assert_eq!(r, json!({}));
    let own = aget(&s, &bob.token, &client(&format!("devices/{}", enc(&bob.device_id)))).await.ok();
    assert_eq!(own["display_name"], "Bob's phone");
    let own = aget(&s, &bob.token, &client("devices")).await.ok();
    let mine = own["devices"].as_array().unwrap().iter().find(|d| d["device_id"] == bob.device_id.as_str()).cloned().unwrap();
    assert_eq!(mine["display_name"], "Bob's phone");
    assert_eq!(aget(&s, &admin.token, &device_path(&bob.user_id, &bob.device_id)).await.ok()["display_name"], "Bob's phone");

    // Delete one device: its token dies, the others live.
    let second = login_on(&s, "bob", &bob.password, "SECOND").await;
    whoami(&s, &second).await.ok();
    assert_eq!(adelete(&s, &admin.token, &device_path(&bob.user_id, "SECOND")).await.ok(), json!({}));
    assert_token_dead(&whoami(&s, &second).await);
    whoami(&s, &bob.token).await.ok();
    aget(&s, &admin.token, &device_path(&bob.user_id, "SECOND")).await.err(404, "M_NOT_FOUND");

    // Delete several.
    let x1 = login_on(&s, "bob", &bob.password, "X1").await;
    let x2 = login_on(&s, "bob", &bob.password, "X2").await;
    let del = sa(&format!("v2/users/{}/delete_devices", enc(&bob.user_id)));
    apost(&s, &admin.token, &del, json!({})).await.err(400, "M_MISSING_PARAM");
    apost(&s, &admin.token, &del, json!({"devices": "X1"})).await.err(400, "M_BAD_JSON");
    assert_eq!(apost(&s, &admin.token, &del, json!({"devices": ["X1", "X2", "NEWDEV"]})).await.ok(), json!({}));
    assert_token_dead(&whoami(&s, &x1).await);
    assert_token_dead(&whoami(&s, &x2).await);
    let list = aget(&s, &admin.token, &devices_path(&bob.user_id)).await.ok();
    assert_eq!(list["total"], 1, "{list}");
    assert_eq!(list["devices"][0]["device_id"], bob.device_id);
    whoami(&s, &bob.token).await.ok();
}

// ---------------------------------------------------------------------------------------------
// Pushers
// ---------------------------------------------------------------------------------------------

async fn pushkeys(s: &TestServer, token: &str) -> BTreeSet<(String, String)> {
    let b = aget(s, token, &client("pushers")).await.ok();
    b["pushers"]
        .as_array()
        .unwrap_or_else(|| panic!("pushers: {b}"))
        .iter()
        .map(|p| (p["app_id"].as_str().unwrap().to_owned(), p["pushkey"].as_str().unwrap().to_owned()))
        .collect()
}

#[actix_rt::test]
async fn pushers_set_list_and_admin_view() {
    let s = TestServer::start().await;
    let admin = s.register_admin("boss").await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let app = "org.example.app";
    let admin_view = v1_user(&alice.user_id, "pushers");
    assert_eq!(aget(&s, &admin.token, &admin_view).await.ok(), json!({"pushers": [], "total": 0}));

    assert_eq!(set_http_pusher(&s, &alice.token, app, "key1", json!({})).await.ok(), json!({}));
    let list = aget(&s, &alice.token, &client("pushers")).await.ok();
    let p = &list["pushers"][0];
    assert_eq!(list["pushers"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(p["kind"], "http");
    assert_eq!(p["app_id"], app);
    assert_eq!(p["pushkey"], "key1");
    assert_eq!(p["app_display_name"], "Example App");
    assert_eq!(p["device_display_name"], "Some phone");
    assert_eq!(p["lang"], "en");
    assert_eq!(p["data"]["url"], "https://push.example.org/_matrix/push/v1/notify");
    let view = aget(&s, &admin.token, &admin_view).await.ok();
    assert_eq!(view["total"], 1, "{view}");
    assert_eq!(view["pushers"], list["pushers"]);

    // Same app_id and pushkey: replaced.
    set_http_pusher(&s, &alice.token, app, "key1", json!({"device_display_name": "Other phone"})).await.ok();
    let list = aget(&s, &alice.token, &client("pushers")).await.ok();
    assert_eq!(list["pushers"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["pushers"][0]["device_display_name"], "Other phone");
    set_http_pusher(&s, &alice.token, app, "key2", json!({})).await.ok();
    let both = BTreeSet::from([(app.to_owned(), "key1".to_owned()), (app.to_owned(), "key2".to_owned())]);
    assert_eq!(pushkeys(&s, &alice.token).await, both);
    assert_eq!(aget(&s, &admin.token, &admin_view).await.ok()["total"], 2);

    // Without append, bob taking key1 removes it from alice; with append both keep it.
    set_http_pusher(&s, &bob.token, app, "key1", json!({})).await.ok();
    assert_eq!(pushkeys(&s, &alice.token).await, BTreeSet::from([(app.to_owned(), "key2".to_owned())]));
    assert_eq!(pushkeys(&s, &bob.token).await, BTreeSet::from([(app.to_owned(), "key1".to_owned())]));
    set_http_pusher(&s, &alice.token, app, "key1", json!({"append": true})).await.ok();
    assert_eq!(pushkeys(&s, &alice.token).await, both);
    assert_eq!(pushkeys(&s, &bob.token).await, BTreeSet::from([(app.to_owned(), "key1".to_owned())]));
    assert_eq!(aget(&s, &admin.token, &v1_user(&bob.user_id, "pushers")).await.ok()["total"], 1);

    // kind: null deletes.
    let del = json!({"kind": null, "app_id": app, "pushkey": "key2"});
    assert_eq!(apost(&s, &alice.token, &client("pushers/set"), del).await.ok(), json!({}));
    assert_eq!(pushkeys(&s, &alice.token).await, BTreeSet::from([(app.to_owned(), "key1".to_owned())]));
    assert_eq!(aget(&s, &admin.token, &admin_view).await.ok()["total"], 1);

    // Validation.
    let base = json!({
        "kind": "http", "app_id": app, "pushkey": "key9", "app_display_name": "A", "device_display_name": "D", "lang": "en",
        "data": {"url": "https://push.example.org/_matrix/push/v1/notify"},
    });
    let without = |key: &str| {
        let mut b = base.clone();
        b.as_object_mut().unwrap().remove(key);
        b
    };
    apost(&s, &alice.token, &client("pushers/set"), without("data")).await.err(400, "M_MISSING_PARAM");
    apost(&s, &alice.token, &client("pushers/set"), without("app_id")).await.err(400, "M_MISSING_PARAM");
    apost(&s, &alice.token, &client("pushers/set"), without("pushkey")).await.err(400, "M_MISSING_PARAM");
    let mut no_url = base.clone();
    no_url["data"] = json!({"format": "event_id_only"});
    apost(&s, &alice.token, &client("pushers/set"), no_url).await.err(400, "M_MISSING_PARAM");
    let mut pigeon = base.clone();
    pigeon["kind"] = json!("carrier-pigeon");
    apost(&s, &alice.token, &client("pushers/set"), pigeon).await.err(400, "M_INVALID_PARAM");
    assert_eq!(pushkeys(&s, &alice.token).await, BTreeSet::from([(app.to_owned(), "key1".to_owned())]));
}

#[actix_rt::test]
async fn deleting_a_device_removes_its_pushers() {
    let s = TestServer::start().await;
    let admin = s.register_admin("boss").await;
    let carol = s.register_user("carol").await;
    let phone = login_on(&s, "carol", &carol.password, "PHONE").await;
    set_http_pusher(&s, &phone, "org.example.app", "phonekey", json!({})).await.ok();
    set_http_pusher(&s, &carol.token, "org.example.app", "laptopkey", json!({})).await.ok();
    assert_eq!(aget(&s, &admin.token, &v1_user(&carol.user_id, "pushers")).await.ok()["total"], 2);

    adelete(&s, &admin.token, &device_path(&carol.user_id, "PHONE")).await.ok();
    assert_token_dead(&whoami(&s, &phone).await);
    let view = aget(&s, &admin.token, &v1_user(&carol.user_id, "pushers")).await.ok();
    assert_eq!(view["total"], 1, "the deleted device's pusher is still there: {view}");
    assert_eq!(view["pushers"][0]["pushkey"], "laptopkey");
    assert_eq!(pushkeys(&s, &carol.token).await, BTreeSet::from([("org.example.app".to_owned(), "laptopkey".to_owned())]));
}

// ---------------------------------------------------------------------------------------------
// Shadow-ban
// ---------------------------------------------------------------------------------------------

fn timeline_ids(sync: &Value, room: &str) -> Vec<String> {
    timeline(sync, room).iter().map(|e| e["event_id"].as_str().unwrap_or_default().to_owned()).collect()
}

async fn history_ids(s: &TestServer, viewer: &User, room: &str) -> Vec<String> {
    let b = aget(s, &viewer.token, &client(&format!("rooms/{}/messages?dir=b&limit=100", enc(room)))).await.ok();
    b["chunk"].as_array().unwrap().iter().map(|e| e["event_id"].as_str().unwrap().to_owned()).collect()
}

#[actix_rt::test]
async fn shadow_banned_messages_reach_nobody() {
    let s = TestServer::start().await;
    let admin = s.register_admin("boss").await;
    let alice = s.register_user("alice").await;
    let mallory = s.register_user("mallory").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    s.join(&mallory, &room).await.ok();

    let ban = v1_user(&mallory.user_id, "shadow_ban");
    assert_eq!(apost(&s, &admin.token, &ban, json!({})).await.ok(), json!({}));
    assert_eq!(user_json(&s, &admin, &mallory.user_id).await["shadow_banned"], true);

    let since = s.sync(&alice, None, 0).await["next_batch"].as_str().unwrap().to_owned();
    let r = s.send_text_resp(&mallory, &room, "shadow words").await.ok();
    let hidden = r["event_id"].as_str().unwrap_or_else(|| panic!("event_id: {r}")).to_owned();
    assert!(hidden.starts_with('$'), "{hidden}");
    let marker = s.send_text(&alice, &room, "marker").await;

    let filter = json!({"room": {"timeline": {"limit": 50}}}).to_string();
    let path = client(&format!("sync?since={since}&timeout=0&filter={}", enc(&filter)));
    let sync = eventually(10, || async {
        let b = aget(&s, &alice.token, &path).await.ok();
        timeline_ids(&b, &room).contains(&marker).then_some(b)
    })
    .await;
    assert!(!timeline_ids(&sync, &room).contains(&hidden), "the shadow-banned message reached alice's sync: {sync}");
    assert!(!sync.to_string().contains("shadow words"), "{sync}");
    let full = s.get(&client(&format!("sync?filter={}", enc(&filter))), &alice.token).await.ok();
    assert!(!full.to_string().contains("shadow words"), "{full}");
    assert!(!history_ids(&s, &alice, &room).await.contains(&hidden));
    aget(&s, &alice.token, &client(&format!("rooms/{}/event/{}", enc(&room), enc(&hidden)))).await.err(404, "M_NOT_FOUND");

    // Lifted: sends work again.
    assert_eq!(adelete(&s, &admin.token, &ban).await.ok(), json!({}));
    assert_eq!(user_json(&s, &admin, &mallory.user_id).await["shadow_banned"], false);
    let visible = s.send_text(&mallory, &room, "back in the light").await;
    let seen = aget(&s, &alice.token, &client(&format!("rooms/{}/event/{}", enc(&room), enc(&visible)))).await.ok();
    assert_eq!(seen["content"]["body"], "back in the light");
    assert!(history_ids(&s, &alice, &room).await.contains(&visible));
}

#[actix_rt::test]
async fn shadow_banned_rooms_and_invites_are_fake() {
    let s = TestServer::start().await;
    let admin = s.register_admin("boss").await;
    let alice = s.register_user("alice").await;
    let dave = s.register_user("dave").await;
    let mallory = s.register_user("mallory").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    s.join(&mallory, &room).await.ok();
    let ban = v1_user(&mallory.user_id, "shadow_ban");
    assert_eq!(apost(&s, &admin.token, &ban, json!({})).await.ok(), json!({}));

    // createRoom answers with a room that does not exist.
    let fake = apost(&s, &mallory.token, &client("createRoom"), json!({"preset": "public_chat", "name": "Fake"})).await.ok();
    let fake = fake["room_id"].as_str().unwrap_or_else(|| panic!("room_id: {fake}")).to_owned();
    assert!(fake.starts_with('!') && fake.ends_with(":test.local"), "{fake}");
    s.join(&alice, &fake).await.err(404, "M_NOT_FOUND");
    s.join(&dave, &fake).await.err(404, "M_NOT_FOUND");
    assert!(!s.joined_rooms(&mallory).await.contains(&fake));

    // An invite answers 200 but nobody is invited.
    assert_eq!(s.invite(&mallory, &room, &dave.user_id).await.ok(), json!({}));
    let sync = s.sync(&dave, None, 0).await;
    assert!(sync["rooms"]["invite"].get(&room).is_none(), "dave sees the shadow-banned invite: {sync}");
    let members = aget(&s, &alice.token, &client(&format!("rooms/{}/members", enc(&room)))).await.ok();
    assert!(!members.to_string().contains(&dave.user_id), "{members}");

    // Lifted: invites work again.
    assert_eq!(adelete(&s, &admin.token, &ban).await.ok(), json!({}));
    assert_eq!(user_json(&s, &admin, &mallory.user_id).await["shadow_banned"], false);
    s.invite(&mallory, &room, &dave.user_id).await.ok();
    let sync = s.sync(&dave, None, 0).await;
    assert!(sync["rooms"]["invite"].get(&room).is_some(), "{sync}");
    let real = s.create_room(&mallory, json!({})).await;
    assert!(s.joined_rooms(&mallory).await.contains(&real));
}

// ---------------------------------------------------------------------------------------------
// Server version, username availability, account data
// ---------------------------------------------------------------------------------------------

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
async fn server_version_requires_an_admin_token() {
    let s = TestServer::start().await;
    let bob = s.register_user("bob").await;
    let path = sa("v1/server_version");
    call(&s, "GET", &path, None, None).await.err(401, "M_MISSING_TOKEN");
    call(&s, "GET", &path, Some("not-a-real-token"), None).await.err(401, "M_UNKNOWN_TOKEN");
    aget(&s, &bob.token, &path).await.err(403, "M_FORBIDDEN");
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
