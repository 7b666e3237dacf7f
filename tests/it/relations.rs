//! Relations between events: `GET /_matrix/client/v1/rooms/{roomId}/relations/...` (children by
//! relation and event type, paging both ways, recursion, history visibility, ignored senders,
//! redactions and purges), the checks on sending a relation, and the aggregations bundled with
//! events on `/messages`, `/context` and `/event`. Threads have their own file.

use crate::common::*;
use serde_json::{Value, json};

pub const V1: &str = "/_matrix/client/v1";

pub fn relations_path(room: &str, event: &str, rest: &str) -> String {
    format!("{V1}/rooms/{}/relations/{}{rest}", enc(room), enc(event))
}

/// Sends an event of `kind` with `content` and returns its ID.
pub async fn send(s: &TestServer, user: &User, room: &str, kind: &str, content: Value) -> String {
    let txn = format!("rel-{}", ensemble::ids::random_alnum(12));
    event_id(&s.put(&send_path(room, kind, &txn), &user.token, content).await.ok())
}

pub async fn react(s: &TestServer, user: &User, room: &str, parent: &str, key: &str) -> String {
    send(s, user, room, "m.reaction", json!({"m.relates_to": {"rel_type": "m.annotation", "event_id": parent, "key": key}})).await
}

pub async fn thread_reply(s: &TestServer, user: &User, room: &str, root: &str, body: &str) -> String {
    let content = json!({"msgtype": "m.text", "body": body, "m.relates_to": {"rel_type": "m.thread", "event_id": root}});
    send(s, user, room, "m.room.message", content).await
}

async fn edit(s: &TestServer, user: &User, room: &str, original: &str, body: &str) -> String {
    let content = json!({
        "msgtype": "m.text", "body": format!("* {body}"),
        "m.new_content": {"msgtype": "m.text", "body": body},
        "m.relates_to": {"rel_type": "m.replace", "event_id": original},
    });
    send(s, user, room, "m.room.message", content).await
}

fn chunk_ids(body: &Value) -> Vec<String> {
    event_ids(&body["chunk"])
}

#[actix_web::test]
async fn children_are_listed_by_relation_and_event_type_newest_first() {
    let (s, alice, bob, room) = alice_bob_and_a_room().await;
    s.join(&bob, &room).await.ok();
    let root = s.send_text(&alice, &room, "root").await;
    let like = react(&s, &alice, &room, &root, "👍").await;
    let bob_like = react(&s, &bob, &room, &root, "👍").await;
    let reply = thread_reply(&s, &bob, &room, &root, "in thread").await;
    let custom =
        send(&s, &bob, &room, "org.example.note", json!({"m.relates_to": {"rel_type": "org.example.rel", "event_id": root}})).await;
    s.send_text(&alice, &room, "unrelated").await;

    let all = s.get(&relations_path(&room, &root, ""), &alice.token).await.ok();
    assert_eq!(chunk_ids(&all), vec![custom.clone(), reply.clone(), bob_like.clone(), like.clone()]);
    assert!(all.get("next_batch").is_none() && all.get("prev_batch").is_none() && all.get("recursion_depth").is_none(), "{all}");
    assert_eq!(all["chunk"][0]["room_id"], room.as_str());

    let likes = s.get(&relations_path(&room, &root, "/m.annotation"), &alice.token).await.ok();
    assert_eq!(chunk_ids(&likes), vec![bob_like.clone(), like.clone()]);
    let typed = s.get(&relations_path(&room, &root, "/m.annotation/m.reaction"), &alice.token).await.ok();
    assert_eq!(chunk_ids(&typed), vec![bob_like.clone(), like.clone()]);
    let none = s.get(&relations_path(&room, &root, "/m.annotation/m.room.message"), &alice.token).await.ok();
    assert_eq!(none["chunk"], json!([]));
    let custom_only = s.get(&relations_path(&room, &root, "/org.example.rel"), &alice.token).await.ok();
    assert_eq!(chunk_ids(&custom_only), vec![custom.clone()]);

    // Forwards, oldest first.
    let fwd = s.get(&relations_path(&room, &root, "?dir=f"), &alice.token).await.ok();
    assert_eq!(chunk_ids(&fwd), vec![like.clone(), bob_like.clone(), reply.clone(), custom.clone()]);
    // An event without children has an empty chunk.
    let leaf = s.get(&relations_path(&room, &like, ""), &alice.token).await.ok();
    assert_eq!(leaf, json!({"chunk": []}));
}

