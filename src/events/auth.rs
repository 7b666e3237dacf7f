//! A room's current state in memory, and ruma's authorization rules checked against it.
//!
//! Every event a room actor accepts goes through [`RoomState::check`]: ruma-state-res's
//! state-independent rules (the auth events it names are exactly those the version selects) and
//! state-dependent rules (membership, power levels, join rules, redaction in v1-v2, creators in
//! v12) for the room's version. What remains here are the server's own readings of the state
//! (levels for policy decisions, membership lists) and the input checks a client gets as
//! 400s before the rules run.

use super::{EventDraft, Pdu};
use crate::error::{Error, Result};
use ruma::events::room::member::MembershipState;
use ruma::events::room::power_levels::{RoomPowerLevels, RoomPowerLevelsEventContent, RoomPowerLevelsSource, UserPowerLevel};
use ruma::events::{StateEventType, TimelineEventType};
use ruma::room_version_rules::{AuthorizationRules, RoomVersionRules};
use ruma::state_res::events::{RoomCreateEvent, RoomPowerLevelsEvent, RoomPowerLevelsIntField};
use ruma::{EventId, MilliSecondsSinceUnixEpoch, OwnedEventId, OwnedRoomId, OwnedUserId, RoomId, UInt, UserId};
use serde_json::Value;
use serde_json::value::RawValue;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// An event as ruma's authorization rules read it: typed IDs and the raw content. A room's
/// current state is held as these, one copy per event: the content stays compact JSON and is
/// parsed when a reader needs it.
#[derive(Debug)]
pub struct AuthEvent {
    pub event_id: OwnedEventId,
    room_id: Option<OwnedRoomId>,
    pub sender: OwnedUserId,
    origin_server_ts: MilliSecondsSinceUnixEpoch,
    kind: TimelineEventType,
    content: Box<RawValue>,
    state_key: Option<String>,
    prev_events: Vec<OwnedEventId>,
    auth_events: Vec<OwnedEventId>,
    redacts: Option<OwnedEventId>,
    pub depth: i64,
}

impl AuthEvent {
    /// The view of `pdu`, built with `prev_events` and `auth_events` (empty for state already
    /// accepted: only a new event's own references are checked).
    pub fn new(pdu: &Pdu, rules: &RoomVersionRules, prev_events: &[OwnedEventId], auth_events: &[OwnedEventId]) -> Result<Self> {
        let bad = |what: String| Error::bad_json(what);
        let room_id = (!super::derives_room_id(&pdu.kind, rules)).then(|| pdu.room_id.clone());
        Ok(Self {
            event_id: pdu.event_id.clone(),
            room_id,
            sender: pdu.sender.clone(),
            origin_server_ts: MilliSecondsSinceUnixEpoch(UInt::try_from(pdu.origin_server_ts.max(0)).unwrap_or_default()),
            kind: TimelineEventType::from(pdu.kind.as_str()),
            content: serde_json::value::to_raw_value(&pdu.content).map_err(|e| bad(e.to_string()))?,
            state_key: pdu.state_key.clone(),
            prev_events: prev_events.to_vec(),
            auth_events: auth_events.to_vec(),
            redacts: pdu.redacts.clone(),
            depth: pdu.depth,
        })
    }

    /// The content as a JSON value (parsed on each call).
    pub fn content_value(&self) -> Value {
        serde_json::from_str(self.content.get()).unwrap_or(Value::Null)
    }

    /// The event as a PDU of `room_id`, content parsed, without a stream position.
    fn to_pdu(&self, room_id: &RoomId) -> Pdu {
        Pdu {
            event_id: self.event_id.clone(),
            room_id: self.room_id.clone().unwrap_or_else(|| room_id.to_owned()),
            sender: self.sender.clone(),
            kind: self.kind.to_string(),
            state_key: self.state_key.clone(),
            content: self.content_value(),
            origin_server_ts: i64::from(self.origin_server_ts.0),
            depth: self.depth,
            redacts: self.redacts.clone(),
            stream_ordering: 0,
            redacted_because: None,
        }
    }
}

