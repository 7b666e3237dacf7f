//! Creating a room, for `/createRoom` and the server-notices room alike: the initial events in
//! the room version's format, one power-level default, the alias, as one atomic batch.

use crate::Services;
use crate::actors::room::CreateRoom;
use crate::error::{Error, ErrorKind, Result};
use crate::events::{self, BuildContext, EventDraft};
use crate::store::rooms::RoomRow;
use ruma::room_version_rules::RoomVersionRules;
use ruma::{OwnedRoomId, OwnedUserId, RoomVersionId};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    PublicChat,
    PrivateChat,
    TrustedPrivateChat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    Public,
    #[default]
    Private,
}

/// One event of `initial_state`.
#[derive(Debug, Clone, Deserialize)]
pub struct InitialState {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub state_key: String,
    pub content: Map<String, Value>,
}

/// What a new room is made of.
#[derive(Debug, Clone)]
pub struct NewRoom {
    pub creator: OwnedUserId,
    /// `None`: [`events::DEFAULT_ROOM_VERSION`].
    pub version: Option<RoomVersionId>,
    /// `None`: from the visibility, as the spec says.
    pub preset: Option<Preset>,
    /// Whether the room is published in the directory.
    pub visibility: Visibility,
    pub name: Option<String>,
    pub topic: Option<String>,
    /// The localpart of an alias on this server to create and make canonical.
    pub alias_localpart: Option<String>,
    /// Merged into the create event's content (`room_version` stays the chosen one).
    pub creation_content: Map<String, Value>,
    pub initial_state: Vec<InitialState>,
    pub invites: Vec<OwnedUserId>,
    pub is_direct: bool,
    /// Merged over the default power levels.
    pub power_level_override: Map<String, Value>,
}

impl NewRoom {
    pub fn new(creator: OwnedUserId) -> Self {
        Self {
            creator,
            version: None,
            preset: None,
            visibility: Visibility::Private,
            name: None,
            topic: None,
            alias_localpart: None,
            creation_content: Map::new(),
            initial_state: Vec::new(),
            invites: Vec::new(),
            is_direct: false,
            power_level_override: Map::new(),
        }
    }
}

