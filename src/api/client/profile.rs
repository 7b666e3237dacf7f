//! Profiles: displayname and avatar_url, changed through the user's actor.

use crate::actors::user::SetProfile;
use crate::api::{Body, Svc, arc, ok_json};
use crate::auth::Requester;
use crate::error::{Error, Result};
use crate::ids::parse_user_id;
use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(
        cfg,
        vec![
            ("/profile/{user_id}", web::get().to(get_profile)),
            ("/profile/{user_id}/{field}", web::get().to(get_field)),
            ("/profile/{user_id}/{field}", web::put().to(set_field)),
        ],
    );
}

async fn load(svc: &Svc, user_id: &str) -> Result<crate::store::users::Profile> {
    let id = parse_user_id(user_id)?.to_string();
    svc.db.run(move |c| crate::store::users::profile(c, &id)).await?.ok_or_else(|| Error::not_found("Profile not found"))
}

async fn get_profile(svc: Svc, path: web::Path<String>) -> Result<HttpResponse> {
    let p = load(&svc, &path).await?;
    let mut body = json!({});
    if let Some(d) = p.displayname {
        body["displayname"] = json!(d);
    }
    if let Some(a) = p.avatar_url {
        body["avatar_url"] = json!(a);
    }
    Ok(ok_json(body))
}

async fn get_field(svc: Svc, path: web::Path<(String, String)>) -> Result<HttpResponse> {
    let (user, field) = path.into_inner();
    let p = load(&svc, &user).await?;
    let value = match field.as_str() {
        "displayname" => p.displayname,
        "avatar_url" => p.avatar_url,
        _ => return Err(Error::not_found("Unknown profile field")),
    };
    match value {
        Some(v) => Ok(ok_json(json!({ field: v }))),
        None => Err(Error::not_found("Profile field not set")),
    }
}

async fn set_field(svc: Svc, who: Requester, path: web::Path<(String, String)>, body: Body) -> Result<HttpResponse> {
    let (user, field) = path.into_inner();
    let user = parse_user_id(&user)?;
    if user != who.user_id {
        return Err(Error::forbidden("You cannot change another user's profile"));
    }
    let body = body.object()?;
    let value = match body.get(&field) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(Error::bad_json(format!("{field} must be a string"))),
    };
    if value.as_ref().is_some_and(|v| v.len() > 256) {
        return Err(Error::bad_json(format!("{field} is too long")));
    }
    let msg = match field.as_str() {
        "displayname" => SetProfile { displayname: Some(value), avatar_url: None },
        "avatar_url" => SetProfile { displayname: None, avatar_url: Some(value) },
        _ => return Err(Error::bad_json("Unknown profile field")),
    };
    let svc = arc(&svc);
    let actor = svc.directory.user(&svc, who.user_id.as_str()).await?;
    actor.send(msg).await??;
    Ok(ok_json(json!({})))
}