impl ruma::state_res::Event for AuthEvent {
    type Id = OwnedEventId;

    fn event_id(&self) -> &OwnedEventId {
        &self.event_id
    }
    fn room_id(&self) -> Option<&RoomId> {
        self.room_id.as_deref()
    }
    fn sender(&self) -> &UserId {
        &self.sender
    }
    fn origin_server_ts(&self) -> MilliSecondsSinceUnixEpoch {
        self.origin_server_ts
    }
    fn event_type(&self) -> &TimelineEventType {
        &self.kind
    }
    fn content(&self) -> &RawValue {
        &self.content
    }
    fn state_key(&self) -> Option<&str> {
        self.state_key.as_deref()
    }
    fn prev_events(&self) -> Box<dyn DoubleEndedIterator<Item = &OwnedEventId> + '_> {
        Box::new(self.prev_events.iter())
    }
    fn auth_events(&self) -> Box<dyn DoubleEndedIterator<Item = &OwnedEventId> + '_> {
        Box::new(self.auth_events.iter())
    }
    fn redacts(&self) -> Option<&OwnedEventId> {
        self.redacts.as_ref()
    }
    fn rejected(&self) -> bool {
        // Only accepted events ever enter the state.
        false
    }
}

#[derive(Debug, Clone, Default)]
pub struct RoomState {
    /// The current state event of each (type, state key). Nothing indexes them by event ID: the
    /// rules look up a new event's auth events among the few its type selects.
    state: HashMap<(StateEventType, String), Arc<AuthEvent>>,
    /// Private: every change must drop `interested` and `joined`.
    members: HashMap<OwnedUserId, MembershipState>,
    /// `interested_users`, kept until a membership changes: every commit names them all.
    interested: Option<Arc<[OwnedUserId]>>,
    /// `joined_users`, kept the same way.
    joined: Option<Arc<[OwnedUserId]>>,
}

/// The members whose membership `wanted` accepts, sorted, made once into `cache` and shared
/// until a membership changes.
fn member_list(
    cache: &mut Option<Arc<[OwnedUserId]>>,
    members: &HashMap<OwnedUserId, MembershipState>,
    wanted: impl Fn(&MembershipState) -> bool,
) -> Arc<[OwnedUserId]> {
    cache
        .get_or_insert_with(|| {
            let mut list: Vec<OwnedUserId> = members.iter().filter(|(_, m)| wanted(m)).map(|(u, _)| u.clone()).collect();
            list.sort_unstable();
            list.into()
        })
        .clone()
}

impl RoomState {
    pub fn get(&self, kind: &str, key: &str) -> Option<&AuthEvent> {
        self.get_typed(&StateEventType::from(kind), key)
    }

    fn get_typed(&self, kind: &StateEventType, key: &str) -> Option<&AuthEvent> {
        self.state.get(&(kind.clone(), key.to_owned())).map(Arc::as_ref)
    }

    pub fn is_empty(&self) -> bool {
        self.state.is_empty()
    }

    /// The current state as PDUs of `room_id` (content parsed, no stream positions).
    pub fn pdus(&self, room_id: &RoomId) -> Vec<Pdu> {
        self.state.values().map(|e| e.to_pdu(room_id)).collect()
    }

    pub fn membership(&self, user: &UserId) -> MembershipState {
        self.members.get(user).cloned().unwrap_or(MembershipState::Leave)
    }

    /// Every user with a membership, and that membership.
    pub fn members(&self) -> impl Iterator<Item = (&OwnedUserId, &MembershipState)> {
        self.members.iter()
    }

    pub fn joined_members(&self) -> impl Iterator<Item = &UserId> {
        self.members.iter().filter(|(_, m)| **m == MembershipState::Join).map(|(u, _)| u.as_ref())
    }