#[actix_web::test]
async fn pages_follow_next_batch_both_ways_and_name_prev_batch() {
    let (s, alice, _bob, room) = alice_bob_and_a_room().await;
    let root = s.send_text(&alice, &room, "root").await;
    let mut replies = Vec::new();
    for i in 0..5 {
        replies.push(thread_reply(&s, &alice, &room, &root, &format!("r{i}")).await);
    }
    for dir in ["b", "f"] {
        let mut seen = Vec::new();
        let mut from: Option<String> = None;
        for _ in 0..10 {
            let mut p = relations_path(&room, &root, &format!("?limit=2&dir={dir}"));
            if let Some(f) = &from {
                p.push_str(&format!("&from={}", enc(f)));
            }
            let page = s.get(&p, &alice.token).await.ok();
            assert!(page["chunk"].as_array().unwrap().len() <= 2);
            assert_eq!(page.get("prev_batch").and_then(Value::as_str), from.as_deref(), "{page}");
            seen.extend(chunk_ids(&page));
            match page["next_batch"].as_str() {
                Some(n) => from = Some(n.to_owned()),
                None => break,
            }
        }
        let mut want = replies.clone();
        if dir == "b" {
            want.reverse();
        }
        assert_eq!(seen, want, "dir={dir}");
    }
    // `to` stops a page: backwards from the newest, down to (not including) the second reply.
    let first = s.get(&relations_path(&room, &root, "?limit=2"), &alice.token).await.ok();
    let next = first["next_batch"].as_str().unwrap().to_owned();
    let upto = s.get(&relations_path(&room, &root, &format!("?to={}", enc(&next))), &alice.token).await.ok();
    assert_eq!(chunk_ids(&upto), vec![replies[4].clone(), replies[3].clone()]);
    // A /messages token works as `from` too.
    let msgs = s.get(&room_path(&room, "messages?dir=b&limit=1"), &alice.token).await.ok();
    let from_messages =
        s.get(&relations_path(&room, &root, &format!("?from={}", enc(msgs["start"].as_str().unwrap()))), &alice.token).await.ok();
    assert_eq!(chunk_ids(&from_messages).len(), 5);
    // The page size is bounded: a huge limit is served, capped.
    let big = s.get(&relations_path(&room, &root, "?limit=1000000"), &alice.token).await.ok();
    assert_eq!(chunk_ids(&big).len(), 5);
}

#[actix_web::test]
async fn recurse_follows_relations_of_relations() {
    let (s, alice, _bob, room) = alice_bob_and_a_room().await;
    let root = s.send_text(&alice, &room, "root").await;
    let reply = thread_reply(&s, &alice, &room, &root, "reply").await;
    let like = react(&s, &alice, &room, &reply, "🎉").await;
    let like_of_like = send(
        &s,
        &alice,
        &room,
        "m.room.message",
        json!({"msgtype": "m.text", "body": "ref",
        "m.relates_to": {"rel_type": "m.reference", "event_id": like}}),
    )
    .await;

    let flat = s.get(&relations_path(&room, &root, ""), &alice.token).await.ok();
    assert_eq!(chunk_ids(&flat), vec![reply.clone()]);
    let deep = s.get(&relations_path(&room, &root, "?recurse=true"), &alice.token).await.ok();
    assert_eq!(chunk_ids(&deep), vec![like_of_like.clone(), like.clone(), reply.clone()]);
    assert_eq!(deep["recursion_depth"], 3);
    // The relation type filters every level.
    let annotations = s.get(&relations_path(&room, &root, "/m.annotation?recurse=true"), &alice.token).await.ok();
    assert_eq!(chunk_ids(&annotations), vec![like]);
    let not_recursing = s.get(&relations_path(&room, &root, "?recurse=false"), &alice.token).await.ok();
    assert_eq!(chunk_ids(&not_recursing), vec![reply]);
    assert!(not_recursing.get("recursion_depth").is_none());
}

