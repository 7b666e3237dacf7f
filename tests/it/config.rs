//! Configuration: defaults, environment overrides, and their effect on a running server.

use crate::common::*;
use ensemble::Config;
use ensemble::config::RateLimit;
use ensemble::store::Location;
use serde_json::json;
use std::path::PathBuf;

fn env(vars: &[(&str, &str)]) -> impl Iterator<Item = (String, String)> {
    vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>().into_iter()
}

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
    assert_eq!(cfg.database(), Location::Sqlite("/tmp/ens.db".into()));
    assert_eq!(cfg.registration_shared_secret, "s3cret");
    assert_eq!(cfg.log, "debug");
    assert!(cfg.enable_registration);
    assert_eq!(cfg.max_event_bytes, 1000);
    assert_eq!(cfg.server_notices.room_name, "Alerts");
    let bad = cfg.apply_env(std::iter::once(("ENSEMBLE_MAX_EVENT_BYTES".to_string(), "lots".to_string())));
    assert!(bad.is_err());
}

/// Every variable name the server has ever read, each set away from its default: the names are
/// derived from the struct now, so this pins them.
#[test]
fn every_environment_name_reaches_its_key() {
    let mut cfg = Config::default();
    cfg.apply_env(env(&[
        ("ENSEMBLE_PASSWORD_HASH_LOG_N", "9"),
        ("ENSEMBLE_PASSWORD_HASH_CONCURRENCY", "3"),
        ("ENSEMBLE_PASSWORD_HASH_QUEUE_PER_SLOT", "7"),
        ("ENSEMBLE_WORKERS", "5"),
        ("ENSEMBLE_ACTOR_IDLE_SECS", "42"),
        ("ENSEMBLE_DB_POOL_SIZE", "2"),
        ("ENSEMBLE_MAX_REQUEST_BYTES", "2048"),
        ("ENSEMBLE_MAX_UPLOAD_BYTES", "4096"),
        ("ENSEMBLE_MAX_IMAGE_PIXELS", "1000000"),
        ("ENSEMBLE_SERVER_NOTICES_SYSTEM_MXID_LOCALPART", "alerts"),
        ("ENSEMBLE_SERVER_NOTICES_SYSTEM_MXID_DISPLAY_NAME", "Alert Bot"),
        ("ENSEMBLE_TLS_LISTEN", "127.0.0.1:8448"),
        ("ENSEMBLE_TLS_CERTIFICATE_PATH", "/etc/ens/cert.pem"),
        ("ENSEMBLE_TLS_PRIVATE_KEY_PATH", "/etc/ens/key.pem"),
        ("ENSEMBLE_PRESENCE_ENABLED", "false"),
        ("ENSEMBLE_X_FORWARDED", "true"),
        ("ENSEMBLE_USER_DIRECTORY_SEARCH_ALL_USERS", "true"),
        ("ENSEMBLE_ALLOW_DEVICE_NAME_LOOKUP_OVER_FEDERATION", "true"),
        ("ENSEMBLE_RC_MESSAGE_PER_SECOND", "1.5"),
        ("ENSEMBLE_RC_MESSAGE_BURST_COUNT", "20"),
        ("ENSEMBLE_RC_REGISTRATION_PER_SECOND", "2"),
        ("ENSEMBLE_RC_REGISTRATION_BURST_COUNT", "4"),
        ("ENSEMBLE_RC_REGISTRATION_TOKEN_VALIDITY_PER_SECOND", "0.75"),
        ("ENSEMBLE_RC_REGISTRATION_TOKEN_VALIDITY_BURST_COUNT", "15"),
        ("ENSEMBLE_REGISTRATION_REQUIRES_TOKEN", "true"),
        ("ENSEMBLE_RC_LOGIN_ADDRESS_PER_SECOND", "0.5"),
        ("ENSEMBLE_RC_LOGIN_ADDRESS_BURST_COUNT", "6"),
        ("ENSEMBLE_RC_LOGIN_ACCOUNT_PER_SECOND", "0.25"),
        ("ENSEMBLE_RC_LOGIN_ACCOUNT_BURST_COUNT", "7"),
        ("ENSEMBLE_RC_LOGIN_FAILED_ATTEMPTS_PER_SECOND", "0.125"),
        ("ENSEMBLE_RC_LOGIN_FAILED_ATTEMPTS_BURST_COUNT", "8"),
        ("ENSEMBLE_RC_JOINS_LOCAL_PER_SECOND", "3"),
        ("ENSEMBLE_RC_JOINS_LOCAL_BURST_COUNT", "9"),
        ("ENSEMBLE_RC_JOINS_REMOTE_PER_SECOND", "4"),
        ("ENSEMBLE_RC_JOINS_REMOTE_BURST_COUNT", "11"),
        ("ENSEMBLE_RC_INVITES_PER_ROOM_PER_SECOND", "5"),
        ("ENSEMBLE_RC_INVITES_PER_ROOM_BURST_COUNT", "12"),
        ("ENSEMBLE_RC_INVITES_PER_USER_PER_SECOND", "6"),
        ("ENSEMBLE_RC_INVITES_PER_USER_BURST_COUNT", "13"),
        ("ENSEMBLE_RC_INVITES_PER_ISSUER_PER_SECOND", "7"),
        ("ENSEMBLE_RC_INVITES_PER_ISSUER_BURST_COUNT", "14"),
        ("ENSEMBLE_RC_REPORTS_PER_SECOND", "8"),
        ("ENSEMBLE_RC_REPORTS_BURST_COUNT", "15"),
        ("ENSEMBLE_PUBLIC_BASEURL", "https://matrix.example.org/"),
    ]))
    .expect("overrides apply");
    assert_eq!(cfg.password_hash_log_n, 9);
    assert_eq!(cfg.password_hash_concurrency, 3);
    assert_eq!(cfg.password_hash_queue_per_slot, 7);
    assert_eq!(cfg.workers, 5);
    assert_eq!(cfg.actor_idle_secs, 42);
    assert_eq!(cfg.db_pool_size, 2);
    assert_eq!(cfg.max_request_bytes, 2048);
    assert_eq!(cfg.max_upload_bytes, 4096);
    assert_eq!(cfg.max_image_pixels, 1_000_000);
    assert_eq!(cfg.server_notices.system_mxid_localpart, "alerts");
    assert_eq!(cfg.server_notices.system_mxid_display_name, "Alert Bot");
    assert_eq!(cfg.tls_listen, "127.0.0.1:8448");
    assert_eq!(cfg.tls_certificate_path, PathBuf::from("/etc/ens/cert.pem"));
    assert_eq!(cfg.tls_private_key_path, PathBuf::from("/etc/ens/key.pem"));
    assert!(!cfg.presence_enabled);
    assert!(cfg.x_forwarded);
    assert!(cfg.user_directory_search_all_users);
    assert!(cfg.allow_device_name_lookup_over_federation);
    assert_eq!(cfg.rc_message, RateLimit::new(1.5, 20));
    assert_eq!(cfg.rc_registration, RateLimit::new(2.0, 4));
    assert_eq!(cfg.rc_registration_token_validity, RateLimit::new(0.75, 15));
    assert!(cfg.registration_requires_token);
    assert_eq!(cfg.rc_login.address, RateLimit::new(0.5, 6));
    assert_eq!(cfg.rc_login.account, RateLimit::new(0.25, 7));
    assert_eq!(cfg.rc_login.failed_attempts, RateLimit::new(0.125, 8));
    assert_eq!(cfg.rc_joins.local, RateLimit::new(3.0, 9));
    assert_eq!(cfg.rc_joins.remote, RateLimit::new(4.0, 11));
    assert_eq!(cfg.rc_invites.per_room, RateLimit::new(5.0, 12));
    assert_eq!(cfg.rc_invites.per_user, RateLimit::new(6.0, 13));
    assert_eq!(cfg.rc_invites.per_issuer, RateLimit::new(7.0, 14));
    assert_eq!(cfg.rc_reports, RateLimit::new(8.0, 15));
    assert_eq!(cfg.public_baseurl, "https://matrix.example.org/");
}

