//! The Dendrite admin dialect over HTTP (`/_dendrite/admin/...`): evacuateRoom, evacuateUser,
//! resetPassword, purgeRoom (also racing a storm of sends and across a restart), fulltext/reindex and
//! refreshDevices (docs: shared/spec/admin-api.md).

use crate::common::*;
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The member events of a room as `viewer` sees them.
async fn members(s: &TestServer, viewer: &User, room: &str) -> Vec<Value> {
    let b = s.get(&room_path(room, "members"), &viewer.token).await.ok();
    b["chunk"].as_array().expect("chunk").clone()
}

fn member_event<'a>(list: &'a [Value], user: &str) -> &'a Value {
    list.iter().find(|e| e["state_key"] == user).unwrap_or_else(|| panic!("no member event for {user} in {list:?}"))
}

fn membership_of(list: &[Value], user: &str) -> String {
    member_event(list, user)["content"]["membership"].as_str().expect("membership").to_owned()
}

fn affected(body: &Value) -> Vec<String> {
    body["affected"]
        .as_array()
        .unwrap_or_else(|| panic!("affected must be a list: {body}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

async fn set_profile(s: &TestServer, u: &User, displayname: &str, avatar: &str) {
    let p = format!("/_matrix/client/v3/profile/{}/displayname", enc(&u.user_id));
    s.put(&p, &u.token, json!({ "displayname": displayname })).await.ok();
    let p = format!("/_matrix/client/v3/profile/{}/avatar_url", enc(&u.user_id));
    s.put(&p, &u.token, json!({ "avatar_url": avatar })).await.ok();
}

async fn search_count(s: &TestServer, u: &User, term: &str) -> u64 {
    let b = s.post("/_matrix/client/v3/search", &u.token, json!({"search_categories": {"room_events": {"search_term": term}}})).await.ok();
    b["search_categories"]["room_events"]["count"].as_u64().expect("count")
}

/// 4 members, 50 sends each, up to 5 in flight per member; `action` is called once 20 sends have
/// been acknowledged. Returns the sends' (sender, response) and the action's response.
async fn storm_racing(s: &TestServer, users: &[User], room: &str, admin: &User, action: &str) -> (Vec<(String, Resp)>, Resp) {
    let acked = AtomicUsize::new(0);
    let acked = &acked;
    let storm = futures_util::future::join_all(users.iter().map(|u| async move {
        futures_util::stream::iter(0..50)
            .map(|i| async move {
                let r = s.send_text_resp(u, room, &format!("storm {} {i}", u.user_id)).await;
                if r.status == 200 {
                    acked.fetch_add(1, Ordering::SeqCst);
                }
                (u.user_id.clone(), r)
            })
            .buffer_unordered(5)
            .collect::<Vec<_>>()
            .await
    }));
    let act = async move {
        eventually(30, || async move { (acked.load(Ordering::SeqCst) >= 20).then_some(()) }).await;
        s.post(&dendrite(&format!("{action}/{}", enc(room))), &admin.token, json!({})).await
    };
    let (results, act) = tokio::time::timeout(Duration::from_secs(60), futures_util::future::join(storm, act))
        .await
        .expect("deadlock: the storm did not finish in 60 s");
    (results.into_iter().flatten().collect(), act)
}

fn check_storm_failures(results: &[(String, Resp)]) {
    for (_, r) in results.iter().filter(|(_, r)| r.status != 200) {
        assert!(r.status == 403 || r.status == 404, "a racing send got {} {}", r.status, r.body);
        let code = r.body["errcode"].as_str().unwrap_or_default();
        assert!(code == "M_FORBIDDEN" || code == "M_NOT_FOUND", "{}", r.body);
        assert!(r.body["error"].is_string(), "{}", r.body);
    }
}

#[actix_rt::test]
async fn evacuate_room_via_get_removes_local_members_and_invites() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let carol = s.register_user("carol").await;
    let dave = s.register_user("dave").await;
    set_profile(&s, &bob, "Bob Builder", "mxc://test.local/bobavatar").await;

    let room = s.create_room(&alice, json!({"preset": "public_chat", "name": "Evacuees"})).await;
    s.join(&bob, &room).await.ok();
    s.invite(&alice, &room, &dave.user_id).await.ok();
    s.join(&carol, &room).await.ok();
    s.send_text(&carol, &room, "before the evacuation").await;
    // Dave sees his invite before.
    let before = s.sync(&dave, None, 0).await;
    assert!(before["rooms"]["invite"][&room].is_object(), "{before}");

    let body = s.get(&dendrite(&format!("evacuateRoom/{}", enc(&room))), &admin.token).await.ok();
    // Joined local users, in membership order (creator first); the invitee is not "affected".
    assert_eq!(affected(&body), vec![alice.user_id.clone(), bob.user_id.clone(), carol.user_id.clone()]);

    for u in [&alice, &bob, &carol] {
        assert!(!s.joined_rooms(u).await.contains(&room), "{} still joined", u.user_id);
        s.send_text_resp(u, &room, "after").await.err(403, "M_FORBIDDEN");
    }
    // They can still read up to their leave; carol left last and sees every leave.
    let list = members(&s, &carol, &room).await;
    for u in [&alice, &bob, &carol] {
        assert_eq!(membership_of(&list, &u.user_id), "leave", "{list:?}");
        // A self-leave.
        assert_eq!(member_event(&list, &u.user_id)["sender"], u.user_id.as_str());
    }
    // The leave keeps the profile.
    let bob_leave = member_event(&list, &bob.user_id);
    assert_eq!(bob_leave["content"]["displayname"], "Bob Builder", "{bob_leave}");
    assert_eq!(bob_leave["content"]["avatar_url"], "mxc://test.local/bobavatar", "{bob_leave}");
    let alice_leave = member_event(&list, &alice.user_id);
    assert_eq!(alice_leave["content"]["displayname"], "alice", "{alice_leave}");
    // Bob reads up to his own leave: his and alice's leaves, carol still joined.
    let bobs_view = members(&s, &bob, &room).await;
    assert_eq!(membership_of(&bobs_view, &bob.user_id), "leave");
    assert_eq!(membership_of(&bobs_view, &alice.user_id), "leave");
    assert_eq!(membership_of(&bobs_view, &carol.user_id), "join");

    // Dave's invite is withdrawn.
    assert_eq!(membership_of(&list, &dave.user_id), "leave");
    let after = s.sync(&dave, None, 0).await;
    assert!(after["rooms"]["invite"].get(&room).is_none(), "{after}");
    s.join(&dave, &room).await.ok(); // a public room: he may still join on his own
    s.post(&room_path(&room, "leave"), &dave.token, json!({})).await.ok();

    // A second call finds nobody.
    let again = s.get(&dendrite(&format!("evacuateRoom/{}", enc(&room))), &admin.token).await.ok();
    assert_eq!(again, json!({"affected": []}));
}

#[actix_rt::test]
async fn evacuate_room_via_post_and_errors() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = s.create_room(&bob, json!({"preset": "public_chat"})).await;
    s.join(&alice, &room).await.ok();
    // The admin is in the room too: evacuating applies to them as well.
    s.join(&admin, &room).await.ok();

    let body = s.post(&dendrite(&format!("evacuateRoom/{}", enc(&room))), &admin.token, json!({})).await.ok();
    assert_eq!(affected(&body), vec![bob.user_id.clone(), alice.user_id.clone(), admin.user_id.clone()]);
    assert!(s.joined_rooms(&admin).await.is_empty());
    assert!(s.joined_rooms(&bob).await.is_empty());
    let again = s.post(&dendrite(&format!("evacuateRoom/{}", enc(&room))), &admin.token, json!({})).await.ok();
    assert_eq!(again, json!({"affected": []}));

    // An empty body is fine for POST too.
    let again = s.req("POST", &dendrite(&format!("evacuateRoom/{}", enc(&room))), Some(&admin.token), None).await.ok();
    assert_eq!(again, json!({"affected": []}));

    s.get(&dendrite(&format!("evacuateRoom/{}", enc("!unknown:test.local"))), &admin.token).await.err(404, "M_NOT_FOUND");
    s.post(&dendrite(&format!("evacuateRoom/{}", enc("!unknown:test.local"))), &admin.token, json!({})).await.err(404, "M_NOT_FOUND");
    s.get(&dendrite("evacuateRoom/not-a-room-id"), &admin.token).await.err(400, "M_INVALID_PARAM");
    s.post(&dendrite(&format!("evacuateRoom/{}", enc("@user:test.local"))), &admin.token, json!({})).await.err(400, "M_INVALID_PARAM");
}

#[actix_rt::test]
async fn evacuate_room_leaves_remote_invites_alone() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({"preset": "private_chat"})).await;
    let invited = s.invite(&alice, &room, "@remote:other.server").await;
    if invited.status != 200 {
        // Remote invites need federation; nothing to check without one.
        return;
    }
    let body = s.get(&dendrite(&format!("evacuateRoom/{}", enc(&room))), &admin.token).await.ok();
    assert_eq!(affected(&body), vec![alice.user_id.clone()]);
    let list = members(&s, &alice, &room).await;
    assert_eq!(membership_of(&list, "@remote:other.server"), "invite", "only local invites are withdrawn");
}

