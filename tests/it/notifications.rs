//! Push rules evaluated: unread counts in `/sync` (reset by read receipts, threads apart when the
//! filter asks), `GET /notifications` and its paging, and pushes reaching a loopback push
//! gateway (body, badge, retry after a failure, rejected pushkeys).

use crate::common::*;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::{Arc, Mutex};

const V3: &str = "/_matrix/client/v3";

/// Alice and Bob in a private room (a one-to-one room for the push rules).
async fn dm() -> (TestServer, User, User, String) {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = s.create_room(&alice, json!({"preset": "private_chat"})).await;
    s.invite(&alice, &room, &bob.user_id).await.ok();
    s.join(&bob, &room).await.ok();
    (s, alice, bob, room)
}

fn counts(sync: &Value, room: &str) -> (i64, i64) {
    let u = &sync["rooms"]["join"][room]["unread_notifications"];
    (u["notification_count"].as_i64().unwrap_or(-1), u["highlight_count"].as_i64().unwrap_or(-1))
}

/// Polls Alice's initial sync until the room shows `want`.
async fn wait_counts(s: &TestServer, user: &User, room: &str, want: (i64, i64)) {
    eventually(10, || async {
        let sync = s.sync(user, None, 0).await;
        (counts(&sync, room) == want).then_some(())
    })
    .await;
}

async fn read_up_to(s: &TestServer, user: &User, room: &str, event: &str, kind: &str) {
    s.post(&format!("{V3}/rooms/{}/receipt/{kind}/{}", enc(room), enc(event)), &user.token, json!({})).await.ok();
}

async fn send(s: &TestServer, user: &User, room: &str, content: Value) -> String {
    let r = send_txn_json(s, &user.token, room, content).await;
    r.ok()["event_id"].as_str().expect("event_id").to_owned()
}

async fn send_txn_json(s: &TestServer, token: &str, room: &str, content: Value) -> Resp {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let txn = format!("n{}", N.fetch_add(1, Ordering::Relaxed));
    s.put(&send_path(room, "m.room.message", &txn), token, content).await
}

#[actix_rt::test]
async fn messages_notify_room_mates_and_a_receipt_resets_the_count() {
    let (s, alice, bob, room) = dm().await;
    let first = s.send_text(&bob, &room, "one").await;
    wait_counts(&s, &alice, &room, (1, 0)).await;
    s.send_text(&bob, &room, "two").await;
    wait_counts(&s, &alice, &room, (2, 0)).await;
    // Bob's own messages never count for him, nor does his invite once he joined.
    assert_eq!(counts(&s.sync(&bob, None, 0).await, &room), (0, 0));

    read_up_to(&s, &alice, &room, &first, "m.read").await;
    assert_eq!(counts(&s.sync(&alice, None, 0).await, &room), (1, 0));
    let third = s.send_text(&bob, &room, "three").await;
    wait_counts(&s, &alice, &room, (2, 0)).await;
    read_up_to(&s, &alice, &room, &third, "m.read.private").await;
    assert_eq!(counts(&s.sync(&alice, None, 0).await, &room), (0, 0));

    // The counts are stored: a restart keeps them.
    s.send_text(&bob, &room, "four").await;
    wait_counts(&s, &alice, &room, (1, 0)).await;
    let s = s.restart().await;
    assert_eq!(counts(&s.sync(&alice, None, 0).await, &room), (1, 0));
}

#[actix_rt::test]
async fn a_server_name_with_a_port_notifies_its_users() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = test_config(dir.path());
    config.server_name = "localhost:28008".into();
    let s = TestServer::start_with(dir, config).await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = s.create_room(&alice, json!({"preset": "private_chat"})).await;
    s.invite(&alice, &room, &bob.user_id).await.ok();
    s.join(&bob, &room).await.ok();
    let sent = s.send_text(&bob, &room, "to a server with a port").await;
    wait_counts(&s, &alice, &room, (1, 0)).await;
    let list = s.get(&format!("{V3}/notifications"), &alice.token).await.ok();
    assert_eq!(list["notifications"][0]["event"]["event_id"], sent.as_str(), "{list}");
}

