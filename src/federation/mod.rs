//! Server-to-server: the TLS configuration both directions use, X-Matrix request signing and
//! verification, the outgoing federation client (server discovery, signed requests, remote
//! signing keys), and remote device lists.

pub mod client;
pub mod destinations;
pub mod device_lists;
pub mod tls;
pub mod xmatrix;

use crate::error::{Error, Result};
use crate::events::signing_key::ServerKeys;
use serde_json::{Value, json};

/// How long other servers may cache our signing key (Synapse publishes a week too).
const KEY_VALIDITY_MS: i64 = 7 * 24 * 3600 * 1000;

/// `GET /_matrix/key/v2/server`: our verify key, signed with itself.
pub fn server_key_document(keys: &ServerKeys) -> Result<Value> {
    use base64::Engine;
    let key = base64::engine::general_purpose::STANDARD_NO_PAD.encode(keys.keypair.public_key());
    let doc = json!({
        "server_name": keys.server_name,
        "valid_until_ts": crate::ids::now_ms() + KEY_VALIDITY_MS,
        "verify_keys": {format!("ed25519:{}", keys.keypair.version()): {"key": key}},
        "old_verify_keys": {},
    });
    let mut canonical: ruma::CanonicalJsonObject =
        serde_json::from_value(doc).map_err(|e| Error::internal_from("signing the server key", e))?;
    ruma::signatures::sign_json(&keys.server_name, &keys.keypair, &mut canonical)
        .map_err(|e| Error::internal_from("signing the server key", e))?;
    serde_json::to_value(canonical).map_err(|e| Error::internal_from("signing the server key", e))
}
