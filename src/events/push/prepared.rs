//! One event made ready for evaluating many users' push rules: what a rule decides is worked out
//! once per user, and what a rule or condition finds in the event once per event.

use super::template::{Plan, Template};
use super::{Decision, RoomFacts};
use futures_util::FutureExt;
use ruma::push::{AnyPushRuleRef, FlattenedJson, PushConditionRoomCtx, Ruleset};
use ruma::serde::Raw;
use ruma::{RoomId, UInt, UserId};
use serde_json::Value;
use std::sync::Arc;

/// A user's rule set ready for evaluating many events: what each rule decides when it matches
/// is worked out once, and its actions' JSON is shared by every notification it makes.
pub struct UserRules {
    set: Ruleset,
    /// One per rule, in the rule set's evaluation order. What deciding an event for a member
    /// reads of each rule sits here, side by side: in a large room every member's rules are
    /// read for every event, and chasing each rule's own allocations (its ID, its flags) missed
    /// the cache on every member.
    pub(super) entries: Vec<Entry>,
    /// The template this set fits, when it fits one: then what its rules decide for an event
    /// is worked out once for every member it fits, but for the rules that are the member's own.
    template: Option<Arc<Template>>,
}

pub(super) struct Entry {
    /// What the rule decides when it applies (shared by every set a [`RuleInterner`] built).
    pub(super) decision: Arc<(Decision, Arc<str>)>,
    /// The rule's number in a [`RuleInterner`] when whether it matches an event does not
    /// depend on whose rule it is.
    pub(super) shared: Option<u32>,
    pub(super) enabled: bool,
    /// The rule asks for the member's display name in the body: it never applies to a member
    /// without one (as in Synapse; ruma would match an empty name against an empty body).
    names_display_name: bool,
    /// What can rule it out before ruma reads it.
    pub(super) screen: Screen,
}

/// What rules out a rule for an event without evaluating it in full. In a large
/// room the rules that name the member (the invite and mention rules, the user-name and
/// display-name word matches) are evaluated once per member per event; most fail on a part
/// that is the same for everyone (the event is not an invite) or on a word the body does not
/// hold at all, and those parts are worked out once per event here. Each screen only ever
/// answers "does not apply": a rule it passes is evaluated by ruma as before, so it never
/// changes a decision.
#[derive(Default)]
pub(super) struct Screen {
    /// The rule's conditions that read nothing of the user (their place in the rule, their
    /// number in the interner): one that fails fails the rule (a rule applies only when all its
    /// conditions do).
    pub(super) conditions: Vec<(usize, u32)>,
    /// A content rule's pattern, lowercased, when it has no wildcards: a body that does not
    /// hold it (lowercased) cannot match it as a word.
    pub(super) body_word: Option<String>,
    /// The rule asks for the member's display name in the body.
    pub(super) display_name: bool,
}

impl UserRules {
    /// Rules evaluated for this user alone.
    pub fn new(set: Ruleset) -> Self {
        let shared = vec![None; set.iter().count()];
        let screens = set.iter().map(|_| Screen::default()).collect();
        let decisions = set.iter().map(|r| Arc::new(decision_of(r))).collect();
        Self::build(set, shared, screens, decisions)
    }

    /// Rules whose outcome for an event is the same for every user who has them (every
    /// server-default rule but the display-name mention, most user rules) are numbered in
    /// `interner`, so that [`PreparedEvent::decide`] works each out once per event.
    pub fn shared(set: Ruleset, interner: &mut RuleInterner) -> Self {
        let shared: Vec<Option<u32>> = set.iter().map(|r| interner.number(r)).collect();
        // Shared rules are screened too: the server-default rules that name the member (the
        // invite and mention rules, the user-name word) are shared but each member's own, so
        // their outcome is worked out per member unless a screen settles it.
        let screens = set.iter().map(|r| interner.screen(r)).collect();
        let decisions = set.iter().map(|r| interner.decision(r)).collect();
        Self::build(set, shared, screens, decisions)
    }

