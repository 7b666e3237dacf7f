//! Reports: clients report events they can see, rooms and users (`/rooms/{id}/report/{event}`,
//! `/rooms/{id}/report`, `/users/{id}/report`); admins page through, read and delete event and
//! user reports (`/_synapse/admin/v1/event_reports`, `user_reports`) and fetch any event whole
//! (`fetch_event`), with Synapse's shapes and errors.

use crate::common::*;
use serde_json::{Value, json};

fn report_event_path(room: &str, event: &str) -> String {
    room_path(room, &format!("report/{}", enc(event)))
}

fn report_user_path(user: &str) -> String {
    client(&format!("users/{}/report", enc(user)))
}

async fn event_reports(s: &TestServer, admin: &User, query: &str) -> Value {
    aget(s, &admin.token, &sa(&format!("v1/event_reports{query}"))).await.ok()
}

fn report_ids(list: &Value, key: &str) -> Vec<i64> {
    list[key].as_array().unwrap_or_else(|| panic!("no {key}: {list}")).iter().map(|r| r["id"].as_i64().unwrap()).collect()
}

#[actix_rt::test]
async fn an_event_report_is_listed_read_and_deleted() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat", "name": "Reported room", "room_alias_name": "reported"})).await;
    s.join(&bob, &room).await.ok();
    let spam = s.send_text(&bob, &room, "buy cheap things").await;

    let before = now_ms();
    s.post(&report_event_path(&room, &spam), &alice.token, json!({"reason": "spam", "score": -100})).await.ok();

    let list = event_reports(&s, &admin, "").await;
    assert_eq!(list["total"], 1, "{list}");
    assert!(list.get("next_token").is_none(), "{list}");
    let r = &list["event_reports"][0];
    assert_eq!(r["room_id"], room);
    assert_eq!(r["event_id"], spam);
    assert_eq!(r["user_id"], alice.user_id, "the reporter");
    assert_eq!(r["sender"], bob.user_id, "the reported event's sender");
    assert_eq!(r["reason"], "spam");
    assert_eq!(r["score"], -100);
    assert_eq!(r["name"], "Reported room");
    assert_eq!(r["canonical_alias"], "#reported:test.local");
    assert!(r["received_ts"].as_i64().is_some_and(|ts| ts >= before && ts <= now_ms()), "{r}");
    let id = r["id"].as_i64().expect("integer id");

    let one = aget(&s, &admin.token, &sa(&format!("v1/event_reports/{id}"))).await.ok();
    for key in ["id", "room_id", "event_id", "user_id", "sender", "reason", "score", "name", "canonical_alias", "received_ts"] {
        assert_eq!(one[key], r[key], "{key}: {one}");
    }
    let event = &one["event_json"];
    assert_eq!(event["type"], "m.room.message", "{one}");
    assert_eq!(event["content"]["body"], "buy cheap things");
    assert_eq!(event["sender"], bob.user_id);
    assert!(event["signatures"]["test.local"].is_object(), "the event as stored, signed: {event}");

    adelete(&s, &admin.token, &sa(&format!("v1/event_reports/{id}"))).await.ok();
    aget(&s, &admin.token, &sa(&format!("v1/event_reports/{id}"))).await.err(404, "M_NOT_FOUND");
    adelete(&s, &admin.token, &sa(&format!("v1/event_reports/{id}"))).await.err(404, "M_NOT_FOUND");
    assert_eq!(event_reports(&s, &admin, "").await["total"], 0);
}

