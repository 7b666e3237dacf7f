//! Server-side key backups: versions, keys, the replacement rule, etags and counts.

use crate::common::{TestServer, User, enc};
use serde_json::{Value, json};

const V: &str = "/_matrix/client/v3/room_keys";

async fn create(s: &TestServer, u: &User, auth_data: Value) -> String {
    let r = s.post(&format!("{V}/version"), &u.token, json!({"algorithm": "m.megolm_backup.v1", "auth_data": auth_data})).await.ok();
    r["version"].as_str().expect("version").to_owned()
}

fn key(index: i64, forwarded: i64, verified: bool, data: &str) -> Value {
    json!({"first_message_index": index, "forwarded_count": forwarded, "is_verified": verified, "session_data": {"ciphertext": data}})
}

fn session_path(room: &str, session: &str, version: &str) -> String {
    format!("{V}/keys/{}/{}?version={version}", enc(room), enc(session))
}

async fn put_key(s: &TestServer, u: &User, room: &str, session: &str, version: &str, k: Value) -> Value {
    s.put(&session_path(room, session, version), &u.token, k).await.ok()
}

async fn get_key(s: &TestServer, u: &User, room: &str, session: &str, version: &str) -> Value {
    s.get(&session_path(room, session, version), &u.token).await.ok()
}

#[actix_web::test]
async fn versions_are_created_read_updated_and_deleted() {
    let s = TestServer::start().await;
    let u = s.register_user("alice").await;
    s.get(&format!("{V}/version"), &u.token).await.err(404, "M_NOT_FOUND");

    let v1 = create(&s, &u, json!("anopaquestring")).await;
    let v2 = create(&s, &u, json!({"public_key": "abc"})).await;
    assert_eq!((v1.as_str(), v2.as_str()), ("1", "2"));
    let cur = s.get(&format!("{V}/version"), &u.token).await.ok();
    assert_eq!(
        cur,
        json!({"algorithm": "m.megolm_backup.v1", "auth_data": {"public_key": "abc"}, "count": 0, "etag": "0", "version": "2"})
    );
    let one = s.get(&format!("{V}/version/1"), &u.token).await.ok();
    assert_eq!(one["auth_data"], "anopaquestring");

    // Update: the body's version must match the path's, the algorithm cannot change.
    let body = json!({"algorithm": "m.megolm_backup.v1", "auth_data": {"public_key": "def"}, "version": "2"});
    assert_eq!(s.put(&format!("{V}/version/2"), &u.token, body).await.ok(), json!({}));
    assert_eq!(s.get(&format!("{V}/version/2"), &u.token).await.ok()["auth_data"], json!({"public_key": "def"}));
    let wrong = json!({"algorithm": "m.megolm_backup.v1", "auth_data": {}, "version": "1"});
    s.put(&format!("{V}/version/2"), &u.token, wrong).await.err(400, "M_INVALID_PARAM");
    s.put(&format!("{V}/version/2"), &u.token, json!({"algorithm": "other", "auth_data": {}})).await.err(400, "M_INVALID_PARAM");
    s.put(&format!("{V}/version/9"), &u.token, json!({"algorithm": "m.megolm_backup.v1", "auth_data": {}})).await.err(404, "M_NOT_FOUND");
    s.put(&format!("{V}/version/2"), &u.token, json!({"auth_data": {}})).await.err(400, "M_MISSING_PARAM");

    // Deleting the current version makes the previous one current; numbers are never reused.
    assert_eq!(s.req("DELETE", &format!("{V}/version/2"), Some(&u.token), None).await.ok(), json!({}));
    s.get(&format!("{V}/version/2"), &u.token).await.err(404, "M_NOT_FOUND");
    s.req("DELETE", &format!("{V}/version/2"), Some(&u.token), None).await.err(404, "M_NOT_FOUND");
    assert_eq!(s.get(&format!("{V}/version"), &u.token).await.ok()["version"], "1");
    assert_eq!(create(&s, &u, json!({})).await, "3");
    s.req("DELETE", &format!("{V}/version/1"), Some(&u.token), None).await.ok();
    s.req("DELETE", &format!("{V}/version/3"), Some(&u.token), None).await.ok();
    s.get(&format!("{V}/version"), &u.token).await.err(404, "M_NOT_FOUND");
    assert_eq!(create(&s, &u, json!({})).await, "4");
}

