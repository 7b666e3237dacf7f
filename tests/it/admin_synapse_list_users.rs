//! The Synapse admin user list (`GET /v2/users` and `/v3/users`): every order key paginated in
//! order against a model of the seeded accounts, and every filter.

use crate::common::*;
use serde_json::{Value, json};
use std::collections::BTreeSet;

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

/// The list's `total` without a name or ID filter comes from counts the store keeps as users
/// change: each flag switched on and off again, and each filter's total checked against the
/// users the same request lists.
#[actix_rt::test]
async fn list_totals_follow_flags_switched_on_and_off() {
    let s = TestServer::start().await;
    let admin = s.register_admin("boss").await;
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(s.register_user(&format!("flagged{i}")).await.user_id);
    }
    let filters = [
        "v2/users?limit=1000",
        "v2/users?limit=1000&guests=false",
        "v2/users?limit=1000&deactivated=true",
        "v2/users?limit=1000&locked=true",
        "v2/users?limit=1000&admins=true",
        "v2/users?limit=1000&admins=false",
        "v3/users?limit=1000",
        "v3/users?limit=1000&deactivated=true",
        "v3/users?limit=1000&deactivated=false&admins=true",
        "v3/users?limit=1000&locked=true",
        "v3/users?limit=1000&locked=true&deactivated=true&admins=false",
    ];
    let check = |step: &'static str| {
        let s = &s;
        let admin = &admin;
        async move {
            let mut totals = Vec::new();
            for f in filters {
                let b = aget(s, &admin.token, &sa(f)).await.ok();
                let listed = b["users"].as_array().unwrap().len();
                assert_eq!(b["total"], listed, "{step}: {f}: {b}");
                totals.push(listed);
            }
            totals
        }
    };
    let start = check("start").await;
    assert_eq!(start[6], 7, "{start:?}");
    aput(&s, &admin.token, &v1_user(&ids[0], "admin"), json!({"admin": true})).await.ok();
    aput(&s, &admin.token, &v2_user(&ids[1]), json!({"locked": true})).await.ok();
    apost(&s, &admin.token, &sa(&format!("v1/deactivate/{}", enc(&ids[2]))), json!({})).await.ok();
    aput(&s, &admin.token, &v2_user(&ids[3]), json!({"locked": true, "admin": true})).await.ok();
    aput(&s, &admin.token, &v2_user(&ids[4]), json!({"deactivated": true})).await.ok();
    let changed = check("flags on").await;
    assert_eq!(changed[4], 2, "two admins listed by default: {changed:?}");
    assert_eq!(changed[10], 2, "deactivated, not admin: {changed:?}");
    assert_eq!(changed[9], 7, "{changed:?}");
    assert_eq!(changed[0], 3, "{changed:?}");
    aput(&s, &admin.token, &v1_user(&ids[0], "admin"), json!({"admin": false})).await.ok();
    aput(&s, &admin.token, &v2_user(&ids[1]), json!({"locked": false})).await.ok();
    aput(&s, &admin.token, &v2_user(&ids[2]), json!({"deactivated": false, "password": "back-again-pw"})).await.ok();
    aput(&s, &admin.token, &v2_user(&ids[3]), json!({"locked": false, "admin": false})).await.ok();
    aput(&s, &admin.token, &v2_user(&ids[4]), json!({"deactivated": false, "password": "back-pw-2"})).await.ok();
    assert_eq!(check("flags off").await, start);
    // A new user counts at once.
    aput(&s, &admin.token, &v2_user(&local("newcomer")), json!({"password": "newcomer-pw"})).await;
    let more = check("one more").await;
    assert_eq!(more[6], start[6] + 1);
}
