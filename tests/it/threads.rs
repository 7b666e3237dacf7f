//! `GET /_matrix/client/v1/rooms/{roomId}/threads`: thread roots by latest activity, `include`,
//! paging, the bundled thread summary, visibility and errors.

use crate::common::*;
use crate::relations::{V1, react, thread_reply};
use serde_json::json;

fn threads_path(room: &str, query: &str) -> String {
    format!("{V1}/rooms/{}/threads{query}", enc(room))
}

#[actix_web::test]
async fn threads_are_listed_by_latest_activity_with_their_summary() {
    let (s, alice, bob, room) = alice_bob_and_a_room().await;
    s.join(&bob, &room).await.ok();
    let first = s.send_text(&alice, &room, "first root").await;
    let second = s.send_text(&bob, &room, "second root").await;
    let plain = s.send_text(&alice, &room, "no thread").await;
    react(&s, &alice, &room, &plain, "👍").await;
    thread_reply(&s, &bob, &room, &first, "a").await;
    thread_reply(&s, &bob, &room, &second, "b").await;
    let latest = thread_reply(&s, &bob, &room, &first, "c").await;

    let all = s.get(&threads_path(&room, ""), &alice.token).await.ok();
    assert_eq!(event_ids(&all["chunk"]), vec![first.clone(), second.clone()]);
    assert!(all.get("next_batch").is_none(), "{all}");
    let summary = &all["chunk"][0]["unsigned"]["m.relations"]["m.thread"];
    assert_eq!(summary["count"], 2);
    assert_eq!(summary["latest_event"]["event_id"], latest.as_str());
    assert_eq!(summary["current_user_participated"], true);
    assert_eq!(all["chunk"][1]["unsigned"]["m.relations"]["m.thread"]["current_user_participated"], false);

    // Alice took part only in the thread she started.
    let mine = s.get(&threads_path(&room, "?include=participated"), &alice.token).await.ok();
    assert_eq!(event_ids(&mine["chunk"]), vec![first.clone()]);
    // Bob replied in both; a new reply moves the second thread to the top.
    thread_reply(&s, &alice, &room, &second, "d").await;
    let bobs = s.get(&threads_path(&room, "?include=participated"), &bob.token).await.ok();
    assert_eq!(event_ids(&bobs["chunk"]), vec![second.clone(), first.clone()]);
    let mine = s.get(&threads_path(&room, "?include=participated"), &alice.token).await.ok();
    assert_eq!(event_ids(&mine["chunk"]), vec![second.clone(), first.clone()]);

    // One per page, following next_batch.
    let page1 = s.get(&threads_path(&room, "?limit=1"), &alice.token).await.ok();
    assert_eq!(event_ids(&page1["chunk"]), vec![second.clone()]);
    let next = page1["next_batch"].as_str().expect("next_batch").to_owned();
    let page2 = s.get(&threads_path(&room, &format!("?limit=1&from={}", enc(&next))), &alice.token).await.ok();
    assert_eq!(event_ids(&page2["chunk"]), vec![first.clone()]);
    assert!(page2.get("next_batch").is_none(), "{page2}");
    // A huge limit is served, capped.
    let big = s.get(&threads_path(&room, "?limit=100000"), &alice.token).await.ok();
    assert_eq!(event_ids(&big["chunk"]).len(), 2);
}

