//! Push rules, pure: a user's rule set as stored (the `m.push_rules` account data, whose
//! server-default rules are ruma's current defaults plus the three legacy mention rules Synapse
//! still serves), and what the rules decide for an event. `prepared` evaluates one event for
//! many users at once.

use crate::error::{Error, Result};
use futures_util::FutureExt;
use ruma::push::{Action, PushConditionPowerLevelsCtx, PushConditionRoomCtx, Ruleset, Tweak};
use ruma::room_version_rules::AuthorizationRules;
use ruma::serde::Raw;
use ruma::{Int, OwnedUserId, RoomId, UInt, UserId};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

mod prepared;
mod template;
pub use prepared::{PreparedEvent, RuleInterner, UserRules};
pub use template::Template;

/// The account data type the rules are kept (and shown to `/sync`) as.
pub const ACCOUNT_DATA_TYPE: &str = "m.push_rules";

/// The rule kinds, highest priority first.
pub const KINDS: [&str; 5] = ["override", "content", "room", "sender", "underride"];

/// A user's rules as clients see them: kind -> ordered list of rule objects. Kept as JSON
/// rather than ruma's `Ruleset` because clients may name room and sender rules with IDs that
/// are not room or user IDs (such rules never match, but are kept and listed).
pub type RuleLists = Map<String, Value>;

fn is_default(rule: &Value) -> bool {
    rule.get("default").and_then(Value::as_bool).unwrap_or(false)
}

fn rule_id(rule: &Value) -> &str {
    rule.get("rule_id").and_then(Value::as_str).unwrap_or("")
}

/// The user's rules from the stored `{"global": ...}` content (absent or unreadable: the server
/// defaults). The server-default rules are always ruma's current ones, in ruma's order, with
/// the enabled flag and actions the user gave them; `.m.rule.master` comes first, then the
/// user's rules of each kind, then the other defaults.
pub fn rules_from_stored(user: &UserId, stored: Option<&Value>) -> RuleLists {
    let defaults = server_default(user);
    let saved = stored.and_then(|v| v.get("global"));
    let mut out = Map::new();
    for kind in KINDS {
        let saved_list: &[Value] = saved.and_then(|g| g.get(kind)).and_then(Value::as_array).map_or(&[], Vec::as_slice);
        let mut defaults_list: Vec<Value> = defaults.get(kind).and_then(Value::as_array).cloned().unwrap_or_default();
        for d in defaults_list.iter_mut() {
            if let Some(old) = saved_list.iter().find(|r| is_default(r) && rule_id(r) == rule_id(d)) {
                for field in ["enabled", "actions"] {
                    if let Some(v) = old.get(field) {
                        d[field] = v.clone();
                    }
                }
            }
        }
        let mut list = Vec::new();
        if let Some(pos) = defaults_list.iter().position(|r| rule_id(r) == ".m.rule.master") {
            list.push(defaults_list.remove(pos));
        }
        list.extend(saved_list.iter().filter(|r| !is_default(r) && r.is_object()).cloned());
        list.extend(defaults_list);
        out.insert(kind.to_owned(), Value::Array(list));
    }
    out
}

/// The server-default rules: ruma's, plus the three legacy mention rules that the spec dropped
/// in v1.17 (MSC4210) but Synapse still serves and clients still rely on: a message naming the
/// user by display name or by localpart highlights, and "@room" from someone allowed to notify
/// the room highlights. Each sits where Synapse puts it, right after its modern counterpart.
pub fn server_default(user: &UserId) -> Value {
    let mut defaults = serde_json::to_value(Ruleset::server_default(user)).unwrap_or_else(|_| json!({}));
    let mention = json!(["notify", {"set_tweak": "highlight"}, {"set_tweak": "sound", "value": "default"}]);
    let legacy_override = [
        (
            ".m.rule.is_user_mention",
            json!({"rule_id": ".m.rule.contains_display_name", "default": true, "enabled": true,
                   "conditions": [{"kind": "contains_display_name"}], "actions": mention}),
        ),
        (
            ".m.rule.is_room_mention",
            json!({"rule_id": ".m.rule.roomnotif", "default": true, "enabled": true,
                   "conditions": [{"kind": "sender_notification_permission", "key": "room"},
                                  {"kind": "event_match", "key": "content.body", "pattern": "@room"}],
                   "actions": ["notify", {"set_tweak": "highlight"}]}),
        ),
    ];
    if let Some(list) = defaults.get_mut("override").and_then(Value::as_array_mut) {
        for (after, rule) in legacy_override {
            let at = list.iter().position(|r| rule_id(r) == after).map_or(list.len(), |i| i + 1);
            list.insert(at, rule);
        }
    }
    let content = json!({"rule_id": ".m.rule.contains_user_name", "default": true, "enabled": true,
                         "pattern": user.localpart(), "actions": mention});
    match defaults.get_mut("content").and_then(Value::as_array_mut) {
        Some(list) => list.insert(0, content),
        None => defaults["content"] = json!([content]),
    }
    defaults
}

