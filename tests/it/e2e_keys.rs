//! End-to-end encryption keys of local users: upload, query, claim, cross-signing, and keys going
//! away with their device.

use crate::common::*;
use serde_json::{Value, json};

fn device_keys(user: &User) -> Value {
    json!({
        "user_id": user.user_id,
        "device_id": user.device_id,
        "algorithms": ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
        "keys": {format!("curve25519:{}", user.device_id): "curve", format!("ed25519:{}", user.device_id): "ed"},
        "signatures": {user.user_id.clone(): {format!("ed25519:{}", user.device_id): "sig"}},
    })
}

fn otk(n: u32) -> Value {
    json!({"key": format!("otk{n}"), "signatures": {}})
}

mod signing {
    use ruma::signatures::Ed25519KeyPair;
    use serde_json::Value;

    pub struct Key {
        pub pair: Ed25519KeyPair,
        pub public: String,
    }

    /// A fresh ed25519 key named `name`, or named after its own public key when `name` is None
    /// (as cross-signing keys are).
    pub fn key(name: Option<&str>) -> Key {
        use base64::Engine;
        let der = Ed25519KeyPair::generate();
        let probe = Ed25519KeyPair::from_der(&der, "x".into()).unwrap();
        let public = base64::engine::general_purpose::STANDARD_NO_PAD.encode(probe.public_key());
        let pair = Ed25519KeyPair::from_der(&der, name.unwrap_or(&public).to_owned()).unwrap();
        Key { pair, public }
    }

    pub fn sign(signer_user: &str, key: &Key, obj: &Value) -> Value {
        let mut c: ruma::CanonicalJsonObject = serde_json::from_value(obj.clone()).unwrap();
        ruma::signatures::sign_json(signer_user, &key.pair, &mut c).unwrap();
        serde_json::to_value(c).unwrap()
    }
}

#[actix_rt::test]
async fn upload_query_and_claim() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    s.put(&format!("/_matrix/client/v3/devices/{}", alice.device_id), &alice.token, json!({"display_name": "Alice's phone"})).await.ok();

    let up = s
        .post(
            "/_matrix/client/v3/keys/upload",
            &alice.token,
            json!({
                "device_keys": device_keys(&alice),
                "one_time_keys": {"signed_curve25519:AAAA": otk(1), "signed_curve25519:AAAB": otk(2)},
                "fallback_keys": {"signed_curve25519:FFFF": {"key": "fallback", "fallback": true, "signatures": {}}},
            }),
        )
        .await
        .ok();
    assert_eq!(up["one_time_key_counts"], json!({"signed_curve25519": 2}));
    let sync = s.sync(&alice, None, 0).await;
    assert_eq!(sync["device_one_time_keys_count"], json!({"signed_curve25519": 2}), "sync reports the counts too");
    assert_eq!(sync["device_unused_fallback_key_types"], json!(["signed_curve25519"]));
    // An upload with nothing new reports the counts; the same one-time key again is accepted.
    let again =
        s.post("/_matrix/client/v3/keys/upload", &alice.token, json!({"one_time_keys": {"signed_curve25519:AAAA": otk(1)}})).await.ok();
    assert_eq!(again["one_time_key_counts"], json!({"signed_curve25519": 2}));
    let empty = s.post("/_matrix/client/v3/keys/upload", &bob.token, json!({})).await.ok();
    assert_eq!(empty["one_time_key_counts"], json!({"signed_curve25519": 0}), "the count clients rely on is always there");

    // Bob sees Alice's device keys as signed, with the device name unsigned; his own keyless
    // device is not listed.
    let q = s.post("/_matrix/client/v3/keys/query", &bob.token, json!({"device_keys": {&alice.user_id: [], &bob.user_id: []}})).await.ok();
    let mut expected = device_keys(&alice);
    expected["unsigned"] = json!({"device_display_name": "Alice's phone"});
    assert_eq!(q["device_keys"][&alice.user_id][&alice.device_id], expected);
    assert_eq!(q["device_keys"][&bob.user_id], json!({}));
    assert_eq!(q["failures"], json!({}));
    let only = s.post("/_matrix/client/v3/keys/query", &bob.token, json!({"device_keys": {&alice.user_id: ["NOPE"]}})).await.ok();
    assert_eq!(only["device_keys"][&alice.user_id], json!({}), "a device filter is honoured");

    // Claims take the one-time keys in turn, then fall back to the fallback key, which stays.
    let claim = |who: &User| {
        let body = json!({"one_time_keys": {&alice.user_id: {&alice.device_id: "signed_curve25519"}}});
        let token = who.token.clone();
        let s = &s;
        async move { s.post("/_matrix/client/v3/keys/claim", &token, body).await.ok() }
    };
    let mut seen = Vec::new();
    for _ in 0..2 {
        let c = claim(&bob).await;
        let keys = c["one_time_keys"][&alice.user_id][&alice.device_id].as_object().unwrap().clone();
        seen.extend(keys.keys().cloned());
    }
    seen.sort();
    assert_eq!(seen, vec!["signed_curve25519:AAAA", "signed_curve25519:AAAB"], "each one-time key is given out once");
    for _ in 0..2 {
        let c = claim(&bob).await;
        assert_eq!(c["one_time_keys"][&alice.user_id][&alice.device_id]["signed_curve25519:FFFF"]["key"], "fallback");
    }
    let counts = s.post("/_matrix/client/v3/keys/upload", &alice.token, json!({})).await.ok();
    assert_eq!(counts["one_time_key_counts"]["signed_curve25519"], 0);
    let sync = s.sync(&alice, None, 0).await;
    assert_eq!(sync["device_one_time_keys_count"], json!({"signed_curve25519": 0}));
    assert_eq!(sync["device_unused_fallback_key_types"], json!([]), "the fallback key was used");

    // Deleting the device deletes its keys.
    let del = s.post("/_matrix/client/v3/logout", &alice.token, json!({})).await;
    assert_eq!(del.status, 200);
    let q = s.post("/_matrix/client/v3/keys/query", &bob.token, json!({"device_keys": {&alice.user_id: []}})).await.ok();
    assert_eq!(q["device_keys"][&alice.user_id], json!({}));
    let c = claim(&bob).await;
    assert_eq!(c["one_time_keys"], json!({}));
}

