//! End-to-end encryption keys: upload, query (local users from the store, remote users from the
//! device list last fetched from their server, fetched now if never), claim, cross-signing
//! upload, which room-mates' device lists changed, and what other servers are told of local
//! users' keys.

use crate::Services;
use crate::actors::notifier::Positions;
use crate::auth::uia::Operation;
use crate::error::{Error, Result};
use crate::federation::client::FedError;
use crate::store::e2e_keys::{self, DeviceKeys, OneTimeKey};
use ruma::{OwnedUserId, UserId};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// `{"<algorithm>:<key id>": key}` as stored rows.
fn keyed(map: Option<Map<String, Value>>, what: &str) -> Result<Vec<OneTimeKey>> {
    let mut out = Vec::new();
    for (id, key) in map.into_iter().flatten() {
        let Some((algorithm, _)) = id.split_once(':') else {
            return Err(Error::invalid_param(format!("{what} ID {id:?} is not <algorithm>:<key id>")));
        };
        if !(key.is_object() || key.is_string()) {
            return Err(Error::bad_json(format!("{what} {id} must be an object or a string")));
        }
        out.push(OneTimeKey { algorithm: algorithm.to_owned(), key_json: key.to_string(), key_id: id });
    }
    Ok(out)
}

/// What a device uploads: its signed device keys, one-time keys and fallback keys.
#[derive(Debug, Default)]
pub struct KeyUpload {
    pub device_keys: Option<Map<String, Value>>,
    pub one_time_keys: Option<Map<String, Value>>,
    pub fallback_keys: Option<Map<String, Value>>,
}

/// Stores a device's keys; answers its one-time key counts per algorithm.
pub async fn upload(svc: &Services, user: &UserId, device: Option<&str>, up: KeyUpload) -> Result<BTreeMap<String, i64>> {
    let device = device.ok_or_else(|| Error::invalid_param("This access token has no device to hold keys"))?.to_owned();
    let device_keys = match up.device_keys {
        None => None,
        Some(k) => {
            if k.get("user_id").and_then(Value::as_str) != Some(user.as_str())
                || k.get("device_id").and_then(Value::as_str) != Some(device.as_str())
            {
                return Err(Error::invalid_param("device_keys must name this user and this device"));
            }
            if !k.get("keys").is_some_and(Value::is_object) || !k.get("algorithms").is_some_and(Value::is_array) {
                return Err(Error::bad_json("device_keys needs algorithms (a list) and keys (an object)"));
            }
            Some(Value::Object(k).to_string())
        }
    };
    let one_time = keyed(up.one_time_keys, "one-time key")?;
    let fallback = keyed(up.fallback_keys, "fallback key")?;
    let u = user.to_string();
    let announce = device_keys.is_some();
    let key = (u.clone(), device.clone());
    let mut counts = svc.db.run(move |c| e2e_keys::upload(c, &u, &device, device_keys.as_deref(), &one_time, &fallback)).await?;
    svc.kept.key_counts.forget(&key);
    if announce {
        crate::actors::notifier::device_list_changed(svc, user.as_str()).await;
    }
    // Clients read a missing count as "unknown" rather than zero; Synapse always reports this one.
    counts.entry("signed_curve25519".into()).or_insert(0);
    Ok(counts)
}

/// A stored device as `/keys/query` shows it: the signed keys plus, if `with_name`, the display
/// name under `unsigned`. Devices without keys are not shown.
fn device_json(d: &DeviceKeys, with_name: bool) -> Option<Value> {
    let mut keys: Value = serde_json::from_str(d.key_json.as_deref()?).ok()?;
    // Clients read `unsigned` without checking for it, as Synapse always sends it.
    if !keys.get("unsigned").is_some_and(Value::is_object) {
        keys["unsigned"] = json!({});
    }
    if with_name && let Some(name) = &d.display_name {
        keys["unsigned"]["device_display_name"] = json!(name);
    }
    Some(keys)
}

/// What the store holds of one user's keys, with the uploaded signatures a viewer may see.
struct StoredKeys {
    devices: Vec<DeviceKeys>,
    cross: BTreeMap<String, String>,
    signatures: Vec<(String, String, String, String)>,
}