#[actix_web::test]
async fn errors_name_the_bad_parameter_and_hide_what_the_reader_may_not_see() {
    let (s, alice, bob, room) = alice_bob_and_a_room().await;
    let root = s.send_text(&alice, &room, "root").await;
    let private = s.create_room(&alice, json!({"preset": "private_chat"})).await;
    let secret = s.send_text(&alice, &private, "secret").await;

    for q in ["?dir=x", "?limit=-1", "?limit=0", "?limit=x", "?from=bogus", "?to=bogus", "?recurse=maybe"] {
        s.get(&relations_path(&room, &root, q), &alice.token).await.err(400, "M_INVALID_PARAM");
    }
    // Not a member of a room that is not world readable: 403, as for an unknown room.
    s.get(&relations_path(&private, &secret, ""), &bob.token).await.err(403, "M_FORBIDDEN");
    s.get(&relations_path("!nowhere:test.local", &secret, ""), &bob.token).await.err(403, "M_FORBIDDEN");
    // A parent unknown, of another room, or malformed is 404.
    s.get(&relations_path(&room, "$unknown", ""), &alice.token).await.err(404, "M_NOT_FOUND");
    s.get(&relations_path(&room, &secret, ""), &alice.token).await.err(404, "M_NOT_FOUND");
    s.get(&relations_path(&room, "not-an-event-id", ""), &alice.token).await.err(404, "M_NOT_FOUND");
    s.get(&relations_path("not-a-room", &root, ""), &alice.token).await.err(400, "M_INVALID_PARAM");
    s.req("GET", &relations_path(&room, &root, ""), None, None).await.err(401, "M_MISSING_TOKEN");

    // A parent before a late joiner's join under `joined` visibility is hidden: 404.
    s.put(&room_path(&room, "state/m.room.history_visibility/"), &alice.token, json!({"history_visibility": "joined"})).await.ok();
    let before_join = s.send_text(&alice, &room, "before bob").await;
    s.join(&bob, &room).await.ok();
    s.get(&relations_path(&room, &before_join, ""), &bob.token).await.err(404, "M_NOT_FOUND");
    s.get(&relations_path(&room, &before_join, ""), &alice.token).await.ok();
}

#[actix_web::test]
async fn children_past_the_readers_stay_are_hidden_and_ignored_senders_too() {
    let (s, alice, bob, room) = alice_bob_and_a_room().await;
    let carol = s.register_user("carol").await;
    s.join(&bob, &room).await.ok();
    s.join(&carol, &room).await.ok();
    let root = s.send_text(&alice, &room, "root").await;
    let during = react(&s, &alice, &room, &root, "a").await;
    let from_carol = react(&s, &carol, &room, &root, "c").await;
    leave(&s, &bob, &room).await.ok();
    react(&s, &alice, &room, &root, "after").await;

    // Bob left: he still reads the room up to his leave, and no child after it.
    let seen = s.get(&relations_path(&room, &root, "?dir=f"), &bob.token).await.ok();
    assert_eq!(chunk_ids(&seen), vec![during.clone(), from_carol.clone()]);

    // Alice ignores carol: carol's reaction leaves alice's list.
    let path = format!("{V3}/user/{}/account_data/m.ignored_user_list", enc(&alice.user_id));
    s.put(&path, &alice.token, json!({"ignored_users": {carol.user_id.clone(): {}}})).await.ok();
    let alices = s.get(&relations_path(&room, &root, "?dir=f"), &alice.token).await.ok();
    assert!(!chunk_ids(&alices).contains(&from_carol), "{alices}");
    assert_eq!(chunk_ids(&alices).len(), 2);
}

