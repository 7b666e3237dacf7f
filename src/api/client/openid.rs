//! `/user/{userId}/openid/request_token`: a token that proves to a third party who the user is
//! (checked through the federation API's `/openid/userinfo`).

use crate::api::extractors::Requester;
use crate::api::{Body, Svc, ok_json};
use crate::error::Result;
use crate::ids::parse_user_id;
use crate::service::openid;
use actix_web::{HttpResponse, web};
use serde_json::json;

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(cfg, vec![("/user/{user_id}/openid/request_token", web::post().to(request_token))]);
}

async fn request_token(svc: Svc, who: Requester, path: web::Path<String>, body: Body) -> Result<HttpResponse> {
    let user_id = parse_user_id(&path)?;
    // The body carries nothing yet, but must be a JSON object, as Synapse requires.
    body.object()?;
    let token = openid::request_token(&svc, &who.user_id, &user_id).await?;
    Ok(ok_json(json!({
        "access_token": token.access_token,
        "token_type": "Bearer",
        "matrix_server_name": svc.server_name(),
        "expires_in": token.expires_in_secs,
    })))
}