#[actix_rt::test]
async fn bad_uploads_and_queries() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let up = |body: Value| s.post("/_matrix/client/v3/keys/upload", &alice.token, body);

    up(json!({"device_keys": device_keys(&bob)})).await.err(400, "M_INVALID_PARAM");
    let mut other_device = device_keys(&alice);
    other_device["device_id"] = json!("SOMEONEELSE");
    up(json!({"device_keys": other_device})).await.err(400, "M_INVALID_PARAM");
    let mut no_keys = device_keys(&alice);
    no_keys.as_object_mut().unwrap().remove("keys");
    up(json!({"device_keys": no_keys})).await.err(400, "M_BAD_JSON");
    up(json!({"device_keys": "x"})).await.err(400, "M_BAD_JSON");
    up(json!({"one_time_keys": {"no-algorithm": otk(1)}})).await.err(400, "M_INVALID_PARAM");
    up(json!({"one_time_keys": {"signed_curve25519:A": 5}})).await.err(400, "M_BAD_JSON");
    up(json!({"one_time_keys": {"signed_curve25519:A": otk(1)}})).await.ok();
    up(json!({"one_time_keys": {"signed_curve25519:A": otk(2)}})).await.err(400, "M_INVALID_PARAM");
    s.raw("POST", "/_matrix/client/v3/keys/upload", Some(&alice.token), b"{nope".to_vec()).await.err(400, "M_NOT_JSON");
    s.req("POST", "/_matrix/client/v3/keys/upload", None, Some(json!({}))).await.err(401, "M_MISSING_TOKEN");

    let q = |body: Value| s.post("/_matrix/client/v3/keys/query", &alice.token, body);
    q(json!({})).await.err(400, "M_MISSING_PARAM");
    q(json!({"device_keys": {"not-a-user": []}})).await.err(400, "M_INVALID_PARAM");
    q(json!({"device_keys": {&bob.user_id: "x"}})).await.err(400, "M_BAD_JSON");
    q(json!({"device_keys": {&bob.user_id: [1]}})).await.err(400, "M_BAD_JSON");
    let c = |body: Value| s.post("/_matrix/client/v3/keys/claim", &alice.token, body);
    c(json!({})).await.err(400, "M_MISSING_PARAM");
    c(json!({"one_time_keys": {&bob.user_id: "x"}})).await.err(400, "M_BAD_JSON");
    c(json!({"one_time_keys": {&bob.user_id: {"DEV": 1}}})).await.err(400, "M_BAD_JSON");
    // A user on a server that cannot be reached: reported as a failure of that server.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let remote = c(json!({"one_time_keys": {format!("@x:127.0.0.1:{closed}"): {"DEV": "signed_curve25519"}}})).await.ok();
    assert!(remote["failures"][format!("127.0.0.1:{closed}")].is_object(), "{remote}");
}

