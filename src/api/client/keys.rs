//! End-to-end encryption keys: upload, query (local users from the store, remote users from the
//! device list last fetched from their server, fetched now if never), claim, cross-signing upload,
//! and which room-mates' device lists changed between two sync tokens.

use crate::api::{Body, Svc, ok_json};
use crate::auth::Requester;
use crate::error::{Error, Result};
use crate::store::e2e_keys::{self, DeviceKeys, OneTimeKey};
use actix_web::{HttpResponse, web};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(
        cfg,
        vec![
            ("/keys/upload", web::post().to(upload)),
            ("/keys/query", web::post().to(query)),
            ("/keys/claim", web::post().to(claim)),
            ("/keys/device_signing/upload", web::post().to(upload_cross_signing)),
            ("/keys/changes", web::get().to(changes)),
        ],
    );
}

fn own_device(who: &Requester) -> Result<String> {
    who.device_id.clone().ok_or_else(|| Error::invalid_param("This access token has no device to hold keys"))
}

fn object<'a>(body: &'a Value, key: &str) -> Result<Option<&'a Map<String, Value>>> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err(Error::bad_json(format!("{key} must be an object"))),
    }
}

/// `{"<algorithm>:<key id>": key}` as stored rows.
fn keyed(map: Option<&Map<String, Value>>, what: &str) -> Result<Vec<OneTimeKey>> {
    let mut out = Vec::new();
    for (id, key) in map.into_iter().flatten() {
        let Some((algorithm, _)) = id.split_once(':') else {
            return Err(Error::invalid_param(format!("{what} ID {id:?} is not <algorithm>:<key id>")));
        };
        if !(key.is_object() || key.is_string()) {
            return Err(Error::bad_json(format!("{what} {id} must be an object or a string")));
        }
        out.push(OneTimeKey { key_id: id.clone(), algorithm: algorithm.to_owned(), key_json: key.to_string() });
    }
    Ok(out)
}

async fn upload(svc: Svc, who: Requester, body: Body) -> Result<HttpResponse> {
    let body = body.object()?;
    let device = own_device(&who)?;
    let device_keys = match object(&body, "device_keys")? {
        None => None,
        Some(k) => {
            if k.get("user_id").and_then(Value::as_str) != Some(who.user_id.as_str())
                || k.get("device_id").and_then(Value::as_str) != Some(device.as_str())
            {
                return Err(Error::invalid_param("device_keys must name this user and this device"));
            }
            if !k.get("keys").is_some_and(Value::is_object) || !k.get("algorithms").is_some_and(Value::is_array) {
                return Err(Error::bad_json("device_keys needs algorithms (a list) and keys (an object)"));
            }
            Some(Value::Object(k.clone()).to_string())
        }
    };
    let one_time = keyed(object(&body, "one_time_keys")?, "one-time key")?;
    let fallback_map = match object(&body, "fallback_keys")? {
        Some(m) => Some(m),
        None => object(&body, "org.matrix.msc2732.fallback_keys")?,
    };
    let fallback = keyed(fallback_map, "fallback key")?;
    let user = who.user_id.to_string();
    let announce = device_keys.is_some();
    let mut counts = svc.db.run(move |c| e2e_keys::upload(c, &user, &device, device_keys.as_deref(), &one_time, &fallback)).await?;
    if announce {
        crate::actors::notifier::device_list_changed(&svc, who.user_id.as_str()).await;
    }
    // Clients read a missing count as "unknown" rather than zero; Synapse always reports this one.
    counts.entry("signed_curve25519".into()).or_insert(0);
    Ok(ok_json(json!({"one_time_key_counts": counts})))
}

/// A stored device as `/keys/query` shows it: the signed keys plus, if `with_name`, the display
/// name under `unsigned`. Devices without keys are not shown.
fn device_json(d: &DeviceKeys, with_name: bool) -> Option<Value> {
    let mut keys: Value = serde_json::from_str(d.key_json.as_deref()?).ok()?;
    if with_name && let Some(name) = &d.display_name {
        keys["unsigned"] = json!({"device_display_name": name});
    }
    Some(keys)
}

/// What the store holds of one user's keys, with the uploaded signatures a viewer may see.
pub struct StoredKeys {
    pub devices: Vec<DeviceKeys>,
    cross: BTreeMap<String, String>,
    signatures: Vec<(String, String, String, String)>,
}

