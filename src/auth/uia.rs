//! User-interactive authentication: the 401 challenge, the stages Ensemble offers
//! (`m.login.dummy` for registration, `m.login.password` for sensitive account changes), and the
//! sessions that tie the stages to the one operation they authorize.
//!
//! A session is bound to the request that opened it: its method, path, body (without `auth`)
//! and, for a signed-in requester, the user. Completing a session opened to delete device A on a
//! request to delete device B (or as someone else) is refused, so a password typed for one
//! operation never authorizes another. A completed session stays valid for the same operation
//! until it expires, so a client retrying after a lost reply gets the same effect again.

use super::expiring::ExpiringMap;
use crate::error::{Error, ErrorKind, Result};
use ruma::{OwnedUserId, UserId};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

const SESSION_TTL: Duration = Duration::from_secs(600);
/// Sessions held at most: `/register` hands one to anyone, so the map is bounded by count as well
/// as by age; beyond it the oldest session is forgotten.
pub const MAX_SESSIONS: usize = 10_000;
/// Bodies up to this size are kept with their session so that a later step may omit them
/// (registration); larger ones are only compared by digest, so a flood costs bounded memory.
const MAX_REMEMBERED_BODY: usize = 4096;

/// The request a UIA step arrives with.
pub struct Operation {
    method: String,
    path: String,
    user: Option<OwnedUserId>,
    /// The body without `auth`.
    body: Value,
    auth: Option<Value>,
}

impl Operation {
    /// `method path` by `user` (none before sign-in) with its JSON body; the `auth` dict is
    /// taken out of the body.
    pub fn new(method: &str, path: &str, user: Option<&UserId>, mut body: Value) -> Self {
        let auth = body.as_object_mut().and_then(|b| b.remove("auth")).filter(|a| !a.is_null());
        Self { method: method.to_owned(), path: path.to_owned(), user: user.map(ToOwned::to_owned), body, auth }
    }

    fn body_is_empty(&self) -> bool {
        self.body.as_object().is_none_or(|b| b.is_empty())
    }
}

#[derive(Clone)]
struct Session {
    method: String,
    path: String,
    user: Option<OwnedUserId>,
    body_digest: Vec<u8>,
    remembered: Option<Arc<Value>>,
    completed: Vec<String>,
    outcome: Option<Value>,
    registration_token: Option<HeldToken>,
}

/// The registration token a session completed its `m.login.registration_token` stage with.
#[derive(Clone)]
struct HeldToken {
    token: String,
    /// True until the registration it authorized completes: a pending use of the token.
    pending: bool,
}

/// One step of a session: what the client sent and what the session already holds.
pub struct Step {
    pub session: String,
    /// The body the operation acts on: the request's, or the one the session remembers when a
    /// later request of a [`UiaSessions::begin_remembering`] session carries only `auth`.
    pub body: Value,
    /// What the operation recorded when it completed before (registration: the new user ID).
    pub outcome: Option<Value>,
    completed: Vec<String>,
    auth: Option<Value>,
}

impl Step {
    /// The `auth` dict the client sent with this request.
    pub fn auth(&self) -> Option<&Value> {
        self.auth.as_ref()
    }

    /// The stages the session completed before this request.
    pub fn completed(&self) -> &[String] {
        &self.completed
    }
}

pub struct UiaSessions {
    sessions: ExpiringMap<Session>,
    /// Held while a registration token's uses are counted and changed, so two sessions cannot
    /// both take a token's last use.
    token_uses: tokio::sync::Mutex<()>,
}

impl Default for UiaSessions {
    fn default() -> Self {
        Self { sessions: ExpiringMap::new(SESSION_TTL, MAX_SESSIONS), token_uses: tokio::sync::Mutex::new(()) }
    }
}

/// A digest of `v` that does not depend on the order of object keys.
fn digest(v: &Value) -> Vec<u8> {
    fn feed(h: &mut Sha256, v: &Value) {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                h.update(b"{");
                for k in keys {
                    feed(h, &Value::String(k.clone()));
                    h.update(b":");
                    feed(h, &m[k]);
                    h.update(b",");
                }
                h.update(b"}");
            }
            Value::Array(a) => {
                h.update(b"[");
                for x in a {
                    feed(h, x);
                    h.update(b",");
                }
                h.update(b"]");
            }
            other => h.update(other.to_string().as_bytes()),
        }
    }
    let mut h = Sha256::new();
    feed(&mut h, v);
    h.finalize().to_vec()
}

