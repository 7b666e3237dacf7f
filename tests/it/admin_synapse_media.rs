//! Synapse's media admin API: quarantine (one media, a room's, a user's) and protection from it,
//! a room's media, one media's details, deletion (one, by age and size, with the files), the
//! remote cache purge and users' media statistics, with Synapse 1.163's shapes and errors; their
//! effect seen through the client's downloads and thumbnails.

use crate::common::*;
use serde_json::{Value, json};

async fn upload_bytes(s: &TestServer, user: &User, bytes: Vec<u8>, ct: &str, name: &str) -> String {
    let res = s
        .http
        .post(s.url(&format!("/_matrix/media/v3/upload?filename={}", enc(name))))
        .bearer_auth(&user.token)
        .header("content-type", ct)
        .body(bytes)
        .send()
        .await
        .expect("upload");
    assert_eq!(res.status().as_u16(), 200);
    let body: Value = res.json().await.expect("json");
    body["content_uri"].as_str().expect("content_uri").to_owned()
}

async fn upload(s: &TestServer, user: &User, text: &str) -> String {
    upload_bytes(s, user, text.as_bytes().to_vec(), "text/plain", "note.txt").await
}

fn media_id(mxc: &str) -> String {
    mxc.rsplit('/').next().expect("media id").to_owned()
}

/// Status of a download of `mxc` by `user` under `prefix` (`""` or a query appended).
async fn fetch(s: &TestServer, user: &User, path: &str) -> u16 {
    let res = s.http.get(s.url(path)).bearer_auth(&user.token).send().await.expect("download");
    let status = res.status().as_u16();
    if status != 200 {
        let body: Value = res.json().await.expect("error body");
        assert_eq!(body["errcode"], "M_NOT_FOUND", "{path}: {body}");
    }
    status
}

const PREFIXES: [&str; 4] = ["/_matrix/client/v1/media", "/_matrix/media/v3", "/_matrix/media/r0", "/_matrix/media/v1"];

/// The statuses of every way to read the media: download, named download and thumbnail on each
/// prefix.
async fn every_read(s: &TestServer, user: &User, mxc: &str) -> Vec<u16> {
    let id = media_id(mxc);
    let mut out = Vec::new();
    for p in PREFIXES {
        out.push(fetch(s, user, &format!("{p}/download/{SERVER}/{id}")).await);
        out.push(fetch(s, user, &format!("{p}/download/{SERVER}/{id}/name.png")).await);
        out.push(fetch(s, user, &format!("{p}/thumbnail/{SERVER}/{id}?width=8&height=8")).await);
    }
    out
}

fn user_media_path(user: &User) -> String {
    v1_user(&user.user_id, "media")
}

/// The user's media list entry of `mxc`.
async fn listed(s: &TestServer, admin: &User, owner: &User, mxc: &str) -> Value {
    let list = aget(s, &admin.token, &user_media_path(owner)).await.ok();
    let id = media_id(mxc);
    list["media"].as_array().expect("media").iter().find(|m| m["media_id"] == id.as_str()).cloned().unwrap_or(Value::Null)
}

fn file_of(s: &TestServer, mxc: &str) -> std::path::PathBuf {
    let id = media_id(mxc);
    s.config.data_dir.join("media").join(&id[..2]).join(&id)
}

