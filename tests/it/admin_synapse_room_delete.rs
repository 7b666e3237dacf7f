//! Synapse's room deletion (v1 at once; v2 a job with delete_status), history purge with its
//! status, and scheduled_tasks: Synapse 1.163's shapes and errors, the effects through the client
//! API, and jobs whose status outlives a restart (one interrupted by it is resumed).

use crate::common::*;
use serde_json::{Value, json};

fn v1_room(room: &str) -> String {
    sa(&format!("v1/rooms/{}", enc(room)))
}

fn v2_room(room: &str) -> String {
    sa(&format!("v2/rooms/{}", enc(room)))
}

fn delete_status(id: &str) -> String {
    sa(&format!("v2/rooms/delete_status/{}", enc(id)))
}

fn purge_status(id: &str) -> String {
    sa(&format!("v1/purge_history_status/{}", enc(id)))
}

async fn adelete_with(s: &TestServer, token: &str, path: &str, body: Value) -> Resp {
    call(s, "DELETE", path, Some(token), Some(body)).await
}

/// Polls the deletion until it is no longer active; answers its status object.
async fn finished_deletion(s: &TestServer, admin: &User, id: &str) -> Value {
    eventually(30, || async {
        let st = aget(s, &admin.token, &delete_status(id)).await.ok();
        (st["status"] != "active").then_some(st)
    })
    .await
}

async fn finished_purge(s: &TestServer, admin: &User, id: &str) -> Value {
    eventually(30, || async {
        let st = aget(s, &admin.token, &purge_status(id)).await.ok();
        (st["status"] != "active").then_some(st)
    })
    .await
}

fn sorted(v: &Value) -> Vec<String> {
    let mut list: Vec<String> = v.as_array().expect("list").iter().map(|x| x.as_str().expect("string").to_owned()).collect();
    list.sort();
    list
}

fn bodies(chunk: &Value) -> Vec<String> {
    chunk.as_array().expect("chunk").iter().filter_map(|e| e["content"]["body"].as_str().map(str::to_owned)).collect()
}

#[actix_rt::test]
async fn v1_moves_members_and_aliases_to_a_new_room_blocks_and_purges() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let carol = s.register_user("carol").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat", "room_alias_name": "old"})).await;
    s.join(&bob, &room).await.ok();
    s.invite(&alice, &room, &carol.user_id).await.ok();
    s.send_text(&bob, &room, "bad content").await;

    let body = json!({"new_room_user_id": admin.user_id, "block": true, "room_name": "Gone", "message": "moved"});
    let r = adelete_with(&s, &admin.token, &v1_room(&room), body).await.ok();
    assert_eq!(sorted(&r["kicked_users"]), vec![alice.user_id.clone(), bob.user_id.clone(), carol.user_id.clone()], "{r}");
    assert_eq!(r["failed_to_kick_users"], json!([]));
    assert_eq!(r["local_aliases"], json!(["#old:test.local"]));
    let new_room = r["new_room_id"].as_str().expect("new_room_id").to_owned();

    // The joined members are in the new room, the invitee is not; the old room is gone.
    assert_eq!(s.joined_rooms(&alice).await, vec![new_room.clone()]);
    assert_eq!(s.joined_rooms(&bob).await, vec![new_room.clone()]);
    assert!(s.joined_rooms(&carol).await.is_empty());
    aget(&s, &admin.token, &v1_room(&room)).await.err(404, "M_NOT_FOUND");
    // The alias names the new room, which carries the name and the message.
    let alias = s.get(&client(&format!("directory/room/{}", enc("#old:test.local"))), &alice.token).await.ok();
    assert_eq!(alias["room_id"], new_room.as_str());
    let name = s.get(&room_path(&new_room, "state/m.room.name/"), &alice.token).await.ok();
    assert_eq!(name["name"], "Gone");
    let msgs = s.get(&room_path(&new_room, "messages?dir=b&limit=5"), &bob.token).await.ok();
    assert_eq!(bodies(&msgs["chunk"]).first().map(String::as_str), Some("moved"), "{msgs}");
    // Members of the new room may not speak (users_default -10).
    assert_eq!(s.send_text_resp(&bob, &new_room, "hi").await.status, 403);
    // The old room is blocked.
    assert_eq!(aget(&s, &admin.token, &sa(&format!("v1/rooms/{}/block", enc(&room)))).await.ok()["block"], true);
    s.join(&carol, &room).await.err(403, "M_UNKNOWN");
    // A v1 deletion is no job.
    let tasks = aget(&s, &admin.token, &sa(&format!("v1/scheduled_tasks?resource_id={}", enc(&room)))).await.ok();
    assert_eq!(tasks, json!({"scheduled_tasks": []}));
}

