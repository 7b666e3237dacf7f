//! Ensemble: a single-node Matrix homeserver in which every room and every user is an actix actor.
//! See docs/architecture.md for the map.

pub mod actors;
pub mod api;
pub mod auth;
pub mod config;
pub mod error;
pub mod events;
pub mod federation;
pub mod ids;
pub mod memory;
pub mod metrics;
pub mod priority;
pub mod service;
pub mod store;
pub mod typing;

use crate::error::{Error, Result};
use actix::prelude::*;
use actix_web::{App, HttpServer, web};
use std::net::SocketAddr;
use std::sync::Arc;

pub use config::Config;

/// Everything a handler or actor needs to reach; one per running server.
pub struct Services {
    pub config: Config,
    pub db: store::Db,
    /// Commits the room actors' batches: one writer, one transaction for every room waiting.
    pub committer: store::committer::Committer,
    /// What the event writer committed last, for woken long-polls to answer from.
    pub recent: Arc<store::recent::RecentEvents>,
    pub keys: events::signing_key::ServerKeys,
    pub directory: actors::directory::Directory,
    pub notifier: Addr<actors::notifier::Notifier>,
    pub search: Addr<actors::search::SearchActor>,
    pub search_index: actors::search::SharedIndex,
    /// Evaluates push rules after commit (told by room actors that there is more).
    pub push: Addr<actors::push::PushEvaluator>,
    /// Calls push gateways.
    pub pusher: Addr<actors::pusher::Pusher>,
    /// The event stream position push rules have been evaluated up to.
    pub push_progress: tokio::sync::watch::Receiver<i64>,
    pub tokens: auth::tokens::TokenCache,
    pub uia: auth::uia::UiaSessions,
    pub client_ips: auth::client_ips::ClientIps,
    pub nonces: auth::shared_secret::Nonces,
    pub federation: federation::client::FederationClient,
    pub typing: typing::TypingBoard,
    /// Every password hash and check goes through here: bounded concurrency, then 429.
    pub passwords: auth::password::PasswordHashing,
    pub rate_limits: auth::rate_limit::RateLimits,
    pub deactivated: actors::user::DeactivatedUsers,
    /// Times a long-polling `/sync` woke, read the store again and found nothing to send: with
    /// nothing committed a long-poll reads once and waits, so tests can tell waiting from spinning.
    pub sync_rechecks: std::sync::atomic::AtomicU64,
    /// Long-polls parked without reading the store (the notifier vouched that nothing was new).
    pub sync_quiet_parks: std::sync::atomic::AtomicU64,
    /// Woken long-polls answered from the recent events in memory, without the store's events.
    pub sync_from_memory: std::sync::atomic::AtomicU64,
    /// Filters `/sync` parsed before (inline ones by their text, stored ones by user and ID).
    pub sync_filters: service::sync::filter::FilterCache,
    /// Unread counts, ignored users and key counts kept for woken long-polls.
    pub kept: store::kept::KeptReads,
    /// Member events each device was sent by lazy-loading syncs.
    pub sent_members: Arc<service::sync::lazy_members::SentMembers>,
    /// Users whose presence a sync refreshed in the last seconds.
    pub presence_refreshes: service::presence::RecentRefreshes,
    /// Room deletions and history purges running in the background.
    pub admin_jobs: service::admin_jobs::Jobs,
    /// Room upgrades answered in the last minutes, so that a client's retry gets the same room.
    pub recent_upgrades: service::room_upgrade::RecentUpgrades,
    /// What operators scrape from the metrics listener.
    pub metrics: Arc<metrics::Metrics>,
}

impl Services {
    pub fn server_name(&self) -> &str {
        &self.config.server_name
    }
}

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
    /// The TLS listener's address, when `tls_listen` is set.
    pub tls_addr: Option<SocketAddr>,
    pub base_url: String,
    /// The metrics listener's address, when `metrics_listen` is set.
    pub metrics_addr: Option<SocketAddr>,
    pub services: Arc<Services>,
    handle: actix_web::dev::ServerHandle,
    metrics_handle: Option<actix_web::dev::ServerHandle>,
    /// The periodic loops (statistics, client IP flushes), stopped with the server.
    background: Vec<actix_rt::task::JoinHandle<()>>,
}

impl Server {
    /// Stops accepting requests, waits for in-flight ones to finish, then stops everything else
    /// the server runs: its loops, its actors' arbiters and the search writer. A test that starts
    /// a new server on the same data directory then runs one server's work, not two.
    pub async fn stop(self) {
        self.handle.stop(true).await;
        if let Some(h) = &self.metrics_handle {
            h.stop(true).await;
        }
        // Before the actors stop, so no job records a failure the stop caused: they stay active
        // and the next start resumes them.
        self.services.admin_jobs.abort_all();
        for task in &self.background {
            task.abort();
        }
        for task in self.background {
            let _ = task.await;
        }
        if let Err(e) = self.services.client_ips.flush(&self.services.db).await {
            log::warn!("recording client IPs on shutdown failed: {e}");
        }
        self.services.directory.stop();
        // The index writer holds a lock on its directory: release it so a new server can open it.
        let _ = self.services.search.send(actors::search::Shutdown).await;
        let _ = self.services.push.send(actors::push::Stop).await;
        let _ = self.services.pusher.send(actors::pusher::Stop).await;
        self.services.committer.stop();
    }
}

