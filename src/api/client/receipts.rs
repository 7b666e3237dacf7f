//! Read receipts and read markers: `POST /rooms/{roomId}/receipt/{type}/{eventId}` and
//! `POST /rooms/{roomId}/read_markers`. Receipts reach the room's members as `m.receipt` in the
//! `ephemeral` section of their syncs; `m.fully_read` is room account data of the reader.

use crate::api::extractors::Requester;
use crate::api::{Body, Svc, ok_json};
use crate::error::{Error, Result};
use crate::ids::parse_room_id;
use crate::service::receipts;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
struct ReceiptBody {
    thread_id: Option<String>,
}

#[derive(Deserialize)]
struct MarkersBody {
    #[serde(rename = "m.fully_read")]
    fully_read: Option<String>,
    #[serde(rename = "m.read")]
    read: Option<String>,
    #[serde(rename = "m.read.private")]
    read_private: Option<String>,
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(
        cfg,
        vec![
            ("/rooms/{room}/receipt/{receipt_type}/{event}", web::post().to(receipt)),
            ("/rooms/{room}/read_markers", web::post().to(read_markers)),
        ],
    );
}

async fn receipt(svc: Svc, who: Requester, path: web::Path<(String, String, String)>, body: Body) -> Result<HttpResponse> {
    let (room, kind, event) = path.into_inner();
    let room = parse_room_id(&room)?;
    if !matches!(kind.as_str(), "m.read" | "m.read.private" | "m.fully_read") {
        return Err(Error::invalid_param("Receipt type must be m.read, m.read.private or m.fully_read"));
    }
    let thread = body.parse::<ReceiptBody>()?.thread_id.unwrap_or_default();
    if kind == "m.fully_read" && !thread.is_empty() {
        return Err(Error::invalid_param("m.fully_read cannot be threaded"));
    }
    receipts::set(&svc, &who, &room, &kind, &thread, &event).await?;
    Ok(ok_json(json!({})))
}

async fn read_markers(svc: Svc, who: Requester, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    let room = parse_room_id(&path)?;
    let b: MarkersBody = body.parse()?;
    for (kind, event) in [("m.fully_read", b.fully_read), ("m.read", b.read), ("m.read.private", b.read_private)] {
        if let Some(event) = event {
            receipts::set(&svc, &who, &room, kind, "", &event).await?;
        }
    }
    Ok(ok_json(json!({})))
}