fn operation_changed() -> Error {
    Error::forbidden("Requested operation has changed during the UI authentication session")
}

impl UiaSessions {
    /// Sessions held.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Changes the cap (tests use a small one to reach it quickly).
    pub fn set_capacity(&self, cap: usize) {
        self.sessions.set_capacity(cap);
    }

    /// Resumes the session the request names, checking it is bound to this very operation, or
    /// opens one bound to it.
    pub fn begin(&self, op: Operation) -> Result<Step> {
        self.resume(op, false)
    }

    /// As [`Self::begin`], except that a later request carrying nothing but `auth` acts on the
    /// body of the request that opened the session (registration: the username, password and
    /// `inhibit_login` of the first step are the ones used).
    pub fn begin_remembering(&self, op: Operation) -> Result<Step> {
        self.resume(op, true)
    }

    fn resume(&self, op: Operation, remembering: bool) -> Result<Step> {
        let named = op.auth.as_ref().and_then(|a| a.get("session")).and_then(Value::as_str).map(str::to_owned);
        let Some(id) = named else {
            return Ok(self.open(op));
        };
        let s = self.sessions.get(&id).ok_or_else(|| Error::unknown("Unknown or expired UIA session"))?;
        if s.method != op.method || s.path != op.path {
            return Err(operation_changed());
        }
        if s.user != op.user {
            return Err(Error::forbidden("This UIA session belongs to another user"));
        }
        let body = match &s.remembered {
            Some(kept) if remembering && op.body_is_empty() => (**kept).clone(),
            _ if digest(&op.body) == s.body_digest => op.body,
            _ => return Err(operation_changed()),
        };
        Ok(Step { session: id, body, outcome: s.outcome, completed: s.completed, auth: op.auth })
    }

    fn open(&self, op: Operation) -> Step {
        let id = crate::ids::random_alnum(24);
        let small = serde_json::to_vec(&op.body).is_ok_and(|b| b.len() <= MAX_REMEMBERED_BODY);
        let session = Session {
            method: op.method,
            path: op.path,
            user: op.user,
            body_digest: digest(&op.body),
            remembered: small.then(|| Arc::new(op.body.clone())),
            completed: Vec::new(),
            outcome: None,
            registration_token: None,
        };
        self.sessions.insert_value(id.clone(), session);
        Step { session: id, body: op.body, outcome: None, completed: Vec::new(), auth: op.auth }
    }

