//! Signatures users upload on keys (`/keys/signatures/upload`): on their own devices (with
//! their self-signing key), on their own master key (with a device key), and on other users'
//! master keys (with their user-signing key). Each signature is checked before it is kept.

use crate::Services;
use crate::error::Result;
use crate::store::e2e_keys::{self, KeySignature};
use ruma::UserId;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// Why one uploaded signature was not kept, for the client.
struct Refusal(String);

fn refuse(why: &str) -> Refusal {
    Refusal(why.to_owned())
}

/// A user's stored key objects: device ID -> device keys, cross-signing type -> key.
struct UserKeys {
    devices: BTreeMap<String, Value>,
    cross: BTreeMap<String, Value>,
}

fn load(c: &mut crate::store::Conn, user: &str) -> Result<UserKeys> {
    let devices = e2e_keys::local_devices(c, user, &[])?
        .into_iter()
        .filter_map(|d| Some((d.device_id, serde_json::from_str(d.key_json.as_deref()?).ok()?)))
        .collect();
    let cross = e2e_keys::cross_signing(c, user)?.into_iter().filter_map(|(k, j)| Some((k, serde_json::from_str(&j).ok()?))).collect();
    Ok(UserKeys { devices, cross })
}

/// The canonical JSON that signatures cover: the object without `signatures` and `unsigned`.
fn signed_bytes(v: &Value) -> Option<String> {
    let canonical: ruma::CanonicalJsonObject = serde_json::from_value(v.clone()).ok()?;
    ruma::signatures::to_canonical_json_string_for_signing(&canonical).ok()
}

/// The ed25519 public key `key_id` (`ed25519:<name>`) inside a key object's `keys`.
fn public_key(obj: &Value, key_id: &str) -> Option<Vec<u8>> {
    crate::ids::decode_base64(obj["keys"][key_id].as_str()?)
}

/// The cross-signing key of `keys` whose `keys` hold `ed25519:<name>`, with its type.
fn cross_key<'a>(keys: &'a UserKeys, name: &str) -> Option<(&'a str, &'a Value)> {
    keys.cross.iter().find(|(_, k)| k["keys"].get(format!("ed25519:{name}")).is_some()).map(|(t, k)| (t.as_str(), k))
}

fn check(me: &str, mine: &UserKeys, target_user: &str, theirs: &UserKeys, key: &str, obj: &Value) -> Result<Vec<KeySignature>, Refusal> {
    let (stored, target_kind) = match theirs.devices.get(key) {
        Some(d) => (d, "device"),
        None => match cross_key(theirs, key) {
            Some((kind, k)) => (k, kind),
            None => return Err(Refusal(format!("No key {key} of {target_user} is known"))),
        },
    };
    let bytes = signed_bytes(obj).ok_or_else(|| refuse("The object is not canonical JSON"))?;
    if Some(&bytes) != signed_bytes(stored).as_ref() {
        return Err(refuse("The signed object differs from the stored key"));
    }
    let sigs = obj["signatures"][me].as_object().ok_or_else(|| refuse("No signature by the uploader"))?;
    let mut out = Vec::new();
    for (signer_key, sig) in sigs {
        if stored["signatures"][me].get(signer_key).is_some() {
            continue;
        }
        let name = signer_key.strip_prefix("ed25519:").ok_or_else(|| refuse("Only ed25519 signatures are accepted"))?;
        // Who may sign what, as Synapse enforces it.
        let signer: Option<&Value> = match (target_user == me, target_kind) {
            (true, "device") => cross_key(mine, name).filter(|(k, _)| *k == "self_signing").map(|(_, v)| v),
            (true, "master") => mine.devices.get(name),
            (false, "master") => cross_key(mine, name).filter(|(k, _)| *k == "user_signing").map(|(_, v)| v),
            _ => None,
        };
        let signer = signer.ok_or_else(|| Refusal(format!("{signer_key} may not sign this {target_kind} key")))?;
        let public = public_key(signer, signer_key).ok_or_else(|| refuse("The signing key is malformed"))?;
        let sig_text = sig.as_str().ok_or_else(|| refuse("A signature must be a string"))?;
        let sig_bytes = crate::ids::decode_base64(sig_text).ok_or_else(|| refuse("A signature is not base64"))?;
        ruma::signatures::verify_canonical_json_bytes(&ruma::SigningKeyAlgorithm::Ed25519, &public, &sig_bytes, bytes.as_bytes())
            .map_err(|_| Refusal(format!("Invalid signature {signer_key}")))?;
        out.push(KeySignature {
            target_user: target_user.to_owned(),
            target_key: key.to_owned(),
            signer_user: me.to_owned(),
            signer_key: signer_key.clone(),
            signature: sig_text.to_owned(),
        });
    }
    Ok(out)
}

/// Checks and keeps the uploader's signatures, `{user: {key ID: signed key object}}`; answers
/// the refused ones, `{user: {key ID: {errcode, error}}}`.
pub async fn upload(svc: &Services, uploader: &UserId, body: Map<String, Value>) -> Result<Map<String, Value>> {
    let me = uploader.to_string();
    let server = svc.server_name().to_owned();
    let (accepted, failures) = svc
        .db
        .run(move |c| {
            let mine = load(c, &me)?;
            let (mut accepted, mut failures) = (Vec::new(), Map::new());
            for (target, keys) in &body {
                let mut fail = |key: &str, error: String| {
                    let entry = failures.entry(target.clone()).or_insert_with(|| json!({}));
                    entry[key] = json!({"errcode": "M_INVALID_SIGNATURE", "error": error});
                };
                let Some(keys) = keys.as_object() else {
                    fail("*", "Expected an object of key IDs".into());
                    continue;
                };
                if crate::ids::parse_user_id(target).map(|u| u.server_name().as_str() != server).unwrap_or(true) {
                    for key in keys.keys() {
                        fail(key, "Only keys of users of this server can be signed here".into());
                    }
                    continue;
                }
                let theirs = if *target == me { None } else { Some(load(c, target)?) };
                for (key, obj) in keys {
                    match check(&me, &mine, target, theirs.as_ref().unwrap_or(&mine), key, obj) {
                        Ok(sigs) => accepted.extend(sigs),
                        Err(Refusal(e)) => fail(key, e),
                    }
                }
            }
            if !accepted.is_empty() {
                e2e_keys::add_signatures(c, &accepted)?;
            }
            Ok((accepted.into_iter().map(|s| s.target_user).collect::<Vec<_>>(), failures))
        })
        .await?;
    let mut targets = accepted;
    targets.dedup();
    for t in targets {
        crate::actors::notifier::device_list_changed(svc, &t).await;
    }
    Ok(failures)
}

/// Adds uploaded signatures to a key object as `/keys/query` returns it. A signature's target is
/// a device ID or a cross-signing public key; either way the object lists it as `ed25519:<it>`.
pub fn merge(sigs: &[(String, String, String, String)], obj: &mut Value) {
    for (target_key, signer_user, signer_key, sig) in sigs {
        if obj["keys"].get(format!("ed25519:{target_key}")).is_some() {
            obj["signatures"][signer_user][signer_key] = json!(sig);
        }
    }
}