#[actix_rt::test]
async fn a_sync_that_shows_a_message_shows_the_count_it_makes() {
    let (s, alice, bob, room) = dm().await;
    let mut since = next_batch(&s.sync(&alice, None, 0).await);
    for n in 1..=3 {
        let sent = s.send_text(&bob, &room, "news").await;
        let sync = eventually(10, || async {
            let sync = s.sync(&alice, Some(&since), 5_000).await;
            timeline(&sync, &room).iter().any(|e| e["event_id"] == sent.as_str()).then_some(sync)
        })
        .await;
        assert_eq!(counts(&sync, &room), (n, 0), "{sync}");
        since = next_batch(&sync);
    }
}

#[actix_rt::test]
async fn a_mention_highlights_and_a_muted_room_stays_quiet() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let carol = s.register_user("carol").await;
    let room = public_room(&s, &alice, &[&bob, &carol]).await;
    s.send_text(&bob, &room, "hello all").await;
    wait_counts(&s, &alice, &room, (1, 0)).await;
    send(&s, &bob, &room, json!({"msgtype": "m.text", "body": "alice!", "m.mentions": {"user_ids": [alice.user_id]}})).await;
    wait_counts(&s, &alice, &room, (2, 1)).await;

    // Muting the room: plain messages no longer count, a user rule that highlights does.
    s.put(&format!("{V3}/pushrules/global/room/{}", enc(&room)), &alice.token, json!({"actions": ["dont_notify"]})).await.ok();
    s.send_text(&bob, &room, "quiet").await;
    let body = json!({"actions": ["notify", {"set_tweak": "highlight"}], "pattern": "cake"});
    s.put(&format!("{V3}/pushrules/global/content/cake"), &alice.token, body).await.ok();
    s.send_text(&carol, &room, "cake time").await;
    wait_counts(&s, &alice, &room, (3, 2)).await;
    let n = s.get(&format!("{V3}/notifications"), &alice.token).await.ok();
    let bodies: Vec<&str> = n["notifications"].as_array().unwrap().iter().filter_map(|e| e["event"]["content"]["body"].as_str()).collect();
    assert_eq!(bodies, ["cake time", "alice!", "hello all"], "{n}");
}

/// Synapse's legacy mention rules: in a muted room, naming Alice by localpart or display name
/// highlights, and so does "@room" from someone allowed to notify the room (not from others).
#[actix_rt::test]
async fn legacy_mentions_by_name_and_at_room_highlight_in_a_muted_room() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = public_room(&s, &alice, &[&bob]).await;
    let profile = format!("{V3}/profile/{}/displayname", enc(&alice.user_id));
    s.put(&profile, &alice.token, json!({"displayname": "Queen Ally"})).await.ok();
    s.put(&format!("{V3}/pushrules/global/room/{}", enc(&room)), &alice.token, json!({"actions": ["dont_notify"]})).await.ok();
    s.send_text(&bob, &room, "nothing for anyone").await;
    s.send_text(&bob, &room, "@room listen (bob may not notify the room)").await;
    s.send_text(&bob, &room, "hey alice, look").await;
    wait_counts(&s, &alice, &room, (1, 1)).await;
    s.send_text(&bob, &room, "what does queen ally think?").await;
    wait_counts(&s, &alice, &room, (2, 2)).await;
    // Alice's display name is not a word of this one.
    s.send_text(&bob, &room, "queen allyship").await;
    // Bob may notify the room once his power reaches the room's notification level (50).
    let pl_path = format!("{V3}/rooms/{}/state/m.room.power_levels", enc(&room));
    let mut pl = s.get(&pl_path, &alice.token).await.ok();
    pl["users"][bob.user_id.as_str()] = json!(50);
    s.put(&pl_path, &alice.token, pl).await.ok();
    s.send_text(&bob, &room, "@room everyone, please").await;
    wait_counts(&s, &alice, &room, (3, 3)).await;
    let n = s.get(&format!("{V3}/notifications?only=highlight"), &alice.token).await.ok();
    let bodies: Vec<&str> = n["notifications"].as_array().unwrap().iter().filter_map(|e| e["event"]["content"]["body"].as_str()).collect();
    assert_eq!(bodies, ["@room everyone, please", "what does queen ally think?", "hey alice, look"], "{n}");
}

