//! `/_synapse/admin/v1/send_server_notice`: the HTTP side of server notices.

use crate::api::extractors::Admin;
use crate::api::{Body, Svc, ok_json};
use crate::error::{Error, Result};
use crate::service::notices::{self, Notice};
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(
        cfg,
        vec![("/v1/send_server_notice", web::post().to(send)), ("/v1/send_server_notice/{txn_id}", web::put().to(send_txn))],
    );
}

#[derive(Deserialize)]
struct NoticeBody {
    user_id: String,
    content: Option<Value>,
    #[serde(rename = "type")]
    kind: Option<String>,
    state_key: Option<String>,
}

async fn send(svc: Svc, admin: Admin, body: Body) -> Result<HttpResponse> {
    send_notice(svc, admin, body, None).await
}

async fn send_txn(svc: Svc, admin: Admin, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    send_notice(svc, admin, body, Some(path.into_inner())).await
}

async fn send_notice(svc: Svc, admin: Admin, body: Body, txn: Option<String>) -> Result<HttpResponse> {
    let b: NoticeBody = body.parse()?;
    let target = crate::ids::parse_user_id(&b.user_id)?;
    let content = match b.content {
        Some(c @ Value::Object(_)) => c,
        None | Some(Value::Null) => return Err(Error::missing_param("Missing content")),
        Some(_) => return Err(Error::bad_json("content must be an object")),
    };
    let notice = Notice { target, kind: b.kind.unwrap_or_else(|| "m.room.message".into()), state_key: b.state_key, content };
    let event_id = notices::send(&svc, &admin, notice, txn).await?;
    Ok(ok_json(json!({"event_id": event_id})))
}
