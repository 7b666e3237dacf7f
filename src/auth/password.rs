//! scrypt password hashing into PHC strings, off the async threads and bounded.
//!
//! Each hash holds 2^log_n * 1 KiB (128 MiB at the production cost) while it runs, and anyone can
//! ask for one by trying to log in, so at most `concurrency` run at once, a short queue waits for
//! them, and past that the caller gets 429 instead of the server running out of memory.

use crate::error::{Error, Result};
use base64::Engine;
use scrypt::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};
use scrypt::{Params, Scrypt};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;
use tokio::sync::Semaphore;

pub struct PasswordHashing {
    log_n: u8,
    slots: Arc<Semaphore>,
    concurrency: usize,
    /// Requests holding or waiting for a slot.
    admitted: Arc<AtomicUsize>,
    max_admitted: usize,
    /// How long the last hash took, to tell refused callers when to come back.
    last_ms: Arc<AtomicU64>,
    /// A hash at the configured cost that no password matches: unknown users cost the same work.
    dummy: String,
}

/// Releases an admission when the work ends (or the request gives up while queued).
struct Admission(Arc<AtomicUsize>);

impl Drop for Admission {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl PasswordHashing {
    /// `concurrency` 0 means one per core.
    pub fn new(log_n: u8, concurrency: usize, queue_per_slot: usize) -> Self {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let concurrency = if concurrency == 0 { cores } else { concurrency };
        Self {
            log_n,
            slots: Arc::new(Semaphore::new(concurrency)),
            concurrency,
            admitted: Arc::new(AtomicUsize::new(0)),
            max_admitted: concurrency.saturating_add(concurrency.saturating_mul(queue_per_slot)),
            last_ms: Arc::new(AtomicU64::new(0)),
            dummy: dummy_hash(log_n),
        }
    }

    /// Hashes a new password at the configured cost.
    pub async fn hash(&self, password: String) -> Result<String> {
        let log_n = self.log_n;
        self.run(move || hash(&password, log_n)).await?
    }

    /// Checks `password` against a stored hash; with none (unknown user, no password set) it
    /// checks against the dummy hash so the answer takes as long, and is false.
    pub async fn verify(&self, password: String, phc: Option<String>) -> Result<bool> {
        let known = phc.is_some();
        let phc = phc.unwrap_or_else(|| self.dummy.clone());
        let matched = self.run(move || verify(&password, &phc)).await?;
        Ok(known && matched)
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let admitted = self.admitted.fetch_add(1, Ordering::AcqRel);
        let admission = Admission(self.admitted.clone());
        if admitted >= self.max_admitted {
            drop(admission);
            let rounds = (admitted / self.concurrency) as u64;
            let retry = self.last_ms.load(Ordering::Relaxed).max(100).saturating_mul(rounds.max(1)).min(60_000);
            return Err(crate::auth::rate_limit::limit_exceeded(retry, "Too many password checks at once"));
        }
        let permit = self.slots.clone().acquire_owned().await.map_err(|_| Error::internal("password hashing closed"))?;
        let last_ms = self.last_ms.clone();
        // The permit and admission move into the blocking task: a client that disconnects does
        // not free the slot while its hash still holds the memory.
        tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let out = work();
            last_ms.store(started.elapsed().as_millis() as u64, Ordering::Relaxed);
            drop((permit, admission));
            out
        })
        .await
        .map_err(|e| Error::internal(format!("password hashing task: {e}")))
    }
}

/// A PHC string with the production shape (r=8, p=1) at `log_n`, random salt and output.
fn dummy_hash(log_n: u8) -> String {
    use rand::RngExt;
    let (mut salt, mut output) = ([0u8; 16], [0u8; 32]);
    rand::rng().fill(&mut salt);
    rand::rng().fill(&mut output);
    let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
    let (salt, output) = (b64.encode(salt), b64.encode(output));
    format!("$scrypt$ln={log_n},r=8,p=1${salt}${output}")
}

/// Hashes synchronously; for the CLI, which runs before any server. Servers use
/// [`PasswordHashing::hash`].
pub fn hash(password: &str, log_n: u8) -> Result<String> {
    let params = Params::new(log_n, 8, 1).map_err(|e| Error::internal(format!("scrypt params: {e}")))?;
    let hasher = Scrypt::from(params);
    let h: Result<PasswordHash, _> = hasher.hash_password(password.as_bytes());
    h.map(|h| h.to_string()).map_err(|e| Error::internal(format!("hashing failed: {e}")))
}

/// Constant-time verification (the comparison inside the password-hash crate is constant-time).
fn verify(password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else { return false };
    Scrypt::new().verify_password(password.as_bytes(), &parsed).is_ok()
}

/// Rejects passwords the server will not store.
pub fn check_strength(password: &str) -> Result<()> {
    if password.is_empty() {
        return Err(Error::missing_param("Missing password"));
    }
    if password.len() > 512 {
        return Err(Error::invalid_param("Password too long"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dummy_hash_is_parsed_with_the_configured_cost_and_matches_nothing() {
        let dummy = dummy_hash(4);
        let parsed = PasswordHash::new(&dummy).expect("dummy parses");
        assert_eq!(parsed.params.get_decimal("ln"), Some(4));
        assert!(!verify("", &dummy));
        assert!(!verify("password", &dummy));
        let real = hash("password", 4).unwrap();
        assert!(verify("password", &real));
        assert_eq!(real.split('$').nth(2), dummy.split('$').nth(2), "same parameter string as real hashes");
    }
}
