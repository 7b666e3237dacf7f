//! Remote users' device lists: fetching one from the user's server to replace what we stored.
//! (What this server answers for its own users is in `api/federation.rs`.)

use super::client::FedError;
use crate::Services;
use crate::store::e2e_keys::{self, DeviceKeys};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Asks the user's server for their device list now and replaces the stored one with the
/// answer; on any failure nothing stored changes. Returns the number of devices stored.
/// `even_if_down` tries a server that failed in the last minute (an admin asked for it).
pub async fn refresh(svc: &Services, user_id: &str, even_if_down: bool) -> Result<usize, FedError> {
    let server = user_id.split_once(':').map(|(_, s)| s).unwrap_or_default().to_owned();
    let path = format!("/_matrix/federation/v1/user/devices/{}", super::client::encode_segment(user_id));
    let fed = &svc.federation;
    let answer = if even_if_down {
        fed.request(&svc.keys, reqwest::Method::GET, &server, &path, None).await?
    } else {
        fed.request_unless_down(&svc.keys, reqwest::Method::GET, &server, &path, None).await?
    };
    let (stream_id, devices, cross) = parse_answer(user_id, &answer)?;
    let n = devices.len();
    let user = user_id.to_owned();
    svc.db
        .run(move |c| e2e_keys::replace_remote(c, &user, stream_id, &devices, &cross))
        .await
        .map_err(|e| FedError::BadResponse(format!("storing it failed: {}", e.message())))?;
    log::info!("device list of {user_id} refreshed from {server}: {n} devices, stream_id {stream_id}");
    Ok(n)
}

type Parsed = (i64, Vec<DeviceKeys>, BTreeMap<String, String>);

/// Validates a `user/devices` answer. A device whose keys name another user or device keeps its
/// place in the list without keys: its keys could not be used safely.
pub fn parse_answer(user_id: &str, v: &Value) -> Result<Parsed, FedError> {
    let bad = |why: String| FedError::BadResponse(why);
    if v["user_id"].as_str() != Some(user_id) {
        return Err(bad(format!("the answer is for {}, not {user_id}", v["user_id"])));
    }
    let stream_id = v["stream_id"].as_i64().ok_or_else(|| bad("stream_id missing or not an integer".into()))?;
    let list = v["devices"].as_array().ok_or_else(|| bad("devices missing or not a list".into()))?;
    let mut devices = Vec::with_capacity(list.len());
    for d in list {
        let device_id = d["device_id"].as_str().ok_or_else(|| bad("a device has no device_id".into()))?;
        let keys = match d.get("keys") {
            None | Some(Value::Null) => None,
            Some(k @ Value::Object(o)) => {
                if o.get("user_id").and_then(Value::as_str) == Some(user_id)
                    && o.get("device_id").and_then(Value::as_str) == Some(device_id)
                {
                    Some(k.to_string())
                } else {
                    log::warn!("{user_id}'s server sent keys for device {device_id} that name another user or device: ignored");
                    None
                }
            }
            Some(_) => return Err(bad(format!("keys of device {device_id} are not an object"))),
        };
        devices.push(DeviceKeys {
            device_id: device_id.to_owned(),
            display_name: d["device_display_name"].as_str().map(str::to_owned),
            key_json: keys,
        });
    }
    let mut cross = BTreeMap::new();
    for (field, kind) in [("master_key", "master"), ("self_signing_key", "self_signing")] {
        if let Some(k) = v.get(field).and_then(Value::as_object) {
            if k.get("user_id").and_then(Value::as_str) == Some(user_id) && usage_has(k, kind) {
                cross.insert(kind.to_owned(), Value::Object(k.clone()).to_string());
            } else {
                log::warn!("{user_id}'s server sent a {field} for another user or usage: ignored");
            }
        }
    }
    Ok((stream_id, devices, cross))
}

fn usage_has(key: &Map<String, Value>, usage: &str) -> bool {
    key.get("usage").and_then(Value::as_array).is_some_and(|u| u.iter().any(|x| x == usage))
}
