//! The `Authorization: X-Matrix ...` header of server-to-server requests: the origin signs
//! `{method, uri, origin, destination[, content]}` in canonical JSON with its ed25519 key.

use crate::error::{Error, Result};
use crate::events::signing_key::ServerKeys;
use ruma::signatures::KeyPair;
use serde_json::{Value, json};

/// The parsed header parameters.
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
    Ok(format!("X-Matrix origin=\"{}\",destination=\"{}\",key=\"{}\",sig=\"{}\"", keys.server_name, destination, sig.id(), sig.base64()))
}

/// Parses `X-Matrix origin=...,destination=...,key="...",sig="..."`; values may be quoted
/// (with backslash escapes) or bare tokens, and parameter names are case-insensitive.
pub fn parse(header: &str) -> Option<XMatrix> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("X-Matrix") {
        return None;
    }
    let (mut origin, mut destination, mut key, mut sig) = (None, None, None, None);
    let mut chars = rest.chars().peekable();
    loop {
        while matches!(chars.peek(), Some(c) if c.is_whitespace() || *c == ',') {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let name: String = chars.by_ref().take_while(|c| *c != '=').collect();
        let value = if chars.peek() == Some(&'"') {
            chars.next();
            let mut v = String::new();
            loop {
                match chars.next()? {
                    '\\' => v.push(chars.next()?),
                    '"' => break,
                    c => v.push(c),
                }
            }
            v
        } else {
            let mut v = String::new();
            while let Some(c) = chars.peek().copied() {
                if c == ',' {
                    break;
                }
                v.push(c);
                chars.next();
            }
            v.trim().to_owned()
        };
        match name.trim().to_ascii_lowercase().as_str() {
            "origin" => origin = Some(value),
            "destination" => destination = Some(value),
            "key" => key = Some(value),
            "sig" => sig = Some(value),
            _ => {}
        }
    }
    Some(XMatrix { origin: origin?, destination, key: key?, sig: sig? })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_quoted_and_bare_values() {
        let h = r#"X-Matrix origin="a.example:8448",destination=b.example,Key="ed25519:k1",sig="c2ln\"x""#;
        let x = parse(h).expect("parses");
        assert_eq!(x.origin, "a.example:8448");
        assert_eq!(x.destination.as_deref(), Some("b.example"));
        assert_eq!(x.key, "ed25519:k1");
        assert_eq!(x.sig, "c2ln\"x");
        assert!(parse("Bearer abc").is_none());
        assert!(parse(r#"X-Matrix origin="a",key="k""#).is_none(), "sig is required");
    }
}