    fn build(set: Ruleset, shared: Vec<Option<u32>>, screens: Vec<Screen>, decisions: Vec<Arc<(Decision, Arc<str>)>>) -> Self {
        use ruma::push::{AnyPushRuleRef as R, PushCondition};
        let entries = set
            .iter()
            .zip(shared.into_iter().zip(screens).zip(decisions))
            .map(|(rule, ((shared, screen), decision))| {
                #[allow(deprecated)]
                let names_display_name = match rule {
                    R::Override(r) | R::Underride(r) => r.conditions.iter().any(|c| matches!(c, PushCondition::ContainsDisplayName)),
                    _ => false,
                };
                Entry { decision, shared, enabled: rule.enabled(), names_display_name, screen }
            })
            .collect();
        Self { set, entries, template: None }
    }

    /// Decides through `template` from now on, if the set fits it.
    pub fn fit(&mut self, template: &Arc<Template>) {
        self.template = template.fits(self).then(|| template.clone());
    }

    pub(super) fn set(&self) -> &Ruleset {
        &self.set
    }

    /// The rule at place `i` in evaluation order (`set().iter().nth(i)`, without walking the
    /// kinds before it).
    pub(super) fn rule_at(&self, mut i: usize) -> Option<AnyPushRuleRef<'_>> {
        let s = &self.set;
        if i < s.override_.len() {
            return s.override_.get_index(i).map(AnyPushRuleRef::Override);
        }
        i -= s.override_.len();
        if i < s.content.len() {
            return s.content.get_index(i).map(AnyPushRuleRef::Content);
        }
        i -= s.content.len();
        if i < s.room.len() {
            return s.room.get_index(i).map(AnyPushRuleRef::Room);
        }
        i -= s.room.len();
        if i < s.sender.len() {
            return s.sender.get_index(i).map(AnyPushRuleRef::Sender);
        }
        i -= s.sender.len();
        s.underride.get_index(i).map(AnyPushRuleRef::Underride)
    }

    /// Rules numbered as shared.
    #[cfg(test)]
    fn shared_count(&self) -> usize {
        self.entries.iter().filter(|e| e.shared.is_some()).count()
    }
}

/// What `rule` decides, with its actions' JSON.
fn decision_of(rule: AnyPushRuleRef<'_>) -> (Decision, Arc<str>) {
    let d = Decision::from_actions(rule.actions());
    let json: Arc<str> = d.actions_json().into();
    (d, json)
}

/// Numbers rules by their whole content (kind, ID, enabled flag, conditions or pattern), for
/// [`UserRules::shared`]. Only a rule that reads nothing of the user is numbered: ruma's
/// conditions read the user's ID only to skip one's own events (which never reach the rules
/// here) and their display name only in `contains_display_name`.
#[derive(Default)]
pub struct RuleInterner {
    numbers: std::collections::HashMap<String, u32>,
    /// Decisions by their actions' JSON: every set's rules with the same actions share one.
    decisions: std::collections::HashMap<Arc<str>, Arc<(Decision, Arc<str>)>>,
}

impl RuleInterner {
    fn decision(&mut self, rule: AnyPushRuleRef<'_>) -> Arc<(Decision, Arc<str>)> {
        let (d, json) = decision_of(rule);
        self.decisions.entry(json.clone()).or_insert_with(|| Arc::new((d, json))).clone()
    }

    fn number(&mut self, rule: AnyPushRuleRef<'_>) -> Option<u32> {
        use ruma::push::{AnyPushRuleRef as R, PushCondition};
        let key = match rule {
            R::Override(r) | R::Underride(r) => {
                #[allow(deprecated)]
                if r.conditions.iter().any(|c| matches!(c, PushCondition::ContainsDisplayName)) {
                    return None;
                }
                let kind = if matches!(rule, R::Override(_)) { "override" } else { "underride" };
                format!("{kind} {}", serde_json::to_string(r).ok()?)
            }
            R::Content(r) => format!("content {}", serde_json::to_string(r).ok()?),
            R::Room(r) => format!("room {}", serde_json::to_string(r).ok()?),
            R::Sender(r) => format!("sender {}", serde_json::to_string(r).ok()?),
            _ => return None,
        };
        self.intern(key)
    }

