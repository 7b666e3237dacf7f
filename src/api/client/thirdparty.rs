//! Third-party networks, which application services bridge. This server runs no application
//! service, so it knows no protocol: the list is empty (Element asks for it to offer bridged
//! networks in its room directory) and each named protocol is unknown, as Synapse answers
//! without any.

use crate::api::extractors::Requester;
use crate::api::ok_json;
use crate::error::{Error, Result};
use actix_web::{HttpResponse, web};
use serde_json::json;

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(
        cfg,
        vec![("/thirdparty/protocols", web::get().to(protocols)), ("/thirdparty/protocol/{protocol}", web::get().to(protocol))],
    );
}

async fn protocols(_who: Requester) -> HttpResponse {
    ok_json(json!({}))
}

async fn protocol(_who: Requester) -> Result<HttpResponse> {
    Err(Error::not_found("Unknown protocol"))
}