#[actix_rt::test]
async fn only_events_the_reporter_can_see_are_reported() {
    let (s, alice, bob, room) = alice_bob_and_a_room().await;
    let admin = s.register_admin("root").await;
    let eve = s.register_user("eve").await;
    s.join(&bob, &room).await.ok();
    let said = s.send_text(&alice, &room, "hello").await;

    // Not in the room, an unknown event, an event of another room: the same 404.
    s.post(&report_event_path(&room, &said), &eve.token, json!({"reason": "x"})).await.err(404, "M_NOT_FOUND");
    s.post(&report_event_path(&room, "$nope:test.local"), &bob.token, json!({})).await.err(404, "M_NOT_FOUND");
    let other = s.create_room(&bob, json!({})).await;
    s.post(&report_event_path(&other, &said), &bob.token, json!({})).await.err(404, "M_NOT_FOUND");
    s.post(&report_event_path("!unknown:test.local", &said), &bob.token, json!({})).await.err(404, "M_NOT_FOUND");
    s.post(&report_event_path("not-a-room", &said), &bob.token, json!({})).await.err(404, "M_NOT_FOUND");
    s.post(&report_event_path(&room, "not-an-event"), &bob.token, json!({})).await.err(404, "M_NOT_FOUND");

    // Bodies: both fields optional; wrong types and null are 400 M_BAD_JSON, a long reason too.
    for bad in [json!({"reason": 5}), json!({"reason": null}), json!({"score": "high"}), json!({"score": null}), json!({"score": 1.5})] {
        s.post(&report_event_path(&room, &said), &bob.token, bad).await.err(400, "M_BAD_JSON");
    }
    s.post(&report_event_path(&room, &said), &bob.token, json!({"reason": "x".repeat(10_001)})).await.err(400, "M_BAD_JSON");
    s.raw("POST", &report_event_path(&room, &said), Some(&bob.token), b"{nope".to_vec()).await.err(400, "M_NOT_JSON");
    s.raw("POST", &report_event_path(&room, &said), Some(&bob.token), Vec::new()).await.err(400, "M_NOT_JSON");
    s.req("POST", &report_event_path(&room, &said), None, Some(json!({}))).await.err(401, "M_MISSING_TOKEN");
    assert_eq!(event_reports(&s, &admin, "").await["total"], 0, "nothing refused was stored");

    s.post(&report_event_path(&room, &said), &bob.token, json!({})).await.ok();
    let r = &event_reports(&s, &admin, "").await["event_reports"][0];
    assert!(r["reason"].is_null() && r["score"].is_null(), "{r}");
    assert_eq!(r["user_id"], bob.user_id);
    // Synapse bounds only user reports' reasons at 1000; an event report's may be longer.
    s.post(&report_event_path(&room, &said), &bob.token, json!({"reason": "y".repeat(1001)})).await.ok();

    // Eve, joining later, sees the shared history and may report it.
    s.join(&eve, &room).await.ok();
    s.post(&report_event_path(&room, &said), &eve.token, json!({"reason": "again"})).await.ok();
    assert_eq!(event_reports(&s, &admin, "").await["total"], 3);
}

#[actix_rt::test]
async fn event_reports_page_filter_and_order_as_synapse() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let carol = s.register_user("carol").await;
    let one = public_room(&s, &alice, &[&bob, &carol]).await;
    let two = public_room(&s, &bob, &[&alice]).await;
    let by_bob = s.send_text(&bob, &one, "one").await;
    let by_carol = s.send_text(&carol, &one, "two").await;
    let in_two = s.send_text(&bob, &two, "three").await;
    for (who, room, event) in [(&alice, &one, &by_bob), (&alice, &one, &by_carol), (&bob, &one, &by_carol), (&alice, &two, &in_two)] {
        s.post(&report_event_path(room, event), &who.token, json!({"reason": "r"})).await.ok();
    }

    // Newest first by default; dir=f oldest first.
    let all = event_reports(&s, &admin, "").await;
    assert_eq!(all["total"], 4);
    let newest_first = report_ids(&all, "event_reports");
    let mut oldest_first = newest_first.clone();
    oldest_first.reverse();
    assert_eq!(report_ids(&event_reports(&s, &admin, "?dir=f").await, "event_reports"), oldest_first);
    assert_eq!(report_ids(&event_reports(&s, &admin, "?dir=b").await, "event_reports"), newest_first);

    // Pages: next_token while more remain.
    let p1 = event_reports(&s, &admin, "?limit=3").await;
    assert_eq!((p1["total"].clone(), p1["next_token"].clone()), (json!(4), json!(3)), "{p1}");
    let p2 = event_reports(&s, &admin, "?limit=3&from=3").await;
    assert!(p2.get("next_token").is_none(), "{p2}");
    let mut paged = report_ids(&p1, "event_reports");
    paged.extend(report_ids(&p2, "event_reports"));
    assert_eq!(paged, newest_first);

    // Filters: reporter and room by substring, the reported event's sender exactly.
    let q = format!("?user_id={}", enc("alic"));
    assert_eq!(event_reports(&s, &admin, &q).await["total"], 3);
    let q = format!("?room_id={}", enc(&two));
    let in_room_two = event_reports(&s, &admin, &q).await;
    assert_eq!(in_room_two["total"], 1);
    assert_eq!(in_room_two["event_reports"][0]["event_id"], in_two);
    let q = format!("?event_sender_user_id={}", enc(&carol.user_id));
    assert_eq!(event_reports(&s, &admin, &q).await["total"], 2);
    assert_eq!(event_reports(&s, &admin, "?event_sender_user_id=carol").await["total"], 0, "exact, not a substring");
    assert_eq!(event_reports(&s, &admin, "?user_id=%25").await["total"], 0, "LIKE wildcards match literally");

    // Bad parameters and IDs: 400 M_INVALID_PARAM; only admins.
    for q in ["?from=-1", "?limit=-1", "?dir=x", "?from=abc"] {
        aget(&s, &admin.token, &sa(&format!("v1/event_reports{q}"))).await.err(400, "M_INVALID_PARAM");
    }
    for id in ["abc", "-1"] {
        aget(&s, &admin.token, &sa(&format!("v1/event_reports/{id}"))).await.err(400, "M_INVALID_PARAM");
        adelete(&s, &admin.token, &sa(&format!("v1/event_reports/{id}"))).await.err(400, "M_INVALID_PARAM");
    }
    aget(&s, &alice.token, &sa("v1/event_reports")).await.err(403, "M_FORBIDDEN");
    call(&s, "GET", &sa("v1/event_reports"), None, None).await.err(401, "M_MISSING_TOKEN");
    adelete(&s, &alice.token, &sa(&format!("v1/event_reports/{}", newest_first[0]))).await.err(403, "M_FORBIDDEN");
    assert_eq!(event_reports(&s, &admin, "").await["total"], 4);
}

