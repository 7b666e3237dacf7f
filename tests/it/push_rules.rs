//! The push rules API: listing at each level, adding rules of every kind with `before`/`after`,
//! replacing, deleting, enabling and changing the actions of user and server-default rules,
//! the 400s and 404s of bad paths and bodies, and changes reaching `/sync` as `m.push_rules`.

use crate::common::*;
use serde_json::{Value, json};

const V3: &str = "/_matrix/client/v3";

fn rule_path(kind: &str, id: &str) -> String {
    format!("{V3}/pushrules/global/{kind}/{}", enc(id))
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array().map(|a| a.iter().filter_map(|r| r["rule_id"].as_str().map(str::to_owned)).collect()).unwrap_or_default()
}

#[actix_rt::test]
async fn rules_of_every_kind_are_added_and_listed_at_every_level() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let cases = [
        ("room", "#spam:example.com", json!({})),
        ("room", "!aroom:example.com", json!({})),
        ("sender", "@bob:example.com", json!({})),
        ("content", "my_content_rule", json!({"pattern": "my_pattern"})),
        ("content", "тест", json!({"pattern": "тест"})),
        ("override", "my_override_rule", json!({"conditions": [{"kind": "event_match", "key": "content.msgtype", "pattern": "m.notice"}]})),
        (
            "underride",
            "my_underride_rule",
            json!({"conditions": [{"kind": "event_match", "key": "content.msgtype", "pattern": "m.notice"}]}),
        ),
    ];
    for (kind, id, extra) in cases {
        let mut body = json!({"actions": ["notify"]});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        s.put(&rule_path(kind, id), &alice.token, body).await.ok();
        let rule = s.get(&rule_path(kind, id), &alice.token).await.ok();
        assert_eq!(rule["rule_id"], id, "{rule}");
        assert_eq!(rule["enabled"], true, "{rule}");
        assert_eq!(rule["default"], false, "{rule}");
        assert_eq!(rule["actions"], json!(["notify"]), "{rule}");
        let of_kind = s.get(&format!("{V3}/pushrules/global/{kind}/"), &alice.token).await.ok();
        assert!(ids(&of_kind).contains(&id.to_owned()), "{of_kind}");
        let scope = s.get(&format!("{V3}/pushrules/global/"), &alice.token).await.ok();
        assert!(ids(&scope[kind]).contains(&id.to_owned()), "{scope}");
        let all = s.get(&format!("{V3}/pushrules/"), &alice.token).await.ok();
        assert!(ids(&all["global"][kind]).contains(&id.to_owned()), "{all}");
        let enabled = s.get(&format!("{}/enabled", rule_path(kind, id)), &alice.token).await.ok();
        assert_eq!(enabled, json!({"enabled": true}));
        let actions = s.get(&format!("{}/actions", rule_path(kind, id)), &alice.token).await.ok();
        assert_eq!(actions, json!({"actions": ["notify"]}));
    }
    // A user override rule comes after the master rule, before the other defaults.
    let overrides = ids(&s.get(&format!("{V3}/pushrules/global/override/"), &alice.token).await.ok());
    assert_eq!(overrides[..2], [".m.rule.master".to_owned(), "my_override_rule".to_owned()]);
}

#[actix_rt::test]
async fn new_rules_go_first_and_before_and_after_place_them() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let put = |id: &'static str, q: &'static str| {
        let (s, t) = (&s, alice.token.clone());
        async move { s.put(&format!("{}{q}", rule_path("room", id)), &t, json!({"actions": ["notify"]})).await }
    };
    put("#a:x", "").await.ok();
    put("#b:x", "").await.ok();
    let rooms = || async { ids(&s.get(&format!("{V3}/pushrules/global/room/"), &alice.token).await.ok()) };
    assert_eq!(rooms().await, ["#b:x", "#a:x"]);
    put("#c:x", "?before=%23a%3Ax").await.ok();
    assert_eq!(rooms().await, ["#b:x", "#c:x", "#a:x"]);
    put("#d:x", "?after=%23a%3Ax").await.ok();
    assert_eq!(rooms().await, ["#b:x", "#c:x", "#a:x", "#d:x"]);
    // Moving an existing rule.
    put("#b:x", "?after=%23d%3Ax").await.ok();
    assert_eq!(rooms().await, ["#c:x", "#a:x", "#d:x", "#b:x"]);
    // An unknown anchor is 404; a server-default anchor 400; both leave the rules alone.
    put("#e:x", "?before=%23nope%3Ax").await.err(404, "M_NOT_FOUND");
    s.put(&format!("{}?after=.m.rule.master", rule_path("override", "o")), &alice.token, json!({"actions": [], "conditions": []}))
        .await
        .err(400, "M_UNKNOWN");
    assert_eq!(rooms().await, ["#c:x", "#a:x", "#d:x", "#b:x"]);
}

