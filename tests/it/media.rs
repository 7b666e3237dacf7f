//! The media repository and the admin media endpoints.

use crate::common::*;
use serde_json::{Value, json};

/// A real 64x48 PNG, so thumbnails have something to scale.
fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([(x * 4) as u8, (y * 5) as u8, 128]));
    let mut buf = std::io::Cursor::new(Vec::new());
    img.write_to(&mut buf, image::ImageFormat::Png).expect("png");
    buf.into_inner()
}

async fn upload(s: &TestServer, token: &str, bytes: Vec<u8>, ct: &str, name: &str) -> (u16, Value) {
    let res = s
        .http
        .post(s.url(&format!("/_matrix/media/v3/upload?filename={}", enc(name))))
        .bearer_auth(token)
        .header("content-type", ct)
        .body(bytes)
        .send()
        .await
        .expect("upload");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn mxc_parts(uri: &str) -> (String, String) {
    let rest = uri.strip_prefix("mxc://").expect("mxc");
    let (server, id) = rest.split_once('/').expect("server/id");
    (server.to_owned(), id.to_owned())
}

#[actix_rt::test]
async fn upload_download_thumbnail_and_config() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let bytes = png(64, 48);
    let (status, body) = upload(&s, &alice.token, bytes.clone(), "image/png", "cat.png").await;
    assert_eq!(status, 200, "{body}");
    let (server, id) = mxc_parts(body["content_uri"].as_str().unwrap());
    assert_eq!(server, "test.local");

    // Authenticated download (v1) needs a token; the legacy path does not.
    let url = s.url(&format!("/_matrix/client/v1/media/download/{server}/{id}"));
    let anon = s.http.get(&url).send().await.unwrap();
    assert_eq!(anon.status().as_u16(), 401);
    let res = s.http.get(&url).bearer_auth(&alice.token).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(res.headers()["content-type"], "image/png");
    assert!(res.headers()["content-disposition"].to_str().unwrap().contains("cat.png"));
    assert_eq!(res.bytes().await.unwrap().to_vec(), bytes);
    let legacy = s.http.get(s.url(&format!("/_matrix/media/v3/download/{server}/{id}/other.png"))).send().await.unwrap();
    assert_eq!(legacy.status().as_u16(), 200);
    assert!(legacy.headers()["content-disposition"].to_str().unwrap().contains("other.png"));

    // Thumbnails are real scaled images.
    let t = s
        .http
        .get(s.url(&format!("/_matrix/client/v1/media/thumbnail/{server}/{id}?width=16&height=16&method=scale")))
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap();
    assert_eq!(t.status().as_u16(), 200);
    let thumb = image::load_from_memory(&t.bytes().await.unwrap()).expect("a decodable image");
    assert!(thumb.width() <= 16 && thumb.height() <= 16, "{}x{}", thumb.width(), thumb.height());
    let c = s.http.get(s.url(&format!("/_matrix/media/v3/thumbnail/{server}/{id}?width=10&height=10&method=crop"))).send().await.unwrap();
    let cropped = image::load_from_memory(&c.bytes().await.unwrap()).expect("image");
    assert_eq!((cropped.width(), cropped.height()), (10, 10));
    // Not an image: the original comes back.
    let (_, txt) = upload(&s, &alice.token, b"hello".to_vec(), "text/plain", "a.txt").await;
    let (_, tid) = mxc_parts(txt["content_uri"].as_str().unwrap());
    let orig = s.http.get(s.url(&format!("/_matrix/media/v3/thumbnail/test.local/{tid}?width=10&height=10"))).send().await.unwrap();
    assert_eq!(orig.bytes().await.unwrap().as_ref(), b"hello");
    // Bad thumbnail parameters.
    s.get(&format!("/_matrix/client/v1/media/thumbnail/{server}/{id}?width=0&height=10"), &alice.token).await.err(400, "M_INVALID_PARAM");
    s.get(&format!("/_matrix/client/v1/media/thumbnail/{server}/{id}?height=10"), &alice.token).await.err(400, "M_MISSING_PARAM");

    // Unknown media and remote servers are 404.
    s.get("/_matrix/client/v1/media/download/test.local/nope", &alice.token).await.err(404, "M_NOT_FOUND");
    s.get(&format!("/_matrix/client/v1/media/download/other.org/{id}"), &alice.token).await.err(404, "M_NOT_FOUND");

    let cfg = s.get("/_matrix/client/v1/media/config", &alice.token).await.ok();
    assert_eq!(cfg["m.upload.size"], 50 << 20);
    let legacy_cfg = s.get("/_matrix/media/v3/config", &alice.token).await.ok();
    assert_eq!(legacy_cfg["m.upload.size"], 50 << 20);
}

