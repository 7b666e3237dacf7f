//! Outgoing federation: finds a server's address the way the spec's server discovery says,
//! sends requests signed with X-Matrix over HTTPS, and fetches (and caches) other servers'
//! signing keys to verify their requests to us.
//!
//! Discovery covers IP literals, explicit ports, `/.well-known/matrix/server` delegation and the
//! port 8448 default. SRV records are not looked up (no DNS resolver in the build yet): a server
//! that publishes only SRV records is reached on port 8448 of its name.

use crate::error::{Error, ErrorKind, Result};
use crate::events::signing_key::ServerKeys;
use serde_json::Value;
use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WELL_KNOWN_TTL: Duration = Duration::from_secs(24 * 3600);
const WELL_KNOWN_FAILURE_TTL: Duration = Duration::from_secs(600);
/// How long requests made on a client's behalf skip a server that could not be reached.
const BACKOFF: Duration = Duration::from_secs(60);
/// Longest we trust a fetched verify key, whatever `valid_until_ts` says.
const MAX_KEY_CACHE_MS: i64 = 24 * 3600 * 1000;

/// Why a federation request failed, worded for the admin who has to act on it.
#[derive(Debug, Clone)]
pub enum FedError {
    /// No answer: name not resolvable, connection refused, TLS failure, timeout.
    Unreachable(String),
    /// The remote answered with an error status.
    Remote { status: u16, errcode: String, error: String },
    /// The remote answered 200 with something we cannot use.
    BadResponse(String),
}

impl std::error::Error for FedError {}

impl fmt::Display for FedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FedError::Unreachable(why) => write!(f, "unreachable: {why}"),
            FedError::Remote { status, errcode, error } => write!(f, "it answered {status} {errcode}: {error}"),
            FedError::BadResponse(why) => write!(f, "bad response: {why}"),
        }
    }
}

pub struct FederationClient {
    http: reqwest::Client,
    well_known: Mutex<HashMap<String, (Option<String>, Instant)>>,
    verify_keys: Mutex<HashMap<String, ServerVerifyKeys>>,
    /// Servers that were unreachable, until when they are skipped by `request_unless_down`.
    down_until: Mutex<HashMap<String, Instant>>,
    /// Every server requests were sent to, with how the attempts went.
    pub destinations: super::destinations::Destinations,
}

/// One server's verify keys: key ID -> (public key bytes, trusted until ms).
type ServerVerifyKeys = HashMap<String, (Vec<u8>, i64)>;

/// The error a request fails with, chained causes included (reqwest hides the TLS reason in them).
fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

impl FederationClient {
    pub fn new(config: &crate::Config) -> Result<Self> {
        let http = super::tls::http_client(config, "federation")?;
        Ok(Self {
            http,
            well_known: Mutex::default(),
            verify_keys: Mutex::default(),
            down_until: Mutex::default(),
            destinations: Default::default(),
        })
    }

    /// `https://host:port` for a server name.
    pub async fn base_url(&self, server: &str) -> Result<String, FedError> {
        let name = ruma::ServerName::parse(server).map_err(|e| FedError::Unreachable(format!("invalid server name {server}: {e}")))?;
        if name.is_ip_literal() || name.port().is_some() {
            return Ok(format!("https://{}:{}", name.host(), name.port().unwrap_or(8448)));
        }
        let delegated = self.well_known(name.host()).await;
        match delegated.as_deref().map(ruma::ServerName::parse) {
            Some(Ok(d)) => Ok(format!("https://{}:{}", d.host(), d.port().unwrap_or(8448))),
            _ => Ok(format!("https://{}:8448", name.host())),
        }
    }

    async fn well_known(&self, host: &str) -> Option<String> {
        if let Some((answer, until)) = self.well_known.lock().ok()?.get(host)
            && *until > Instant::now()
        {
            return answer.clone();
        }
        let url = format!("https://{host}/.well-known/matrix/server");
        let answer = match self.http.get(&url).timeout(Duration::from_secs(10)).send().await {
            Ok(r) if r.status().is_success() => read_limited(r, MAX_WELL_KNOWN_BYTES)
                .await
                .ok()
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                .and_then(|v| v["m.server"].as_str().map(str::to_owned)),
            _ => None,
        };
        let ttl = if answer.is_some() { WELL_KNOWN_TTL } else { WELL_KNOWN_FAILURE_TTL };
        if let Ok(mut cache) = self.well_known.lock() {
            cache.insert(host.to_owned(), (answer.clone(), Instant::now() + ttl));
        }
        answer
    }

