//! The media repository and the admin media endpoints: upload, download, thumbnails and config,
//! size limits, decompression bombs refused from their header, thumbnails made once and kept on disk,
//! downloads streamed and never sniffed, uploads of unknown length streamed to disk.

use crate::common::*;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

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

/// A PNG of `w` x `h` black grey pixels built by hand: its zlib stream repeats one run of 258
/// zeros, so an 11000x11000 image is under a megabyte and takes no time to make.
fn bomb_png(w: u32, h: u32) -> Vec<u8> {
    let raw_len = u64::from(h) * (1 + u64::from(w));
    let mut bits = Bits::default();
    bits.put(1, 1); // the final block
    bits.put(1, 2); // fixed Huffman codes
    bits.code(0x30, 8); // literal 0
    let mut left = raw_len - 1;
    while left >= 258 {
        bits.code(0b1100_0101, 8); // length 258
        bits.code(0, 5); // distance 1
        left -= 258;
    }
    for _ in 0..left {
        bits.code(0x30, 8);
    }
    bits.code(0, 7); // end of block
    let mut zlib = vec![0x78, 0x01];
    zlib.extend(bits.finish());
    let adler = ((raw_len % 65521) << 16) | 1;
    zlib.extend((adler as u32).to_be_bytes());
    let mut ihdr = Vec::new();
    ihdr.extend(w.to_be_bytes());
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([8, 0, 0, 0, 0]); // 8-bit greyscale, deflate, adaptive filters, no interlace
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [(b"IHDR", ihdr), (b"IDAT", zlib), (b"IEND", Vec::new())] {
        png.extend((data.len() as u32).to_be_bytes());
        let mut crc_input = kind.to_vec();
        crc_input.extend(&data);
        png.extend(kind);
        png.extend(&data);
        png.extend(crc32(&crc_input).to_be_bytes());
    }
    png
}

#[derive(Default)]
struct Bits {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl Bits {
    /// `len` bits of `value`, least significant first (deflate's order for everything but codes).
    fn put(&mut self, value: u32, len: u32) {
        self.acc |= u64::from(value) << self.n;
        self.n += len;
        while self.n >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }
    /// A Huffman code, most significant bit first.
    fn code(&mut self, code: u32, len: u32) {
        let reversed = code.reverse_bits() >> (32 - len);
        self.put(reversed, len);
    }
    fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            self.out.push(self.acc as u8);
        }
        self.out
    }
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

async fn upload_id(s: &TestServer, token: &str, bytes: Vec<u8>, ct: &str) -> String {
    let res = s
        .http
        .post(s.url("/_matrix/media/v3/upload?filename=f"))
        .bearer_auth(token)
        .header("content-type", ct)
        .body(bytes)
        .send()
        .await
        .expect("upload");
    assert_eq!(res.status().as_u16(), 200);
    let body: Value = res.json().await.expect("json");
    body["content_uri"].as_str().expect("uri").rsplit('/').next().expect("id").to_owned()
}

fn media_file(s: &TestServer, id: &str) -> std::path::PathBuf {
    s.dir.path().join("media").join(&id[..2]).join(id)
}

/// POSTs `body` to the upload endpoint in chunks, without a Content-Length, as a client that
/// does not say how much is coming; answers the status line's code.
fn chunked_upload(addr: std::net::SocketAddr, token: &str, body: &[u8]) -> u16 {
    use std::io::{Read, Write};
    let mut tcp = std::net::TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let head = format!(
        "POST /_matrix/media/v3/upload HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).unwrap();
    for chunk in body.chunks(64 * 1024) {
        // The server may answer and close before the whole body is sent.
        if tcp
            .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .and_then(|_| tcp.write_all(chunk))
            .and_then(|_| tcp.write_all(b"\r\n"))
            .is_err()
        {
            break;
        }
    }
    let _ = tcp.write_all(b"0\r\n\r\n");
    let mut answer = Vec::new();
    let _ = tcp.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}

/// Every file under the media directory.
fn media_files(s: &TestServer) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![s.dir.path().join("media")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() { dirs.push(e.path()) } else { out.push(e.path()) }
        }
    }
    out
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

#[test]
fn bomb_png_is_what_it_claims() {
    let small = bomb_png(300, 200);
    let img = image::load_from_memory(&small).expect("decodes");
    assert_eq!((img.width(), img.height()), (300, 200));
    assert!(bomb_png(11000, 11000).len() < 1 << 20);
}

