//! What a suspended user may not do, with Synapse's words: they keep reading (sync, history,
//! typing, receipts) and may leave rooms and redact their own events, the corrective actions an
//! admin may ask of them, but send nothing else. Admin actions on their behalf are not refused.

use crate::auth::tokens::Session;
use crate::error::{Error, Result};

/// An action of a user that suspension may refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act<'a> {
    /// A message or state event, a new room, a room upgrade.
    Send,
    /// A member event of `membership` sent through the state endpoint, or a ban.
    Membership(&'a str),
    /// A redaction; `own` when the redacted event is the user's.
    Redact {
        own: bool,
    },
    Invite,
    Join,
    Profile,
}

/// 403 `M_USER_SUSPENDED` if `who` is suspended and `act` is not allowed to them.
pub fn check(who: &Session, act: Act<'_>) -> Result<()> {
    if !who.suspended {
        return Ok(());
    }
    let refusal = match act {
        Act::Send => "Sending messages while account is suspended is not allowed.",
        Act::Membership("leave") | Act::Redact { own: true } => return Ok(()),
        Act::Membership(_) => "Changing membership while account is suspended is not allowed.",
        Act::Redact { own: false } => "You can only redact your own events while account is suspended.",
        Act::Invite => "Sending invites while account is suspended is not allowed.",
        Act::Join => "Joining rooms while account is suspended is not allowed.",
        Act::Profile => "Updating profile while account is suspended is not allowed.",
    };
    Err(Error::user_suspended(refusal))
}