/// The content stored and shown to clients.
pub fn rules_to_stored(rules: &RuleLists) -> Value {
    json!({ "global": rules })
}

/// ruma's rule set for evaluation; rules it cannot read (a room rule named by an alias) are left
/// out, as they could never match.
pub fn ruleset(rules: &RuleLists) -> Ruleset {
    fn each<T: serde::de::DeserializeOwned>(rules: &RuleLists, kind: &str) -> Vec<T> {
        let list = rules.get(kind).and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
        list.iter().filter_map(|r| serde_json::from_value(r.clone()).ok()).collect()
    }
    let mut set = Ruleset::new();
    set.override_ = each(rules, "override").into_iter().collect();
    set.content = each(rules, "content").into_iter().collect();
    set.room = each(rules, "room").into_iter().collect();
    set.sender = each(rules, "sender").into_iter().collect();
    set.underride = each(rules, "underride").into_iter().collect();
    set
}

fn list_mut<'a>(rules: &'a mut RuleLists, kind: &str) -> &'a mut Vec<Value> {
    let entry = rules.entry(kind.to_owned()).or_insert_with(|| json!([]));
    if !entry.is_array() {
        *entry = json!([]);
    }
    match entry {
        Value::Array(list) => list,
        _ => unreachable!("made an array above"),
    }
}

/// The rule of `kind` named `id`.
pub fn find_rule<'a>(rules: &'a RuleLists, kind: &str, id: &str) -> Option<&'a Value> {
    rules.get(kind).and_then(Value::as_array).and_then(|l| l.iter().find(|r| rule_id(r) == id))
}

pub fn find_rule_mut<'a>(rules: &'a mut RuleLists, kind: &str, id: &str) -> Option<&'a mut Value> {
    list_mut(rules, kind).iter_mut().find(|r| rule_id(r) == id)
}

/// Adds or replaces a user rule (a replaced rule keeps its `enabled` flag, and its place unless
/// `before` or `after` names another user rule of the kind). A new rule goes first among the
/// user's rules of its kind.
pub fn insert_rule(rules: &mut RuleLists, kind: &str, mut rule: Value, before: Option<&str>, after: Option<&str>) -> Result<()> {
    let id = rule_id(&rule).to_owned();
    for anchor in [before, after].into_iter().flatten() {
        if anchor.starts_with('.') {
            return Err(Error::unknown("Rules cannot be placed relative to server-default rules"));
        }
    }
    let list = list_mut(rules, kind);
    let old = list.iter().position(|r| rule_id(r) == id);
    if let Some(i) = old {
        rule["enabled"] = list[i].get("enabled").cloned().unwrap_or(Value::Bool(true));
        if before.is_none() && after.is_none() {
            list[i] = rule;
            return Ok(());
        }
        list.remove(i);
    }
    let first_user = list.iter().position(|r| !is_default(r) || rule_id(r) != ".m.rule.master").unwrap_or(list.len());
    let at = match (before, after) {
        (Some(b), _) => {
            list.iter().position(|r| rule_id(r) == b).ok_or_else(|| Error::not_found(format!("No rule {b} to place this before")))?
        }
        (None, Some(a)) => {
            list.iter().position(|r| rule_id(r) == a).ok_or_else(|| Error::not_found(format!("No rule {a} to place this after")))? + 1
        }
        (None, None) => first_user,
    };
    list.insert(at.max(first_user.min(list.len())), rule);
    Ok(())
}

