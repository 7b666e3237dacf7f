//! The extractors that turn a request into its requester: the access token (header or query)
//! is read here; who it belongs to is the sessions service's answer. The admin check is made
//! in one place, [`Admin`].

use crate::Services;
use crate::auth::tokens::Session;
use crate::error::{Error, Result};
use crate::service::sessions::{self, Client};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

/// The address a request came from: the TCP peer, or with `x_forwarded` the first address of
/// `X-Forwarded-For` (what the reverse proxy was told by the client's side).
pub fn client_ip(req: &HttpRequest) -> String {
    let forwarded = req.app_data::<web::Data<Services>>().is_some_and(|s| s.config.x_forwarded);
    if forwarded
        && let Some(first) = req.headers().get("x-forwarded-for").and_then(|v| v.to_str().ok()).and_then(|v| v.split(',').next())
        && let Ok(ip) = first.trim().parse::<std::net::IpAddr>()
    {
        return ip.to_string();
    }
    req.peer_addr().map(|a| a.ip().to_string()).unwrap_or_default()
}

fn token_from(req: &HttpRequest) -> Option<String> {
    if let Some(h) = req.headers().get(actix_web::http::header::AUTHORIZATION) {
        let v = h.to_str().ok()?;
        return v.strip_prefix("Bearer ").map(|t| t.trim().to_owned());
    }
    web::Query::<HashMap<String, String>>::from_query(req.query_string()).ok().and_then(|q| q.get("access_token").cloned())
}

async fn authenticate(svc: &Services, req: &HttpRequest) -> Result<Session> {
    let token = token_from(req).ok_or_else(Error::missing_token)?;
    let user_agent = req.headers().get(actix_web::http::header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    sessions::authenticate(svc, &token, Client { ip: client_ip(req), user_agent }).await
}

fn services(req: &HttpRequest) -> Result<std::sync::Arc<Services>> {
    req.app_data::<web::Data<Services>>().map(|d| d.clone().into_inner()).ok_or_else(|| Error::internal("Services not configured"))
}

/// Any authenticated user.
pub struct Requester(pub Session);

impl std::ops::Deref for Requester {
    type Target = Session;
    fn deref(&self) -> &Session {
        &self.0
    }
}

/// The session of the request's token, for the extractors.
fn session_of(req: &HttpRequest) -> Pin<Box<dyn Future<Output = Result<Session>>>> {
    let req = req.clone();
    Box::pin(async move { authenticate(&*services(&req)?, &req).await })
}

impl FromRequest for Requester {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let session = session_of(req);
        Box::pin(async move { Ok(Requester(session.await?)) })
    }
}

/// A server admin. The one place the admin check is made.
pub struct Admin(pub Session);

impl std::ops::Deref for Admin {
    type Target = Session;
    fn deref(&self) -> &Session {
        &self.0
    }
}

impl FromRequest for Admin {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let session = session_of(req);
        Box::pin(async move {
            let s = session.await?;
            if !s.is_server_admin() {
                return Err(Error::forbidden("You are not a server admin"));
            }
            Ok(Admin(s))
        })
    }
}