/// Reads a user's keys for `viewer`: a local user's devices, or a remote user's stored list
/// (`None` if it was never fetched). An empty `only` means every device.
fn read_keys(c: &mut crate::store::Conn, user: &str, local: bool, only: &[String], viewer: &str) -> Result<Option<StoredKeys>> {
    let devices = if local {
        e2e_keys::local_devices(c, user, only)?
    } else {
        let Some((_, mut list)) = e2e_keys::remote_devices(c, user)? else { return Ok(None) };
        if !only.is_empty() {
            list.retain(|d| only.contains(&d.device_id));
        }
        list
    };
    Ok(Some(StoredKeys { devices, cross: e2e_keys::cross_signing(c, user)?, signatures: e2e_keys::signatures_for(c, user, viewer)? }))
}

impl StoredKeys {
    fn signed(&self, mut v: Value) -> Value {
        super::key_signatures::merge(&self.signatures, &mut v);
        v
    }

    /// Device ID -> device keys as queries return them (devices without keys left out).
    fn device_map(&self, with_names: bool) -> Map<String, Value> {
        self.devices.iter().filter_map(|d| Some((d.device_id.clone(), self.signed(device_json(d, with_names)?)))).collect()
    }

    /// The keys of one device, without its name (federation device lists carry it beside).
    fn device_keys(&self, d: &DeviceKeys) -> Option<Value> {
        Some(self.signed(device_json(d, false)?))
    }

    /// A cross-signing key (`master`, `self_signing`, `user_signing`).
    fn cross_key(&self, kind: &str) -> Option<Value> {
        self.cross.get(kind).and_then(|j| serde_json::from_str::<Value>(j).ok()).map(|v| self.signed(v))
    }
}

/// The answer to a client's `/keys/query`.
#[derive(Debug, Default, Serialize)]
pub struct QueryResult {
    pub device_keys: Map<String, Value>,
    pub failures: Map<String, Value>,
    pub master_keys: Map<String, Value>,
    pub self_signing_keys: Map<String, Value>,
    pub user_signing_keys: Map<String, Value>,
}

/// The keys of each user asked for (with the device IDs wanted; empty: all) as `viewer` may
/// see them. A remote user whose devices were never fetched is fetched now.
pub async fn query(svc: &Services, viewer: &UserId, wanted: Vec<(OwnedUserId, Vec<String>)>) -> Result<QueryResult> {
    let mut out = QueryResult::default();
    for (user_id, only) in wanted {
        let server = user_id.server_name().to_string();
        let user = user_id.to_string();
        let local = server == svc.server_name();
        if !local && out.failures.contains_key(&server) {
            continue;
        }
        let read = |only: Vec<String>| {
            let (u, v) = (user.clone(), viewer.to_string());
            svc.db.run(move |c| read_keys(c, &u, local, &only, &v))
        };
        let keys = match read(only.clone()).await? {
            Some(keys) => keys,
            None => {
                // Never fetched: ask the user's server now, as Synapse does for untracked users.
                if let Err(e) = refresh_remote_devices(svc, &user_id, false).await {
                    log::info!("keys/query: device list of {user} unavailable: {e}");
                    out.failures.insert(server, json!({"status": 503, "message": e.to_string()}));
                    continue;
                }
                read(only).await?.ok_or_else(|| Error::internal("A refreshed device list was not stored"))?
            }
        };
        out.device_keys.insert(user.clone(), Value::Object(keys.device_map(true)));
        if let Some(k) = keys.cross_key("master") {
            out.master_keys.insert(user.clone(), k);
        }
        if let Some(k) = keys.cross_key("self_signing") {
            out.self_signing_keys.insert(user.clone(), k);
        }
        // A user-signing key is private to its owner's own devices.
        if user == viewer.as_str()
            && let Some(k) = keys.cross_key("user_signing")
        {
            out.user_signing_keys.insert(user.clone(), k);
        }
    }
    Ok(out)
}

/// One key wanted per (user, device, algorithm).
pub type Claim = (OwnedUserId, String, String);