/// Removes a user rule; server-default rules cannot be removed.
pub fn remove_rule(rules: &mut RuleLists, kind: &str, id: &str) -> Result<()> {
    let list = list_mut(rules, kind);
    let i = list.iter().position(|r| rule_id(r) == id).ok_or_else(|| Error::not_found("Unknown push rule"))?;
    if is_default(&list[i]) {
        return Err(Error::forbidden("Server-default rules cannot be deleted"));
    }
    list.remove(i);
    Ok(())
}

/// What the rules decided for one user and one event.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decision {
    pub notify: bool,
    pub highlight: bool,
    /// The actions of the matching rule, as JSON (for `/notifications`).
    pub actions: Vec<Value>,
    /// `set_tweak` name -> value, for the push gateway.
    pub tweaks: Map<String, Value>,
}

/// The room as the push conditions read it.
pub struct RoomFacts {
    pub member_count: u64,
    pub power_levels: Option<PushConditionPowerLevelsCtx>,
}

/// The power levels a push condition needs, from an `m.room.power_levels` content; `creators`
/// have unlimited power in room versions that privilege them.
pub fn power_levels_ctx(content: Option<&Value>, creators: Vec<OwnedUserId>, auth: &AuthorizationRules) -> PushConditionPowerLevelsCtx {
    let int = |v: Option<&Value>, d: i64| -> Int {
        let n = v.and_then(|v| v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok()))).unwrap_or(d);
        Int::new_saturating(n)
    };
    let empty = Value::Null;
    let c = content.unwrap_or(&empty);
    let users: BTreeMap<OwnedUserId, Int> = c
        .get("users")
        .and_then(Value::as_object)
        .map(|m| m.iter().filter_map(|(k, v)| Some((UserId::parse(k).ok()?, int(Some(v), 0)))).collect())
        .unwrap_or_default();
    let mut notifications = ruma::power_levels::NotificationPowerLevels::new();
    notifications.room = int(c.get("notifications").and_then(|n| n.get("room")), 50);
    let rules = ruma::room_version_rules::RoomPowerLevelsRules::new(auth, creators);
    PushConditionPowerLevelsCtx::new(users, int(c.get("users_default"), 0), notifications, rules)
}

/// Evaluates `rules` for `user` against `event` (the client-format event JSON), one event and
/// one user at a time, as ruma's `Ruleset::get_actions` does. The evaluator uses
/// [`PreparedEvent`], which gives the same answers for many users at a fraction of the cost.
pub fn decide(rules: &Ruleset, user: &UserId, display_name: &str, room_id: &RoomId, room: &RoomFacts, event: &Value) -> Decision {
    let Ok(raw) = serde_json::value::to_raw_value(event) else { return Decision::default() };
    let raw: Raw<Value> = Raw::from_json(raw);
    let mut ctx =
        PushConditionRoomCtx::new(room_id.to_owned(), UInt::new_saturating(room.member_count), user.to_owned(), display_name.to_owned());
    if let Some(pl) = &room.power_levels {
        ctx = ctx.with_power_levels(pl.clone());
    }
    // Without a thread-subscription callback the evaluation never awaits anything.
    let Some(actions) = rules.get_actions(&raw, &ctx).now_or_never() else { return Decision::default() };
    Decision::from_actions(actions)
}

impl Decision {
    /// What a matching rule's actions decide.
    pub fn from_actions(actions: &[Action]) -> Self {
        let mut d = Decision::default();
        for a in actions {
            d.notify |= a.should_notify();
            d.highlight |= a.is_highlight();
            if let Action::SetTweak(t) = a {
                let value = match t {
                    Tweak::Highlight(_) => Value::Bool(a.is_highlight()),
                    _ => t.value().and_then(|v| serde_json::from_str(v.get()).ok()).unwrap_or(Value::Bool(true)),
                };
                d.tweaks.insert(t.set_tweak().to_owned(), value);
            }
            if let Ok(v) = serde_json::to_value(a) {
                d.actions.push(v);
            }
        }
        if !d.notify {
            d.highlight = false;
        }
        d
    }