#[actix_rt::test]
async fn cross_signing_keys() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let key = |usage: &str, id: &str| json!({"user_id": alice.user_id, "usage": [usage], "keys": {format!("ed25519:{id}"): id}});
    let path = "/_matrix/client/v3/keys/device_signing/upload";

    s.post(path, &alice.token, json!({"self_signing_key": key("self_signing", "S")})).await.err(400, "M_INVALID_PARAM");
    s.post(path, &alice.token, json!({"master_key": key("self_signing", "M")})).await.err(400, "M_INVALID_PARAM");
    s.post(path, &alice.token, json!({"master_key": {"user_id": bob.user_id, "usage": ["master"], "keys": {}}}))
        .await
        .err(400, "M_INVALID_PARAM");
    // The first upload needs no password.
    let first = json!({"master_key": key("master", "M1"), "self_signing_key": key("self_signing", "S1"), "user_signing_key": key("user_signing", "U1")});
    s.post(path, &alice.token, first).await.ok();
    // Replacing them does.
    let second = json!({"master_key": key("master", "M2")});
    let challenge = s.post(path, &alice.token, second.clone()).await;
    assert_eq!(challenge.status, 401, "{}", challenge.body);
    assert_eq!(challenge.body["flows"][0]["stages"][0], "m.login.password");
    let mut wrong = second.clone();
    wrong["auth"] =
        json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": alice.user_id}, "password": "wrong-password"});
    s.post(path, &alice.token, wrong).await.err(401, "M_FORBIDDEN");
    let mut right = second.clone();
    right["auth"] =
        json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": alice.user_id}, "password": alice.password});
    s.post(path, &alice.token, right).await.ok();

    let body = json!({"device_keys": {&alice.user_id: []}});
    let seen_by_bob = s.post("/_matrix/client/v3/keys/query", &bob.token, body.clone()).await.ok();
    assert_eq!(seen_by_bob["master_keys"][&alice.user_id], key("master", "M2"));
    assert_eq!(seen_by_bob["self_signing_keys"][&alice.user_id], key("self_signing", "S1"));
    assert_eq!(seen_by_bob["user_signing_keys"], json!({}), "only the owner sees a user-signing key");
    let seen_by_alice = s.post("/_matrix/client/v3/keys/query", &alice.token, body).await.ok();
    assert_eq!(seen_by_alice["user_signing_keys"][&alice.user_id], key("user_signing", "U1"));
}

