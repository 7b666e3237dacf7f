//! The rest of Synapse's user admin API: memberships and counts, experimental features, the rate
//! limit override (wired to `rc_message`), suspension (`M_USER_SUSPENDED` on the routes Synapse
//! refuses), cross-signing replacement without UIA, account validity, lookups by third-party and
//! external ID; and the federation destinations API.

use crate::common::*;
use ensemble::config::RateLimit;
use serde_json::{Value, json};

const REMOTE: &str = "@someone:elsewhere.example";

fn features_path(id: &str) -> String {
    sa(&format!("v1/experimental_features/{}", enc(id)))
}

fn suspend_path(id: &str) -> String {
    sa(&format!("v1/suspend/{}", enc(id)))
}

fn dest(rest: &str) -> String {
    sa(&format!("v1/federation/destinations{rest}"))
}

/// The admin-only rules every route of this file shares: 401 without a token, 403 for a
/// non-admin.
async fn refused_to(s: &TestServer, user: &User, method: &str, path: &str) {
    s.req(method, path, None, Some(json!({}))).await.err(401, "M_MISSING_TOKEN");
    let r = s.req(method, path, Some(&user.token), Some(json!({}))).await;
    r.err(403, "M_FORBIDDEN");
}

#[actix_rt::test]
async fn memberships_and_membership_counts() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let left = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    let invited = s.create_room(&alice, json!({})).await;
    s.join(&bob, &left).await.ok();
    leave(&s, &bob, &left).await.ok();
    s.invite(&alice, &invited, &bob.user_id).await.ok();

    let m = aget(&s, &admin.token, &v1_user(&bob.user_id, "memberships")).await.ok();
    assert_eq!(m, json!({"memberships": {&left: "leave", &invited: "invite"}}));
    let m = aget(&s, &admin.token, &v1_user(&alice.user_id, "memberships")).await.ok();
    assert_eq!(m, json!({"memberships": {&left: "join", &invited: "join"}}));

    let invites = |id: &str, ts: i64| v1_user(id, &format!("sent_invite_count?from_ts={ts}"));
    assert_eq!(aget(&s, &admin.token, &invites(&alice.user_id, 0)).await.ok(), json!({"invite_count": 1}));
    assert_eq!(aget(&s, &admin.token, &invites(&bob.user_id, 0)).await.ok(), json!({"invite_count": 0}));
    let future = i64::MAX / 2;
    assert_eq!(aget(&s, &admin.token, &invites(&alice.user_id, future)).await.ok(), json!({"invite_count": 0}));

    // Bob joined one room and left it: it still counts.
    let joined = |id: &str, ts: i64| v1_user(id, &format!("cumulative_joined_room_count?from_ts={ts}"));
    assert_eq!(aget(&s, &admin.token, &joined(&bob.user_id, 0)).await.ok(), json!({"cumulative_joined_room_count": 1}));
    assert_eq!(aget(&s, &admin.token, &joined(&alice.user_id, 0)).await.ok(), json!({"cumulative_joined_room_count": 2}));
    assert_eq!(aget(&s, &admin.token, &joined(&bob.user_id, future)).await.ok(), json!({"cumulative_joined_room_count": 0}));

    for rest in ["sent_invite_count", "cumulative_joined_room_count"] {
        aget(&s, &admin.token, &v1_user(&bob.user_id, rest)).await.err(400, "M_MISSING_PARAM");
        aget(&s, &admin.token, &v1_user(&bob.user_id, &format!("{rest}?from_ts=abc"))).await.err(400, "M_INVALID_PARAM");
        aget(&s, &admin.token, &v1_user("@nobody:test.local", &format!("{rest}?from_ts=0"))).await.err(404, "M_NOT_FOUND");
        refused_to(&s, &bob, "GET", &v1_user(&bob.user_id, &format!("{rest}?from_ts=0"))).await;
    }
    aget(&s, &admin.token, &v1_user("@nobody:test.local", "memberships")).await.err(404, "M_NOT_FOUND");
    aget(&s, &admin.token, &v1_user(REMOTE, "memberships")).await.err(400, "M_UNKNOWN");
    aget(&s, &admin.token, &v1_user("not-an-id", "memberships")).await.err(400, "M_INVALID_PARAM");
    refused_to(&s, &bob, "GET", &v1_user(&bob.user_id, "memberships")).await;
}

