//! Where IDs read from the store become ruma's typed IDs. A row whose ID does not parse was
//! written by something other than this server: it is logged and left out rather than failing
//! the read it is part of.

use ruma::{OwnedRoomId, OwnedUserId};

pub fn room_ids(ids: Vec<String>) -> Vec<OwnedRoomId> {
    parse_all(ids, "room")
}

pub fn user_ids(ids: Vec<String>) -> Vec<OwnedUserId> {
    parse_all(ids, "user")
}

fn parse_all<T: TryFrom<String>>(ids: Vec<String>, what: &str) -> Vec<T> {
    ids.into_iter()
        .filter_map(|id| match T::try_from(id.clone()) {
            Ok(t) => Some(t),
            Err(_) => {
                log::error!("skipping malformed stored {what} ID {id:?}");
                None
            }
        })
        .collect()
}