#[actix_rt::test]
async fn quarantined_media_is_not_served_until_released() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    let mxc = upload_bytes(&s, &alice, png(16, 16), "image/png", "pic.png").await;
    let id = media_id(&mxc);
    assert!(every_read(&s, &alice, &mxc).await.iter().all(|&c| c == 200));

    apost(&s, &alice.token, &sa(&format!("v1/media/quarantine/{SERVER}/{id}")), json!({})).await.err(403, "M_FORBIDDEN");
    assert_eq!(apost(&s, &admin.token, &sa(&format!("v1/media/quarantine/{SERVER}/{id}")), json!({})).await.ok(), json!({}));
    assert!(every_read(&s, &alice, &mxc).await.iter().all(|&c| c == 404), "quarantined media is served");
    let entry = listed(&s, &admin, &alice, &mxc).await;
    assert_eq!(entry["quarantined_by"], admin.user_id.as_str(), "{entry}");
    assert_eq!(entry["safe_from_quarantine"], false, "{entry}");
    let info = aget(&s, &admin.token, &sa(&format!("v1/media/{SERVER}/{id}"))).await.ok();
    assert_eq!(info["media_info"]["quarantined_by"], admin.user_id.as_str(), "{info}");

    // An admin may read it on purpose; nobody else, whatever they ask.
    let bypass = format!("/_matrix/client/v1/media/download/{SERVER}/{id}?admin_unsafely_bypass_quarantine=true");
    assert_eq!(fetch(&s, &admin, &bypass).await, 200);
    assert_eq!(fetch(&s, &alice, &bypass).await, 404);

    // Quarantining again, unknown and remote media: nothing to change, as Synapse answers.
    for path in [format!("{SERVER}/{id}"), format!("{SERVER}/unknownmedia"), "remote.example/abc".to_owned()] {
        assert_eq!(apost(&s, &admin.token, &sa(&format!("v1/media/quarantine/{path}")), json!({})).await.ok(), json!({}));
    }

    apost(&s, &alice.token, &sa(&format!("v1/media/unquarantine/{SERVER}/{id}")), json!({})).await.err(403, "M_FORBIDDEN");
    assert_eq!(apost(&s, &admin.token, &sa(&format!("v1/media/unquarantine/{SERVER}/{id}")), json!({})).await.ok(), json!({}));
    assert!(every_read(&s, &alice, &mxc).await.iter().all(|&c| c == 200), "released media is refused");
    assert_eq!(listed(&s, &admin, &alice, &mxc).await["quarantined_by"], Value::Null);
    assert_eq!(apost(&s, &admin.token, &sa(&format!("v1/media/unquarantine/{SERVER}/unknownmedia")), json!({})).await.ok(), json!({}));
}

#[actix_rt::test]
async fn protected_media_stays_out_of_quarantine() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    let sticker = upload(&s, &alice, "sticker").await;
    let other = upload(&s, &alice, "other").await;
    let sid = media_id(&sticker);

    apost(&s, &alice.token, &sa(&format!("v1/media/protect/{sid}")), json!({})).await.err(403, "M_FORBIDDEN");
    apost(&s, &admin.token, &sa("v1/media/protect/unknownmedia"), json!({})).await.err(404, "M_UNKNOWN");
    apost(&s, &admin.token, &sa("v1/media/unprotect/unknownmedia"), json!({})).await.err(404, "M_UNKNOWN");
    assert_eq!(apost(&s, &admin.token, &sa(&format!("v1/media/protect/{sid}")), json!({})).await.ok(), json!({}));
    assert_eq!(listed(&s, &admin, &alice, &sticker).await["safe_from_quarantine"], true);

    // Neither one by one nor with all the user's media.
    apost(&s, &admin.token, &sa(&format!("v1/media/quarantine/{SERVER}/{sid}")), json!({})).await.ok();
    let path = sa(&format!("v1/user/{}/media/quarantine", enc(&alice.user_id)));
    assert_eq!(apost(&s, &admin.token, &path, json!({})).await.ok(), json!({"num_quarantined": 1}));
    assert_eq!(listed(&s, &admin, &alice, &sticker).await["quarantined_by"], Value::Null);
    assert_eq!(listed(&s, &admin, &alice, &other).await["quarantined_by"], admin.user_id.as_str());
    assert_eq!(every_read(&s, &alice, &sticker).await[..2], [200, 200]);
    assert_eq!(every_read(&s, &alice, &other).await[..2], [404, 404]);

    // Unprotected, it can be quarantined.
    assert_eq!(apost(&s, &admin.token, &sa(&format!("v1/media/unprotect/{sid}")), json!({})).await.ok(), json!({}));
    assert_eq!(listed(&s, &admin, &alice, &sticker).await["safe_from_quarantine"], false);
    apost(&s, &admin.token, &sa(&format!("v1/media/quarantine/{SERVER}/{sid}")), json!({})).await.ok();
    assert_eq!(listed(&s, &admin, &alice, &sticker).await["quarantined_by"], admin.user_id.as_str());
}

