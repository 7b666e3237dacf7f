//! Upgrading a room to a new version: a replacement room carrying the old room's important
//! state, power levels, bans and invites; a tombstone in the old room; the old room's
//! aliases, directory listing and its members' tags and direct-chat marks moved over; and the
//! old room's power levels raised so no one but the powerful can speak in it.

use crate::Services;
use crate::actors::room::{CreateReplacement, ReplacementStart, SendEvent, Upgrade};
use crate::auth::expiring::ExpiringMap;
use crate::auth::tokens::Session;
use crate::error::{ErrorKind, Result};
use crate::events::{self, EventDraft, Pdu};
use ruma::room_version_rules::{RoomIdFormatVersion, RoomVersionRules};
use ruma::{OwnedRoomId, RoomId, UserId};
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// State copied to the replacement as it is, in this order.
const COPIED_STATE: &[&str] = &[
    "m.room.join_rules",
    "m.room.name",
    "m.room.topic",
    "m.room.history_visibility",
    "m.room.guest_access",
    "m.room.avatar",
    "m.room.encryption",
    "m.room.server_acl",
    "m.room.related_groups",
    "m.room.canonical_alias",
];

const TOMBSTONE_BODY: &str = "This room has been replaced";

/// How long a user's upgrade of a room answers their repeats of it, as Synapse's response cache.
const REPEAT_WINDOW: Duration = Duration::from_secs(5 * 60);
/// Upgrades remembered at most; beyond, the oldest answer is forgotten first.
const REMEMBERED_UPGRADES: usize = 10_000;

/// Upgrades made in the last [`REPEAT_WINDOW`], by old room and upgrader. A client that retries
/// an upgrade (its connection dropped before the answer) gets the replacement it already has,
/// not a second one with the old room's tombstone moved to it. One upgrade runs at a time, so a
/// repeat sent while the first still runs waits for its answer.
pub struct RecentUpgrades {
    running: tokio::sync::Mutex<()>,
    done: ExpiringMap<OwnedRoomId>,
}

impl Default for RecentUpgrades {
    fn default() -> Self {
        Self { running: tokio::sync::Mutex::new(()), done: ExpiringMap::new(REPEAT_WINDOW, REMEMBERED_UPGRADES) }
    }
}

fn upgrade_key(room_id: &RoomId, user: &UserId) -> String {
    format!("{room_id} {user}")
}

/// Replaces the room with one of `new_version` and returns the replacement's ID. Only a member
/// who may send `m.room.tombstone` in the old room may.
pub async fn upgrade(svc: &Arc<Services>, who: &Session, room_id: &RoomId, new_version: &str) -> Result<OwnedRoomId> {
    let new_rules = events::supported_rules(new_version).ok_or_else(super::room_creation::unsupported)?;
    super::suspension::check(who, super::suspension::Act::Send)?;
    if who.shadow_banned {
        return Ok(crate::ids::new_room_id(svc.server_name()));
    }
    let key = upgrade_key(room_id, &who.user_id);
    let _running = svc.recent_upgrades.running.lock().await;
    if let Some(replacement) = svc.recent_upgrades.done.get(&key) {
        return Ok(replacement);
    }
    // Before v12 the replacement's ID is chosen here and its create event names the tombstone;
    // from v12 the ID is the create event's hash, and the tombstone follows the replacement.
    let replacement_room = (new_rules.room_id_format == RoomIdFormatVersion::V1).then(|| crate::ids::new_room_id(svc.server_name()));
    let upgrader = who.user_id.clone();
    let join = super::membership::join_content(svc, upgrader.as_str(), "join").await?;
    let (svc2, old_room, version, fixed_id) = (svc.clone(), room_id.to_string(), new_version.to_owned(), replacement_room.clone());
    let create: CreateReplacement = Box::new(move |start: ReplacementStart| {
        Box::pin(async move {
            let old_rules = events::rules_for(&start.room_version);
            let tombstone_id = start.tombstone_id.as_ref().map(|e| e.as_str());
            let plan = plan(upgrader.as_str(), &old_room, tombstone_id, &start.state, &old_rules, &new_rules, join);
            let room = super::room_creation::PreparedRoom {
                creator: upgrader.clone(),
                version,
                create_content: plan.create_content,
                events: plan.events.into_iter().map(|d| (upgrader.clone(), d)).collect(),
                is_public: false,
                room_id: fixed_id,
            };
            let new_room = super::room_creation::create_prepared(&svc2, room).await?;
            Ok(new_room.to_string())
        })
    });
    let msg = Upgrade {
        sender: who.user_id.clone(),
        body: TOMBSTONE_BODY.into(),
        replacement_room: replacement_room.map(|r| r.to_string()),
        create: Arc::new(Mutex::new(Some(create))),
    };
    let (_, new_room) = svc.send_to_room(room_id, msg).await??;
    let new_room = crate::ids::parse_room_id(&new_room)?;
    log::info!("{} upgraded {room_id} to {new_room} (version {new_version})", who.user_id);
    move_room_data(svc, room_id, &new_room).await?;
    restrict_old_room(svc, &who.user_id, room_id).await?;
    svc.recent_upgrades.done.insert_value(key, new_room.clone());
    Ok(new_room)
}