#[actix_rt::test]
async fn evacuate_user_leaves_joined_rooms_and_rejects_invites() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let r1 = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    let r2 = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    let r3 = s.create_room(&alice, json!({"preset": "private_chat"})).await;
    let r4 = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    s.join(&bob, &r1).await.ok();
    s.join(&bob, &r2).await.ok();
    s.invite(&alice, &r3, &bob.user_id).await.ok();
    // A room bob already left is not touched.
    s.join(&bob, &r4).await.ok();
    s.post(&room_path(&r4, "leave"), &bob.token, json!({})).await.ok();

    let body = s.get(&dendrite(&format!("evacuateUser/{}", enc(&bob.user_id))), &admin.token).await.ok();
    let got: HashSet<String> = affected(&body).into_iter().collect();
    assert_eq!(got, HashSet::from([r1.clone(), r2.clone(), r3.clone()]), "{body}");
    assert_eq!(affected(&body).len(), 3, "no room twice: {body}");
    assert!(s.joined_rooms(&bob).await.is_empty());
    for r in [&r1, &r2, &r3] {
        assert_eq!(membership_of(&members(&s, &alice, r).await, &bob.user_id), "leave");
    }
    let sync = s.sync(&bob, None, 0).await;
    assert!(sync["rooms"]["invite"].as_object().is_none_or(|m| m.is_empty()), "{sync}");
    // Alice was not affected.
    assert_eq!(s.joined_rooms(&alice).await.len(), 4);

    // Again: nothing left.
    let again = s.post(&dendrite(&format!("evacuateUser/{}", enc(&bob.user_id))), &admin.token, json!({})).await.ok();
    assert_eq!(again, json!({"affected": []}));
}