    /// The screen of a rule not shared. Conditions are numbered by kind and content, like rules.
    fn screen(&mut self, rule: AnyPushRuleRef<'_>) -> Screen {
        use ruma::push::{AnyPushRuleRef as R, PushCondition};
        let mut screen = Screen::default();
        match rule {
            R::Override(r) | R::Underride(r) => {
                for (i, c) in r.conditions.iter().enumerate() {
                    #[allow(deprecated)]
                    if matches!(c, PushCondition::ContainsDisplayName) {
                        screen.display_name = true;
                    } else if let Some(n) = self.condition_number(c) {
                        screen.conditions.push((i, n));
                    }
                }
            }
            R::Content(r) => {
                let pattern = r.pattern.to_lowercase();
                if !pattern.contains(WILDCARDS) {
                    screen.body_word = Some(pattern);
                }
            }
            _ => {}
        }
        screen
    }

    /// A condition's number, for one that reads nothing of the user: every kind but the
    /// display-name match and kinds ruma adds that this list does not know.
    fn condition_number(&mut self, c: &ruma::push::PushCondition) -> Option<u32> {
        const KNOWN: [&str; 5] =
            ["event_match", "room_member_count", "sender_notification_permission", "event_property_is", "event_property_contains"];
        if !KNOWN.contains(&c.kind()) {
            return None;
        }
        let key = format!("condition {}", serde_json::to_string(c).ok()?);
        self.intern(key)
    }

    /// The number of `key`, given the next free one when new.
    fn intern(&mut self, key: String) -> Option<u32> {
        let next = u32::try_from(self.numbers.len()).ok()?;
        Some(*self.numbers.entry(key).or_insert(next))
    }

    /// Rules numbered so far.
    pub fn len(&self) -> usize {
        self.numbers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.numbers.is_empty()
    }
}

/// One event made ready for evaluating many users' rules: flattened once, with the room's part
/// of the condition context (member count, power levels) built once; only the user's ID and
/// display name change between users.
pub struct PreparedEvent {
    flat: FlattenedJson,
    sender: Option<String>,
    ctx: PushConditionRoomCtx,
    /// Shared rules' and conditions' outcomes for this event, by number: 0 not worked out yet,
    /// 1 no match, 2 match.
    outcomes: Vec<u8>,
    /// The body, lowercased as ruma lowercases it for word matches (`None`: no string body).
    pub(super) lower_body: Option<String>,
    /// `ctx` names the member being decided for. Only ruma's own evaluation reads the member
    /// from it, so it is filled in only when ruma is asked: most members' decisions come from
    /// outcomes already worked out and screens, and copying every member's ID cost more.
    ctx_is_member: bool,
    /// What the members who fit a template get, worked out for this event by the first of them.
    pub(super) plan: Option<Plan>,
}

/// ruma's glob wildcards: a pattern with one is matched by ruma alone.
const WILDCARDS: [char; 2] = ['*', '?'];

impl PreparedEvent {
    /// `event` is the client-format event JSON; `anyone` fills the user's place until
    /// [`decide`](Self::decide) names one.
    pub fn new(event: &Value, anyone: &UserId, room_id: &RoomId, room: &RoomFacts) -> Option<Self> {
        let raw: Raw<Value> = Raw::from_json(serde_json::value::to_raw_value(event).ok()?);
        let flat = FlattenedJson::from_raw(&raw);
        let sender = flat.get_str("sender").map(str::to_owned);
        let mut ctx =
            PushConditionRoomCtx::new(room_id.to_owned(), UInt::new_saturating(room.member_count), anyone.to_owned(), String::new());
        if let Some(pl) = &room.power_levels {
            ctx = ctx.with_power_levels(pl.clone());
        }
        let lower_body = flat.get_str("content.body").map(str::to_lowercase);
        Some(Self { flat, sender, ctx, outcomes: Vec::new(), lower_body, ctx_is_member: false, plan: None })
    }

