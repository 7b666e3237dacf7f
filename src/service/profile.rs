//! Profiles: displayname and avatar_url, changed through the user's actor (which tells the
//! user's rooms).

use crate::Services;
use crate::actors::user::SetProfile;
use crate::error::{Error, Result};
use crate::store::users::{self, Profile};
use ruma::UserId;
use std::sync::Arc;

/// The fields of a profile a user may set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Displayname,
    AvatarUrl,
}

impl Field {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "displayname" => Some(Self::Displayname),
            "avatar_url" => Some(Self::AvatarUrl),
            _ => None,
        }
    }
}

/// Longest display name or avatar URL, in bytes.
const MAX_VALUE_BYTES: usize = 256;

pub async fn get(svc: &Services, user: &UserId) -> Result<Profile> {
    let id = user.to_string();
    svc.db.run(move |c| users::profile(c, &id)).await?.ok_or_else(|| Error::not_found("Profile not found"))
}

/// One field of a profile by name, `None` when unset (Synapse answers `{}` then, and clients
/// read a missing avatar that way); 404 for an unknown user or an unknown field.
pub async fn get_field(svc: &Services, user: &UserId, name: &str) -> Result<Option<String>> {
    let p = get(svc, user).await?;
    Ok(match Field::parse(name).ok_or_else(|| Error::not_found("Unknown profile field"))? {
        Field::Displayname => p.displayname,
        Field::AvatarUrl => p.avatar_url,
    })
}

/// Sets (or with `None` clears) a field of the user's own profile.
pub async fn set_field(svc: &Arc<Services>, user: &UserId, field: Field, name: &str, value: Option<String>) -> Result<()> {
    if value.as_ref().is_some_and(|v| v.len() > MAX_VALUE_BYTES) {
        return Err(Error::bad_json(format!("{name} is too long")));
    }
    let msg = match field {
        Field::Displayname => SetProfile { displayname: Some(value), avatar_url: None },
        Field::AvatarUrl => SetProfile { displayname: None, avatar_url: Some(value) },
    };
    svc.directory.user(svc, user).await?.send(msg).await?
}