#[actix_rt::test]
async fn evacuate_user_via_post_with_a_bare_localpart_and_errors() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    let carol = s.register_user("carol").await;
    let loner = s.register_user("loner").await;
    let r1 = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    let r2 = s.create_room(&carol, json!({})).await;
    s.join(&carol, &r1).await.ok();

    let body = s.post(&dendrite("evacuateUser/carol"), &admin.token, json!({})).await.ok();
    let got: HashSet<String> = affected(&body).into_iter().collect();
    assert_eq!(got, HashSet::from([r1.clone(), r2.clone()]));
    assert!(s.joined_rooms(&carol).await.is_empty());
    assert_eq!(s.joined_rooms(&alice).await, vec![r1.clone()]);

    // Unencoded and percent-encoded IDs in the path are the same.
    assert_eq!(s.get(&dendrite("evacuateUser/@loner:test.local"), &admin.token).await.ok(), json!({"affected": []}));
    // Bare localpart via GET too; a user with no rooms gets an empty list.
    assert_eq!(s.get(&dendrite("evacuateUser/loner"), &admin.token).await.ok(), json!({"affected": []}));
    assert_eq!(
        s.post(&dendrite(&format!("evacuateUser/{}", enc(&loner.user_id))), &admin.token, json!({})).await.ok(),
        json!({"affected": []})
    );

    s.get(&dendrite(&format!("evacuateUser/{}", enc("@x:other.server"))), &admin.token).await.err(400, "M_INVALID_PARAM");
    s.post(&dendrite(&format!("evacuateUser/{}", enc("@x:other.server"))), &admin.token, json!({})).await.err(400, "M_INVALID_PARAM");
    s.get(&dendrite(&format!("evacuateUser/{}", enc("@ghost:test.local"))), &admin.token).await.err(404, "M_NOT_FOUND");
    s.post(&dendrite("evacuateUser/ghost"), &admin.token, json!({})).await.err(404, "M_NOT_FOUND");
    s.get(&dendrite(&format!("evacuateUser/{}", enc("@nocolon"))), &admin.token).await.err(400, "M_INVALID_PARAM");
}