#[actix_rt::test]
async fn notifications_page_newest_first_and_say_what_is_read() {
    let (s, alice, bob, room) = dm().await;
    let mut sent = Vec::new();
    for i in 0..5 {
        sent.push(s.send_text(&bob, &room, &format!("m{i}")).await);
    }
    send(&s, &bob, &room, json!({"msgtype": "m.text", "body": "hi", "m.mentions": {"user_ids": [alice.user_id]}})).await;
    wait_counts(&s, &alice, &room, (6, 1)).await;
    read_up_to(&s, &alice, &room, &sent[1], "m.read").await;

    let page = s.get(&format!("{V3}/notifications?limit=4"), &alice.token).await.ok();
    let list = page["notifications"].as_array().unwrap();
    assert_eq!(list.len(), 4, "{page}");
    let first = &list[0];
    for key in ["actions", "event", "profile_tag", "read", "room_id", "ts"] {
        assert!(first.get(key).is_some(), "{key} missing: {first}");
    }
    assert_eq!(first["room_id"], room.as_str());
    assert_eq!(first["read"], false);
    assert!(first["actions"].as_array().unwrap().iter().any(|a| a == "notify"), "{first}");
    let token = page["next_token"].as_str().expect("next_token").to_owned();
    let rest = s.get(&format!("{V3}/notifications?limit=4&from={token}"), &alice.token).await.ok();
    let rest_ids: Vec<String> =
        rest["notifications"].as_array().unwrap().iter().map(|n| n["event"]["event_id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(rest_ids, [sent[1].clone(), sent[0].clone()], "{rest}");
    assert!(rest["notifications"].as_array().unwrap().iter().all(|n| n["read"] == true), "{rest}");
    assert!(rest.get("next_token").is_none(), "{rest}");

    let high = s.get(&format!("{V3}/notifications?only=highlight"), &alice.token).await.ok();
    let high = high["notifications"].as_array().unwrap();
    assert_eq!(high.len(), 1);
    assert_eq!(high[0]["event"]["content"]["body"], "hi");

    // Bounds and bad tokens.
    let big = s.get(&format!("{V3}/notifications?limit=1000000"), &alice.token).await.ok();
    assert_eq!(big["notifications"].as_array().unwrap().len(), 6);
    s.get(&format!("{V3}/notifications?from=nope"), &alice.token).await.err(400, "M_INVALID_PARAM");
    s.get(&format!("{V3}/notifications?limit=x"), &alice.token).await.err(400, "M_INVALID_PARAM");
    s.req("GET", &format!("{V3}/notifications"), None, None).await.err(401, "M_MISSING_TOKEN");
    // Bob's only notification is his invite.
    let bobs = s.get(&format!("{V3}/notifications"), &bob.token).await.ok();
    let bobs = bobs["notifications"].as_array().unwrap();
    assert_eq!(bobs.len(), 1);
    assert_eq!(bobs[0]["event"]["content"]["membership"], "invite");
}

#[actix_rt::test]
async fn thread_counts_are_apart_when_the_filter_asks() {
    let (s, alice, bob, room) = dm().await;
    let root = s.send_text(&bob, &room, "root").await;
    let reply = json!({"msgtype": "m.text", "body": "in thread", "m.relates_to": {"rel_type": "m.thread", "event_id": root}});
    send(&s, &bob, &room, reply).await;
    wait_counts(&s, &alice, &room, (2, 0)).await;
    let filter = json!({"room": {"timeline": {"unread_thread_notifications": true}}}).to_string();
    let sync = s.get(&sync_path(None, 0, Some(&filter)), &alice.token).await.ok();
    assert_eq!(counts(&sync, &room), (1, 0), "{sync}");
    let threads = &sync["rooms"]["join"][&room]["unread_thread_notifications"];
    assert_eq!(threads[&root], json!({"notification_count": 1, "highlight_count": 0}), "{sync}");
    // Without the filter's ask, one count for the room and no thread section.
    let plain = s.sync(&alice, None, 0).await;
    assert!(plain["rooms"]["join"][&room].get("unread_thread_notifications").is_none());
}

/// A push gateway on 127.0.0.1 that records each request body and answers from a script
/// (status and JSON), the last answer repeating.
struct Gateway {
    url: String,
    seen: Arc<Mutex<Vec<Value>>>,
}

impl Gateway {
    fn start(answers: Vec<(u16, Value)>) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/_matrix/push/v1/notify", listener.local_addr().expect("addr"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        std::thread::spawn(move || {
            let mut served = 0usize;
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let Some(body) = read_request(&mut stream) else { continue };
                let (status, answer) = answers[served.min(answers.len() - 1)].clone();
                served += 1;
                record.lock().unwrap().push(body);
                let text = answer.to_string();
                let reply = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                    text.len()
                );
                let _ = stream.write_all(reply.as_bytes());
            }
        });
        Self { url, seen }
    }

    fn bodies(&self) -> Vec<Value> {
        self.seen.lock().unwrap().clone()
    }

    /// Waits for a recorded body `pick` accepts.
    async fn wait_for(&self, pick: impl Fn(&Value) -> bool) -> Value {
        eventually(15, || async { self.bodies().into_iter().find(|b| pick(b)) }).await
    }
}

