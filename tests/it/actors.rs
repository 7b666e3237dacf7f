//! Actor lifecycle seen from outside: idle room actors are passivated and come back on demand
//! with their state; nothing acknowledged is lost on the way.

use crate::common::*;
use serde_json::json;

#[actix_rt::test]
async fn idle_room_actors_are_passivated_and_reactivated_with_their_state() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config(dir.path());
    cfg.actor_idle_secs = 1;
    let s = TestServer::start_with(dir, cfg).await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = s.create_room(&alice, json!({"preset": "private_chat", "name": "sleepy"})).await;
    let first = s.send_text(&alice, &room, "before the nap").await;
    assert!(s.server.services.directory.active_rooms() >= 1);

    // Idle for a second: the directory forgets the room's actor.
    let dirx = &s.server.services.directory;
    eventually(10, || async { (dirx.active_rooms() == 0).then_some(()) }).await;

    // The re-activated actor still knows the room's state: bob, never invited, is refused...
    s.join(&bob, &room).await.err(403, "M_FORBIDDEN");
    // ...and after an invite he can join and talk, with events ordered after the old ones.
    s.invite(&alice, &room, &bob.user_id).await.ok();
    s.join(&bob, &room).await.ok();
    let second = s.send_text(&bob, &room, "after the nap").await;
    let page = s.get(&format!("/_matrix/client/v3/rooms/{}/messages?dir=f&limit=100", enc(&room)), &alice.token).await.ok();
    let ids: Vec<&str> = page["chunk"].as_array().unwrap().iter().map(|e| e["event_id"].as_str().unwrap()).collect();
    let (a, b) = (ids.iter().position(|i| *i == first).unwrap(), ids.iter().position(|i| *i == second).unwrap());
    assert!(a < b);
    // The new events chain onto the old ones (prev_events continue the room's history).
    let name = s.get(&format!("/_matrix/client/v3/rooms/{}/state/m.room.name/", enc(&room)), &bob.token).await.ok();
    assert_eq!(name["name"], "sleepy");
}
