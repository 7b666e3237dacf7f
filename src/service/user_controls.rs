//! Admin controls on one user beyond the account itself, as Synapse's admin API offers them:
//! suspension, a message rate limit override, experimental features, a window to replace the
//! master cross-signing key without interactive auth, account validity, lookups by third-party
//! or external ID, and counts over the user's membership history.

use crate::Services;
use crate::config::RateLimit;
use crate::error::{Error, Result};
use crate::store::user_controls as store;
use crate::store::users::User;
use ruma::UserId;
use serde::Serialize;
use std::collections::BTreeMap;

/// Synapse's per-user experimental features; any other name is refused.
pub const EXPERIMENTAL_FEATURES: &[&str] = &["msc3881", "msc3575", "msc4222"];

/// How long `_allow_cross_signing_replacement_without_uia` opens the window (Synapse's 10 minutes).
const REPLACEMENT_WINDOW_MS: i64 = 10 * 60 * 1000;

/// The local user `target`, refused with Synapse's wording for this endpoint when remote.
async fn local(svc: &Services, target: &UserId, remote_message: &str) -> Result<User> {
    if target.server_name().as_str() != svc.server_name() {
        return Err(Error::unknown(remote_message));
    }
    let id = target.to_string();
    svc.db.run(move |c| crate::store::users::find(c, &id)).await?.ok_or_else(|| Error::not_found("User not found"))
}

/// The limiter settings an override stands for; 0/0 means no limit and is handled by the caller.
pub fn override_limit(per_second: i64, burst: i64) -> RateLimit {
    RateLimit::new(per_second as f64, u32::try_from(burst).unwrap_or(u32::MAX))
}

/// Room ID to the user's membership in it, for every room this server knows them in.
pub async fn memberships(svc: &Services, target: &UserId) -> Result<BTreeMap<String, String>> {
    let user = local(svc, target, "Can only look up local users").await?;
    let rows = svc.db.run(move |c| store::memberships_of(c, &user.user_id)).await?;
    Ok(rows.into_iter().collect())
}

/// Invites the user sent at or after `from_ts`.
pub async fn sent_invite_count(svc: &Services, target: &UserId, from_ts: i64) -> Result<i64> {
    let user = local(svc, target, "Can only look up local users").await?;
    svc.db.run(move |c| store::sent_invite_count(c, &user.user_id, from_ts)).await
}

/// Rooms the user joined at or after `from_ts`, even those left since.
pub async fn cumulative_joined_room_count(svc: &Services, target: &UserId, from_ts: i64) -> Result<i64> {
    let user = local(svc, target, "Can only look up local users").await?;
    svc.db.run(move |c| store::cumulative_joined_room_count(c, &user.user_id, from_ts)).await
}

/// Every known experimental feature with whether it is on for the user.
pub async fn experimental_features(svc: &Services, target: &UserId) -> Result<BTreeMap<&'static str, bool>> {
    let user = local(svc, target, "User must be local to check what experimental features are enabled.").await?;
    let on = svc.db.run(move |c| store::enabled_features(c, &user.user_id)).await?;
    Ok(EXPERIMENTAL_FEATURES.iter().map(|f| (*f, on.contains(*f))).collect())
}

/// Switches the named features on or off for the user; an unknown name changes nothing.
pub async fn set_experimental_features(svc: &Services, admin: &UserId, target: &UserId, set: BTreeMap<String, bool>) -> Result<()> {
    let user = local(svc, target, "User must be local to enable experimental features.").await?;
    if set.is_empty() {
        return Err(Error::unknown("You must provide features to set."));
    }
    if let Some(unknown) = set.keys().find(|f| !EXPERIMENTAL_FEATURES.contains(&f.as_str())) {
        return Err(Error::unknown(format!("'{unknown}' is not recognised as a valid experimental feature.")));
    }
    log::info!("admin {admin} set experimental features {set:?} for {}", user.user_id);
    svc.db.run(move |c| store::set_features(c, &user.user_id, &set)).await
}

/// An admin's override of a user's message rate limit, as Synapse shows it.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RatelimitOverride {
    pub messages_per_second: i64,
    pub burst_count: i64,
}

pub async fn ratelimit_override(svc: &Services, target: &UserId) -> Result<Option<RatelimitOverride>> {
    let user = local(svc, target, "Can only look up local users").await?;
    let found = svc.db.run(move |c| store::ratelimit_override(c, &user.user_id)).await?;
    Ok(found.map(|(messages_per_second, burst_count)| RatelimitOverride { messages_per_second, burst_count }))
}

