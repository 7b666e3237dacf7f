//! Operators' metrics, served in the Prometheus text format on their own listener
//! (`metrics_listen`, off by default). Named as Synapse names its equivalents where it has one,
//! so existing dashboards need little change; the rest are `ensemble_*`.
//!
//! Every recording is an atomic add on a handle cloned at start: nothing on a hot path takes a
//! lock or allocates. Label values come from small fixed sets (never a raw path or an ID), so
//! the number of series is bounded.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

/// An HTTP request's labels, as Synapse's `synapse_http_server_*` metrics carry them.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: &'static str,
    /// The endpoint group ([`servlet`]).
    pub servlet: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResponseLabels {
    pub method: &'static str,
    pub servlet: &'static str,
    pub code: u16,
}

/// The kind of actor an activation or passivation was of.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActorLabels {
    pub kind: &'static str,
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub response_time: Family<ResponseLabels, Histogram>,
    pub events_persisted: Counter,
    pub commit_batch: Histogram,
    pub commit_seconds: Histogram,
    pub activations: Family<ActorLabels, Counter>,
    pub passivations: Family<ActorLabels, Counter>,
    /// Events room actors accepted and have not committed yet (waiting in a batch or being
    /// committed): how far the actors' queues are behind.
    pub room_pending_events: Gauge,
    /// Set when scraped, from the directory, the notifier and the search actor.
    pub room_actors: Gauge,
    pub user_actors: Gauge,
    pub sync_waiters: Gauge,
    pub search_lag: Gauge,
    /// The stream position the search index covers, kept by the search actor.
    pub search_covered: Gauge<i64, std::sync::atomic::AtomicI64>,
    pub push_lag: Gauge,
    /// Set when scraped, from the event writer's checkpoint thread.
    pub wal_checkpoints: Counter,
    pub wal_pages: Gauge,
}

fn latency_histogram() -> Histogram {
    // 1 ms to ~65 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "synapse_http_server_requests_received",
            "HTTP requests received, by method and endpoint group",
            requests.clone(),
        );
        let response_time = Family::<ResponseLabels, Histogram>::new_with_constructor(latency_histogram as fn() -> Histogram);
        registry.register("synapse_http_server_response_time_seconds", "Time to answer an HTTP request", response_time.clone());
        let events_persisted = Counter::<u64, AtomicU64>::default();
        registry.register("synapse_storage_events_persisted_events", "Events committed by room actors", events_persisted.clone());
        let commit_batch = Histogram::new(exponential_buckets(1.0, 2.0, 12));
        registry.register("ensemble_group_commit_events", "Events per group commit of a room actor", commit_batch.clone());
        let commit_seconds = latency_histogram();
        registry.register("ensemble_group_commit_seconds", "Time of a room actor's group commit", commit_seconds.clone());
        let activations = Family::<ActorLabels, Counter>::default();
        registry.register("ensemble_actor_activations", "Room and user actors started", activations.clone());
        let passivations = Family::<ActorLabels, Counter>::default();
        registry.register("ensemble_actor_passivations", "Room and user actors stopped when idle", passivations.clone());
        let room_pending_events = Gauge::default();
        registry.register(
            "ensemble_room_pending_events",
            "Events room actors accepted and have not committed yet",
            room_pending_events.clone(),
        );
        let room_actors = Gauge::default();
        registry.register("ensemble_room_actors", "Live room actors", room_actors.clone());
        let user_actors = Gauge::default();
        registry.register("ensemble_user_actors", "Live user actors", user_actors.clone());
        let sync_waiters = Gauge::default();
        registry.register("synapse_notifier_listeners", "Long-polling syncs waiting for something new", sync_waiters.clone());
        let search_lag = Gauge::default();
        registry.register(
            "ensemble_search_index_lag",
            "Event stream positions committed but not yet in the search index",
            search_lag.clone(),
        );
        let push_lag = Gauge::default();
        registry.register(
            "ensemble_push_evaluation_lag",
            "Event stream positions committed but not yet evaluated for push",
            push_lag.clone(),
        );
        let wal_checkpoints = Counter::<u64, AtomicU64>::default();
        registry.register(
            "ensemble_wal_checkpoints",
            "Checkpoints that copied SQLite's write-ahead log into the database file",
            wal_checkpoints.clone(),
        );
        let wal_pages = Gauge::default();
        registry.register("ensemble_wal_pages", "Pages in SQLite's write-ahead log at the last checkpoint", wal_pages.clone());
        Self {
            registry,
            requests,
            response_time,
            events_persisted,
            commit_batch,
            commit_seconds,
            activations,
            passivations,
            room_pending_events,
            room_actors,
            user_actors,
            sync_waiters,
            search_lag,
            search_covered: Gauge::default(),
            push_lag,
            wal_checkpoints,
            wal_pages,
        }
    }
}

