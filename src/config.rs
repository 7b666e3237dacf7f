//! Configuration: one TOML file, every key overridable as `ENSEMBLE_<KEY>`.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The domain part of every local user and room ID.
    pub server_name: String,
    /// host:port the HTTP listener binds; port 0 picks a free one.
    pub listen: String,
    /// Where the database (by default), the signing key, media and the search index live.
    pub data_dir: PathBuf,
    /// `sqlite://path` or a bare path; empty means `<data_dir>/ensemble.db`.
    pub database_url: String,
    /// Enables `/_synapse/admin/v1/register` when non-empty.
    pub registration_shared_secret: String,
    /// Whether `/register` accepts new accounts from anyone (off by default: admins create
    /// accounts with `register-user`, shared-secret registration or the admin API).
    pub enable_registration: bool,
    /// env_logger filter, e.g. `info` or `ensemble=debug,actix_web=info`.
    pub log: String,
    /// Largest accepted event (content plus envelope), bytes.
    pub max_event_bytes: usize,
    /// Largest accepted request body for JSON endpoints, bytes.
    pub max_request_bytes: usize,
    /// Largest accepted media upload, bytes.
    pub max_upload_bytes: usize,
    /// scrypt cost: log2(N). 17 is the production default; tests use less.
    pub password_hash_log_n: u8,
    /// Password hashes computed at once (each holds 128 MiB at log_n 17); 0 means one per core.
    pub password_hash_concurrency: usize,
    /// Requests that may wait for a hashing slot, per slot; past them the server answers 429.
    pub password_hash_queue_per_slot: usize,
    /// HTTP worker threads; 0 means one per core.
    pub workers: usize,
    /// Seconds an idle room or user actor stays in memory.
    pub actor_idle_secs: u64,
    /// Database connections in the pool.
    pub db_pool_size: u32,
    /// host:port of an optional second listener serving the same API over TLS (federation
    /// peers speak HTTPS only); empty means none, as behind a TLS-terminating reverse proxy.
    pub tls_listen: String,
    /// PEM certificate chain and private key of the TLS listener.
    pub tls_certificate_path: PathBuf,
    pub tls_private_key_path: PathBuf,
    /// PEM files of extra certificate authorities trusted for outgoing federation requests,
    /// beside the public web roots (Synapse's `federation_custom_ca_list`).
    pub federation_custom_ca_list: Vec<PathBuf>,
    /// Whether other servers may see device display names (Synapse's
    /// `allow_device_name_lookup_over_federation`, off by default for privacy).
    pub allow_device_name_lookup_over_federation: bool,
    /// Whether `/user_directory/search` finds every local user, or (the default, as Synapse)
    /// only users sharing a room with the searcher or joined to a published room.
    pub user_directory_search_all_users: bool,
    /// Whether presence is tracked and shared (Synapse's `presence.enabled`).
    pub presence_enabled: bool,
    /// Whether the client address is the first one of `X-Forwarded-For` (Synapse's listener
    /// option `x_forwarded`): set it behind a reverse proxy, or every client shares the proxy's
    /// address, and so its rate limits. Never set it without one: clients could pick any address.
    pub x_forwarded: bool,
    /// Images with at least this many pixels are not thumbnailed (Synapse's `max_image_pixels`,
    /// 32M): the header is read first, so a decompression bomb is refused before it is decoded.
    pub max_image_pixels: u64,
    pub server_notices: ServerNoticesConfig,
    // Rate limits, named and defaulted as Synapse's; server admins are exempt from those on
    // authenticated requests.
    /// Event sends (messages, state, redactions) per user.
    pub rc_message: RateLimit,
    /// Registration requests per client IP address.
    pub rc_registration: RateLimit,
    /// Logins per client address, per account, and failed password checks per account.
    pub rc_login: LoginRateLimits,
    /// Joins per user.
    pub rc_joins: JoinRateLimits,
    /// Invites per room, per invitee and per inviter.
    pub rc_invites: InviteRateLimits,
}

/// A token bucket: `burst_count` actions at once, refilled at `per_second`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst_count: u32,
}