#[actix_rt::test]
async fn experimental_features_are_synapses_and_kept_per_user() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let bob = s.register_user("bob").await;
    let carol = s.register_user("carol").await;
    let none = json!({"features": {"msc3881": false, "msc3575": false, "msc4222": false}});
    assert_eq!(aget(&s, &admin.token, &features_path(&bob.user_id)).await.ok(), none);

    let on = json!({"features": {"msc3881": true, "msc4222": true}});
    assert_eq!(aput(&s, &admin.token, &features_path(&bob.user_id), on).await.ok(), json!({}));
    let off = json!({"features": {"msc4222": false}});
    assert_eq!(aput(&s, &admin.token, &features_path(&bob.user_id), off).await.ok(), json!({}));
    let got = aget(&s, &admin.token, &features_path(&bob.user_id)).await.ok();
    assert_eq!(got, json!({"features": {"msc3881": true, "msc3575": false, "msc4222": false}}));
    assert_eq!(aget(&s, &admin.token, &features_path(&carol.user_id)).await.ok(), none);

    let path = features_path(&bob.user_id);
    let r = aput(&s, &admin.token, &path, json!({"features": {"msc9999": true}})).await;
    r.err(400, "M_UNKNOWN");
    assert!(r.body["error"].as_str().unwrap().contains("msc9999"), "{}", r.body);
    aput(&s, &admin.token, &path, json!({"features": {}})).await.err(400, "M_UNKNOWN");
    aput(&s, &admin.token, &path, json!({})).await.err(400, "M_UNKNOWN");
    aput(&s, &admin.token, &path, json!({"features": {"msc3575": "yes"}})).await.err(400, "M_BAD_JSON");
    s.raw("PUT", &path, Some(&admin.token), vec![]).await.err(400, "M_NOT_JSON");
    aget(&s, &admin.token, &features_path("@nobody:test.local")).await.err(404, "M_NOT_FOUND");
    aput(&s, &admin.token, &features_path("@nobody:test.local"), json!({"features": {"msc3881": true}})).await.err(404, "M_NOT_FOUND");
    aget(&s, &admin.token, &features_path(REMOTE)).await.err(400, "M_UNKNOWN");
    refused_to(&s, &bob, "GET", &path).await;
    refused_to(&s, &bob, "PUT", &path).await;
    // Nothing changed by the refusals.
    let got = aget(&s, &admin.token, &path).await.ok();
    assert_eq!(got["features"]["msc3881"], true);
}

#[actix_rt::test]
async fn a_rate_limit_override_of_zero_lifts_the_message_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = test_config(dir.path());
    // Three messages, then none for hours.
    config.rc_message = RateLimit::new(0.0001, 3);
    let s = TestServer::start_with(dir, config).await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let carol = s.register_user("carol").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    s.join(&bob, &room).await.ok();
    s.join(&carol, &room).await.ok();
    let path = v1_user(&bob.user_id, "override_ratelimit");

    assert_eq!(aget(&s, &admin.token, &path).await.ok(), json!({}));
    let zero = json!({"messages_per_second": 0, "burst_count": 0});
    assert_eq!(apost(&s, &admin.token, &path, json!({})).await.ok(), zero);
    assert_eq!(aget(&s, &admin.token, &path).await.ok(), zero);

    // Bob is never limited; Carol is, after her three.
    for i in 0..10 {
        s.send_text(&bob, &room, &format!("bob {i}")).await;
    }
    for i in 0..3 {
        s.send_text(&carol, &room, &format!("carol {i}")).await;
    }
    s.send_text_resp(&carol, &room, "one too many").await.err(429, "M_LIMIT_EXCEEDED");

    // A non-zero override is the rate the user gets instead of the configured one.
    let two = json!({"messages_per_second": 1, "burst_count": 2});
    let carols = v1_user(&carol.user_id, "override_ratelimit");
    assert_eq!(apost(&s, &admin.token, &carols, two.clone()).await.ok(), two);
    assert_eq!(aget(&s, &admin.token, &carols).await.ok(), two);
    // Her bucket refills at one a second now, not one in hours.
    eventually(10, || async { (s.send_text_resp(&carol, &room, "refilled").await.status == 200).then_some(()) }).await;

    // Deleted: Bob is back under the configured limit.
    assert_eq!(adelete(&s, &admin.token, &path).await.ok(), json!({}));
    assert_eq!(aget(&s, &admin.token, &path).await.ok(), json!({}));
    let mut refused = None;
    for i in 0..4 {
        let r = s.send_text_resp(&bob, &room, &format!("bob again {i}")).await;
        if r.status != 200 {
            refused = Some(r);
            break;
        }
    }
    refused.expect("bob limited again").err(429, "M_LIMIT_EXCEEDED");
    assert_eq!(adelete(&s, &admin.token, &path).await.ok(), json!({}));

    for bad in [json!({"messages_per_second": -1}), json!({"messages_per_second": 1.5}), json!({"burst_count": "x"})] {
        apost(&s, &admin.token, &path, bad).await.err(400, "M_INVALID_PARAM");
    }
    s.raw("POST", &path, Some(&admin.token), b"[1]".to_vec()).await.err(400, "M_BAD_JSON");
    s.raw("POST", &path, Some(&admin.token), b"nope".to_vec()).await.err(400, "M_NOT_JSON");
    let nobody = v1_user("@nobody:test.local", "override_ratelimit");
    aget(&s, &admin.token, &nobody).await.err(404, "M_NOT_FOUND");
    apost(&s, &admin.token, &nobody, json!({})).await.err(404, "M_NOT_FOUND");
    adelete(&s, &admin.token, &nobody).await.err(404, "M_NOT_FOUND");
    aget(&s, &admin.token, &v1_user(REMOTE, "override_ratelimit")).await.err(400, "M_UNKNOWN");
    apost(&s, &admin.token, &v1_user(REMOTE, "override_ratelimit"), json!({})).await.err(400, "M_UNKNOWN");
    for method in ["GET", "POST", "DELETE"] {
        refused_to(&s, &bob, method, &path).await;
    }
}

