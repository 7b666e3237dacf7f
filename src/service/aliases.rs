//! Room aliases on this server: who may add and remove them, and the aliases of a room.

use crate::Services;
use crate::auth::tokens::Session;
use crate::error::{Error, ErrorKind, Result};
use ruma::{OwnedRoomId, RoomAliasId, RoomId, UserId};

/// The room an alias of this server points at; 404 if none.
pub async fn resolve(svc: &Services, alias: &RoomAliasId) -> Result<OwnedRoomId> {
    let a = alias.to_string();
    let found = svc.db.run(move |c| crate::store::rooms::alias_room(c, &a)).await?;
    let (room_id, _) = found.ok_or_else(|| Error::not_found("Room alias not found"))?;
    RoomId::parse(&room_id).map_err(|e| Error::internal_from(format!("stored alias {alias} names an invalid room"), e))
}

/// Points a new alias of this server at an existing room.
pub async fn create(svc: &Services, who: &Session, alias: &RoomAliasId, room_id: &RoomId) -> Result<()> {
    if alias.server_name().as_str() != svc.server_name() {
        return Err(Error::invalid_param("Alias must be on this server"));
    }
    let (a, room_id, creator) = (alias.to_string(), room_id.to_string(), who.user_id.to_string());
    svc.db
        .run(move |c| {
            if crate::store::rooms::room_row(c, &room_id)?.is_none() {
                return Err(Error::not_found("Unknown room"));
            }
            if !crate::store::rooms::add_alias(c, &a, &room_id, &creator)? {
                return Err(Error::new(ErrorKind::Conflict, "Room alias already exists"));
            }
            Ok(())
        })
        .await
}

/// Removes an alias: its creator or a server admin may.
pub async fn delete(svc: &Services, who: &Session, alias: &RoomAliasId) -> Result<()> {
    let (alias, user, admin) = (alias.to_string(), who.user_id.to_string(), who.is_server_admin());
    svc.db
        .run(move |c| {
            let (_, creator) = crate::store::rooms::alias_room(c, &alias)?.ok_or_else(|| Error::not_found("Room alias not found"))?;
            if creator != user && !admin {
                return Err(Error::forbidden("You did not create this alias"));
            }
            crate::store::rooms::delete_alias(c, &alias)
        })
        .await?;
    Ok(())
}

/// The local aliases of a room whose state the requester may read.
pub async fn of_room(svc: &Services, user: &UserId, room_id: &RoomId) -> Result<Vec<String>> {
    super::history::require_visible(svc, user, room_id).await?;
    let room_id = room_id.to_string();
    svc.db.run(move |c| crate::store::rooms::room_aliases(c, &room_id)).await
}
