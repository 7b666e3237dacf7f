//! Profiles: displayname and avatar_url.

use crate::api::extractors::Requester;
use crate::api::{Body, Svc, arc, ok_json};
use crate::error::{Error, Result};
use crate::ids::parse_user_id;
use crate::service::profile::{self, Field};
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

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

async fn get_profile(svc: Svc, path: web::Path<String>) -> Result<HttpResponse> {
    let p = profile::get(&svc, &parse_user_id(&path)?).await?;
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
    let (user, name) = path.into_inner();
    let body = match profile::get_field(&svc, &parse_user_id(&user)?, &name).await? {
        Some(value) => json!({ name: value }),
        None => json!({}),
    };
    Ok(ok_json(body))
}

#[derive(Deserialize)]
struct ProfileBody {
    displayname: Option<String>,
    avatar_url: Option<String>,
}

async fn set_field(svc: Svc, who: Requester, path: web::Path<(String, String)>, body: Body) -> Result<HttpResponse> {
    let (user, name) = path.into_inner();
    if parse_user_id(&user)? != who.user_id {
        return Err(Error::forbidden("You cannot change another user's profile"));
    }
    let b: ProfileBody = body.parse()?;
    crate::service::suspension::check(&who, crate::service::suspension::Act::Profile)?;
    let (field, value) = match Field::parse(&name) {
        Some(Field::Displayname) => (Field::Displayname, b.displayname),
        Some(Field::AvatarUrl) => (Field::AvatarUrl, b.avatar_url),
        None => return Err(Error::bad_json("Unknown profile field")),
    };
    profile::set_field(&arc(&svc), &who.user_id, field, &name, value).await?;
    Ok(ok_json(json!({})))
}
