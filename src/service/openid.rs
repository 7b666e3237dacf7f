//! OpenID tokens: a user asks for one (`/user/{userId}/openid/request_token`) and hands it to a
//! third party (an integration manager, a widget), which asks this server's federation API
//! (`/openid/userinfo`) whose it is. Tokens are 256-bit random, live an hour, and only their
//! SHA-256 is stored.

use crate::Services;
use crate::auth::tokens::hash_token;
use crate::error::{Error, Result};
use crate::store::{openid_tokens as store, users};
use ruma::{OwnedUserId, UserId};

/// How long a token is good for.
pub const TOKEN_LIFETIME_MS: i64 = 3600 * 1000;
/// Live tokens kept per user: a client asking in a loop replaces its oldest ones.
pub const MAX_TOKENS_PER_USER: i64 = 100;

/// A new token and the seconds it is good for.
pub struct OpenIdToken {
    pub access_token: String,
    pub expires_in_secs: i64,
}

/// A token vouching for `requester`; 403 if they ask for someone else's.
pub async fn request_token(svc: &Services, requester: &UserId, for_user: &UserId) -> Result<OpenIdToken> {
    if requester != for_user {
        return Err(Error::forbidden("Cannot request tokens for other users."));
    }
    let token = crate::ids::new_openid_token();
    let (hash, user, now) = (hash_token(&token), requester.to_string(), crate::ids::now_ms());
    svc.db.run(move |c| store::insert(c, &hash, &user, now + TOKEN_LIFETIME_MS, now, MAX_TOKENS_PER_USER)).await?;
    Ok(OpenIdToken { access_token: token, expires_in_secs: TOKEN_LIFETIME_MS / 1000 })
}

/// The user a live token vouches for; 401 `M_UNKNOWN_TOKEN` if it is unknown, expired, or its
/// user has been deactivated since.
pub async fn userinfo(svc: &Services, token: &str) -> Result<OwnedUserId> {
    let (hash, now) = (hash_token(token), crate::ids::now_ms());
    let user = svc
        .db
        .run(move |c| {
            let Some(user) = store::user_of(c, &hash, now)? else { return Ok(None) };
            Ok(users::find(c, &user)?.filter(|u| !u.deactivated).map(|_| user))
        })
        .await?;
    let unknown = || Error::new(crate::error::ErrorKind::UnknownToken, "Access Token unknown or expired");
    UserId::parse(user.ok_or_else(unknown)?).map_err(|_| unknown())
}