#[actix_rt::test]
async fn a_purged_room_takes_its_reports_with_it() {
    let (s, alice, bob, room) = alice_bob_and_a_room().await;
    let admin = s.register_admin("root").await;
    s.join(&bob, &room).await.ok();
    let said = s.send_text(&alice, &room, "soon gone").await;
    s.post(&report_event_path(&room, &said), &bob.token, json!({"reason": "r"})).await.ok();
    s.post(&room_path(&room, "report"), &bob.token, json!({"reason": "r"})).await.ok();
    assert_eq!(event_reports(&s, &admin, "").await["total"], 1);
    apost(&s, &admin.token, &dendrite(&format!("purgeRoom/{}", enc(&room))), json!({})).await.ok();
    assert_eq!(event_reports(&s, &admin, "").await["total"], 0);
}

#[actix_rt::test]
async fn rooms_are_reported_if_they_exist() {
    let (s, alice, _bob, room) = alice_bob_and_a_room().await;
    let eve = s.register_user("eve").await;
    // Any user, member or not.
    s.post(&room_path(&room, "report"), &eve.token, json!({"reason": "bad room"})).await.ok();
    s.post(&room_path(&room, "report"), &alice.token, json!({"reason": ""})).await.ok();
    s.post(&room_path("!unknown:test.local", "report"), &eve.token, json!({"reason": "x"})).await.err(404, "M_NOT_FOUND");
    s.post(&room_path("not-a-room", "report"), &eve.token, json!({"reason": "x"})).await.err(404, "M_NOT_FOUND");
    s.post(&room_path(&room, "report"), &eve.token, json!({})).await.err(400, "M_MISSING_PARAM");
    s.raw("POST", &room_path(&room, "report"), Some(&eve.token), Vec::new()).await.err(400, "M_NOT_JSON");
    s.post(&room_path(&room, "report"), &eve.token, json!({"reason": 1})).await.err(400, "M_BAD_JSON");
    s.post(&room_path(&room, "report"), &eve.token, json!({"reason": "x".repeat(1001)})).await.ok();
    s.post(&room_path(&room, "report"), &eve.token, json!({"reason": "x".repeat(10_001)})).await.err(400, "M_BAD_JSON");
    s.req("POST", &room_path(&room, "report"), None, Some(json!({"reason": "x"}))).await.err(401, "M_MISSING_TOKEN");
}