#[actix_rt::test]
async fn a_users_media_is_quarantined_once() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let a1 = upload(&s, &alice, "one").await;
    upload(&s, &alice, "two").await;
    let b1 = upload(&s, &bob, "bob's").await;
    let path = |u: &str| sa(&format!("v1/user/{}/media/quarantine", enc(u)));

    apost(&s, &alice.token, &path(&alice.user_id), json!({})).await.err(403, "M_FORBIDDEN");
    assert_eq!(apost(&s, &admin.token, &path(&alice.user_id), json!({})).await.ok(), json!({"num_quarantined": 2}));
    assert_eq!(apost(&s, &admin.token, &path(&alice.user_id), json!({})).await.ok(), json!({"num_quarantined": 0}));
    // Unknown, remote and malformed users have nothing here (Synapse answers 200 too).
    for u in ["@nobody:test.local", "@someone:remote.example", "notauser"] {
        assert_eq!(apost(&s, &admin.token, &path(u), json!({})).await.ok(), json!({"num_quarantined": 0}), "{u}");
    }
    assert_eq!(every_read(&s, &alice, &a1).await[0], 404);
    assert_eq!(every_read(&s, &bob, &b1).await[0], 200, "another user's media is untouched");
}

#[actix_rt::test]
async fn a_rooms_media_is_listed_and_quarantined() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    let room = s.create_room(&alice, json!({"preset": "private_chat"})).await;
    let image = upload_bytes(&s, &alice, png(8, 8), "image/png", "a.png").await;
    let thumb = upload(&s, &alice, "thumbnail").await;
    let avatar = upload(&s, &alice, "avatar").await;
    let sticker = upload(&s, &alice, "sticker").await;
    let untouched = upload(&s, &alice, "only in a text body").await;
    let send = |kind: &str, txn: &str, body: Value| {
        let path = send_path(&room, kind, txn);
        let token = alice.token.clone();
        let s = &s;
        async move { s.put(&path, &token, body).await.ok() }
    };
    send("m.room.message", "t1", json!({"msgtype": "m.image", "body": "i", "url": image, "info": {"thumbnail_url": thumb}})).await;
    send("m.room.message", "t2", json!({"msgtype": "m.image", "body": "i", "url": "mxc://remote.example/abc"})).await;
    s.put(&room_path(&room, "state/m.room.avatar/"), &alice.token, json!({"url": avatar})).await.ok();
    send("m.sticker", "t3", json!({"body": "s", "url": sticker, "info": {}})).await;
    send("m.room.message", "t4", json!({"msgtype": "m.text", "body": untouched})).await;

    let path = sa(&format!("v1/room/{}/media", enc(&room)));
    aget(&s, &alice.token, &path).await.err(403, "M_FORBIDDEN");
    let media = aget(&s, &admin.token, &path).await.ok();
    // Newest event first; an event's url before its thumbnail.
    assert_eq!(media, json!({"local": [sticker, avatar, image, thumb], "remote": ["mxc://remote.example/abc"]}));
    for unknown in ["!nowhere:test.local", "notaroom"] {
        let empty = aget(&s, &admin.token, &sa(&format!("v1/room/{}/media", enc(unknown)))).await.ok();
        assert_eq!(empty, json!({"local": [], "remote": []}), "{unknown}");
    }

    apost(&s, &admin.token, &sa(&format!("v1/media/protect/{}", media_id(&sticker))), json!({})).await.ok();
    let quarantine = sa(&format!("v1/room/{}/media/quarantine", enc(&room)));
    apost(&s, &alice.token, &quarantine, json!({})).await.err(403, "M_FORBIDDEN");
    assert_eq!(apost(&s, &admin.token, &quarantine, json!({})).await.ok(), json!({"num_quarantined": 3}));
    // Synapse counts what matched, already quarantined media too; the deprecated path is the same.
    assert_eq!(apost(&s, &admin.token, &quarantine, json!({})).await.ok(), json!({"num_quarantined": 3}));
    let legacy = sa(&format!("v1/quarantine_media/{}", enc(&room)));
    assert_eq!(apost(&s, &admin.token, &legacy, json!({})).await.ok(), json!({"num_quarantined": 3}));
    let unknown = sa(&format!("v1/room/{}/media/quarantine", enc("!nowhere:test.local")));
    assert_eq!(apost(&s, &admin.token, &unknown, json!({})).await.ok(), json!({"num_quarantined": 0}));

    for (mxc, served) in [(&image, false), (&thumb, false), (&avatar, false), (&sticker, true), (&untouched, true)] {
        let code = every_read(&s, &alice, mxc).await[0];
        assert_eq!(code == 200, served, "{mxc}: {code}");
    }
}

