//! A room's current state in memory and the authorization rules checked against it.
//!
//! This covers the rules of room versions 6 to 11 for the events a local server creates:
//! create, membership transitions (join, invite, leave, kick, ban, unban), power levels for
//! state and message events and moderation, redaction rights. Federation-only cases (third
//! party invites, restricted joins via another server, knocking) are refused.

use super::{EventDraft, Pdu};
use crate::error::{Error, Result};
use serde_json::Value;
use std::collections::HashMap;

#[derive(Debug, Clone, Default)]
pub struct RoomState {
    pub state: HashMap<(String, String), Pdu>,
    pub members: HashMap<String, String>,
}

fn int(v: Option<&Value>) -> Option<i64> {
    match v {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    }
}

impl RoomState {
    pub fn get(&self, kind: &str, key: &str) -> Option<&Pdu> {
        self.state.get(&(kind.to_owned(), key.to_owned()))
    }

    pub fn membership(&self, user: &str) -> &str {
        self.members.get(user).map(String::as_str).unwrap_or("leave")
    }

    pub fn creator(&self) -> Option<&str> {
        let create = self.get("m.room.create", "")?;
        create.content.get("creator").and_then(Value::as_str).or(Some(create.sender.as_str()))
    }

    pub fn join_rule(&self) -> &str {
        self.get("m.room.join_rules", "").and_then(|e| e.content.get("join_rule")).and_then(Value::as_str).unwrap_or("invite")
    }

    fn power_levels(&self) -> Option<&Value> {
        self.get("m.room.power_levels", "").map(|e| &e.content)
    }

    pub fn user_level(&self, user: &str) -> i64 {
        match self.power_levels() {
            Some(pl) => int(pl.get("users").and_then(|u| u.get(user))).or_else(|| int(pl.get("users_default"))).unwrap_or(0),
            None => {
                if self.creator() == Some(user) {
                    100
                } else {
                    0
                }
            }
        }
    }

    /// Level needed for `invite`, `kick`, `ban`, `redact`.
    pub fn action_level(&self, action: &str) -> i64 {
        let default = if action == "invite" { 0 } else { 50 };
        self.power_levels().and_then(|pl| int(pl.get(action))).unwrap_or(default)
    }

    pub fn event_level(&self, kind: &str, is_state: bool) -> i64 {
        let Some(pl) = self.power_levels() else { return 0 };
        if let Some(l) = int(pl.get("events").and_then(|e| e.get(kind))) {
            return l;
        }
        if is_state { int(pl.get("state_default")).unwrap_or(50) } else { int(pl.get("events_default")).unwrap_or(0) }
    }

    pub fn joined_members(&self) -> impl Iterator<Item = &str> {
        self.members.iter().filter(|(_, m)| m.as_str() == "join").map(|(u, _)| u.as_str())
    }

    /// Everyone whose sync should hear about a new event: joined and invited users.
    pub fn interested_users(&self) -> Vec<String> {
        self.members.iter().filter(|(_, m)| matches!(m.as_str(), "join" | "invite")).map(|(u, _)| u.clone()).collect()
    }

    pub fn apply(&mut self, pdu: &Pdu) {
        if let Some(sk) = &pdu.state_key {
            if let Some(m) = pdu.membership() {
                self.members.insert(sk.clone(), m.to_owned());
            }
            self.state.insert((pdu.kind.clone(), sk.clone()), pdu.clone());
        }
    }

    /// The auth events of a new event, per the spec's selection rules.
    pub fn auth_events_for(&self, draft: &EventDraft, sender: &str) -> Vec<String> {
        let mut keys: Vec<(&str, String)> = vec![("m.room.create", String::new()), ("m.room.power_levels", String::new())];
        keys.push(("m.room.member", sender.to_owned()));
        if draft.kind == "m.room.member" {
            if let Some(target) = &draft.state_key {
                keys.push(("m.room.member", target.clone()));
            }
            let m = draft.content.get("membership").and_then(Value::as_str);
            if matches!(m, Some("join" | "invite")) {
                keys.push(("m.room.join_rules", String::new()));
            }
        }
        let mut out: Vec<String> = Vec::new();
        for (k, sk) in keys {
            if draft.kind == k && draft.state_key.as_deref() == Some(sk.as_str()) && k != "m.room.member" {
                continue;
            }
            if let Some(e) = self.get(k, &sk)
                && !out.contains(&e.event_id)
            {
                out.push(e.event_id.clone());
            }
        }
        out
    }

