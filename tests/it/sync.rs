//! `/sync`: the long-poll wakes on events and account data, filters limit the timeline and
//! `prev_batch` fills the gap, and a leave shows in an incremental sync.

use crate::common::*;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

#[actix_rt::test]
async fn leave_shows_in_incremental_sync() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    s.join(&bob, &room).await.ok();

    let first = s.sync(&bob, None, 0).await;
    assert!(first["rooms"]["join"][&room].is_object(), "{first}");
    let since = first["next_batch"].as_str().expect("next_batch").to_owned();

    leave(&s, &bob, &room).await.ok();
    let inc = s.sync(&bob, Some(&since), 0).await;
    assert!(inc["rooms"]["leave"][&room].is_object(), "{inc}");
    assert!(inc["rooms"]["join"].get(&room).is_none(), "{inc}");
    let events = inc["rooms"]["leave"][&room]["timeline"]["events"].as_array().expect("timeline");
    assert!(
        events.iter().any(|e| e["type"] == "m.room.member" && e["state_key"] == bob.user_id && e["content"]["membership"] == "leave"),
        "{inc}"
    );

    // Once reported, the leave is not repeated.
    let next = inc["next_batch"].as_str().expect("next_batch").to_owned();
    let again = s.sync(&bob, Some(&next), 0).await;
    assert!(again["rooms"]["leave"].get(&room).is_none(), "{again}");
}

#[actix_rt::test]
async fn sync_long_poll_wakes_on_events_and_account_data() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = public_room(&s, &alice, &[&bob]).await;
    let since = next_batch(&s.sync(&bob, None, 0).await);

    // A pending sync returns as soon as another user's message is committed.
    let started = Instant::now();
    let (woken, sent) = tokio::join!(
        async {
            let r = s.get(&sync_path(Some(&since), 10_000, None), &bob.token).await.ok();
            (r, started.elapsed())
        },
        async {
            // Bounded: only so the sync is already waiting when the message arrives. If it is
            // not yet waiting, it still finds the message and returns at once.
            tokio::time::sleep(Duration::from_millis(300)).await;
            s.send_text(&alice, &room, "wake up").await
        }
    );
    let (body, elapsed) = woken;
    assert!(elapsed < Duration::from_secs(5), "sync took {elapsed:?} to notice a new message");
    let tl = timeline(&body, &room);
    assert!(tl.iter().any(|e| e["event_id"] == sent.as_str()), "message missing from woken sync: {body}");
    let since = next_batch(&body);

    // Nothing new: the sync waits out its (short) timeout and returns empty.
    let started = Instant::now();
    let quiet = s.get(&sync_path(Some(&since), 200, None), &bob.token).await.ok();
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(150), "sync with nothing new returned after {elapsed:?}, before its timeout");
    assert!(elapsed < Duration::from_secs(5), "sync timeout 200ms took {elapsed:?}");
    assert_eq!(quiet["rooms"]["join"], json!({}), "{quiet}");
    let since = next_batch(&quiet);

    // Account data wakes a pending sync too.
    let started = Instant::now();
    let ad_path = format!("{V3}/user/{}/account_data/org.example.settings", enc(&bob.user_id));
    let (woken, put) = tokio::join!(
        async {
            let r = s.get(&sync_path(Some(&since), 10_000, None), &bob.token).await.ok();
            (r, started.elapsed())
        },
        async {
            // Bounded, as above.
            tokio::time::sleep(Duration::from_millis(300)).await;
            s.put(&ad_path, &bob.token, json!({"theme": "dark"})).await
        }
    );
    put.ok();
    let (body, elapsed) = woken;
    assert!(elapsed < Duration::from_secs(5), "sync took {elapsed:?} to notice account data");
    let ad = body["account_data"]["events"].as_array().expect("account_data.events");
    assert!(
        ad.iter().any(|e| e["type"] == "org.example.settings" && e["content"]["theme"] == "dark"),
        "account data missing from woken sync: {body}"
    );
    assert_eq!(s.get(&ad_path, &bob.token).await.ok(), json!({"theme": "dark"}));
}

#[actix_rt::test]
async fn sync_filters_limit_the_timeline_and_prev_batch_fills_the_gap() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let filter = json!({"room": {"timeline": {"limit": 3}}});
    let created = s.post(&format!("{V3}/user/{}/filter", enc(&alice.user_id)), &alice.token, filter.clone()).await.ok();
    let filter_id = created["filter_id"].as_str().unwrap_or_else(|| panic!("filter_id must be a string: {created}")).to_owned();
    let got = s.get(&format!("{V3}/user/{}/filter/{}", enc(&alice.user_id), enc(&filter_id)), &alice.token).await.ok();
    assert_eq!(got, filter);

    let room = s.create_room(&alice, json!({"name": "filtered"})).await;
    let since = next_batch(&s.sync(&alice, None, 0).await);
    let mut sent = Vec::new();
    for i in 0..10 {
        sent.push(s.send_text(&alice, &room, &format!("m{i}")).await);
    }
    let everything = ids(&all_forward(&s, &alice.token, &room, 100).await);

    // Initial sync with the stored filter: the last three, limited, and prev_batch reaches back.
    let initial = s.get(&sync_path(None, 0, Some(&filter_id)), &alice.token).await.ok();
    let tl = &initial["rooms"]["join"][&room]["timeline"];
    let events: Vec<Value> = tl["events"].as_array().expect("events").clone();
    assert_eq!(ids(&events), sent[7..].to_vec());
    assert_eq!(tl["limited"], true, "{tl}");
    let prev = tl["prev_batch"].as_str().expect("prev_batch");
    let earlier = ids(&all_backward(&s, &alice.token, &room, Some(prev), None, 4).await);
    let mut joined: Vec<String> = earlier.iter().rev().cloned().collect();
    joined.extend(ids(&events));
    assert_unique(&joined);
    assert_eq!(joined, everything, "prev_batch pagination plus the timeline must be the whole room, no gaps");

    // Incremental sync with the filter: the gap since `since` is exactly what prev_batch yields.
    let inc = s.get(&sync_path(Some(&since), 0, Some(&filter_id)), &alice.token).await.ok();
    let tl = &inc["rooms"]["join"][&room]["timeline"];
    let events: Vec<Value> = tl["events"].as_array().expect("events").clone();
    assert_eq!(ids(&events), sent[7..].to_vec());
    assert_eq!(tl["limited"], true, "{tl}");
    let prev = tl["prev_batch"].as_str().expect("prev_batch");
    let gap = ids(&all_backward(&s, &alice.token, &room, Some(prev), Some(&since), 2).await);
    let mut joined: Vec<String> = gap.iter().rev().cloned().collect();
    joined.extend(ids(&events));
    assert_eq!(joined, sent, "the gap between since and the limited timeline");

    // Inline filter JSON.
    let inline = json!({"room": {"timeline": {"limit": 2}}}).to_string();
    let body = s.get(&sync_path(None, 0, Some(&inline)), &alice.token).await.ok();
    let tl = &body["rooms"]["join"][&room]["timeline"];
    assert_eq!(ids(tl["events"].as_array().expect("events")), sent[8..].to_vec());
    assert_eq!(tl["limited"], true);

    // Another user's filter ID is not ours.
    let bob = s.register_user("bob").await;
    s.get(&format!("{V3}/user/{}/filter/{}", enc(&alice.user_id), enc(&filter_id)), &bob.token).await.err(403, "M_FORBIDDEN");
}