#[actix_rt::test]
async fn deleting_one_media_removes_it_and_its_files() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    let mxc = upload_bytes(&s, &alice, png(32, 32), "image/png", "pic.png").await;
    let id = media_id(&mxc);
    assert_eq!(every_read(&s, &alice, &mxc).await[2], 200, "a thumbnail is made");
    let file = file_of(&s, &mxc);
    let thumbnails = file.with_file_name(format!("{id}.thumbnails"));
    assert!(file.exists() && thumbnails.exists());

    let info = aget(&s, &admin.token, &sa(&format!("v1/media/{SERVER}/{id}"))).await.ok();
    let m = &info["media_info"];
    assert_eq!(m["media_id"], id.as_str(), "{info}");
    assert_eq!(m["user_id"], alice.user_id.as_str());
    assert_eq!(
        (m["media_type"].clone(), m["media_length"].clone(), m["upload_name"].clone()),
        (json!("image/png"), json!(png(32, 32).len()), json!("pic.png"))
    );
    assert_eq!(
        (m["media_origin"].clone(), m["quarantined_by"].clone(), m["safe_from_quarantine"].clone()),
        (Value::Null, Value::Null, json!(false))
    );
    aget(&s, &alice.token, &sa(&format!("v1/media/{SERVER}/{id}"))).await.err(403, "M_FORBIDDEN");
    aget(&s, &admin.token, &sa(&format!("v1/media/{SERVER}/unknownmedia"))).await.err(404, "M_NOT_FOUND");
    aget(&s, &admin.token, &sa("v1/media/remote.example/abc")).await.err(404, "M_NOT_FOUND");

    adelete(&s, &alice.token, &sa(&format!("v1/media/{SERVER}/{id}"))).await.err(403, "M_FORBIDDEN");
    adelete(&s, &admin.token, &sa(&format!("v1/media/remote.example/{id}"))).await.err(400, "M_UNKNOWN");
    adelete(&s, &admin.token, &sa(&format!("v1/media/{SERVER}/unknownmedia"))).await.err(404, "M_NOT_FOUND");
    let gone = adelete(&s, &admin.token, &sa(&format!("v1/media/{SERVER}/{id}"))).await.ok();
    assert_eq!(gone, json!({"deleted_media": [id], "total": 1}));
    assert!(!file.exists() && !thumbnails.exists(), "the files stay after the delete");
    assert!(every_read(&s, &alice, &mxc).await.iter().all(|&c| c == 404));
    adelete(&s, &admin.token, &sa(&format!("v1/media/{SERVER}/{id}"))).await.err(404, "M_NOT_FOUND");
    assert_eq!(aget(&s, &admin.token, &user_media_path(&alice)).await.ok()["total"], 0);

    // Still so after a restart.
    let s = s.restart().await;
    assert!(!file.exists());
    assert_eq!(fetch(&s, &alice, &format!("/_matrix/media/v3/download/{SERVER}/{id}")).await, 404);
}

#[actix_rt::test]
async fn a_deletion_cut_short_is_finished_at_startup() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let mxc = upload(&s, &alice, "left behind").await;
    let file = file_of(&s, &mxc);
    // The rows go and the files are recorded, as a deletion does before a crash stops it.
    let ids = vec![media_id(&mxc)];
    let db = s.server.services.db.clone();
    let gone = db.run(move |c| ensemble::store::media_admin::delete(c, &ids)).await.expect("delete rows");
    assert_eq!(gone.len(), 1);
    assert!(file.exists());
    let s = s.restart().await;
    assert!(!file.exists(), "the file outlived its row");
    let db = s.server.services.db.clone();
    let pending = db.run(|c| ensemble::store::media_admin::pending_deletions(c, 10)).await.expect("pending");
    assert!(pending.is_empty(), "{pending:?}");
}

