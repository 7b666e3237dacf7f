//! Remote users' device lists: fetching one from the user's server (`service::keys` stores it;
//! what this server answers for its own users is there too).

use super::client::{FedError, FederationClient};
use crate::events::signing_key::ServerKeys;
use crate::store::e2e_keys::DeviceKeys;
use ruma::UserId;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A remote user's device list as their server gave it, validated.
pub struct RemoteDeviceList {
    pub stream_id: i64,
    pub devices: Vec<DeviceKeys>,
    /// Cross-signing key type (`master`, `self_signing`) -> key JSON.
    pub cross_signing: BTreeMap<String, String>,
}

/// Asks the user's server for their device list now. `even_if_down` tries a server that failed
/// in the last minute (an admin asked for it).
pub async fn fetch(fed: &FederationClient, keys: &ServerKeys, user_id: &UserId, even_if_down: bool) -> Result<RemoteDeviceList, FedError> {
    let server = user_id.server_name().as_str();
    let path = format!("/_matrix/federation/v1/user/devices/{}", super::client::encode_segment(user_id.as_str()));
    let answer = if even_if_down {
        fed.request(keys, reqwest::Method::GET, server, &path, None).await?
    } else {
        fed.request_unless_down(keys, reqwest::Method::GET, server, &path, None).await?
    };
    let (stream_id, devices, cross_signing) = parse_answer(user_id.as_str(), &answer)?;
    Ok(RemoteDeviceList { stream_id, devices, cross_signing })
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