#[actix_rt::test]
async fn user_reports_are_listed_read_and_deleted() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let list = |q: &'static str| {
        let (s, token) = (&s, admin.token.clone());
        async move { aget(s, &token, &sa(&format!("v1/user_reports{q}"))).await.ok() }
    };

    s.post(&report_user_path(&bob.user_id), &alice.token, json!({"reason": "rude"})).await.ok();
    // Unknown and remote users are accepted and dropped, so no one learns who exists.
    s.post(&report_user_path("@nobody:test.local"), &alice.token, json!({"reason": "x"})).await.ok();
    s.post(&report_user_path("@someone:elsewhere.example"), &alice.token, json!({"reason": "x"})).await.ok();
    s.post(&report_user_path("not-a-user"), &alice.token, json!({"reason": "x"})).await.ok();
    // Errors.
    s.post(&report_user_path(&bob.user_id), &alice.token, json!({})).await.err(400, "M_MISSING_PARAM");
    s.raw("POST", &report_user_path(&bob.user_id), Some(&alice.token), Vec::new()).await.err(400, "M_NOT_JSON");
    s.post(&report_user_path(&bob.user_id), &alice.token, json!({"reason": false})).await.err(400, "M_BAD_JSON");
    s.post(&report_user_path(&bob.user_id), &alice.token, json!({"reason": "x".repeat(1001)})).await.err(400, "M_BAD_JSON");
    s.req("POST", &report_user_path(&bob.user_id), None, Some(json!({"reason": "x"}))).await.err(401, "M_MISSING_TOKEN");
    s.post(&report_user_path(&alice.user_id), &bob.token, json!({"reason": "revenge"})).await.ok();

    let all = list("").await;
    assert_eq!(all["total"], 2, "{all}");
    let newest = &all["user_reports"][0];
    assert_eq!((newest["user_id"].clone(), newest["target_user_id"].clone()), (json!(bob.user_id), json!(alice.user_id)), "{all}");
    assert_eq!(newest["reason"], "revenge");
    assert!(newest["received_ts"].as_i64().is_some(), "{newest}");
    assert_eq!(report_ids(&list("?dir=f").await, "user_reports").first(), report_ids(&all, "user_reports").last());
    let about_bob = list("?target_user_id=bob").await;
    assert_eq!(about_bob["total"], 1);
    assert_eq!(about_bob["user_reports"][0]["reason"], "rude");
    assert_eq!(list("?user_id=alice").await["total"], 1);
    let paged = list("?limit=1").await;
    assert_eq!(paged["next_token"], 1, "{paged}");

    let id = about_bob["user_reports"][0]["id"].as_i64().unwrap();
    let one = aget(&s, &admin.token, &sa(&format!("v1/user_reports/{id}"))).await.ok();
    assert_eq!(one, about_bob["user_reports"][0]);
    aget(&s, &admin.token, &sa("v1/user_reports/x")).await.err(400, "M_INVALID_PARAM");
    aget(&s, &alice.token, &sa(&format!("v1/user_reports/{id}"))).await.err(403, "M_FORBIDDEN");
    adelete(&s, &admin.token, &sa(&format!("v1/user_reports/{id}"))).await.ok();
    aget(&s, &admin.token, &sa(&format!("v1/user_reports/{id}"))).await.err(404, "M_NOT_FOUND");
    adelete(&s, &admin.token, &sa(&format!("v1/user_reports/{id}"))).await.err(404, "M_NOT_FOUND");
    assert_eq!(list("").await["total"], 1);
    // An event report's ID is not a user report's.
    aget(&s, &admin.token, &sa(&format!("v1/event_reports/{}", report_ids(&list("").await, "user_reports")[0])))
        .await
        .err(404, "M_NOT_FOUND");
}

#[actix_rt::test]
async fn admins_fetch_any_event_whole() {
    let (s, alice, _bob, room) = alice_bob_and_a_room().await;
    let admin = s.register_admin("root").await;
    let said = s.send_text(&alice, &room, "private words").await;
    // The admin is not in the room.
    let got = aget(&s, &admin.token, &sa(&format!("v1/fetch_event/{}", enc(&said)))).await.ok();
    let event = &got["event"];
    assert_eq!(event["content"]["body"], "private words", "{got}");
    assert_eq!(event["room_id"], room);
    assert_eq!(event["sender"], alice.user_id);
    assert!(event["signatures"].is_object() && event["hashes"].is_object(), "{got}");
    assert_eq!(event["event_id"], said, "Synapse names the event's ID");
    aget(&s, &admin.token, &sa(&format!("v1/fetch_event/{}", enc("$unknown")))).await.err(404, "M_NOT_FOUND");
    aget(&s, &alice.token, &sa(&format!("v1/fetch_event/{}", enc(&said)))).await.err(403, "M_FORBIDDEN");
}