#[actix_rt::test]
async fn room_mates_learn_of_device_list_changes() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let carol = s.register_user("carol").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    s.join(&bob, &room).await.ok();
    let token = |v: &Value| v["next_batch"].as_str().unwrap().to_owned();
    let tb = token(&s.sync(&bob, None, 0).await);
    let tc = token(&s.sync(&carol, None, 0).await);

    s.post("/_matrix/client/v3/keys/upload", &alice.token, json!({"device_keys": device_keys(&alice)})).await.ok();
    let b = s.sync(&bob, Some(&tb), 0).await;
    assert_eq!(b["device_lists"]["changed"], json!([alice.user_id]), "{b}");
    let c = s.sync(&carol, Some(&tc), 0).await;
    assert_eq!(c["device_lists"]["changed"], json!([]), "carol shares no room with alice");
    let ch = s.get(&format!("/_matrix/client/v3/keys/changes?from={tb}&to={}", token(&b)), &bob.token).await.ok();
    assert_eq!(ch, json!({"changed": [alice.user_id], "left": []}));
    let none = s.get(&format!("/_matrix/client/v3/keys/changes?from={}", token(&b)), &bob.token).await.ok();
    assert_eq!(none["changed"], json!([]));

    // A new device wakes a room-mate's long poll.
    let tb2 = token(&b);
    let started = std::time::Instant::now();
    let waiting = s.sync(&bob, Some(&tb2), 20_000);
    let login = async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        s.login(&alice.user_id, &alice.password).await.ok();
    };
    let (woken, ()) = tokio::join!(waiting, login);
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "woke after {:?}", started.elapsed());
    assert_eq!(woken["device_lists"]["changed"], json!([alice.user_id]));

    // Renaming a device, or an admin creating one, changes the list too.
    let tb3 = token(&woken);
    s.put(&format!("/_matrix/client/v3/devices/{}", alice.device_id), &alice.token, json!({"display_name": "renamed"})).await.ok();
    let renamed = s.sync(&bob, Some(&tb3), 0).await;
    assert_eq!(renamed["device_lists"]["changed"], json!([alice.user_id]), "{renamed}");
    let admin = s.register_admin("admin").await;
    let tb4 = token(&renamed);
    let path = format!("/_synapse/admin/v2/users/{}/devices", crate::common::enc(&alice.user_id));
    assert_eq!(s.post(&path, &admin.token, json!({"device_id": "NEWDEV"})).await.status, 201);
    let created = s.sync(&bob, Some(&tb4), 0).await;
    assert_eq!(created["device_lists"]["changed"], json!([alice.user_id]), "{created}");

    // A user-signing key is the owner's business: their own devices hear of it, room-mates do
    // not. A master key change is news to both.
    let key = |usage: &str, id: &str| json!({"user_id": alice.user_id, "usage": [usage], "keys": {format!("ed25519:{id}"): id}});
    let path = "/_matrix/client/v3/keys/device_signing/upload";
    s.post(path, &alice.token, json!({"master_key": key("master", "M1")})).await.ok();
    let (tb5, ta5) = (token(&s.sync(&bob, None, 0).await), token(&s.sync(&alice, None, 0).await));
    let auth = json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": alice.user_id}, "password": alice.password});
    s.post(path, &alice.token, json!({"user_signing_key": key("user_signing", "U1"), "auth": auth})).await.ok();
    let private = s.sync(&bob, Some(&tb5), 0).await;
    assert_eq!(private["device_lists"]["changed"], json!([]), "{private}");
    let own = s.sync(&alice, Some(&ta5), 0).await;
    assert_eq!(own["device_lists"]["changed"], json!([alice.user_id]), "{own}");
    let ch = s.get(&format!("/_matrix/client/v3/keys/changes?from={tb5}"), &bob.token).await.ok();
    assert_eq!(ch["changed"], json!([]), "{ch}");
    s.post(path, &alice.token, json!({"self_signing_key": key("self_signing", "S1"), "auth": auth})).await.ok();
    let public = s.sync(&bob, Some(&token(&private)), 0).await;
    assert_eq!(public["device_lists"]["changed"], json!([alice.user_id]), "{public}");

    s.get("/_matrix/client/v3/keys/changes", &bob.token).await.err(400, "M_MISSING_PARAM");
    s.get("/_matrix/client/v3/keys/changes?from=nonsense", &bob.token).await.err(400, "M_INVALID_PARAM");
}

