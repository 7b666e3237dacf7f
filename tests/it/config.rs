//! Configuration: defaults, environment overrides, and their effect on a running server.

use crate::common::*;
use ensemble::Config;
use serde_json::json;

#[test]
fn environment_overrides_every_documented_key() {
    let mut cfg = Config::default();
    let vars = [
        ("ENSEMBLE_SERVER_NAME", "example.org"),
        ("ENSEMBLE_LISTEN", "127.0.0.1:9999"),
        ("ENSEMBLE_DATA_DIR", "/tmp/ens-data"),
        ("ENSEMBLE_DATABASE_URL", "sqlite:///tmp/ens.db"),
        ("ENSEMBLE_REGISTRATION_SHARED_SECRET", "s3cret"),
        ("ENSEMBLE_LOG", "debug"),
        ("ENSEMBLE_ENABLE_REGISTRATION", "true"),
        ("ENSEMBLE_MAX_EVENT_BYTES", "1000"),
        ("ENSEMBLE_SERVER_NOTICES_ROOM_NAME", "Alerts"),
        ("UNRELATED", "x"),
    ];
    cfg.apply_env(vars.iter().map(|(k, v)| (k.to_string(), v.to_string()))).expect("overrides apply");
    assert_eq!(cfg.server_name, "example.org");
    assert_eq!(cfg.listen, "127.0.0.1:9999");
    assert_eq!(cfg.data_dir, std::path::PathBuf::from("/tmp/ens-data"));
    assert_eq!(cfg.database_path(), std::path::PathBuf::from("/tmp/ens.db"));
    assert_eq!(cfg.registration_shared_secret, "s3cret");
    assert_eq!(cfg.log, "debug");
    assert!(cfg.enable_registration);
    assert_eq!(cfg.max_event_bytes, 1000);
    assert_eq!(cfg.server_notices.room_name, "Alerts");
    let bad = cfg.apply_env(std::iter::once(("ENSEMBLE_MAX_EVENT_BYTES".to_string(), "lots".to_string())));
    assert!(bad.is_err());
}

#[test]
fn generated_config_is_safe_and_loads() {
    let text = Config::generate_toml();
    let cfg: Config = toml::from_str(&text).expect("generated config parses");
    assert_eq!(cfg.server_name, "localhost");
    assert_eq!(cfg.listen, "127.0.0.1:8008");
    assert!(!cfg.enable_registration, "open registration must be opted into");
    assert_eq!(cfg.registration_shared_secret.len(), 64);
    assert_ne!(Config::generate_toml(), text, "each generated secret is fresh");
    assert_eq!(cfg.database_path(), std::path::PathBuf::from("./data/ensemble.db"));
}

#[actix_rt::test]
async fn registration_can_be_disabled() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config(dir.path());
    cfg.enable_registration = false;
    let s = TestServer::start_with(dir, cfg).await;
    let r = s
        .req(
            "POST",
            "/_matrix/client/v3/register",
            None,
            Some(json!({"username": "eve", "password": "pw-eve-secret", "auth": {"type": "m.login.dummy"}})),
        )
        .await;
    r.err(403, "M_FORBIDDEN");
}
