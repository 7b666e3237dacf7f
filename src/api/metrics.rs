//! The metrics listener's only routes: `GET /metrics` and Synapse's `/_synapse/metrics`, in the
//! OpenMetrics text format (which Prometheus reads).

use crate::Services;
use crate::error::Error;
use actix_web::{HttpResponse, web};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/metrics", web::get().to(metrics)).route("/_synapse/metrics", web::get().to(metrics));
}

async fn metrics(svc: web::Data<Services>) -> Result<HttpResponse, Error> {
    let text = crate::service::metrics::scrape(&svc).await?;
    Ok(HttpResponse::Ok().content_type("application/openmetrics-text; version=1.0.0; charset=utf-8").body(text))
}