#[actix_rt::test]
async fn reset_password_checks_in_the_documented_order() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let bob = s.register_user("bob").await;
    let bad_json = b"{not json".to_vec();

    // 1. Valid local ID, before anything else (even a malformed body).
    for p in [enc("@nocolon"), enc("@a:b:c:d"), enc("@x:other.server"), enc("@x:bad_server!")] {
        s.raw("POST", &dendrite(&format!("resetPassword/{p}")), Some(&admin.token), bad_json.clone()).await.err(400, "M_INVALID_PARAM");
        s.post(&dendrite(&format!("resetPassword/{p}")), &admin.token, json!({"password": "long-enough-pw"}))
            .await
            .err(400, "M_INVALID_PARAM");
    }
    // 2. The user exists (before the body is looked at).
    for p in [enc("@ghost:test.local"), "ghost".to_owned()] {
        s.raw("POST", &dendrite(&format!("resetPassword/{p}")), Some(&admin.token), bad_json.clone()).await.err(404, "M_NOT_FOUND");
        s.post(&dendrite(&format!("resetPassword/{p}")), &admin.token, json!({"password": "long-enough-pw"})).await.err(404, "M_NOT_FOUND");
    }
    let path = dendrite(&format!("resetPassword/{}", enc(&bob.user_id)));
    // 3. JSON.
    s.raw("POST", &path, Some(&admin.token), bad_json.clone()).await.err(400, "M_NOT_JSON");
    // 4. A non-empty password.
    s.post(&path, &admin.token, json!({})).await.err(400, "M_MISSING_PARAM");
    s.post(&path, &admin.token, json!({"logout_devices": true})).await.err(400, "M_MISSING_PARAM");
    s.post(&path, &admin.token, json!({"password": ""})).await.err(400, "M_MISSING_PARAM");
    s.post(&path, &admin.token, json!({"password": null})).await.err(400, "M_MISSING_PARAM");
    // 5. 8 to 512 bytes (bytes, not characters).
    s.post(&path, &admin.token, json!({"password": "1234567"})).await.err(400, "M_WEAK_PASSWORD");
    s.post(&path, &admin.token, json!({"password": "ééé"})).await.err(400, "M_WEAK_PASSWORD"); // 6 bytes
    s.post(&path, &admin.token, json!({"password": "a".repeat(513)})).await.err(400, "M_INVALID_PARAM");
    s.post(&path, &admin.token, json!({"password": "é".repeat(257)})).await.err(400, "M_INVALID_PARAM"); // 514 bytes
    // Nothing changed so far.
    s.login("bob", &bob.password).await.ok();

    // The bounds themselves are fine.
    assert_eq!(s.post(&path, &admin.token, json!({"password": "éééé"})).await.ok(), json!({"password_updated": true})); // 8 bytes
    s.login("bob", "éééé").await.ok();
    let long = "b".repeat(512);
    assert_eq!(s.post(&path, &admin.token, json!({"password": long})).await.ok(), json!({"password_updated": true}));
    s.login("bob", &long).await.ok();
}

