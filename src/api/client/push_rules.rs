//! Push rules: the spec's server-default rule set.

use crate::api::extractors::Requester;
use crate::api::ok_json;
use actix_web::{HttpResponse, web};
use serde_json::json;

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(cfg, vec![("/pushrules/", web::get().to(push_rules)), ("/pushrules", web::get().to(push_rules))]);
}

/// The spec's default rule set for this user (ruma carries it), under the `global` scope.
async fn push_rules(who: Requester) -> HttpResponse {
    let rules = ruma::push::Ruleset::server_default(&who.user_id);
    ok_json(json!({"global": rules}))
}
