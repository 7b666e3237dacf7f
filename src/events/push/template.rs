//! Members whose rules are the server's defaults, evaluated together. In a large room most
//! members never changed their push rules, so their sets differ only in the few rules that name
//! the member (the invite, mention and user-name rules, the display-name match). What the other
//! rules decide for an event is worked out once; each member then only has their own rules
//! asked, and only those that could apply before the shared decision.

use super::Decision;
use super::prepared::{PreparedEvent, Screen, UserRules, condition_applies, conditions_of, rule_applies};
use ruma::UserId;
use ruma::push::PushCondition;
use std::sync::Arc;

/// What every fitting set has in common, read off two users' default sets.
pub struct Template {
    /// Per rule: the number every fitting set has there, or `None` where the rule is the
    /// member's own.
    numbers: Vec<Option<u32>>,
    /// Per rule that is the member's own: its conditions that are the same in every fitting
    /// set (place, number). One that fails rules the rule out for everyone.
    common_conditions: Vec<Vec<(usize, u32)>>,
    /// Per rule that is the member's own: it matches words of the body, so an event without a
    /// string body rules it out for everyone.
    reads_body: Vec<bool>,
    /// Per rule that is the member's own: the keys its conditions hold only where the event has
    /// them, the same in every fitting set (place, key, whether the value must be a string). The
    /// mention rule is one: its user ID differs per member, its key does not, so a message
    /// without `m.mentions` rules it out for everyone.
    keyed: Vec<Vec<(usize, String, bool)>>,
}

impl Template {
    /// The template of the sets that are `a`'s and `b`'s but for the rules that name their
    /// user; `None` when the two do not line up rule for rule.
    pub fn new(a: &UserRules, b: &UserRules) -> Option<Self> {
        if a.entries.len() != b.entries.len() {
            return None;
        }
        let pairs = || a.entries.iter().zip(&b.entries);
        let numbers = pairs()
            .map(|(x, y)| match (x.shared, y.shared) {
                (Some(p), Some(q)) if p == q => Some(p),
                _ => None,
            })
            .collect();
        let common_conditions =
            pairs().map(|(x, y)| x.screen.conditions.iter().filter(|c| y.screen.conditions.contains(c)).copied().collect()).collect();
        let reads_body = pairs().map(|(x, y)| reads_body(&x.screen) && reads_body(&y.screen)).collect();
        let keyed = a
            .set()
            .iter()
            .zip(b.set().iter())
            .map(|(x, y)| {
                let (x, y) = (conditions_of(x), conditions_of(y));
                (0..x.len().min(y.len()))
                    .filter_map(|p| match (needed_key(&x[p]), needed_key(&y[p])) {
                        (Some(k), Some(l)) if k == l => Some((p, k.0.to_owned(), k.1)),
                        _ => None,
                    })
                    .collect()
            })
            .collect();
        Some(Self { numbers, common_conditions, reads_body, keyed })
    }

    /// Whether `rules` has every rule the template shares, and every common condition and body
    /// match where its rules are the member's own.
    pub(super) fn fits(&self, rules: &UserRules) -> bool {
        rules.entries.len() == self.numbers.len()
            && rules.entries.iter().zip(rules.set().iter()).enumerate().all(|(i, (e, rule))| match self.numbers[i] {
                Some(n) => e.shared == Some(n),
                None => {
                    let conditions = conditions_of(rule);
                    self.common_conditions[i].iter().all(|c| e.screen.conditions.contains(c))
                        && (!self.reads_body[i] || reads_body(&e.screen))
                        && self.keyed[i]
                            .iter()
                            .all(|(p, key, string)| conditions.get(*p).and_then(needed_key) == Some((key.as_str(), *string)))
                }
            })
    }
}

/// The key a condition holds only where the event has it (and whether its value must be a
/// string there), as ruma evaluates it: an `event_match` on anything but the room ID (taken from
/// the room, not the event), an `event_property_is` or `event_property_contains`.
fn needed_key(c: &PushCondition) -> Option<(&str, bool)> {
    match c {
        PushCondition::EventMatch(m) if m.key != "room_id" => Some((&m.key, true)),
        PushCondition::EventPropertyIs(p) => Some((&p.key, false)),
        PushCondition::EventPropertyContains(p) => Some((&p.key, false)),
        _ => None,
    }
}

fn reads_body(screen: &Screen) -> bool {
    screen.body_word.is_some() || screen.display_name
}

/// What an event decides for the members who fit a template.
pub(crate) struct Plan {
    template: Arc<Template>,
    /// The member's own rules that could apply before the shared decision, in order.
    candidates: Vec<usize>,
    /// What the first shared rule that applies decides (`None`: none applies).
    decision: Option<Arc<(Decision, Arc<str>)>>,
}

impl PreparedEvent {
    /// What `rules`, which fit `template`, decide for `user`: the member's own rules that could
    /// apply are asked in order, and the shared decision answers when none does.
    pub(super) fn decide_by_template(
        &mut self,
        rules: &UserRules,
        template: &Arc<Template>,
        user: &UserId,
        display_name: &str,
    ) -> Option<Arc<(Decision, Arc<str>)>> {
        let plan = match self.plan.take() {
            Some(p) if Arc::ptr_eq(&p.template, template) => p,
            _ => self.plan(rules, template, user, display_name),
        };
        let mut decided = None;
        for &i in &plan.candidates {
            let (Some(rule), Some(e)) = (rules.rule_at(i), rules.entries.get(i)) else { continue };
            if self.entry_applies(rule, e, user, display_name) {
                decided = Some(e.decision.clone());
                break;
            }
        }
        let decided = decided.or_else(|| plan.decision.clone());
        self.plan = Some(plan);
        decided
    }

    /// Works the plan out from one fitting member's set: the shared rules' outcomes are the
    /// same for everyone who fits, and a rule of the member's own is left to each member unless
    /// a common condition or a missing body rules it out for all.
    fn plan(&mut self, rules: &UserRules, template: &Arc<Template>, user: &UserId, display_name: &str) -> Plan {
        let mut candidates = Vec::new();
        let mut decision = None;
        for (i, (rule, e)) in rules.set().iter().zip(&rules.entries).enumerate() {
            match template.numbers[i] {
                Some(n) => {
                    if e.enabled && self.outcome(n, user, display_name, |flat, ctx| rule_applies(rule, flat, ctx)) {
                        decision = Some(e.decision.clone());
                        break;
                    }
                }
                None => {
                    let conditions = conditions_of(rule);
                    let ruled_out = (template.reads_body[i] && self.lower_body.is_none())
                        || template.keyed[i].iter().any(|(_, key, string)| !self.has_key(key, *string))
                        || template.common_conditions[i].iter().any(|&(place, n)| {
                            conditions
                                .get(place)
                                .is_some_and(|c| !self.outcome(n, user, display_name, |flat, ctx| condition_applies(c, flat, ctx)))
                        });
                    if !ruled_out {
                        candidates.push(i);
                    }
                }
            }
        }
        Plan { template: template.clone(), candidates, decision }
    }
}