/// Sets the override; the user's cached sessions are dropped so the next request uses it.
pub async fn set_ratelimit_override(svc: &Services, admin: &UserId, target: &UserId, limit: RatelimitOverride) -> Result<()> {
    let user = local(svc, target, "Only local users can be ratelimited").await?;
    let id = user.user_id.clone();
    svc.db.run(move |c| store::set_ratelimit_override(c, &id, limit.messages_per_second, limit.burst_count)).await?;
    svc.tokens.forget_user(&user.user_id);
    log::info!("admin {admin} set the rate limit override of {} to {limit:?}", user.user_id);
    Ok(())
}

pub async fn delete_ratelimit_override(svc: &Services, admin: &UserId, target: &UserId) -> Result<()> {
    let user = local(svc, target, "Only local users can be ratelimited").await?;
    let id = user.user_id.clone();
    svc.db.run(move |c| store::delete_ratelimit_override(c, &id)).await?;
    svc.tokens.forget_user(&user.user_id);
    log::info!("admin {admin} removed the rate limit override of {}", user.user_id);
    Ok(())
}

/// Suspends or reinstates a local user; their sessions are re-read at the next request.
pub async fn set_suspended(svc: &Services, admin: &UserId, target: &UserId, suspended: bool) -> Result<()> {
    let user = local(svc, target, "Can only suspend local users").await?;
    let id = user.user_id.clone();
    svc.db.run(move |c| store::set_suspended(c, &id, suspended)).await?;
    svc.tokens.forget_user(&user.user_id);
    log::info!("admin {admin} set suspended={suspended} for {}", user.user_id);
    Ok(())
}

/// Lets the user replace their master cross-signing key without interactive auth for ten
/// minutes; answers until when. 404 if they have no master key to replace.
pub async fn allow_cross_signing_replacement(svc: &Services, admin: &UserId, target: &UserId) -> Result<i64> {
    let id = target.to_string();
    let until = crate::ids::now_ms() + REPLACEMENT_WINDOW_MS;
    let opened = svc
        .db
        .run(move |c| {
            if !crate::store::e2e_keys::cross_signing(c, &id)?.contains_key("master") {
                return Ok(false);
            }
            store::open_replacement_window(c, &id, until)?;
            Ok(true)
        })
        .await?;
    if !opened {
        return Err(Error::not_found("User has no master cross-signing key"));
    }
    log::info!("admin {admin} let {target} replace their cross-signing keys without auth until {until}");
    Ok(until)
}

/// Whether the user may replace their master cross-signing key without interactive auth now.
pub async fn may_replace_cross_signing_without_auth(svc: &Services, user: &UserId) -> Result<bool> {
    let id = user.to_string();
    let until = svc.db.run(move |c| store::replacement_window(c, &id)).await?;
    Ok(until.is_some_and(|u| u > crate::ids::now_ms()))
}

/// Synapse's legacy account validity renewal. This server does not expire accounts, so there is
/// no validity period to add: the admin must name the expiry, which is answered as Synapse does
/// when account validity is off, and nothing expires.
pub async fn renew_account_validity(svc: &Services, admin: &UserId, target: &UserId, expiration_ts: Option<i64>) -> Result<i64> {
    let user = local(svc, target, "Can only renew local users").await?;
    let Some(ts) = expiration_ts else {
        return Err(Error::unknown("Account validity is not enabled on this server: give expiration_ts"));
    };
    log::info!("admin {admin} renewed the account validity of {} to {ts} (account validity is off)", user.user_id);
    Ok(ts)
}

/// The third-party IDs bound to a local account (set by an admin: this server validates none).
pub async fn threepids(svc: &Services, user: &UserId) -> Result<Vec<super::accounts::Threepid>> {
    let id = user.to_string();
    Ok(super::accounts::threepids_from(svc.db.run(move |c| crate::store::users::threepids(c, &id)).await?))
}

/// The user holding a third-party ID (email addresses compare without case).
pub async fn user_by_threepid(svc: &Services, medium: &str, address: &str) -> Result<String> {
    let (m, a) = (medium.to_owned(), if medium == "email" { address.to_lowercase() } else { address.to_owned() });
    svc.db.run(move |c| store::user_by_threepid(c, &m, &a)).await?.ok_or_else(|| Error::not_found("User not found"))
}

/// The user an external auth provider knows by `external_id`. Logins through external providers
/// (SSO, OIDC) do not exist here, so no user has an external ID.
pub async fn user_by_external_id(_svc: &Services, _provider: &str, _external_id: &str) -> Result<String> {
    Err(Error::not_found("User not found"))
}