impl RateLimit {
    pub const fn new(per_second: f64, burst_count: u32) -> Self {
        Self { per_second, burst_count }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoginRateLimits {
    /// Login requests per client IP address.
    pub address: RateLimit,
    /// Login requests per account named.
    pub account: RateLimit,
    /// Failed logins (and password checks) per account named.
    pub failed_attempts: RateLimit,
}

impl Default for LoginRateLimits {
    fn default() -> Self {
        Self { address: RateLimit::new(0.003, 5), account: RateLimit::new(0.003, 5), failed_attempts: RateLimit::new(0.17, 3) }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JoinRateLimits {
    /// Joins per user to rooms this server is in.
    pub local: RateLimit,
    /// Joins per user to rooms on other servers (federated joins; kept for config parity).
    pub remote: RateLimit,
}

impl Default for JoinRateLimits {
    fn default() -> Self {
        Self { local: RateLimit::new(0.1, 10), remote: RateLimit::new(0.01, 10) }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InviteRateLimits {
    /// Invites sent into one room.
    pub per_room: RateLimit,
    /// Invites received by one user.
    pub per_user: RateLimit,
    /// Invites sent by one user.
    pub per_issuer: RateLimit,
}

impl Default for InviteRateLimits {
    fn default() -> Self {
        Self { per_room: RateLimit::new(0.3, 10), per_user: RateLimit::new(0.003, 5), per_issuer: RateLimit::new(0.3, 10) }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerNoticesConfig {
    pub system_mxid_localpart: String,
    pub system_mxid_display_name: String,
    pub room_name: String,
}

impl Default for ServerNoticesConfig {
    fn default() -> Self {
        Self {
            system_mxid_localpart: "notices".into(),
            system_mxid_display_name: "Server Notices".into(),
            room_name: "Server Notices".into(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            server_name: "localhost".into(),
            listen: "127.0.0.1:8008".into(),
            data_dir: PathBuf::from("./data"),
            database_url: String::new(),
            registration_shared_secret: String::new(),
            enable_registration: false,
            log: "info".into(),
            max_event_bytes: 65536,
            max_request_bytes: 1 << 20,
            max_upload_bytes: 50 << 20,
            password_hash_log_n: 17,
            password_hash_concurrency: 0,
            password_hash_queue_per_slot: 2,
            workers: 0,
            actor_idle_secs: 600,
            db_pool_size: 8,
            server_notices: ServerNoticesConfig::default(),
            tls_listen: String::new(),
            tls_certificate_path: PathBuf::new(),
            tls_private_key_path: PathBuf::new(),
            federation_custom_ca_list: Vec::new(),
            allow_device_name_lookup_over_federation: false,
            user_directory_search_all_users: false,
            presence_enabled: true,
            x_forwarded: false,
            rc_message: RateLimit::new(0.2, 10),
            rc_registration: RateLimit::new(0.17, 3),
            rc_login: LoginRateLimits::default(),
            rc_joins: JoinRateLimits::default(),
            rc_invites: InviteRateLimits::default(),
            max_image_pixels: 32 * 1024 * 1024,
        }
    }
}

impl Config {
    /// Reads `path` (if given) and applies `ENSEMBLE_*` overrides from the environment.
    pub fn load(path: Option<&Path>) -> Result<Self, String> {
        let mut cfg = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| format!("reading {}: {e}", p.display()))?;
                toml::from_str(&text).map_err(|e| format!("parsing {}: {e}", p.display()))?
            }
            None => Config::default(),
        };
        cfg.apply_env(std::env::vars())?;
        Ok(cfg)
    }

    /// Overrides from `ENSEMBLE_<KEY>` (nested keys as `ENSEMBLE_SERVER_NOTICES_<KEY>`).
    pub fn apply_env(&mut self, vars: impl Iterator<Item = (String, String)>) -> Result<(), String> {
        for (k, v) in vars {
            let Some(key) = k.strip_prefix("ENSEMBLE_") else { continue };
            let key = key.to_ascii_lowercase();
            let bad = |e: &dyn std::fmt::Display| format!("{k}: {e}");
            match key.as_str() {
                "server_name" => self.server_name = v,
                "listen" => self.listen = v,
                "data_dir" => self.data_dir = PathBuf::from(v),
                "database_url" => self.database_url = v,
                "registration_shared_secret" => self.registration_shared_secret = v,
                "enable_registration" => self.enable_registration = v.parse().map_err(|e| bad(&e))?,
                "log" => self.log = v,
                "max_event_bytes" => self.max_event_bytes = v.parse().map_err(|e| bad(&e))?,
                "max_request_bytes" => self.max_request_bytes = v.parse().map_err(|e| bad(&e))?,
                "max_upload_bytes" => self.max_upload_bytes = v.parse().map_err(|e| bad(&e))?,
                "password_hash_log_n" => self.password_hash_log_n = v.parse().map_err(|e| bad(&e))?,
                "password_hash_concurrency" => self.password_hash_concurrency = v.parse().map_err(|e| bad(&e))?,
                "password_hash_queue_per_slot" => self.password_hash_queue_per_slot = v.parse().map_err(|e| bad(&e))?,
                "workers" => self.workers = v.parse().map_err(|e| bad(&e))?,
                "actor_idle_secs" => self.actor_idle_secs = v.parse().map_err(|e| bad(&e))?,
                "db_pool_size" => self.db_pool_size = v.parse().map_err(|e| bad(&e))?,
                "server_notices_system_mxid_localpart" => self.server_notices.system_mxid_localpart = v,
                "server_notices_system_mxid_display_name" => self.server_notices.system_mxid_display_name = v,
                "server_notices_room_name" => self.server_notices.room_name = v,
                "tls_listen" => self.tls_listen = v,
                "tls_certificate_path" => self.tls_certificate_path = PathBuf::from(v),
                "tls_private_key_path" => self.tls_private_key_path = PathBuf::from(v),
                // A comma-separated list of paths.
                "federation_custom_ca_list" => {
                    self.federation_custom_ca_list = v.split(',').map(str::trim).filter(|p| !p.is_empty()).map(PathBuf::from).collect()
                }
                "presence_enabled" => self.presence_enabled = v.parse().map_err(|e| bad(&e))?,
                "x_forwarded" => self.x_forwarded = v.parse().map_err(|e| bad(&e))?,
                "user_directory_search_all_users" => self.user_directory_search_all_users = v.parse().map_err(|e| bad(&e))?,
                "allow_device_name_lookup_over_federation" => {
                    self.allow_device_name_lookup_over_federation = v.parse().map_err(|e| bad(&e))?
                }
                "max_image_pixels" => self.max_image_pixels = v.parse().map_err(|e| bad(&e))?,
                // Variables the CLI itself reads (config path etc.) are not config keys.
                "config" => {}
                // `rc_login_address_per_second` and the like.
                rc if rc.starts_with("rc_") => {
                    let field =
                        rc.strip_suffix("_per_second").map(|l| (l, true)).or_else(|| rc.strip_suffix("_burst_count").map(|l| (l, false)));
                    match field.and_then(|(name, per_second)| self.rate_limit_mut(name).map(|l| (l, per_second))) {
                        Some((limit, true)) => limit.per_second = v.parse().map_err(|e| bad(&e))?,
                        Some((limit, false)) => limit.burst_count = v.parse().map_err(|e| bad(&e))?,
                        None => log::warn!("ignoring unknown environment override {k}"),
                    }
                }
                _ => log::warn!("ignoring unknown environment override {k}"),
            }
        }
        Ok(())
    }

    /// The rate limit an environment override names, e.g. `rc_invites_per_room`.
    fn rate_limit_mut(&mut self, name: &str) -> Option<&mut RateLimit> {
        Some(match name {
            "rc_message" => &mut self.rc_message,
            "rc_registration" => &mut self.rc_registration,
            "rc_login_address" => &mut self.rc_login.address,
            "rc_login_account" => &mut self.rc_login.account,
            "rc_login_failed_attempts" => &mut self.rc_login.failed_attempts,
            "rc_joins_local" => &mut self.rc_joins.local,
            "rc_joins_remote" => &mut self.rc_joins.remote,
            "rc_invites_per_room" => &mut self.rc_invites.per_room,
            "rc_invites_per_user" => &mut self.rc_invites.per_user,
            "rc_invites_per_issuer" => &mut self.rc_invites.per_issuer,
            _ => return None,
        })
    }

    /// The SQLite file path the database URL names.
    pub fn database_path(&self) -> PathBuf {
        if self.database_url.is_empty() {
            return self.data_dir.join("ensemble.db");
        }
        let url = self.database_url.as_str();
        let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
        PathBuf::from(path)
    }

    /// A fresh config with safe defaults and a random registration secret, as TOML.
    pub fn generate_toml() -> String {
        let cfg = Config { registration_shared_secret: crate::ids::random_hex(32), ..Config::default() };
        let body = toml::to_string_pretty(&cfg).unwrap_or_default();
        format!("# Ensemble configuration. Every key can be overridden as ENSEMBLE_<KEY>.\n{body}")
    }
}