#[actix_rt::test]
async fn v1_errors_and_unknown_rooms_as_synapse() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    let path = v1_room(&room);

    adelete_with(&s, &admin.token, &v1_room("notaroom"), json!({})).await.err(400, "M_UNKNOWN");
    adelete(&s, &admin.token, &path).await.err(400, "M_NOT_JSON");
    call_raw(&s, "DELETE", &path, &admin.token, b"[1]").await.err(400, "M_BAD_JSON");
    call_raw(&s, "DELETE", &path, &admin.token, b"{x").await.err(400, "M_NOT_JSON");
    for field in ["block", "purge", "force_purge"] {
        adelete_with(&s, &admin.token, &path, json!({field: "yes"})).await.err(400, "M_BAD_JSON");
    }
    adelete_with(&s, &admin.token, &path, json!({"new_room_user_id": "@x:elsewhere.org"})).await.err(400, "M_UNKNOWN");
    adelete_with(&s, &alice.token, &path, json!({})).await.err(403, "M_FORBIDDEN");
    // Nothing changed so far.
    assert_eq!(s.joined_rooms(&alice).await, vec![room.clone()]);

    // An unknown room: nothing to do (Synapse answers 200), but a block is still recorded.
    let empty = json!({"kicked_users": [], "failed_to_kick_users": [], "local_aliases": [], "new_room_id": null});
    let unknown = "!unknown:test.local";
    assert_eq!(adelete_with(&s, &admin.token, &v1_room(unknown), json!({})).await.ok(), empty);
    assert_eq!(adelete_with(&s, &admin.token, &v1_room(unknown), json!({"block": true})).await.ok(), empty);
    assert_eq!(aget(&s, &admin.token, &sa(&format!("v1/rooms/{}/block", enc(unknown)))).await.ok()["block"], true);

    // Without purge the room stays, empty of local members.
    let r = adelete_with(&s, &admin.token, &path, json!({"purge": false})).await.ok();
    assert_eq!(r["kicked_users"], json!([alice.user_id]));
    assert!(s.joined_rooms(&alice).await.is_empty());
    let details = aget(&s, &admin.token, &path).await.ok();
    assert_eq!(details["joined_local_members"], 0, "{details}");
}