    /// Checks `draft` from `sender` against the current state.
    pub fn authorize(&self, draft: &EventDraft, sender: &str) -> Result<()> {
        if draft.kind == "m.room.create" {
            return if self.state.is_empty() { Ok(()) } else { Err(Error::forbidden("The room already exists")) };
        }
        if self.get("m.room.create", "").is_none() {
            return Err(Error::forbidden("The room has no create event"));
        }
        if draft.kind == "m.room.member" {
            return self.authorize_membership(draft, sender);
        }
        if draft.kind == "m.room.power_levels" {
            self.validate_power_levels(&draft.content)?;
        }
        if self.membership(sender) != "join" {
            return Err(Error::forbidden(format!("{sender} is not in the room")));
        }
        if let Some(sk) = &draft.state_key
            && sk.starts_with('@')
            && sk != sender
        {
            return Err(Error::forbidden("You cannot set state keyed by another user's ID"));
        }
        let level = self.user_level(sender);
        let needed = self.event_level(&draft.kind, draft.state_key.is_some());
        if level < needed {
            return Err(Error::forbidden(format!("You need power level {needed} to send {}", draft.kind)));
        }
        if draft.kind == "m.room.power_levels" {
            self.authorize_power_levels(&draft.content, sender, level)?;
        }
        Ok(())
    }

    fn authorize_membership(&self, draft: &EventDraft, sender: &str) -> Result<()> {
        let target = draft.state_key.as_deref().ok_or_else(|| Error::bad_json("Member events need a state_key"))?;
        // Synapse parses the target as a user ID first: 400 M_INVALID_PARAM.
        if ruma::UserId::parse(target).is_err() {
            return Err(Error::invalid_param(format!("Member state key is not a user ID: {target}")));
        }
        let membership =
            draft.content.get("membership").and_then(Value::as_str).ok_or_else(|| Error::bad_json("Member events need a membership"))?;
        let current = self.membership(target);
        let sender_membership = self.membership(sender);
        match membership {
            "join" => {
                if sender != target {
                    return Err(Error::forbidden("You can only join as yourself"));
                }
                // The creator's own join straight after the create event.
                if self.state.len() == 1 && self.creator() == Some(sender) {
                    return Ok(());
                }
                match current {
                    "ban" => Err(Error::forbidden("You are banned from this room")),
                    "join" | "invite" => Ok(()),
                    _ if self.join_rule() == "public" => Ok(()),
                    _ => Err(Error::forbidden("You are not invited to this room")),
                }
            }
            "invite" => {
                if sender_membership != "join" {
                    return Err(Error::forbidden("You are not in the room"));
                }
                match current {
                    "ban" => return Err(Error::forbidden(format!("{target} is banned from the room"))),
                    "join" => return Err(Error::forbidden(format!("{target} is already in the room"))),
                    _ => {}
                }
                if self.user_level(sender) < self.action_level("invite") {
                    return Err(Error::forbidden("You do not have permission to invite"));
                }
                Ok(())
            }
            "leave" => {
                if sender == target {
                    return if matches!(current, "join" | "invite" | "knock") {
                        Ok(())
                    } else {
                        Err(Error::forbidden("You are not in the room"))
                    };
                }
                if sender_membership != "join" {
                    return Err(Error::forbidden("You are not in the room"));
                }
                let sl = self.user_level(sender);
                if current == "ban" && sl < self.action_level("ban") {
                    return Err(Error::forbidden("You do not have permission to unban"));
                }
                if current != "ban" && (sl < self.action_level("kick") || sl <= self.user_level(target)) {
                    return Err(Error::forbidden("You do not have permission to kick this user"));
                }
                if current == "leave" {
                    return Err(Error::forbidden(format!("{target} is not in the room")));
                }
                Ok(())
            }
            "ban" => {
                if sender_membership != "join" {
                    return Err(Error::forbidden("You are not in the room"));
                }
                let sl = self.user_level(sender);
                if sl < self.action_level("ban") || sl <= self.user_level(target) {
                    return Err(Error::forbidden("You do not have permission to ban this user"));
                }
                Ok(())
            }
            "knock" => Err(Error::forbidden("Knocking is not supported")),
            other => Err(Error::bad_json(format!("Unknown membership {other}"))),
        }
    }