    /// Whether the event has `key` (flattened as ruma flattens it), with a string there if
    /// `string`.
    pub(super) fn has_key(&self, key: &str, string: bool) -> bool {
        if string { self.flat.get_str(key).is_some() } else { self.flat.get(key).is_some() }
    }

    /// What `rules` decide for `user`, with the actions' JSON; `None` when no rule matches (or
    /// the user sent the event: one's own events never notify).
    pub fn decide(&mut self, rules: &UserRules, user: &UserId, display_name: &str) -> Option<Arc<(Decision, Arc<str>)>> {
        if self.sender.as_deref() == Some(user.as_str()) {
            return None;
        }
        self.ctx_is_member = false;
        if let Some(template) = &rules.template {
            return self.decide_by_template(rules, template, user, display_name);
        }
        for (rule, e) in rules.set.iter().zip(&rules.entries) {
            if self.entry_applies(rule, e, user, display_name) {
                return Some(e.decision.clone());
            }
        }
        None
    }

    /// Whether the rule `e` describes applies to the event for `user`.
    pub(super) fn entry_applies(&mut self, rule: AnyPushRuleRef<'_>, e: &Entry, user: &UserId, display_name: &str) -> bool {
        if !e.enabled || (e.names_display_name && display_name.is_empty()) {
            return false;
        }
        match e.shared {
            Some(n) if self.known(n).is_none() && self.screened_out(rule, &e.screen, user, display_name) => {
                self.record(n, false);
                false
            }
            Some(n) => self.outcome(n, user, display_name, |flat, ctx| rule_applies(rule, flat, ctx)),
            None => {
                !self.screened_out(rule, &e.screen, user, display_name) && {
                    self.name_member(user, display_name);
                    // Without a thread-subscription callback the evaluation never awaits anything.
                    rule.applies(&self.flat, &self.ctx).now_or_never() == Some(true)
                }
            }
        }
    }

    /// Puts the member in the condition context ruma reads (it skips the member's own events
    /// by it, and matches their display name).
    fn name_member(&mut self, user: &UserId, display_name: &str) {
        if self.ctx_is_member {
            return;
        }
        self.ctx.user_id = user.to_owned();
        self.ctx.user_display_name.clear();
        self.ctx.user_display_name.push_str(display_name);
        self.ctx_is_member = true;
    }

    /// The outcome numbered `n` for this event, worked out by `applies` the first time.
    pub(super) fn outcome(
        &mut self,
        n: u32,
        user: &UserId,
        display_name: &str,
        applies: impl FnOnce(&FlattenedJson, &PushConditionRoomCtx) -> bool,
    ) -> bool {
        match self.known(n) {
            Some(known) => known,
            None => {
                self.name_member(user, display_name);
                let applies = applies(&self.flat, &self.ctx);
                self.record(n, applies);
                applies
            }
        }
    }

    /// The outcome numbered `n` when it has been worked out for this event.
    fn known(&self, n: u32) -> Option<bool> {
        match self.outcomes.get(n as usize) {
            Some(1) => Some(false),
            Some(2) => Some(true),
            _ => None,
        }
    }

    fn record(&mut self, n: u32, applies: bool) {
        let n = n as usize;
        if n >= self.outcomes.len() {
            self.outcomes.resize(n + 1, 0);
        }
        self.outcomes[n] = 1 + u8::from(applies);
    }

