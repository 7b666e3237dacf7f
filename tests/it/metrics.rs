//! The operators' metrics listener: off by default, its own port and routes only, and the
//! figures move with what the server does.

use crate::common::*;
use serde_json::json;

/// The value of a series without labels or with exactly these labels, from the text format.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')).and_then(|v| v.trim().parse().ok()))
}

#[actix_rt::test]
async fn metrics_are_off_by_default_and_not_on_the_client_listener() {
    let s = TestServer::start().await;
    assert!(s.server.metrics_addr.is_none());
    let r = reqwest::get(s.url("/metrics")).await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let r = reqwest::get(s.url("/_synapse/metrics")).await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
}

#[actix_rt::test]
async fn the_metrics_listener_counts_requests_commits_actors_and_waiters() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.metrics_listen = "127.0.0.1:0".into();
    let s = TestServer::start_with(dir, config).await;
    let addr = s.server.metrics_addr.expect("metrics listener");
    let scrape = || async move {
        let r = reqwest::get(format!("http://{addr}/metrics")).await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));
        r.text().await.unwrap()
    };
    let before = scrape().await;
    assert_eq!(value(&before, "synapse_storage_events_persisted_events_total"), Some(0.0), "{before}");

    let (alice, room) = {
        let alice = s.register_user("alice").await;
        let room = s.create_room(&alice, json!({})).await;
        (alice, room)
    };
    for i in 0..3 {
        s.send_text(&alice, &room, &format!("m{i}")).await;
    }
    // A long-poll waiting while the scrape runs.
    let since = next_batch(&s.sync(&alice, None, 0).await);
    let waiting = {
        let (s2, token) = (s.url(&sync_path(Some(&since), 5_000, None)), alice.token.clone());
        actix_rt::spawn(async move { reqwest::Client::new().get(s2).bearer_auth(token).send().await.map(|r| r.status().as_u16()) })
    };
    let text = eventually(10, || async {
        let t = scrape().await;
        (value(&t, "synapse_notifier_listeners") == Some(1.0)).then_some(t)
    })
    .await;
    // createRoom's initial events and three messages, all committed.
    assert!(value(&text, "synapse_storage_events_persisted_events_total").unwrap() >= 8.0, "{text}");
    assert!(value(&text, "ensemble_group_commit_events_count").unwrap() >= 2.0, "{text}");
    assert_eq!(value(&text, "ensemble_room_actors"), Some(1.0), "{text}");
    assert_eq!(value(&text, r#"ensemble_actor_activations_total{kind="room"}"#), Some(1.0), "{text}");
    assert_eq!(value(&text, "ensemble_room_pending_events"), Some(0.0), "{text}");
    assert_eq!(value(&text, r#"synapse_http_server_requests_received_total{method="PUT",servlet="send"}"#), Some(3.0), "{text}");
    let buckets = text.lines().filter(|l| {
        l.starts_with("synapse_http_server_response_time_seconds_bucket{") && l.contains(r#"method="PUT",servlet="send",code="200"}"#)
    });
    assert_eq!(buckets.count(), 18, "{text}");
    assert!(value(&text, "ensemble_search_index_lag").is_some() && value(&text, "ensemble_push_evaluation_lag").is_some(), "{text}");
    // SQLite: the commits' log is copied into the database file by the checkpoint thread, soon
    // after. PostgreSQL has no such log to copy.
    if s.server.services.config.database_url.is_empty() {
        let text = eventually(10, || async {
            let t = scrape().await;
            (value(&t, "ensemble_wal_checkpoints_total").is_some_and(|n| n >= 1.0)).then_some(t)
        })
        .await;
        assert!(value(&text, "ensemble_wal_pages").is_some_and(|n| n > 0.0), "{text}");
    } else {
        assert_eq!(value(&scrape().await, "ensemble_wal_checkpoints_total"), Some(0.0));
    }
    // Synapse's path for the same, and nothing else on that port.
    let synapse_path = reqwest::get(format!("http://{addr}/_synapse/metrics")).await.unwrap();
    assert_eq!(synapse_path.status().as_u16(), 200);
    let client_api = reqwest::get(format!("http://{addr}/_matrix/client/versions")).await.unwrap();
    assert_eq!(client_api.status().as_u16(), 404);
    s.send_text(&alice, &room, "wake").await;
    assert_eq!(waiting.await.unwrap().unwrap(), 200);
}
