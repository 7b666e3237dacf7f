//! Server notices: messages from the system user into a private room with the target, and the
//! rule that such a room cannot be left.

use super::room_creation::{NewRoom, Preset};
use crate::Services;
use crate::actors::notifier::AccountDataChanged;
use crate::actors::room::SendEvent;
use crate::auth::tokens::Session;
use crate::error::{Error, Result};
use crate::events::EventDraft;
use crate::store::events::TxnKey;
use ruma::{OwnedEventId, OwnedRoomId, UserId};
use serde_json::{Value, json};
use std::sync::Arc;

pub fn system_user(svc: &Services) -> String {
    format!("@{}:{}", svc.config.server_notices.system_mxid_localpart, svc.server_name())
}

/// A notice to send: an event of `kind` (a message unless `state_key` is set).
pub struct Notice {
    pub target: ruma::OwnedUserId,
    pub kind: String,
    pub state_key: Option<String>,
    pub content: Value,
}

/// Sends a notice for `admin`, creating the notices room with the target on first use; a
/// retried transaction ID of the same admin device answers with the first event.
pub async fn send(svc: &Arc<Services>, admin: &Session, notice: Notice, txn: Option<String>) -> Result<OwnedEventId> {
    let Notice { target, kind, state_key, content } = notice;
    if target.server_name().as_str() != svc.server_name() {
        return Err(Error::invalid_param("Server notices can only be sent to local users"));
    }
    let t = target.to_string();
    if !svc.db.run(move |c| crate::store::users::exists(c, &t)).await? {
        return Err(Error::not_found("User not found"));
    }
    let system = system_user(svc);
    let txn = txn.map(|txn_id| TxnKey {
        user_id: system.clone(),
        device_id: format!("notice:{}:{}", admin.user_id, admin.device_id.clone().unwrap_or_default()),
        txn_id: format!("send_server_notice{}{txn_id}", crate::store::events::TXN_SCOPE_SEP),
    });
    if let Some(key) = txn.clone()
        && let Some(id) = svc.db.run(move |c| crate::store::events::txn_event(c, &key)).await?
    {
        return Ok(id);
    }
    ensure_system_user(svc, &system).await?;
    let room = match find_room(svc, &system, &target).await? {
        Some(r) => r,
        None => create_room(svc, &system, target.as_str()).await?,
    };
    let draft = EventDraft { kind, state_key, content, redacts: None };
    let event_id = svc.send_to_room(&room, SendEvent { txn, ..SendEvent::new(crate::ids::parse_user_id(&system)?, draft) }).await??;
    log::info!("admin {} sent a server notice to {target} in {room}", admin.user_id);
    Ok(event_id)
}

async fn ensure_system_user(svc: &Services, system: &str) -> Result<()> {
    let id = crate::ids::parse_user_id(system)?;
    let name = svc.config.server_notices.system_mxid_display_name.clone();
    svc.db
        .run(move |c| {
            match crate::store::users::find(c, id.as_str())? {
                None => {
                    crate::store::users::create(c, &crate::store::users::User::new(&id, None, false))?;
                }
                // The system user never has a password: one that does was registered by a person
                // (before the localpart was reserved), and must not receive every user's notices.
                Some(u) if u.password_hash.is_some() => {
                    log::error!(
                        "server notices: {id} is a registered account; set server_notices.system_mxid_localpart to an unused localpart"
                    );
                    return Err(Error::internal("The server notices user is misconfigured"));
                }
                Some(_) => {}
            }
            let mut p = crate::store::users::profile(c, id.as_str())?.unwrap_or_default();
            if p.displayname.as_deref() != Some(name.as_str()) {
                p.user_id = id.to_string();
                p.displayname = Some(name);
                crate::store::users::set_profile(c, &p)?;
            }
            Ok(())
        })
        .await
}

/// A room the system user is in where the target is joined or invited.
async fn find_room(svc: &Services, system: &str, target: &UserId) -> Result<Option<OwnedRoomId>> {
    let (s, t) = (system.to_owned(), target.to_string());
    svc.db
        .run(move |c| {
            let mine: std::collections::HashSet<OwnedRoomId> = crate::store::memberships::joined_rooms(c, &s)?.into_iter().collect();
            Ok(crate::store::memberships::user_memberships(c, &t)?
                .into_iter()
                .rev()
                .find(|m| matches!(m.membership.as_str(), "join" | "invite") && mine.iter().any(|r| r.as_str() == m.room_id))
                .and_then(|m| OwnedRoomId::try_from(m.room_id).ok()))
        })
        .await
}

async fn create_room(svc: &Arc<Services>, system: &str, target: &str) -> Result<OwnedRoomId> {
    let mut room = NewRoom::new(crate::ids::parse_user_id(system)?);
    room.preset = Some(Preset::PrivateChat);
    room.name = Some(svc.config.server_notices.room_name.clone());
    room.invites = vec![crate::ids::parse_user_id(target)?];
    // Users cannot send into a notices room: they are below the default level for messages.
    room.power_level_override.insert("users_default".into(), json!(-10));
    let room_id = super::room_creation::create_room(svc, room).await?;
    let (t, r) = (target.to_owned(), room_id.to_string());
    let tags = json!({"tags": {"m.server_notice": {"order": 0.5}}}).to_string();
    let id = svc.db.run(move |c| crate::store::account_data::set(c, &t, &r, "m.tag", &tags)).await?;
    svc.notifier.do_send(AccountDataChanged { user: crate::ids::parse_user_id(target)?, stream_id: id });
    Ok(room_id)
}

/// Refuses a user's own leave (or invite rejection) of a server notices room, whichever endpoint
/// carries it: notices must keep reaching the user.
pub async fn refuse_leaving_notice_room(svc: &Services, room_id: &str, sender: &str, target: &str, membership: Option<&str>) -> Result<()> {
    if sender != target || membership != Some("leave") || !is_notice_room(svc, room_id).await? {
        return Ok(());
    }
    Err(Error::new(crate::error::ErrorKind::CannotLeaveNoticeRoom, "You cannot leave or reject a server notices room"))
}

/// Whether the room is a server notices room (created by the system user).
pub async fn is_notice_room(svc: &Services, room_id: &str) -> Result<bool> {
    let r = room_id.to_owned();
    let row = svc.db.run(move |c| crate::store::rooms::room_row(c, &r)).await?;
    Ok(row.is_some_and(|row| row.creator == system_user(svc)))
}
