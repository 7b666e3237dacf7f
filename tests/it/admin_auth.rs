//! Who may call the admin APIs of both dialects (docs: shared/spec/admin-api.md): an admin token on
//! every route, deactivated admins refused, unknown routes and wrong methods unrecognized, and the
//! Synapse routes' rules for the user they name and the body they take.

use crate::common::*;
use serde_json::{Value, json};

fn unscoped_routes() -> Vec<(&'static str, String, Option<Value>)> {
    vec![
        ("GET", sa("v2/users"), None),
        ("GET", sa("v2/users?limit=5&deactivated=true"), None),
        ("GET", sa("v3/users"), None),
        ("GET", sa("v1/username_available?username=somefreename"), None),
    ]
}

#[actix_rt::test]
async fn every_admin_route_requires_an_admin_token() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let bob = s.register_user("bob").await;
    let room = s.create_room(&bob, json!({})).await;
    let bob_id = enc(&bob.user_id);
    let routes: Vec<(&str, String, Value)> = vec![
        ("GET", dendrite(&format!("evacuateRoom/{}", enc(&room))), Value::Null),
        ("POST", dendrite(&format!("evacuateRoom/{}", enc(&room))), json!({})),
        ("GET", dendrite(&format!("evacuateUser/{bob_id}")), Value::Null),
        ("POST", dendrite(&format!("evacuateUser/{bob_id}")), json!({})),
        ("POST", dendrite(&format!("resetPassword/{bob_id}")), json!({"password": "a-new-password"})),
        ("GET", dendrite("fulltext/reindex"), Value::Null),
        ("POST", dendrite("fulltext/reindex"), json!({})),
        ("POST", dendrite(&format!("purgeRoom/{}", enc(&room))), json!({})),
        ("POST", dendrite(&format!("refreshDevices/{}", enc("@x:other.server"))), json!({})),
        ("GET", format!("/_synapse/admin/v1/users/{bob_id}/admin"), Value::Null),
        ("PUT", format!("/_synapse/admin/v1/users/{bob_id}/admin"), json!({"admin": true})),
        ("POST", "/_synapse/admin/v1/send_server_notice".into(), json!({"user_id": bob.user_id, "content": {"body": "x"}})),
        ("PUT", "/_synapse/admin/v1/send_server_notice/txn1".into(), json!({"user_id": bob.user_id, "content": {"body": "x"}})),
    ];
    for (method, path, body) in &routes {
        let body = if body.is_null() { None } else { Some(body.clone()) };
        let r = s.req(method, path, None, body.clone()).await;
        assert_eq!(r.status, 401, "{method} {path} without a token: {}", r.body);
        r.err(401, "M_MISSING_TOKEN");
        let r = s.req(method, path, Some("not-a-real-token"), body.clone()).await;
        assert_eq!(r.status, 401, "{method} {path} with a bad token: {}", r.body);
        r.err(401, "M_UNKNOWN_TOKEN");
        let sep = if path.contains('?') { '&' } else { '?' };
        let r = s.req(method, &format!("{path}{sep}access_token=not-a-real-token"), None, body.clone()).await;
        r.err(401, "M_UNKNOWN_TOKEN");
        let r = s.req(method, path, Some(&bob.token), body.clone()).await;
        assert_eq!(r.status, 403, "{method} {path} as a non-admin: {}", r.body);
        r.err(403, "M_FORBIDDEN");
    }
    // Nothing above had an effect: bob is still in his room and not an admin.
    assert_eq!(s.joined_rooms(&bob).await, vec![room.clone()]);
    let r = s.get(&format!("/_synapse/admin/v1/users/{bob_id}/admin"), &admin.token).await.ok();
    assert_eq!(r["admin"], false);

    // The admin's token works in the header and in the query string.
    assert_eq!(s.get(&dendrite("fulltext/reindex"), &admin.token).await.ok(), json!({}));
    let r = s.req("GET", &format!("{}?access_token={}", dendrite("fulltext/reindex"), admin.token), None, None).await;
    assert_eq!(r.ok(), json!({}));

    // A logged-out admin token is unknown.
    let second = s.login("root", &admin.password).await.ok();
    let second = second["access_token"].as_str().unwrap().to_owned();
    s.get(&dendrite("fulltext/reindex"), &second).await.ok();
    s.post("/_matrix/client/v3/logout", &second, json!({})).await.ok();
    s.get(&dendrite("fulltext/reindex"), &second).await.err(401, "M_UNKNOWN_TOKEN");
}

