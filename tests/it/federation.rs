//! Two (or three) real servers on loopback, each named after its TLS port: X-Matrix signed
//! requests, the key and device-list endpoints, and Dendrite's `refreshDevices` end to end.

use crate::common::*;
use serde_json::{Value, json};

fn device_keys(user: &User, device: &str, curve: &str) -> Value {
    json!({
        "user_id": user.user_id,
        "device_id": device,
        "algorithms": ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
        "keys": {format!("curve25519:{device}"): curve, format!("ed25519:{device}"): format!("ed-{curve}")},
        "signatures": {user.user_id.clone(): {format!("ed25519:{device}"): format!("sig-{curve}")}},
    })
}

async fn upload(s: &TestServer, user: &User, device: &str, curve: &str) {
    let keys = device_keys(user, device, curve);
    s.post("/_matrix/client/v3/keys/upload", &user.token, json!({"device_keys": keys})).await.ok();
}

async fn query(s: &TestServer, user: &User, target: &str) -> Value {
    s.post("/_matrix/client/v3/keys/query", &user.token, json!({"device_keys": {target: []}})).await.ok()
}

fn device_ids(answer: &Value, user: &str) -> Vec<String> {
    let mut ids: Vec<String> = answer["device_keys"][user].as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
    ids.sort();
    ids
}

async fn refresh(s: &TestServer, admin: &User, user: &str) -> crate::common::Resp {
    s.req("POST", &format!("/_dendrite/admin/refreshDevices/{}", enc(user)), Some(&admin.token), None).await
}

/// A "homeserver" on loopback that answers every request with 200 and a body of `bytes` bytes
/// without a length, as a hostile server could; returns its name.
fn hostile_server(pki: &Pki, bytes: usize) -> String {
    use actix_web::{App, HttpResponse, HttpServer, web};
    let tls = ensemble::federation::tls::server_config(&pki.cert, &pki.key).expect("TLS config");
    let server = HttpServer::new(move || {
        App::new().default_service(web::to(move || async move {
            let chunk = web::Bytes::from(vec![b' '; 64 * 1024]);
            let chunks = futures_util::stream::iter((0..bytes / chunk.len()).map(move |_| Ok::<_, std::io::Error>(chunk.clone())));
            HttpResponse::Ok().content_type("application/json").streaming(chunks)
        }))
    })
    .workers(1)
    .disable_signals()
    .bind_rustls_0_23("127.0.0.1:0", tls)
    .expect("bind");
    let port = server.addrs()[0].port();
    actix_rt::spawn(server.run());
    format!("127.0.0.1:{port}")
}

#[actix_rt::test]
async fn refresh_devices_replaces_the_stored_device_list_with_the_remote_answer() {
    let pki = Pki::new();
    let a = TestServer::start_federating(&pki, &pki.ca).await;
    let b = TestServer::start_federating(&pki, &pki.ca).await;
    let admin = a.register_admin("admin").await;
    let alice = a.register_user("alice").await;
    let bob = b.register_user("bob").await;
    upload(&b, &bob, &bob.device_id, "first").await;
    let master = json!({"user_id": bob.user_id, "usage": ["master"], "keys": {"ed25519:MASTER": "MASTER"}});
    b.post("/_matrix/client/v3/keys/device_signing/upload", &bob.token, json!({"master_key": master})).await.ok();

    // The first query for a user nobody tracked fetches their list over federation and stores it.
    let first = query(&a, &alice, &bob.user_id).await;
    assert_eq!(first["failures"], json!({}), "{first}");
    assert_eq!(device_ids(&first, &bob.user_id), vec![bob.device_id.clone()]);
    assert_eq!(
        signed_part(&first["device_keys"][&bob.user_id][&bob.device_id]),
        device_keys(&bob, &bob.device_id, "first"),
        "keys arrive as signed"
    );
    assert_eq!(first["master_keys"][&bob.user_id], master);

    // Bob replaces his device; A keeps answering from what it stored until told to refresh.
    let second = b.login(&bob.user_id, &bob.password).await.ok();
    let second_device = second["device_id"].as_str().unwrap().to_owned();
    let bob2 = User { token: second["access_token"].as_str().unwrap().into(), device_id: second_device.clone(), ..bob.clone() };
    upload(&b, &bob2, &second_device, "second").await;
    b.post("/_matrix/client/v3/logout", &bob.token, json!({})).await.ok();
    assert_eq!(device_ids(&query(&a, &alice, &bob.user_id).await, &bob.user_id), vec![bob.device_id.clone()], "stale until refreshed");

    assert_eq!(refresh(&a, &admin, &bob.user_id).await.ok(), json!({}));
    let after = query(&a, &alice, &bob.user_id).await;
    assert_eq!(device_ids(&after, &bob.user_id), vec![second_device.clone()], "the old device is gone, the new one is there");
    assert_eq!(signed_part(&after["device_keys"][&bob.user_id][&second_device]), device_keys(&bob2, &second_device, "second"));
    assert_eq!(after["master_keys"][&bob.user_id], master);
    // Device names stay private by default (Synapse's allow_device_name_lookup_over_federation).
    assert!(after["device_keys"][&bob.user_id][&second_device]["unsigned"].get("device_display_name").is_none(), "{after}");

    // The remote going away later fails the refresh and leaves the stored list as it was.
    b.server.stop().await;
    let gone = refresh(&a, &admin, &bob.user_id).await;
    gone.err(502, "M_UNKNOWN");
    assert!(gone.body["error"].as_str().unwrap().contains(bob.user_id.split_once(':').unwrap().1), "{}", gone.body);
    assert_eq!(device_ids(&query(&a, &alice, &bob.user_id).await, &bob.user_id), vec![second_device]);
}

