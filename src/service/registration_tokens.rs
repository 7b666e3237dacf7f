//! Registration tokens: Synapse's admin API over them, the validity check, and the stages of
//! `/register` (`m.login.registration_token` before `m.login.dummy` when
//! `registration_requires_token` is set).
//!
//! A use is pending while a UIA session holds the token (the stage completed, the account not yet
//! made) and completed once the account exists, as Synapse counts them. Sessions live in memory,
//! so pending uses are counted from them and only completed uses are stored. Checking a token
//! and holding it, and counting a completion, happen under one lock, so a token's last use goes
//! to one session only.

use crate::Services;
use crate::auth::uia::Step;
use crate::error::{Error, ErrorKind, Result};
pub use crate::store::registration_tokens::TokenChange;
use crate::store::registration_tokens::{self as store, RegistrationToken};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;

pub const TOKEN_STAGE: &str = "m.login.registration_token";
pub const DUMMY_STAGE: &str = "m.login.dummy";
/// The characters a token may hold (Synapse's set).
const TOKEN_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~-";
pub const MAX_TOKEN_LEN: usize = 64;
/// Length of a generated token when the admin names none.
pub const DEFAULT_TOKEN_LEN: i64 = 16;

/// A token as the admin API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct TokenInfo {
    pub token: String,
    pub uses_allowed: Option<i64>,
    pub pending: i64,
    pub completed: i64,
    pub expiry_time: Option<i64>,
}

impl TokenInfo {
    fn new(t: RegistrationToken, pending: &HashMap<String, i64>) -> Self {
        let pending = pending.get(&t.token).copied().unwrap_or(0);
        Self { token: t.token, uses_allowed: t.uses_allowed, pending, completed: t.completed, expiry_time: t.expiry_time }
    }

    /// Whether a registration may use the token now: not expired, and a use left once the
    /// pending and completed ones are counted (`uses_allowed: 0` allows none).
    fn is_valid(&self, now: i64) -> bool {
        let expired = self.expiry_time.is_some_and(|e| e < now);
        let used_up = self.uses_allowed.is_some_and(|allowed| self.pending.saturating_add(self.completed) >= allowed);
        !expired && !used_up
    }
}

fn no_such_token(token: &str) -> Error {
    Error::not_found(format!("No such registration token: {token}"))
}

fn check_expiry(expiry_time: Option<i64>) -> Result<()> {
    if expiry_time.is_some_and(|e| e < crate::ids::now_ms()) {
        return Err(Error::invalid_param("expiry_time must not be in the past"));
    }
    Ok(())
}

fn check_uses(uses_allowed: Option<i64>) -> Result<()> {
    if uses_allowed.is_some_and(|u| u < 0) {
        return Err(Error::invalid_param("uses_allowed must be a non-negative integer or null"));
    }
    Ok(())
}

/// Every token, or with `valid` only the usable (`true`) or unusable (`false`) ones.
pub async fn list(svc: &Services, valid: Option<bool>) -> Result<Vec<TokenInfo>> {
    let rows = svc.db.run(store::list).await?;
    let pending = svc.uia.pending_registration_tokens();
    let now = crate::ids::now_ms();
    let all = rows.into_iter().map(|t| TokenInfo::new(t, &pending));
    Ok(match valid {
        None => all.collect(),
        Some(wanted) => all.filter(|t| t.is_valid(now) == wanted).collect(),
    })
}

/// One token; 404 `M_NOT_FOUND` if there is none.
pub async fn get(svc: &Services, token: &str) -> Result<TokenInfo> {
    let key = token.to_owned();
    let row = svc.db.run(move |c| store::find(c, &key)).await?.ok_or_else(|| no_such_token(token))?;
    Ok(TokenInfo::new(row, &svc.uia.pending_registration_tokens()))
}

/// What the admin asks to create: the token's text, or the length of a random one.
#[derive(Debug, Clone, Default)]
pub struct NewToken {
    pub token: Option<String>,
    pub length: Option<i64>,
    pub uses_allowed: Option<i64>,
    pub expiry_time: Option<i64>,
}

