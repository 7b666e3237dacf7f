//! The event writer commits every room's waiting batch in one transaction: a batch that fails
//! fails only its own room's senders, the other rooms' events sharing its round commit, and the
//! failed room comes back from the store without the events it never acknowledged.

use crate::common::*;
use diesel::connection::SimpleConnection;
use ensemble::store::Conn;
use futures_util::future::join_all;
use serde_json::json;

/// Makes every insert of an event into `room` fail, as a full disk or a broken constraint would.
async fn break_commits_of(s: &TestServer, room: &str) {
    break_inserts_where(s, format!("NEW.room_id = '{room}'")).await;
}

/// Makes every insert of an event for which `condition` (SQL over `NEW`) holds fail.
async fn break_inserts_where(s: &TestServer, condition: String) {
    s.server
        .services
        .db
        .run(move |c| {
            let sql = match c {
                Conn::Sqlite(_) => format!(
                    "CREATE TRIGGER injected_fault BEFORE INSERT ON events WHEN {condition} \
                     BEGIN SELECT RAISE(ABORT, 'injected fault'); END;"
                ),
                Conn::Pg(_) => format!(
                    "CREATE FUNCTION injected_fault() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected fault'; END $$ \
                     LANGUAGE plpgsql; CREATE TRIGGER injected_fault BEFORE INSERT ON events FOR EACH ROW \
                     WHEN ({condition}) EXECUTE FUNCTION injected_fault();"
                ),
            };
            c.batch_execute(&sql).map_err(|e| ensemble::error::Error::internal(e.to_string()))
        })
        .await
        .expect("trigger installed");
}

async fn mend_commits(s: &TestServer) {
    s.server
        .services
        .db
        .run(|c| {
            let sql = match c {
                Conn::Sqlite(_) => "DROP TRIGGER injected_fault;",
                Conn::Pg(_) => "DROP TRIGGER injected_fault ON events; DROP FUNCTION injected_fault();",
            };
            c.batch_execute(sql).map_err(|e| ensemble::error::Error::internal(e.to_string()))
        })
        .await
        .expect("trigger dropped");
}

async fn bodies(s: &TestServer, user: &User, room: &str) -> Vec<String> {
    all_forward(s, &user.token, room, 100)
        .await
        .iter()
        .filter(|e| e["type"] == "m.room.message")
        .filter_map(|e| e["content"]["body"].as_str().map(str::to_owned))
        .collect()
}

#[actix_rt::test]
async fn a_failed_batch_fails_only_its_rooms_senders() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let broken = s.create_room(&alice, json!({})).await;
    let fine: Vec<String> = join_all((0..3).map(|_| s.create_room(&alice, json!({})))).await;
    s.send_text(&alice, &broken, "before").await;
    break_commits_of(&s, &broken).await;

    // Sends to all four rooms at once, so the broken room's batches share rounds with the others.
    let sends = (0..20).flat_map(|i| {
        let (s, alice, broken, fine) = (&s, &alice, &broken, &fine);
        (0..4).map(move |r| async move {
            let room = if r == 0 { broken } else { &fine[r - 1] };
            (r, s.send_text_resp(alice, room, &format!("m{i}")).await)
        })
    });
    for (r, resp) in join_all(sends).await {
        if r == 0 {
            resp.err(500, "M_UNKNOWN");
        } else {
            assert_eq!(resp.status, 200, "a send to a room whose commits work failed: {}", resp.body);
        }
    }
    for room in &fine {
        let mut got = bodies(&s, &alice, room).await;
        got.sort();
        let mut want: Vec<String> = (0..20).map(|i| format!("m{i}")).collect();
        want.sort();
        assert_eq!(got, want, "every acknowledged event of {room} is stored");
    }

    // Mended, the broken room takes events again, and shows none of those it refused.
    mend_commits(&s).await;
    s.send_text(&alice, &broken, "after").await;
    assert_eq!(bodies(&s, &alice, &broken).await, vec!["before", "after"]);
    let sync = s.sync(&alice, None, 0).await;
    let shown: Vec<&str> = timeline(&sync, &broken).iter().filter_map(|e| e["content"]["body"].as_str()).collect();
    assert_eq!(shown, vec!["before", "after"], "a sync shows only committed events");
}

