//! Rooms two users share (MSC2666, `uk.half-shot.msc2666` unstable prefix, as Synapse serves it).

use crate::Services;
use crate::error::{Error, Result};
use ruma::{OwnedRoomId, UserId};

/// The rooms both the requester and `other` are joined to; asking about oneself is refused.
pub async fn mutual_rooms(svc: &Services, me: &UserId, other: &UserId) -> Result<Vec<OwnedRoomId>> {
    if me == other {
        return Err(Error::invalid_param("You cannot request a list of shared rooms with yourself"));
    }
    let (a, b) = (me.to_string(), other.to_string());
    svc.db.run(move |c| crate::store::memberships::mutual_rooms(c, &a, &b)).await
}
