//! Accounts: registration, login, passwords, deactivation, and the admin view of users (query,
//! create/modify, list, flags, joined rooms, login-as, whois).

use crate::Services;
use crate::actors::user::{Deactivate, SetProfile};
use crate::auth::password;
use crate::auth::uia::{Operation, Step};
use crate::config::RateLimit;
use crate::error::{Error, ErrorKind, Result};
use crate::ids;
pub use crate::store::users::ListQuery;
use crate::store::users::{self, Profile, User};
use ruma::{OwnedDeviceId, OwnedRoomId, OwnedUserId, UserId};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::sync::Arc;

/// Who a login or a UIA password stage names: `{"type": "m.id.user", "user": ...}`.
#[derive(Debug, Clone, Deserialize)]
pub struct Identifier {
    #[serde(rename = "type")]
    pub kind: String,
    pub user: Option<String>,
}

/// A login or registration that ends in a session.
#[derive(Debug, Clone, Serialize)]
pub struct NewSession {
    pub user_id: OwnedUserId,
    pub access_token: String,
    pub device_id: OwnedDeviceId,
}

/// The device a login or registration asks for (a new ID when it names none) and its name.
#[derive(Debug, Clone, Default)]
pub struct DeviceRequest {
    pub device_id: Option<OwnedDeviceId>,
    pub display_name: Option<String>,
}

fn invalid_login() -> Error {
    Error::forbidden("Invalid username or password")
}

/// The user an identifier (or the legacy `user` field) names, resolved against this server.
pub fn identified_user(svc: &Services, identifier: Option<&Identifier>, legacy_user: Option<&str>) -> Result<OwnedUserId> {
    let user = match identifier {
        Some(ident) => {
            if ident.kind != "m.id.user" {
                return Err(Error::unknown(format!("Unsupported identifier type {}", ident.kind)));
            }
            ident.user.as_deref().ok_or_else(|| Error::missing_param("Missing user"))?
        }
        None => legacy_user.ok_or_else(|| Error::missing_param("Missing user"))?,
    };
    let user = user.to_lowercase();
    let full = if user.starts_with('@') { user } else { format!("@{user}:{}", svc.server_name()) };
    UserId::parse(&full).map_err(|_| invalid_login())
}

/// Checks `password` for `user_id`; 403 `M_FORBIDDEN` on any mismatch, `M_USER_DEACTIVATED` for
/// deactivated accounts, 429 after too many recent failures for the account.
pub async fn check_password(svc: &Services, user_id: &UserId, password_given: &str) -> Result<User> {
    let key = user_id.as_str();
    svc.rate_limits.check_failed_logins(key)?;
    let id = key.to_owned();
    let user = svc.db.run(move |c| users::find(c, &id)).await?;
    // Unknown users and users without a password cost a check against a dummy hash, so the time
    // taken does not tell which accounts exist.
    let stored = user.as_ref().and_then(|u| u.password_hash.clone());
    let matched = svc.passwords.verify(password_given.to_owned(), stored).await?;
    let Some(user) = user else {
        svc.rate_limits.failed_login(key);
        return Err(invalid_login());
    };
    if !matched {
        if user.password_hash.is_none() && user.deactivated {
            return Err(Error::user_deactivated());
        }
        svc.rate_limits.failed_login(key);
        return Err(invalid_login());
    }
    if user.deactivated {
        return Err(Error::user_deactivated());
    }
    if user.locked {
        return Err(Error::user_locked());
    }
    Ok(user)
}

/// A password login.
pub struct Login {
    /// The client's address, for the per-address rate limit.
    pub ip: String,
    pub kind: String,
    pub identifier: Option<Identifier>,
    pub user: Option<String>,
    pub password: String,
    pub device: DeviceRequest,
}