/// Creates a token: the one named (1 to 64 characters of `[A-Za-z0-9._~-]`) or a random one of
/// `length` (16 by default); 400 `M_INVALID_PARAM` for a bad field or a token that exists.
pub async fn create(svc: &Services, new: NewToken) -> Result<TokenInfo> {
    let chosen = match new.token {
        Some(t) => {
            if t.is_empty() || t.chars().count() > MAX_TOKEN_LEN {
                return Err(Error::invalid_param("token must not be empty and must not be longer than 64 characters"));
            }
            if !t.bytes().all(|b| TOKEN_CHARS.contains(&b)) {
                return Err(Error::invalid_param("token must consist only of characters matched by the regex [A-Za-z0-9._~-]"));
            }
            Ok(t)
        }
        None => {
            let length = new.length.unwrap_or(DEFAULT_TOKEN_LEN);
            if !(1..=MAX_TOKEN_LEN as i64).contains(&length) {
                return Err(Error::invalid_param("length must be greater than zero and not greater than 64"));
            }
            Err(length as usize)
        }
    };
    check_uses(new.uses_allowed)?;
    check_expiry(new.expiry_time)?;
    // A generated token that happens to exist is drawn again, a few times (short ones can run out).
    for _ in 0..3 {
        let token = chosen.clone().unwrap_or_else(|length| crate::ids::random_from(TOKEN_CHARS, length));
        let row = RegistrationToken {
            token: token.clone(),
            uses_allowed: new.uses_allowed,
            completed: 0,
            expiry_time: new.expiry_time,
            created_ts: crate::ids::now_ms(),
        };
        let stored = row.clone();
        if svc.db.run(move |c| store::create(c, &stored)).await? {
            log::info!("registration token created (uses allowed: {:?}, expiry: {:?})", row.uses_allowed, row.expiry_time);
            return Ok(TokenInfo::new(row, &HashMap::new()));
        }
        if chosen.is_ok() {
            return Err(Error::invalid_param(format!("Token already exists: {token}")));
        }
    }
    Err(Error::internal("Could not draw an unused registration token"))
}

/// Changes a token's allowed uses or expiry (`Some(None)` clears one); 404 if there is none.
pub async fn update(svc: &Services, token: &str, change: TokenChange) -> Result<TokenInfo> {
    if let Some(uses) = change.uses_allowed {
        check_uses(uses)?;
    }
    if let Some(expiry) = change.expiry_time {
        check_expiry(expiry)?;
    }
    let key = token.to_owned();
    let row = svc.db.run(move |c| store::update(c, &key, &change)).await?.ok_or_else(|| no_such_token(token))?;
    Ok(TokenInfo::new(row, &svc.uia.pending_registration_tokens()))
}

/// Deletes a token; 404 if there is none. Sessions holding it may still complete registration.
pub async fn delete(svc: &Services, token: &str) -> Result<()> {
    let key = token.to_owned();
    if !svc.db.run(move |c| store::delete(c, &key)).await? {
        return Err(no_such_token(token));
    }
    Ok(())
}

/// Whether a registration could use `token` now (`/register/m.login.registration_token/validity`):
/// rate limited per client address, 403 while registration is disabled.
pub async fn validity(svc: &Services, ip: &str, token: &str) -> Result<bool> {
    svc.rate_limits.registration_token_validity(ip)?;
    if !svc.config.enable_registration {
        return Err(Error::forbidden("Registration has been disabled"));
    }
    usable(svc, token).await
}

async fn usable(svc: &Services, token: &str) -> Result<bool> {
    if token.len() > MAX_TOKEN_LEN {
        return Ok(false);
    }
    let key = token.to_owned();
    let Some(row) = svc.db.run(move |c| store::find(c, &key)).await? else {
        return Ok(false);
    };
    Ok(TokenInfo::new(row, &svc.uia.pending_registration_tokens()).is_valid(crate::ids::now_ms()))
}

