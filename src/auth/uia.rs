//! User-interactive authentication: the 401 challenge and the stages Ensemble offers
//! (`m.login.dummy` for registration, `m.login.password` for sensitive account changes).

use super::expiring::ExpiringKeys;
use crate::error::{Error, ErrorKind, Result};
use serde_json::{Value, json};
use std::time::Duration;

const SESSION_TTL: Duration = Duration::from_secs(600);
/// Sessions held at most: `/register` hands one to anyone, so the map is bounded by count as well
/// as by age; beyond it the oldest session is forgotten.
pub const MAX_SESSIONS: usize = 10_000;

pub struct UiaSessions {
    sessions: ExpiringKeys,
}

impl Default for UiaSessions {
    fn default() -> Self {
        Self { sessions: ExpiringKeys::new(SESSION_TTL, MAX_SESSIONS) }
    }
}

impl UiaSessions {
    fn new_session(&self) -> String {
        let id = crate::ids::random_alnum(24);
        self.sessions.insert(id.clone());
        id
    }

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

    /// The 401 that tells the client which stage to complete.
    pub fn challenge(&self, stage: &str, kind: ErrorKind, message: &str) -> Error {
        let session = self.new_session();
        let mut extra = serde_json::Map::new();
        extra.insert("flows".into(), json!([{ "stages": [stage] }]));
        extra.insert("params".into(), json!({}));
        extra.insert("session".into(), json!(session));
        extra.insert("completed".into(), json!([]));
        Error::new(kind, message).with_extra(extra)
    }

    /// Requires an `auth` dict of type `stage`; returns it for the caller to verify.
    pub fn require<'a>(&self, body: &'a Value, stage: &str) -> Result<&'a Value> {
        match body.get("auth") {
            Some(auth) if auth.is_object() => match auth.get("type").and_then(Value::as_str) {
                Some(t) if t == stage => Ok(auth),
                Some(_) => Err(self.challenge(stage, ErrorKind::AuthTypeUnsupported, "Unsupported authentication type")),
                None => Err(self.challenge(stage, ErrorKind::AuthRequired, "Authentication required")),
            },
            _ => Err(self.challenge(stage, ErrorKind::AuthRequired, "Authentication required")),
        }
    }
}