#[actix_web::test]
async fn malformed_version_requests_are_refused() {
    let s = TestServer::start().await;
    let u = s.register_user("alice").await;
    s.post(&format!("{V}/version"), &u.token, json!({"algorithm": "m.megolm_backup.v1"})).await.err(400, "M_MISSING_PARAM");
    s.post(&format!("{V}/version"), &u.token, json!({"auth_data": {}})).await.err(400, "M_MISSING_PARAM");
    s.post(&format!("{V}/version"), &u.token, json!({"algorithm": 5, "auth_data": {}})).await.err(400, "M_BAD_JSON");
    s.post(&format!("{V}/version"), &u.token, json!({"algorithm": "", "auth_data": {}})).await.err(400, "M_INVALID_PARAM");
    let huge = "x".repeat(70_000);
    s.post(&format!("{V}/version"), &u.token, json!({"algorithm": "m.megolm_backup.v1", "auth_data": huge})).await.err(400, "M_TOO_LARGE");
    s.get(&format!("{V}/version/bogus"), &u.token).await.err(404, "M_NOT_FOUND");
    s.get(&format!("{V}/version/0"), &u.token).await.err(404, "M_NOT_FOUND");
    let r = s.req("GET", &format!("{V}/version"), None, None).await;
    r.err(401, "M_MISSING_TOKEN");
}

#[actix_web::test]
async fn more_than_ten_versions_can_be_created() {
    let s = TestServer::start().await;
    let u = s.register_user("alice").await;
    for i in 1..=12 {
        assert_eq!(create(&s, &u, json!({})).await, i.to_string());
    }
    for i in 1..=12 {
        s.get(&format!("{V}/version/{i}"), &u.token).await.ok();
    }
}

#[actix_web::test]
async fn keys_are_stored_read_and_counted() {
    let s = TestServer::start().await;
    let u = s.register_user("alice").await;
    let v = create(&s, &u, json!({})).await;
    assert_eq!(s.get(&format!("{V}/keys?version={v}"), &u.token).await.ok(), json!({"rooms": {}}));
    assert_eq!(s.get(&format!("{V}/keys/{}?version={v}", enc("!r:x")), &u.token).await.ok(), json!({"sessions": {}}));
    s.get(&session_path("!r:x", "s1", &v), &u.token).await.err(404, "M_NOT_FOUND");

    let r = put_key(&s, &u, "!r:x", "s1", &v, key(3, 0, false, "one")).await;
    assert_eq!(r, json!({"etag": "1", "count": 1}));
    assert_eq!(get_key(&s, &u, "!r:x", "s1", &v).await, key(3, 0, false, "one"));

    let room_body = json!({"sessions": {"s2": key(0, 0, true, "two"), "s3": key(1, 1, false, "three")}});
    let r = s.put(&format!("{V}/keys/{}?version={v}", enc("!r:x")), &u.token, room_body).await.ok();
    assert_eq!(r, json!({"etag": "2", "count": 3}));

    let all_body = json!({"rooms": {"!other:x": {"sessions": {"s1": key(0, 0, false, "four")}}}});
    let r = s.put(&format!("{V}/keys?version={v}"), &u.token, all_body).await.ok();
    assert_eq!(r, json!({"etag": "3", "count": 4}));

    let all = s.get(&format!("{V}/keys?version={v}"), &u.token).await.ok();
    assert_eq!(all["rooms"]["!r:x"]["sessions"].as_object().map(|m| m.len()), Some(3));
    assert_eq!(all["rooms"]["!other:x"]["sessions"]["s1"], key(0, 0, false, "four"));
    let room = s.get(&format!("{V}/keys/{}?version={v}", enc("!r:x")), &u.token).await.ok();
    assert_eq!(room["sessions"]["s2"], key(0, 0, true, "two"));
    let info = s.get(&format!("{V}/version"), &u.token).await.ok();
    assert_eq!((info["count"].clone(), info["etag"].clone()), (json!(4), json!("3")));

    // Deletion of one session, a room, everything: each moves the etag and lowers the count.
    let r = s.req("DELETE", &session_path("!r:x", "s3", &v), Some(&u.token), None).await.ok();
    assert_eq!(r, json!({"etag": "4", "count": 3}));
    s.get(&session_path("!r:x", "s3", &v), &u.token).await.err(404, "M_NOT_FOUND");
    let r = s.req("DELETE", &format!("{V}/keys/{}?version={v}", enc("!r:x")), Some(&u.token), None).await.ok();
    assert_eq!(r, json!({"etag": "5", "count": 1}));
    let r = s.req("DELETE", &format!("{V}/keys?version={v}"), Some(&u.token), None).await.ok();
    assert_eq!(r, json!({"etag": "6", "count": 0}));
    let r = s.req("DELETE", &format!("{V}/keys?version={v}"), Some(&u.token), None).await.ok();
    assert_eq!(r, json!({"etag": "6", "count": 0}), "nothing deleted, nothing changed");
    assert_eq!(s.get(&format!("{V}/keys?version={v}"), &u.token).await.ok(), json!({"rooms": {}}));
}