/// The Matrix grammar wants a non-empty localpart and forbids bytes below 0x21 even in historical
/// localparts.
#[actix_rt::test]
async fn reset_password_refuses_localparts_outside_the_matrix_grammar() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    for p in [enc("@:test.local"), enc("bad localpart"), enc("@bad localpart:test.local")] {
        s.post(&dendrite(&format!("resetPassword/{p}")), &admin.token, json!({"password": "long-enough-pw"}))
            .await
            .err(400, "M_INVALID_PARAM");
    }
}

#[actix_rt::test]
async fn reset_password_without_logout_keeps_sessions() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let bob = s.register_user("bob").await;

    let body =
        s.post(&dendrite(&format!("resetPassword/{}", enc(&bob.user_id))), &admin.token, json!({"password": "brand-new-pw"})).await.ok();
    assert_eq!(body, json!({"password_updated": true}));
    s.login("bob", &bob.password).await.err(403, "M_FORBIDDEN");
    let fresh = s.login("bob", "brand-new-pw").await.ok();
    assert_eq!(fresh["user_id"], bob.user_id);
    // The old token still works.
    let who = s.get("/_matrix/client/v3/account/whoami", &bob.token).await.ok();
    assert_eq!(who["user_id"], bob.user_id);

    // Bare localpart, explicit logout_devices: false.
    let body =
        s.post(&dendrite("resetPassword/bob"), &admin.token, json!({"password": "second-new-pw", "logout_devices": false})).await.ok();
    assert_eq!(body, json!({"password_updated": true}));
    s.login("bob", "brand-new-pw").await.err(403, "M_FORBIDDEN");
    s.login("bob", "second-new-pw").await.ok();
    s.get("/_matrix/client/v3/account/whoami", &bob.token).await.ok();
    s.get("/_matrix/client/v3/account/whoami", fresh["access_token"].as_str().unwrap()).await.ok();
}

#[actix_rt::test]
async fn reset_password_with_logout_devices_kills_the_targets_tokens() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let bob = s.register_user("bob").await;
    let other = s.login("bob", &bob.password).await.ok();
    let other = other["access_token"].as_str().unwrap().to_owned();
    // Both tokens work (and are cached).
    s.get("/_matrix/client/v3/account/whoami", &bob.token).await.ok();
    s.get("/_matrix/client/v3/account/whoami", &other).await.ok();

    let body = s.post(&dendrite("resetPassword/bob"), &admin.token, json!({"password": "brand-new-pw", "logout_devices": true})).await.ok();
    assert_eq!(body, json!({"password_updated": true}));
    s.get("/_matrix/client/v3/account/whoami", &bob.token).await.err(401, "M_UNKNOWN_TOKEN");
    s.get("/_matrix/client/v3/account/whoami", &other).await.err(401, "M_UNKNOWN_TOKEN");
    let devices_token = s.login("bob", "brand-new-pw").await.ok();
    let devs = s.get("/_matrix/client/v3/devices", devices_token["access_token"].as_str().unwrap()).await.ok();
    assert_eq!(devs["devices"].as_array().unwrap().len(), 1, "old devices are deleted: {devs}");
    s.login("bob", &bob.password).await.err(403, "M_FORBIDDEN");
    // The admin is unaffected.
    s.get(&dendrite("fulltext/reindex"), &admin.token).await.ok();
}