/// The body of a key query, from a client or another server: user -> device IDs (none: all).
#[derive(Deserialize)]
pub struct KeyQuery {
    pub device_keys: BTreeMap<String, Option<Vec<String>>>,
}

impl KeyQuery {
    pub fn wanted(self) -> Result<Vec<(OwnedUserId, Vec<String>)>> {
        self.device_keys.into_iter().map(|(u, d)| Ok((crate::ids::parse_user_id(&u)?, d.unwrap_or_default()))).collect()
    }
}

/// The body of a key claim, from a client or another server: user -> device -> algorithm.
#[derive(Deserialize)]
pub struct KeyClaim {
    pub one_time_keys: BTreeMap<String, BTreeMap<String, String>>,
}

impl KeyClaim {
    pub fn asks(self) -> Result<Vec<Claim>> {
        let mut asks = Vec::new();
        for (user, devices) in self.one_time_keys {
            let user_id = crate::ids::parse_user_id(&user)?;
            asks.extend(devices.into_iter().map(|(device, algorithm)| (user_id.clone(), device, algorithm)));
        }
        Ok(asks)
    }
}

/// Claims one key per (local user, device, algorithm): user -> device -> {key ID: key}.
async fn claim_local(svc: &Services, asks: Vec<(String, String, String)>) -> Result<BTreeMap<String, Map<String, Value>>> {
    let devices: Vec<(String, String)> = asks.iter().map(|(u, d, _)| (u.clone(), d.clone())).collect();
    let claimed = svc
        .db
        .run(move |c| {
            let mut out: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
            for (user, device, algorithm) in asks {
                if let Some((key_id, json)) = e2e_keys::claim(c, &user, &device, &algorithm)? {
                    let key: Value = serde_json::from_str(&json).unwrap_or(Value::String(json));
                    let slot = out.entry(user).or_default().entry(device).or_insert_with(|| json!({}));
                    if let Some(o) = slot.as_object_mut() {
                        o.insert(key_id, key);
                    }
                }
            }
            Ok(out)
        })
        .await;
    // Their counts went down (or a fallback key was used), whatever the outcome.
    for key in &devices {
        svc.kept.key_counts.forget(key);
    }
    claimed
}

/// The answer to a client's `/keys/claim`.
#[derive(Debug, Default, Serialize)]
pub struct ClaimResult {
    pub one_time_keys: BTreeMap<String, Map<String, Value>>,
    pub failures: Map<String, Value>,
}

/// Claims keys of local devices from the store and of remote ones from their servers (one
/// request per server, all at once: a slow server delays only its own keys).
pub async fn claim(svc: &Services, asks: Vec<Claim>) -> Result<ClaimResult> {
    let mut local = Vec::new();
    let mut remote: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    for (user_id, device, algorithm) in asks {
        let server = user_id.server_name().to_string();
        if server == svc.server_name() {
            local.push((user_id.to_string(), device, algorithm));
        } else {
            let per_user = remote.entry(server).or_default().entry(user_id.to_string()).or_insert_with(|| json!({}));
            per_user[device] = json!(algorithm);
        }
    }
    let mut claimed = claim_local(svc, local).await?;
    let mut failures = Map::new();
    let asks = remote.into_iter().map(|(server, wanted)| async move {
        let body = json!({"one_time_keys": wanted});
        let answer = svc
            .federation
            .request_unless_down(&svc.keys, reqwest::Method::POST, &server, "/_matrix/federation/v1/user/keys/claim", Some(&body))
            .await;
        (server, wanted, answer)
    });
    for (server, wanted, answer) in futures_util::future::join_all(asks).await {
        match answer {
            Ok(v) => {
                // Only keys for what was asked: a server answers for its own users' devices.
                for (user, devices) in v["one_time_keys"].as_object().into_iter().flatten() {
                    let (Some(asked), Some(devices)) = (wanted.get(user), devices.as_object()) else { continue };
                    for (device, keys) in devices {
                        if asked.get(device).is_some() && keys.is_object() {
                            claimed.entry(user.clone()).or_default().insert(device.clone(), keys.clone());
                        }
                    }
                }
            }
            Err(e) => {
                log::info!("keys/claim: {server} failed: {e}");
                failures.insert(server, json!({"status": 503, "message": e.to_string()}));
            }
        }
    }
    Ok(ClaimResult { one_time_keys: claimed, failures })
}