#[actix_rt::test]
async fn v2_deletes_in_the_background_with_a_readable_status() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = public_room(&s, &alice, &[&bob]).await;

    let r = adelete_with(&s, &admin.token, &v2_room(&room), json!({})).await.ok();
    let id = r["delete_id"].as_str().expect("delete_id").to_owned();
    let st = finished_deletion(&s, &admin, &id).await;
    assert_eq!(st["status"], "complete", "{st}");
    assert_eq!(st["delete_id"], id.as_str());
    assert_eq!(st["room_id"], room.as_str());
    assert_eq!(sorted(&st["shutdown_room"]["kicked_users"]), {
        let mut v = vec![alice.user_id.clone(), bob.user_id.clone()];
        v.sort();
        v
    });
    assert_eq!(st["shutdown_room"]["new_room_id"], Value::Null);
    assert_eq!(st["shutdown_room"]["local_aliases"], json!([]));
    let by_room = aget(&s, &admin.token, &format!("{}/delete_status", v2_room(&room))).await.ok();
    assert_eq!(by_room, json!({"results": [st]}));

    // Members gone, room unknown.
    assert!(s.joined_rooms(&alice).await.is_empty());
    assert!(s.joined_rooms(&bob).await.is_empty());
    aget(&s, &admin.token, &v1_room(&room)).await.err(404, "M_NOT_FOUND");
    assert_ne!(s.get(&room_path(&room, "messages"), &alice.token).await.status, 200);

    // Errors, as Synapse words them.
    adelete_with(&s, &admin.token, &v2_room("notaroom"), json!({})).await.err(400, "M_UNKNOWN");
    adelete(&s, &admin.token, &v2_room(&room)).await.err(400, "M_NOT_JSON");
    adelete_with(&s, &admin.token, &v2_room(&room), json!({"block": 1})).await.err(400, "M_BAD_JSON");
    adelete_with(&s, &admin.token, &v2_room(&room), json!({"new_room_user_id": "@x:elsewhere.org"})).await.err(400, "M_UNKNOWN");
    adelete_with(&s, &alice.token, &v2_room(&room), json!({})).await.err(403, "M_FORBIDDEN");
    aget(&s, &admin.token, &sa("v2/rooms/notaroom/delete_status")).await.err(400, "M_UNKNOWN");
    aget(&s, &admin.token, &format!("{}/delete_status", v2_room("!none:test.local"))).await.err(404, "M_NOT_FOUND");
    aget(&s, &admin.token, &delete_status("nope")).await.err(404, "M_NOT_FOUND");
    aget(&s, &alice.token, &delete_status(&id)).await.err(403, "M_FORBIDDEN");
    // A deletion is no purge of history.
    aget(&s, &admin.token, &purge_status(&id)).await.err(404, "M_NOT_FOUND");

    // The status outlives a restart.
    let s = s.restart().await;
    assert_eq!(aget(&s, &admin.token, &delete_status(&id)).await.ok(), st);
}

#[actix_rt::test]
async fn a_running_deletion_refuses_a_second_and_a_restart_resumes_it() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat", "room_alias_name": "hall"})).await;
    s.join(&bob, &room).await.ok();

    // Jobs held at their start: this one stays active.
    let hold = s.server.services.admin_jobs.pause().await;
    let body = json!({"new_room_user_id": admin.user_id, "block": true});
    let id = adelete_with(&s, &admin.token, &v2_room(&room), body).await.ok()["delete_id"].as_str().expect("id").to_owned();
    let st = aget(&s, &admin.token, &delete_status(&id)).await.ok();
    assert_eq!(st, json!({"delete_id": id, "room_id": room, "status": "active", "shutdown_room": null}));
    adelete_with(&s, &admin.token, &v2_room(&room), json!({})).await.err(400, "M_UNKNOWN");
    let active = aget(&s, &admin.token, &sa("v1/scheduled_tasks?status=active")).await.ok();
    assert_eq!(active["scheduled_tasks"][0]["id"], id.as_str(), "{active}");

    // Stopped mid-way, started again: the job runs to its end.
    let s = s.restart().await;
    drop(hold);
    let st = finished_deletion(&s, &admin, &id).await;
    assert_eq!(st["status"], "complete", "{st}");
    let new_room = st["shutdown_room"]["new_room_id"].as_str().expect("new room").to_owned();
    assert_eq!(st["shutdown_room"]["local_aliases"], json!(["#hall:test.local"]));
    assert_eq!(s.joined_rooms(&bob).await, vec![new_room.clone()]);
    assert_eq!(s.joined_rooms(&alice).await, vec![new_room]);
    aget(&s, &admin.token, &v1_room(&room)).await.err(404, "M_NOT_FOUND");
    s.join(&bob, &room).await.err(403, "M_UNKNOWN");
    // Once it has ended, the room may be deleted again (nothing left to do).
    let again = adelete_with(&s, &admin.token, &v2_room(&room), json!({})).await.ok();
    assert_eq!(finished_deletion(&s, &admin, again["delete_id"].as_str().expect("id")).await["status"], "complete");
}