#[actix_web::test]
async fn roots_the_reader_may_not_see_are_left_out() {
    let (s, alice, bob, room) = alice_bob_and_a_room().await;
    s.put(&room_path(&room, "state/m.room.history_visibility/"), &alice.token, json!({"history_visibility": "joined"})).await.ok();
    let hidden = s.send_text(&alice, &room, "before bob").await;
    s.join(&bob, &room).await.ok();
    let shown = s.send_text(&alice, &room, "after bob").await;
    thread_reply(&s, &alice, &room, &hidden, "x").await;
    thread_reply(&s, &alice, &room, &shown, "y").await;
    let alices = s.get(&threads_path(&room, ""), &alice.token).await.ok();
    assert_eq!(event_ids(&alices["chunk"]), vec![shown.clone(), hidden.clone()]);
    let bobs = s.get(&threads_path(&room, "?limit=1"), &bob.token).await.ok();
    assert_eq!(event_ids(&bobs["chunk"]), vec![shown], "{bobs}");
    assert!(bobs.get("next_batch").is_none(), "a page of hidden roots only is no page: {bobs}");

    // A thread started by an ignored user leaves the list.
    let carol = s.register_user("carol").await;
    s.join(&carol, &room).await.ok();
    let carols = s.send_text(&carol, &room, "carol's root").await;
    thread_reply(&s, &carol, &room, &carols, "z").await;
    let path = format!("{V3}/user/{}/account_data/m.ignored_user_list", enc(&bob.user_id));
    s.put(&path, &bob.token, json!({"ignored_users": {carol.user_id.clone(): {}}})).await.ok();
    let bobs = s.get(&threads_path(&room, ""), &bob.token).await.ok();
    assert!(!event_ids(&bobs["chunk"]).contains(&carols), "{bobs}");
}

#[actix_web::test]
async fn thread_errors() {
    let (s, alice, bob, room) = alice_bob_and_a_room().await;
    let private = s.create_room(&alice, json!({"preset": "private_chat"})).await;
    for q in ["?include=mine", "?limit=0", "?limit=-3", "?limit=x", "?from=nope"] {
        s.get(&threads_path(&room, q), &alice.token).await.err(400, "M_INVALID_PARAM");
    }
    s.get(&threads_path(&private, ""), &bob.token).await.err(403, "M_FORBIDDEN");
    s.get(&threads_path("!unknown:test.local", ""), &bob.token).await.err(403, "M_FORBIDDEN");
    s.req("GET", &threads_path(&room, ""), None, None).await.err(401, "M_MISSING_TOKEN");
    // A room without threads has an empty list; a world-readable room is readable by anyone.
    assert_eq!(s.get(&threads_path(&room, ""), &alice.token).await.ok(), json!({"chunk": []}));
    s.put(&room_path(&private, "state/m.room.history_visibility/"), &alice.token, json!({"history_visibility": "world_readable"}))
        .await
        .ok();
    let root = s.send_text(&alice, &private, "open root").await;
    thread_reply(&s, &alice, &private, &root, "r").await;
    let peek = s.get(&threads_path(&private, ""), &bob.token).await.ok();
    assert_eq!(event_ids(&peek["chunk"]), vec![root]);
}

#[actix_web::test]
async fn the_thread_summary_counts_only_what_the_reader_may_see() {
    let (s, alice, bob, room) = alice_bob_and_a_room().await;
    let carol = s.register_user("carol").await;
    s.join(&bob, &room).await.ok();
    s.join(&carol, &room).await.ok();
    let root = s.send_text(&alice, &room, "root").await;
    thread_reply(&s, &alice, &room, &root, "1").await;
    let seen_last = thread_reply(&s, &carol, &room, &root, "2").await;
    leave(&s, &bob, &room).await.ok();
    let after = thread_reply(&s, &alice, &room, &root, "3").await;

    let summary = |body: &serde_json::Value| body["chunk"][0]["unsigned"]["m.relations"]["m.thread"].clone();
    let alices = s.get(&threads_path(&room, ""), &alice.token).await.ok();
    assert_eq!(summary(&alices)["count"], 3);
    assert_eq!(summary(&alices)["latest_event"]["event_id"], after.as_str());
    // Bob left before the third reply: he reads the thread as it was when he left.
    let bobs = s.get(&threads_path(&room, ""), &bob.token).await.ok();
    assert_eq!(summary(&bobs)["count"], 2);
    assert_eq!(summary(&bobs)["latest_event"]["event_id"], seen_last.as_str());
    assert_eq!(summary(&bobs)["current_user_participated"], false);
    // Ignoring carol drops her reply from alice's count.
    let path = format!("{V3}/user/{}/account_data/m.ignored_user_list", enc(&alice.user_id));
    s.put(&path, &alice.token, json!({"ignored_users": {carol.user_id.clone(): {}}})).await.ok();
    let alices = s.get(&threads_path(&room, ""), &alice.token).await.ok();
    assert_eq!(summary(&alices)["count"], 2);
    assert_eq!(summary(&alices)["current_user_participated"], true);
}
