//! A user's sessions through the Synapse admin API: devices (list, rename, delete), pushers and
//! `whois` with its connections (per device on the client path, all under `""` on Synapse's).

use crate::common::*;
use serde_json::{Value, json};
use std::collections::BTreeSet;

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

    for path in
        [format!("/_matrix/client/v3/admin/whois/{}", enc(&bob.user_id)), format!("/_matrix/client/r0/admin/whois/{}", enc(&bob.user_id))]
    {
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

    // Synapse's path: every connection under the one device "", which the admin UIs read.
    let w = s.get(&format!("/_synapse/admin/v1/whois/{}", enc(&bob.user_id)), &admin.token).await.ok();
    assert_eq!(w["user_id"], bob.user_id);
    assert_eq!(w["devices"].as_object().map(|d| d.keys().cloned().collect::<Vec<_>>()), Some(vec![String::new()]), "{w}");
    let all = connections(&w, "");
    let agents: BTreeSet<&str> = all.iter().filter_map(|c| c["user_agent"].as_str()).collect();
    assert!(["EnsembleTest/1.0", "OtherClient/2.0", "Phone/3.0"].iter().all(|a| agents.contains(a)), "{w}");
    assert!(all.iter().all(|c| c["ip"] == "127.0.0.1" && c["last_seen"].is_i64() && c.as_object().unwrap().len() == 3), "{w}");

    // last_seen moves forward.
    let w1 = s.get(&format!("/_matrix/client/v3/admin/whois/{}", enc(&bob.user_id)), &admin.token).await.ok();
    let seen = |w: &Value| {
        connections(w, &bob.device_id).iter().find(|c| c["user_agent"] == "EnsembleTest/1.0").unwrap()["last_seen"].as_i64().unwrap()
    };
    let before = seen(&w1);
    eventually(10, || async { (ensemble::ids::now_ms() > before).then_some(()) }).await;
    request_with_agent(&s, &bob.token, "EnsembleTest/1.0").await;
    let w2 = s.get(&format!("/_matrix/client/v3/admin/whois/{}", enc(&bob.user_id)), &admin.token).await.ok();
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
        let device = if prefix.starts_with("/_synapse") { "" } else { bob.device_id.as_str() };
        assert!(w["devices"][device].is_object(), "{w}");
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
    // Past 100 characters: 400 M_TOO_LARGE (as Synapse), the name unchanged.
    let long = json!({"display_name": "n".repeat(101)});
    aput(&s, &admin.token, &device_path(&bob.user_id, &bob.device_id), long).await.err(400, "M_TOO_LARGE");
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

/// The periodic write passes over a sighting written less than a minute before; an admin's read
/// still shows its latest time, since reads write everything first.
#[actix_rt::test]
async fn busy_connections_are_written_once_a_minute_and_read_exactly() {
    use ensemble::auth::client_ips::REWRITE_GAP_MS;
    let s = TestServer::start().await;
    let svc = &s.server.services;
    let admin = s.register_admin("root").await;
    let bob = s.register_user("bob").await;
    let seen = || ensemble::store::client_ips::Seen {
        user_id: bob.user_id.clone(),
        device_id: bob.device_id.clone(),
        ip: "127.0.0.7".into(),
        user_agent: "Busy/1.0".into(),
    };
    let stored = || async {
        let u = bob.user_id.clone();
        let rows = svc.db.run(move |c| ensemble::store::client_ips::connections(c, &u)).await.expect("store");
        rows.into_iter().find(|(_, ip, _, _)| ip == "127.0.0.7").map(|(_, _, _, ts)| ts)
    };
    svc.client_ips.note(seen(), 1_000);
    svc.client_ips.flush_due(&svc.db).await.expect("write");
    assert_eq!(stored().await, Some(1_000), "never written: due");
    svc.client_ips.note(seen(), 2_000);
    svc.client_ips.flush_due(&svc.db).await.expect("write");
    assert_eq!(stored().await, Some(1_000), "written a second before: passed over");
    svc.client_ips.note(seen(), 1_000 + REWRITE_GAP_MS);
    svc.client_ips.flush_due(&svc.db).await.expect("write");
    assert_eq!(stored().await, Some(1_000 + REWRITE_GAP_MS), "a minute on: due again");

    svc.client_ips.note(seen(), 2_000 + REWRITE_GAP_MS);
    svc.client_ips.flush_due(&svc.db).await.expect("write");
    let w = s.get(&format!("/_synapse/admin/v1/whois/{}", enc(&bob.user_id)), &admin.token).await.ok();
    let busy: Vec<Value> = connections(&w, "").into_iter().filter(|c| c["ip"] == "127.0.0.7").collect();
    assert_eq!(busy.len(), 1, "{w}");
    assert_eq!(busy[0]["last_seen"], 2_000 + REWRITE_GAP_MS, "the read wrote what was pending: {w}");
}