/// The cross-signing keys a user uploads, any of them.
#[derive(Debug, Default)]
pub struct CrossSigningUpload {
    pub master_key: Option<Map<String, Value>>,
    pub self_signing_key: Option<Map<String, Value>>,
    pub user_signing_key: Option<Map<String, Value>>,
}

/// Uploading cross-signing keys the first time needs no password; replacing them does
/// (the spec's rule since v1.11, as Synapse applies it).
pub async fn upload_cross_signing(svc: &Services, user: &UserId, up: CrossSigningUpload, op: Operation) -> Result<()> {
    let mut keys = BTreeMap::new();
    for (field, kind, key) in [
        ("master_key", "master", up.master_key),
        ("self_signing_key", "self_signing", up.self_signing_key),
        ("user_signing_key", "user_signing", up.user_signing_key),
    ] {
        if let Some(k) = key {
            let usage_ok = k.get("usage").and_then(Value::as_array).is_some_and(|u| u.iter().any(|x| x == kind));
            if k.get("user_id").and_then(Value::as_str) != Some(user.as_str()) || !usage_ok || !k.get("keys").is_some_and(Value::is_object)
            {
                return Err(Error::invalid_param(format!("{field} must name this user, usage {kind:?} and keys")));
            }
            keys.insert(kind.to_owned(), Value::Object(k).to_string());
        }
    }
    let u = user.to_string();
    let existing = svc.db.run(move |c| e2e_keys::cross_signing(c, &u)).await?;
    // An admin (or the account manager acting through the admin API) may have opened a short
    // window in which the master key can be replaced without the password.
    if existing.contains_key("master") && !super::user_controls::may_replace_cross_signing_without_auth(svc, user).await? {
        super::accounts::password_uia(svc, user, op).await?;
    }
    if !keys.contains_key("master") && !existing.contains_key("master") {
        return Err(Error::invalid_param("A master_key is needed before other cross-signing keys"));
    }
    let (u, replaces_master) = (user.to_string(), keys.contains_key("master") && existing.contains_key("master"));
    svc.db
        .run(move |c| {
            e2e_keys::set_cross_signing(c, &u, &keys)?;
            if replaces_master {
                crate::store::user_controls::close_replacement_window(c, &u)?;
            }
            Ok(())
        })
        .await?;
    crate::actors::notifier::device_list_changed(svc, user.as_str()).await;
    Ok(())
}

/// Between two sync positions (`to` absent: now): users sharing a room with `user` whose device
/// lists changed or who started sharing one, and users who stopped sharing any.
pub async fn changes(
    svc: &Services,
    user: &UserId,
    from: Positions,
    to: Option<Positions>,
) -> Result<(Vec<OwnedUserId>, Vec<OwnedUserId>)> {
    let user = user.to_string();
    svc.db
        .run(move |c| {
            let (to_lists, to_events) = match to {
                Some(t) => (t.device_lists, t.events),
                None => (e2e_keys::device_list_position(c)?, crate::store::events::max_stream(c)?),
            };
            let mut changed = e2e_keys::changed_for(c, &user, from.device_lists, to_lists)?;
            let (joined, left) = crate::store::memberships::mate_changes(c, &user, from.events, to_events)?;
            changed.extend(joined);
            changed.sort();
            changed.dedup();
            Ok((changed, left))
        })
        .await
}