/// What the replacement is created with: its create content and the events after it.
#[derive(Debug)]
struct Plan {
    create_content: Map<String, Value>,
    events: Vec<EventDraft>,
}

/// A power level field as a number (older versions allow integer strings).
fn level(pl: &Map<String, Value>, key: &str, default: i64) -> i64 {
    pl.get(key).and_then(as_level).unwrap_or(default)
}

fn as_level(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

/// Power levels with every integer string turned into a number: valid in every version, and
/// the only form from v10 on.
fn normalized(pl: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in pl {
        let v = match v {
            Value::Object(m) if matches!(k.as_str(), "events" | "users" | "notifications") => {
                Value::Object(m.iter().map(|(k, v)| (k.clone(), as_level(v).map_or_else(|| v.clone(), |n| json!(n)))).collect())
            }
            Value::String(_) => as_level(v).map_or_else(|| v.clone(), |n| json!(n)),
            other => other.clone(),
        };
        out.insert(k.clone(), v);
    }
    out
}

/// The creators of a room with privileged creators: the create event's sender and its
/// `additional_creators`.
fn privileged_creators(state: &[Pdu], rules: &RoomVersionRules) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    if !rules.authorization.explicitly_privilege_room_creators {
        return out;
    }
    if let Some(create) = state.iter().find(|p| p.kind == "m.room.create") {
        out.insert(create.sender.to_string());
        if let Some(list) = create.content.get("additional_creators").and_then(Value::as_array) {
            out.extend(list.iter().filter_map(Value::as_str).map(str::to_owned));
        }
    }
    out
}