fn read_request(stream: &mut std::net::TcpStream) -> Option<Value> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut len = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            len = v.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}

async fn set_pusher(s: &TestServer, user: &User, url: &str, pushkey: &str) {
    let body = json!({
        "kind": "http", "app_id": "ensemble.test", "app_display_name": "Test", "device_display_name": "Phone",
        "pushkey": pushkey, "lang": "en", "profile_tag": "tag", "data": {"url": url, "custom": 7},
    });
    s.post(&format!("{V3}/pushers/set"), &user.token, body).await.ok();
}

fn is_message(b: &Value, text: &str) -> bool {
    b["notification"]["type"] == "m.room.message" && b["notification"]["content"]["body"] == text
}

#[actix_rt::test]
async fn a_notifying_message_is_pushed_to_the_gateway_then_the_badge_on_read() {
    let gw = Gateway::start(vec![(200, json!({}))]);
    let (s, alice, bob, room) = dm().await;
    s.put(&format!("{V3}/profile/{}/displayname", enc(&bob.user_id)), &bob.token, json!({"displayname": "Bobby"})).await.ok();
    set_name(&s, &alice, &room, "Tea room").await.ok();
    set_pusher(&s, &alice, &gw.url, "key1").await;
    let event = s.send_text(&bob, &room, "ping").await;
    let push = gw.wait_for(|b| is_message(b, "ping")).await;
    let n = &push["notification"];
    assert_eq!(n["event_id"], event.as_str(), "{push}");
    assert_eq!(n["id"], event.as_str());
    assert_eq!(n["room_id"], room.as_str());
    assert_eq!(n["sender"], bob.user_id.as_str());
    assert_eq!(n["sender_display_name"], "Bobby");
    assert_eq!(n["room_name"], "Tea room");
    assert_eq!(n["prio"], "high");
    assert_eq!(n["counts"]["unread"], 1);
    let device = &n["devices"][0];
    assert_eq!(device["app_id"], "ensemble.test");
    assert_eq!(device["pushkey"], "key1");
    assert!(device["pushkey_ts"].as_i64().is_some_and(|t| t > 1_600_000_000 && t < 100_000_000_000), "{device}");
    assert_eq!(device["data"], json!({"custom": 7}), "the URL is not sent on");
    assert_eq!(device["tweaks"]["sound"], "default");
    // Bob's own message is not pushed to Bob (he has no pusher) nor is his join to anyone else.
    read_up_to(&s, &alice, &room, &event, "m.read").await;
    let badge = gw.wait_for(|b| b["notification"].get("type").is_none() && b["notification"]["counts"]["unread"] == 0).await;
    assert_eq!(badge["notification"]["devices"][0]["pushkey"], "key1");
}