pub async fn login(svc: &Services, login: Login) -> Result<NewSession> {
    svc.rate_limits.login_address(&login.ip)?;
    if login.kind != "m.login.password" {
        return Err(Error::unknown(format!("Unknown login type {}", login.kind)));
    }
    let user_id = identified_user(svc, login.identifier.as_ref(), login.user.as_deref())?;
    svc.rate_limits.login_account(user_id.as_str())?;
    check_password(svc, &user_id, &login.password).await?;
    let session = super::devices::start_session(svc, &user_id, login.device).await?;
    log::info!("{user_id} logged in on device {}", session.device_id);
    Ok(session)
}

const PASSWORD_STAGE: &str = "m.login.password";

#[derive(Deserialize)]
struct PasswordStage {
    identifier: Option<Identifier>,
    user: Option<String>,
}

/// Authorizes `op` for its requester `user_id` with an `m.login.password` stage, or with a
/// session that completed one for this same operation before.
pub async fn password_uia(svc: &Services, user_id: &UserId, op: Operation) -> Result<()> {
    let step = svc.uia.begin(op)?;
    let Some(auth) = svc.uia.attempt(&step, PASSWORD_STAGE)? else {
        return Ok(());
    };
    let claimed = serde_json::from_value::<PasswordStage>(auth.clone())
        .ok()
        .and_then(|s| identified_user(svc, s.identifier.as_ref(), s.user.as_deref()).ok())
        .unwrap_or_else(|| user_id.to_owned());
    // Someone holding another user's token must not authorize with their own password.
    if claimed != user_id {
        return Err(Error::forbidden("You can only authenticate as yourself"));
    }
    let pw = match auth.get("password") {
        None | Some(Value::Null) => return Err(Error::missing_param("Missing password")),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(Error::bad_json("password must be a string")),
    };
    check_password(svc, user_id, &pw).await.map_err(|e| match e.kind() {
        // Too many attempts or hashes: the client must wait, not retry the stage at once.
        ErrorKind::LimitExceeded => e,
        _ => svc.uia.challenge(&step, PASSWORD_STAGE, ErrorKind::AuthRequired, "Invalid password"),
    })?;
    svc.uia.complete(&step, PASSWORD_STAGE);
    Ok(())
}

/// Validates a requested localpart and checks it is free.
pub async fn check_username(svc: &Services, localpart: &str) -> Result<OwnedUserId> {
    ids::check_new_localpart(&svc.config, localpart)?;
    let user_id = UserId::parse(format!("@{localpart}:{}", svc.server_name())).map_err(|_| Error::invalid_username("Invalid user ID"))?;
    if user_id.as_str().len() > 255 {
        return Err(Error::invalid_username("User ID too long"));
    }
    let id = user_id.to_string();
    if svc.db.run(move |c| users::exists(c, &id)).await? {
        return Err(Error::user_in_use());
    }
    Ok(user_id)
}

/// A local account to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub user_id: OwnedUserId,
    pub password: Option<String>,
    pub admin: bool,
    pub user_type: Option<String>,
}

/// Creates a local user; `M_USER_IN_USE` if the ID is taken.
pub async fn create_user(svc: &Services, new: NewUser) -> Result<()> {
    let hash = match new.password {
        Some(p) => Some(svc.passwords.hash(p).await?),
        None => None,
    };
    let mut user = User::new(&new.user_id, hash, new.admin);
    user.user_type = new.user_type;
    if !svc.db.run(move |c| users::create(c, &user)).await? {
        return Err(Error::user_in_use());
    }
    Ok(())
}

/// Creates a local user straight in a database no server has open (the CLI's `register-user`).
pub fn create_user_offline(config: &crate::Config, localpart: &str, pw: &str, admin: bool) -> Result<OwnedUserId> {
    let user_id = ids::local_user_from_path(&localpart.to_lowercase(), &config.server_name)?;
    ids::check_new_localpart(config, user_id.localpart())?;
    password::check_strength(pw)?;
    let db = crate::store::Db::open(&config.database(), 2)?;
    let hash = password::hash(pw, config.password_hash_log_n)?;
    let user = User::new(&user_id, Some(hash), admin);
    if !users::create(&mut *db.get()?, &user)? {
        return Err(Error::user_in_use());
    }
    Ok(user_id)
}