#[actix_rt::test]
async fn a_deactivated_admin_is_refused() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let other = s.register_admin("other").await;
    s.get(&dendrite("fulltext/reindex"), &other.token).await.ok();
    let first = s.post("/_matrix/client/v3/account/deactivate", &other.token, json!({})).await;
    assert_eq!(first.status, 401, "{}", first.body);
    let session = first.body["session"].as_str().expect("UIA session").to_owned();
    let auth = json!({"type": "m.login.password", "session": session, "identifier": {"type": "m.id.user", "user": other.user_id}, "password": other.password});
    s.post("/_matrix/client/v3/account/deactivate", &other.token, json!({ "auth": auth })).await.ok();
    s.get(&dendrite("fulltext/reindex"), &other.token).await.err(401, "M_UNKNOWN_TOKEN");
    s.post(&dendrite(&format!("evacuateUser/{}", enc(&admin.user_id))), &other.token, json!({})).await.err(401, "M_UNKNOWN_TOKEN");
    s.login("other", &other.password).await.err(403, "M_USER_DEACTIVATED");
    // The other admin is fine.
    s.get(&dendrite("fulltext/reindex"), &admin.token).await.ok();
}

#[actix_rt::test]
async fn unknown_admin_routes_and_wrong_methods_are_unrecognized() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    for path in ["/_dendrite/admin/nope", "/_dendrite/admin/evacuateRoom", "/_synapse/admin/v1/nope", "/_synapse/admin/v3/whois/x"] {
        s.get(path, &admin.token).await.err(404, "M_UNRECOGNIZED");
        s.post(path, &admin.token, json!({})).await.err(404, "M_UNRECOGNIZED");
        s.req("GET", path, None, None).await.err(404, "M_UNRECOGNIZED");
    }
    // Known path, wrong method.
    s.get(&dendrite(&format!("resetPassword/{}", enc(&admin.user_id))), &admin.token).await.err(405, "M_UNRECOGNIZED");
    s.get(&dendrite(&format!("purgeRoom/{}", enc("!r:test.local"))), &admin.token).await.err(405, "M_UNRECOGNIZED");
    s.req("DELETE", &dendrite("fulltext/reindex"), Some(&admin.token), None).await.err(405, "M_UNRECOGNIZED");
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
    // A remote user, or something that is not a user ID at all: 400 M_INVALID_PARAM everywhere
    // but where a PUT v2/users would create (as Synapse: M_UNKNOWN for a remote user,
    // M_INVALID_USERNAME for an empty localpart).
    for target in ["@x:other.org", "not-a-user-id", "@:test.local"] {
        for (method, path, body) in user_routes(target, "DEV") {
            let r = call(&s, method, &path, Some(&admin.token), body).await;
            let errcode = match (method, target) {
                ("PUT", "@x:other.org") if path == v2_user(target) => "M_UNKNOWN",
                ("PUT", "@:test.local") if path == v2_user(target) => "M_INVALID_USERNAME",
                _ => "M_INVALID_PARAM",
            };
            assert_eq!(r.status, 400, "{method} {path} for {target}: {}", r.body);
            r.err(400, errcode);
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
    login_checked(&s, "carol", &carol.password).await.ok();

    // A locked admin is refused like any locked user, a deactivated admin like a dead token.
    let locked_admin = s.register_admin("lockedboss").await;
    let gone_admin = s.register_admin("goneboss").await;
    aget(&s, &locked_admin.token, &sa("v2/users")).await.ok();
    aput(&s, &admin.token, &v2_user(&locked_admin.user_id), json!({"locked": true})).await.ok();
    aget(&s, &locked_admin.token, &sa("v2/users")).await.err(401, "M_USER_LOCKED");
    apost(&s, &admin.token, &sa(&format!("v1/deactivate/{}", enc(&gone_admin.user_id))), json!({})).await.ok();
    assert_token_dead(&aget(&s, &gone_admin.token, &sa("v2/users")).await);
}

#[actix_rt::test]
async fn server_version_is_served_without_a_token() {
    // As Synapse: the admin UIs read it on their login pages, before anyone signs in.
    let s = TestServer::start().await;
    let bob = s.register_user("bob").await;
    let path = sa("v1/server_version");
    let anonymous = call(&s, "GET", &path, None, None).await.ok();
    assert!(anonymous["server_version"].as_str().is_some_and(|v| v.starts_with("Ensemble ")), "{anonymous}");
    assert_eq!(aget(&s, &bob.token, &path).await.ok(), anonymous);
}