#[actix_rt::test]
async fn cross_signing_signatures_are_checked_and_shown_to_the_right_people() {
    use signing::{key, sign};
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let carol = s.register_user("carol").await;
    let up = "/_matrix/client/v3/keys/signatures/upload";

    // Alice: a device key, then master, self-signing and user-signing keys.
    let dk = key(Some(&alice.device_id));
    let device = json!({
        "user_id": alice.user_id, "device_id": alice.device_id, "algorithms": ["m.megolm.v1.aes-sha2"],
        "keys": {format!("ed25519:{}", alice.device_id): dk.public, format!("curve25519:{}", alice.device_id): "curve"},
    });
    let device = sign(&alice.user_id, &dk, &device);
    s.post("/_matrix/client/v3/keys/upload", &alice.token, json!({"device_keys": device})).await.ok();
    let (m, ss, us) = (key(None), key(None), key(None));
    let cs = |k: &signing::Key, usage: &str, user: &str| json!({"user_id": user, "usage": [usage], "keys": {format!("ed25519:{}", k.public): k.public}});
    let master = cs(&m, "master", &alice.user_id);
    let self_signing = sign(&alice.user_id, &m, &cs(&ss, "self_signing", &alice.user_id));
    let user_signing = sign(&alice.user_id, &m, &cs(&us, "user_signing", &alice.user_id));
    s.post(
        "/_matrix/client/v3/keys/device_signing/upload",
        &alice.token,
        json!({"master_key": master, "self_signing_key": self_signing, "user_signing_key": user_signing}),
    )
    .await
    .ok();
    // Bob has a master key too.
    let bm = key(None);
    let bob_master = cs(&bm, "master", &bob.user_id);
    s.post("/_matrix/client/v3/keys/device_signing/upload", &bob.token, json!({"master_key": bob_master})).await.ok();

    // Alice cross-signs her device (self-signing key), her master key (device key) and Bob (user-signing key).
    let body = json!({
        &alice.user_id: {&alice.device_id: sign(&alice.user_id, &ss, &device), &m.public: sign(&alice.user_id, &dk, &master)},
        &bob.user_id: {&bm.public: sign(&alice.user_id, &us, &bob_master)},
    });
    let r = s.post(up, &alice.token, body).await.ok();
    assert_eq!(r["failures"], json!({}), "{r}");

    let q = s.post("/_matrix/client/v3/keys/query", &bob.token, json!({"device_keys": {&alice.user_id: [], &bob.user_id: []}})).await.ok();
    let dsigs = &q["device_keys"][&alice.user_id][&alice.device_id]["signatures"][&alice.user_id];
    assert!(dsigs[format!("ed25519:{}", ss.public)].is_string() && dsigs[format!("ed25519:{}", alice.device_id)].is_string(), "{q}");
    assert!(q["master_keys"][&alice.user_id]["signatures"][&alice.user_id][format!("ed25519:{}", alice.device_id)].is_string(), "{q}");
    // Alice's signature on Bob's master key is for Alice's eyes: Bob and Carol do not see it.
    assert!(q["master_keys"][&bob.user_id]["signatures"].get(&alice.user_id).is_none(), "{q}");
    let carol_q = s.post("/_matrix/client/v3/keys/query", &carol.token, json!({"device_keys": {&bob.user_id: []}})).await.ok();
    assert!(carol_q["master_keys"][&bob.user_id]["signatures"].get(&alice.user_id).is_none());
    let alice_q = s.post("/_matrix/client/v3/keys/query", &alice.token, json!({"device_keys": {&bob.user_id: []}})).await.ok();
    assert!(alice_q["master_keys"][&bob.user_id]["signatures"][&alice.user_id][format!("ed25519:{}", us.public)].is_string(), "{alice_q}");

    // Refused: a forged signature, a changed object, the wrong signing key, an unknown key, a remote user.
    let forger = key(Some(&ss.public));
    let mut changed = device.clone();
    changed["algorithms"] = json!(["evil"]);
    let body = json!({
        &alice.user_id: {&alice.device_id: sign(&alice.user_id, &forger, &device)},
        &bob.user_id: {&bm.public: sign(&alice.user_id, &ss, &bob_master), "NOPE": sign(&alice.user_id, &us, &bob_master)},
        "@x:elsewhere.example": {"K": {}},
    });
    let r = s.post(up, &alice.token, body).await.ok();
    let f = &r["failures"];
    assert_eq!(f[&alice.user_id][&alice.device_id]["errcode"], "M_INVALID_SIGNATURE", "{r}");
    assert!(f[&bob.user_id][&bm.public]["error"].as_str().unwrap().contains("may not sign"), "{r}");
    assert!(f[&bob.user_id]["NOPE"].is_object() && f["@x:elsewhere.example"]["K"].is_object(), "{r}");
    let r = s.post(up, &alice.token, json!({&alice.user_id: {&alice.device_id: sign(&alice.user_id, &ss, &changed)}})).await.ok();
    assert!(r["failures"][&alice.user_id][&alice.device_id]["error"].as_str().unwrap().contains("differs"), "{r}");
    s.raw("POST", up, Some(&alice.token), b"[".to_vec()).await.err(400, "M_NOT_JSON");
    s.req("POST", up, None, Some(json!({}))).await.err(401, "M_MISSING_TOKEN");
}

