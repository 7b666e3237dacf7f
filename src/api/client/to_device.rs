//! `PUT /sendToDevice/{eventType}/{txnId}`: messages to other devices.

use crate::api::extractors::Requester;
use crate::api::{Body, Svc, ok_json};
use crate::error::Result;
use crate::service::to_device::{self, Messages, Sender};
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(cfg, vec![("/sendToDevice/{event_type}/{txn_id}", web::put().to(send))]);
}

#[derive(Deserialize)]
struct SendBody {
    messages: BTreeMap<String, BTreeMap<String, Map<String, Value>>>,
}

async fn send(svc: Svc, who: Requester, path: web::Path<(String, String)>, body: Body) -> Result<HttpResponse> {
    let (event_type, txn_id) = path.into_inner();
    let b: SendBody = body.parse()?;
    let messages: Messages = b.messages.into_iter().map(|(u, d)| Ok((crate::ids::parse_user_id(&u)?, d))).collect::<Result<_>>()?;
    let sender = Sender { user_id: &who.user_id, device_id: who.device_id.as_deref(), shadow_banned: who.shadow_banned };
    to_device::send(&svc, sender, &event_type, &txn_id, messages).await?;
    Ok(ok_json(json!({})))
}