#[actix_rt::test]
async fn admin_resetting_their_own_password_keeps_the_calling_device() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let second = s.login("root", &admin.password).await.ok();
    let second = second["access_token"].as_str().unwrap().to_owned();
    s.get("/_matrix/client/v3/account/whoami", &second).await.ok();

    let body = s
        .post(
            &dendrite(&format!("resetPassword/{}", enc(&admin.user_id))),
            &admin.token,
            json!({"password": "root-new-pw", "logout_devices": true}),
        )
        .await
        .ok();
    assert_eq!(body, json!({"password_updated": true}));
    // The calling token keeps working, the other session is gone.
    let who = s.get("/_matrix/client/v3/account/whoami", &admin.token).await.ok();
    assert_eq!(who["user_id"], admin.user_id);
    s.get(&dendrite("fulltext/reindex"), &admin.token).await.ok();
    s.get("/_matrix/client/v3/account/whoami", &second).await.err(401, "M_UNKNOWN_TOKEN");
    s.login("root", &admin.password).await.err(403, "M_FORBIDDEN");
    s.login("root", "root-new-pw").await.ok();
}

#[actix_rt::test]
async fn purge_room_makes_the_room_unknown_everywhere() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let carol = s.register_user("carol").await;
    let room = s
        .create_room(
            &alice,
            json!({"preset": "public_chat", "name": "Doomed zanzibar", "topic": "zanzibar topic", "room_alias_name": "doomed"}),
        )
        .await;
    let keep = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    s.join(&bob, &room).await.ok();
    s.invite(&alice, &room, &carol.user_id).await.ok();
    let ev = s.send_text(&bob, &room, "a zanzibar message").await;
    s.send_text(&alice, &keep, "a zanzibar message that stays").await;
    // Room account data and a transaction ID that belong to the room.
    let tags = format!("/_matrix/client/v3/user/{}/rooms/{}/tags", enc(&alice.user_id), enc(&room));
    s.put(&format!("{tags}/m.favourite"), &alice.token, json!({"order": 0.5})).await.ok();
    assert!(s.get(&tags, &alice.token).await.ok()["tags"]["m.favourite"].is_object());
    let txn_body = json!({"msgtype": "m.text", "body": "with a fixed txn"});
    s.put(&room_path(&room, "send/m.room.message/fixed-txn"), &alice.token, txn_body.clone()).await.ok();
    flush_search(&s).await;
    assert_eq!(search_count(&s, &alice, "zanzibar").await, 4);
    assert_eq!(search_count(&s, &bob, "zanzibar").await, 3);

    let body = s.post(&dendrite(&format!("purgeRoom/{}", enc(&room))), &admin.token, json!({})).await.ok();
    assert_eq!(body, json!({}));

    // Unknown everywhere, at once: answered as any room the server does not know (sends and
    // reads 403, joins 404 M_UNKNOWN, events 404; tests/it/unknown_rooms.rs).
    s.send_text_resp(&alice, &room, "hello?").await.err(403, "M_FORBIDDEN");
    s.send_text_resp(&bob, &room, "hello?").await.err(403, "M_FORBIDDEN");
    s.join(&bob, &room).await.err(404, "M_UNKNOWN");
    s.join(&carol, &room).await.err(404, "M_UNKNOWN");
    s.join(&admin, &room).await.err(404, "M_UNKNOWN");
    s.get(&room_path(&room, "messages"), &bob.token).await.err(403, "M_FORBIDDEN");
    s.get(&room_path(&room, "state"), &bob.token).await.err(403, "M_FORBIDDEN");
    s.get(&room_path(&room, "members"), &alice.token).await.err(403, "M_FORBIDDEN");
    s.get(&room_path(&room, &format!("event/{}", enc(&ev))), &bob.token).await.err(404, "M_NOT_FOUND");
    s.post(&room_path(&room, "invite"), &alice.token, json!({"user_id": carol.user_id})).await.err(403, "M_FORBIDDEN");
    s.put(&room_path(&room, "state/m.room.topic/"), &alice.token, json!({"topic": "x"})).await.err(403, "M_FORBIDDEN");
    s.get(&format!("/_matrix/client/v3/directory/room/{}", enc("#doomed:test.local")), &alice.token).await.err(404, "M_NOT_FOUND");
    assert_eq!(s.joined_rooms(&alice).await, vec![keep.clone()]);
    assert!(s.joined_rooms(&bob).await.is_empty());
    let sync = s.sync(&carol, None, 0).await;
    assert!(sync["rooms"]["invite"].get(&room).is_none(), "{sync}");
    let sync = s.sync(&alice, None, 0).await;
    assert!(sync["rooms"]["join"].get(&room).is_none(), "{sync}");

    // Its room account data is gone.
    let left = s.get(&tags, &alice.token).await;
    if left.status == 200 {
        assert_eq!(left.body["tags"], json!({}), "tags of a purged room survive: {}", left.body);
    } else {
        left.err(404, "M_NOT_FOUND");
    }
    let sync = s.sync(&alice, None, 0).await;
    assert!(!sync.to_string().contains("m.favourite"), "{sync}");

    // Search no longer finds its events.
    flush_search(&s).await;
    assert_eq!(search_count(&s, &alice, "zanzibar").await, 1);
    assert_eq!(search_count(&s, &bob, "zanzibar").await, 0);

    // Everything else still works.
    let fresh = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    s.join(&bob, &fresh).await.ok();
    s.send_text(&bob, &fresh, "life goes on").await;
    s.send_text(&alice, &keep, "and here too").await;
    // The purged room's transaction record does not swallow a send elsewhere.
    let again = s.put(&room_path(&fresh, "send/m.room.message/fixed-txn"), &alice.token, txn_body).await.ok();
    let again = again["event_id"].as_str().unwrap().to_owned();
    s.get(&room_path(&fresh, &format!("event/{}", enc(&again))), &alice.token).await.ok();
    // The alias is free again.
    s.put(&format!("/_matrix/client/v3/directory/room/{}", enc("#doomed:test.local")), &alice.token, json!({"room_id": fresh})).await.ok();

    // Purging again, or an unknown room.
    s.post(&dendrite(&format!("purgeRoom/{}", enc(&room))), &admin.token, json!({})).await.err(404, "M_NOT_FOUND");
    s.post(&dendrite(&format!("purgeRoom/{}", enc("!unknown:test.local"))), &admin.token, json!({})).await.err(404, "M_NOT_FOUND");
    s.post(&dendrite("purgeRoom/not-a-room"), &admin.token, json!({})).await.err(400, "M_INVALID_PARAM");
    // Evacuating the purged room is 404 too.
    s.get(&dendrite(&format!("evacuateRoom/{}", enc(&room))), &admin.token).await.err(404, "M_NOT_FOUND");
}

