//! HTTP routes: the client-server API, both admin dialects, and the request helpers they share.

pub mod admin;
pub mod client;
pub mod extractors;
pub mod federation;
pub mod metrics;
pub mod middleware;
pub mod reply;
pub mod tokens;

use crate::Services;
use crate::auth::uia::Operation;
use crate::error::{Error, Result};
use crate::events::MAX_JSON_DEPTH;
use actix_web::dev::Payload;
use actix_web::web::{self, Bytes, BytesMut};
use actix_web::{FromRequest, HttpRequest};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub fn configure(cfg: &mut web::ServiceConfig) {
    for prefix in ["/_matrix/client/v3", "/_matrix/client/r0"] {
        cfg.service(web::scope(prefix).configure(client::configure_versioned));
    }
    cfg.service(web::scope("/_matrix/client/unstable").configure(client::configure_unstable));
    cfg.configure(client::configure_unversioned);
    cfg.configure(admin::configure);
    cfg.configure(federation::configure);
}

/// The services of this server, as an extractor.
pub type Svc = web::Data<Services>;

pub fn arc(svc: &Svc) -> Arc<Services> {
    svc.clone().into_inner()
}

/// A request body read up to the configured limit (413 `M_TOO_LARGE` past it).
pub struct Body(pub Bytes);

impl FromRequest for Body {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req.app_data::<Svc>().map(|s| s.config.max_request_bytes).unwrap_or(1 << 20);
        let mut payload = payload.take();
        Box::pin(async move {
            let mut buf = BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|e| Error::unknown(format!("Reading body: {e}")))?;
                if buf.len() + chunk.len() > limit {
                    return Err(Error::too_large("Request body too large"));
                }
                buf.extend_from_slice(&chunk);
            }
            Ok(Body(buf.freeze()))
        })
    }
}

impl Body {
    /// The body as a JSON object: 400 `M_NOT_JSON` if it is not JSON, `M_BAD_JSON` if not an object
    /// or nested deeper than [`MAX_JSON_DEPTH`]. An empty body reads as `{}`.
    pub fn object(&self) -> Result<Value> {
        if self.0.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Object(Default::default()));
        }
        // Before parsing: serde_json would refuse past 128 levels only as "not JSON", and what is
        // accepted here must stay readable once stored inside an event.
        if nesting_exceeds(&self.0, MAX_JSON_DEPTH) {
            return Err(Error::bad_json(format!("JSON nests deeper than {MAX_JSON_DEPTH} levels")));
        }
        let v: Value = serde_json::from_slice(&self.0).map_err(|_| Error::not_json("Content not JSON"))?;
        if !v.is_object() {
            return Err(Error::bad_json("Body must be a JSON object"));
        }
        // PostgreSQL's text columns cannot hold U+0000: refused on both backends alike. JSON
        // text can only carry one escaped, so the walk runs only when the escape is there.
        if contains_escaped_nul(&self.0) && has_nul(&v) {
            return Err(Error::bad_json("Strings may not contain the NUL character (\\u0000)"));
        }
        Ok(v)
    }

    /// The body as `T`: missing fields are `M_MISSING_PARAM`, wrong types `M_BAD_JSON`.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T> {
        from_value(self.object()?)
    }

    /// As [`Self::parse`], except that an empty body is 400 `M_NOT_JSON`: the endpoints where
    /// Synapse requires a body.
    pub fn parse_nonempty<T: DeserializeOwned>(&self) -> Result<T> {
        if self.0.iter().all(u8::is_ascii_whitespace) {
            return Err(Error::not_json("Content not JSON"));
        }
        self.parse()
    }

    /// The body as `T`, and the request as the user-interactive-auth operation it asks for
    /// (method, path, the signed-in `user`, body), which a UIA session is bound to.
    pub fn parse_uia<T: DeserializeOwned>(&self, req: &HttpRequest, user: Option<&ruma::UserId>) -> Result<(T, Operation)> {
        let object = self.object()?;
        let parsed = from_value(object.clone())?;
        Ok((parsed, Operation::new(req.method().as_str(), req.path(), user, object)))
    }
}

fn contains_escaped_nul(text: &[u8]) -> bool {
    text.windows(6).any(|w| w[0] == b'\\' && w[1] == b'u' && w[2..].iter().all(|&d| d == b'0'))
}

/// Whether any string or key of `v` holds U+0000.
fn has_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(a) => a.iter().any(has_nul),
        Value::Object(o) => o.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

/// Whether the objects and arrays of a JSON text nest deeper than `limit`. Brackets inside
/// strings do not count; malformed text is left for the parser to refuse.
fn nesting_exceeds(text: &[u8], limit: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in text {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// `v` as `T`: a missing field is `M_MISSING_PARAM`, a wrong one `M_BAD_JSON`, and the message
/// names where in the body it is (`filter.limit: invalid type: ...`).
pub fn from_value<T: DeserializeOwned>(v: Value) -> Result<T> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        let missing = inner.starts_with("missing field");
        let msg = if path == "." { inner } else { format!("{path}: {inner}") };
        if missing { Error::missing_param(msg) } else { Error::bad_json(msg) }
    })
}

/// For `#[serde(default, deserialize_with = "crate::api::null_or")]` on an `Option<Option<T>>`:
/// an absent field stays `None`, an explicit `null` becomes `Some(None)` (a field to clear).
pub fn null_or<'de, D, T>(d: D) -> std::result::Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}

/// The query string as `T`: a missing parameter is `M_MISSING_PARAM`, a malformed one
/// `M_INVALID_PARAM`, each naming the parameter.
pub fn parse_query<T: DeserializeOwned>(req: &HttpRequest) -> Result<T> {
    web::Query::<T>::from_query(req.query_string()).map(web::Query::into_inner).map_err(|e| {
        let msg = e.to_string();
        if msg.contains("missing field") { Error::missing_param(msg) } else { Error::invalid_param(msg) }
    })
}

pub fn ok_json(v: Value) -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok().json(v)
}

/// Registers routes grouped by path, one resource per path, so a known path called with a
/// method it does not serve answers 405 (a route per method would fall through to 404).
pub fn routes(cfg: &mut web::ServiceConfig, list: Vec<(&str, actix_web::Route)>) {
    let mut grouped: Vec<(&str, Vec<actix_web::Route>)> = Vec::new();
    for (path, route) in list {
        match grouped.iter_mut().find(|(p, _)| *p == path) {
            Some((_, rs)) => rs.push(route),
            None => grouped.push((path, vec![route])),
        }
    }
    for (path, rs) in grouped {
        let mut res = web::resource(path);
        for r in rs {
            res = res.route(r);
        }
        cfg.service(res);
    }
}
