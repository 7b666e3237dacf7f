//! Synapse's list of quarantine changes (`GET v1/media/quarantine_changes`): every change made by
//! the quarantine admin API, oldest first, paged by `next_batch`, with Synapse 1.163's shapes and
//! errors (its stream starts at position 1).

use crate::common::*;
use serde_json::{Value, json};

async fn upload(s: &TestServer, user: &User, text: &str) -> String {
    let res = s
        .http
        .post(s.url("/_matrix/media/v3/upload?filename=note.txt"))
        .bearer_auth(&user.token)
        .header("content-type", "text/plain")
        .body(text.to_owned())
        .send()
        .await
        .expect("upload");
    assert_eq!(res.status().as_u16(), 200);
    let body: Value = res.json().await.expect("json");
    body["content_uri"].as_str().expect("content_uri").rsplit('/').next().expect("media id").to_owned()
}

fn changes_path(from: Option<&str>) -> String {
    match from {
        Some(f) => sa(&format!("v1/media/quarantine_changes?from={f}")),
        None => sa("v1/media/quarantine_changes"),
    }
}

fn change(id: &str, quarantined: bool) -> Value {
    json!({"origin": SERVER, "media_id": id, "quarantined": quarantined})
}

#[actix_rt::test]
async fn changes_are_listed_in_order_and_paged() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;

    // Nothing yet: the stream's start, where Synapse's is.
    assert_eq!(aget(&s, &admin.token, &changes_path(None)).await.ok(), json!({"next_batch": 1, "changes": []}));

    let a = upload(&s, &alice, "first bytes").await;
    let b = upload(&s, &alice, "other bytes").await;
    let quarantine = |id: &str| sa(&format!("v1/media/quarantine/{SERVER}/{id}"));
    let release = |id: &str| sa(&format!("v1/media/unquarantine/{SERVER}/{id}"));
    apost(&s, &admin.token, &quarantine(&a), json!({})).await.ok();
    // Media already quarantined, or not quarantined, does not change.
    apost(&s, &admin.token, &quarantine(&a), json!({})).await.ok();
    apost(&s, &admin.token, &release(&b), json!({})).await.ok();
    apost(&s, &admin.token, &release(&a), json!({})).await.ok();
    // A user's quarantine records each media it changes.
    apost(&s, &admin.token, &sa(&format!("v1/user/{}/media/quarantine", enc(&alice.user_id))), json!({})).await.ok();

    let all = aget(&s, &admin.token, &changes_path(None)).await.ok();
    let listed = all["changes"].as_array().expect("changes").clone();
    assert_eq!(listed.len(), 4, "{all}");
    assert_eq!(listed[0], change(&a, true));
    assert_eq!(listed[1], change(&a, false));
    let mut last_two = vec![listed[2].clone(), listed[3].clone()];
    last_two.sort_by_key(|c| c["media_id"].as_str().map(str::to_owned));
    let mut expected = vec![change(&a, true), change(&b, true)];
    expected.sort_by_key(|c| c["media_id"].as_str().map(str::to_owned));
    assert_eq!(last_two, expected);
    let end = all["next_batch"].as_i64().expect("next_batch");
    assert_eq!(end, 5, "{all}");

    // From a position: what came after it; from the end: nothing, and the same position.
    let after_first = aget(&s, &admin.token, &changes_path(Some("2"))).await.ok();
    assert_eq!(after_first["changes"].as_array().map(Vec::len), Some(3), "{after_first}");
    assert_eq!(after_first["changes"][0], change(&a, false));
    assert_eq!(aget(&s, &admin.token, &changes_path(Some("5"))).await.ok(), json!({"next_batch": 5, "changes": []}));
    assert_eq!(aget(&s, &admin.token, &changes_path(Some("0"))).await.ok(), all);
}

#[actix_rt::test]
async fn a_page_holds_at_most_a_hundred() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    for i in 0..101 {
        upload(&s, &alice, &format!("bytes {i}")).await;
    }
    apost(&s, &admin.token, &sa(&format!("v1/user/{}/media/quarantine", enc(&alice.user_id))), json!({})).await.ok();
    let first = aget(&s, &admin.token, &changes_path(None)).await.ok();
    assert_eq!(first["changes"].as_array().map(Vec::len), Some(100));
    assert_eq!(first["next_batch"], 101);
    let rest = aget(&s, &admin.token, &changes_path(Some("101"))).await.ok();
    assert_eq!(rest["changes"].as_array().map(Vec::len), Some(1), "{rest}");
    assert_eq!(rest["next_batch"], 102);
}

#[actix_rt::test]
async fn bad_positions_and_non_admins_are_refused() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    // A position never handed out.
    aget(&s, &admin.token, &changes_path(Some("2"))).await.err(400, "M_INVALID_PARAM");
    aget(&s, &admin.token, &changes_path(Some("-1"))).await.err(400, "M_INVALID_PARAM");
    aget(&s, &admin.token, &changes_path(Some("abc"))).await.err(400, "M_INVALID_PARAM");
    aget(&s, &admin.token, &changes_path(Some("1.5"))).await.err(400, "M_INVALID_PARAM");
    aget(&s, &alice.token, &changes_path(None)).await.err(403, "M_FORBIDDEN");
    call(&s, "GET", &changes_path(None), None, None).await.err(401, "M_MISSING_TOKEN");
}

/// A room's quarantine records each media named in the room that it changes, and the listing
/// follows a release too.
#[actix_rt::test]
async fn a_rooms_quarantine_and_a_release_are_recorded() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    let room = public_room(&s, &alice, &[]).await;
    let id = upload(&s, &alice, "posted bytes").await;
    let _unposted = upload(&s, &alice, "kept bytes").await;
    s.put(
        &room_path(&room, "send/m.room.message/img1"),
        &alice.token,
        json!({"msgtype": "m.file", "body": "f", "url": format!("mxc://{SERVER}/{id}")}),
    )
    .await
    .ok();
    let n = apost(&s, &admin.token, &sa(&format!("v1/room/{}/media/quarantine", enc(&room))), json!({})).await.ok();
    assert_eq!(n["num_quarantined"], 1, "{n}");
    apost(&s, &admin.token, &sa(&format!("v1/media/unquarantine/{SERVER}/{id}")), json!({})).await.ok();
    let all = aget(&s, &admin.token, &changes_path(None)).await.ok();
    assert_eq!(all, json!({"next_batch": 3, "changes": [change(&id, true), change(&id, false)]}));
}