#[actix_rt::test]
async fn a_failed_deletion_keeps_what_it_did_and_its_error() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({"preset": "public_chat"})).await;
    // A message too large for an event: the shutdown stops at posting it in the new room.
    let body = json!({"new_room_user_id": admin.user_id, "message": "x".repeat(70_000)});
    let id = adelete_with(&s, &admin.token, &v2_room(&room), body).await.ok()["delete_id"].as_str().expect("id").to_owned();
    let st = finished_deletion(&s, &admin, &id).await;
    assert_eq!(st["status"], "failed", "{st}");
    assert!(st["error"].is_string(), "{st}");
    let new_room = st["shutdown_room"]["new_room_id"].as_str().expect("the new room is recorded").to_owned();
    assert_eq!(st["shutdown_room"]["kicked_users"], json!([alice.user_id]));
    assert_eq!(s.joined_rooms(&alice).await, vec![new_room]);
    let tasks = aget(&s, &admin.token, &sa("v1/scheduled_tasks?status=failed")).await.ok();
    assert_eq!(tasks["scheduled_tasks"][0]["error"], st["error"], "{tasks}");
    // Not purged: the room is still known, and a new deletion may start.
    aget(&s, &admin.token, &v1_room(&room)).await.ok();
    let again = adelete_with(&s, &admin.token, &v2_room(&room), json!({})).await.ok();
    assert_eq!(finished_deletion(&s, &admin, again["delete_id"].as_str().expect("id")).await["status"], "complete");
    aget(&s, &admin.token, &v1_room(&room)).await.err(404, "M_NOT_FOUND");
}

#[actix_rt::test]
async fn purge_history_removes_events_before_the_point() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let room = public_room(&s, &alice, &[&bob]).await;
    set_name(&s, &alice, &room, "Kept").await.ok();
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(s.send_text(&alice, &room, &format!("m{i}")).await);
    }
    let purge = |rest: &str| sa(&format!("v1/purge_history/{}{rest}", enc(&room)));
    let messages = || async { bodies(&s.get(&room_path(&room, "messages?dir=b&limit=50"), &bob.token).await.ok()["chunk"]) };

    // Local users' events stay unless asked.
    let id = apost(&s, &admin.token, &purge(&format!("/{}", enc(&ids[3]))), json!({})).await.ok()["purge_id"].as_str().unwrap().to_owned();
    assert_eq!(finished_purge(&s, &admin, &id).await, json!({"status": "complete"}));
    assert_eq!(messages().await, vec!["m4", "m3", "m2", "m1", "m0"]);

    let body = json!({"purge_up_to_event_id": ids[3], "delete_local_events": true});
    let id = apost(&s, &admin.token, &purge(""), body).await.ok()["purge_id"].as_str().unwrap().to_owned();
    assert_eq!(finished_purge(&s, &admin, &id).await, json!({"status": "complete"}));
    assert_eq!(messages().await, vec!["m4", "m3"]);
    // The state stays: the name, the members, sending.
    assert_eq!(s.get(&room_path(&room, "state/m.room.name/"), &bob.token).await.ok()["name"], "Kept");
    s.get(&room_path(&room, &format!("event/{}", enc(&ids[3]))), &bob.token).await.ok();
    s.get(&room_path(&room, &format!("event/{}", enc(&ids[1]))), &bob.token).await.err(404, "M_NOT_FOUND");

    // Up to a time: the room's last event at or before it stays, with all after it.
    let after = s.send_text(&bob, &room, "after").await;
    let ts = s.get(&room_path(&room, &format!("event/{}", enc(&after))), &bob.token).await.ok()["origin_server_ts"].as_i64().unwrap();
    let id = apost(&s, &admin.token, &purge(""), json!({"purge_up_to_ts": ts, "delete_local_events": true})).await.ok()["purge_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(finished_purge(&s, &admin, &id).await["status"], "complete");
    s.send_text(&alice, &room, "m5").await;
    assert_eq!(messages().await, vec!["m5", "after"]);

    // Errors, as Synapse words them.
    apost(&s, &admin.token, &purge(""), json!({})).await.err(400, "M_BAD_JSON");
    call(&s, "POST", &purge(""), Some(&admin.token), None).await.err(400, "M_BAD_JSON");
    apost(&s, &admin.token, &purge(""), json!({"purge_up_to_ts": "1"})).await.err(400, "M_BAD_JSON");
    apost(&s, &admin.token, &purge(""), json!({"purge_up_to_ts": 1})).await.err(404, "M_NOT_FOUND");
    apost(&s, &admin.token, &sa("v1/purge_history/zzz"), json!({"purge_up_to_ts": i64::MAX})).await.err(404, "M_NOT_FOUND");
    apost(&s, &admin.token, &purge(&format!("/{}", enc("$nope"))), json!({})).await.err(404, "M_NOT_FOUND");
    let other = s.create_room(&alice, json!({})).await;
    let elsewhere = s.send_text(&alice, &other, "x").await;
    apost(&s, &admin.token, &purge(&format!("/{}", enc(&elsewhere))), json!({})).await.err(400, "M_UNKNOWN");
    apost(&s, &alice.token, &purge(""), json!({"purge_up_to_ts": ts})).await.err(403, "M_FORBIDDEN");
    aget(&s, &admin.token, &purge_status("nope")).await.err(404, "M_NOT_FOUND");
    aget(&s, &admin.token, &delete_status(&id)).await.err(404, "M_NOT_FOUND");

    // The status outlives a restart.
    let s = s.restart().await;
    assert_eq!(aget(&s, &admin.token, &purge_status(&id)).await.ok(), json!({"status": "complete"}));
}