/// The power levels every new room starts from. Creators are infinitely powerful from v12 on
/// and then must not be listed; before, the creator gets 100.
pub(crate) fn default_power_levels(creator: &str, rules: &RoomVersionRules) -> Map<String, Value> {
    let privileged_creators = rules.authorization.explicitly_privilege_room_creators;
    let users = if privileged_creators { json!({}) } else { json!({ creator: 100 }) };
    let tombstone = if privileged_creators { 150 } else { 100 };
    let pl = json!({
        "users": users,
        "users_default": 0,
        "events": {
            "m.room.name": 50,
            "m.room.power_levels": 100,
            "m.room.history_visibility": 100,
            "m.room.canonical_alias": 50,
            "m.room.avatar": 50,
            "m.room.tombstone": tombstone,
            "m.room.server_acl": 100,
            "m.room.encryption": 100
        },
        "events_default": 0,
        "state_default": 50,
        "ban": 50,
        "kick": 50,
        "redact": 50,
        "invite": 0,
        "historical": 100
    });
    match pl {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

pub(crate) fn unsupported() -> Error {
    Error::new(ErrorKind::UnsupportedRoomVersion, "Unsupported room version")
}

/// Checks an alias localpart and returns the full alias, refusing one already taken.
async fn claim_alias(svc: &Arc<Services>, local: &str) -> Result<String> {
    // ruma accepts any localpart; an empty one, or one with ':' or whitespace, names no alias
    // anyone could type, and the whole alias is bounded like every other ID.
    if local.is_empty() || local.contains(':') || local.chars().any(char::is_whitespace) {
        return Err(Error::invalid_param("room_alias_name must be a non-empty localpart without ':' or whitespace"));
    }
    let full = format!("#{local}:{}", svc.config.server_name);
    if full.len() > 255 {
        return Err(Error::invalid_param("The room alias would be longer than 255 bytes"));
    }
    let alias = crate::ids::parse_alias(&full)?.to_string();
    let a = alias.clone();
    if svc.db.run(move |c| crate::store::rooms::alias_room(c, &a)).await?.is_some() {
        return Err(Error::new(ErrorKind::RoomInUse, "Room alias already taken"));
    }
    Ok(alias)
}

/// Creates the room and returns its ID once its initial events are committed.
pub async fn create_room(svc: &Arc<Services>, room: NewRoom) -> Result<OwnedRoomId> {
    let version = room.version.as_ref().map(RoomVersionId::as_str).unwrap_or(events::DEFAULT_ROOM_VERSION).to_owned();
    let rules = events::supported_rules(&version).ok_or_else(unsupported)?;
    let preset = room.preset.unwrap_or(match room.visibility {
        Visibility::Public => Preset::PublicChat,
        Visibility::Private => Preset::PrivateChat,
    });
    let alias = match &room.alias_localpart {
        Some(local) => Some(claim_alias(svc, local).await?),
        None => None,
    };
    let creator = room.creator.to_string();
    let invites: Vec<String> = room.invites.iter().map(ToString::to_string).collect();
    // Trusted invitees share the creator's power: from v12 as additional creators.
    let trusted_creators = preset == Preset::TrustedPrivateChat && rules.authorization.additional_room_creators;

    let mut create_content = room.creation_content.clone();
    if trusted_creators && !invites.is_empty() {
        create_content.insert("additional_creators".into(), json!(invites));
    }

    let mut pl = default_power_levels(&creator, &rules);
    if preset == Preset::TrustedPrivateChat
        && !trusted_creators
        && let Some(Value::Object(users)) = pl.get_mut("users")
    {
        for u in &invites {
            users.insert(u.clone(), json!(100));
        }
    }
    for (k, v) in &room.power_level_override {
        pl.insert(k.clone(), v.clone());
    }

    let mut drafts: Vec<(OwnedUserId, EventDraft)> = Vec::new();
    let mut push = |d: EventDraft| drafts.push((room.creator.clone(), d));
    push(EventDraft::state("m.room.member", &creator, super::membership::join_content(svc, &creator, "join").await?));
    push(EventDraft::state("m.room.power_levels", "", Value::Object(pl)));
    if let Some(a) = &alias {
        push(EventDraft::state("m.room.canonical_alias", "", json!({"alias": a})));
    }
    let join_rule = if preset == Preset::PublicChat { "public" } else { "invite" };
    push(EventDraft::state("m.room.join_rules", "", json!({"join_rule": join_rule})));
    push(EventDraft::state("m.room.history_visibility", "", json!({"history_visibility": "shared"})));
    if preset != Preset::PublicChat {
        push(EventDraft::state("m.room.guest_access", "", json!({"guest_access": "can_join"})));
    }
    for ev in &room.initial_state {
        push(EventDraft::state(&ev.kind, &ev.state_key, Value::Object(ev.content.clone())));
    }
    if let Some(name) = &room.name {
        push(EventDraft::state("m.room.name", "", json!({"name": name})));
    }
    if let Some(topic) = &room.topic {
        push(EventDraft::state("m.room.topic", "", json!({"topic": topic})));
    }
    for u in &invites {
        let mut content = json!({"membership": "invite"});
        if room.is_direct {
            content["is_direct"] = json!(true);
        }
        push(EventDraft::state("m.room.member", u, content));
    }

    let room_id = create_prepared(
        svc,
        PreparedRoom {
            creator: room.creator.clone(),
            version,
            create_content,
            events: drafts,
            is_public: room.visibility == Visibility::Public,
            room_id: None,
        },
    )
    .await?;
    if let Some(a) = alias {
        let (r, c) = (room_id.to_string(), creator.clone());
        svc.db.run(move |conn| crate::store::rooms::add_alias(conn, &a, &r, &c)).await?;
    }
    log::info!("{creator} created {room_id}");
    Ok(room_id)
}

/// A room whose content is decided: the create event's content and every later event.
pub(crate) struct PreparedRoom {
    pub creator: OwnedUserId,
    pub version: String,
    /// Without `room_version` and `creator` (set here from `version` and `creator`).
    pub create_content: Map<String, Value>,
    /// The events after the create event, each with its sender.
    pub events: Vec<(OwnedUserId, EventDraft)>,
    pub is_public: bool,
    /// The ID to give a room of a version whose IDs are not the create event's hash (random
    /// if `None`); ignored from v12 on.
    pub room_id: Option<OwnedRoomId>,
}

/// Builds the create event, starts the room's actor and commits the room's events as one
/// batch; the room exists only if they all pass the room version's rules.
pub(crate) async fn create_prepared(svc: &Arc<Services>, room: PreparedRoom) -> Result<OwnedRoomId> {
    let PreparedRoom { creator, version, mut create_content, events, is_public, room_id } = room;
    let rules = events::supported_rules(&version).ok_or_else(unsupported)?;
    if !rules.authorization.use_room_create_sender {
        create_content.insert("creator".into(), json!(creator));
    }
    create_content.insert("room_version".into(), json!(version));
    // The create event is built here: from v12 its reference hash is the room's ID, which the
    // room's actor is registered under.
    let provisional = room_id.unwrap_or_else(|| crate::ids::new_room_id(&svc.config.server_name));
    let no_hashes = HashMap::new();
    let ctx = BuildContext {
        room_id: &provisional,
        sender: &creator,
        prev_events: Vec::new(),
        auth_events: Vec::new(),
        reference_hashes: &no_hashes,
        depth: 1,
        rules: &rules,
        keys: &svc.keys,
        max_bytes: svc.config.max_event_bytes,
    };
    let create = events::build(&EventDraft::state("m.room.create", "", Value::Object(create_content)), &ctx)?;
    let room_id = create.pdu.room_id.clone();
    let row = RoomRow {
        room_id: room_id.to_string(),
        room_version: version,
        creator: creator.to_string(),
        is_public,
        created_ts: crate::ids::now_ms(),
    };
    let addr = svc.directory.new_room(svc, &room_id);
    addr.send(CreateRoom { row, create, events }).await??;
    Ok(room_id)
}