    /// The `auth` dict of type `stage` the client sent for this step, `None` if the session
    /// completed that stage before, or the 401 that asks for it.
    pub fn attempt<'a>(&self, step: &'a Step, stage: &str) -> Result<Option<&'a Value>> {
        if step.completed.iter().any(|c| c == stage) {
            return Ok(None);
        }
        match step.auth.as_ref().filter(|a| a.is_object()).map(|a| a.get("type").and_then(Value::as_str)) {
            Some(Some(t)) if t == stage => Ok(step.auth.as_ref()),
            Some(Some(_)) => Err(self.challenge(step, stage, ErrorKind::AuthTypeUnsupported, "Unsupported authentication type")),
            _ => Err(self.challenge(step, stage, ErrorKind::AuthIncomplete, "Authentication required")),
        }
    }

    /// The 401 that tells the client which stage to complete, naming the step's session.
    pub fn challenge(&self, step: &Step, stage: &str, kind: ErrorKind, message: &str) -> Error {
        self.challenge_flow(step, &[stage], &step.completed, kind, message)
    }

    /// The 401 that offers the one `flow`, with the stages of it the session has `completed`.
    pub fn challenge_flow(&self, step: &Step, flow: &[&str], completed: &[String], kind: ErrorKind, message: &str) -> Error {
        let mut extra = serde_json::Map::new();
        extra.insert("flows".into(), json!([{ "stages": flow }]));
        extra.insert("params".into(), json!({}));
        extra.insert("session".into(), json!(step.session));
        extra.insert("completed".into(), json!(completed));
        Error::new(kind, message).with_extra(extra)
    }

    /// Serializes the counting of registration token uses (check then hold, complete then
    /// release) across sessions.
    pub async fn lock_token_uses(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.token_uses.lock().await
    }

    /// The registration token the step's session holds now, and whether its use is still
    /// pending (the registration it authorized has not completed).
    pub fn registration_token(&self, step: &Step) -> Option<(String, bool)> {
        self.sessions.get(&step.session).and_then(|s| s.registration_token).map(|h| (h.token, h.pending))
    }

    /// Records that the step's session completed the token stage with `token`: a pending use
    /// of it for as long as the session lives or until [`Self::release_registration_token`].
    /// False if the session is gone.
    pub fn hold_registration_token(&self, step: &Step, token: &str) -> bool {
        self.sessions.update(&step.session, |s| s.registration_token = Some(HeldToken { token: token.to_owned(), pending: true }))
    }

    /// Ends the pending use of the token the step's session holds: its registration completed.
    pub fn release_registration_token(&self, step: &Step) {
        self.sessions.update(&step.session, |s| {
            if let Some(h) = s.registration_token.as_mut() {
                h.pending = false;
            }
        });
    }

    /// Pending uses per registration token: live sessions holding it whose registration has
    /// not completed.
    pub fn pending_registration_tokens(&self) -> HashMap<String, i64> {
        let mut counts = HashMap::new();
        self.sessions.for_each_fresh(|s| {
            if let Some(h) = s.registration_token.as_ref().filter(|h| h.pending) {
                *counts.entry(h.token.clone()).or_insert(0) += 1;
            }
        });
        counts
    }

    /// Records that the client completed `stage` in this step's session.
    pub fn complete(&self, step: &Step, stage: &str) {
        self.sessions.update(&step.session, |s| {
            if !s.completed.iter().any(|c| c == stage) {
                s.completed.push(stage.to_owned());
            }
        });
    }

    /// Records what the authorized operation did, for a retry of the session to find.
    pub fn record_outcome(&self, step: &Step, outcome: Value) {
        self.sessions.update(&step.session, |s| s.outcome = Some(outcome));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(path: &str, body: Value) -> Operation {
        Operation::new("DELETE", path, None, body)
    }

    #[test]
    fn digest_ignores_key_order() {
        let a: Value = serde_json::from_str(r#"{"a":1,"b":{"c":[1,2],"d":"x"}}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"b":{"d":"x","c":[1,2]},"a":1}"#).unwrap();
        assert_eq!(digest(&a), digest(&b));
        assert_ne!(digest(&a), digest(&json!({"a": 1})));
    }

    #[test]
    fn a_session_is_bound_to_its_operation() {
        let uia = UiaSessions::default();
        let first = uia.begin(op("/devices/A", json!({}))).unwrap();
        let auth = json!({"auth": {"session": first.session, "type": "m.login.password"}});
        let again = uia.begin(op("/devices/A", auth.clone())).unwrap();
        assert!(uia.attempt(&again, "m.login.password").unwrap().is_some());
        let e = uia.begin(op("/devices/B", auth.clone())).err().unwrap();
        assert_eq!(e.status(), 403);
        let mut other_body = auth.clone();
        other_body["x"] = json!(1);
        assert_eq!(uia.begin(op("/devices/A", other_body)).err().unwrap().status(), 403);
        let unknown = json!({"auth": {"session": "nope"}});
        assert_eq!(uia.begin(op("/devices/A", unknown)).err().unwrap().status(), 400);
    }

    #[test]
    fn completed_stages_and_remembered_bodies() {
        let uia = UiaSessions::default();
        let first = uia.begin_remembering(Operation::new("POST", "/register", None, json!({"username": "a"}))).unwrap();
        uia.complete(&first, "m.login.dummy");
        uia.record_outcome(&first, json!("@a:x"));
        let later = Operation::new("POST", "/register", None, json!({"auth": {"session": first.session}}));
        let step = uia.begin_remembering(later).unwrap();
        assert_eq!(step.body, json!({"username": "a"}));
        assert_eq!(step.outcome, Some(json!("@a:x")));
        assert!(uia.attempt(&step, "m.login.dummy").unwrap().is_none());
        // Without remembering, an empty body is a different operation.
        let later = Operation::new("POST", "/register", None, json!({"auth": {"session": first.session}}));
        assert_eq!(uia.begin(later).err().unwrap().status(), 403);
    }
}