    /// Everyone whose sync should hear about a new event: joined and invited users, distinct.
    pub fn interested_users(&mut self) -> Arc<[OwnedUserId]> {
        member_list(&mut self.interested, &self.members, |m| matches!(m, MembershipState::Join | MembershipState::Invite))
    }

    /// The joined members, sorted (for a binary search).
    pub fn joined_users(&mut self) -> Arc<[OwnedUserId]> {
        member_list(&mut self.joined, &self.members, |m| *m == MembershipState::Join)
    }

    pub fn apply(&mut self, pdu: &Pdu, rules: &RoomVersionRules) {
        let Some(sk) = &pdu.state_key else { return };
        if let Some(m) = pdu.membership() {
            match UserId::parse(sk) {
                Ok(user) => {
                    self.members.insert(user, MembershipState::from(m));
                    self.interested = None;
                    self.joined = None;
                }
                Err(_) => log::warn!("member event {} has a state key that is not a user ID", pdu.event_id),
            }
        }
        let view = match AuthEvent::new(pdu, rules, &[], &[]) {
            Ok(view) => Arc::new(view),
            Err(e) => {
                log::warn!("state event {} cannot be read by the authorization rules: {e}", pdu.event_id);
                return;
            }
        };
        self.state.insert((StateEventType::from(pdu.kind.as_str()), sk.clone()), view);
    }

    /// The room's creators, as the version defines them (the create event's `creator` or sender,
    /// and from v12 its `additional_creators`).
    pub fn creators(&self, rules: &AuthorizationRules) -> HashSet<OwnedUserId> {
        let Some(create) = self.get("m.room.create", "") else { return HashSet::new() };
        RoomCreateEvent::new(create).creators(rules).unwrap_or_default()
    }

    /// The power levels in force, through ruma's typed content (creators infinite from v12).
    pub fn power_levels(&self, rules: &AuthorizationRules) -> RoomPowerLevels {
        let content =
            self.get("m.room.power_levels", "").and_then(|p| serde_json::from_str::<RoomPowerLevelsEventContent>(p.content.get()).ok());
        RoomPowerLevels::new(RoomPowerLevelsSource::from(content), rules, self.creators(rules))
    }

    /// `user`'s level as a number: an infinitely powerful creator (v12) is `i64::MAX`.
    pub fn user_level(&self, user: &UserId, rules: &AuthorizationRules) -> i64 {
        match self.power_levels(rules).for_user(user) {
            UserPowerLevel::Int(i) => i.into(),
            _ => i64::MAX,
        }
    }

    /// Whether the power levels let `user` send state events of type `kind`.
    pub fn may_send_state(&self, user: &str, kind: &str, rules: &AuthorizationRules) -> bool {
        UserId::parse(user).is_ok_and(|u| self.power_levels(rules).user_can_send_state(&u, StateEventType::from(kind)))
    }

    /// Whether `sender` may redact an event sent by `original_sender`: the server's policy for its
    /// own clients (from v3 the rules accept the redaction event and leave this to the server).
    pub fn may_redact(&self, sender: &UserId, original_sender: Option<&UserId>, rules: &AuthorizationRules) -> bool {
        original_sender == Some(sender) || self.power_levels(rules).user_can_redact_event_of_other(sender)
    }

    /// The auth events of a new event: ruma's selection for the version, from the current state.
    pub fn auth_events_for(&self, draft: &EventDraft, sender: &UserId, rules: &AuthorizationRules) -> Result<Vec<OwnedEventId>> {
        let content = serde_json::value::to_raw_value(&draft.content).map_err(|e| Error::bad_json(e.to_string()))?;
        let kind = TimelineEventType::from(draft.kind.as_str());
        let types =
            ruma::state_res::auth_types_for_event(&kind, sender, draft.state_key.as_deref(), &content, rules).map_err(Error::bad_json)?;
        Ok(types.iter().filter_map(|(t, sk)| self.get(&t.to_string(), sk)).map(|p| p.event_id.clone()).collect())
    }