#[track_caller]
fn suspended(r: &Resp) {
    r.err(403, "M_USER_SUSPENDED");
}

#[actix_rt::test]
async fn a_suspended_user_reads_but_does_not_send() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    let other = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    let leave_me = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    s.join(&bob, &room).await.ok();
    s.join(&bob, &leave_me).await.ok();
    let own = s.send_text(&bob, &room, "before").await;
    let alices = s.send_text(&alice, &room, "alice's").await;

    let r = aput(&s, &admin.token, &suspend_path(&bob.user_id), json!({"suspend": true})).await.ok();
    assert_eq!(r, json!({format!("user_{}_suspended", bob.user_id): true}));
    assert_eq!(user_json(&s, &admin, &bob.user_id).await["suspended"], true);
    assert_eq!(user_json(&s, &admin, &alice.user_id).await["suspended"], false);
    for list in ["v2/users", "v3/users"] {
        let users = aget(&s, &admin.token, &sa(&format!("{list}?user_id=bob"))).await.ok();
        assert_eq!(users["users"][0]["suspended"], true, "{users}");
    }

    suspended(&s.send_text_resp(&bob, &room, "during").await);
    suspended(&s.put(&client(&format!("rooms/{}/state/m.room.topic/", enc(&room))), &bob.token, json!({"topic": "t"})).await);
    suspended(&s.join(&bob, &other).await);
    suspended(&s.invite(&bob, &room, &admin.user_id).await);
    suspended(&s.put(&client(&format!("profile/{}/displayname", enc(&bob.user_id))), &bob.token, json!({"displayname": "x"})).await);
    suspended(&s.put(&client(&format!("profile/{}/avatar_url", enc(&bob.user_id))), &bob.token, json!({"avatar_url": "mxc://a/b"})).await);
    suspended(&s.post(&client("createRoom"), &bob.token, json!({})).await);
    suspended(&s.post(&client(&format!("rooms/{}/upgrade", enc(&room))), &bob.token, json!({"new_version": "10"})).await);
    suspended(&s.post(&client(&format!("rooms/{}/ban", enc(&room))), &bob.token, json!({"user_id": alice.user_id})).await);
    let member_state = client(&format!("rooms/{}/state/m.room.member/{}", enc(&room), enc(&bob.user_id)));
    let r = s.put(&member_state, &bob.token, json!({"membership": "join"})).await;
    suspended(&r);
    assert_eq!(r.body["error"], "Joining rooms while account is suspended is not allowed.");
    let redact = |id: &str| client(&format!("rooms/{}/redact/{}/r{}", enc(&room), enc(id), id.len()));
    suspended(&s.put(&redact(&alices), &bob.token, json!({})).await);

    // Reading, redacting their own events and leaving are allowed.
    let sync = s.sync(&bob, None, 0).await;
    assert!(sync["rooms"]["join"][&room].is_object(), "{sync}");
    s.get(&client(&format!("rooms/{}/messages?dir=b", enc(&room))), &bob.token).await.ok();
    s.post(&client(&format!("rooms/{}/receipt/m.read/{}", enc(&room), enc(&alices))), &bob.token, json!({})).await.ok();
    s.put(&redact(&own), &bob.token, json!({})).await.ok();
    leave(&s, &bob, &leave_me).await.ok();
    // The admin can still tell him why: he may join the server notices room.
    send_notice(&s, &admin, &bob).await;
    let invites = s.sync(&bob, None, 0).await["rooms"]["invite"].clone();
    let notices = invites.as_object().and_then(|m| m.keys().next().cloned()).unwrap_or_else(|| panic!("{invites}"));
    s.join(&bob, &notices).await.ok();
    // Nothing was sent in Bob's name.
    let history = s.get(&client(&format!("rooms/{}/messages?dir=b&limit=50", enc(&room))), &alice.token).await.ok();
    assert!(!history.to_string().contains("during"), "{history}");
    assert_eq!(s.joined_rooms(&bob).await, vec![room.clone(), notices.clone()]);

    let r = aput(&s, &admin.token, &suspend_path(&bob.user_id), json!({"suspend": false})).await.ok();
    assert_eq!(r, json!({format!("user_{}_suspended", bob.user_id): false}));
    assert_eq!(user_json(&s, &admin, &bob.user_id).await["suspended"], false);
    s.send_text(&bob, &room, "after").await;
    s.join(&bob, &other).await.ok();

    let path = suspend_path(&bob.user_id);
    aput(&s, &admin.token, &path, json!({"suspend": "yes"})).await.err(400, "M_BAD_JSON");
    aput(&s, &admin.token, &path, json!({})).await.err(400, "M_MISSING_PARAM");
    aput(&s, &admin.token, &suspend_path("@nobody:test.local"), json!({"suspend": true})).await.err(404, "M_NOT_FOUND");
    aput(&s, &admin.token, &suspend_path(REMOTE), json!({"suspend": true})).await.err(400, "M_UNKNOWN");
    refused_to(&s, &bob, "PUT", &suspend_path(&alice.user_id)).await;
    s.send_text(&alice, &room, "alice unaffected").await;
}