#[actix_web::test]
async fn a_redacted_child_relates_to_nothing_and_a_purge_drops_the_room_relations() {
    let s = TestServer::start().await;
    let admin = s.register_admin("admin").await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    let root = s.send_text(&alice, &room, "root").await;
    let like = react(&s, &alice, &room, &root, "👍").await;
    let fix = edit(&s, &alice, &room, &root, "root, fixed").await;
    let listed = s.get(&relations_path(&room, &root, ""), &alice.token).await.ok();
    assert_eq!(chunk_ids(&listed), vec![fix.clone(), like.clone()]);

    s.put(&room_path(&room, &format!("redact/{}/r1", enc(&like))), &alice.token, json!({})).await.ok();
    let after = s.get(&relations_path(&room, &root, ""), &alice.token).await.ok();
    assert_eq!(chunk_ids(&after), vec![fix.clone()]);
    // The same reaction can be sent again once the first is redacted.
    react(&s, &alice, &room, &root, "👍").await;
    s.put(&room_path(&room, &format!("redact/{}/r2", enc(&fix))), &alice.token, json!({})).await.ok();
    let ev = s.get(&room_path(&room, &format!("event/{}", enc(&root))), &alice.token).await.ok();
    assert!(ev["unsigned"]["m.relations"].get("m.replace").is_none(), "a redacted edit is still bundled: {ev}");

    s.post(&dendrite(&format!("purgeRoom/{}", enc(&room))), &admin.token, json!({})).await.ok();
    let parent = root.clone();
    let rows = s
        .server
        .services
        .db
        .run(move |c| ensemble::store::relations::children_of_many(c, &[parent], &["m.annotation", "m.replace"]))
        .await
        .expect("store");
    assert!(rows.is_empty(), "relations survive the purge: {rows:?}");
    s.get(&relations_path(&room, &root, ""), &alice.token).await.err(403, "M_FORBIDDEN");
}

#[actix_web::test]
async fn sending_a_relation_is_checked_as_synapse_does() {
    let (s, alice, bob, room) = alice_bob_and_a_room().await;
    let other = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    let elsewhere = s.send_text(&alice, &other, "elsewhere").await;
    let root = s.send_text(&alice, &room, "root").await;
    react(&s, &alice, &room, &root, "👍").await;
    let again = json!({"m.relates_to": {"rel_type": "m.annotation", "event_id": root, "key": "👍"}});
    s.put(&send_path(&room, "m.reaction", "dup"), &alice.token, again.clone()).await.err(400, "M_DUPLICATE_ANNOTATION");
    // The same key from someone else, or another key, is fine; a retry of the same transaction
    // answers the first event.
    s.join(&bob, &room).await.ok();
    react(&s, &bob, &room, &root, "👍").await;
    let other_key = json!({"m.relates_to": {"rel_type": "m.annotation", "event_id": root, "key": "🎉"}});
    let first = s.put(&send_path(&room, "m.reaction", "t1"), &alice.token, other_key.clone()).await.ok();
    let retry = s.put(&send_path(&room, "m.reaction", "t1"), &alice.token, other_key).await.ok();
    assert_eq!(first, retry);

    let no_key = json!({"m.relates_to": {"rel_type": "m.annotation", "event_id": root}});
    s.put(&send_path(&room, "m.reaction", "nokey"), &alice.token, no_key).await.err(400, "M_UNKNOWN");
    let long_key = json!({"m.relates_to": {"rel_type": "m.annotation", "event_id": root, "key": "k".repeat(501)}});
    s.put(&send_path(&room, "m.reaction", "long"), &alice.token, long_key).await.err(400, "M_UNKNOWN");
    let unknown = json!({"body": "x", "m.relates_to": {"rel_type": "m.reference", "event_id": "$nope"}});
    s.put(&send_path(&room, "m.room.message", "unknown"), &alice.token, unknown).await.err(400, "M_UNKNOWN");
    let cross = json!({"body": "x", "m.relates_to": {"rel_type": "m.reference", "event_id": elsewhere}});
    s.put(&send_path(&room, "m.room.message", "cross"), &alice.token, cross).await.err(400, "M_UNKNOWN");
    let reply = thread_reply(&s, &alice, &room, &root, "reply").await;
    let nested = json!({"body": "x", "m.relates_to": {"rel_type": "m.thread", "event_id": reply}});
    s.put(&send_path(&room, "m.room.message", "nested"), &alice.token, nested).await.err(400, "M_UNKNOWN");
    // Nothing refused was stored.
    let listed = s.get(&relations_path(&room, &root, "?limit=50"), &alice.token).await.ok();
    assert_eq!(chunk_ids(&listed).len(), 4, "{listed}");
}