#[actix_rt::test]
async fn purge_room_survives_a_restart() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    s.send_text(&alice, &room, "soon gone").await;
    s.post(&dendrite(&format!("purgeRoom/{}", enc(&room))), &admin.token, json!({})).await.ok();
    let s = s.restart().await;
    s.send_text_resp(&alice, &room, "hello?").await.err(403, "M_FORBIDDEN");
    s.get(&room_path(&room, "messages"), &alice.token).await.err(403, "M_FORBIDDEN");
    assert!(s.joined_rooms(&alice).await.is_empty());
}

#[actix_rt::test]
async fn evacuate_room_racing_a_storm_of_sends() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let mut users = Vec::new();
    for i in 0..4 {
        users.push(s.register_user(&format!("storm{i}")).await);
    }
    let room = s.create_room(&users[0], json!({"preset": "public_chat"})).await;
    for u in &users[1..] {
        s.join(u, &room).await.ok();
    }

    let (results, evac) = storm_racing(&s, &users, &room, &admin, "evacuateRoom").await;
    let evac = evac.ok();
    assert_eq!(affected(&evac), users.iter().map(|u| u.user_id.clone()).collect::<Vec<_>>());
    assert_eq!(results.len(), 200);
    check_storm_failures(&results);
    let acked: HashMap<String, String> = results
        .iter()
        .filter(|(_, r)| r.status == 200)
        .map(|(who, r)| (r.body["event_id"].as_str().expect("event_id").to_owned(), who.clone()))
        .collect();
    assert!(acked.len() >= 20, "{} acknowledged", acked.len());
    assert!(acked.len() < 200, "the evacuation should have cut the storm short");

    // The last member to leave sees everything up to the leaves.
    let reader = users.last().unwrap();
    let events = all_forward(&s, &reader.token, &room, 100).await;
    let pos: HashMap<String, usize> = events.iter().enumerate().map(|(i, e)| (e["event_id"].as_str().unwrap().to_owned(), i)).collect();
    let leave_pos = |user: &str| {
        events
            .iter()
            .rposition(|e| e["type"] == "m.room.member" && e["state_key"] == user && e["content"]["membership"] == "leave")
            .unwrap_or_else(|| panic!("no leave of {user}"))
    };
    let first_leave = users.iter().map(|u| leave_pos(&u.user_id)).min().unwrap();
    for (id, sender) in &acked {
        let p = *pos.get(id).unwrap_or_else(|| panic!("acknowledged {id} of {sender} is not in the history"));
        assert!(p < leave_pos(sender), "{id} is after its sender's leave");
        assert!(p < first_leave, "{id} is after the evacuation started");
    }
    // And nothing that was refused was stored.
    let stored = events
        .iter()
        .filter(|e| e["type"] == "m.room.message" && e["content"]["body"].as_str().is_some_and(|b| b.starts_with("storm ")))
        .count();
    assert_eq!(stored, acked.len());
    for u in &users {
        assert!(s.joined_rooms(u).await.is_empty());
        s.send_text_resp(u, &room, "late").await.err(403, "M_FORBIDDEN");
    }
}