#[actix_rt::test]
async fn adding_twice_replaces_and_keeps_enabled_then_delete_removes() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let p = rule_path("sender", "@bob:example.com");
    s.put(&p, &alice.token, json!({"actions": ["notify"]})).await.ok();
    s.put(&format!("{p}/enabled"), &alice.token, json!({"enabled": false})).await.ok();
    s.put(&p, &alice.token, json!({"actions": ["dont_notify"]})).await.ok();
    let senders = s.get(&format!("{V3}/pushrules/global/sender/"), &alice.token).await.ok();
    assert_eq!(ids(&senders), ["@bob:example.com"]);
    assert_eq!(senders[0]["enabled"], false, "{senders}");
    assert_eq!(senders[0]["actions"], json!(["dont_notify"]), "{senders}");

    s.req("DELETE", &p, Some(&alice.token), None).await.ok();
    s.get(&p, &alice.token).await.err(404, "M_NOT_FOUND");
    s.req("DELETE", &p, Some(&alice.token), None).await.err(404, "M_NOT_FOUND");
    // Server-default rules stay.
    s.req("DELETE", &rule_path("override", ".m.rule.master"), Some(&alice.token), None).await.err(403, "M_FORBIDDEN");
    s.get(&rule_path("override", ".m.rule.master"), &alice.token).await.ok();
}

#[actix_rt::test]
async fn default_rules_can_be_disabled_and_given_actions_but_not_created() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let all = s.get(&format!("{V3}/pushrules/"), &alice.token).await.ok();
    let mut n = 0;
    for kind in ["override", "content", "room", "sender", "underride"] {
        for id in ids(&all["global"][kind]) {
            let p = rule_path(kind, &id);
            s.put(&format!("{p}/enabled"), &alice.token, json!({"enabled": false})).await.ok();
            assert_eq!(s.get(&format!("{p}/enabled"), &alice.token).await.ok(), json!({"enabled": false}), "{id}");
            s.put(&format!("{p}/actions"), &alice.token, json!({"actions": ["dont_notify"]})).await.ok();
            assert_eq!(s.get(&format!("{p}/actions"), &alice.token).await.ok(), json!({"actions": ["dont_notify"]}), "{id}");
            n += 1;
        }
    }
    assert!(n >= 10, "{all}");
    // Still every default, in the same order, each changed.
    let after = s.get(&format!("{V3}/pushrules/"), &alice.token).await.ok();
    assert_eq!(ids(&after["global"]["override"]), ids(&all["global"]["override"]));
    assert!(after["global"]["underride"].as_array().unwrap().iter().all(|r| r["enabled"] == false && r["default"] == true));

    s.put(&rule_path("override", ".my.rule"), &alice.token, json!({"actions": [], "conditions": []})).await.err(400, "M_UNKNOWN");
    s.put(&format!("{}/enabled", rule_path("override", ".not.a.default.rule")), &alice.token, json!({"enabled": true}))
        .await
        .err(404, "M_NOT_FOUND");
    s.put(&format!("{}/actions", rule_path("override", ".not.a.default.rule")), &alice.token, json!({"actions": ["notify"]}))
        .await
        .err(404, "M_NOT_FOUND");
    s.put(&format!("{}/actions", rule_path("sender", "@bob:example.com")), &alice.token, json!({"actions": ["notify"]}))
        .await
        .err(404, "M_NOT_FOUND");
}

#[actix_rt::test]
async fn bad_paths_and_bodies_are_refused() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let t = &alice.token;
    let cond = json!([{"kind": "event_match", "key": "content.body", "pattern": "x"}]);
    let puts_400 = [
        ("/", json!({})),
        ("/not_a_scope/room/%23spam%3Aexample.com", json!({"actions": ["notify"]})),
        ("/global", json!({})),
        ("/global/room", json!({})),
        ("/global/room/", json!({"actions": ["notify"]})),
        ("/global/not_a_template/foo", json!({"actions": ["notify"]})),
        ("/global/room/%23fo%5Co%3Aexample.com", json!({"actions": ["notify"]})),
        ("/global/room/a%2Fb", json!({"actions": ["notify"]})),
        ("/global/override/my_id", json!({"actions": ["notify"]})),
        ("/global/underride/my_id", json!({"actions": ["notify"]})),
        ("/global/underride/my_id", json!({"actions": ["notify"], "conditions": [{}]})),
        ("/global/content/my_id", json!({"actions": ["notify"]})),
        ("/global/room/%23my_room%3Aexample.com", json!({})),
        ("/global/room/%23my_room%3Aexample.com", json!({"actions": ["not_an_action"]})),
        ("/global/room/%23my_room%3Aexample.com", json!({"actions": "notify"})),
        ("/global/override/.m.rule.master/not_an_attr", json!({"enabled": true})),
        ("/global/override/.m.rule.master/enabled", json!({"enabled": "not a boolean"})),
        ("/global/override/.m.rule.master/actions", json!({"actions": [{"no_tweak": 1}]})),
        ("/global/underride/my_id", json!({"actions": ["notify"], "conditions": vec![cond[0].clone(); 50]})),
    ];
    for (path, body) in puts_400 {
        let r = s.put(&format!("{V3}/pushrules{path}"), t, body.clone()).await;
        assert_eq!(r.status, 400, "PUT {path} {body}: {}", r.body);
        assert!(r.body["errcode"].is_string(), "{}", r.body);
    }
    for path in ["/global", "/global/room", "/not_a_scope/", "/global/not_a_template/", "/global/override/.m.rule.master/not_an_attr"] {
        let r = s.get(&format!("{V3}/pushrules{path}"), t).await;
        assert_eq!(r.status, 400, "GET {path}: {}", r.body);
    }
    s.get(&format!("{V3}/pushrules/global/override/not_a_rule_id"), t).await.err(404, "M_NOT_FOUND");
    s.get(&format!("{V3}/pushrules"), t).await.err(404, "M_UNRECOGNIZED");
    s.req("GET", &format!("{V3}/pushrules/"), None, None).await.err(401, "M_MISSING_TOKEN");
    s.req("POST", &format!("{V3}/pushrules/global/room/x"), Some(t), Some(json!({}))).await.err(405, "M_UNRECOGNIZED");
    // Nothing of the above was stored.
    let all = s.get(&format!("{V3}/pushrules/"), t).await.ok();
    assert!(ids(&all["global"]["room"]).is_empty(), "{all}");
    assert_eq!(ids(&all["global"]["content"]), [".m.rule.contains_user_name"], "{all}");
}

