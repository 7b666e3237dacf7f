//! Spaces: the rooms below a space (`/hierarchy`), walked depth first over the `m.space.child`
//! state of local rooms (no federation: a child this server does not hold is left out), showing
//! only rooms the requester could join or read.

use crate::Services;
use crate::error::{Error, Result};
use crate::events::Pdu;
use crate::store::Conn;
use ruma::{RoomId, UserId};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};

/// Rooms per page when the client names no limit, and the most it gets.
pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 100;
/// The deepest a walk goes, whatever the client asks.
pub const MAX_DEPTH: i64 = 100;
/// Children of one space considered, in the spec's order (Synapse's bound too).
const MAX_CHILDREN: usize = 50;
/// Rooms one walk returns over all its pages: a page re-walks the tree from the root, so this
/// bounds the work of the last page. The hierarchy ends there.
const MAX_WALK: i64 = 1_000;

/// A `/hierarchy` request, already parsed.
#[derive(Debug, Clone)]
pub struct HierarchyRequest {
    pub suggested_only: bool,
    pub max_depth: Option<i64>,
    pub limit: i64,
    pub from: Option<String>,
}

#[derive(Debug)]
pub struct HierarchyPage {
    pub rooms: Vec<Value>,
    pub next_batch: Option<String>,
}

/// The token names how many rooms earlier pages returned and the parameters they were asked
/// with, which a later page may not change (400 as the spec says).
fn token(skip: i64, req: &HierarchyRequest) -> String {
    format!("{skip}_{}_{}", req.max_depth.map_or_else(|| "-".to_owned(), |d| d.to_string()), u8::from(req.suggested_only))
}

fn parse_token(t: &str, req: &HierarchyRequest) -> Result<i64> {
    let bad = || Error::invalid_param("Unknown pagination token");
    let (skip, rest) = t.split_once('_').ok_or_else(bad)?;
    let skip: i64 = skip.parse().map_err(|_| bad())?;
    if !(0..MAX_WALK).contains(&skip) {
        return Err(bad());
    }
    if token(skip, req) != format!("{skip}_{rest}") {
        return Err(Error::invalid_param("suggested_only and max_depth cannot change during pagination"));
    }
    Ok(skip)
}

/// What the walk reads of one local room.
struct RoomInfo {
    state: HashMap<String, Value>,
    version: String,
    membership: Option<String>,
    joined: i64,
    /// Valid `m.space.child` events, in the spec's order (empty unless the room is a space).
    children: Vec<Pdu>,
}

impl RoomInfo {
    fn content(&self, kind: &str) -> Option<&Value> {
        self.state.get(kind)
    }

    fn str_field(&self, kind: &str, field: &str) -> Option<&str> {
        self.content(kind).and_then(|c| c.get(field)).and_then(Value::as_str)
    }

    /// The rooms a restricted join rule lets members of join by.
    fn allowed_rooms(&self) -> Vec<String> {
        let allow = self.content("m.room.join_rules").and_then(|c| c.get("allow")).and_then(Value::as_array);
        allow
            .into_iter()
            .flatten()
            .filter(|a| a.get("type").and_then(Value::as_str) == Some("m.room_membership"))
            .filter_map(|a| a.get("room_id").and_then(Value::as_str).map(str::to_owned))
            .collect()
    }
}

const SUMMARY_STATE: &[&str] = &[
    "m.room.name",
    "m.room.topic",
    "m.room.canonical_alias",
    "m.room.avatar",
    "m.room.join_rules",
    "m.room.history_visibility",
    "m.room.guest_access",
    "m.room.create",
    "m.room.encryption",
];

/// A child event counts if its state key is a room ID and its `via` a non-empty list of strings.
fn valid_child(p: &Pdu, suggested_only: bool) -> bool {
    let via = p.content.get("via").and_then(Value::as_array);
    let via_ok = via.is_some_and(|v| !v.is_empty() && v.iter().all(Value::is_string));
    let suggested = p.content.get("suggested").and_then(Value::as_bool) == Some(true);
    via_ok && p.state_key.as_deref().is_some_and(|k| RoomId::parse(k).is_ok()) && (!suggested_only || suggested)
}

/// The spec's order of a space's children: those with a valid `order` first, by it, then by
/// the child event's timestamp, then by room ID.
fn child_order(p: &Pdu) -> (u8, String, i64, String) {
    let order = p
        .content
        .get("order")
        .and_then(Value::as_str)
        .filter(|o| o.len() <= 50 && o.bytes().all(|b| (0x20..=0x7e).contains(&b)))
        .map(str::to_owned);
    (u8::from(order.is_none()), order.unwrap_or_default(), p.origin_server_ts, p.state_key.clone().unwrap_or_default())
}

fn room_info(c: &mut Conn, room_id: &str, user: &str, suggested_only: bool) -> Result<Option<RoomInfo>> {
    let Some(row) = crate::store::rooms::room_row(c, room_id)? else { return Ok(None) };
    let state: HashMap<String, Value> = crate::store::events::room_state_of_types(c, &[room_id.to_owned()], SUMMARY_STATE)?
        .into_iter()
        .map(|p| (p.kind, p.content))
        .collect();
    let membership = crate::store::memberships::membership(c, room_id, user)?.map(|m| m.membership);
    let joined = crate::store::memberships::joined_count(c, room_id)?;
    let is_space = state.get("m.room.create").and_then(|c| c.get("type")).and_then(Value::as_str) == Some("m.space");
    let mut children = if is_space { crate::store::events::state_of_type(c, room_id, "m.space.child")? } else { Vec::new() };
    children.retain(|p| valid_child(p, suggested_only));
    children.sort_by_key(child_order);
    children.truncate(MAX_CHILDREN);
    Ok(Some(RoomInfo { state, version: row.room_version, membership, joined, children }))
}