/// Reads a user's keys for `viewer`: a local user's devices, or a remote user's stored list
/// (`None` if it was never fetched). An empty `only` means every device.
pub fn read_keys(c: &mut crate::store::Conn, user: &str, local: bool, only: &[String], viewer: &str) -> Result<Option<StoredKeys>> {
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
    pub fn device_map(&self, with_names: bool) -> Map<String, Value> {
        self.devices.iter().filter_map(|d| Some((d.device_id.clone(), self.signed(device_json(d, with_names)?)))).collect()
    }

    /// The keys of one device, without its name (federation device lists carry it beside).
    pub fn device_keys(&self, d: &DeviceKeys) -> Option<Value> {
        Some(self.signed(device_json(d, false)?))
    }

    /// A cross-signing key (`master`, `self_signing`, `user_signing`).
    pub fn cross_key(&self, kind: &str) -> Option<Value> {
        self.cross.get(kind).and_then(|j| serde_json::from_str::<Value>(j).ok()).map(|v| self.signed(v))
    }
}

/// The `device_keys` map of a query (client or federation): user -> device IDs (empty: all).
pub fn parse_query(body: &Value) -> Result<Vec<(ruma::OwnedUserId, Vec<String>)>> {
    let wanted = object(body, "device_keys")?.ok_or_else(|| Error::missing_param("Missing device_keys"))?;
    let mut requests = Vec::new();
    for (user, devices) in wanted {
        let user_id = crate::ids::parse_user_id(user)?;
        let devices = match devices {
            Value::Array(a) => a
                .iter()
                .map(|d| d.as_str().map(str::to_owned).ok_or_else(|| Error::bad_json("device IDs must be strings")))
                .collect::<Result<Vec<_>>>()?,
            Value::Null => Vec::new(),
            _ => return Err(Error::bad_json("device_keys values must be lists of device IDs")),
        };
        requests.push((user_id, devices));
    }
    Ok(requests)
}

/// The `one_time_keys` map of a claim (client or federation): (user, device, algorithm).
pub fn parse_claims(body: &Value) -> Result<Vec<(ruma::OwnedUserId, String, String)>> {
    let wanted = object(body, "one_time_keys")?.ok_or_else(|| Error::missing_param("Missing one_time_keys"))?;
    let mut asks = Vec::new();
    for (user, devices) in wanted {
        let user_id = crate::ids::parse_user_id(user)?;
        let devices = devices.as_object().ok_or_else(|| Error::bad_json("one_time_keys values must be objects"))?;
        for (device, algorithm) in devices {
            let algorithm = algorithm.as_str().ok_or_else(|| Error::bad_json("algorithms must be strings"))?;
            asks.push((user_id.clone(), device.clone(), algorithm.to_owned()));
        }
    }
    Ok(asks)
}

/// Claims one key per (local user, device, algorithm): user -> device -> {key ID: key}.
pub async fn claim_local(svc: &crate::Services, asks: Vec<(String, String, String)>) -> Result<BTreeMap<String, Map<String, Value>>> {
    svc.db
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
        .await
}

async fn query(svc: Svc, who: Requester, body: Body) -> Result<HttpResponse> {
    let body = body.object()?;
    let requests = parse_query(&body)?;
    let (mut device_keys, mut failures) = (Map::new(), Map::new());
    let (mut master, mut self_signing, mut user_signing) = (Map::new(), Map::new(), Map::new());
    for (user_id, only) in requests {
        let server = user_id.server_name().to_string();
        let user = user_id.to_string();
        let local = server == svc.server_name();
        if !local && failures.contains_key(&server) {
            continue;
        }
        let read = |only: Vec<String>| {
            let (u, viewer) = (user.clone(), who.user_id.to_string());
            svc.db.run(move |c| read_keys(c, &u, local, &only, &viewer))
        };
        let keys = match read(only.clone()).await? {
            Some(keys) => keys,
            None => {
                // Never fetched: ask the user's server now, as Synapse does for untracked users.
                if let Err(e) = crate::federation::device_lists::refresh(&svc, &user, false).await {
                    log::info!("keys/query: device list of {user} unavailable: {e}");
                    failures.insert(server, json!({"status": 503, "message": e.to_string()}));
                    continue;
                }
                read(only).await?.ok_or_else(|| Error::internal("A refreshed device list was not stored"))?
            }
        };
        device_keys.insert(user.clone(), Value::Object(keys.device_map(true)));
        if let Some(k) = keys.cross_key("master") {
            master.insert(user.clone(), k);
        }
        if let Some(k) = keys.cross_key("self_signing") {
            self_signing.insert(user.clone(), k);
        }
        // A user-signing key is private to its owner's own devices.
        if user == who.user_id.as_str()
            && let Some(k) = keys.cross_key("user_signing")
        {
            user_signing.insert(user.clone(), k);
        }
    }
    Ok(ok_json(json!({
        "device_keys": device_keys,
        "failures": failures,
        "master_keys": master,
        "self_signing_keys": self_signing,
        "user_signing_keys": user_signing,
    })))
}

