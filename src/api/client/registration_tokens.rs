//! `GET /register/m.login.registration_token/validity`: whether a registration token could be
//! used now (served under `/_matrix/client/v1` and, as Synapse does, the unstable prefix).

use crate::api::extractors::client_ip;
use crate::api::{Svc, ok_json, parse_query};
use crate::error::Result;
use crate::service::registration_tokens;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

const VALIDITY: &str = "/register/m.login.registration_token/validity";

/// The stable route, `/_matrix/client/v1/...`.
pub fn configure_v1(cfg: &mut web::ServiceConfig) {
    crate::api::routes(cfg, vec![("/_matrix/client/v1/register/m.login.registration_token/validity", web::get().to(validity))]);
}

/// Inside the `/_matrix/client/unstable` scope: Synapse's path there, and MSC3231's own, which
/// clients written before the stable path still call.
pub fn configure_unstable(cfg: &mut web::ServiceConfig) {
    crate::api::routes(
        cfg,
        vec![
            (VALIDITY, web::get().to(validity)),
            ("/org.matrix.msc3231/register/org.matrix.msc3231.login.registration_token/validity", web::get().to(validity)),
        ],
    );
}

#[derive(Deserialize)]
struct ValidityQuery {
    token: String,
}

async fn validity(svc: Svc, req: HttpRequest) -> Result<HttpResponse> {
    let ip = client_ip(&req);
    let q: ValidityQuery = parse_query(&req)?;
    let valid = registration_tokens::validity(&svc, &ip, &q.token).await?;
    Ok(ok_json(json!({"valid": valid})))
}