/// Whether the requester may see the room in a hierarchy: joined or invited, or the room is
/// public, knockable or world readable, or restricted to a room they are joined to.
fn accessible(c: &mut Conn, info: &RoomInfo, user: &str) -> Result<bool> {
    let join_rule = info.str_field("m.room.join_rules", "join_rule");
    if matches!(join_rule, Some("public" | "knock" | "knock_restricted"))
        || info.str_field("m.room.history_visibility", "history_visibility") == Some("world_readable")
        || matches!(info.membership.as_deref(), Some("join" | "invite"))
    {
        return Ok(true);
    }
    if join_rule == Some("restricted") {
        for room in info.allowed_rooms() {
            if crate::store::memberships::membership(c, &room, user)?.is_some_and(|m| m.membership == "join") {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// One room's chunk: the directory entry's fields, the room's version and encryption, the
/// rooms a restricted join rule names, and its children as stripped state.
fn summary(room_id: &str, info: &RoomInfo) -> Value {
    let by_type: HashMap<&str, &Value> = info.state.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let mut e = super::room_directory::entry(room_id, info.joined, &by_type);
    e["room_version"] = json!(info.version);
    if let Some(alg) = info.str_field("m.room.encryption", "algorithm") {
        e["encryption"] = json!(alg);
    }
    if matches!(info.str_field("m.room.join_rules", "join_rule"), Some("restricted" | "knock_restricted")) {
        e["allowed_room_ids"] = json!(info.allowed_rooms());
    }
    let children: Vec<Value> = info
        .children
        .iter()
        .map(|p| {
            json!({"type": p.kind, "state_key": p.state_key, "content": p.content, "sender": p.sender,
                   "origin_server_ts": p.origin_server_ts})
        })
        .collect();
    e["children_state"] = json!(children);
    e
}

/// A page of the hierarchy below `root` (the root first). 403 if the root is unknown or the
/// requester may not see it, as Synapse answers.
pub async fn hierarchy(svc: &Services, user: &UserId, root: &RoomId, req: HierarchyRequest) -> Result<HierarchyPage> {
    walk(svc, Some(user.to_string()), root, req).await
}

/// The admin API's hierarchy: every local room of the tree, whoever may see it; 404 for an
/// unknown root (Synapse answers 500 there).
pub async fn hierarchy_as_admin(svc: &Services, root: &RoomId, req: HierarchyRequest) -> Result<HierarchyPage> {
    walk(svc, None, root, req).await
}

/// `viewer` None: an admin, for whom every room is accessible.
async fn walk(svc: &Services, viewer: Option<String>, root: &RoomId, req: HierarchyRequest) -> Result<HierarchyPage> {
    let skip = req.from.as_deref().map(|t| parse_token(t, &req)).transpose()?.unwrap_or(0);
    let limit = req.limit.clamp(1, MAX_LIMIT);
    let max_depth = req.max_depth.unwrap_or(MAX_DEPTH).clamp(0, MAX_DEPTH);
    let root = root.to_string();
    let admin = viewer.is_none();
    // An admin has no membership of their own to show; no user ID is empty.
    let user = viewer.unwrap_or_default();
    svc.db
        .run(move |c| {
            let may_see = |c: &mut Conn, info: &RoomInfo| if admin { Ok(true) } else { accessible(c, info, &user) };
            let refused = || if admin { Error::not_found("Room not found") } else { Error::forbidden("You may not preview this room") };
            let info = room_info(c, &root, &user, req.suggested_only)?.ok_or_else(refused)?;
            if !may_see(c, &info)? {
                return Err(refused());
            }
            let mut stack: Vec<(String, i64, Option<RoomInfo>)> = vec![(root.clone(), 0, Some(info))];
            let mut seen: HashSet<String> = HashSet::new();
            let (mut walked, mut rooms) = (0i64, Vec::new());
            while let Some((room, depth, known)) = stack.pop() {
                if (rooms.len() as i64) >= limit || walked >= MAX_WALK {
                    stack.push((room, depth, known));
                    break;
                }
                if !seen.insert(room.clone()) {
                    continue;
                }
                let info = match known {
                    Some(i) => i,
                    None => match room_info(c, &room, &user, req.suggested_only)? {
                        Some(i) if may_see(c, &i)? => i,
                        _ => continue,
                    },
                };
                if walked >= skip {
                    rooms.push(summary(&room, &info));
                }
                walked += 1;
                if depth < max_depth {
                    for child in info.children.iter().rev() {
                        let child_id = child.state_key.clone().unwrap_or_default();
                        if !seen.contains(&child_id) {
                            stack.push((child_id, depth + 1, None));
                        }
                    }
                }
            }
            let more = walked < MAX_WALK && stack.iter().any(|(r, _, _)| !seen.contains(r));
            Ok(HierarchyPage { rooms, next_batch: more.then(|| token(walked, &req)) })
        })
        .await
}