#[actix_rt::test]
async fn thumbnail_of_a_huge_image_is_refused_from_its_header() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let id = upload_id(&s, &alice.token, bomb_png(11000, 11000), "image/png").await;
    let started = Instant::now();
    // The legacy endpoint needs no account; both refuse as Synapse does.
    for path in [
        format!("/_matrix/media/v3/thumbnail/test.local/{id}?width=64&height=64&method=scale"),
        format!("/_matrix/media/v3/thumbnail/test.local/{id}?width=32&height=32&method=crop"),
        format!("/_matrix/client/v1/media/thumbnail/test.local/{id}?width=64&height=64"),
    ] {
        let res = s.get(&path, &alice.token).await;
        res.err(400, "M_UNKNOWN");
    }
    // Refused before decoding: a decode of 121M pixels would take far longer in a debug build.
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
    assert!(!media_file(&s, &id).with_extension("thumbnails").exists(), "nothing is kept for a refused image");
    // The server still answers, and the original still downloads.
    s.get("/_matrix/client/v3/account/whoami", &alice.token).await.ok();
    let d = s.http.get(s.url(&format!("/_matrix/media/v3/download/test.local/{id}"))).send().await.unwrap();
    assert_eq!(d.status().as_u16(), 200);
    assert_eq!(d.bytes().await.unwrap().len(), bomb_png(11000, 11000).len());
}

/// Uploads that claim to be images and are cut short or are not images at all (found by fuzzing:
/// a header the decoder could not finish reading was a 500). They are what the uploader sent, so
/// the original serves, as for any image that does not decode.
#[actix_rt::test]
async fn thumbnails_of_broken_images_are_the_original_not_an_error() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let whole = png(64, 48);
    let cases: [(&str, Vec<u8>); 7] = [
        ("image/png", Vec::new()),
        ("image/png", whole[..8].to_vec()),
        ("image/png", whole[..20].to_vec()),
        ("image/png", whole[..whole.len() - 12].to_vec()),
        ("image/png", b"not a png at all".to_vec()),
        ("image/jpeg", vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00]),
        ("image/jpeg", Vec::new()),
    ];
    for (ct, bytes) in cases {
        let id = upload_id(&s, &alice.token, bytes.clone(), ct).await;
        for path in [
            format!("/_matrix/media/v3/thumbnail/test.local/{id}?width=16&height=16&method=scale"),
            format!("/_matrix/client/v1/media/thumbnail/test.local/{id}?width=8&height=8&method=crop"),
        ] {
            let r = s.http.get(s.url(&path)).bearer_auth(&alice.token).send().await.unwrap();
            assert_eq!(r.status().as_u16(), 200, "{ct} of {} bytes: {path}", bytes.len());
            assert_eq!(r.bytes().await.unwrap().to_vec(), bytes, "{ct} of {} bytes: the original", bytes.len());
        }
    }
}

