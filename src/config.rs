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
    /// Images with at least this many pixels are not thumbnailed (Synapse's `max_image_pixels`,
    /// 32M): the header is read first, so a decompression bomb is refused before it is decoded.
    pub max_image_pixels: u64,
    pub server_notices: ServerNoticesConfig,
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
                "user_directory_search_all_users" => self.user_directory_search_all_users = v.parse().map_err(|e| bad(&e))?,
                "allow_device_name_lookup_over_federation" => {
                    self.allow_device_name_lookup_over_federation = v.parse().map_err(|e| bad(&e))?
                }
                "max_image_pixels" => self.max_image_pixels = v.parse().map_err(|e| bad(&e))?,
                // Variables the CLI itself reads (config path etc.) are not config keys.
                "config" => {}
                _ => log::warn!("ignoring unknown environment override {k}"),
            }
        }
        Ok(())
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