/// The one flow `/register` offers.
pub fn registration_flow(svc: &Services) -> &'static [&'static str] {
    if svc.config.registration_requires_token { &[TOKEN_STAGE, DUMMY_STAGE] } else { &[DUMMY_STAGE] }
}

/// Checks the stage a registration step submits. Ok once every stage of the flow is complete
/// (the last one may be this step's `m.login.dummy`, recorded by [`registration_completed`]);
/// otherwise the 401 naming what is left, with the failed stage's errcode if it failed.
pub async fn authorize_registration(svc: &Services, step: &Step) -> Result<()> {
    let flow = registration_flow(svc);
    let mut done: Vec<String> = step.completed().to_vec();
    let all_done = |done: &[String]| flow.iter().all(|s| done.iter().any(|d| d == s));
    if all_done(&done) {
        return Ok(());
    }
    let auth = step.auth().filter(|a| a.is_object());
    let Some(kind) = auth.and_then(|a| a.get("type")).and_then(Value::as_str) else {
        return Err(svc.uia.challenge_flow(step, flow, &done, ErrorKind::AuthIncomplete, "Authentication required"));
    };
    let Some(stage) = flow.iter().copied().find(|s| *s == kind) else {
        return Err(svc.uia.challenge_flow(step, flow, &done, ErrorKind::AuthTypeUnsupported, "Unsupported authentication type"));
    };
    if stage == TOKEN_STAGE {
        let auth = auth.cloned().unwrap_or_default();
        check_token_stage(svc, step, flow, &done, &auth).await?;
        svc.uia.complete(step, TOKEN_STAGE);
    }
    if !done.iter().any(|d| d == stage) {
        done.push(stage.to_owned());
    }
    if all_done(&done) {
        return Ok(());
    }
    // A stage done out of order counts; the client goes on with the rest.
    svc.uia.complete(step, stage);
    // Synapse names no error while stages remain.
    Err(svc.uia.challenge_flow(step, flow, &done, ErrorKind::AuthIncomplete, "Authentication required"))
}

/// The `m.login.registration_token` stage: the token must be usable now, and is then held by
/// the session (a pending use). A session that holds one answers for it again, and refuses
/// another.
async fn check_token_stage(svc: &Services, step: &Step, flow: &[&str], done: &[String], auth: &Value) -> Result<()> {
    let token = match auth.get("token") {
        None | Some(Value::Null) => return Err(Error::missing_param("Missing registration token")),
        Some(Value::String(t)) => t.clone(),
        Some(_) => return Err(Error::invalid_param("Registration token must be a string")),
    };
    if auth.get("session").is_none() {
        return Err(Error::missing_param("Missing UIA session"));
    }
    let _counting = svc.uia.lock_token_uses().await;
    if let Some((held, _)) = svc.uia.registration_token(step) {
        return if held == token { Ok(()) } else { Err(Error::invalid_param("Registration token has changed")) };
    }
    if !usable(svc, &token).await? {
        return Err(svc.uia.challenge_flow(step, flow, done, ErrorKind::Unauthorized, "Invalid registration token"));
    }
    if !svc.uia.hold_registration_token(step, &token) {
        return Err(Error::unknown("Unknown or expired UIA session"));
    }
    Ok(())
}

/// After the account was made: the dummy stage recorded, and the token the session holds (if
/// any) counted as completed instead of pending. The account exists whatever happens here, so a
/// failure to count is logged, not answered.
pub async fn registration_completed(svc: &Services, step: &Step) {
    svc.uia.complete(step, DUMMY_STAGE);
    let _counting = svc.uia.lock_token_uses().await;
    let Some((token, true)) = svc.uia.registration_token(step) else {
        return;
    };
    let key = token.clone();
    match svc.db.run(move |c| store::complete_use(c, &key)).await {
        Ok(()) => svc.uia.release_registration_token(step),
        Err(e) => log::error!("counting a completed use of a registration token: {}", e.message()),
    }
}