#[actix_web::test]
async fn a_stored_key_is_replaced_only_by_a_better_one() {
    let s = TestServer::start().await;
    let u = s.register_user("alice").await;
    let v = create(&s, &u, json!({})).await;
    put_key(&s, &u, "!r:x", "s", &v, key(2, 1, false, "a")).await;
    // Worse index, or same index and more forwards, or the same: kept, etag unchanged.
    for worse in [key(3, 0, false, "b"), key(2, 2, false, "c"), key(2, 1, false, "d")] {
        assert_eq!(put_key(&s, &u, "!r:x", "s", &v, worse).await, json!({"etag": "1", "count": 1}));
    }
    assert_eq!(get_key(&s, &u, "!r:x", "s", &v).await, key(2, 1, false, "a"));
    // Fewer forwards at the same index wins.
    assert_eq!(put_key(&s, &u, "!r:x", "s", &v, key(2, 0, false, "e")).await, json!({"etag": "2", "count": 1}));
    // A lower index wins.
    put_key(&s, &u, "!r:x", "s", &v, key(1, 5, false, "f")).await;
    assert_eq!(get_key(&s, &u, "!r:x", "s", &v).await, key(1, 5, false, "f"));
    // A verified key wins whatever its index, and an unverified one never replaces it.
    put_key(&s, &u, "!r:x", "s", &v, key(9, 9, true, "g")).await;
    assert_eq!(get_key(&s, &u, "!r:x", "s", &v).await, key(9, 9, true, "g"));
    let r = put_key(&s, &u, "!r:x", "s", &v, key(0, 0, false, "h")).await;
    assert_eq!(r, json!({"etag": "4", "count": 1}));
    assert_eq!(get_key(&s, &u, "!r:x", "s", &v).await, key(9, 9, true, "g"));
}

#[actix_web::test]
async fn keys_go_only_to_the_current_version() {
    let s = TestServer::start().await;
    let u = s.register_user("alice").await;
    s.put(&session_path("!r:x", "s", "1"), &u.token, key(0, 0, false, "a")).await.err(404, "M_NOT_FOUND");
    let old = create(&s, &u, json!({})).await;
    put_key(&s, &u, "!r:x", "s", &old, key(0, 0, false, "a")).await;
    let new = create(&s, &u, json!({})).await;
    let r = s.put(&session_path("!r:x", "s2", &old), &u.token, key(0, 0, false, "b")).await;
    r.err(403, "M_WRONG_ROOM_KEYS_VERSION");
    assert_eq!(r.body["current_version"], new.as_str());
    // The old version stays readable, and the new one starts empty.
    assert_eq!(get_key(&s, &u, "!r:x", "s", &old).await, key(0, 0, false, "a"));
    assert_eq!(s.get(&format!("{V}/keys?version={new}"), &u.token).await.ok(), json!({"rooms": {}}));
    // Missing and unknown versions.
    s.put(&format!("{V}/keys/{}/s", enc("!r:x")), &u.token, key(0, 0, false, "a")).await.err(400, "M_MISSING_PARAM");
    s.get(&format!("{V}/keys"), &u.token).await.err(400, "M_MISSING_PARAM");
    s.get(&format!("{V}/keys?version=bogus"), &u.token).await.err(404, "M_NOT_FOUND");
    s.get(&format!("{V}/keys?version=99"), &u.token).await.err(404, "M_NOT_FOUND");
    s.req("DELETE", &format!("{V}/keys?version=99"), Some(&u.token), None).await.err(404, "M_NOT_FOUND");
    // Deleting a version deletes its keys: a recreated backup is empty.
    s.req("DELETE", &format!("{V}/version/{old}"), Some(&u.token), None).await.ok();
    s.get(&session_path("!r:x", "s", &old), &u.token).await.err(404, "M_NOT_FOUND");
}

#[actix_web::test]
async fn malformed_keys_are_refused() {
    let s = TestServer::start().await;
    let u = s.register_user("alice").await;
    let v = create(&s, &u, json!({})).await;
    let path = session_path("!r:x", "s", &v);
    s.put(&path, &u.token, json!({"first_message_index": 0, "forwarded_count": 0})).await.err(400, "M_MISSING_PARAM");
    s.put(&path, &u.token, json!({"first_message_index": "0", "forwarded_count": 0, "is_verified": false, "session_data": {}}))
        .await
        .err(400, "M_BAD_JSON");
    s.put(&path, &u.token, key(-1, 0, false, "a")).await.err(400, "M_INVALID_PARAM");
    s.put(
        &path,
        &u.token,
        json!({"first_message_index": 0, "forwarded_count": 0, "is_verified": false, "session_data": "x".repeat(70_000)}),
    )
    .await
    .err(400, "M_TOO_LARGE");
    s.put(&format!("{V}/keys/{}?version={v}", enc("!r:x")), &u.token, json!({})).await.err(400, "M_MISSING_PARAM");
    s.put(&format!("{V}/keys?version={v}"), &u.token, json!({"rooms": {"!r:x": {"sessions": 5}}})).await.err(400, "M_BAD_JSON");
    let long = "s".repeat(300);
    s.put(&session_path("!r:x", &long, &v), &u.token, key(0, 0, false, "a")).await.err(400, "M_INVALID_PARAM");
    // Too many sessions in one request, and nothing of it kept.
    let sessions: serde_json::Map<String, Value> = (0..10_001)
        .map(|i| (format!("s{i}"), json!({"first_message_index": 0, "forwarded_count": 0, "is_verified": false, "session_data": 0})))
        .collect();
    s.put(&format!("{V}/keys/{}?version={v}", enc("!r:x")), &u.token, json!({"sessions": sessions})).await.err(400, "M_TOO_LARGE");
    assert_eq!(s.get(&format!("{V}/version"), &u.token).await.ok()["count"], 0);
}