#[actix_rt::test]
async fn joining_and_leaving_shared_rooms_change_device_lists() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    let ta = next_batch(&s.sync(&alice, None, 0).await);

    // Bob joins: he is new to alice, in her sync and in /keys/changes.
    s.join(&bob, &room).await.ok();
    let a = s.sync(&alice, Some(&ta), 0).await;
    assert_eq!(a["device_lists"]["changed"], json!([bob.user_id]), "{a}");
    let ch = s.get(&format!("/_matrix/client/v3/keys/changes?from={ta}&to={}", next_batch(&a)), &alice.token).await.ok();
    assert_eq!(ch, json!({"changed": [bob.user_id], "left": []}));
    // And alice is new to bob.
    let tb = next_batch(&s.sync(&bob, None, 0).await);

    // Bob leaves their only shared room: he is gone for alice, and she for him.
    let ta2 = next_batch(&a);
    leave(&s, &bob, &room).await.ok();
    let a2 = s.sync(&alice, Some(&ta2), 0).await;
    assert_eq!(a2["device_lists"]["left"], json!([bob.user_id]), "{a2}");
    let b2 = s.sync(&bob, Some(&tb), 0).await;
    assert_eq!(b2["device_lists"]["left"], json!([alice.user_id]), "{b2}");
    let ch = s.get(&format!("/_matrix/client/v3/keys/changes?from={ta2}"), &alice.token).await.ok();
    assert_eq!(ch["left"], json!([bob.user_id]), "{ch}");

    // Leaving one of two shared rooms is not leaving.
    let other = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    s.join(&bob, &room).await.ok();
    s.join(&bob, &other).await.ok();
    let ta3 = next_batch(&s.sync(&alice, None, 0).await);
    leave(&s, &bob, &other).await.ok();
    let a3 = s.sync(&alice, Some(&ta3), 0).await;
    assert_eq!(a3["device_lists"]["left"], json!([]), "{a3}");
}

/// A token far behind (more positions than a woken sync reads by position) still learns who
/// joined and left, through the user's rooms.
#[actix_rt::test]
async fn a_token_thousands_of_events_old_still_learns_of_joins_and_leaves() {
    use futures_util::StreamExt;
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let carol = s.register_user("carol").await;
    let shared = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    s.join(&carol, &shared).await.ok();
    let busy = s.create_room(&bob, json!({"preset": "public_chat"})).await;
    let ta = next_batch(&s.sync(&alice, None, 0).await);
    s.join(&bob, &shared).await.ok();
    leave(&s, &carol, &shared).await.ok();
    // Over 2,000 positions of traffic alice cannot see.
    futures_util::stream::iter(0..2100)
        .map(|i| {
            let (s, bob, busy) = (&s, &bob, &busy);
            async move { s.send_text(bob, busy, &format!("noise {i}")).await }
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
    let a = s.sync(&alice, Some(&ta), 0).await;
    assert_eq!(a["device_lists"]["changed"], json!([bob.user_id]), "{}", a["device_lists"]);
    assert_eq!(a["device_lists"]["left"], json!([carol.user_id]), "{}", a["device_lists"]);
}

#[actix_rt::test]
async fn queried_devices_carry_unsigned_and_the_unstable_prefix_serves_keys() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    s.post("/_matrix/client/v3/keys/upload", &alice.token, json!({"device_keys": device_keys(&alice)})).await.ok();
    let q = s.post("/_matrix/client/v3/keys/query", &alice.token, json!({"device_keys": {&alice.user_id: []}})).await.ok();
    let dev = &q["device_keys"][&alice.user_id][&alice.device_id];
    assert!(dev["unsigned"].is_object(), "{q}");
    let master = json!({"user_id": alice.user_id, "usage": ["master"], "keys": {"ed25519:M": "M"}});
    let body = json!({"master_key": master, "auth": {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": alice.user_id}, "password": alice.password}});
    s.post("/_matrix/client/unstable/keys/device_signing/upload", &alice.token, body).await.ok();
    let q = s.post("/_matrix/client/unstable/keys/query", &alice.token, json!({"device_keys": {&alice.user_id: []}})).await.ok();
    assert_eq!(q["master_keys"][&alice.user_id]["keys"], json!({"ed25519:M": "M"}), "{q}");
}
