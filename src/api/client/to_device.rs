//! `PUT /sendToDevice/{eventType}/{txnId}`: messages to other devices, delivered in their next
//! `/sync` and kept until that sync is acknowledged.

use crate::actors::notifier::{Advanced, Stream};
use crate::api::{Body, Svc, ok_json};
use crate::auth::Requester;
use crate::error::{Error, Result};
use crate::store::to_device::{self, Outgoing};
use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(cfg, vec![("/sendToDevice/{event_type}/{txn_id}", web::put().to(send))]);
}

async fn send(svc: Svc, who: Requester, path: web::Path<(String, String)>, body: Body) -> Result<HttpResponse> {
    let (event_type, txn_id) = path.into_inner();
    let body = body.object()?;
    let messages = match body.get("messages") {
        Some(Value::Object(m)) => m,
        None | Some(Value::Null) => return Err(Error::missing_param("Missing messages")),
        Some(_) => return Err(Error::bad_json("messages must be an object")),
    };
    let mut out = Vec::new();
    for (user, devices) in messages {
        let user_id = crate::ids::parse_user_id(user)?;
        let devices = devices.as_object().ok_or_else(|| Error::bad_json("messages values must be objects of device IDs"))?;
        if user_id.server_name().as_str() != svc.server_name() {
            // Federation sends no EDUs yet: a remote recipient cannot be reached.
            log::info!("sendToDevice from {} to remote user {user_id} dropped: no EDU sending yet", who.user_id);
            continue;
        }
        for (device, content) in devices {
            if !content.is_object() {
                return Err(Error::bad_json("message contents must be objects"));
            }
            out.push(Outgoing {
                user_id: user.clone(),
                device_id: device.clone(),
                event_type: event_type.clone(),
                content: content.to_string(),
            });
        }
    }
    if who.shadow_banned {
        return Ok(ok_json(json!({})));
    }
    // A token without a device (admin login-as) still gets one transaction scope.
    let (sender, device) = (who.user_id.to_string(), who.device_id.clone().unwrap_or_default());
    let sent = svc.db.run(move |c| to_device::send(c, &sender, &device, &txn_id, &out)).await?;
    if let Some((users, stream_id)) = sent {
        svc.notifier.do_send(Advanced { stream: Stream::ToDevice, users, position: stream_id });
    }
    Ok(ok_json(json!({})))
}