async fn claim(svc: Svc, _who: Requester, body: Body) -> Result<HttpResponse> {
    let body = body.object()?;
    let mut local = Vec::new();
    let mut remote: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    for (user_id, device, algorithm) in parse_claims(&body)? {
        let server = user_id.server_name().to_string();
        if server == svc.server_name() {
            local.push((user_id.to_string(), device, algorithm));
        } else {
            let per_user = remote.entry(server).or_default().entry(user_id.to_string()).or_insert_with(|| json!({}));
            per_user[device] = json!(algorithm);
        }
    }
    let mut claimed = claim_local(&svc, local).await?;
    let mut failures = Map::new();
    // One request per server, all at once: a slow server delays only its own keys.
    let asks = remote.into_iter().map(|(server, wanted)| {
        let svc = svc.clone();
        async move {
            let body = json!({"one_time_keys": wanted});
            let answer = svc
                .federation
                .request_unless_down(&svc.keys, reqwest::Method::POST, &server, "/_matrix/federation/v1/user/keys/claim", Some(&body))
                .await;
            (server, wanted, answer)
        }
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
    Ok(ok_json(json!({"one_time_keys": claimed, "failures": failures})))
}

/// Uploading cross-signing keys the first time needs no password; replacing them does
/// (the spec's rule since v1.11, as Synapse applies it).
async fn upload_cross_signing(svc: Svc, who: Requester, body: Body) -> Result<HttpResponse> {
    let body = body.object()?;
    let user = who.user_id.to_string();
    let mut keys = BTreeMap::new();
    for (field, kind) in [("master_key", "master"), ("self_signing_key", "self_signing"), ("user_signing_key", "user_signing")] {
        if let Some(k) = object(&body, field)? {
            let usage_ok = k.get("usage").and_then(Value::as_array).is_some_and(|u| u.iter().any(|x| x == kind));
            if k.get("user_id").and_then(Value::as_str) != Some(user.as_str()) || !usage_ok || !k.get("keys").is_some_and(Value::is_object)
            {
                return Err(Error::invalid_param(format!("{field} must name this user, usage {kind:?} and keys")));
            }
            keys.insert(kind.to_owned(), Value::Object(k.clone()).to_string());
        }
    }
    let u = user.clone();
    let existing = svc.db.run(move |c| e2e_keys::cross_signing(c, &u)).await?;
    if existing.contains_key("master") {
        super::account::password_uia(&svc, &who, &body).await?;
    }
    if !keys.contains_key("master") && !existing.contains_key("master") {
        return Err(Error::invalid_param("A master_key is needed before other cross-signing keys"));
    }
    let u = user.clone();
    svc.db.run(move |c| e2e_keys::set_cross_signing(c, &u, &keys)).await?;
    crate::actors::notifier::device_list_changed(&svc, &user).await;
    Ok(ok_json(json!({})))
}

/// Users sharing a room with the requester whose device lists changed between two sync tokens.
/// `left` stays empty: users who stopped sharing a room are not tracked yet.
async fn changes(svc: Svc, who: Requester, req: actix_web::HttpRequest) -> Result<HttpResponse> {
    let q = crate::api::query(&req);
    let from = crate::api::tokens::parse_since(q.get("from").ok_or_else(|| Error::missing_param("Missing from"))?)?.device_lists;
    let to = q.get("to").map(|t| crate::api::tokens::parse_since(t)).transpose()?.map(|p| p.device_lists);
    let user = who.user_id.to_string();
    let changed = svc
        .db
        .run(move |c| {
            let to = match to {
                Some(t) => t,
                None => e2e_keys::device_list_position(c)?,
            };
            e2e_keys::changed_for(c, &user, from, to)
        })
        .await?;
    Ok(ok_json(json!({"changed": changed, "left": []})))
}