    /// What a client is told before the rules run: a member event needs a user ID as state key
    /// (400 `M_INVALID_PARAM`, as Synapse) and a known membership (400 `M_BAD_JSON`); kicking
    /// someone who is not in the room is refused although the rules would record it.
    pub fn refuse_malformed(&self, draft: &EventDraft, sender: &UserId) -> Result<()> {
        if draft.kind != "m.room.member" {
            return Ok(());
        }
        let target = draft.state_key.as_deref().ok_or_else(|| Error::bad_json("Member events need a state_key"))?;
        let Ok(target) = UserId::parse(target) else {
            return Err(Error::invalid_param(format!("Member state key is not a user ID: {target}")));
        };
        let membership =
            draft.content.get("membership").and_then(Value::as_str).ok_or_else(|| Error::bad_json("Member events need a membership"))?;
        match MembershipState::from(membership) {
            MembershipState::Leave => {
                if target != sender && self.membership(&target) == MembershipState::Leave {
                    return Err(Error::forbidden(format!("{target} is not in the room")));
                }
            }
            MembershipState::Join | MembershipState::Invite | MembershipState::Ban | MembershipState::Knock => {}
            _ => return Err(Error::bad_json(format!("Unknown membership {membership}"))),
        }
        Ok(())
    }

    /// Checks a built event with ruma's authorization rules for the room version, against the
    /// auth events it names and the current state. A malformed power levels event is 400
    /// `M_BAD_JSON` (as Synapse refuses it), any other refusal 403 `M_FORBIDDEN`.
    pub fn check(&self, event: &AuthEvent, rules: &AuthorizationRules) -> Result<()> {
        use ruma::state_res::Event;
        if event.kind == TimelineEventType::RoomCreate && !self.is_empty() {
            return Err(Error::forbidden("The room already exists"));
        }
        if event.kind == TimelineEventType::RoomPowerLevels {
            validate_power_levels(event, rules)?;
        }
        // The auth events an event may name are the current state events of the types its own
        // type selects (and the create event, which from v12 the room ID names).
        let selected = ruma::state_res::auth_types_for_event(&event.kind, &event.sender, event.state_key.as_deref(), &event.content, rules)
            .unwrap_or_default();
        let candidates: Vec<&AuthEvent> =
            selected.iter().filter_map(|(t, k)| self.get_typed(t, k)).chain(self.get("m.room.create", "")).collect();
        let by_id = |id: &EventId| candidates.iter().copied().find(|e| e.event_id == id);
        ruma::state_res::check_state_independent_auth_rules(rules, event, by_id)
            .map_err(|e| Error::forbidden(format!("Refused by the room's rules: {e}")))?;
        let by_key = |kind: &StateEventType, key: &str| self.get_typed(kind, key);
        ruma::state_res::check_state_dependent_auth_rules(rules, event, by_key).map_err(|e| {
            log::debug!("refused {} from {}: {e}", event.event_type(), event.sender());
            Error::forbidden(format!("Refused by the room's rules: {e}"))
        })
    }
}

/// The shape the rules require of power levels (integers from v10, integer strings before;
/// `users` keyed by user IDs), read by ruma's own power levels helper.
fn validate_power_levels(event: &AuthEvent, rules: &AuthorizationRules) -> Result<()> {
    let pl = RoomPowerLevelsEvent::new(event);
    let bad = |e: String| Error::bad_json(format!("Invalid power levels: {e}"));
    use RoomPowerLevelsIntField::*;
    for field in [UsersDefault, EventsDefault, StateDefault, Ban, Redact, Kick, Invite] {
        pl.get_as_int(field, rules).map_err(bad)?;
    }
    pl.events(rules).map_err(bad)?;
    pl.notifications(rules).map_err(bad)?;
    pl.users(rules).map_err(bad)?;
    Ok(())
}

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;