#[actix_rt::test]
async fn scheduled_tasks_lists_and_filters_the_jobs() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    let kept = s.create_room(&alice, json!({})).await;
    let event = s.send_text(&alice, &kept, "hello").await;
    let gone = s.create_room(&alice, json!({})).await;

    let purge_id =
        apost(&s, &admin.token, &sa(&format!("v1/purge_history/{}/{}", enc(&kept), enc(&event))), json!({})).await.ok()["purge_id"]
            .as_str()
            .unwrap()
            .to_owned();
    finished_purge(&s, &admin, &purge_id).await;
    let delete_id = adelete_with(&s, &admin.token, &v2_room(&gone), json!({})).await.ok()["delete_id"].as_str().unwrap().to_owned();
    let deleted = finished_deletion(&s, &admin, &delete_id).await;

    let list = |q: &str| {
        let path = sa(&format!("v1/scheduled_tasks{q}"));
        let (s, token) = (&s, admin.token.clone());
        async move { aget(s, &token, &path).await.ok()["scheduled_tasks"].as_array().unwrap().clone() }
    };
    let all = list("").await;
    assert_eq!(all.len(), 2, "{all:?}");
    let purge = all.iter().find(|t| t["id"] == purge_id.as_str()).expect("purge listed");
    assert_eq!(purge["action"], "purge_history");
    assert_eq!(purge["status"], "complete");
    assert_eq!(purge["resource_id"], kept.as_str());
    assert_eq!(purge["result"], Value::Null);
    assert_eq!(purge["error"], Value::Null);
    assert!(purge["timestamp_ms"].as_i64().unwrap() > 0);
    let delete = all.iter().find(|t| t["id"] == delete_id.as_str()).expect("deletion listed");
    assert_eq!(delete["action"], "shutdown_and_purge_room");
    assert_eq!(delete["result"], deleted["shutdown_room"]);

    assert_eq!(list("?action_name=purge_history").await.len(), 1);
    assert_eq!(list(&format!("?resource_id={}", enc(&gone))).await[0]["id"], delete_id.as_str());
    assert_eq!(list("?job_status=complete").await.len(), 2);
    assert_eq!(list("?status=failed").await.len(), 0);
    assert_eq!(list("?max_timestamp=0").await.len(), 0);
    assert_eq!(list("?max_timestamp=99999999999999&action_name=shutdown_and_purge_room").await.len(), 1);
    aget(&s, &admin.token, &sa("v1/scheduled_tasks?job_status=bogus")).await.err(400, "M_INVALID_PARAM");
    aget(&s, &admin.token, &sa("v1/scheduled_tasks?status=bogus")).await.err(400, "M_INVALID_PARAM");
    aget(&s, &admin.token, &sa("v1/scheduled_tasks?max_timestamp=abc")).await.err(400, "M_INVALID_PARAM");
    aget(&s, &alice.token, &sa("v1/scheduled_tasks")).await.err(403, "M_FORBIDDEN");
}
