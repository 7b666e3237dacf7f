//! A woken long-poll answered from the events in memory says exactly what a read of the store
//! says: each case wakes a long-poll, then asks the same question again with `timeout=0`, which
//! reads the store, and compares the two answers (all but each event's age and the tokens).

use crate::common::*;
use ensemble::actors::notifier::Waiting;
use serde_json::{Value, json};
use std::sync::atomic::Ordering;

/// The answer without what differs by the moment it was made: ages and `next_batch`.
fn settled(mut v: Value) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(m) => {
                if let Some(Value::Object(u)) = m.get_mut("unsigned") {
                    u.remove("age");
                }
                m.remove("next_batch");
                m.values_mut().for_each(strip);
            }
            Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut v);
    v
}

struct Woken {
    body: Value,
    /// Whether it was answered from memory.
    from_memory: bool,
}

/// Long-polls as `user` from `since` while `act` runs, once the poll is parked; checks the
/// answer against the store's for the same token and filter, and returns it.
async fn wake_and_compare<F: std::future::Future<Output = ()>>(s: &TestServer, user: &User, since: &str, filter: &str, act: F) -> Woken {
    wake_and_compare_with(s, user, user, since, filter, act).await
}

/// As [`wake_and_compare`], with the store read by `reader` (another device of the same user,
/// when what a device was sent before matters).
async fn wake_and_compare_with<F: std::future::Future<Output = ()>>(
    s: &TestServer,
    user: &User,
    reader: &User,
    since: &str,
    filter: &str,
    act: F,
) -> Woken {
    let svc = &s.server.services;
    let (parks, memory) = (svc.sync_quiet_parks.load(Ordering::Relaxed), svc.sync_from_memory.load(Ordering::Relaxed));
    let path = sync_path(Some(since), 10_000, Some(filter));
    let poll = s.get(&path, &user.token);
    let (woken, ()) = tokio::join!(poll, async {
        eventually(10, || async { (svc.sync_quiet_parks.load(Ordering::Relaxed) > parks).then_some(()) }).await;
        act.await
    });
    let woken = woken.ok();
    let from_memory = svc.sync_from_memory.load(Ordering::Relaxed) > memory;
    let read = s.get(&sync_path(Some(since), 0, Some(filter)), &reader.token).await.ok();
    assert_eq!(settled(woken.clone()), settled(read.clone()), "woken (from memory: {from_memory}) and read answers differ");
    Woken { body: woken, from_memory }
}

fn bodies(sync: &Value, room: &str) -> Vec<String> {
    timeline(sync, room).iter().filter_map(|e| e["content"]["body"].as_str().map(str::to_owned)).collect()
}

const NO_FILTER: &str = "{}";