/// Asks the user's server for their device list now and replaces the stored one with the
/// answer; on any failure nothing stored changes. Returns the number of devices stored.
/// `even_if_down` tries a server that failed in the last minute (an admin asked for it).
pub async fn refresh_remote_devices(svc: &Services, user_id: &UserId, even_if_down: bool) -> Result<usize, FedError> {
    let list = crate::federation::device_lists::fetch(&svc.federation, &svc.keys, user_id, even_if_down).await?;
    let n = list.devices.len();
    let (user, stream_id) = (user_id.to_string(), list.stream_id);
    svc.db
        .run(move |c| e2e_keys::replace_remote(c, &user, list.stream_id, &list.devices, &list.cross_signing))
        .await
        .map_err(|e| FedError::BadResponse(format!("storing it failed: {}", e.message())))?;
    log::info!("device list of {user_id} refreshed from {}: {n} devices, stream_id {stream_id}", user_id.server_name());
    Ok(n)
}

/// What this server tells another of a local user's devices (`GET user/devices/{userId}`).
pub async fn local_device_list(svc: &Services, user_id: &UserId) -> Result<Value> {
    if user_id.server_name().as_str() != svc.server_name() {
        return Err(Error::invalid_param("User is not hosted on this server"));
    }
    let user = user_id.to_string();
    let (stream_id, keys) = svc
        .db
        .run(move |c| {
            // Other servers see the owner's own signatures; those by other users stay private.
            let keys = read_keys(c, &user, true, &[], &user)?;
            Ok((e2e_keys::device_list_stream(c, &user)?, keys))
        })
        .await?;
    let Some(keys) = keys else { return Err(Error::internal("Local keys unreadable")) };
    let names = svc.config.allow_device_name_lookup_over_federation;
    let devices: Vec<Value> = keys
        .devices
        .iter()
        .map(|d| {
            let mut o = json!({"device_id": d.device_id});
            if let Some(k) = keys.device_keys(d) {
                o["keys"] = k;
            }
            if names && let Some(n) = &d.display_name {
                o["device_display_name"] = json!(n);
            }
            o
        })
        .collect();
    let mut answer = json!({"user_id": user_id, "stream_id": stream_id, "devices": devices});
    for (kind, field) in [("master", "master_key"), ("self_signing", "self_signing_key")] {
        if let Some(k) = keys.cross_key(kind) {
            answer[field] = k;
        }
    }
    Ok(answer)
}

/// The answer to another server's `user/keys/query`.
#[derive(Debug, Default, Serialize)]
pub struct FederationQueryResult {
    pub device_keys: Map<String, Value>,
    pub master_keys: Map<String, Value>,
    pub self_signing_keys: Map<String, Value>,
}

/// Device and cross-signing keys of local users for another server; users of other servers are
/// left out, and so are user-signing keys, which never leave their owner's server.
pub async fn federation_query(svc: &Services, wanted: Vec<(OwnedUserId, Vec<String>)>) -> Result<FederationQueryResult> {
    let local: Vec<(String, Vec<String>)> =
        wanted.into_iter().filter(|(u, _)| u.server_name().as_str() == svc.server_name()).map(|(u, d)| (u.to_string(), d)).collect();
    let found = svc
        .db
        .run(move |c| {
            let mut out = Vec::with_capacity(local.len());
            for (user, only) in local {
                // Other servers see the owner's own signatures; those by other users stay private.
                let keys = read_keys(c, &user, true, &only, &user)?;
                out.extend(keys.map(|k| (user, k)));
            }
            Ok(out)
        })
        .await?;
    let names = svc.config.allow_device_name_lookup_over_federation;
    let mut out = FederationQueryResult::default();
    for (user, keys) in found {
        out.device_keys.insert(user.clone(), Value::Object(keys.device_map(names)));
        if let Some(k) = keys.cross_key("master") {
            out.master_keys.insert(user.clone(), k);
        }
        if let Some(k) = keys.cross_key("self_signing") {
            out.self_signing_keys.insert(user.clone(), k);
        }
    }
    Ok(out)
}

/// One-time (or fallback) keys of local devices for another server, each given out once.
pub async fn federation_claim(svc: &Services, asks: Vec<Claim>) -> Result<BTreeMap<String, Map<String, Value>>> {
    let local: Vec<(String, String, String)> =
        asks.into_iter().filter(|(u, _, _)| u.server_name().as_str() == svc.server_name()).map(|(u, d, a)| (u.to_string(), d, a)).collect();
    claim_local(svc, local).await
}