#[actix_rt::test]
async fn purge_room_racing_a_storm_of_sends() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let mut users = Vec::new();
    for i in 0..4 {
        users.push(s.register_user(&format!("storm{i}")).await);
    }
    let room = s.create_room(&users[0], json!({"preset": "public_chat"})).await;
    for u in &users[1..] {
        s.join(u, &room).await.ok();
    }
    let other = s.create_room(&users[0], json!({})).await;

    let (results, purge) = storm_racing(&s, &users, &room, &admin, "purgeRoom").await;
    assert_eq!(purge.ok(), json!({}));
    assert_eq!(results.len(), 200);
    check_storm_failures(&results);
    assert!(results.iter().filter(|(_, r)| r.status == 200).count() >= 20);

    for u in &users {
        s.send_text_resp(u, &room, "late").await.err(403, "M_FORBIDDEN");
        s.get(&room_path(&room, "messages"), &u.token).await.err(403, "M_FORBIDDEN");
    }
    assert_eq!(s.joined_rooms(&users[0]).await, vec![other.clone()]);
    s.send_text(&users[0], &other, "still alive").await;
}

#[actix_rt::test]
async fn reindex_answers_at_once_via_get_and_post() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let r =
        tokio::time::timeout(Duration::from_secs(10), s.get(&dendrite("fulltext/reindex"), &admin.token)).await.expect("answers at once");
    assert_eq!(r.ok(), json!({}));
    assert_eq!(s.post(&dendrite("fulltext/reindex"), &admin.token, json!({})).await.ok(), json!({}));
    assert_eq!(s.req("POST", &dendrite("fulltext/reindex"), Some(&admin.token), None).await.ok(), json!({}));
}

#[actix_rt::test]
async fn refresh_devices_refuses_local_users_and_reports_unreachable_servers() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let bob = s.register_user("bob").await;
    s.post(&dendrite(&format!("refreshDevices/{}", enc(&bob.user_id))), &admin.token, json!({})).await.err(400, "M_INVALID_PARAM");
    s.post(&dendrite(&format!("refreshDevices/{}", enc(&admin.user_id))), &admin.token, json!({})).await.err(400, "M_INVALID_PARAM");
    s.post(&dendrite(&format!("refreshDevices/{}", enc("@nocolon"))), &admin.token, json!({})).await.err(400, "M_INVALID_PARAM");
    s.post(&dendrite(&format!("refreshDevices/{}", enc("@x:other.server"))), &admin.token, json!({})).await.err(502, "M_UNKNOWN");
}