impl Metrics {
    /// One request answered, its labels read before it was handled ([`labels`]).
    pub fn answered(&self, (method, servlet): (&'static str, &'static str), status: u16, took: Duration) {
        self.requests.get_or_create(&RequestLabels { method, servlet }).inc();
        self.response_time.get_or_create(&ResponseLabels { method, servlet, code: status }).observe(took.as_secs_f64());
    }

    /// One group commit of `events` events that took `took`.
    pub fn committed(&self, events: usize, took: Duration) {
        self.events_persisted.inc_by(events as u64);
        self.commit_batch.observe(events as f64);
        self.commit_seconds.observe(took.as_secs_f64());
    }

    /// Everything registered, in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// A request's method and endpoint group, as labels.
pub fn labels(method: &str, path: &str) -> (&'static str, &'static str) {
    (method_label(method), servlet(path))
}

/// A method as a label: the ones Matrix uses, anything else as OTHER.
fn method_label(m: &str) -> &'static str {
    match m {
        "GET" => "GET",
        "PUT" => "PUT",
        "POST" => "POST",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        "HEAD" => "HEAD",
        _ => "OTHER",
    }
}

/// The endpoint group of a path: a fixed set of names, so a client cannot make new series.
pub fn servlet(path: &str) -> &'static str {
    const CLIENT: [(&str, &str); 16] = [
        ("/sync", "sync"),
        ("/send/", "send"),
        ("/messages", "messages"),
        ("/state", "state"),
        ("/keys/", "keys"),
        ("/sendToDevice/", "to_device"),
        ("/receipt/", "receipts"),
        ("/read_markers", "receipts"),
        ("/typing/", "typing"),
        ("/presence/", "presence"),
        ("/login", "login"),
        ("/register", "register"),
        ("/join", "membership"),
        ("/invite", "membership"),
        ("/leave", "membership"),
        ("/search", "search"),
    ];
    if let Some(rest) = path.strip_prefix("/_matrix/client/") {
        let rest = rest.find('/').map_or("", |i| &rest[i..]);
        return CLIENT.iter().find(|(needle, _)| rest.contains(needle)).map_or("client_other", |(_, name)| name);
    }
    if path.starts_with("/_matrix/media/") {
        return "media";
    }
    if path.starts_with("/_matrix/federation/") || path.starts_with("/_matrix/key/") {
        return "federation";
    }
    if path.starts_with("/_synapse/admin/") {
        return "synapse_admin";
    }
    if path.starts_with("/_dendrite/admin/") {
        return "dendrite_admin";
    }
    if path.starts_with("/.well-known/") {
        return "well_known";
    }
    "other"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_fall_into_a_fixed_set_of_groups() {
        assert_eq!(servlet("/_matrix/client/v3/sync"), "sync");
        assert_eq!(servlet("/_matrix/client/v3/rooms/!a:b/send/m.room.message/1"), "send");
        assert_eq!(servlet("/_matrix/client/r0/rooms/!a:b/messages"), "messages");
        assert_eq!(servlet("/_matrix/client/v3/rooms/!sync:b/state"), "state");
        assert_eq!(servlet("/_matrix/client/v3/capabilities"), "client_other");
        assert_eq!(servlet("/_matrix/media/v3/download/x/y"), "media");
        assert_eq!(servlet("/_synapse/admin/v2/users"), "synapse_admin");
        assert_eq!(servlet("/_dendrite/admin/evacuateRoom/x"), "dendrite_admin");
        assert_eq!(servlet("/anything/else"), "other");
        assert_eq!(method_label("BREW"), "OTHER");
    }

    #[test]
    fn rendered_text_names_what_was_recorded() {
        let m = Metrics::default();
        m.answered(labels("GET", "/_matrix/client/v3/sync"), 200, Duration::from_millis(3));
        m.committed(5, Duration::from_millis(2));
        let text = m.render();
        assert!(text.contains(r#"synapse_http_server_requests_received_total{method="GET",servlet="sync"} 1"#), "{text}");
        assert!(text.contains(r#"synapse_http_server_response_time_seconds_count{method="GET",servlet="sync",code="200"} 1"#), "{text}");
        assert!(text.contains("synapse_storage_events_persisted_events_total 5"), "{text}");
        assert!(text.contains("ensemble_group_commit_events_count 1"), "{text}");
    }
}
