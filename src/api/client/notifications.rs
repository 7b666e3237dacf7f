//! `GET /notifications`: the events the user's push rules notified them of, newest first.

use crate::api::extractors::Requester;
use crate::api::{Svc, ok_json};
use crate::error::Result;
use crate::service::notifications;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(cfg, vec![("/notifications", web::get().to(list))]);
}

#[derive(Deserialize)]
struct Query {
    from: Option<String>,
    limit: Option<i64>,
    only: Option<String>,
}

async fn list(svc: Svc, who: Requester, req: HttpRequest) -> Result<HttpResponse> {
    let q: Query = crate::api::parse_query(&req)?;
    let only_highlight = q.only.as_deref() == Some("highlight");
    Ok(ok_json(notifications::list(&svc, &who.user_id, q.from.as_deref(), q.limit, only_highlight).await?))
}