#[actix_rt::test]
async fn invites_are_pushed_to_the_invitee() {
    let gw = Gateway::start(vec![(200, json!({}))]);
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    set_pusher(&s, &alice, &gw.url, "key1").await;
    let room = s.create_room(&bob, json!({"preset": "private_chat"})).await;
    s.invite(&bob, &room, &alice.user_id).await.ok();
    let push = gw.wait_for(|b| b["notification"]["type"] == "m.room.member").await;
    let n = &push["notification"];
    assert_eq!(n["membership"], "invite", "{push}");
    assert_eq!(n["user_is_target"], true);
    assert_eq!(n["room_id"], room.as_str());
    assert_eq!(n["sender"], bob.user_id.as_str());
}

#[actix_rt::test]
async fn a_failed_push_is_retried_and_a_rejected_pushkey_loses_its_pusher() {
    let gw = Gateway::start(vec![(500, json!({})), (200, json!({})), (200, json!({"rejected": ["key1"]}))]);
    let (s, alice, bob, room) = dm().await;
    set_pusher(&s, &alice, &gw.url, "key1").await;
    s.send_text(&bob, &room, "first").await;
    // The first attempt fails with 500; the retry after the backoff is delivered.
    eventually(15, || async { (gw.bodies().iter().filter(|b| is_message(b, "first")).count() >= 2).then_some(()) }).await;
    s.send_text(&bob, &room, "second").await;
    gw.wait_for(|b| is_message(b, "second")).await;
    eventually(10, || async {
        let list = s.get(&format!("{V3}/pushers"), &alice.token).await.ok();
        list["pushers"].as_array().is_some_and(Vec::is_empty).then_some(())
    })
    .await;
}

#[actix_rt::test]
async fn muted_events_and_own_events_are_not_pushed() {
    let gw = Gateway::start(vec![(200, json!({}))]);
    let (s, alice, bob, room) = dm().await;
    set_pusher(&s, &alice, &gw.url, "key1").await;
    s.put(&format!("{V3}/pushrules/global/room/{}", enc(&room)), &alice.token, json!({"actions": ["dont_notify"]})).await.ok();
    s.send_text(&bob, &room, "muted").await;
    s.send_text(&alice, &room, "own").await;
    // An event after them that is pushed (a mention beats the room rule): everything before it
    // was evaluated already, in stream order.
    send(&s, &bob, &room, json!({"msgtype": "m.text", "body": "mention", "m.mentions": {"user_ids": [alice.user_id]}})).await;
    gw.wait_for(|b| is_message(b, "mention")).await;
    assert!(!gw.bodies().iter().any(|b| is_message(b, "muted") || is_message(b, "own")), "{:?}", gw.bodies());
}

