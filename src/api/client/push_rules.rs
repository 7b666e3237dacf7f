//! Push rules: `GET /pushrules/`, `GET /pushrules/global/[{kind}/]`, and
//! `GET/PUT/DELETE /pushrules/global/{kind}/{ruleId}[/enabled|/actions]`.
//!
//! The path is split on its raw `/` before decoding, so a rule ID with an encoded slash stays
//! one segment (and is then refused as a rule ID).

use crate::api::extractors::Requester;
use crate::api::{Body, Svc, ok_json};
use crate::error::{Error, Result};
use crate::service::push_rules;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

pub fn configure(cfg: &mut web::ServiceConfig) {
    crate::api::routes(
        cfg,
        vec![
            ("/pushrules/{tail:.*}", web::get().to(get)),
            ("/pushrules/{tail:.*}", web::put().to(put)),
            ("/pushrules/{tail:.*}", web::delete().to(delete)),
        ],
    );
}

/// What a path below `/pushrules/` names.
enum Target {
    Everything,
    Scope,
    Kind(&'static str),
    Rule(&'static str, String),
    Attr(&'static str, String, Attr),
}

#[derive(Clone, Copy)]
enum Attr {
    Enabled,
    Actions,
}

fn target(req: &HttpRequest) -> Result<Target> {
    let path = req.uri().path();
    let rest = path.split_once("/pushrules/").map(|(_, r)| r).unwrap_or("");
    let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
    let parts: Vec<&str> = rest.split('/').collect();
    let scope = |s: &str| if s == "global" { Ok(()) } else { Err(Error::invalid_param(format!("Unknown push rule scope {s:?}"))) };
    match parts.as_slice() {
        [""] => Ok(Target::Everything),
        [s, ""] => scope(s).map(|_| Target::Scope),
        [s, k, ""] => {
            scope(s)?;
            Ok(Target::Kind(push_rules::kind(k)?))
        }
        [s, k, id] => {
            scope(s)?;
            Ok(Target::Rule(push_rules::kind(k)?, decode(id)))
        }
        [s, k, id, attr] => {
            scope(s)?;
            let kind = push_rules::kind(k)?;
            let attr = match *attr {
                "enabled" => Attr::Enabled,
                "actions" => Attr::Actions,
                other => return Err(Error::invalid_param(format!("Unknown push rule attribute {other:?}"))),
            };
            Ok(Target::Attr(kind, decode(id), attr))
        }
        _ => Err(Error::invalid_param("Push rule paths are /pushrules/global/{kind}/{ruleId}")),
    }
}

async fn get(svc: Svc, who: Requester, req: HttpRequest) -> Result<HttpResponse> {
    let rules = push_rules::all(&svc, &who.user_id).await?;
    Ok(ok_json(match target(&req)? {
        Target::Everything => json!({ "global": rules }),
        Target::Scope => Value::Object(rules),
        Target::Kind(kind) => rules.get(kind).cloned().unwrap_or_else(|| json!([])),
        Target::Rule(kind, id) => push_rules::get(&svc, &who.user_id, kind, &id).await?,
        Target::Attr(kind, id, attr) => {
            let rule = push_rules::get(&svc, &who.user_id, kind, &id).await?;
            match attr {
                Attr::Enabled => json!({"enabled": rule.get("enabled").cloned().unwrap_or(Value::Bool(true))}),
                Attr::Actions => json!({"actions": rule.get("actions").cloned().unwrap_or_else(|| json!([]))}),
            }
        }
    }))
}

#[derive(Deserialize)]
struct Placement {
    before: Option<String>,
    after: Option<String>,
}

#[derive(Deserialize)]
struct EnabledBody {
    enabled: bool,
}

#[derive(Deserialize)]
struct ActionsBody {
    actions: Value,
}

async fn put(svc: Svc, who: Requester, req: HttpRequest, body: Body) -> Result<HttpResponse> {
    match target(&req)? {
        Target::Rule(kind, id) => {
            let place: Placement = crate::api::parse_query(&req)?;
            push_rules::put(&svc, &who.user_id, kind, &id, &body.object()?, place.before, place.after).await?;
        }
        Target::Attr(kind, id, Attr::Enabled) => {
            let b: EnabledBody = body.parse()?;
            push_rules::set_enabled(&svc, &who.user_id, kind, &id, b.enabled).await?;
        }
        Target::Attr(kind, id, Attr::Actions) => {
            let b: ActionsBody = body.parse()?;
            push_rules::set_actions(&svc, &who.user_id, kind, &id, &b.actions).await?;
        }
        _ => return Err(Error::invalid_param("A rule is set at /pushrules/global/{kind}/{ruleId}")),
    }
    Ok(ok_json(json!({})))
}

async fn delete(svc: Svc, who: Requester, req: HttpRequest) -> Result<HttpResponse> {
    match target(&req)? {
        Target::Rule(kind, id) => push_rules::delete(&svc, &who.user_id, kind, &id).await?,
        _ => return Err(Error::invalid_param("A rule is deleted at /pushrules/global/{kind}/{ruleId}")),
    }
    Ok(ok_json(json!({})))
}