#[actix_rt::test]
async fn woken_answers_from_memory_match_the_store() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let carol = s.register_user("carol").await;
    let room = public_room(&s, &alice, &[&bob, &carol]).await;
    let other = public_room(&s, &alice, &[&bob]).await;

    // A message: from memory, and the same as the store's answer.
    let t = next_batch(&s.sync(&bob, None, 0).await);
    let w = wake_and_compare(&s, &bob, &t, NO_FILTER, async {
        s.send_text(&alice, &room, "hello").await;
    })
    .await;
    assert!(w.from_memory, "{}", w.body);
    assert_eq!(bodies(&w.body, &room), ["hello"]);
    assert_eq!(w.body["rooms"]["join"][&room]["unread_notifications"]["notification_count"], 1, "{}", w.body);

    // The sender's own device sees its transaction ID; another user does not.
    let ta = next_batch(&s.sync(&alice, None, 0).await);
    let w = wake_and_compare(&s, &alice, &ta, NO_FILTER, async {
        send_txn(&s, &alice.token, &other, "txn-1", "mine").await.ok();
    })
    .await;
    assert!(w.from_memory);
    assert_eq!(timeline(&w.body, &other)[0]["unsigned"]["transaction_id"], "txn-1", "{}", w.body);
    let t = next_batch(&s.sync(&bob, None, 0).await);
    let w = wake_and_compare(&s, &bob, &t, NO_FILTER, async {
        send_txn(&s, &alice.token, &other, "txn-2", "theirs").await.ok();
    })
    .await;
    assert!(w.from_memory);
    assert_eq!(bodies(&w.body, &other), ["theirs"]);
    assert!(timeline(&w.body, &other)[0]["unsigned"].get("transaction_id").is_none(), "{}", w.body);

    // Types the timeline leaves out wake nothing; the message after them is answered.
    let t = next_batch(&w.body);
    let only_messages = json!({"room": {"timeline": {"types": ["m.room.message"]}}}).to_string();
    let w = wake_and_compare(&s, &bob, &t, &only_messages, async {
        s.put(&send_path(&room, "org.example.ping", "p1"), &alice.token, json!({"n": 1})).await.ok();
        s.send_text(&alice, &room, "after the ping").await;
    })
    .await;
    assert_eq!(bodies(&w.body, &room), ["after the ping"], "{}", w.body);
    assert!(timeline(&w.body, &room).iter().all(|e| e["type"] == "m.room.message"), "{}", w.body);

    // Someone bob ignores: hidden either way.
    let t = next_batch(&s.sync(&bob, None, 0).await);
    s.put(
        &format!("/_matrix/client/v3/user/{}/account_data/m.ignored_user_list", enc(&bob.user_id)),
        &bob.token,
        json!({"ignored_users": {(carol.user_id.clone()): {}}}),
    )
    .await
    .ok();
    let t = next_batch(&s.sync(&bob, Some(&t), 0).await);
    let w = wake_and_compare(&s, &bob, &t, NO_FILTER, async {
        s.send_text(&carol, &room, "ignored").await;
        s.send_text(&alice, &room, "seen").await;
    })
    .await;
    assert_eq!(bodies(&w.body, &room), ["seen"], "{}", w.body);

    // A member event, a redaction: read from the store.
    let t = next_batch(&w.body);
    let dave = s.register_user("dave").await;
    let w = wake_and_compare(&s, &bob, &t, NO_FILTER, async {
        s.join(&dave, &room).await.ok();
    })
    .await;
    assert!(!w.from_memory, "{}", w.body);
    assert!(timeline(&w.body, &room).iter().any(|e| e["type"] == "m.room.member"), "{}", w.body);
    let t = next_batch(&w.body);
    let hello = s.send_text(&alice, &room, "to redact").await;
    let t = next_batch(&s.sync(&bob, Some(&t), 0).await);
    let w = wake_and_compare(&s, &bob, &t, NO_FILTER, async {
        s.put(&room_path(&room, &format!("redact/{}/r1", enc(&hello))), &alice.token, json!({})).await.ok();
    })
    .await;
    assert!(!w.from_memory, "{}", w.body);

    // Lazy loading: the sender's member event goes to a device that was not sent it, with the
    // room's summary, and not again to one that was (each compared with a device in the same
    // position: a fresh one, then the same one).
    let lazy = json!({"room": {"state": {"lazy_load_members": true}}}).to_string();
    let (phone, fresh) = (new_device(&s, &bob).await, new_device(&s, &bob).await);
    // Past the new devices' device list change.
    let t = next_batch(&s.sync(&bob, None, 0).await);
    let w = wake_and_compare_with(&s, &phone, &fresh, &t, &lazy, async {
        s.send_text(&dave, &room, "lazy").await;
    })
    .await;
    assert!(w.from_memory, "{}", w.body);
    let section = &w.body["rooms"]["join"][&room];
    let members: Vec<&Value> = section["state"]["events"].as_array().expect("state").iter().collect();
    assert_eq!(members.len(), 1, "{section}");
    assert_eq!(members[0]["state_key"], dave.user_id.as_str(), "{section}");
    assert_eq!(section["summary"]["m.joined_member_count"], 4, "{section}");
    let t = next_batch(&w.body);
    let w = wake_and_compare(&s, &phone, &t, &lazy, async {
        s.send_text(&dave, &room, "lazy again").await;
    })
    .await;
    assert!(w.from_memory, "{}", w.body);
    assert_eq!(w.body["rooms"]["join"][&room]["state"]["events"], json!([]), "{}", w.body);
    // Redundant members asked for: sent every time.
    let t = next_batch(&w.body);
    let redundant = json!({"room": {"state": {"lazy_load_members": true, "include_redundant_members": true}}}).to_string();
    let w = wake_and_compare(&s, &phone, &t, &redundant, async {
        s.send_text(&dave, &room, "lazy, redundant").await;
    })
    .await;
    assert!(w.from_memory, "{}", w.body);
    assert_eq!(w.body["rooms"]["join"][&room]["state"]["events"].as_array().map(Vec::len), Some(1), "{}", w.body);
}