#[actix_rt::test]
async fn media_is_deleted_by_age_and_size() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    let small = upload(&s, &alice, "tiny").await;
    let large = upload(&s, &alice, &"x".repeat(2000)).await;
    let avatar = upload(&s, &alice, &"a".repeat(2000)).await;
    let quarantined = upload(&s, &alice, &"q".repeat(2000)).await;
    let protected = upload(&s, &alice, &"p".repeat(2000)).await;
    s.put(&client(&format!("profile/{}/avatar_url", enc(&alice.user_id))), &alice.token, json!({"avatar_url": avatar})).await.ok();
    apost(&s, &admin.token, &sa(&format!("v1/media/quarantine/{SERVER}/{}", media_id(&quarantined))), json!({})).await.ok();
    apost(&s, &admin.token, &sa(&format!("v1/media/protect/{}", media_id(&protected))), json!({})).await.ok();
    let now = now_ms() + 1000;
    let d = |q: &str| sa(&format!("v1/media/delete{q}"));

    apost(&s, &alice.token, &d(&format!("?before_ts={now}")), json!({})).await.err(403, "M_FORBIDDEN");
    apost(&s, &admin.token, &d(""), json!({})).await.err(400, "M_MISSING_PARAM");
    for bad in [
        "?before_ts=1000",
        "?before_ts=-1",
        "?before_ts=abc",
        &format!("?before_ts={now}&size_gt=-1"),
        &format!("?before_ts={now}&keep_profiles=maybe"),
    ] {
        apost(&s, &admin.token, &d(bad), json!({})).await.err(400, "M_INVALID_PARAM");
    }
    apost(&s, &admin.token, &sa(&format!("v1/media/remote.example/delete?before_ts={now}")), json!({})).await.err(400, "M_UNKNOWN");
    // Nothing that old.
    let none = apost(&s, &admin.token, &d("?before_ts=40000000000"), json!({})).await.ok();
    assert_eq!(none, json!({"deleted_media": [], "total": 0}));

    // Larger than 1000 bytes: the profile's avatar, quarantined and protected media stay.
    let first = apost(&s, &admin.token, &d(&format!("?before_ts={now}&size_gt=1000")), json!({})).await.ok();
    assert_eq!(first, json!({"deleted_media": [media_id(&large)], "total": 1}));
    assert!(!file_of(&s, &large).exists());
    // Without keep_profiles the avatar goes too (on Synapse's older path).
    let second =
        apost(&s, &admin.token, &sa(&format!("v1/media/{SERVER}/delete?before_ts={now}&size_gt=1000&keep_profiles=false")), json!({}))
            .await
            .ok();
    assert_eq!(second, json!({"deleted_media": [media_id(&avatar)], "total": 1}));
    let rest = apost(&s, &admin.token, &d(&format!("?before_ts={now}")), json!({})).await.ok();
    assert_eq!(rest, json!({"deleted_media": [media_id(&small)], "total": 1}));
    assert_eq!(every_read(&s, &alice, &small).await[0], 404);
    assert_eq!(every_read(&s, &alice, &protected).await[0], 200);
    assert_eq!(aget(&s, &admin.token, &user_media_path(&alice)).await.ok()["total"], 2, "quarantined and protected media stay");
}

#[actix_rt::test]
async fn the_remote_media_cache_is_empty() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    let p = |q: &str| sa(&format!("v1/purge_media_cache{q}"));
    let now = now_ms();
    assert_eq!(apost(&s, &admin.token, &p(&format!("?before_ts={now}")), json!({})).await.ok(), json!({"deleted": 0}));
    apost(&s, &alice.token, &p(&format!("?before_ts={now}")), json!({})).await.err(403, "M_FORBIDDEN");
    apost(&s, &admin.token, &p(""), json!({})).await.err(400, "M_MISSING_PARAM");
    for bad in ["?before_ts=-5", "?before_ts=5", "?before_ts=x"] {
        apost(&s, &admin.token, &p(bad), json!({})).await.err(400, "M_INVALID_PARAM");
    }
}

