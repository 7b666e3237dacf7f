//! `POST /user_directory/search`: finding people to talk to by localpart or display name.

use crate::api::{Body, Svc, ok_json, str_field};
use crate::auth::Requester;
use crate::error::{Error, Result};
use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(cfg, vec![("/user_directory/search", web::post().to(search))]);
}

async fn search(svc: Svc, who: Requester, body: Body) -> Result<HttpResponse> {
    let body = body.object()?;
    let term = str_field(&body, "search_term")?.trim().to_owned();
    let limit = match body.get("limit") {
        None | Some(Value::Null) => 10,
        Some(v) => v.as_i64().filter(|n| *n >= 0).ok_or_else(|| Error::bad_json("limit must be a non-negative integer"))?,
    }
    .min(100);
    if term.is_empty() {
        return Ok(ok_json(json!({"results": [], "limited": false})));
    }
    let (me, everyone) = (who.user_id.to_string(), svc.config.user_directory_search_all_users);
    let mut found = svc.db.run(move |c| crate::store::users::search_directory(c, &me, &term, limit + 1, everyone)).await?;
    let limited = found.len() as i64 > limit;
    found.truncate(limit as usize);
    let results: Vec<Value> = found
        .into_iter()
        .map(|(user_id, name, avatar)| {
            let mut r = json!({"user_id": user_id});
            if let Some(n) = name {
                r["display_name"] = json!(n);
            }
            if let Some(a) = avatar {
                r["avatar_url"] = json!(a);
            }
            r
        })
        .collect();
    Ok(ok_json(json!({"results": results, "limited": limited})))
}