#[actix_rt::test]
async fn an_admin_lets_a_user_replace_cross_signing_keys_without_uia() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    let path = v1_user(&alice.user_id, "_allow_cross_signing_replacement_without_uia");
    apost(&s, &admin.token, &path, json!({})).await.err(404, "M_NOT_FOUND");
    apost(&s, &admin.token, &v1_user("@nobody:test.local", "_allow_cross_signing_replacement_without_uia"), json!({}))
        .await
        .err(404, "M_NOT_FOUND");

    let key = |usage: &str, id: &str| json!({"user_id": alice.user_id, "usage": [usage], "keys": {format!("ed25519:{id}"): id}});
    let upload = "/_matrix/client/v3/keys/device_signing/upload";
    s.post(upload, &alice.token, json!({"master_key": key("master", "M1")})).await.ok();
    assert_eq!(s.post(upload, &alice.token, json!({"master_key": key("master", "M2")})).await.status, 401);

    refused_to(&s, &alice, "POST", &path).await;
    let before = now_ms();
    let r = apost(&s, &admin.token, &path, json!({})).await.ok();
    let until = r["updatable_without_uia_before_ms"].as_i64().unwrap_or_else(|| panic!("{r}"));
    assert!(until >= before + 10 * 60 * 1000 && until <= now_ms() + 10 * 60 * 1000, "{until}");

    // Within the window the replacement needs no password; the next one does again.
    s.post(upload, &alice.token, json!({"master_key": key("master", "M2")})).await.ok();
    let keys = s.post("/_matrix/client/v3/keys/query", &alice.token, json!({"device_keys": {&alice.user_id: []}})).await.ok();
    assert!(keys["master_keys"][&alice.user_id]["keys"].get("ed25519:M2").is_some(), "{keys}");
    assert_eq!(s.post(upload, &alice.token, json!({"master_key": key("master", "M3")})).await.status, 401);
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

