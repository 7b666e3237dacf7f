//! `/directory/room/{alias}` and `/rooms/{roomId}/aliases`.

use crate::api::extractors::Requester;
use crate::api::{Body, Svc, arc, ok_json};
use crate::error::Result;
use crate::ids::{parse_alias, parse_room_id};
use crate::service::aliases;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(
        cfg,
        vec![
            ("/directory/room/{alias}", web::get().to(get_alias)),
            ("/directory/room/{alias}", web::put().to(put_alias)),
            ("/directory/room/{alias}", web::delete().to(delete_alias)),
            ("/rooms/{room}/aliases", web::get().to(room_aliases)),
        ],
    );
}

async fn get_alias(svc: Svc, path: web::Path<String>) -> Result<HttpResponse> {
    let room_id = aliases::resolve(&svc, &parse_alias(&path)?).await?;
    Ok(ok_json(json!({"room_id": room_id, "servers": [svc.server_name()]})))
}

#[derive(Deserialize)]
struct PutAliasBody {
    room_id: String,
}

async fn put_alias(svc: Svc, who: Requester, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    let alias = parse_alias(&path)?;
    let b: PutAliasBody = body.parse()?;
    aliases::create(&svc, &who, &alias, &parse_room_id(&b.room_id)?).await?;
    Ok(ok_json(json!({})))
}

async fn delete_alias(svc: Svc, who: Requester, path: web::Path<String>) -> Result<HttpResponse> {
    aliases::delete(&arc(&svc), &who, &parse_alias(&path)?).await?;
    Ok(ok_json(json!({})))
}

async fn room_aliases(svc: Svc, who: Requester, path: web::Path<String>) -> Result<HttpResponse> {
    let room_id = parse_room_id(&path)?;
    Ok(ok_json(json!({"aliases": aliases::of_room(&svc, &who.user_id, &room_id).await?})))
}
