//! Synapse's room admin API, read side: the room list (ordered, searched, paged), one room's
//! details, members and state, and the rooms' sizes in the store.

use crate::Services;
use crate::error::{Error, Result};
use crate::events::Pdu;
use crate::store::room_stats::{self as stats, RoomRow};
use ruma::RoomId;
use serde::Serialize;
use serde_json::Value;
use std::cmp::Ordering;
use std::collections::HashMap;

/// Most rooms one page of the list returns, whatever the client asks.
pub const MAX_LIST_LIMIT: i64 = 1000;

/// One room as the list shows it (Synapse's fields and names).
#[derive(Debug, Clone, Serialize)]
pub struct RoomSummary {
    pub room_id: String,
    pub name: Option<String>,
    pub canonical_alias: Option<String>,
    pub joined_members: i64,
    pub joined_local_members: i64,
    pub version: String,
    pub creator: String,
    pub encryption: Option<String>,
    pub federatable: bool,
    pub public: bool,
    pub join_rules: Option<String>,
    pub guest_access: Option<String>,
    pub history_visibility: Option<String>,
    pub state_events: i64,
    pub room_type: Option<String>,
}

/// One room's details: the summary and what only the details page shows.
#[derive(Debug, Clone, Serialize)]
pub struct RoomDetails {
    #[serde(flatten)]
    pub summary: RoomSummary,
    pub topic: Option<String>,
    pub avatar: Option<String>,
    pub joined_local_devices: i64,
    pub forgotten: bool,
    pub tombstoned: bool,
    pub replacement_room: Option<String>,
}

/// The list's orderings, as Synapse names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomOrder {
    Name,
    CanonicalAlias,
    JoinedMembers,
    JoinedLocalMembers,
    Version,
    Creator,
    Encryption,
    Federatable,
    Public,
    JoinRules,
    GuestAccess,
    HistoryVisibility,
    StateEvents,
}

/// Every `order_by` value Synapse accepts, in its order (its error message lists them so).
pub const ORDER_NAMES: [&str; 15] = [
    "alphabetical",
    "size",
    "name",
    "canonical_alias",
    "joined_members",
    "joined_local_members",
    "version",
    "creator",
    "encryption",
    "federatable",
    "public",
    "join_rules",
    "guest_access",
    "history_visibility",
    "state_events",
];

impl RoomOrder {
    pub fn parse(s: &str) -> Option<Self> {
        use RoomOrder::*;
        Some(match s {
            "alphabetical" | "name" => Name,
            "size" | "joined_members" => JoinedMembers,
            "canonical_alias" => CanonicalAlias,
            "joined_local_members" => JoinedLocalMembers,
            "version" => Version,
            "creator" => Creator,
            "encryption" => Encryption,
            "federatable" => Federatable,
            "public" => Public,
            "join_rules" => JoinRules,
            "guest_access" => GuestAccess,
            "history_visibility" => HistoryVisibility,
            "state_events" => StateEvents,
            _ => return None,
        })
    }

    /// Counts and versions list largest first, everything else smallest first; a missing value
    /// sorts before any value (SQLite's NULL order, which Synapse's default store has).
    fn compare(self, a: &RoomSummary, b: &RoomSummary) -> Ordering {
        use RoomOrder::*;
        match self {
            Name => a.name.cmp(&b.name),
            CanonicalAlias => a.canonical_alias.cmp(&b.canonical_alias),
            JoinedMembers => b.joined_members.cmp(&a.joined_members),
            JoinedLocalMembers => b.joined_local_members.cmp(&a.joined_local_members),
            Version => b.version.cmp(&a.version),
            Creator => a.creator.cmp(&b.creator),
            Encryption => a.encryption.cmp(&b.encryption),
            Federatable => a.federatable.cmp(&b.federatable),
            Public => a.public.cmp(&b.public),
            JoinRules => a.join_rules.cmp(&b.join_rules),
            GuestAccess => a.guest_access.cmp(&b.guest_access),
            HistoryVisibility => a.history_visibility.cmp(&b.history_visibility),
            StateEvents => b.state_events.cmp(&a.state_events),
        }
    }