#[actix_web::test]
async fn a_user_never_reads_another_users_backup() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let v = create(&s, &alice, json!({"secret": 1})).await;
    put_key(&s, &alice, "!r:x", "s", &v, key(0, 0, false, "alice's")).await;
    s.get(&format!("{V}/version"), &bob.token).await.err(404, "M_NOT_FOUND");
    s.get(&format!("{V}/version/{v}"), &bob.token).await.err(404, "M_NOT_FOUND");
    s.get(&format!("{V}/keys?version={v}"), &bob.token).await.err(404, "M_NOT_FOUND");
    s.get(&session_path("!r:x", "s", &v), &bob.token).await.err(404, "M_NOT_FOUND");
    s.req("DELETE", &format!("{V}/version/{v}"), Some(&bob.token), None).await.err(404, "M_NOT_FOUND");
    s.req("DELETE", &format!("{V}/keys?version={v}"), Some(&bob.token), None).await.err(404, "M_NOT_FOUND");
    // Bob's own backup has its own numbering and contents.
    assert_eq!(create(&s, &bob, json!({})).await, "1");
    assert_eq!(s.get(&format!("{V}/keys?version=1"), &bob.token).await.ok(), json!({"rooms": {}}));
    assert_eq!(get_key(&s, &alice, "!r:x", "s", &v).await, key(0, 0, false, "alice's"));
}

#[actix_web::test]
async fn backups_survive_a_restart() {
    let s = TestServer::start().await;
    let u = s.register_user("alice").await;
    let v = create(&s, &u, json!({"k": "v"})).await;
    put_key(&s, &u, "!r:x", "s", &v, key(4, 0, true, "kept")).await;
    let s = s.restart().await;
    let info = s.get(&format!("{V}/version"), &u.token).await.ok();
    assert_eq!(info, json!({"algorithm": "m.megolm_backup.v1", "auth_data": {"k": "v"}, "count": 1, "etag": "1", "version": v}));
    assert_eq!(get_key(&s, &u, "!r:x", "s", &v).await, key(4, 0, true, "kept"));
}

#[actix_web::test]
async fn live_versions_are_capped_without_deleting_any() {
    let s = TestServer::start().await;
    let u = s.register_user("alice").await;
    // In waves: the writes queue on SQLite either way, the HTTP round trips need not.
    for _ in 0..20 {
        futures_util::future::join_all((0..50).map(|_| create(&s, &u, json!({})))).await;
    }
    let body = json!({"algorithm": "m.megolm_backup.v1", "auth_data": {}});
    s.post(&format!("{V}/version"), &u.token, body.clone()).await.err(403, "M_FORBIDDEN");
    s.get(&format!("{V}/version/1"), &u.token).await.ok();
    assert_eq!(s.get(&format!("{V}/version"), &u.token).await.ok()["version"], "1000");
    // Deleting one makes room again.
    s.req("DELETE", &format!("{V}/version/1"), Some(&u.token), None).await.ok();
    assert_eq!(s.post(&format!("{V}/version"), &u.token, body).await.ok()["version"], "1001");
}

#[actix_web::test]
async fn deactivation_deletes_the_backup() {
    let s = TestServer::start().await;
    let admin = s.register_admin("boss").await;
    let u = s.register_user("alice").await;
    let v = create(&s, &u, json!({})).await;
    put_key(&s, &u, "!r:x", "s", &v, key(0, 0, false, "gone")).await;
    let path = format!("/_synapse/admin/v2/users/{}", enc(&u.user_id));
    s.put(&path, &admin.token, json!({"deactivated": true})).await.ok();
    s.put(&path, &admin.token, json!({"deactivated": false, "password": "alice-is-back"})).await.ok();
    let login = s.login("alice", "alice-is-back").await.ok();
    let token = login["access_token"].as_str().expect("token");
    s.get(&format!("{V}/version"), token).await.err(404, "M_NOT_FOUND");
    s.get(&format!("{V}/keys?version={v}"), token).await.err(404, "M_NOT_FOUND");
}