    /// Whether `screen` shows that `rule` does not apply, without evaluating it in full.
    /// (A disabled rule never gets here: [`entry_applies`](Self::entry_applies) skips it.)
    fn screened_out(&mut self, rule: AnyPushRuleRef<'_>, screen: &Screen, user: &UserId, display_name: &str) -> bool {
        let conditions = conditions_of(rule);
        for &(i, n) in &screen.conditions {
            let Some(c) = conditions.get(i) else { continue };
            if !self.outcome(n, user, display_name, |flat, ctx| condition_applies(c, flat, ctx)) {
                return true;
            }
        }
        // ruma matches a word only where the lowercased body holds it (or equals it); with no
        // string body nothing matches.
        let absent = |word: &str| self.lower_body.as_deref().is_none_or(|b| !b.contains(word));
        if screen.body_word.as_deref().is_some_and(absent) {
            return true;
        }
        if screen.display_name
            && !display_name.contains(WILDCARDS)
            && !self.lower_body.as_deref().is_some_and(|b| holds_lowercased(b, display_name))
        {
            return true;
        }
        false
    }
}

/// Whether `lower` holds `name` lowercased, without a copy of it on the heap for the short ASCII
/// names most members have: it is asked per member and event.
fn holds_lowercased(lower: &str, name: &str) -> bool {
    const SHORT: usize = 64;
    if name.len() <= SHORT && name.is_ascii() {
        let mut buf = [0u8; SHORT];
        let folded = &mut buf[..name.len()];
        folded.copy_from_slice(name.as_bytes());
        folded.make_ascii_lowercase();
        return std::str::from_utf8(folded).is_ok_and(|n| lower.contains(n));
    }
    lower.contains(&name.to_lowercase())
}

/// A push rule's conditions (none for content, room and sender rules, whose match is implied).
pub(super) fn conditions_of(rule: AnyPushRuleRef<'_>) -> &[ruma::push::PushCondition] {
    match rule {
        AnyPushRuleRef::Override(r) | AnyPushRuleRef::Underride(r) => r.conditions.as_slice(),
        _ => &[],
    }
}

/// Whether `rule` applies to the event, as ruma's `applies` answers: a condition [`plain`] finds
/// false settles it (a rule applies only when all its conditions do); otherwise ruma evaluates
/// the rule. Most of a message's shared rules fail on a match of its type.
pub(super) fn rule_applies(rule: AnyPushRuleRef<'_>, flat: &FlattenedJson, ctx: &PushConditionRoomCtx) -> bool {
    use ruma::push::AnyPushRuleRef as R;
    if let R::Override(r) | R::Underride(r) = rule
        && r.conditions.iter().any(|c| plain(c, flat, ctx) == Some(false))
    {
        return false;
    }
    // Without a thread-subscription callback the evaluation never awaits anything.
    rule.applies(flat, ctx).now_or_never() == Some(true)
}

/// Whether `c` holds for the event, as ruma's `PushCondition::applies` answers for a user who
/// did not send it.
pub(super) fn condition_applies(c: &ruma::push::PushCondition, flat: &FlattenedJson, ctx: &PushConditionRoomCtx) -> bool {
    plain(c, flat, ctx).unwrap_or_else(|| c.applies(flat, ctx).now_or_never() == Some(true))
}

/// The answer [`plain_match`] gives for an `event_match` condition; `None` for any other.
fn plain(c: &ruma::push::PushCondition, flat: &FlattenedJson, ctx: &PushConditionRoomCtx) -> Option<bool> {
    match c {
        ruma::push::PushCondition::EventMatch(m) => plain_match(flat, ctx, &m.key, &m.pattern),
        _ => None,
    }
}