    /// Whether the order's natural direction is descending: ties then break by room ID the
    /// same way, as Synapse's `ORDER BY column dir, room_id dir`.
    fn descending(self) -> bool {
        use RoomOrder::*;
        matches!(self, JoinedMembers | JoinedLocalMembers | Version | StateEvents)
    }
}

/// What a list request asks for, already validated.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub from: i64,
    pub limit: i64,
    pub order: RoomOrder,
    pub backwards: bool,
    pub search_term: Option<String>,
    pub public_rooms: Option<bool>,
    pub empty_rooms: Option<bool>,
}

/// A page of the list and how many rooms the query matches in all.
#[derive(Debug)]
pub struct RoomList {
    pub rooms: Vec<RoomSummary>,
    pub total: i64,
}

/// What the summaries are built from, read in one store call.
struct Rows {
    rooms: Vec<RoomRow>,
    state: Vec<Pdu>,
    joined: HashMap<String, (i64, i64)>,
    state_counts: HashMap<String, i64>,
}

fn read_rows(c: &mut crate::store::Conn, room: Option<&str>, server: &str) -> Result<Rows> {
    Ok(Rows {
        rooms: stats::room_rows(c, room)?,
        state: stats::summary_state(c, room)?,
        joined: stats::joined_counts(c, room, server)?,
        state_counts: stats::state_counts(c, room)?,
    })
}