#[actix_web::test]
async fn aggregations_are_bundled_on_messages_context_and_event() {
    let (s, alice, bob, room) = alice_bob_and_a_room().await;
    s.join(&bob, &room).await.ok();
    let root = s.send_text(&alice, &room, "root").await;
    thread_reply(&s, &bob, &room, &root, "one").await;
    let latest = thread_reply(&s, &bob, &room, &root, "two").await;
    edit(&s, &bob, &room, &root, "not alice's edit").await;
    let fix = edit(&s, &alice, &room, &root, "root, fixed").await;
    let cite = send(
        &s,
        &bob,
        &room,
        "m.room.message",
        json!({"msgtype": "m.text", "body": "see",
        "m.relates_to": {"rel_type": "m.reference", "event_id": root}}),
    )
    .await;

    let check = |ev: &Value, who_participated: bool| {
        let rel = &ev["unsigned"]["m.relations"];
        assert_eq!(rel["m.thread"]["count"], 2, "{ev}");
        assert_eq!(rel["m.thread"]["latest_event"]["event_id"], latest.as_str());
        assert_eq!(rel["m.thread"]["current_user_participated"], who_participated);
        assert_eq!(rel["m.replace"]["event_id"], fix.as_str(), "only the sender's own edit counts");
        assert_eq!(rel["m.reference"], json!({"chunk": [{"event_id": cite}]}));
        assert_eq!(ev["content"]["body"], "root", "the original content is served as sent");
    };
    let msgs = s.get(&room_path(&room, "messages?dir=b&limit=50"), &alice.token).await.ok();
    let shown = msgs["chunk"].as_array().unwrap().iter().find(|e| e["event_id"] == root.as_str()).cloned().unwrap();
    check(&shown, true);
    let ctx = s.get(&room_path(&room, &format!("context/{}?limit=4", enc(&root))), &bob.token).await.ok();
    check(&ctx["event"], true);
    let ev = s.get(&room_path(&room, &format!("event/{}", enc(&root))), &alice.token).await.ok();
    check(&ev, true);
    // Carol joined but never took part in the thread.
    let carol = s.register_user("carol").await;
    s.join(&carol, &room).await.ok();
    let ev = s.get(&room_path(&room, &format!("event/{}", enc(&root))), &carol.token).await.ok();
    check(&ev, false);
    // Events without children carry none.
    let plain = s.get(&room_path(&room, &format!("event/{}", enc(&cite))), &alice.token).await.ok();
    assert!(plain["unsigned"].get("m.relations").is_none(), "{plain}");
}

#[actix_web::test]
async fn the_migration_indexes_relations_of_events_stored_before_it() {
    use diesel::connection::SimpleConnection;
    if std::env::var("ENSEMBLE_TEST_PG").is_ok() {
        // An SQLite migration's backfill: a PostgreSQL database starts with the index in place.
        return;
    }
    let (s, alice, _bob, room) = alice_bob_and_a_room().await;
    let root = s.send_text(&alice, &room, "root").await;
    let like = react(&s, &alice, &room, &root, "👍").await;
    let reply = thread_reply(&s, &alice, &room, &root, "reply").await;
    let gone = react(&s, &alice, &room, &root, "🗑").await;
    s.put(&room_path(&room, &format!("redact/{}/r", enc(&gone))), &alice.token, json!({})).await.ok();
    // Replay the migration over a store whose relations were never indexed.
    let up = include_str!("../../migrations/sqlite/2026-12-02-100001_event_relations/up.sql");
    s.server
        .services
        .db
        .run(move |c| {
            c.batch_execute(&format!("DROP TABLE event_relations; {up}")).map_err(|e| ensemble::error::Error::internal(e.to_string()))
        })
        .await
        .expect("migration replays");
    let listed = s.get(&relations_path(&room, &root, ""), &alice.token).await.ok();
    assert_eq!(chunk_ids(&listed), vec![reply, like], "the redacted reaction stays out");
    let key = s.get(&relations_path(&room, &root, "/m.annotation"), &alice.token).await.ok();
    assert_eq!(key["chunk"][0]["content"]["m.relates_to"]["key"], "👍");
}