#[actix_rt::test]
async fn refresh_devices_errors() {
    let pki = Pki::new();
    let a = TestServer::start_federating(&pki, &pki.ca).await;
    let admin = a.register_admin("admin").await;
    let alice = a.register_user("alice").await;

    refresh(&a, &admin, &alice.user_id).await.err(400, "M_INVALID_PARAM");
    refresh(&a, &admin, "not-a-user-id").await.err(400, "M_INVALID_PARAM");
    refresh(&a, &alice, "@bob:127.0.0.1:9").await.err(403, "M_FORBIDDEN");
    a.req("POST", &format!("/_dendrite/admin/refreshDevices/{}", enc("@bob:127.0.0.1:9")), None, None).await.err(401, "M_MISSING_TOKEN");
    let get = a.req("GET", &format!("/_dendrite/admin/refreshDevices/{}", enc("@bob:127.0.0.1:9")), Some(&admin.token), None).await;
    get.err(405, "M_UNRECOGNIZED");

    // Nothing listens on a port we just closed.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let nobody = format!("@bob:127.0.0.1:{closed}");
    let r = refresh(&a, &admin, &nobody).await;
    r.err(502, "M_UNKNOWN");
    assert!(r.body["error"].as_str().unwrap().contains("unreachable"), "{}", r.body);
    // Nothing was stored for the unreachable user: a client query reports the server as failed.
    let q = query(&a, &alice, &nobody).await;
    let failure = &q["failures"][format!("127.0.0.1:{closed}")];
    assert!(failure.is_object(), "{q}");
    assert_eq!(q["device_keys"].get(&nobody), None);
    // Clients' queries do not wait on a server that just failed; an admin's refresh still tries.
    assert!(failure["message"].as_str().unwrap().contains("not retried"), "{q}");
    let again = refresh(&a, &admin, &nobody).await;
    again.err(502, "M_UNKNOWN");
    assert!(!again.body["error"].as_str().unwrap().contains("not retried"), "{}", again.body);
}

#[actix_rt::test]
async fn certificates_and_signatures_are_checked_both_ways() {
    let pki = Pki::new();
    let a = TestServer::start_federating(&pki, &pki.ca).await;
    let b = TestServer::start_federating(&pki, &pki.ca).await;
    // C trusts another CA only: B's certificate is not good enough for it.
    let c = TestServer::start_federating(&pki, &pki.other_ca).await;
    let bob = b.register_user("bob").await;

    let c_admin = c.register_admin("admin").await;
    let r = refresh(&c, &c_admin, &bob.user_id).await;
    r.err(502, "M_UNKNOWN");
    assert!(r.body["error"].as_str().unwrap().to_lowercase().contains("certificate"), "{}", r.body);

    // A trusts C's certificate, but C cannot fetch A's key (it does not trust A's certificate)
    // to check the signature, so C refuses A's request.
    let a_admin = a.register_admin("admin").await;
    let carol = c.register_user("carol").await;
    let r = refresh(&a, &a_admin, &carol.user_id).await;
    r.err(502, "M_UNKNOWN");
    assert!(r.body["error"].as_str().unwrap().contains("401 M_UNAUTHORIZED"), "{}", r.body);

    // Straight at B's federation API with an HTTPS client that trusts the test CA.
    let https = pki.client();
    let base = format!("https://{}", b.server_name());
    let path = format!("/_matrix/federation/v1/user/devices/{}", enc(&bob.user_id));
    let call = |auth: Option<String>| {
        let mut r = https.get(format!("{base}{path}"));
        if let Some(h) = auth {
            r = r.header("Authorization", h);
        }
        async move {
            let resp = r.send().await.expect("sent");
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.expect("json"))
        }
    };
    let (status, body) = call(None).await;
    assert_eq!((status, body["errcode"].as_str()), (401, Some("M_UNAUTHORIZED")), "{body}");
    let keys = &a.server.services.keys;
    let signed = |dest: &str, uri: &str| ensemble::federation::xmatrix::authorization(keys, "GET", uri, dest, None).unwrap();
    let (status, body) = call(Some(signed(b.server_name(), &path))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user_id"], bob.user_id.as_str());
    assert_eq!(body["devices"][0]["device_id"], bob.device_id.as_str());
    let (status, _) = call(Some(signed("elsewhere.example", &path))).await;
    assert_eq!(status, 401, "signed for another destination");
    let (status, _) = call(Some(signed(b.server_name(), "/_matrix/federation/v1/user/devices/%40eve%3Aelsewhere"))).await;
    assert_eq!(status, 401, "signed for another URI");
    let forged = signed(b.server_name(), &path).replace("key=\"ed25519:", "key=\"ed25519:x");
    let (status, _) = call(Some(forged)).await;
    assert_eq!(status, 401, "a key the origin does not publish");
    let (status, _) = call(Some("X-Matrix nonsense".into())).await;
    assert_eq!(status, 401);
    // A remote user on B's API is not B's to describe.
    let other = format!("/_matrix/federation/v1/user/devices/{}", enc("@x:elsewhere.example"));
    let resp = https.get(format!("{base}{other}")).header("Authorization", signed(b.server_name(), &other)).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 400);

    // The key document is self-signed and names the server; version needs no signature.
    let doc: Value = https.get(format!("{base}/_matrix/key/v2/server")).send().await.unwrap().json().await.unwrap();
    assert_eq!(doc["server_name"], b.server_name());
    assert!(doc["valid_until_ts"].as_i64().unwrap() > ensemble::ids::now_ms());
    let key_id = doc["verify_keys"].as_object().unwrap().keys().next().unwrap().clone();
    assert!(doc["signatures"][b.server_name()][&key_id].is_string(), "{doc}");
    let version: Value = https.get(format!("{base}/_matrix/federation/v1/version")).send().await.unwrap().json().await.unwrap();
    assert_eq!(version["server"]["name"], "Ensemble");
}