#[actix_rt::test]
async fn events_sent_to_many_rooms_at_once_all_reach_the_next_sync_once() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let rooms: Vec<String> = join_all((0..8).map(|_| s.create_room(&alice, json!({})))).await;
    let start = next_batch(&s.sync(&alice, None, 0).await);
    let sends = (0..10).flat_map(|i| {
        let (s, alice) = (&s, &alice);
        rooms.iter().map(move |room| async move { s.send_text(alice, room, &format!("{room} {i}")).await })
    });
    let ids: Vec<String> = join_all(sends).await;
    assert_unique(&ids);
    // One incremental sync from before the sends shows every one of them (ten per room: the
    // default timeline limit), and a sync from its token shows none again.
    let sync = s.sync(&alice, Some(&start), 0).await;
    for room in &rooms {
        let shown: Vec<String> = timeline(&sync, room).iter().filter_map(|e| e["content"]["body"].as_str().map(str::to_owned)).collect();
        let want: Vec<String> = (0..10).map(|i| format!("{room} {i}")).collect();
        let mut sorted = shown.clone();
        sorted.sort_by_key(|b| b.rsplit(' ').next().and_then(|n| n.parse::<u32>().ok()));
        assert_eq!(sorted, want, "room {room} shows all its events: {shown:?}");
        assert_eq!(timeline(&sync, room).len(), 10, "room {room} shows nothing else");
    }
    let again = s.sync(&alice, Some(&next_batch(&sync)), 0).await;
    assert!(rooms.iter().all(|r| timeline(&again, r).is_empty()), "events shown twice: {again}");
}

/// The room's stored events (ID and `prev_events`), read from the store itself: a client never
/// sees an event's references.
async fn stored_references(s: &TestServer, room: &str) -> Vec<(String, Vec<String>)> {
    use diesel::prelude::*;
    use ensemble::store::schema::events;
    let room = room.to_owned();
    let rows: Vec<(String, String)> = s
        .server
        .services
        .db
        .run(move |c| Ok(events::table.filter(events::room_id.eq(room)).select((events::event_id, events::json)).load(c)?))
        .await
        .expect("stored events");
    rows.into_iter()
        .map(|(id, json)| {
            let pdu: serde_json::Value = serde_json::from_str(&json).expect("json");
            let prev = pdu["prev_events"].as_array().expect("prev_events").iter().filter_map(|p| p.as_str().map(str::to_owned)).collect();
            (id, prev)
        })
        .collect()
}

#[actix_rt::test]
async fn events_accepted_behind_a_refused_one_are_never_stored() {
    // A room hands events to the writer without waiting for the commit of those before: the ones
    // accepted behind a refused event were built on it and must be refused too, while every
    // event acknowledged is stored and the room goes on from what is.
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({})).await;
    s.send_text(&alice, &room, "before").await;
    break_inserts_where(&s, "NEW.json LIKE '%poison%'".to_owned()).await;
    let mut acknowledged = Vec::new();
    for round in 0..5 {
        let sends = (0..20).map(|i| {
            let body = if i == 0 { format!("poison {round}") } else { format!("r{round} m{i}") };
            let (s, alice, room) = (&s, &alice, &room);
            async move {
                let resp = s.send_text_resp(alice, room, &body).await;
                (body, resp)
            }
        });
        for (body, resp) in join_all(sends).await {
            if body.starts_with("poison") {
                resp.err(500, "M_UNKNOWN");
            } else if resp.status == 200 {
                acknowledged.push(body);
            } else {
                resp.err(500, "M_UNKNOWN");
            }
        }
    }
    mend_commits(&s).await;
    s.send_text(&alice, &room, "after").await;

    let stored = stored_references(&s, &room).await;
    let ids: std::collections::HashSet<&str> = stored.iter().map(|(id, _)| id.as_str()).collect();
    for (id, prev) in &stored {
        for p in prev {
            assert!(ids.contains(p.as_str()), "{id} names {p} as a previous event, which is not stored");
        }
    }
    let got = bodies(&s, &alice, &room).await;
    assert_eq!(got.first().map(String::as_str), Some("before"));
    assert_eq!(got.last().map(String::as_str), Some("after"));
    let mut middle = got[1..got.len() - 1].to_vec();
    middle.sort();
    acknowledged.sort();
    assert_eq!(middle, acknowledged, "exactly the acknowledged events are stored");
}