/// Opens the store, starts the actors and the HTTP listener. Must run inside an actix System.
/// How long an idle keep-alive connection stays open.
const KEEP_ALIVE_SECS: u64 = 75;
/// How often the heap is trimmed (when actors came or went meanwhile).
const TRIM_SECS: u64 = 60;

pub async fn start(config: Config) -> Result<Server> {
    start_with_tls_listener(config, None).await
}

/// As [`start`], serving TLS on an already bound socket instead of binding `tls_listen`: a
/// server whose name carries its port needs the port before it starts.
pub async fn start_with_tls_listener(config: Config, tls_listener: Option<std::net::TcpListener>) -> Result<Server> {
    federation::tls::install_default_provider();
    if ruma::ServerName::parse(&config.server_name).is_err() {
        return Err(Error::internal(format!("invalid server_name {:?}", config.server_name)));
    }
    priority::set_background_nice(config.background_nice);
    let cfg = config.clone();
    let (db, keys, resumed, typing_start, heads) = tokio::task::spawn_blocking(move || {
        let db = store::Db::open(&cfg.database(), cfg.db_pool_size)?;
        // Nothing signed with a server key yet (the CLI may have created accounts): a key may be made.
        let new_database = !db.get().and_then(|mut c| store::events::any_event(&mut c))?;
        let resumed = db.get().and_then(|mut c| store::purge::resume_purges(&mut c))?;
        if !resumed.is_empty() {
            log::info!("finished interrupted purges of {resumed:?}");
        }
        let media_files = db.get().and_then(|mut c| store::media_admin::finish_deletions(&mut c, &cfg.data_dir))?;
        if media_files > 0 {
            log::info!("removed the files of {media_files} media deleted before a restart");
        }
        let typing_start = db.get().and_then(|mut c| store::streams::reserve_typing(&mut c, ids::now_ms()))?;
        let heads = db.get().and_then(|mut c| service::sync::positions_now(&mut c, typing_start))?;
        let keys = events::signing_key::ServerKeys::load_or_generate(&cfg.data_dir, &cfg.server_name, new_database)?;
        Ok::<_, Error>((db, keys, resumed, typing_start, heads))
    })
    .await
    .map_err(|e| Error::internal_from("starting", e))??;
    let metrics = Arc::new(metrics::Metrics::default());
    let recent = Arc::new(store::recent::RecentEvents::starting_at(heads.events));
    let (search, search_index) =
        actors::search::SearchActor::start(&config.data_dir, db.clone(), recent.clone(), metrics.search_covered.clone())?;
    for room in resumed {
        search.do_send(actors::search::DropRoom(room));
    }
    let pusher = actors::pusher::Pusher::new(&config, db.clone())?.start();
    let kept = store::kept::KeptReads::default();
    let (push, push_progress) =
        actors::push::PushEvaluator::new(db.clone(), config.server_name.clone(), recent.clone(), pusher.clone(), kept.unread.clone());
    let push = push.start();
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let committer = store::committer::Committer::start(&db, recent.clone())?;
    let services = Arc::new(Services {
        db,
        committer,
        recent,
        keys,
        directory: actors::directory::Directory::new(threads),
        notifier: actors::notifier::Notifier::starting_at(heads).start(),
        search,
        search_index,
        push,
        pusher,
        push_progress,
        tokens: auth::tokens::TokenCache::default(),
        uia: auth::uia::UiaSessions::default(),
        client_ips: auth::client_ips::ClientIps::default(),
        nonces: auth::shared_secret::Nonces::default(),
        federation: federation::client::FederationClient::new(&config)?,
        typing: typing::TypingBoard::starting_at(typing_start),
        passwords: auth::password::PasswordHashing::new(
            config.password_hash_log_n,
            config.password_hash_concurrency,
            config.password_hash_queue_per_slot,
        ),
        rate_limits: auth::rate_limit::RateLimits::new(&config),
        deactivated: actors::user::DeactivatedUsers::default(),
        sync_rechecks: std::sync::atomic::AtomicU64::new(0),
        sync_quiet_parks: std::sync::atomic::AtomicU64::new(0),
        sync_from_memory: std::sync::atomic::AtomicU64::new(0),
        sync_filters: Default::default(),
        kept,
        sent_members: Default::default(),
        presence_refreshes: Default::default(),
        admin_jobs: Default::default(),
        recent_upgrades: Default::default(),
        metrics,
        config: config.clone(),
    });
    actix_rt::spawn(service::admin_jobs::resume(services.clone()));
    let keeper = services.clone();
    let housekeeping = actix_rt::spawn(async move {
        let mut iv = tokio::time::interval(std::time::Duration::from_secs(600));
        iv.tick().await;
        loop {
            iv.tick().await;
            if let Err(e) = keeper.db.run(store::optimize).await {
                log::warn!("refreshing database statistics failed: {e}");
            }
            let expired_before = ids::now_ms() - store::events::TXN_ID_LIFETIME_MS;
            match keeper.db.run_background(move |c| store::events::prune_txn_ids(c, expired_before)).await {
                Ok(n) if n > 0 => log::debug!("{n} expired transaction IDs deleted"),
                Ok(_) => {}
                Err(e) => log::warn!("deleting expired transaction IDs failed: {e}"),
            }
        }
    });
    let flusher = services.clone();
    let flushing = actix_rt::spawn(async move {
        let mut iv = tokio::time::interval(std::time::Duration::from_secs(2));
        loop {
            iv.tick().await;
            if let Err(e) = flusher.client_ips.flush_due(&flusher.db).await {
                log::warn!("recording client IPs failed: {e}");
            }
        }
    });
    let trimmer = services.clone();
    let trimming = actix_rt::spawn(async move {
        let mut iv = tokio::time::interval(std::time::Duration::from_secs(TRIM_SECS));
        let mut seen = 0;
        loop {
            iv.tick().await;
            let churn = trimmer.directory.churn();
            if churn != seen {
                seen = churn;
                let before = memory::resident_kib();
                if let Ok(true) = tokio::task::spawn_blocking(memory::trim).await {
                    log::debug!("heap trimmed: resident {before} KiB -> {} KiB", memory::resident_kib());
                }
            }
        }
    });
    let data = web::Data::from(services.clone());
    let mut http = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .wrap(actix_web::middleware::from_fn(api::middleware::edge))
            .configure(api::configure)
            .default_service(web::to(api::middleware::unrecognized))
    })
    // Clients and test suites pool connections and reuse one after a pause of several seconds;
    // closing it after actix's default 5 s races with such a reuse ("connection closed while
    // awaiting header"). Idle connections still count against the connection limit.
    .keep_alive(std::time::Duration::from_secs(KEEP_ALIVE_SECS))
    .disable_signals();
    if config.workers > 0 {
        http = http.workers(config.workers);
    }
    let mut http = http.bind(&config.listen).map_err(|e| Error::internal_from(format!("binding {}", config.listen), e))?;
    let addr = http.addrs().first().copied().ok_or_else(|| Error::internal("no listening address"))?;
    let mut tls_addr = None;
    if tls_listener.is_some() || !config.tls_listen.is_empty() {
        let tls = federation::tls::server_config(&config.tls_certificate_path, &config.tls_private_key_path)?;
        http = match tls_listener {
            Some(l) => http.listen_rustls_0_23(l, tls),
            None => http.bind_rustls_0_23(&config.tls_listen, tls),
        }
        .map_err(|e| Error::internal_from(format!("TLS listener {}", config.tls_listen), e))?;
        tls_addr = http.addrs().into_iter().find(|a| *a != addr);
        log::info!("serving TLS on {}", tls_addr.map(|a| a.to_string()).unwrap_or_default());
    }
    let server = http.run();
    let handle = server.handle();
    actix_rt::spawn(async move {
        if let Err(e) = server.await {
            log::error!("HTTP server stopped: {e}");
        }
    });
    let (metrics_addr, metrics_handle) = match config.metrics_listen.as_str() {
        "" => (None, None),
        listen => {
            let (addr, handle) = start_metrics_listener(listen, &services)?;
            (Some(addr), Some(handle))
        }
    };
    log::info!("Ensemble {} listening on http://{addr} as {}", env!("CARGO_PKG_VERSION"), config.server_name);
    Ok(Server {
        addr,
        tls_addr,
        base_url: format!("http://{addr}"),
        metrics_addr,
        services,
        handle,
        metrics_handle,
        background: vec![housekeeping, flushing, trimming],
    })
}

/// The metrics listener: its own port, its own routes only, one worker.
fn start_metrics_listener(listen: &str, services: &Arc<Services>) -> Result<(SocketAddr, actix_web::dev::ServerHandle)> {
    let data = web::Data::from(services.clone());
    let http = HttpServer::new(move || App::new().app_data(data.clone()).configure(api::metrics::configure))
        .workers(1)
        .disable_signals()
        .bind(listen)
        .map_err(|e| Error::internal_from(format!("binding the metrics listener {listen}"), e))?;
    let addr = http.addrs().first().copied().ok_or_else(|| Error::internal("no metrics listening address"))?;
    let server = http.run();
    let handle = server.handle();
    actix_rt::spawn(async move {
        if let Err(e) = server.await {
            log::error!("metrics listener stopped: {e}");
        }
    });
    log::info!("serving metrics on http://{addr}/metrics");
    Ok((addr, handle))
}