/// ruma's `event_match` for a pattern of ASCII without wildcards, on a key other than the body
/// (matched by words): the value, found where ruma finds it, equal to the pattern ignoring case.
/// ruma lowercases both sides and compiles the pattern as a glob on every call, once per rule
/// and event. `None` where ruma must answer: the body, wildcards, a value or pattern that is
/// not ASCII (whose lowercasing may differ from ASCII's).
fn plain_match(flat: &FlattenedJson, ctx: &PushConditionRoomCtx, key: &str, pattern: &str) -> Option<bool> {
    if key == "content.body" || !pattern.is_ascii() || pattern.contains(WILDCARDS) {
        return None;
    }
    let value = if key == "room_id" { Some(ctx.room_id.as_str()) } else { flat.get_str(key) };
    match value {
        None => Some(false),
        Some(v) if v.is_ascii() => Some(v.eq_ignore_ascii_case(pattern)),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{facts, msg};
    use super::super::*;
    use super::*;
    use ruma::{owned_room_id, owned_user_id};
    use serde_json::json;

    #[test]
    fn a_prepared_event_decides_as_the_one_shot_evaluation() {
        let room = owned_room_id!("!r:x");
        let users = [
            owned_user_id!("@alice:x"),
            owned_user_id!("@bob:x"),
            owned_user_id!("@carol:x"),
            owned_user_id!("@erin:x"),
            owned_user_id!("@frank:x"),
        ];
        let names = ["Alice", "bob", "Carol C", "Er*n", ""];
        let mut custom = rules_from_stored(&users[2], None);
        let keyword = json!({"rule_id": "kw", "default": false, "enabled": true, "pattern": "lunch*", "actions": ["notify", {"set_tweak": "highlight"}]});
        let quiet = json!({"rule_id": "!r:x", "default": false, "enabled": true, "actions": []});
        let tea = json!({"rule_id": "tea", "default": false, "enabled": true, "pattern": "Tea Time", "actions": ["notify"]});
        let off = json!({"rule_id": "off", "default": false, "enabled": false, "pattern": "hi", "actions": ["notify", {"set_tweak": "highlight"}]});
        custom.insert("content".into(), json!([keyword, tea, off]));
        custom.insert("room".into(), json!([quiet]));
        let mut silenced = rules_from_stored(&users[1], None);
        silenced["override"][0]["enabled"] = json!(true);
        let rulesets = [
            Ruleset::server_default(&users[0]),
            ruleset(&silenced),
            ruleset(&custom),
            ruleset(&rules_from_stored(&users[3], None)),
            ruleset(&rules_from_stored(&users[4], None)),
        ];
        // The same sets with shared rules numbered once (Erin's and Frank's defaults share all
        // but their mention rules), evaluated through one prepared event per event.
        let mut interner = RuleInterner::default();
        let shared: Vec<UserRules> = rulesets.iter().map(|set| UserRules::shared(set.clone(), &mut interner)).collect();
        assert!(interner.len() < shared.iter().map(|r| r.shared_count()).sum::<usize>(), "rules are shared");
        // And once more through the template of the server's defaults: Erin and Frank fit it;
        // Bob (a default changed) and Carol (rules of her own) do not.
        let mut defaults = |u: &str| UserRules::shared(ruleset(&rules_from_stored(&UserId::parse(u).unwrap(), None)), &mut interner);
        let (t1, t2) = (defaults("@t1:x"), defaults("@t2:x"));
        let template = Arc::new(Template::new(&t1, &t2).expect("default sets line up"));
        let fitted: Vec<UserRules> = rulesets
            .iter()
            .map(|set| {
                let mut r = UserRules::shared(set.clone(), &mut interner);
                r.fit(&template);
                r
            })
            .collect();
        let fits: Vec<bool> = fitted.iter().map(|r| r.template.is_some()).collect();
        assert_eq!(fits[1..], [false, false, true, true], "which sets fit the template");
        let member = |target: &str| {
            json!({"type": "m.room.member", "sender": "@dave:x", "state_key": target, "event_id": "$m", "room_id": "!r:x",
                   "content": {"membership": "invite"}})
        };
        let events = [
            msg("@dave:x", "hi", json!({})),
            msg("@dave:x", "hello alice, lunch?", json!({})),
            msg("@dave:x", "ask Carol C", json!({})),
            msg("@dave:x", "erin? frank?", json!({})),
            msg("@dave:x", "ERIN and ALICE shout", json!({})),
            msg("@dave:x", "Eroon, where is carol c?", json!({})),
            msg("@dave:x", "malice aforethought, carolc", json!({})),
            msg("@dave:x", "\u{212A}ALICE? no: \u{e9}lice, \u{c9}RIN, Bob.", json!({})),
            json!({"type": "m.room.message", "sender": "@dave:x", "event_id": "$n", "room_id": "!r:x", "content": {"body": 42}}),
            msg("@dave:x", "", json!({})),
            msg("@dave:x", "@room wake up", json!({})),
            msg("@carol:x", "@room wake up", json!({})),
            msg("@dave:x", "hey", json!({"m.mentions": {"user_ids": ["@bob:x"]}})),
            msg("@dave:x", "hey", json!({"m.mentions": {"user_ids": ["@frank:x", "@erin:x"]}})),
            msg("@dave:x", "lunchtime", json!({"msgtype": "m.notice"})),
            msg("@dave:x", "TEA TIME!", json!({})),
            msg("@dave:x", "teatime, tea timer", json!({})),
            msg("@dave:x", "tea time", json!({"m.mentions": {}})),
            msg("@alice:x", "own", json!({})),
            member("@alice:x"),
            member("@bob:x"),
            member("@erin:x"),
            json!({"type": "m.reaction", "sender": "@dave:x", "event_id": "$r", "room_id": "!r:x", "content": {}}),
            json!({"type": "m.room.encrypted", "sender": "@dave:x", "event_id": "$c", "room_id": "!r:x", "content": {}}),
            json!({"type": "m.room.tombstone", "sender": "@dave:x", "state_key": "", "event_id": "$t", "room_id": "!r:x",
                   "content": {"body": "moved", "replacement_room": "!n:x"}}),
        ];
        let sender = owned_user_id!("@dave:x");
        for count in [2, 5] {
            let mut pl = power_levels_ctx(Some(&json!({"users": {"@carol:x": 50}})), vec![], &AuthorizationRules::V6);
            pl.users_default = Int::from(0);
            let room_facts = RoomFacts { member_count: count, power_levels: Some(pl) };
            for event in &events {
                let mut prepared = PreparedEvent::new(event, &sender, &room, &room_facts).expect("an object");
                let mut prepared_shared = PreparedEvent::new(event, &sender, &room, &room_facts).expect("an object");
                let mut prepared_fitted = PreparedEvent::new(event, &sender, &room, &room_facts).expect("an object");
                for ((((user, name), set), shared), fitted) in users.iter().zip(names).zip(&rulesets).zip(&shared).zip(&fitted) {
                    let mut expected = decide(set, user, name, &room, &room_facts, event);
                    if name.is_empty() && set.override_.get(".m.rule.contains_display_name").is_some() && expected.highlight {
                        // ruma's one-shot path matches an empty name against an empty body;
                        // the prepared path never mentions a user without a display name.
                        expected = decide(set, user, "\u{1}", &room, &room_facts, event);
                    }
                    let got = prepared.decide(&UserRules::new(set.clone()), user, name).map(|d| d.0.clone()).unwrap_or_default();
                    assert_eq!(got, expected, "{user} in a room of {count}: {event}");
                    let got = prepared_shared.decide(shared, user, name).map(|d| d.0.clone()).unwrap_or_default();
                    assert_eq!(got, expected, "shared rules, {user} in a room of {count}: {event}");
                    let got = prepared_fitted.decide(fitted, user, name).map(|d| d.0.clone()).unwrap_or_default();
                    assert_eq!(got, expected, "through the template, {user} in a room of {count}: {event}");
                }
            }
        }
    }

    #[test]
    fn a_decision_shares_its_actions_json() {
        let alice = owned_user_id!("@alice:x");
        let rules = UserRules::new(Ruleset::server_default(&alice));
        let mut prepared =
            PreparedEvent::new(&msg("@bob:x", "hi", json!({})), &alice, &owned_room_id!("!r:x"), &facts(2)).expect("an object");
        let (d, actions) = &*prepared.decide(&rules, &alice, "alice").expect("a rule matches");
        assert!(d.notify);
        assert_eq!(serde_json::from_str::<Value>(actions).ok(), Some(Value::Array(d.actions.clone())));
    }

    /// The plain comparison answers as ruma's glob match does, or leaves the answer to it.
    #[test]
    fn a_rule_by_its_place_is_the_rule_the_iteration_reaches_there() {
        let user = owned_user_id!("@carol:x");
        let mut lists = rules_from_stored(&user, None);
        let kw = json!({"rule_id": "kw", "default": false, "enabled": true, "pattern": "lunch", "actions": ["notify"]});
        let quiet = json!({"rule_id": "!r:x", "default": false, "enabled": true, "actions": []});
        let friend = json!({"rule_id": "@dan:x", "default": false, "enabled": true, "actions": ["notify"]});
        lists.insert("content".into(), json!([kw]));
        lists.insert("room".into(), json!([quiet]));
        lists.insert("sender".into(), json!([friend]));
        let rules = UserRules::shared(ruleset(&lists), &mut RuleInterner::default());
        let by_iteration: Vec<_> = rules.set().iter().map(|r| (r.rule_id().to_owned(), format!("{r:?}"))).collect();
        assert!(rules.set().sender.len() == 1 && rules.set().room.len() == 1 && !rules.set().underride.is_empty());
        for (i, want) in by_iteration.iter().enumerate() {
            let got = rules.rule_at(i).map(|r| (r.rule_id().to_owned(), format!("{r:?}")));
            assert_eq!(got.as_ref(), Some(want), "place {i}");
        }
        assert!(rules.rule_at(by_iteration.len()).is_none());
    }

    #[test]
    fn a_name_is_found_lowercased_as_to_lowercase_finds_it() {
        let long = "Ab".repeat(40);
        let body = format!("hi alice, émile and {} here", long.to_lowercase());
        for name in ["Alice", "ALICE", "alice", "Émile", "émile", "Bob", long.as_str(), "A", ""] {
            assert_eq!(holds_lowercased(&body, name), body.contains(&name.to_lowercase()), "{name}");
        }
    }

    #[test]
    fn plain_matches_answer_as_ruma_does() {
        use ruma::push::{EventMatchConditionData, PushCondition};
        let event = json!({"type": "m.room.Message", "sender": "@bob:x", "state_key": "", "content": {
            "msgtype": "m.notice", "body": "Hello", "kelvin": "\u{212a}", "k": "k", "n": 3, "empty": ""}});
        let raw: Raw<Value> = Raw::from_json(serde_json::value::to_raw_value(&event).unwrap());
        let flat = FlattenedJson::from_raw(&raw);
        let ctx = PushConditionRoomCtx::new(owned_room_id!("!Room:x"), UInt::new_saturating(3), owned_user_id!("@alice:x"), "Alice".into());
        let keys = [
            "type",
            "sender",
            "state_key",
            "room_id",
            "content.msgtype",
            "content.body",
            "content.kelvin",
            "content.k",
            "content.n",
            "content.empty",
            "missing",
        ];
        let patterns = [
            "m.room.message",
            "M.ROOM.MESSAGE",
            "m.room.*",
            "m.room.messag?",
            "@bob:x",
            "",
            "!room:x",
            "m.notice",
            "hello",
            "k",
            "\u{212a}",
            "K",
            "3",
        ];
        let mut plain = 0;
        for key in keys {
            for pattern in patterns {
                let c = PushCondition::EventMatch(EventMatchConditionData::new(key.to_owned(), pattern.to_owned()));
                let ruma = c.applies(&flat, &ctx).now_or_never() == Some(true);
                assert_eq!(condition_applies(&c, &flat, &ctx), ruma, "{key} against {pattern:?}");
                if let Some(answer) = plain_match(&flat, &ctx, key, pattern) {
                    assert_eq!(answer, ruma, "{key} against {pattern:?}");
                    plain += 1;
                }
            }
        }
        assert!(plain > 50, "only {plain} answered without ruma");
    }
}