/// A client's registration request.
pub struct Registration {
    pub ip: String,
    pub guest: bool,
    pub username: Option<String>,
    pub password: Option<String>,
    pub device: DeviceRequest,
    pub inhibit_login: bool,
    /// The UIA step, from [`registration_step`]; its body is where the fields above come from.
    pub step: Step,
}

/// The new account, and its session unless the client asked for none.
pub struct Registered {
    pub user_id: OwnedUserId,
    pub session: Option<NewSession>,
}

/// The UIA step of a registration request. A later step carrying only `auth` registers with the
/// parameters of the first (username, password, device, `inhibit_login`), so they cannot change
/// half-way; the caller reads them from the step's body.
pub fn registration_step(svc: &Services, op: Operation) -> Result<Step> {
    svc.uia.begin_remembering(op)
}

pub async fn register(svc: &Services, r: Registration) -> Result<Registered> {
    if r.guest {
        return Err(Error::new(ErrorKind::GuestAccessForbidden, "Guest access is disabled"));
    }
    if !svc.config.enable_registration {
        return Err(Error::forbidden("Registration has been disabled"));
    }
    // A retry of a session that already registered: the same account, signed in again.
    if let Some(user_id) = r.step.outcome.as_ref().and_then(Value::as_str).and_then(|u| UserId::parse(u).ok()) {
        return registered(svc, user_id, r.inhibit_login, r.device).await;
    }
    // Checked now, counted only when an account is made: the UIA round trip is not a registration.
    svc.rate_limits.check_registration(&r.ip)?;
    let user_id = match &r.username {
        Some(u) => check_username(svc, &u.to_lowercase()).await?,
        None => loop {
            let candidate = ids::random_alnum(12).to_lowercase();
            if let Ok(id) = check_username(svc, &candidate).await {
                break id;
            }
        },
    };
    if let Some(p) = &r.password {
        password::check_strength(p)?;
    }
    super::registration_tokens::authorize_registration(svc, &r.step).await?;
    svc.rate_limits.registration(&r.ip)?;
    create_user(svc, NewUser { user_id: user_id.clone(), password: r.password, admin: false, user_type: None }).await?;
    svc.uia.record_outcome(&r.step, json!(user_id));
    super::registration_tokens::registration_completed(svc, &r.step).await;
    log::info!("registered {user_id}");
    registered(svc, user_id, r.inhibit_login, r.device).await
}

async fn registered(svc: &Services, user_id: OwnedUserId, inhibit_login: bool, device: DeviceRequest) -> Result<Registered> {
    if inhibit_login {
        return Ok(Registered { user_id, session: None });
    }
    let session = super::devices::start_session(svc, &user_id, device).await?;
    Ok(Registered { user_id, session: Some(session) })
}

/// Shared-secret registration (Synapse's `register_new_matrix_user`): the MAC already checked.
pub struct SharedSecretRegistration {
    pub username: String,
    pub password: String,
    pub admin: bool,
    pub user_type: Option<String>,
    pub displayname: Option<String>,
}

pub async fn register_with_shared_secret(svc: &Services, r: SharedSecretRegistration) -> Result<NewSession> {
    let localpart = r.username.to_lowercase();
    ids::check_new_localpart(&svc.config, &localpart)?;
    password::check_strength(&r.password)?;
    let user_id = UserId::parse(format!("@{localpart}:{}", svc.server_name())).map_err(|_| Error::invalid_username("Invalid username"))?;
    create_user(svc, NewUser { user_id: user_id.clone(), password: Some(r.password), admin: r.admin, user_type: r.user_type }).await?;
    if let Some(d) = r.displayname {
        let id = user_id.to_string();
        svc.db.run(move |c| users::set_profile(c, &Profile { user_id: id, displayname: Some(d), avatar_url: None })).await?;
    }
    let session = super::devices::start_session(svc, &user_id, DeviceRequest::default()).await?;
    log::info!("registered {user_id} with the shared secret (admin: {})", r.admin);
    Ok(session)
}