fn unread(sync: &Value, room: &str) -> Value {
    sync["rooms"]["join"][room]["unread_notifications"]["notification_count"].clone()
}

/// Unread counts, ignored users and key counts are kept in memory for woken long-polls: every
/// write that changes them shows on the next woken answer, which must still equal the store's.
#[actix_rt::test]
async fn what_woken_answers_keep_in_memory_follows_every_write() {
    let s = TestServer::start().await;
    let svc = &s.server.services;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let carol = s.register_user("carol").await;
    let room = public_room(&s, &alice, &[&bob, &carol]).await;
    let threads = json!({"room": {"timeline": {"unread_thread_notifications": true}}}).to_string();

    // A sync that read the store offers what it read (refused while the evaluator records, so
    // asked again), and the first woken answer needs no connection.
    let device_key = (bob.user_id.clone(), bob.device_id.clone());
    eventually(10, || async {
        s.sync(&bob, None, 0).await;
        let user = bob.user_id.as_str();
        svc.kept.ignored.get(user).and(svc.kept.unread.get(user)).and(svc.kept.key_counts.get(&device_key)).map(|_| ())
    })
    .await;

    // Counts the push evaluator records are added to those kept: 1, then 2, then a thread's.
    let t = next_batch(&s.sync(&bob, None, 0).await);
    let w = wake_and_compare(&s, &bob, &t, NO_FILTER, async {
        s.send_text(&alice, &room, "one").await;
    })
    .await;
    assert!(w.from_memory && unread(&w.body, &room) == 1, "{}", w.body);
    let w = wake_and_compare(&s, &bob, &next_batch(&w.body), NO_FILTER, async {
        s.send_text(&alice, &room, "two").await;
    })
    .await;
    assert!(w.from_memory && unread(&w.body, &room) == 2, "{}", w.body);
    let root = s.send_text(&alice, &room, "root").await;
    let t = next_batch(&s.sync(&bob, Some(&next_batch(&w.body)), 0).await);
    let reply = json!({"msgtype": "m.text", "body": "in thread", "m.relates_to": {"rel_type": "m.thread", "event_id": root}});
    let w = wake_and_compare(&s, &bob, &t, &threads, async {
        s.put(&send_path(&room, "m.room.message", "th1"), &alice.token, reply).await.ok();
    })
    .await;
    let section = &w.body["rooms"]["join"][&room];
    assert!(w.from_memory, "{}", w.body);
    assert_eq!(section["unread_notifications"]["notification_count"], 3, "{section}");
    assert_eq!(section["unread_thread_notifications"][&root]["notification_count"], 1, "{section}");

    // A read receipt recounts the room: what is kept becomes what the store says.
    let last = s.send_text(&alice, &room, "read up to here").await;
    s.post(&room_path(&room, &format!("receipt/m.read/{}", enc(&last))), &bob.token, json!({})).await.ok();
    let kept = svc.kept.unread.get(bob.user_id.as_str());
    let u = bob.user_id.clone();
    let stored = svc.db.run(move |c| ensemble::store::notifications::counts(c, &u)).await.expect("store");
    assert!(kept.is_none_or(|k| *k == stored), "kept counts differ from the store's after a receipt: {stored:?}");
    let t = next_batch(&s.sync(&bob, None, 0).await);
    let w = wake_and_compare(&s, &bob, &t, NO_FILTER, async {
        s.send_text(&alice, &room, "after the receipt").await;
    })
    .await;
    assert!(w.from_memory, "{}", w.body);
    assert_eq!(unread(&w.body, &room), 1, "an unthreaded receipt reads the thread too: {}", w.body);

    // Ignoring someone forgets the list kept.
    assert!(svc.kept.ignored.get(bob.user_id.as_str()).is_some());
    s.put(
        &format!("/_matrix/client/v3/user/{}/account_data/m.ignored_user_list", enc(&bob.user_id)),
        &bob.token,
        json!({"ignored_users": {(carol.user_id.clone()): {}}}),
    )
    .await
    .ok();
    assert!(svc.kept.ignored.get(bob.user_id.as_str()).is_none(), "forgotten when written");
    // Carol's message comes after the token and before the poll waits, so the woken answer
    // holds it and must hide it.
    let t = next_batch(&s.sync(&bob, None, 0).await);
    s.send_text(&carol, &room, "ignored").await;
    let memory = svc.sync_from_memory.load(Ordering::Relaxed);
    let path = sync_path(Some(&t), 10_000, None);
    let (woken, ()) = tokio::join!(s.get(&path, &bob.token), async {
        eventually(10, || async { (svc.notifier.send(Waiting).await.unwrap_or(0) > 0).then_some(()) }).await;
        s.send_text(&alice, &room, "seen").await;
    });
    let woken = woken.ok();
    assert!(svc.sync_from_memory.load(Ordering::Relaxed) > memory, "{woken}");
    assert_eq!(bodies(&woken, &room), ["seen"], "{woken}");

    // One-time keys: uploaded, claimed by someone else, and gone with a deleted device whose ID is
    // used again.
    let keys: serde_json::Map<String, Value> =
        (0..3).map(|i| (format!("signed_curve25519:K{i}"), json!({"key": format!("k{i}")}))).collect();
    s.post("/_matrix/client/v3/keys/upload", &bob.token, json!({"one_time_keys": keys})).await.ok();
    let otk = |sync: &Value| sync["device_one_time_keys_count"]["signed_curve25519"].clone();
    let t = next_batch(&s.sync(&bob, None, 0).await);
    let w = wake_and_compare(&s, &bob, &t, NO_FILTER, async {
        s.send_text(&alice, &room, "keys").await;
    })
    .await;
    assert!(w.from_memory && otk(&w.body) == 3, "{}", w.body);
    let ask = json!({"one_time_keys": {(bob.user_id.clone()): {(bob.device_id.clone()): "signed_curve25519"}}});
    s.post("/_matrix/client/v3/keys/claim", &alice.token, ask).await.ok();
    let w = wake_and_compare(&s, &bob, &next_batch(&w.body), NO_FILTER, async {
        s.send_text(&alice, &room, "claimed").await;
    })
    .await;
    assert!(w.from_memory && otk(&w.body) == 2, "{}", w.body);
    s.post("/_matrix/client/v3/logout", &bob.token, json!({})).await.ok();
    let login = json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": bob.user_id}, "password": bob.password, "device_id": bob.device_id});
    let again = s.req("POST", "/_matrix/client/v3/login", None, Some(login)).await.ok();
    let bob = User { token: again["access_token"].as_str().expect("token").to_owned(), ..bob.clone() };
    let kept = svc.kept.key_counts.get(&device_key);
    assert!(kept.as_ref().is_none_or(|k| k.0["signed_curve25519"] == 0), "the old device's counts kept: {kept:?}");
    let t = next_batch(&s.sync(&bob, None, 0).await);
    let w = wake_and_compare(&s, &bob, &t, NO_FILTER, async {
        s.send_text(&alice, &room, "new device").await;
    })
    .await;
    assert!(w.from_memory, "{}", w.body);
    assert_eq!(otk(&w.body), 0, "the old device's keys went with it: {}", w.body);
}
