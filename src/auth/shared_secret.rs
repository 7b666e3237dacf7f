//! Shared-secret registration (`/_synapse/admin/v1/register`): nonces and the HMAC check.

use super::expiring::ExpiringKeys;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use std::time::Duration;

pub const NONCE_TTL: Duration = Duration::from_secs(60);
/// Live nonces at most: the endpoint needs no account, so its memory is bounded by count too.
/// Beyond it the oldest nonce is dropped (an admin script retries; the newest always works).
pub const MAX_NONCES: usize = 10_000;

pub struct Nonces {
    keys: ExpiringKeys,
}

impl Default for Nonces {
    fn default() -> Self {
        Self { keys: ExpiringKeys::new(NONCE_TTL, MAX_NONCES) }
    }
}

impl Nonces {
    /// A fresh 128-hex-character nonce from the OS-seeded CSPRNG.
    pub fn issue(&self) -> String {
        let nonce = crate::ids::random_hex(64);
        self.keys.insert(nonce.clone());
        nonce
    }

    /// Removes the nonce whatever happens next; true if it was issued and is still fresh.
    pub fn consume(&self, nonce: &str) -> bool {
        self.keys.take(nonce)
    }

    /// Nonces held.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Changes the cap (tests use a small one to reach it quickly).
    pub fn set_capacity(&self, cap: usize) {
        self.keys.set_capacity(cap);
    }
}

/// HMAC-SHA1(secret, nonce NUL username NUL password NUL admin|notadmin [NUL user_type]) as hex.
pub fn mac(secret: &str, nonce: &str, username: &str, password: &str, admin: bool, user_type: Option<&str>) -> String {
    let mut m = <Hmac<Sha1> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable_hmac());
    m.update(nonce.as_bytes());
    m.update(b"\x00");
    m.update(username.as_bytes());
    m.update(b"\x00");
    m.update(password.as_bytes());
    m.update(b"\x00");
    m.update(if admin { b"admin" as &[u8] } else { b"notadmin" });
    if let Some(t) = user_type {
        m.update(b"\x00");
        m.update(t.as_bytes());
    }
    hex::encode(m.finalize().into_bytes())
}

fn unreachable_hmac() -> Hmac<Sha1> {
    // HMAC accepts keys of any length; this cannot happen.
    std::process::abort()
}

/// Constant-time comparison of the expected and given MACs (hex, case-insensitive).
pub fn mac_matches(expected_hex: &str, given_hex: &str) -> bool {
    use subtle::ConstantTimeEq;
    let (Ok(a), Ok(b)) = (hex::decode(expected_hex), hex::decode(given_hex.to_ascii_lowercase())) else { return false };
    a.len() == b.len() && bool::from(a.ct_eq(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synapse_documented_vector() {
        assert_eq!(mac("shared_secret", "thisisanonce", "pepper_roni", "pizza", true, None), "48715842ad67d5dc9a9ee938a3bda4fcfae8d7c7");
    }

    #[test]
    fn dendrite_vectors() {
        let nonce = "759f047f312b99ff428b21d581256f8592b8976e58bc1b543972dc6147e529a79657605b52d7becd160ff5137f3de11975684319187e06901955f79e5a6c5a79";
        assert_eq!(mac("dendritetest", nonce, "alice", "wonderland", false, None), "f1ba8d37123866fd659b40de4bad9b0f8965c565");
        assert_eq!(mac("dendritetest", nonce, "alice", "wonderland", true, None), "24dca3bba410e43fe64b9b5c28306693bf3baa9f");
    }

    #[test]
    fn nonce_is_single_use() {
        let n = Nonces::default();
        let a = n.issue();
        assert_eq!(a.len(), 128);
        assert!(n.consume(&a));
        assert!(!n.consume(&a));
        assert!(!n.consume("made-up"));
    }
}