/// Ends the session behind `token_hash` (and its device, if it has one).
pub async fn logout(svc: &Services, user_id: &UserId, device_id: Option<&str>, token_hash: &str) -> Result<()> {
    let (user, device, hash) = (user_id.to_string(), device_id.map(str::to_owned), token_hash.to_owned());
    let removed = svc
        .db
        .run(move |c| match device {
            Some(d) => crate::store::devices::delete_devices(c, &user, &[d]),
            None => {
                crate::store::devices::delete_token(c, &hash)?;
                Ok(vec![hash])
            }
        })
        .await?;
    svc.tokens.forget(&removed);
    svc.tokens.forget(&[token_hash.to_owned()]);
    crate::actors::notifier::device_list_changed(svc, user_id.as_str()).await;
    Ok(())
}

pub async fn logout_all(svc: &Services, user_id: &UserId) -> Result<()> {
    let user = user_id.to_string();
    let removed = svc.db.run(move |c| crate::store::devices::logout_everywhere(c, &user)).await?;
    svc.tokens.forget(&removed);
    crate::actors::notifier::device_list_changed(svc, user_id.as_str()).await;
    Ok(())
}

/// Hashes and stores a new password; with `logout_devices`, every other session of the user
/// ends (all but `keep_device`).
pub async fn set_password(
    svc: &Services,
    user_id: &UserId,
    new_password: String,
    logout_devices: bool,
    keep_device: Option<&str>,
) -> Result<()> {
    let hash = svc.passwords.hash(new_password).await?;
    let (id, keep) = (user_id.to_string(), keep_device.map(str::to_owned));
    let removed = svc
        .db
        .run(move |c| {
            users::set_password_hash(c, &id, Some(&hash))?;
            if logout_devices { crate::store::devices::delete_all_tokens(c, &id, keep.as_deref(), false) } else { Ok(vec![]) }
        })
        .await?;
    svc.tokens.forget(&removed);
    Ok(())
}

/// The requester changes their own password, proving the old one.
pub async fn change_password(
    svc: &Services,
    user_id: &UserId,
    device_id: Option<&str>,
    new_password: String,
    logout_devices: bool,
    op: Operation,
) -> Result<()> {
    password::check_strength(&new_password)?;
    password_uia(svc, user_id, op).await?;
    set_password(svc, user_id, new_password, logout_devices, device_id).await
}

/// Deactivates the account through its actor (tokens revoked, rooms left).
pub async fn deactivate(svc: &Arc<Services>, user_id: &UserId, erase: bool) -> Result<()> {
    svc.directory.user(svc, user_id).await?.send(Deactivate { erase }).await?
}

/// The requester deactivates their own account, proving their password.
pub async fn deactivate_own(svc: &Arc<Services>, user_id: &UserId, erase: bool, op: Operation) -> Result<()> {
    password_uia(svc, user_id, op).await?;
    deactivate(svc, user_id, erase).await
}

/// A local user that exists: 400 for remote IDs, 404 for unknown ones.
pub async fn local_user(svc: &Services, id: &UserId) -> Result<User> {
    if id.server_name().as_str() != svc.server_name() {
        return Err(Error::invalid_param("Only local users can be managed here"));
    }
    let s = id.to_string();
    svc.db.run(move |c| users::find(c, &s)).await?.ok_or_else(|| Error::not_found("User not found"))
}

#[derive(Debug, Clone, Serialize)]
pub struct Threepid {
    pub medium: String,
    pub address: String,
    pub added_at: i64,
    pub validated_at: i64,
}

