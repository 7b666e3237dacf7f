//! Configuration: one TOML file, every key overridable as `ENSEMBLE_<KEY>`.

use crate::error::{Error, Result};
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
    /// `postgres://user:password@host:port/db` for PostgreSQL (13 or newer); `sqlite://path` or
    /// a bare path for SQLite; empty means `<data_dir>/ensemble.db`.
    pub database_url: String,
    /// The URL clients reach this server at (`https://matrix.example.org/`), which `/login`
    /// answers name in `well_known` (Synapse's `public_baseurl`); empty means not said.
    pub public_baseurl: String,
    /// Enables `/_synapse/admin/v1/register` when non-empty.
    pub registration_shared_secret: String,
    /// Whether `/register` accepts new accounts from anyone (off by default: admins create
    /// accounts with `register-user`, shared-secret registration or the admin API).
    pub enable_registration: bool,
    /// Whether `/register` asks for a registration token an admin created (the
    /// `m.login.registration_token` stage before `m.login.dummy`), as Synapse's key of that name.
    pub registration_requires_token: bool,
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
    /// Database connections in the shared pool (the event writer has one more of its own).
    pub db_pool_size: u32,
    /// Nice value (0-19, Linux) of the threads doing work nobody waits on: push evaluation
    /// between syncs, search indexing, log checkpoints. 0 runs them as every other thread.
    pub background_nice: u8,
    /// host:port of an optional second listener serving the same API over TLS (federation
    /// peers speak HTTPS only); empty means none, as behind a TLS-terminating reverse proxy.
    pub tls_listen: String,
    /// host:port of the metrics listener (`GET /metrics` or `/_synapse/metrics`, the Prometheus
    /// text format); empty (the default) means none. It answers anyone who reaches it: bind it
    /// to loopback or a private network.
    pub metrics_listen: String,
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
    /// Registration token validity checks per client IP address (guessing tokens is slow).
    pub rc_registration_token_validity: RateLimit,
    /// Logins per client address, per account, and failed password checks per account.
    pub rc_login: LoginRateLimits,
    /// Joins per user.
    pub rc_joins: JoinRateLimits,
    /// Invites per room, per invitee and per inviter.
    pub rc_invites: InviteRateLimits,
    /// Reports of events, rooms and users per user.
    pub rc_reports: RateLimit,
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
            public_baseurl: String::new(),
            registration_shared_secret: String::new(),
            enable_registration: false,
            registration_requires_token: false,
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
            background_nice: crate::priority::DEFAULT_NICE,
            server_notices: ServerNoticesConfig::default(),
            tls_listen: String::new(),
            metrics_listen: String::new(),
            tls_certificate_path: PathBuf::new(),
            tls_private_key_path: PathBuf::new(),
            federation_custom_ca_list: Vec::new(),
            allow_device_name_lookup_over_federation: false,
            user_directory_search_all_users: false,
            presence_enabled: true,
            x_forwarded: false,
            rc_message: RateLimit::new(0.2, 10),
            rc_registration: RateLimit::new(0.17, 3),
            rc_registration_token_validity: RateLimit::new(0.1, 5),
            rc_login: LoginRateLimits::default(),
            rc_joins: JoinRateLimits::default(),
            rc_invites: InviteRateLimits::default(),
            rc_reports: RateLimit::new(1.0, 5),
            max_image_pixels: 32 * 1024 * 1024,
        }
    }
}