    /// The actions as stored for `/notifications`.
    pub fn actions_json(&self) -> String {
        Value::Array(self.actions.clone()).to_string()
    }
}

/// Actions a client may give a rule: the spec's, the legacy ones Synapse still accepts, and
/// well-formed `set_tweak` objects.
pub fn valid_action(a: &Value) -> bool {
    match a {
        Value::String(s) => matches!(s.as_str(), "notify" | "dont_notify" | "coalesce"),
        Value::Object(o) => o.get("set_tweak").is_some_and(Value::is_string),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ruma::{owned_room_id, owned_user_id};

    pub(super) fn facts(n: u64) -> RoomFacts {
        RoomFacts { member_count: n, power_levels: Some(power_levels_ctx(None, vec![], &AuthorizationRules::V6)) }
    }

    pub(super) fn msg(sender: &str, body: &str, extra: Value) -> Value {
        let mut content = json!({"msgtype": "m.text", "body": body});
        if let (Some(c), Some(e)) = (content.as_object_mut(), extra.as_object()) {
            c.extend(e.clone());
        }
        json!({"type": "m.room.message", "sender": sender, "event_id": "$e", "room_id": "!r:x", "content": content})
    }

    #[test]
    fn a_message_in_a_two_person_room_notifies_without_highlight() {
        let alice = owned_user_id!("@alice:x");
        let d =
            decide(&Ruleset::server_default(&alice), &alice, "alice", &owned_room_id!("!r:x"), &facts(2), &msg("@bob:x", "hi", json!({})));
        assert!(d.notify && !d.highlight);
        assert_eq!(d.tweaks.get("sound"), Some(&json!("default")));
    }

    #[test]
    fn a_mention_highlights_and_own_events_never_notify() {
        let alice = owned_user_id!("@alice:x");
        let rules = Ruleset::server_default(&alice);
        let mention = msg("@bob:x", "hey", json!({"m.mentions": {"user_ids": ["@alice:x"]}}));
        let d = decide(&rules, &alice, "alice", &owned_room_id!("!r:x"), &facts(5), &mention);
        assert!(d.notify && d.highlight);
        let own = msg("@alice:x", "hey", json!({"m.mentions": {"user_ids": ["@alice:x"]}}));
        assert_eq!(decide(&rules, &alice, "alice", &owned_room_id!("!r:x"), &facts(5), &own), Decision::default());
    }

    #[test]
    fn stored_rules_keep_user_rules_and_default_overrides() {
        let alice = owned_user_id!("@alice:x");
        let mut rules = rules_from_stored(&alice, None);
        let room = json!({"rule_id": "!r:x", "default": false, "enabled": true, "actions": []});
        let alias = json!({"rule_id": "#a:x", "default": false, "enabled": true, "actions": ["notify"]});
        rules.insert("room".into(), json!([room, alias]));
        rules["override"][0]["enabled"] = json!(true);
        rules["override"][0]["actions"] = json!(["dont_notify"]);
        let back = rules_from_stored(&alice, Some(&rules_to_stored(&rules)));
        assert_eq!(back["room"].as_array().map(Vec::len), Some(2));
        assert_eq!(back["override"][0]["rule_id"], ".m.rule.master");
        assert_eq!(back["override"][0]["enabled"], true);
        let set = ruleset(&back);
        assert_eq!(set.room.len(), 1);
        let d = decide(&set, &alice, "alice", &owned_room_id!("!r:y"), &facts(2), &msg("@bob:x", "hi", json!({})));
        assert!(!d.notify, "the enabled master rule silences everything");
    }

    /// The prepared path (event flattened once, context reused across users) decides exactly
    /// what ruma's one-shot evaluation decides, for every user and every kind of event.
    #[test]
    fn only_known_actions_are_valid() {
        assert!(valid_action(&json!("notify")) && valid_action(&json!("dont_notify")));
        assert!(valid_action(&json!({"set_tweak": "highlight", "value": true})));
        assert!(!valid_action(&json!("not_an_action")) && !valid_action(&json!(3)) && !valid_action(&json!({"value": 1})));
    }
}