#[actix_rt::test]
async fn a_thumbnail_is_made_once_and_served_from_disk() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let id = upload_id(&s, &alice.token, png(640, 480), "image/png").await;
    let url = s.url(&format!("/_matrix/media/v3/thumbnail/test.local/{id}?width=32&height=32&method=scale"));
    // Concurrent first requests: one makes it, all get the same bytes.
    let firsts = futures_util::future::join_all((0..6).map(|_| async {
        let r = s.http.get(&url).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
        assert_eq!(r.headers()["content-type"], "image/png");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        r.bytes().await.unwrap().to_vec()
    }))
    .await;
    assert!(firsts.windows(2).all(|w| w[0] == w[1]));
    let img = image::load_from_memory(&firsts[0]).expect("image");
    assert_eq!((img.width(), img.height()), (32, 24));

    // It is kept beside the media, under a name the request determines.
    let mut dir = media_file(&s, &id).into_os_string();
    dir.push(".thumbnails");
    let kept = std::path::PathBuf::from(dir).join("32x32-scale");
    assert_eq!(std::fs::read(&kept).expect("thumbnail kept on disk"), firsts[0]);
    // The next request is served from that file, not made again: change the file, see the change.
    let marker = png(5, 5);
    std::fs::write(&kept, &marker).unwrap();
    let again = s.http.get(&url).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(again.to_vec(), marker);

    // A crop never scales up, so a needle of an image cannot ask for a giant intermediate.
    let thin = upload_id(&s, &alice.token, png(1, 3000), "image/png").await;
    let r = s
        .http
        .get(s.url(&format!("/_matrix/media/v3/thumbnail/test.local/{thin}?width=4096&height=4096&method=crop")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let img = image::load_from_memory(&r.bytes().await.unwrap()).expect("image");
    assert!(img.width() <= 1 && img.height() <= 1, "{}x{}", img.width(), img.height());
    // An image that fits the box comes back as it is.
    let small = png(20, 10);
    let sid = upload_id(&s, &alice.token, small.clone(), "image/png").await;
    let r = s.http.get(s.url(&format!("/_matrix/media/v3/thumbnail/test.local/{sid}?width=64&height=64"))).send().await.unwrap();
    assert_eq!(r.bytes().await.unwrap().to_vec(), small);

    // An admin deleting the user's media deletes the thumbnails made of it as well.
    let admin = s.register_admin("root").await;
    let del = s.req("DELETE", &format!("/_synapse/admin/v1/users/{}/media", enc(&alice.user_id)), Some(&admin.token), None).await.ok();
    assert!(del["deleted_media"].as_array().unwrap().iter().any(|m| m == id.as_str()), "{del}");
    assert!(!kept.exists(), "the thumbnail outlived its media");
    assert!(!kept.parent().unwrap().exists());
}

#[actix_rt::test]
async fn downloads_stream_whole_and_are_never_sniffed() {
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    // Several read chunks' worth, not a multiple of any of them.
    let big: Vec<u8> = (0..(5 * 1024 * 1024 + 12345u32)).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    let id = upload_id(&s, &alice.token, big.clone(), "application/octet-stream").await;
    for (url, token) in [
        (format!("/_matrix/client/v1/media/download/test.local/{id}"), Some(&alice.token)),
        (format!("/_matrix/media/v3/download/test.local/{id}/name.bin"), None),
    ] {
        let mut r = s.http.get(s.url(&url));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        let res = r.send().await.unwrap();
        assert_eq!(res.status().as_u16(), 200);
        assert_eq!(res.headers()["x-content-type-options"], "nosniff");
        assert!(res.headers()["content-security-policy"].to_str().unwrap().starts_with("sandbox"));
        assert_eq!(res.headers()["content-length"], big.len().to_string().as_str());
        assert!(res.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"));
        assert!(res.bytes().await.unwrap().to_vec() == big, "content differs");
    }
    // Markup a browser would run is an attachment, never inline.
    let svg =
        upload_id(&s, &alice.token, b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>".to_vec(), "image/svg+xml")
            .await;
    let res = s.http.get(s.url(&format!("/_matrix/media/v3/download/test.local/{svg}"))).send().await.unwrap();
    assert!(res.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"));
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    // A file gone from disk is 404, not a 500.
    std::fs::remove_file(media_file(&s, &id)).unwrap();
    s.get(&format!("/_matrix/client/v1/media/download/test.local/{id}"), &alice.token).await.err(404, "M_NOT_FOUND");
}

#[actix_rt::test]
async fn an_upload_of_unknown_length_streams_to_disk_and_stops_at_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config(dir.path());
    cfg.max_upload_bytes = 1024 * 1024;
    let s = TestServer::start_with(dir, cfg).await;
    let alice = s.register_user("alice").await;
    let addr = s.server.addr;

    // Within the limit: stored whole.
    let body: Vec<u8> = (0..(1024 * 1024 - 7)).map(|i: u32| (i % 251) as u8).collect();
    let (token, b) = (alice.token.clone(), body.clone());
    let status = tokio::task::spawn_blocking(move || chunked_upload(addr, &token, &b)).await.unwrap();
    assert_eq!(status, 200);
    let stored = media_files(&s);
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(std::fs::read(&stored[0]).unwrap(), body);

    // Past it: refused, and nothing of it is left on disk.
    let token = alice.token.clone();
    let status = tokio::task::spawn_blocking(move || chunked_upload(addr, &token, &vec![7u8; 3 * 1024 * 1024])).await.unwrap();
    assert_eq!(status, 413);
    eventually(10, || async { (media_files(&s).len() == 1).then_some(()) }).await;
    s.req("GET", "/_matrix/client/versions", None, None).await.ok();
}

#[actix_rt::test]
async fn downloads_with_an_empty_file_name_and_under_media_v1() {
    // As Synapse: a slash with no file name after it is no file name, and /_matrix/media/v1/
    // serves what /v3/ serves.
    let s = TestServer::start().await;
    let alice = s.register_user("alice").await;
    let (_, body) = upload(&s, &alice.token, b"plain words".to_vec(), "text/plain", "words.txt").await;
    let (server, id) = mxc_parts(body["content_uri"].as_str().unwrap());
    for (path, token) in [
        (format!("/_matrix/media/v3/download/{server}/{id}/"), None),
        (format!("/_matrix/media/r0/download/{server}/{id}/"), None),
        (format!("/_matrix/media/v1/download/{server}/{id}"), None),
        (format!("/_matrix/media/v1/download/{server}/{id}/"), None),
        (format!("/_matrix/media/v1/download/{server}/{id}/named.txt"), None),
        (format!("/_matrix/client/v1/media/download/{server}/{id}/"), Some(&alice.token)),
    ] {
        let mut req = s.http.get(s.url(&path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status().as_u16(), 200, "{path}");
        let disposition = res.headers()["content-disposition"].to_str().unwrap().to_owned();
        let expected = if path.ends_with("named.txt") { "named.txt" } else { "words.txt" };
        assert!(disposition.contains(expected), "{path}: {disposition}");
        assert_eq!(res.bytes().await.unwrap().as_ref(), b"plain words", "{path}");
    }
    let thumb = s.http.get(s.url(&format!("/_matrix/media/v1/thumbnail/{server}/{id}?width=8&height=8"))).send().await.unwrap();
    assert_eq!(thumb.status().as_u16(), 200);
    let cfg = s.get("/_matrix/media/v1/config", &alice.token).await.ok();
    assert_eq!(cfg["m.upload.size"], 50 << 20);
    // Create still lives under v1, and unknown media is 404 there too.
    s.post("/_matrix/media/v1/create", &alice.token, json!({})).await.ok();
    s.get("/_matrix/media/v1/download/test.local/nope/", &alice.token).await.err(404, "M_NOT_FOUND");
}

#[actix_rt::test]
async fn admin_media_list_sorts_by_synapse_columns() {
    let s = TestServer::start().await;
    let admin = s.register_admin("root").await;
    let alice = s.register_user("alice").await;
    for (bytes, name) in [("ccc", "b.txt"), ("a", "c.txt"), ("bbbbb", "a.txt")] {
        upload(&s, &alice.token, bytes.as_bytes().to_vec(), "text/plain", name).await;
    }
    let path = format!("/_synapse/admin/v1/users/{}/media", enc(&alice.user_id));
    let names = |v: &Value| -> Vec<String> {
        v["media"].as_array().unwrap().iter().map(|m| m["upload_name"].as_str().unwrap().to_owned()).collect()
    };
    let by = |q: &str| format!("{path}?{q}");
    assert_eq!(names(&s.get(&by("order_by=upload_name"), &admin.token).await.ok()), ["a.txt", "b.txt", "c.txt"]);
    assert_eq!(names(&s.get(&by("order_by=upload_name&dir=b"), &admin.token).await.ok()), ["c.txt", "b.txt", "a.txt"]);
    assert_eq!(names(&s.get(&by("order_by=media_length"), &admin.token).await.ok()), ["c.txt", "b.txt", "a.txt"]);
    // dir alone sorts by created_ts, forwards by default once either is given.
    let oldest_first = names(&s.get(&by("dir=f"), &admin.token).await.ok());
    let mut newest_first = names(&s.get(&path, &admin.token).await.ok());
    newest_first.reverse();
    assert_eq!(oldest_first, newest_first);
    for q in ["order_by=size", "order_by=", "dir=x"] {
        s.get(&by(q), &admin.token).await.err(400, "M_INVALID_PARAM");
    }
    // Deleting takes the same order: the largest file goes first.
    let del = s.req("DELETE", &by("order_by=media_length&dir=b&limit=1"), Some(&admin.token), None).await.ok();
    assert_eq!(del["total"], 1);
    assert_eq!(names(&s.get(&by("order_by=upload_name"), &admin.token).await.ok()), ["b.txt", "c.txt"]);
}
