//! `/_synapse/admin/v1/registration_tokens`: list, create, show, change and delete the tokens
//! `/register` asks for when `registration_requires_token` is set, with Synapse's shapes and
//! errors (a field of the wrong type or range is 400 `M_INVALID_PARAM`, an unknown token 404).

use crate::api::extractors::Admin;
use crate::api::{Body, Svc, ok_json, parse_query};
use crate::error::{Error, Result};
use crate::service::registration_tokens::{self, NewToken, TokenChange, TokenInfo};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Map, Value, json};

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(
        cfg,
        vec![
            ("/v1/registration_tokens", web::get().to(list)),
            // One path for `new` and the tokens: `new` takes only POST, a token anything but POST
            // (405 otherwise, as Synapse).
            ("/v1/registration_tokens/{token}", web::post().to(create)),
            ("/v1/registration_tokens/{token}", web::get().to(show)),
            ("/v1/registration_tokens/{token}", web::put().to(update)),
            ("/v1/registration_tokens/{token}", web::delete().to(delete)),
        ],
    );
}

fn token_json(t: &TokenInfo) -> Value {
    json!(t)
}

#[derive(Deserialize)]
struct ListQuery {
    valid: Option<bool>,
}

async fn list(svc: Svc, _admin: Admin, req: HttpRequest) -> Result<HttpResponse> {
    let q: ListQuery = parse_query(&req)?;
    let tokens = registration_tokens::list(&svc, q.valid).await?;
    Ok(ok_json(json!({"registration_tokens": tokens.iter().map(token_json).collect::<Vec<_>>()})))
}

/// A field that must be an integer or null: absent `None`, null `Some(None)`; anything else
/// (a string, a float, a boolean) is 400 `M_INVALID_PARAM` with `message`.
fn int_or_null(body: &Map<String, Value>, field: &str, message: &str) -> Result<Option<Option<i64>>> {
    match body.get(field) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => {
            n.as_i64().map(|n| Some(Some(n))).ok_or_else(|| Error::invalid_param(message))
        }
        Some(_) => Err(Error::invalid_param(message)),
    }
}

const USES_MESSAGE: &str = "uses_allowed must be a non-negative integer or null";
const EXPIRY_MESSAGE: &str = "expiry_time must be an integer or null";

fn object(body: &Body) -> Result<Map<String, Value>> {
    match body.object()? {
        Value::Object(m) => Ok(m),
        _ => Err(Error::bad_json("Body must be a JSON object")),
    }
}

fn method_not_allowed() -> Error {
    Error::new(crate::error::ErrorKind::MethodNotAllowed, "Unrecognized request")
}

/// The token a path names; `new` is the creation endpoint, which takes POST only.
fn named(path: &str) -> Result<&str> {
    if path == "new" { Err(method_not_allowed()) } else { Ok(path) }
}

async fn create(svc: Svc, _admin: Admin, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    if path.as_str() != "new" {
        return Err(method_not_allowed());
    }
    let b = object(&body)?;
    let token = match b.get("token") {
        None => None,
        Some(Value::String(t)) => Some(t.clone()),
        Some(_) => return Err(Error::invalid_param("token must be a string")),
    };
    // As Synapse: a named token makes `length` irrelevant, whatever it holds.
    let length = match b.get("length").filter(|_| token.is_none()) {
        None => None,
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Some(n.as_i64().unwrap_or(i64::MAX)),
        Some(_) => return Err(Error::invalid_param("length must be an integer")),
    };
    let new = NewToken {
        token,
        length,
        uses_allowed: int_or_null(&b, "uses_allowed", USES_MESSAGE)?.flatten(),
        expiry_time: int_or_null(&b, "expiry_time", EXPIRY_MESSAGE)?.flatten(),
    };
    Ok(ok_json(token_json(&registration_tokens::create(&svc, new).await?)))
}

async fn show(svc: Svc, _admin: Admin, path: web::Path<String>) -> Result<HttpResponse> {
    Ok(ok_json(token_json(&registration_tokens::get(&svc, named(&path)?).await?)))
}

async fn update(svc: Svc, _admin: Admin, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    let b = object(&body)?;
    let change = TokenChange {
        uses_allowed: int_or_null(&b, "uses_allowed", USES_MESSAGE)?,
        expiry_time: int_or_null(&b, "expiry_time", EXPIRY_MESSAGE)?,
    };
    Ok(ok_json(token_json(&registration_tokens::update(&svc, named(&path)?, change).await?)))
}

async fn delete(svc: Svc, _admin: Admin, path: web::Path<String>) -> Result<HttpResponse> {
    registration_tokens::delete(&svc, named(&path)?).await?;
    Ok(ok_json(json!({})))
}