    /// The room version's rules, from the create event (an unknown version gets the strictest).
    fn rules(&self) -> ruma::room_version_rules::RoomVersionRules {
        let version = self.get("m.room.create", "").and_then(|c| c.content.get("room_version")).and_then(Value::as_str);
        super::rules_for(version.unwrap_or_default())
    }

    /// The shape the authorization rules require of power levels: an object whose levels are
    /// integers (from v10 on; before, strings holding integers too) and whose `users` keys are
    /// user IDs. Refused as Synapse refuses a malformed local event: 400 `M_BAD_JSON`.
    fn validate_power_levels(&self, content: &Value) -> Result<()> {
        let integers_only = self.rules().authorization.integer_power_levels;
        let level = |field: &str, v: &Value| -> Result<()> {
            let ok = match v {
                Value::Number(n) => n.is_i64(),
                Value::String(s) => !integers_only && s.trim().parse::<i64>().is_ok(),
                _ => false,
            };
            if ok { Ok(()) } else { Err(Error::bad_json(format!("Power level {field} must be an integer"))) }
        };
        let Some(obj) = content.as_object() else { return Err(Error::bad_json("Power levels must be an object")) };
        for field in ["ban", "kick", "redact", "invite", "state_default", "events_default", "users_default"] {
            if let Some(v) = obj.get(field) {
                level(field, v)?;
            }
        }
        for map in ["events", "users", "notifications"] {
            let Some(m) = obj.get(map) else { continue };
            let m = m.as_object().ok_or_else(|| Error::bad_json(format!("Power levels {map} must be an object")))?;
            for (k, v) in m {
                level(&format!("{map}.{k}"), v)?;
                if map == "users" && ruma::UserId::parse(k.as_str()).is_err() {
                    return Err(Error::bad_json(format!("Power levels users key {k} is not a user ID")));
                }
            }
        }
        Ok(())
    }

    fn authorize_power_levels(&self, new: &Value, sender: &str, sender_level: i64) -> Result<()> {
        let Some(old) = self.power_levels() else { return Ok(()) };
        let empty = serde_json::Map::new();
        for field in ["ban", "kick", "redact", "invite", "state_default", "events_default", "users_default"] {
            let (o, n) = (int(old.get(field)), int(new.get(field)));
            if o != n && (o.unwrap_or(0) > sender_level || n.unwrap_or(0) > sender_level) {
                return Err(Error::forbidden(format!("You cannot change {field} beyond your own level")));
            }
        }
        for map in ["events", "users"] {
            let om = old.get(map).and_then(Value::as_object).unwrap_or(&empty);
            let nm = new.get(map).and_then(Value::as_object).unwrap_or(&empty);
            for key in om.keys().chain(nm.keys()) {
                let (o, n) = (int(om.get(key)), int(nm.get(key)));
                if o == n {
                    continue;
                }
                if o.unwrap_or(0) > sender_level || n.unwrap_or(0) > sender_level {
                    return Err(Error::forbidden(format!("You cannot change the level of {key} beyond your own")));
                }
                if map == "users" && key != sender && o.unwrap_or(0) >= sender_level && o.is_some() {
                    return Err(Error::forbidden(format!("You cannot change the level of {key}, who is as powerful as you")));
                }
            }
        }
        Ok(())
    }

    /// Whether `sender` may redact an event sent by `original_sender`.
    pub fn may_redact(&self, sender: &str, original_sender: Option<&str>) -> bool {
        original_sender == Some(sender) || self.user_level(sender) >= self.action_level("redact")
    }
}
