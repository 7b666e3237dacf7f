//! The HTTP edge: CORS for browser clients, and Matrix-shaped bodies for every error reply,
//! including the ones actix-web produces itself (unknown route, wrong method, bad path).

use crate::api::reply::error_reply;
use crate::error::Error;
use actix_web::HttpResponse;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;

fn add_cors(res: &mut HttpResponse<BoxBody>) {
    let h = res.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST, PUT, DELETE, OPTIONS"));
    h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("X-Requested-With, Content-Type, Authorization, Date"));
}

fn errcode_for(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => "M_UNRECOGNIZED",
        StatusCode::PAYLOAD_TOO_LARGE => "M_TOO_LARGE",
        StatusCode::UNAUTHORIZED => "M_MISSING_TOKEN",
        StatusCode::FORBIDDEN => "M_FORBIDDEN",
        StatusCode::TOO_MANY_REQUESTS => "M_LIMIT_EXCEEDED",
        s if s.is_client_error() => "M_UNKNOWN",
        _ => "M_UNKNOWN",
    }
}

pub async fn edge(req: ServiceRequest, next: Next<impl MessageBody + 'static>) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if req.method() == Method::OPTIONS {
        let mut res = HttpResponse::Ok().json(serde_json::json!({}));
        add_cors(&mut res);
        return Ok(req.into_response(res));
    }
    // A NUL character cannot be stored in PostgreSQL's text columns; no path or query parameter
    // of the Matrix APIs needs one, on either backend.
    if req.uri().path_and_query().is_some_and(|pq| pq.as_str().contains("%00")) {
        let mut res =
            error_reply(StatusCode::BAD_REQUEST, "M_INVALID_PARAM", "The path and query may not contain the NUL character (%00)", None);
        add_cors(&mut res);
        return Ok(req.into_response(res));
    }
    let started = std::time::Instant::now();
    let metrics = req.app_data::<actix_web::web::Data<crate::Services>>().map(|svc| svc.metrics.clone());
    let labels = crate::metrics::labels(req.method().as_str(), req.path());
    let line = log::log_enabled!(target: "ensemble::http", log::Level::Debug)
        .then(|| format!("{} {} {}", crate::api::extractors::client_ip(req.request()), req.method(), req.path()));
    // Handlers' and extractors' errors arrive here already turned into responses.
    let res = next.call(req).await?.map_into_boxed_body();
    if let Some(line) = line {
        log::debug!(target: "ensemble::http", "{line} {} {:.1}ms", res.status().as_u16(), started.elapsed().as_secs_f64() * 1000.0);
    }
    let status = res.status();
    if let Some(m) = metrics {
        m.answered(labels, status.as_u16(), started.elapsed());
    }
    let is_json = res.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("application/json"));
    let (req, mut response) = res.into_parts();
    if status.as_u16() >= 400 && !is_json {
        let message = if status == StatusCode::METHOD_NOT_ALLOWED {
            "Method not allowed on this endpoint".to_owned()
        } else if status == StatusCode::NOT_FOUND {
            "Unrecognized request".to_owned()
        } else {
            status.canonical_reason().unwrap_or("Error").to_owned()
        };
        response = error_reply(status, errcode_for(status), &message, None);
    }
    add_cors(&mut response);
    Ok(ServiceResponse::new(req, response))
}

pub async fn unrecognized() -> Result<HttpResponse, Error> {
    Err(Error::unrecognized("Unrecognized request"))
}