fn text(content: &Value, key: &str) -> Option<String> {
    content.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// Each room's summary, with the state events it was built from (for the details page).
fn summaries(rows: Rows) -> Vec<(RoomSummary, HashMap<String, Value>)> {
    let mut state: HashMap<String, HashMap<String, Value>> = HashMap::new();
    for p in rows.state {
        state.entry(p.room_id.to_string()).or_default().insert(p.kind, p.content);
    }
    rows.rooms
        .into_iter()
        .map(|row| {
            let st = state.remove(&row.room_id).unwrap_or_default();
            let field = |kind: &str, key: &str| st.get(kind).and_then(|c| text(c, key));
            let (joined, local) = rows.joined.get(&row.room_id).copied().unwrap_or_default();
            let create = st.get("m.room.create");
            let summary = RoomSummary {
                name: field("m.room.name", "name"),
                canonical_alias: field("m.room.canonical_alias", "alias"),
                joined_members: joined,
                joined_local_members: local,
                encryption: field("m.room.encryption", "algorithm"),
                federatable: create.and_then(|c| c.get("m.federate")).and_then(Value::as_bool).unwrap_or(true),
                public: row.is_public,
                join_rules: field("m.room.join_rules", "join_rule"),
                guest_access: field("m.room.guest_access", "guest_access"),
                history_visibility: field("m.room.history_visibility", "history_visibility"),
                state_events: rows.state_counts.get(&row.room_id).copied().unwrap_or(0),
                room_type: create.and_then(|c| text(c, "type")),
                version: row.room_version,
                creator: row.creator,
                room_id: row.room_id,
            };
            (summary, st)
        })
        .collect()
}

/// Whether the room matches the search term as Synapse matches it: in the name, in the local
/// part of the canonical alias (both without case), or the whole room ID exactly.
fn matches_term(r: &RoomSummary, term: &str) -> bool {
    let lower = term.to_lowercase();
    let in_name = r.name.as_deref().is_some_and(|n| n.to_lowercase().contains(&lower));
    // Synapse's `LIKE '#%term%:%'`: the term after the '#' and before some ':'.
    let in_alias = r.canonical_alias.as_deref().is_some_and(|a| {
        let a = a.to_lowercase();
        a.strip_prefix('#').and_then(|rest| rest.rfind(':').map(|i| &rest[..i])).is_some_and(|local| local.contains(&lower))
    });
    in_name || in_alias || r.room_id == term
}

/// `GET /_synapse/admin/v1/rooms`.
pub async fn list(svc: &Services, q: ListQuery) -> Result<RoomList> {
    let server = svc.server_name().to_owned();
    let rows = svc.db.run(move |c| read_rows(c, None, &server)).await?;
    let mut rooms: Vec<RoomSummary> = summaries(rows)
        .into_iter()
        .map(|(s, _)| s)
        .filter(|r| q.search_term.as_deref().is_none_or(|t| matches_term(r, t)))
        .filter(|r| q.public_rooms.is_none_or(|p| r.public == p))
        .filter(|r| q.empty_rooms.is_none_or(|e| (r.joined_members == 0) == e))
        .collect();
    let tie_reversed = q.order.descending() != q.backwards;
    rooms.sort_by(|a, b| {
        let by_key = q.order.compare(a, b);
        let by_key = if q.backwards { by_key.reverse() } else { by_key };
        let by_id = a.room_id.cmp(&b.room_id);
        by_key.then(if tie_reversed { by_id.reverse() } else { by_id })
    });
    let total = rooms.len() as i64;
    let from = usize::try_from(q.from.max(0)).unwrap_or(usize::MAX);
    let limit = usize::try_from(q.limit.clamp(0, MAX_LIST_LIMIT)).unwrap_or(0);
    let rooms = rooms.into_iter().skip(from).take(limit).collect();
    Ok(RoomList { rooms, total })
}

/// `GET /_synapse/admin/v1/rooms/{roomId}`: 404 for a room this server does not know.
pub async fn details(svc: &Services, room_id: &RoomId) -> Result<RoomDetails> {
    let (server, room) = (svc.server_name().to_owned(), room_id.to_string());
    let (rows, devices, forgotten) = svc
        .db
        .run(move |c| {
            let rows = read_rows(c, Some(&room), &server)?;
            if rows.rooms.is_empty() {
                return Err(Error::not_found("Room not found"));
            }
            let devices = stats::joined_local_devices(c, &room, &server)?;
            let forgotten = stats::locally_forgotten(c, &room, &server)?;
            Ok((rows, devices, forgotten))
        })
        .await?;
    let (summary, state) = summaries(rows).pop().ok_or_else(|| Error::not_found("Room not found"))?;
    let field = |kind: &str, key: &str| state.get(kind).and_then(|c| text(c, key));
    let tombstone = state.get("m.room.tombstone");
    Ok(RoomDetails {
        topic: field("m.room.topic", "topic"),
        avatar: field("m.room.avatar", "url"),
        joined_local_devices: devices,
        forgotten,
        tombstoned: tombstone.is_some(),
        replacement_room: tombstone.and_then(|c| text(c, "replacement_room")),
        summary,
    })
}

/// 404 unless the server knows the room.
async fn require_room(svc: &Services, room_id: &RoomId) -> Result<()> {
    let room = room_id.to_string();
    match svc.db.run(move |c| crate::store::rooms::room_row(c, &room)).await? {
        Some(_) => Ok(()),
        None => Err(Error::not_found("Room not found")),
    }
}

/// The users joined to the room now.
pub async fn members(svc: &Services, room_id: &RoomId) -> Result<Vec<String>> {
    require_room(svc, room_id).await?;
    let room = room_id.to_string();
    let rows = svc.db.run(move |c| crate::store::memberships::room_members(c, &room)).await?;
    Ok(rows.into_iter().filter(|m| m.membership == "join").map(|m| m.user_id).collect())
}

/// The room's current state, or its state events of one type.
pub async fn state(svc: &Services, room_id: &RoomId, kind: Option<String>) -> Result<Vec<Pdu>> {
    require_room(svc, room_id).await?;
    let room = room_id.to_string();
    svc.db
        .run(move |c| match kind {
            Some(k) => crate::store::events::state_of_type(c, &room, &k),
            None => crate::store::events::current_state(c, &room),
        })
        .await
}

/// Each room's size in the store (its events' JSON), largest first.
pub async fn database_sizes(svc: &Services) -> Result<Vec<(String, i64)>> {
    svc.db.run(crate::store::room_stats::room_sizes).await
}