/// A user as Synapse's `GET /v2/users/<id>` shows it. `creation_ts` is in seconds, as in the seed.
#[derive(Debug, Clone, Serialize)]
pub struct UserDetails {
    pub name: String,
    pub displayname: Option<String>,
    pub avatar_url: Option<String>,
    pub threepids: Vec<Threepid>,
    pub admin: bool,
    pub deactivated: bool,
    pub erased: bool,
    pub shadow_banned: bool,
    pub locked: bool,
    pub suspended: bool,
    pub creation_ts: i64,
    pub appservice_id: Option<String>,
    pub consent_server_notice_sent: Option<String>,
    pub consent_version: Option<String>,
    pub consent_ts: Option<i64>,
    pub user_type: Option<String>,
    pub is_guest: bool,
    pub external_ids: Vec<Value>,
    pub last_seen_ts: Option<i64>,
    pub approved: bool,
}

pub(super) fn threepids_from(rows: Vec<(String, String, i64, i64)>) -> Vec<Threepid> {
    rows.into_iter().map(|(medium, address, added_at, validated_at)| Threepid { medium, address, added_at, validated_at }).collect()
}

async fn details_of(svc: &Services, id: &str) -> Result<UserDetails> {
    let i = id.to_owned();
    let (user, profile, threepids) = svc
        .db
        .run(move |c| {
            let u = users::find(c, &i)?.ok_or_else(|| Error::not_found("User not found"))?;
            Ok((u, users::profile(c, &i)?.unwrap_or_default(), users::threepids(c, &i)?))
        })
        .await?;
    Ok(UserDetails {
        name: user.user_id,
        displayname: profile.displayname,
        avatar_url: profile.avatar_url,
        threepids: threepids_from(threepids),
        admin: user.admin,
        deactivated: user.deactivated,
        erased: user.erased,
        shadow_banned: user.shadow_banned,
        locked: user.locked,
        suspended: user.suspended,
        creation_ts: user.creation_ts / 1000,
        appservice_id: None,
        consent_server_notice_sent: None,
        consent_version: None,
        consent_ts: None,
        user_type: user.user_type,
        is_guest: user.is_guest,
        external_ids: vec![],
        last_seen_ts: user.last_seen_ts,
        approved: true,
    })
}

pub async fn user_details(svc: &Services, id: &UserId) -> Result<UserDetails> {
    let user = local_user(svc, id).await?;
    details_of(svc, &user.user_id).await
}

/// User types an admin may set.
const USER_TYPES: &[&str] = &["support", "bot"];

/// Synapse's answer to creating or changing a user of another server.
pub fn not_local() -> Error {
    Error::unknown("This endpoint can only be used with local users")
}

/// Whether `t` is a user type this server knows.
pub fn is_user_type(t: &str) -> bool {
    USER_TYPES.contains(&t)
}

/// What an admin's `PUT /v2/users/<id>` sets; `None` keeps the current value, `Some(None)`
/// clears it.
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    pub password: Option<String>,
    pub logout_devices: bool,
    pub displayname: Option<Option<String>>,
    pub avatar_url: Option<Option<String>>,
    /// (medium, address): `email` or `msisdn`.
    pub threepids: Option<Vec<(String, String)>>,
    pub admin: Option<bool>,
    pub deactivated: Option<bool>,
    pub locked: Option<bool>,
    pub user_type: Option<Option<String>>,
}

/// The admin making a change, for self-protection rules and keeping their own session.
pub struct Acting<'a> {
    pub user_id: &'a UserId,
    pub device_id: Option<&'a str>,
}

impl Acting<'_> {
    /// The device to keep when `target`'s sessions end: the admin's own, if it is them.
    fn keep_for(&self, target: &UserId) -> Option<&str> {
        if self.user_id == target { self.device_id } else { None }
    }
}