#[actix_rt::test]
async fn the_legacy_mention_rules_are_served_where_synapse_puts_them() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let all = s.get(&format!("{V3}/pushrules/"), &alice.token).await.ok();
    let over = ids(&all["global"]["override"]);
    let at = |id: &str| over.iter().position(|r| r == id).unwrap_or_else(|| panic!("{id} missing: {over:?}"));
    assert_eq!(at(".m.rule.contains_display_name"), at(".m.rule.is_user_mention") + 1, "{over:?}");
    assert_eq!(at(".m.rule.roomnotif"), at(".m.rule.is_room_mention") + 1, "{over:?}");
    let content = &all["global"]["content"][0];
    assert_eq!(content["rule_id"], ".m.rule.contains_user_name");
    assert_eq!(content["pattern"], "alice", "{content}");
    assert_eq!(content["default"], true);
    // They behave as other default rules: they can be disabled, not deleted.
    let path = rule_path("content", ".m.rule.contains_user_name");
    s.put(&format!("{path}/enabled"), &alice.token, json!({"enabled": false})).await.ok();
    let one = s.get(&path, &alice.token).await.ok();
    assert_eq!(one["enabled"], false, "{one}");
    let r = s.req("DELETE", &path, Some(&alice.token), None).await;
    assert!(r.status == 400 || r.status == 403 || r.status == 404, "{}: {}", r.status, r.body);
    assert_eq!(s.get(&path, &alice.token).await.ok()["rule_id"], ".m.rule.contains_user_name");
}

#[actix_rt::test]
async fn changes_reach_sync_as_push_rules_account_data() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let initial = s.sync(&alice, None, 0).await;
    let events = initial["account_data"]["events"].as_array().cloned().unwrap_or_default();
    let defaults = events.iter().find(|e| e["type"] == "m.push_rules").unwrap_or_else(|| panic!("defaults missing: {initial}"));
    assert!(ids(&defaults["content"]["global"]["underride"]).contains(&".m.rule.message".to_owned()), "{defaults}");
    let since = next_batch(&initial);
    s.put(&rule_path("sender", "@bob:example.com"), &alice.token, json!({"actions": ["dont_notify"]})).await.ok();
    let sync = s.sync(&alice, Some(&since), 5_000).await;
    let events = sync["account_data"]["events"].as_array().cloned().unwrap_or_default();
    let rules = events.iter().find(|e| e["type"] == "m.push_rules").unwrap_or_else(|| panic!("{sync}"));
    assert_eq!(ids(&rules["content"]["global"]["sender"]), ["@bob:example.com"]);
    assert!(ids(&rules["content"]["global"]["override"]).contains(&".m.rule.master".to_owned()));
    // Clients cannot write it as plain account data.
    let path = format!("{V3}/user/{}/account_data/m.push_rules", enc(&alice.user_id));
    s.put(&path, &alice.token, json!({"global": {}})).await.err(400, "M_BAD_JSON");
}

#[actix_rt::test]
async fn rules_survive_a_restart() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    s.put(&rule_path("content", "kw"), &alice.token, json!({"actions": ["notify"], "pattern": "cake"})).await.ok();
    s.put(&format!("{}/enabled", rule_path("override", ".m.rule.suppress_notices")), &alice.token, json!({"enabled": false})).await.ok();
    let s = s.restart().await;
    assert_eq!(s.get(&rule_path("content", "kw"), &alice.token).await.ok()["pattern"], "cake");
    let r = s.get(&format!("{}/enabled", rule_path("override", ".m.rule.suppress_notices")), &alice.token).await.ok();
    assert_eq!(r, json!({"enabled": false}));
}