#[actix_rt::test]
async fn users_media_statistics_are_counted_sorted_and_paged() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let carol = s.register_user("carol").await;
    s.put(&client(&format!("profile/{}/displayname", enc(&bob.user_id))), &bob.token, json!({"displayname": "Zed"})).await.ok();
    upload(&s, &alice, "12345").await;
    upload(&s, &alice, "123").await;
    upload(&s, &bob, &"b".repeat(100)).await;
    // Past the millisecond of bob's upload, or `from_ts` would take it too.
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    let late = now_ms();
    upload(&s, &carol, "c").await;
    let st = |q: &str| sa(&format!("v1/statistics/users/media{q}"));

    let all = aget(&s, &admin.token, &st("")).await.ok();
    assert_eq!(all["total"], 3, "{all}");
    assert!(all.get("next_token").is_none(), "{all}");
    assert_eq!(all["users"][0], json!({"user_id": alice.user_id, "displayname": "alice", "media_count": 2, "media_length": 8}));
    let ids = |v: &Value| v["users"].as_array().unwrap().iter().map(|u| u["user_id"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    let (a, b, c) = (alice.user_id.clone(), bob.user_id.clone(), carol.user_id.clone());
    assert_eq!(ids(&all), [a.clone(), b.clone(), c.clone()]);
    assert_eq!(ids(&aget(&s, &admin.token, &st("?order_by=media_length&dir=b")).await.ok()), [b.clone(), a.clone(), c.clone()]);
    assert_eq!(ids(&aget(&s, &admin.token, &st("?order_by=media_count")).await.ok())[2], a);
    // Byte order, as SQLite compares: "Zed" before "alice".
    assert_eq!(ids(&aget(&s, &admin.token, &st("?order_by=displayname")).await.ok()), [b.clone(), a.clone(), c.clone()]);
    assert_eq!(ids(&aget(&s, &admin.token, &st("?search_term=zed")).await.ok()), [b.as_str()], "by display name");
    assert_eq!(ids(&aget(&s, &admin.token, &st("?search_term=aro")).await.ok()), [c.as_str()], "by localpart");
    let recent = aget(&s, &admin.token, &st(&format!("?from_ts={late}"))).await.ok();
    assert_eq!((ids(&recent), recent["total"].clone()), (vec![c.clone()], json!(1)));
    let early = aget(&s, &admin.token, &st(&format!("?until_ts={}", late - 1))).await.ok();
    assert_eq!(early["total"], 2);

    let page = aget(&s, &admin.token, &st("?limit=2")).await.ok();
    assert_eq!((ids(&page), page["next_token"].clone(), page["total"].clone()), (vec![a, b], json!(2), json!(3)));
    let next = aget(&s, &admin.token, &st("?limit=2&from=2")).await.ok();
    assert_eq!(ids(&next), [c]);
    assert!(next.get("next_token").is_none(), "{next}");

    aget(&s, &alice.token, &st("")).await.err(403, "M_FORBIDDEN");
    for bad in ["?order_by=foo", "?dir=x", "?from=-1", "?limit=-1", "?limit=abc", "?from_ts=10&until_ts=5", "?search_term="] {
        aget(&s, &admin.token, &st(bad)).await.err(400, "M_INVALID_PARAM");
    }
}

#[actix_rt::test]
async fn quarantine_follows_the_bytes() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let original = upload(&s, &alice, "hello world").await;
    let copy = upload(&s, &bob, "hello world").await;
    let kept = upload(&s, &bob, "hello world").await;
    let different = upload(&s, &bob, "something else").await;
    let entry = listed(&s, &admin, &alice, &original).await;
    // As Synapse reports it: the hex SHA-256 of the bytes.
    assert_eq!(entry["sha256"], "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9", "{entry}");
    apost(&s, &admin.token, &sa(&format!("v1/media/protect/{}", media_id(&kept))), json!({})).await.ok();

    apost(&s, &admin.token, &sa(&format!("v1/media/quarantine/{SERVER}/{}", media_id(&original))), json!({})).await.ok();
    assert_eq!(every_read(&s, &bob, &copy).await[0], 404, "a copy of quarantined bytes is served");
    assert_eq!(listed(&s, &admin, &bob, &copy).await["quarantined_by"], admin.user_id.as_str());
    assert_eq!(every_read(&s, &bob, &kept).await[0], 200, "a protected copy stays");
    assert_eq!(every_read(&s, &bob, &different).await[0], 200);

    // The same bytes uploaded later, directly or into a reserved ID, are quarantined at once.
    let later = upload(&s, &bob, "hello world").await;
    assert_eq!(listed(&s, &admin, &bob, &later).await["quarantined_by"], "system");
    assert_eq!(every_read(&s, &bob, &later).await[0], 404);
    let reserved = s.post("/_matrix/media/v1/create", &bob.token, json!({})).await.ok()["content_uri"].as_str().unwrap().to_owned();
    let put = s
        .http
        .put(s.url(&format!("/_matrix/media/v3/upload/{SERVER}/{}", media_id(&reserved))))
        .bearer_auth(&bob.token)
        .header("content-type", "text/plain")
        .body("hello world")
        .send()
        .await
        .expect("upload");
    assert_eq!(put.status().as_u16(), 200);
    assert_eq!(every_read(&s, &bob, &reserved).await[0], 404);

    // Released, every copy is served again.
    apost(&s, &admin.token, &sa(&format!("v1/media/unquarantine/{SERVER}/{}", media_id(&original))), json!({})).await.ok();
    for mxc in [&original, &copy, &later, &reserved] {
        assert_eq!(every_read(&s, &bob, mxc).await[0], 200, "{mxc}");
    }
}