#[actix_rt::test]
async fn account_validity_and_lookups_by_threepid_and_external_id() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let bob = s.register_user("bob").await;
    let validity = sa("v1/account_validity/validity");
    let r = apost(&s, &admin.token, &validity, json!({"user_id": bob.user_id, "expiration_ts": 123})).await.ok();
    assert_eq!(r, json!({"expiration_ts": 123}));
    apost(&s, &admin.token, &validity, json!({})).await.err(400, "M_UNKNOWN");
    apost(&s, &admin.token, &validity, json!({"user_id": bob.user_id})).await.err(400, "M_UNKNOWN");
    apost(&s, &admin.token, &validity, json!({"user_id": "@nobody:test.local", "expiration_ts": 1})).await.err(404, "M_NOT_FOUND");
    refused_to(&s, &bob, "POST", &validity).await;
    // Accounts do not expire here: Bob goes on.
    s.get(&client("account/whoami"), &bob.token).await.ok();

    let by_email = |address: &str| sa(&format!("v1/threepid/email/users/{}", enc(address)));
    aget(&s, &admin.token, &by_email("bob@example.org")).await.err(404, "M_NOT_FOUND");
    let threepids = json!({"threepids": [{"medium": "email", "address": "Bob@Example.org"}]});
    aput(&s, &admin.token, &v2_user(&bob.user_id), threepids).await.ok();
    assert_eq!(aget(&s, &admin.token, &by_email("bob@example.org")).await.ok(), json!({"user_id": bob.user_id}));
    assert_eq!(aget(&s, &admin.token, &by_email("BOB@example.org")).await.ok(), json!({"user_id": bob.user_id}));
    aget(&s, &admin.token, &sa("v1/threepid/msisdn/users/bob%40example.org")).await.err(404, "M_NOT_FOUND");
    refused_to(&s, &bob, "GET", &by_email("bob@example.org")).await;

    let external = sa("v1/auth_providers/oidc/users/12345");
    aget(&s, &admin.token, &external).await.err(404, "M_NOT_FOUND");
    refused_to(&s, &bob, "GET", &external).await;
}

#[actix_rt::test]
async fn federation_destinations_list_the_servers_contacted() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let bob = s.register_user("bob").await;
    assert_eq!(aget(&s, &admin.token, &dest("")).await.ok(), json!({"destinations": [], "total": 0}));
    aget(&s, &admin.token, &dest("/127.0.0.1:1")).await.err(404, "M_NOT_FOUND");
    aget(&s, &admin.token, &dest("/127.0.0.1:1/rooms")).await.err(404, "M_NOT_FOUND");
    apost(&s, &admin.token, &dest("/127.0.0.1:1/reset_connection"), json!({})).await.err(404, "M_NOT_FOUND");
    for bad in ["?order_by=bogus", "?dir=x", "?limit=-1", "?from=-1", "?from=abc"] {
        aget(&s, &admin.token, &dest(bad)).await.err(400, "M_INVALID_PARAM");
    }
    refused_to(&s, &bob, "GET", &dest("")).await;

    // Refreshing a remote user's devices contacts their server, here one that refuses
    // connections: it is listed as failing.
    for server in ["127.0.0.1:1", "127.0.0.1:2"] {
        let user = format!("@x:{server}");
        s.post(&dendrite(&format!("refreshDevices/{}", enc(&user))), &admin.token, json!({})).await.err(502, "M_UNKNOWN");
    }
    let list = aget(&s, &admin.token, &dest("")).await.ok();
    assert_eq!(list["total"], 2, "{list}");
    let names: Vec<&str> = list["destinations"].as_array().unwrap().iter().map(|d| d["destination"].as_str().unwrap()).collect();
    assert_eq!(names, ["127.0.0.1:1", "127.0.0.1:2"]);
    let one: &Value = &list["destinations"][0];
    assert!(one["failure_ts"].as_i64().is_some_and(|t| t > 0), "{one}");
    assert!(one["retry_last_ts"].as_i64().is_some_and(|t| t > 0), "{one}");
    assert!(one["retry_interval"].as_i64().is_some_and(|t| t > 0), "{one}");
    assert_eq!(one["last_successful_stream_ordering"], Value::Null);
    let back = aget(&s, &admin.token, &dest("?dir=b&limit=1")).await.ok();
    assert_eq!(back["destinations"][0]["destination"], "127.0.0.1:2");
    assert_eq!(back["next_token"], "1");
    let filtered = aget(&s, &admin.token, &dest("?destination=0.1:2")).await.ok();
    assert_eq!(filtered["total"], 1);

    let detail = aget(&s, &admin.token, &dest("/127.0.0.1:1")).await.ok();
    assert_eq!(detail["destination"], "127.0.0.1:1");
    assert_eq!(detail["failure_ts"], one["failure_ts"]);
    let rooms = aget(&s, &admin.token, &dest("/127.0.0.1:1/rooms")).await.ok();
    assert_eq!(rooms, json!({"rooms": [], "total": 0}));

    assert_eq!(apost(&s, &admin.token, &dest("/127.0.0.1:1/reset_connection"), json!({})).await.ok(), json!({}));
    let detail = aget(&s, &admin.token, &dest("/127.0.0.1:1")).await.ok();
    assert_eq!((detail["failure_ts"].clone(), detail["retry_last_ts"].clone()), (Value::Null, json!(0)));
    apost(&s, &admin.token, &dest("/127.0.0.1:1/reset_connection"), json!({})).await.err(400, "M_UNKNOWN");
    refused_to(&s, &bob, "POST", &dest("/127.0.0.1:2/reset_connection")).await;
}
