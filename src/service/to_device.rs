//! Messages to other devices (`/sendToDevice`): kept in each device's inbox until the sync
//! that delivered them is acknowledged; idempotent per sending device and transaction ID.

use crate::Services;
use crate::actors::notifier::{Advanced, Stream};
use crate::error::Result;
use crate::store::to_device::{self, Outgoing};
use ruma::{OwnedUserId, UserId};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Recipient -> device ID (or `*`) -> content.
pub type Messages = BTreeMap<OwnedUserId, BTreeMap<String, Map<String, Value>>>;

/// Who sends: a shadow-banned sender's messages are dropped, reported as sent.
pub struct Sender<'a> {
    pub user_id: &'a UserId,
    /// A token without a device (admin login-as) still gets one transaction scope.
    pub device_id: Option<&'a str>,
    pub shadow_banned: bool,
}

pub async fn send(svc: &Services, sender: Sender<'_>, event_type: &str, txn_id: &str, messages: Messages) -> Result<()> {
    let mut out = Vec::new();
    for (user_id, devices) in messages {
        if user_id.server_name().as_str() != svc.server_name() {
            // Federation sends no EDUs yet: a remote recipient cannot be reached.
            log::info!("sendToDevice from {} to remote user {user_id} dropped: no EDU sending yet", sender.user_id);
            continue;
        }
        for (device, content) in devices {
            out.push(Outgoing {
                user_id: user_id.to_string(),
                device_id: device,
                event_type: event_type.to_owned(),
                content: Value::Object(content).to_string(),
            });
        }
    }
    if sender.shadow_banned {
        return Ok(());
    }
    let (from, device, txn) = (sender.user_id.to_string(), sender.device_id.unwrap_or_default().to_owned(), txn_id.to_owned());
    let sent = svc.db.run(move |c| to_device::send(c, &from, &device, &txn, &out)).await?;
    if let Some((users, stream_id)) = sent {
        svc.notifier.do_send(Advanced { stream: Stream::ToDevice, users: crate::store::typed::user_ids(users), position: stream_id });
    }
    Ok(())
}