fn validate_changes(ch: &mut UserChanges) -> Result<()> {
    for (medium, address) in ch.threepids.iter_mut().flatten() {
        match medium.as_str() {
            // Email addresses compare without case.
            "email" => *address = address.to_lowercase(),
            "msisdn" => {}
            m => return Err(Error::bad_json(format!("Unknown threepid medium {m}"))),
        }
    }
    if ch.password.as_ref().is_some_and(|p| p.len() > 512) {
        return Err(Error::invalid_param("Invalid password: too long"));
    }
    if let Some(Some(a)) = &ch.avatar_url
        && !a.is_empty()
        && !a.starts_with("mxc://")
    {
        return Err(Error::invalid_param("avatar_url must be an MXC URI"));
    }
    if let Some(Some(t)) = &ch.user_type
        && !USER_TYPES.contains(&t.as_str())
    {
        return Err(Error::unknown("Invalid user type"));
    }
    if ch.deactivated == Some(true) && ch.locked == Some(true) {
        return Err(Error::invalid_param("An account cannot be both deactivated and locked"));
    }
    Ok(())
}

/// Creates (`true`) or modifies (`false`) a local user, then shows it.
pub async fn put_user(svc: &Arc<Services>, admin: Acting<'_>, target: &UserId, mut ch: UserChanges) -> Result<(bool, UserDetails)> {
    if target.server_name().as_str() != svc.server_name() {
        return Err(not_local());
    }
    validate_changes(&mut ch)?;
    let id = target.to_string();
    let i = id.clone();
    let existing = svc.db.run(move |c| users::find(c, &i)).await?;
    let created = existing.is_none();
    match existing {
        None => create_with(svc, target, ch).await?,
        Some(user) => modify(svc, &admin, target, &user, ch).await?,
    }
    log::info!("admin {} {} user {id}", admin.user_id, if created { "created" } else { "modified" });
    Ok((created, details_of(svc, &id).await?))
}

async fn create_with(svc: &Services, target: &UserId, ch: UserChanges) -> Result<()> {
    ids::check_new_localpart(&svc.config, target.localpart())?;
    let new =
        NewUser { user_id: target.to_owned(), password: ch.password, admin: ch.admin.unwrap_or(false), user_type: ch.user_type.flatten() };
    create_user(svc, new).await?;
    let id = target.to_string();
    let displayname = Some(ch.displayname.flatten().unwrap_or_else(|| target.localpart().to_owned()));
    let (avatar_url, locked, threepids, deactivated) = (ch.avatar_url.flatten(), ch.locked, ch.threepids, ch.deactivated);
    svc.db
        .run(move |c| {
            users::set_profile(c, &Profile { user_id: id.clone(), displayname, avatar_url })?;
            users::update_flags(c, &id, locked, None, None)?;
            if let Some(t) = threepids {
                users::set_threepids(c, &id, &t)?;
            }
            if deactivated == Some(true) {
                users::deactivate(c, &id, false)?;
            }
            Ok(())
        })
        .await
}

async fn modify(svc: &Arc<Services>, admin: &Acting<'_>, target: &UserId, user: &User, ch: UserChanges) -> Result<()> {
    if ch.admin == Some(false) && admin.user_id == target {
        return Err(Error::bad_json("You may not demote yourself."));
    }
    if user.deactivated && ch.deactivated == Some(false) && ch.password.is_none() {
        return Err(Error::bad_json("Must provide a password to re-activate an account."));
    }
    let id = target.to_string();
    if ch.deactivated == Some(true) && !user.deactivated {
        deactivate(svc, target, false).await?;
    }
    if let Some(p) = ch.password {
        let hash = svc.passwords.hash(p).await?;
        let keep = admin.keep_for(target).map(str::to_owned);
        let (i, reactivate, logout) = (id.clone(), user.deactivated && ch.deactivated == Some(false), ch.logout_devices);
        let removed = svc
            .db
            .run(move |c| {
                users::set_password_hash(c, &i, Some(&hash))?;
                if reactivate {
                    users::reactivate(c, &i)?;
                }
                if logout { crate::store::devices::delete_all_tokens(c, &i, keep.as_deref(), false) } else { Ok(vec![]) }
            })
            .await?;
        svc.tokens.forget(&removed);
        if reactivate {
            svc.deactivated.remove(&id);
        }
    }
    if ch.displayname.is_some() || ch.avatar_url.is_some() {
        let actor = svc.directory.user(svc, target).await?;
        let displayname = ch.displayname.map(|d| d.filter(|s| !s.is_empty()));
        actor.send(SetProfile { displayname, avatar_url: ch.avatar_url }).await??;
    }
    let (i, set_admin, locked, user_type, threepids) = (id.clone(), ch.admin, ch.locked, ch.user_type, ch.threepids);
    svc.db
        .run(move |c| {
            if let Some(a) = set_admin {
                users::set_admin(c, &i, a)?;
            }
            users::update_flags(c, &i, locked, None, user_type)?;
            if let Some(t) = threepids {
                users::set_threepids(c, &i, &t)?;
            }
            Ok(())
        })
        .await?;
    svc.tokens.forget_user(&id);
    Ok(())
}