/// Each kind of value: strings stay verbatim even when they look like numbers, booleans and
/// numbers parse, lists are comma-separated or a TOML array, and nested tables take `__` too.
#[test]
fn environment_values_are_read_as_the_type_of_their_key() {
    let mut cfg = Config::default();
    cfg.apply_env(env(&[
        ("ENSEMBLE_SERVER_NAME", "1234"),
        ("ENSEMBLE_LOG", "ensemble=debug,actix_web=info"),
        ("ENSEMBLE_ENABLE_REGISTRATION", "true"),
        ("ENSEMBLE_MAX_EVENT_BYTES", "1_000"),
        ("ENSEMBLE_FEDERATION_CUSTOM_CA_LIST", "/a.pem, /b.pem,,"),
        ("ENSEMBLE_SERVER_NOTICES__ROOM_NAME", "Notices, loud"),
        ("ENSEMBLE_CONFIG", "/etc/ensemble.toml"),
        ("ENSEMBLE_NO_SUCH_KEY", "ignored"),
        ("ENSEMBLE_RC_NO_SUCH_LIMIT_PER_SECOND", "1"),
        ("ENSEMBLE_SERVER_NOTICES", "not a leaf"),
    ]))
    .expect("overrides apply, unknown names ignored");
    assert_eq!(cfg.server_name, "1234");
    assert_eq!(cfg.log, "ensemble=debug,actix_web=info");
    assert!(cfg.enable_registration);
    assert_eq!(cfg.max_event_bytes, 1000);
    assert_eq!(cfg.federation_custom_ca_list, vec![PathBuf::from("/a.pem"), PathBuf::from("/b.pem")]);
    assert_eq!(cfg.server_notices.room_name, "Notices, loud");

    cfg.apply_env(env(&[("ENSEMBLE_FEDERATION_CUSTOM_CA_LIST", r#"["/c.pem"]"#), ("ENSEMBLE_ENABLE_REGISTRATION", "false")]))
        .expect("a TOML array applies");
    assert_eq!(cfg.federation_custom_ca_list, vec![PathBuf::from("/c.pem")]);
    assert!(!cfg.enable_registration);
    cfg.apply_env(env(&[("ENSEMBLE_FEDERATION_CUSTOM_CA_LIST", "")])).expect("an empty list applies");
    assert!(cfg.federation_custom_ca_list.is_empty());
}

/// A value of the wrong type (or out of range) is refused with the variable's name.
#[test]
fn a_bad_environment_value_names_its_variable() {
    for (var, value) in [
        ("ENSEMBLE_MAX_EVENT_BYTES", "lots"),
        ("ENSEMBLE_ENABLE_REGISTRATION", "yes"),
        ("ENSEMBLE_PASSWORD_HASH_LOG_N", "300"),
        ("ENSEMBLE_WORKERS", "-1"),
        ("ENSEMBLE_RC_LOGIN_ADDRESS_PER_SECOND", "fast"),
        ("ENSEMBLE_RC_INVITES_PER_USER_BURST_COUNT", "2.5"),
        ("ENSEMBLE_FEDERATION_CUSTOM_CA_LIST", "[1, 2]"),
    ] {
        let mut cfg = Config::default();
        let err = cfg.apply_env(env(&[(var, value)])).expect_err(var);
        let err = err.message();
        assert!(err.starts_with(&format!("{var}: ")), "{var}={value}: {err}");
    }
    // A file is overridden by the environment the same way.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ensemble.toml");
    std::fs::write(&path, "server_name = \"file.example\"\n[rc_message]\nper_second = 1.0\nburst_count = 2\n").unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let mut cfg: Config = toml::from_str(&text).unwrap();
    cfg.apply_env(env(&[("ENSEMBLE_RC_MESSAGE_BURST_COUNT", "3")])).unwrap();
    assert_eq!((cfg.server_name.as_str(), cfg.rc_message), ("file.example", RateLimit::new(1.0, 3)));
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
    assert_eq!(cfg.database(), Location::Sqlite("./data/ensemble.db".into()));
    for url in ["postgres://ens:pw@127.0.0.1:5432/ensemble", "postgresql:///ensemble?host=/run/postgresql"] {
        let pg = Config { database_url: url.into(), ..Config::default() };
        assert_eq!(pg.database(), Location::Postgres(url.into()));
    }
    let bare = Config { database_url: "/srv/ensemble/ensemble.db".into(), ..Config::default() };
    assert_eq!(bare.database(), Location::Sqlite("/srv/ensemble/ensemble.db".into()));
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