    /// A signed request to `destination`; `path` is the path and query exactly as sent.
    pub async fn request(
        &self,
        keys: &ServerKeys,
        method: reqwest::Method,
        destination: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, FedError> {
        let auth = super::xmatrix::authorization(keys, method.as_str(), path, destination, body)
            .map_err(|e| FedError::BadResponse(e.message()))?;
        let url = format!("{}{path}", self.base_url(destination).await?);
        let mut req = self.http.request(method, &url).header("Authorization", auth);
        if let Some(b) = body {
            req = req.json(b);
        }
        let result = match req.send().await {
            Ok(resp) => Self::json_reply(resp).await,
            Err(e) => Err(FedError::Unreachable(describe(&e))),
        };
        let unreachable = matches!(result, Err(FedError::Unreachable(_)));
        if let Ok(mut down) = self.down_until.lock() {
            match unreachable {
                true => down.insert(destination.to_owned(), Instant::now() + BACKOFF),
                false => down.remove(destination),
            };
        }
        self.destinations.record(destination, crate::ids::now_ms(), unreachable.then_some(BACKOFF.as_millis() as i64));
        result
    }

    /// Forgets that `destination` failed, so the next request tries it at once; false if it was
    /// not failing.
    pub fn reset_connection(&self, destination: &str) -> bool {
        if let Ok(mut down) = self.down_until.lock() {
            down.remove(destination);
        }
        self.destinations.reset(destination)
    }

    /// As [`request`](Self::request), but fails at once for a server that was unreachable in the
    /// last minute: a client's `/keys/query` should not wait on a dead server every time. Admin
    /// actions use `request` and always try.
    pub async fn request_unless_down(
        &self,
        keys: &ServerKeys,
        method: reqwest::Method,
        destination: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, FedError> {
        let until = self.down_until.lock().ok().and_then(|d| d.get(destination).copied());
        if let Some(until) = until
            && until > Instant::now()
        {
            return Err(FedError::Unreachable(format!("not retried for {}s after a failure", (until - Instant::now()).as_secs() + 1)));
        }
        self.request(keys, method, destination, path, body).await
    }

    async fn json_reply(resp: reqwest::Response) -> Result<Value, FedError> {
        let status = resp.status();
        let bytes = read_limited(resp, MAX_RESPONSE_BYTES).await?;
        let text = String::from_utf8_lossy(&bytes);
        let body: Option<Value> = serde_json::from_slice(&bytes).ok();
        if !status.is_success() {
            let errcode = body.as_ref().and_then(|b| b["errcode"].as_str()).unwrap_or("M_UNKNOWN").to_owned();
            let error =
                body.as_ref().and_then(|b| b["error"].as_str()).map(str::to_owned).unwrap_or_else(|| text.chars().take(200).collect());
            return Err(FedError::Remote { status: status.as_u16(), errcode, error });
        }
        match body {
            Some(v @ Value::Object(_)) => Ok(v),
            _ => Err(FedError::BadResponse("not a JSON object".into())),
        }
    }

    /// The public key `key_id` of `server`, from its own `/_matrix/key/v2/server` (self-signed,
    /// checked), cached until the server's `valid_until_ts` (at most a day).
    pub async fn verify_key(&self, server: &str, key_id: &str) -> Result<Vec<u8>, FedError> {
        let now = crate::ids::now_ms();
        if let Some((key, until)) = self.verify_keys.lock().ok().and_then(|c| c.get(server).and_then(|k| k.get(key_id)).cloned())
            && until > now
        {
            return Ok(key);
        }
        let url = format!("{}/_matrix/key/v2/server", self.base_url(server).await?);
        let resp = self.http.get(&url).send().await.map_err(|e| FedError::Unreachable(describe(&e)))?;
        let doc = Self::json_reply(resp).await?;
        let keys = check_key_document(server, &doc, now)?;
        let found = keys.get(key_id).cloned();
        if let Ok(mut cache) = self.verify_keys.lock() {
            cache.insert(server.to_owned(), keys);
        }
        found.map(|(k, _)| k).ok_or_else(|| FedError::BadResponse(format!("{server} does not publish key {key_id}")))
    }

    /// Checks an incoming request's X-Matrix header and returns the origin server name.
    pub async fn verify_request(
        &self,
        our_name: &str,
        header: Option<&str>,
        method: &str,
        uri: &str,
        content: Option<&Value>,
    ) -> Result<String> {
        let refuse = |why: String| Error::new(ErrorKind::Unauthorized, why);
        let header = header.ok_or_else(|| refuse("Missing X-Matrix authorization".into()))?;
        let x = super::xmatrix::parse(header).ok_or_else(|| refuse("Malformed X-Matrix authorization".into()))?;
        if ruma::ServerName::parse(&x.origin).is_err() {
            return Err(refuse(format!("Invalid origin {:?}", x.origin)));
        }
        if let Some(d) = &x.destination
            && d != our_name
        {
            return Err(refuse(format!("Request is for {d}, not this server")));
        }
        if !x.key.starts_with("ed25519:") {
            return Err(refuse(format!("Unsupported key {}", x.key)));
        }
        let sig = crate::ids::decode_base64(&x.sig).ok_or_else(|| refuse("Signature is not base64".into()))?;
        let key = self
            .verify_key(&x.origin, &x.key)
            .await
            .map_err(|e| refuse(format!("Cannot get key {} of {}", x.key, x.origin)).with_source(e))?;
        let bytes = super::xmatrix::signing_bytes(method, uri, &x.origin, our_name, content)?;
        ruma::signatures::verify_canonical_json_bytes(&ruma::SigningKeyAlgorithm::Ed25519, &key, &sig, bytes.as_bytes())
            .map_err(|e| refuse(format!("Invalid signature from {}", x.origin)).with_source(e))?;
        Ok(x.origin)
    }
}

/// The verify keys of a `/_matrix/key/v2/server` answer that sign the document themselves.
fn check_key_document(server: &str, doc: &Value, now: i64) -> Result<ServerVerifyKeys, FedError> {
    let bad = |why: &str| FedError::BadResponse(format!("key document of {server}: {why}"));
    if doc["server_name"].as_str() != Some(server) {
        return Err(bad("names another server"));
    }
    let valid_until = doc["valid_until_ts"].as_i64().ok_or_else(|| bad("no valid_until_ts"))?;
    if valid_until <= now {
        return Err(bad("expired"));
    }
    let canonical: ruma::CanonicalJsonObject = serde_json::from_value(doc.clone()).map_err(|_| bad("not canonical JSON"))?;
    let signed = ruma::signatures::to_canonical_json_string_for_signing(&canonical).map_err(|_| bad("cannot be canonicalised"))?;
    let mut keys = HashMap::new();
    for (key_id, v) in doc["verify_keys"].as_object().ok_or_else(|| bad("no verify_keys"))? {
        let Some(key) = v["key"].as_str().and_then(crate::ids::decode_base64) else { continue };
        let Some(sig) = doc["signatures"][server][key_id].as_str().and_then(crate::ids::decode_base64) else { continue };
        if key_id.starts_with("ed25519:")
            && ruma::signatures::verify_canonical_json_bytes(&ruma::SigningKeyAlgorithm::Ed25519, &key, &sig, signed.as_bytes()).is_ok()
        {
            keys.insert(key_id.clone(), (key, valid_until.min(now + MAX_KEY_CACHE_MS)));
        }
    }
    if keys.is_empty() {
        return Err(bad("no verify key signs it"));
    }
    Ok(keys)
}

/// The largest federation answer read: another server chooses what it sends, and a device list
/// or key query that large is no answer but an attack on this server's memory.
const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;
/// `.well-known/matrix/server` is one small object (Synapse reads at most 50 KiB of it).
const MAX_WELL_KNOWN_BYTES: usize = 50 * 1024;

/// The body of `resp`, refused once it grows past `max` bytes.
async fn read_limited(mut resp: reqwest::Response, max: usize) -> Result<Vec<u8>, FedError> {
    if resp.content_length().is_some_and(|n| n > max as u64) {
        return Err(FedError::BadResponse(format!("answer larger than {max} bytes")));
    }
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| FedError::Unreachable(describe(&e)))? {
        if out.len() + chunk.len() > max {
            return Err(FedError::BadResponse(format!("answer larger than {max} bytes")));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// A path segment percent-encoded (user and room IDs carry `@`, `!`, `:`).
pub fn encode_segment(s: &str) -> String {
    const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
    percent_encoding::utf8_percent_encode(s, SEGMENT).to_string()
}