#[actix_rt::test]
async fn a_purged_room_takes_its_notifications_and_counts_with_it() {
    let (s, alice, bob, room) = dm().await;
    let admin = s.register_admin("root").await;
    // A second room whose notifications must stay.
    let other = s.create_room(&bob, json!({"preset": "private_chat"})).await;
    s.invite(&bob, &other, &alice.user_id).await.ok();
    s.join(&alice, &other).await.ok();
    for i in 0..3 {
        s.send_text(&bob, &room, &format!("m{i}")).await;
    }
    let kept = s.send_text(&bob, &other, "stays").await;
    wait_counts(&s, &alice, &room, (3, 0)).await;
    wait_counts(&s, &alice, &other, (1, 0)).await;

    s.req("DELETE", &sa(&format!("v1/rooms/{}", enc(&room))), Some(&admin.token), Some(json!({"purge": true}))).await.ok();
    let page = s.get(&format!("{V3}/notifications"), &alice.token).await.ok();
    let ids: Vec<&str> = page["notifications"].as_array().unwrap().iter().filter_map(|n| n["event"]["event_id"].as_str()).collect();
    // Alice's invite to the other room notified her too.
    assert_eq!(ids.first(), Some(&kept.as_str()), "{page}");
    assert!(page["notifications"].as_array().unwrap().iter().all(|n| n["room_id"] == other.as_str()), "{page}");
    let sync = s.sync(&alice, None, 0).await;
    assert!(sync["rooms"]["join"].get(&room).is_none(), "{sync}");
    assert_eq!(counts(&sync, &other), (1, 0));
}

/// The bench fixture that waits out push evaluation returns only once every committed event is
/// evaluated: Bob's count is complete on the first sync after it, without a sync's own wait.
#[actix_rt::test]
async fn waiting_for_push_evaluation_covers_every_committed_event() {
    let (s, alice, bob, room) = dm().await;
    let svc = &s.server.services;
    let sender = ensemble::ids::parse_user_id(&alice.user_id).expect("alice's ID");
    let msgs = (0..3000)
        .map(|i| {
            (
                sender.clone(),
                ensemble::events::EventDraft::message("m.room.message", json!({"msgtype": "m.text", "body": format!("m {i}")})),
            )
        })
        .collect();
    ensemble::service::fixtures::send_all(svc, &room, msgs).await.expect("messages");
    let head = svc.db.run(ensemble::store::events::max_stream).await.expect("stream head");
    ensemble::service::fixtures::wait_push_evaluated(svc).await.expect("evaluated");
    assert!(*svc.push_progress.borrow() >= head, "evaluated up to {} of {head}", *svc.push_progress.borrow());
    assert_eq!(counts(&s.sync(&bob, None, 0).await, &room), (3000, 0));
}

/// The evaluator keeps a room's members between rounds; their pushers are read again each round,
/// so a pusher set or removed after the room's first evaluation is honoured from the next message.
#[actix_rt::test]
async fn a_pusher_set_or_removed_after_the_room_was_evaluated_counts_from_the_next_message() {
    let (first, second) = (Gateway::start(vec![(200, json!({}))]), Gateway::start(vec![(200, json!({}))]));
    let (s, alice, bob, room) = dm().await;
    s.send_text(&bob, &room, "before").await;
    let evaluated = |text: &'static str| {
        let (s, alice) = (&s, &alice);
        async move {
            eventually(15, || async {
                let list = s.get(&format!("{V3}/notifications"), &alice.token).await.ok();
                list["notifications"].as_array().unwrap().iter().any(|n| n["event"]["content"]["body"] == text).then_some(())
            })
            .await
        }
    };
    evaluated("before").await;
    set_pusher(&s, &alice, &first.url, "key1").await;
    s.send_text(&bob, &room, "after").await;
    first.wait_for(|b| is_message(b, "after")).await;
    // The first pusher goes, a second comes: the next message reaches only the second.
    let gone = json!({"kind": null, "app_id": "ensemble.test", "pushkey": "key1"});
    s.post(&format!("{V3}/pushers/set"), &alice.token, gone).await.ok();
    set_pusher(&s, &alice, &second.url, "key2").await;
    s.send_text(&bob, &room, "later").await;
    second.wait_for(|b| is_message(b, "later")).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!first.bodies().iter().any(|b| is_message(b, "later")), "{:?}", first.bodies());
    assert!(!second.bodies().iter().any(|b| is_message(b, "before") || is_message(b, "after")));
}
