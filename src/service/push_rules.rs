//! Push rules: a user's rules (ruma's server defaults plus their own), kept as the
//! `m.push_rules` account data so `/sync` shows every change, and changed atomically.

use crate::Services;
use crate::actors::notifier::AccountDataChanged;
use crate::error::{Error, Result};
use crate::events::push::{self, ACCOUNT_DATA_TYPE, KINDS, RuleLists};
use crate::store::account_data as store;
use ruma::UserId;
use serde_json::{Value, json};

/// The longest rule ID, pattern and conditions list accepted.
const MAX_RULE_ID: usize = 255;
const MAX_CONDITIONS: usize = 20;
const MAX_ACTIONS: usize = 20;

/// A rule kind named in a path: one of the spec's five.
pub fn kind(s: &str) -> Result<&'static str> {
    KINDS.iter().copied().find(|k| *k == s).ok_or_else(|| Error::invalid_param(format!("Unknown push rule kind {s}")))
}

/// The user's rules, every kind present.
pub async fn all(svc: &Services, user: &UserId) -> Result<RuleLists> {
    let u = user.to_string();
    let stored = svc.db.run(move |c| store::get(c, &u, store::GLOBAL, ACCOUNT_DATA_TYPE)).await?;
    let stored: Option<Value> = stored.and_then(|t| serde_json::from_str(&t).ok());
    Ok(push::rules_from_stored(user, stored.as_ref()))
}

/// One rule, 404 if the user has none of that kind and ID.
pub async fn get(svc: &Services, user: &UserId, kind: &str, id: &str) -> Result<Value> {
    push::find_rule(&all(svc, user).await?, kind, id).cloned().ok_or_else(|| Error::not_found("Unknown push rule"))
}

/// Applies `change` to the user's rules and stores them, in one transaction; wakes their syncs.
async fn change(svc: &Services, user: &UserId, change: impl FnOnce(&mut RuleLists) -> Result<()> + Send + 'static) -> Result<()> {
    let owned = user.to_owned();
    let u = user.to_string();
    let id = svc
        .db
        .run(move |c| {
            store::update(c, &u, store::GLOBAL, ACCOUNT_DATA_TYPE, |old| {
                let old: Option<Value> = old.and_then(|t| serde_json::from_str(&t).ok());
                let mut rules = push::rules_from_stored(&owned, old.as_ref());
                change(&mut rules)?;
                Ok(push::rules_to_stored(&rules).to_string())
            })
        })
        .await?;
    svc.notifier.do_send(AccountDataChanged { user: user.to_owned(), stream_id: id });
    Ok(())
}

fn check_actions(actions: &Value) -> Result<Vec<Value>> {
    let list = actions.as_array().ok_or_else(|| Error::bad_json("actions must be a list"))?;
    if list.len() > MAX_ACTIONS {
        return Err(Error::unknown("Too many actions"));
    }
    if let Some(bad) = list.iter().find(|a| !push::valid_action(a)) {
        return Err(Error::unknown(format!("Unrecognised action {bad}")));
    }
    Ok(list.clone())
}

/// The rule a `PUT` body describes, checked.
fn rule_from_body(kind: &str, id: &str, body: &Value) -> Result<Value> {
    if id.is_empty() || id.len() > MAX_RULE_ID {
        return Err(Error::invalid_param("A rule ID must have 1 to 255 characters"));
    }
    if id.starts_with('.') {
        return Err(Error::unknown("Rule IDs starting with '.' are reserved for server-default rules"));
    }
    if id.contains(['/', '\\']) {
        return Err(Error::unknown("Rule IDs cannot contain slashes or backslashes"));
    }
    let actions = check_actions(body.get("actions").ok_or_else(|| Error::unknown("A rule needs actions"))?)?;
    let mut rule = json!({"rule_id": id, "default": false, "enabled": true, "actions": actions});
    match kind {
        "override" | "underride" => {
            let conditions =
                body.get("conditions").and_then(Value::as_array).ok_or_else(|| Error::unknown("This rule needs conditions"))?;
            if conditions.len() > MAX_CONDITIONS {
                return Err(Error::unknown("Too many conditions"));
            }
            if conditions.iter().any(|c| !c.get("kind").is_some_and(Value::is_string)) {
                return Err(Error::unknown("Every condition needs a kind"));
            }
            rule["conditions"] = Value::Array(conditions.clone());
        }
        "content" => {
            let pattern = body.get("pattern").and_then(Value::as_str).ok_or_else(|| Error::unknown("A content rule needs a pattern"))?;
            if pattern.len() > MAX_RULE_ID {
                return Err(Error::unknown("Pattern too long"));
            }
            rule["pattern"] = json!(pattern);
        }
        _ => {}
    }
    Ok(rule)
}

/// Adds or replaces a user rule, optionally placed before or after another user rule.
pub async fn put(
    svc: &Services,
    user: &UserId,
    kind: &str,
    id: &str,
    body: &Value,
    before: Option<String>,
    after: Option<String>,
) -> Result<()> {
    let rule = rule_from_body(kind, id, body)?;
    let kind = kind.to_owned();
    change(svc, user, move |rules| push::insert_rule(rules, &kind, rule, before.as_deref(), after.as_deref())).await
}

pub async fn delete(svc: &Services, user: &UserId, kind: &str, id: &str) -> Result<()> {
    let (kind, id) = (kind.to_owned(), id.to_owned());
    change(svc, user, move |rules| push::remove_rule(rules, &kind, &id)).await
}

/// Sets one field (`enabled` or `actions`) of any rule, server-default ones included.
async fn set_field(svc: &Services, user: &UserId, kind: &str, id: &str, field: &'static str, value: Value) -> Result<()> {
    let (kind, id) = (kind.to_owned(), id.to_owned());
    change(svc, user, move |rules| {
        let rule = push::find_rule_mut(rules, &kind, &id).ok_or_else(|| Error::not_found("Unknown push rule"))?;
        rule[field] = value;
        Ok(())
    })
    .await
}

pub async fn set_enabled(svc: &Services, user: &UserId, kind: &str, id: &str, enabled: bool) -> Result<()> {
    set_field(svc, user, kind, id, "enabled", Value::Bool(enabled)).await
}

pub async fn set_actions(svc: &Services, user: &UserId, kind: &str, id: &str, actions: &Value) -> Result<()> {
    let actions = check_actions(actions)?;
    set_field(svc, user, kind, id, "actions", Value::Array(actions)).await
}

/// Copies the user's room rule of `from` to `to` (a room upgrade keeps the user's settings).
pub async fn copy_room_rule(svc: &Services, user: &UserId, from: &str, to: &str) -> Result<()> {
    let Some(mut rule) = push::find_rule(&all(svc, user).await?, "room", from).cloned() else { return Ok(()) };
    rule["rule_id"] = json!(to);
    change(svc, user, move |rules| push::insert_rule(rules, "room", rule, None, None)).await
}
