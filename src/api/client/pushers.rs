//! Pushers: `GET /pushers` and `POST /pushers/set`.

use crate::api::{Body, Svc, ok_json, opt_bool, opt_str, str_field};
use crate::auth::Requester;
use crate::error::{Error, Result};
use crate::store::pushers::{self, Pusher};
use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(cfg, vec![("/pushers", web::get().to(list)), ("/pushers/set", web::post().to(set))]);
}

pub fn pusher_json(p: &Pusher) -> Value {
    let mut v = json!({
        "pushkey": p.pushkey,
        "kind": p.kind,
        "app_id": p.app_id,
        "app_display_name": p.app_display_name,
        "device_display_name": p.device_display_name,
        "lang": p.lang,
        "data": serde_json::from_str::<Value>(&p.data).unwrap_or_else(|_| json!({})),
    });
    if let Some(t) = &p.profile_tag {
        v["profile_tag"] = json!(t);
    }
    v
}

async fn list(svc: Svc, who: Requester) -> Result<HttpResponse> {
    let user = who.user_id.to_string();
    let list = svc.db.run(move |c| pushers::list(c, &user)).await?;
    Ok(ok_json(json!({"pushers": list.iter().map(pusher_json).collect::<Vec<_>>()})))
}

async fn set(svc: Svc, who: Requester, body: Body) -> Result<HttpResponse> {
    let body = body.object()?;
    let pushkey = str_field(&body, "pushkey")?.to_owned();
    let app_id = str_field(&body, "app_id")?.to_owned();
    if pushkey.len() > 512 || app_id.len() > 64 {
        return Err(Error::invalid_param("pushkey or app_id too long"));
    }
    let user = who.user_id.to_string();
    match body.get("kind") {
        Some(Value::Null) => {
            // kind: null deletes the pusher.
            svc.db.run(move |c| pushers::delete(c, &user, &app_id, &pushkey)).await?;
            return Ok(ok_json(json!({})));
        }
        None => return Err(Error::missing_param("Missing kind")),
        _ => {}
    }
    let kind = str_field(&body, "kind")?.to_owned();
    if !matches!(kind.as_str(), "http" | "email") {
        return Err(Error::invalid_param(format!("Unknown pusher kind {kind}")));
    }
    let data = match body.get("data") {
        Some(d @ Value::Object(_)) => d.clone(),
        None | Some(Value::Null) => return Err(Error::missing_param("Missing data")),
        Some(_) => return Err(Error::bad_json("data must be an object")),
    };
    if kind == "http" {
        let url = data.get("url").and_then(Value::as_str).ok_or_else(|| Error::missing_param("http pushers need data.url"))?;
        if !(url.starts_with("https://") || url.starts_with("http://")) || !url.contains("/_matrix/push/v1/notify") {
            return Err(Error::invalid_param("data.url must be an http(s) URL ending in /_matrix/push/v1/notify"));
        }
    }
    let pusher = Pusher {
        user_id: user,
        app_id,
        pushkey,
        kind,
        app_display_name: str_field(&body, "app_display_name")?.to_owned(),
        device_display_name: str_field(&body, "device_display_name")?.to_owned(),
        profile_tag: opt_str(&body, "profile_tag")?.map(str::to_owned),
        lang: str_field(&body, "lang")?.to_owned(),
        data: data.to_string(),
        device_id: who.device_id.clone(),
        created_ts: crate::ids::now_ms(),
    };
    let append = opt_bool(&body, "append")?.unwrap_or(false);
    svc.db.run(move |c| pushers::set(c, &pusher, append)).await?;
    Ok(ok_json(json!({})))
}
