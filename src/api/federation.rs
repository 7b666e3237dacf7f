//! The server-server API Ensemble serves: its signing key, its version, and local users' device
//! lists. Every `/_matrix/federation` request but `version` must carry a valid X-Matrix signature.

use crate::api::{Svc, ok_json};
use crate::error::{MResult, MatrixError};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(
        cfg,
        vec![
            ("/_matrix/key/v2/server", web::get().to(server_key)),
            ("/_matrix/federation/v1/version", web::get().to(version)),
            ("/_matrix/federation/v1/user/devices/{user_id}", web::get().to(user_devices)),
        ],
    );
}

/// The origin server of a signed request, or 401 `M_UNAUTHORIZED`.
async fn origin(svc: &Svc, req: &HttpRequest, content: Option<&serde_json::Value>) -> MResult<String> {
    let header = req.headers().get("authorization").and_then(|h| h.to_str().ok());
    let uri = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
    svc.federation.verify_request(svc.server_name(), header, req.method().as_str(), uri, content).await.map_err(|why| {
        log::info!("refused federation request {uri}: {why}");
        MatrixError::new(StatusCode::UNAUTHORIZED, "M_UNAUTHORIZED", why)
    })
}

async fn server_key(svc: Svc) -> MResult<HttpResponse> {
    Ok(ok_json(crate::federation::server_key_document(&svc.keys).map_err(MatrixError::unknown)?))
}

/// Unauthenticated, as the spec says: peers and federation testers ask before they trust us.
async fn version() -> MResult<HttpResponse> {
    Ok(ok_json(json!({"server": {"name": "Ensemble", "version": env!("CARGO_PKG_VERSION")}})))
}

async fn user_devices(svc: Svc, req: HttpRequest, path: web::Path<String>) -> MResult<HttpResponse> {
    let from = origin(&svc, &req, None).await?;
    let user_id = crate::ids::parse_user_id(&path)?;
    if user_id.server_name().as_str() != svc.server_name() {
        return Err(MatrixError::invalid_param("User is not hosted on this server"));
    }
    log::debug!("{from} fetches the device list of {user_id}");
    Ok(ok_json(crate::federation::device_lists::local_answer(&svc, user_id.as_str()).await?))
}
