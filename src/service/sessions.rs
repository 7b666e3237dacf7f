//! Who a request's access token belongs to: the cached session, or the token and account rows
//! read once and cached; refused for deactivated, locked and expired sessions. Each use is
//! noted for the admin API's whois.

use crate::Services;
use crate::auth::tokens::{Session, hash_token};
use crate::error::{Error, Result};

/// Where a request came from, for whois.
pub struct Client {
    pub ip: String,
    pub user_agent: String,
}

/// The session of `token`; 401 `M_UNKNOWN_TOKEN` (or `M_USER_LOCKED` with `soft_logout`).
pub async fn authenticate(svc: &Services, token: &str, client: Client) -> Result<Session> {
    let hash = hash_token(token);
    let session = match svc.tokens.get(&hash) {
        Some(s) => s,
        None => {
            let found = super::accounts::session_rows(svc, &hash).await?;
            let Some((t, u, ratelimit_override)) = found else { return Err(Error::unknown_token()) };
            if u.deactivated {
                return Err(Error::unknown_token());
            }
            if u.locked {
                let mut extra = serde_json::Map::new();
                extra.insert("soft_logout".into(), serde_json::json!(true));
                return Err(Error::user_locked().with_extra(extra));
            }
            let user_id = crate::ids::parse_user_id(&t.user_id).map_err(|_| Error::unknown_token())?;
            let s = Session {
                user_id,
                device_id: t.device_id,
                token_hash: hash,
                is_admin: u.admin,
                valid_until_ms: t.valid_until_ms,
                puppeted_by: t.puppeted_by,
                shadow_banned: u.shadow_banned,
                suspended: u.suspended,
                ratelimit_override,
            };
            svc.tokens.put(s.clone());
            s
        }
    };
    let now = crate::ids::now_ms();
    if session.valid_until_ms.is_some_and(|v| v <= now) {
        return Err(Error::unknown_token());
    }
    let seen = crate::store::client_ips::Seen {
        user_id: session.user_id.to_string(),
        device_id: session.device_id.clone().unwrap_or_default(),
        ip: client.ip,
        user_agent: client.user_agent,
    };
    svc.client_ips.note(seen, now);
    Ok(session)
}