/// The replacement's content from the old room's state (pure, so it is tested on its own).
fn plan(
    upgrader: &str,
    old_room: &str,
    tombstone_id: Option<&str>,
    state: &[Pdu],
    old_rules: &RoomVersionRules,
    new_rules: &RoomVersionRules,
    join: Value,
) -> Plan {
    let get = |kind: &str, key: &str| state.iter().find(|p| p.kind == kind && p.state_key.as_deref() == Some(key));

    let mut create_content = Map::new();
    let mut predecessor = json!({ "room_id": old_room });
    if let Some(id) = tombstone_id {
        predecessor["event_id"] = json!(id);
    }
    create_content.insert("predecessor".into(), predecessor);
    if let Some(old) = get("m.room.create", "") {
        for k in ["m.federate", "type"] {
            if let Some(v) = old.content.get(k) {
                create_content.insert(k.into(), v.clone());
            }
        }
    }

    let mut pl = match get("m.room.power_levels", "").and_then(|p| p.content.as_object()) {
        Some(old) => normalized(old),
        None => super::room_creation::default_power_levels(upgrader, new_rules),
    };
    if !pl.get("users").is_some_and(Value::is_object) {
        pl.insert("users".into(), json!({}));
    }
    // Enough to send every copied event, ban and invite.
    let needed = pl
        .get("events")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|m| m.values().filter_map(as_level))
        .chain([level(&pl, "state_default", 50), level(&pl, "events_default", 0), level(&pl, "ban", 50), level(&pl, "invite", 0)])
        .max()
        .unwrap_or(100);
    let users_default = level(&pl, "users_default", 0);
    let mut final_pl = None;
    if let Some(Value::Object(users)) = pl.get_mut("users") {
        if new_rules.authorization.explicitly_privilege_room_creators {
            // The upgrader creates the replacement and so holds every power in it; creators
            // may not be listed.
            users.remove(upgrader);
        } else {
            if privileged_creators(state, old_rules).contains(upgrader) {
                users.insert(upgrader.to_owned(), json!(needed.max(100)));
            }
            let current = users.get(upgrader).and_then(as_level).unwrap_or(users_default);
            if current < needed {
                // Raised only while the state is copied, then set back as in the old room.
                let kept = users.clone();
                users.insert(upgrader.to_owned(), json!(needed));
                final_pl = Some(kept);
            }
        }
    }
    let final_pl = final_pl.map(|users| {
        let mut p = pl.clone();
        p.insert("users".into(), Value::Object(users));
        p
    });

    let mut drafts =
        vec![EventDraft::state("m.room.member", upgrader, join), EventDraft::state("m.room.power_levels", "", Value::Object(pl))];
    // What the old room lacks of these takes a private room's defaults, as Synapse's upgrade does.
    let defaults = [
        ("m.room.join_rules", json!({"join_rule": "invite"})),
        ("m.room.history_visibility", json!({"history_visibility": "shared"})),
        ("m.room.guest_access", json!({"guest_access": "can_join"})),
    ];
    for kind in COPIED_STATE {
        let default = defaults.iter().find(|(k, _)| k == kind).map(|(_, v)| v.clone());
        if let Some(content) = get(kind, "").map(|p| p.content.clone()).or(default) {
            drafts.push(EventDraft::state(kind, "", content));
        }
    }
    let is_space = get("m.room.create", "").and_then(|p| p.content.get("type")).and_then(Value::as_str) == Some("m.space");
    let mut members: Vec<&Pdu> = state.iter().filter(|p| p.kind == "m.room.member" || (is_space && p.kind == "m.space.child")).collect();
    members.sort_by_key(|p| p.stream_ordering);
    for p in members {
        let Some(key) = p.state_key.as_deref() else { continue };
        if p.kind == "m.space.child" {
            drafts.push(EventDraft::state(&p.kind, key, p.content.clone()));
            continue;
        }
        let mut content = match p.membership() {
            Some(m @ ("ban" | "invite")) if key != upgrader => json!({ "membership": m }),
            _ => continue,
        };
        for k in ["reason", "is_direct"] {
            if let Some(v) = p.content.get(k) {
                content[k] = v.clone();
            }
        }
        drafts.push(EventDraft::state("m.room.member", key, content));
    }
    if let Some(p) = final_pl {
        drafts.push(EventDraft::state("m.room.power_levels", "", Value::Object(p)));
    }
    Plan { create_content, events: drafts }
}