impl Config {
    /// Reads `path` (if given) and applies `ENSEMBLE_*` overrides from the environment.
    pub fn load(path: Option<&Path>) -> Result<Self> {
        let mut cfg = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| Error::internal_from(format!("reading {}", p.display()), e))?;
                toml::from_str(&text).map_err(|e| Error::internal_from(format!("parsing {}", p.display()), e))?
            }
            None => Config::default(),
        };
        cfg.apply_env(std::env::vars())?;
        Ok(cfg)
    }

    /// Overrides from `ENSEMBLE_<KEY>`, where `<KEY>` is the path of a key in the TOML file with
    /// its tables joined by `_` (or `__`): `ENSEMBLE_SERVER_NOTICES_ROOM_NAME`,
    /// `ENSEMBLE_RC_LOGIN_ADDRESS_PER_SECOND`. The keys are the struct's own fields, so a new field
    /// is overridable without being named twice. A value is read as the type of the key it
    /// replaces: strings verbatim, lists as a TOML array or comma-separated, anything else as a
    /// TOML value; a value of the wrong type is an error naming the variable.
    pub fn apply_env(&mut self, vars: impl Iterator<Item = (String, String)>) -> Result<()> {
        let mut table = toml::Table::try_from(&*self).map_err(|e| Error::internal_from("config does not serialize", e))?;
        for (var, value) in vars {
            let Some(key) = var.strip_prefix("ENSEMBLE_") else { continue };
            let key = key.to_ascii_lowercase();
            // Variables the CLI itself reads (the config path) are not config keys.
            if key == "config" {
                continue;
            }
            let Some(path) = key_path(&table, &key) else {
                log::warn!("ignoring unknown environment override {var}");
                continue;
            };
            let slot = slot_mut(&mut table, &path).ok_or_else(|| Error::internal(format!("{var}: no such key")))?;
            *slot = env_value(slot, &value);
            // Deserializing after each override pins a type error on the variable that caused it.
            let checked: Config = table.clone().try_into().map_err(|e| Error::internal(format!("{var}: {}", e.message())))?;
            *self = checked;
        }
        Ok(())
    }

    /// The database the URL names: `postgres://` or `postgresql://` is PostgreSQL; `sqlite://path`,
    /// `sqlite:path` or a bare path is an SQLite file; empty is `<data_dir>/ensemble.db`.
    pub fn database(&self) -> crate::store::Location {
        use crate::store::Location;
        Location::from_url(&self.database_url).unwrap_or_else(|| Location::Sqlite(self.data_dir.join("ensemble.db")))
    }

    /// A fresh config with safe defaults and a random registration secret, as TOML.
    pub fn generate_toml() -> String {
        let cfg = Config { registration_shared_secret: crate::ids::random_hex(32), ..Config::default() };
        let body = toml::to_string_pretty(&cfg).unwrap_or_default();
        format!("# Ensemble configuration. Every key can be overridden as ENSEMBLE_<KEY>.\n{body}")
    }
}

/// The path of table keys a flattened, lower-cased variable name means, e.g. `rc_login_address_per_second`
/// -> `["rc_login", "address", "per_second"]`; `None` when it names no leaf key.
fn key_path(table: &toml::Table, name: &str) -> Option<Vec<String>> {
    for (key, value) in table {
        if let toml::Value::Table(inner) = value {
            let rest = name.strip_prefix(key.as_str()).and_then(|r| r.strip_prefix("__").or_else(|| r.strip_prefix('_')));
            if let Some(mut path) = rest.and_then(|rest| key_path(inner, rest)) {
                path.insert(0, key.clone());
                return Some(path);
            }
        } else if key == name {
            return Some(vec![key.clone()]);
        }
    }
    None
}

fn slot_mut<'a>(table: &'a mut toml::Table, path: &[String]) -> Option<&'a mut toml::Value> {
    let (last, tables) = path.split_last()?;
    let mut table = table;
    for key in tables {
        table = table.get_mut(key)?.as_table_mut()?;
    }
    table.get_mut(last)
}

/// An environment value read as the type of the value it replaces; what does not parse stays a
/// string, for deserialization to refuse with the expected type.
fn env_value(current: &toml::Value, raw: &str) -> toml::Value {
    match current {
        toml::Value::String(_) => toml::Value::String(raw.to_string()),
        toml::Value::Array(_) if !raw.trim_start().starts_with('[') => toml::Value::Array(
            raw.split(',').map(str::trim).filter(|p| !p.is_empty()).map(|p| toml::Value::String(p.to_string())).collect(),
        ),
        _ => raw.trim().parse().unwrap_or_else(|_| toml::Value::String(raw.to_string())),
    }
}