#[actix_rt::test]
async fn keys_are_queried_and_claimed_across_servers() {
    let pki = Pki::new();
    let a = TestServer::start_federating(&pki, &pki.ca).await;
    let b = TestServer::start_federating(&pki, &pki.ca).await;
    let alice = a.register_user("alice").await;
    let bob = b.register_user("bob").await;
    let otks = json!({"signed_curve25519:K1": {"key": "one"}, "signed_curve25519:K2": {"key": "two"}});
    b.post(
        "/_matrix/client/v3/keys/upload",
        &bob.token,
        json!({"device_keys": device_keys(&bob, &bob.device_id, "c"), "one_time_keys": otks}),
    )
    .await
    .ok();

    // Alice claims Bob's one-time keys through her server: each is given out once.
    let ask = json!({"one_time_keys": {&bob.user_id: {&bob.device_id: "signed_curve25519"}}});
    let mut got = Vec::new();
    for _ in 0..2 {
        let c = a.post("/_matrix/client/v3/keys/claim", &alice.token, ask.clone()).await.ok();
        assert_eq!(c["failures"], json!({}), "{c}");
        got.extend(c["one_time_keys"][&bob.user_id][&bob.device_id].as_object().unwrap().keys().cloned());
    }
    got.sort();
    assert_eq!(got, vec!["signed_curve25519:K1", "signed_curve25519:K2"]);
    let c = a.post("/_matrix/client/v3/keys/claim", &alice.token, ask).await.ok();
    assert_eq!(c["one_time_keys"], json!({}), "none left: {c}");
    let counts = b.post("/_matrix/client/v3/keys/upload", &bob.token, json!({})).await.ok();
    assert_eq!(counts["one_time_key_counts"]["signed_curve25519"], 0);

    // B's federation keys/query, signed over its body, answers for its own users only.
    let https = pki.client();
    let path = "/_matrix/federation/v1/user/keys/query";
    let body = json!({"device_keys": {&bob.user_id: [], "@x:elsewhere.example": []}});
    let auth = ensemble::federation::xmatrix::authorization(&a.server.services.keys, "POST", path, b.server_name(), Some(&body)).unwrap();
    let url = format!("https://{}{path}", b.server_name());
    let resp = https.post(&url).header("Authorization", &auth).json(&body).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let answer: Value = resp.json().await.unwrap();
    assert_eq!(signed_part(&answer["device_keys"][&bob.user_id][&bob.device_id]), device_keys(&bob, &bob.device_id, "c"));
    assert!(answer["device_keys"].get("@x:elsewhere.example").is_none(), "{answer}");
    // The same signature over another body is refused.
    let other = json!({"device_keys": {"@y:elsewhere.example": []}});
    let resp = https.post(&url).header("Authorization", &auth).json(&other).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 401);
}

#[actix_rt::test]
async fn an_endless_answer_from_another_server_is_cut_off() {
    let pki = Pki::new();
    let a = TestServer::start_federating(&pki, &pki.ca).await;
    let admin = a.register_admin("admin").await;
    let hostile = hostile_server(&pki, 64 * 1024 * 1024);
    let r = refresh(&a, &admin, &format!("@mallory:{hostile}")).await;
    r.err(502, "M_UNKNOWN");
    assert!(r.body["error"].as_str().unwrap().contains("larger than"), "{}", r.body);
    // The server is well and answers as before.
    a.req("GET", "/_matrix/client/versions", None, None).await.ok();
}

/// A device's keys without `unsigned`, which the serving server adds and no signature covers.
fn signed_part(keys: &Value) -> Value {
    let mut keys = keys.clone();
    if let Some(o) = keys.as_object_mut() {
        o.remove("unsigned");
    }
    keys
}