/// Most users one page of the list returns.
const MAX_PAGE: i64 = 1_000;

/// A user as the admin list shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ListedUser {
    pub name: String,
    pub user_type: Option<String>,
    pub is_guest: bool,
    pub admin: bool,
    pub deactivated: bool,
    pub shadow_banned: bool,
    pub displayname: Option<String>,
    pub avatar_url: Option<String>,
    pub creation_ts: i64,
    pub approved: bool,
    pub erased: bool,
    pub last_seen_ts: Option<i64>,
    pub locked: bool,
    pub suspended: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct UserPage {
    pub users: Vec<ListedUser>,
    pub total: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// One page of users; `from` and `limit` must not be negative, `limit` is capped.
pub async fn list_users(svc: &Services, mut q: ListQuery) -> Result<UserPage> {
    if q.from < 0 || q.limit < 0 {
        return Err(Error::invalid_param("from and limit must not be negative"));
    }
    if !users::ORDER_KEYS.contains(&q.order_by.as_str()) {
        return Err(Error::invalid_param("Unknown value for order_by"));
    }
    q.limit = q.limit.min(MAX_PAGE);
    let (from, limit) = (q.from, q.limit);
    let (rows, total) = svc.db.run(move |c| users::list(c, &q)).await?;
    let users: Vec<ListedUser> = rows
        .into_iter()
        .map(|(u, displayname, avatar_url)| ListedUser {
            name: u.user_id,
            user_type: u.user_type,
            is_guest: u.is_guest,
            admin: u.admin,
            deactivated: u.deactivated,
            shadow_banned: u.shadow_banned,
            displayname,
            avatar_url,
            creation_ts: u.creation_ts,
            approved: true,
            erased: u.erased,
            last_seen_ts: u.last_seen_ts,
            locked: u.locked,
            suspended: u.suspended,
        })
        .collect();
    // `from` is the client's: it may be near i64::MAX.
    let next_token = (from.saturating_add(limit) < total).then(|| from.saturating_add(users.len() as i64).to_string());
    Ok(UserPage { users, total, next_token })
}

/// An admin deactivates a local user.
pub async fn admin_deactivate(svc: &Arc<Services>, admin: &UserId, target: &UserId, erase: bool) -> Result<()> {
    let user = local_user(svc, target).await?;
    deactivate(svc, target, erase).await?;
    log::info!("admin {admin} deactivated {} (erase: {erase})", user.user_id);
    Ok(())
}

/// An admin sets a local user's password, checked with the server's rule.
pub async fn admin_set_password(
    svc: &Services,
    admin: Acting<'_>,
    target: &UserId,
    new_password: String,
    logout_devices: bool,
) -> Result<()> {
    local_user(svc, target).await?;
    password::check_strength(&new_password)?;
    set_password(svc, target, new_password, logout_devices, admin.keep_for(target)).await?;
    log::info!("admin {} reset the password of {target} (logout_devices: {logout_devices})", admin.user_id);
    Ok(())
}

pub async fn joined_rooms(svc: &Services, target: &UserId) -> Result<Vec<OwnedRoomId>> {
    let user = local_user(svc, target).await?;
    svc.db.run(move |c| crate::store::memberships::joined_rooms(c, &user.user_id)).await
}

/// A token that acts as the user: no device, never an admin token, optionally expiring, and
/// revoked when the admin logs out everywhere.
pub async fn login_as(svc: &Services, admin: &UserId, target: &UserId, valid_until_ms: Option<i64>) -> Result<String> {
    let user = local_user(svc, target).await?;
    if user.user_id == admin.as_str() {
        return Err(Error::bad_json("Cannot use admin API to login as self"));
    }
    let token = ids::new_access_token();
    let row = crate::store::devices::AccessToken {
        token_hash: crate::auth::tokens::hash_token(&token),
        user_id: user.user_id.clone(),
        device_id: None,
        valid_until_ms,
        puppeted_by: Some(admin.to_string()),
        created_ts: ids::now_ms(),
    };
    svc.db.run(move |c| crate::store::devices::insert_token(c, &row)).await?;
    log::info!("admin {admin} logged in as {}", user.user_id);
    Ok(token)
}

pub async fn set_shadow_ban(svc: &Services, admin: &UserId, target: &UserId, banned: bool) -> Result<()> {
    let user = local_user(svc, target).await?;
    let id = user.user_id.clone();
    svc.db.run(move |c| users::update_flags(c, &id, None, Some(banned), None)).await?;
    svc.tokens.forget_user(&user.user_id);
    log::info!("admin {admin} set shadow_banned={banned} for {}", user.user_id);
    Ok(())
}

pub async fn is_admin(svc: &Services, target: &UserId) -> Result<bool> {
    Ok(local_user(svc, target).await?.admin)
}

pub async fn set_admin(svc: &Services, admin: &UserId, target: &UserId, flag: bool) -> Result<()> {
    let user = local_user(svc, target).await?;
    if !flag && target == admin {
        return Err(Error::bad_json("You may not demote yourself."));
    }
    let id = user.user_id.clone();
    svc.db.run(move |c| users::set_admin(c, &id, flag)).await?;
    svc.tokens.forget_user(&user.user_id);
    log::info!("admin {admin} set admin={flag} for {}", user.user_id);
    Ok(())
}

/// One place a device was used from, and when last.
#[derive(Debug, Clone, Serialize)]
pub struct Connection {
    pub device_id: String,
    pub ip: String,
    pub user_agent: String,
    pub last_seen: i64,
}

/// Where a user has been connecting from, most recent first: one entry per device, address and
/// user agent. Admins may ask about anyone, users about themselves.
pub async fn whois(svc: &Services, asker: &UserId, asker_is_admin: bool, target: &UserId) -> Result<(OwnedUserId, Vec<Connection>)> {
    if !asker_is_admin && asker != target {
        return Err(Error::forbidden("You are not a server admin"));
    }
    let user = local_user(svc, target).await?;
    // Whatever was seen up to this request counts.
    svc.client_ips.flush(&svc.db).await?;
    let id = user.user_id.clone();
    let rows = svc.db.run(move |c| crate::store::client_ips::connections(c, &id)).await?;
    let connections =
        rows.into_iter().map(|(device_id, ip, user_agent, last_seen)| Connection { device_id, ip, user_agent, last_seen }).collect();
    Ok((target.to_owned(), connections))
}

/// A session's token and account rows and the user's rate limit override, for the token cache
/// on a miss.
pub async fn session_rows(
    svc: &Services,
    token_hash: &str,
) -> Result<Option<(crate::store::devices::AccessToken, User, Option<RateLimit>)>> {
    let h = token_hash.to_owned();
    svc.db
        .run(move |c| {
            let Some(t) = crate::store::devices::find_token(c, &h)? else { return Ok(None) };
            let Some(u) = users::find(c, &t.user_id)? else { return Ok(None) };
            let limit = crate::store::user_controls::ratelimit_override(c, &t.user_id)?;
            Ok(Some((t, u, limit.map(|(per_second, burst)| super::user_controls::override_limit(per_second, burst)))))
        })
        .await
}