/// Moves what lives outside the rooms' events: local aliases, the directory listing, and each
/// local member's room push rule, tags and direct-chat marks of the old room.
async fn move_room_data(svc: &Arc<Services>, old: &RoomId, new: &RoomId) -> Result<()> {
    let (o, n) = (old.to_string(), new.to_string());
    let members = svc
        .db
        .run(move |c| {
            crate::store::rooms::move_to_replacement(c, &o, &n)?;
            crate::store::memberships::room_members(c, &o)
        })
        .await?;
    let suffix = format!(":{}", svc.server_name());
    for m in members.into_iter().filter(|m| m.membership == "join" && m.user_id.ends_with(&suffix)) {
        let Ok(user) = UserId::parse(&m.user_id) else { continue };
        super::push_rules::copy_room_rule(svc, &user, old.as_str(), new.as_str()).await?;
        let tags = super::account_data::tags(svc, &user, old).await?;
        if !tags.is_empty() {
            super::account_data::write(svc, &user, Some(new), "m.tag", &json!({ "tags": tags })).await?;
        }
        let direct = match super::account_data::get(svc, &user, None, "m.direct").await {
            Ok(v) => v,
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        if let Some(marked) = with_replacement(&direct, old.as_str(), new.as_str()) {
            super::account_data::write(svc, &user, None, "m.direct", &marked).await?;
        }
    }
    Ok(())
}

/// `m.direct` content with the new room beside the old one wherever the old one is listed;
/// `None` if the old room is not listed.
fn with_replacement(direct: &Value, old: &str, new: &str) -> Option<Value> {
    let mut out = direct.as_object()?.clone();
    let mut changed = false;
    for rooms in out.values_mut().filter_map(Value::as_array_mut) {
        if rooms.iter().any(|r| r == old) && !rooms.iter().any(|r| r == new) {
            rooms.push(json!(new));
            changed = true;
        }
    }
    changed.then_some(Value::Object(out))
}

/// After the tombstone: the old room's canonical alias is cleared (its aliases now name the
/// replacement) and its `events_default` and `invite` raised above every ordinary user. Each
/// is what the upgrader's power allows: a refusal leaves that part as it was.
async fn restrict_old_room(svc: &Arc<Services>, upgrader: &UserId, room_id: &RoomId) -> Result<()> {
    let r = room_id.to_string();
    let state = svc.db.run(move |c| crate::store::events::current_state(c, &r)).await?;
    let get = |kind: &str| state.iter().find(|p| p.kind == kind && p.state_key.as_deref() == Some(""));
    let mut drafts = Vec::new();
    if get("m.room.canonical_alias").is_some_and(|p| p.content.as_object().is_some_and(|m| !m.is_empty())) {
        drafts.push(EventDraft::state("m.room.canonical_alias", "", json!({})));
    }
    if let Some(pl) = get("m.room.power_levels").and_then(|p| p.content.as_object()) {
        let restricted = 50.max(level(pl, "users_default", 0).saturating_add(1));
        let mut pl = pl.clone();
        let mut changed = false;
        for k in ["events_default", "invite"] {
            if level(&pl, k, 0) < restricted {
                pl.insert(k.into(), json!(restricted));
                changed = true;
            }
        }
        if changed {
            drafts.push(EventDraft::state("m.room.power_levels", "", Value::Object(pl)));
        }
    }
    for draft in drafts {
        let kind = draft.kind.clone();
        let msg = SendEvent::new(upgrader.to_owned(), draft);
        match svc.send_to_room(room_id, msg).await? {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::Forbidden => log::info!("upgrade of {room_id}: {upgrader} may not send {kind}: {e}"),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pdu(kind: &str, key: &str, sender: &str, content: Value, at: i64) -> Pdu {
        Pdu {
            event_id: ruma::OwnedEventId::try_from(format!("$e{at}")).unwrap(),
            room_id: ruma::OwnedRoomId::try_from("!old:h").unwrap(),
            sender: ruma::OwnedUserId::try_from(sender).unwrap(),
            kind: kind.into(),
            state_key: Some(key.into()),
            content,
            origin_server_ts: 0,
            depth: at,
            redacts: None,
            stream_ordering: at,
            redacted_because: None,
        }
    }

    fn old_state(users: Value) -> Vec<Pdu> {
        vec![
            pdu("m.room.create", "", "@a:h", json!({"creator": "@a:h", "room_version": "10", "m.federate": false}), 1),
            pdu("m.room.member", "@a:h", "@a:h", json!({"membership": "join"}), 2),
            pdu(
                "m.room.power_levels",
                "",
                "@a:h",
                json!({"users": users, "events": {"m.room.tombstone": 50, "m.room.power_levels": "100"}, "state_default": 50}),
                3,
            ),
            pdu("m.room.topic", "", "@a:h", json!({"topic": "t"}), 4),
            pdu("m.room.member", "@bad:h", "@a:h", json!({"membership": "ban", "reason": "spam"}), 5),
            pdu("m.room.member", "@guest:h", "@a:h", json!({"membership": "invite"}), 6),
            pdu("m.room.member", "@gone:h", "@gone:h", json!({"membership": "leave"}), 7),
        ]
    }

    fn kinds(plan: &Plan) -> Vec<(String, String)> {
        plan.events.iter().map(|d| (d.kind.clone(), d.state_key.clone().unwrap_or_default())).collect()
    }

    #[test]
    fn copies_state_bans_invites_and_links_the_predecessor() {
        let plan =
            plan("@a:h", "!old:h", Some("$t"), &old_state(json!({"@a:h": 100})), &RoomVersionRules::V10, &RoomVersionRules::V2, json!({}));
        assert_eq!(plan.create_content["predecessor"], json!({"room_id": "!old:h", "event_id": "$t"}));
        assert_eq!(plan.create_content["m.federate"], json!(false));
        let k = kinds(&plan);
        let want = [
            ("m.room.member", "@a:h"),
            ("m.room.power_levels", ""),
            ("m.room.join_rules", ""),
            ("m.room.topic", ""),
            ("m.room.history_visibility", ""),
            ("m.room.guest_access", ""),
            ("m.room.member", "@bad:h"),
            ("m.room.member", "@guest:h"),
        ];
        assert_eq!(k, want.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect::<Vec<_>>());
        assert_eq!(plan.events[6].content, json!({"membership": "ban", "reason": "spam"}));
        assert_eq!(plan.events[5].content, json!({"guest_access": "can_join"}), "absent: a private room's default");
        assert_eq!(plan.events[1].content["events"]["m.room.power_levels"], json!(100), "integer strings become numbers");
    }

    #[test]
    fn a_less_powerful_upgrader_is_raised_then_set_back() {
        let state = old_state(json!({"@a:h": 100, "@mod:h": 50}));
        let plan = plan("@mod:h", "!old:h", None, &state, &RoomVersionRules::V10, &RoomVersionRules::V10, json!({}));
        assert_eq!(plan.events[1].content["users"]["@mod:h"], json!(100));
        let last = plan.events.last().unwrap();
        assert_eq!(last.kind, "m.room.power_levels");
        assert_eq!(last.content["users"], json!({"@a:h": 100, "@mod:h": 50}));
        assert!(plan.create_content["predecessor"].get("event_id").is_none());
    }

    #[test]
    fn creators_are_not_listed_from_v12() {
        let plan = plan(
            "@a:h",
            "!old:h",
            None,
            &old_state(json!({"@a:h": 100, "@b:h": 20})),
            &RoomVersionRules::V10,
            &RoomVersionRules::V12,
            json!({}),
        );
        assert_eq!(plan.events[1].content["users"], json!({"@b:h": 20}));
        assert_ne!(plan.events.last().unwrap().kind, "m.room.power_levels");
    }

    #[test]
    fn direct_marks_gain_the_replacement() {
        let d = json!({"@x:h": ["!old:h"], "@y:h": ["!other:h"]});
        assert_eq!(with_replacement(&d, "!old:h", "!new:h"), Some(json!({"@x:h": ["!old:h", "!new:h"], "@y:h": ["!other:h"]})));
        assert_eq!(with_replacement(&d, "!none:h", "!new:h"), None);
    }
}