#[actix_rt::test]
async fn create_then_upload_and_size_limit() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config(dir.path());
    cfg.max_upload_bytes = 1000;
    let s = TestServer::start_with(dir, cfg).await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let created = s.post("/_matrix/media/v1/create", &alice.token, json!({})).await.ok();
    assert!(created["unused_expires_at"].is_i64());
    let (server, id) = mxc_parts(created["content_uri"].as_str().unwrap());
    // Not uploaded yet.
    s.get(&format!("/_matrix/client/v1/media/download/{server}/{id}"), &alice.token).await.err(404, "M_NOT_FOUND");
    let put = |token: String, body: Vec<u8>| {
        let url = s.url(&format!("/_matrix/media/v3/upload/{server}/{id}?filename=late.txt"));
        let http = s.http.clone();
        async move {
            let r = http.put(url).bearer_auth(token).header("content-type", "text/plain").body(body).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (st, b) = put(bob.token.clone(), b"x".to_vec()).await;
    assert_eq!((st, b["errcode"].as_str()), (403, Some("M_FORBIDDEN")));
    let (st, _) = put(alice.token.clone(), b"late bytes".to_vec()).await;
    assert_eq!(st, 200);
    let (st, b) = put(alice.token.clone(), b"again".to_vec()).await;
    assert_eq!((st, b["errcode"].as_str()), (409, Some("M_CANNOT_OVERWRITE_MEDIA")));
    let got =
        s.http.get(s.url(&format!("/_matrix/client/v1/media/download/{server}/{id}"))).bearer_auth(&alice.token).send().await.unwrap();
    assert_eq!(got.bytes().await.unwrap().as_ref(), b"late bytes");

    let (st, b) = upload(&s, &alice.token, vec![0u8; 1001], "application/octet-stream", "big.bin").await;
    assert_eq!((st, b["errcode"].as_str()), (413, Some("M_TOO_LARGE")));
    let (st, _) = upload(&s, &alice.token, vec![0u8; 1000], "application/octet-stream", "ok.bin").await;
    assert_eq!(st, 200);
    let (st, b) = upload(&s, "not-a-token", vec![1], "text/plain", "x").await;
    assert_eq!((st, b["errcode"].as_str()), (401, Some("M_UNKNOWN_TOKEN")));
}

#[actix_rt::test]
async fn admin_lists_and_deletes_a_users_media() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    let bob = s.register_user("bob").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let (_, b) = upload(&s, &alice.token, format!("file {i}").into_bytes(), "text/plain", &format!("f{i}.txt")).await;
        ids.push(mxc_parts(b["content_uri"].as_str().unwrap()).1);
    }
    upload(&s, &bob.token, b"bob's".to_vec(), "text/plain", "b.txt").await;
    // Downloading sets last_access_ts.
    let url = s.url(&format!("/_matrix/client/v1/media/download/test.local/{}", ids[0]));
    s.http.get(url).bearer_auth(&alice.token).send().await.unwrap();

    let path = format!("/_synapse/admin/v1/users/{}/media", enc(&alice.user_id));
    let all = s.get(&path, &admin.token).await.ok();
    assert_eq!(all["total"], 5);
    assert!(all.get("next_token").is_none());
    let media = all["media"].as_array().unwrap();
    let listed: Vec<&str> = media.iter().map(|m| m["media_id"].as_str().unwrap()).collect();
    // Newest first (ties by media ID descending).
    let keys: Vec<(i64, &str)> = media.iter().map(|m| (m["created_ts"].as_i64().unwrap(), m["media_id"].as_str().unwrap())).collect();
    let mut sorted = keys.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(keys, sorted);
    for id in &ids {
        assert!(listed.contains(&id.as_str()));
    }
    let first = media.iter().find(|m| m["media_id"] == ids[0].as_str()).unwrap();
    assert!(first["last_access_ts"].is_i64());
    assert_eq!(first["media_type"], "text/plain");
    assert_eq!(first["upload_name"], "f0.txt");
    assert_eq!(first["media_length"], 6);
    assert_eq!(first["safe_from_quarantine"], false);
    assert!(first["quarantined_by"].is_null());

    // Paging with an integer next_token.
    let p1 = s.get(&format!("{path}?limit=2"), &admin.token).await.ok();
    assert_eq!(p1["next_token"], 2);
    let p2 = s.get(&format!("{path}?limit=2&from=2"), &admin.token).await.ok();
    assert_eq!(p2["next_token"], 4);
    let p3 = s.get(&format!("{path}?limit=2&from=4"), &admin.token).await.ok();
    assert!(p3.get("next_token").is_none());
    let mut walked: Vec<Value> = Vec::new();
    for p in [&p1, &p2, &p3] {
        walked.extend(p["media"].as_array().unwrap().iter().cloned());
    }
    assert_eq!(walked.len(), 5);
    s.get(&format!("{path}?limit=-1"), &admin.token).await.err(400, "M_INVALID_PARAM");
    s.get(&format!("{path}?from=abc"), &admin.token).await.err(400, "M_INVALID_PARAM");

    // Errors of every admin route.
    s.get(&path, &alice.token).await.err(403, "M_FORBIDDEN");
    s.req("GET", &path, None, None).await.err(401, "M_MISSING_TOKEN");
    s.get("/_synapse/admin/v1/users/%40nobody%3Atest.local/media", &admin.token).await.err(404, "M_NOT_FOUND");
    s.get("/_synapse/admin/v1/users/%40x%3Aother.org/media", &admin.token).await.err(400, "M_INVALID_PARAM");

    // Delete: the files are gone for downloads too; bob's media is untouched.
    let del = s.req("DELETE", &path, Some(&admin.token), None).await.ok();
    assert_eq!(del["total"], 5);
    assert_eq!(del["deleted_media"].as_array().unwrap().len(), 5);
    s.get(&format!("/_matrix/client/v1/media/download/test.local/{}", ids[1]), &alice.token).await.err(404, "M_NOT_FOUND");
    assert_eq!(s.get(&path, &admin.token).await.ok()["total"], 0);
    let bobs = s.get(&format!("/_synapse/admin/v1/users/{}/media", enc(&bob.user_id)), &admin.token).await.ok();
    assert_eq!(bobs["total"], 1);
}
