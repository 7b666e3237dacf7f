//! The `Authorization: X-Matrix ...` header of server-to-server requests: the origin signs
//! `{method, uri, origin, destination[, content]}` in canonical JSON with its ed25519 key.

use crate::error::{Error, Result};
use crate::events::signing_key::ServerKeys;
use ruma::api::federation::authentication::XMatrix as RumaXMatrix;
use ruma::serde::Base64;
use ruma::signatures::KeyPair;
use ruma::{ServerName, ServerSigningKeyId};
use serde_json::{Value, json};

/// The parsed header parameters, as the federation client reads them.
#[derive(Debug, Clone, PartialEq)]
pub struct XMatrix {
    pub origin: String,
    pub destination: Option<String>,
    pub key: String,
    pub sig: String,
}

/// The canonical bytes both sides sign and verify.
pub fn signing_bytes(method: &str, uri: &str, origin: &str, destination: &str, content: Option<&Value>) -> Result<String> {
    let mut obj = json!({"method": method, "uri": uri, "origin": origin, "destination": destination});
    if let Some(c) = content {
        obj["content"] = c.clone();
    }
    let canonical: ruma::CanonicalJsonObject =
        serde_json::from_value(obj).map_err(|e| Error::internal_from("request not canonical JSON", e))?;
    ruma::signatures::to_canonical_json_string_for_signing(&canonical).map_err(|e| Error::internal_from("X-Matrix signing", e))
}

/// The header value for a request from this server to `destination`.
pub fn authorization(keys: &ServerKeys, method: &str, uri: &str, destination: &str, content: Option<&Value>) -> Result<String> {
    let bytes = signing_bytes(method, uri, &keys.server_name, destination, content)?;
    let sig = keys.keypair.sign(bytes.as_bytes());
    let origin = ServerName::parse(&keys.server_name).map_err(|e| Error::internal_from(format!("origin {}", keys.server_name), e))?;
    let destination = ServerName::parse(destination).map_err(|e| Error::internal_from(format!("destination {destination}"), e))?;
    let key = ServerSigningKeyId::parse(sig.id()).map_err(|e| Error::internal_from(format!("key {}", sig.id()), e))?;
    Ok(RumaXMatrix::new(origin, destination, key, Base64::new(sig.as_bytes().to_vec())).to_string())
}

/// Parses an `Authorization` header of the `X-Matrix` scheme with ruma's parser: values quoted
/// (with backslash escapes) or bare, parameter names case-insensitive, the origin and
/// destination server names, the key a signing key ID and the signature base64.
pub fn parse(header: &str) -> Option<XMatrix> {
    let x = RumaXMatrix::parse(header).map_err(|e| log::debug!("X-Matrix header refused: {e}")).ok()?;
    Some(XMatrix {
        origin: x.origin.to_string(),
        destination: x.destination.map(|d| d.to_string()),
        key: x.key.to_string(),
        sig: x.sig.encode(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_quoted_and_bare_values() {
        let h = r#"X-Matrix origin="a.example:8448",destination=b.example,Key="ed25519:k1",sig="c2l\nbmF0dXJl""#;
        let x = parse(h).expect("parses");
        assert_eq!(x.origin, "a.example:8448");
        assert_eq!(x.destination.as_deref(), Some("b.example"));
        assert_eq!(x.key, "ed25519:k1");
        assert_eq!(x.sig, "c2lnbmF0dXJl");
        assert!(parse("Bearer abc").is_none());
        assert!(parse(r#"X-Matrix origin="a",key="ed25519:k""#).is_none(), "sig is required");
        assert!(parse(r#"X-Matrix origin="a",key="ed25519:k",sig="not base64!""#).is_none(), "sig is base64");
        assert!(parse(r#"X-Matrix origin="not a server",key="ed25519:k",sig="c2ln""#).is_none(), "origin is a server name");
    }

    #[test]
    fn formats_what_it_parses() {
        let der = ruma::signatures::Ed25519KeyPair::generate();
        let keypair = ruma::signatures::Ed25519KeyPair::from_der(&der, "a_k1".into()).expect("key");
        let keys = ServerKeys { server_name: "a.example".into(), keypair };
        let header = authorization(&keys, "GET", "/_matrix/federation/v1/version", "b.example:8448", None).expect("signs");
        let x = parse(&header).expect("parses");
        assert_eq!((x.origin.as_str(), x.destination.as_deref(), x.key.as_str()), ("a.example", Some("b.example:8448"), "ed25519:a_k1"));
        assert!(crate::ids::decode_base64(&x.sig).is_some_and(|s| s.len() == 64), "{header}");
    }
}
