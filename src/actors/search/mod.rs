//! `SearchActor`: owns the tantivy index writer. Live events are indexed after commit and
//! committed in small batches; a reindex rebuilds a fresh index from the event store on another
//! thread and is swapped in atomically, so searches keep answering from the old one meanwhile.
//!
//! Crash safety: events are acknowledged once the store commits them, but reach the index later.
//! The actor therefore reads searchable events back from the store in stream order (room actors'
//! `MoreSearchable` only says "there is more"), and every tantivy commit records as its payload the
//! stream position it covers. At start it indexes whatever the store holds past that position; an
//! index that is missing, unreadable or of unknown coverage is rebuilt from the store while the
//! server serves.
//!
//! It runs on its own thread (a `SyncArbiter` of one) because every tantivy call blocks.

mod index;
mod ops;
mod query;

pub use index::{Fields, SearchIndex};
pub use ops::{Original, is_searchable};
pub use query::{Hit, MAX_LIMIT, MAX_OFFSET, RoomScope, SearchResult, search};

use index::{Coverage, commit_covering};
use ops::{Op, apply, ops_for_row};

use crate::error::{Error, Result};
use crate::store::Db;
use crate::store::recent::RecentEvents;
use actix::prelude::*;
use ruma::OwnedRoomId;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Instant;
use tantivy::IndexWriter;

const REBUILD_BUDGET: usize = 120_000_000;
/// The least time between two live commits while documents keep coming.
const BUSY_COMMIT_GAP: std::time::Duration = std::time::Duration::from_secs(1);
/// Uncommitted documents after which the live writer commits without waiting for the timer.
const COMMIT_EVERY: usize = 5_000;
/// Searchable events read from the store per page when catching up.
const CATCH_UP_PAGE: i64 = 1_000;
/// Pages one timer tick may index, so a long catch-up leaves the mailbox responsive.
const CATCH_UP_PAGES_PER_TICK: usize = 5;

/// The index searches read from; swapped whole on reindex.
pub type SharedIndex = Arc<RwLock<Arc<SearchIndex>>>;

pub struct SearchActor {
    root: PathBuf,
    db: Db,
    /// The writer's log of recent events, read before the store when catching up.
    recent: Arc<RecentEvents>,
    shared: SharedIndex,
    current: Arc<SearchIndex>,
    writer: Option<IndexWriter>,
    uncommitted: usize,
    /// `uncommitted` as the last tick left it: equal at the next tick means nothing new came.
    uncommitted_at_tick: usize,
    last_commit: Option<Instant>,
    /// Every searchable event at or below this stream position is in the writer.
    covered: i64,
    /// The store may hold searchable events past `covered`.
    behind: bool,
    /// While a rebuild runs: rooms purged meanwhile, dropped again from the new index.
    rebuild_drops: Option<Vec<String>>,
    myself: Option<Addr<SearchActor>>,
    /// Documents and seconds of the last finished rebuild.
    last_rebuild: Option<(u64, f64)>,
    /// `covered` for the operators' metrics, set at each tick.
    covered_metric: CoveredGauge,
}

/// The stream position the index covers, as the metrics read it.
pub type CoveredGauge = prometheus_client::metrics::gauge::Gauge<i64, std::sync::atomic::AtomicI64>;

impl SearchActor {
    /// Opens (or creates) the index under `<data_dir>/search` and starts the actor on its thread.
    pub fn start(
        data_dir: &Path,
        db: Db,
        recent: Arc<RecentEvents>,
        covered_metric: CoveredGauge,
    ) -> Result<(Addr<SearchActor>, SharedIndex)> {
        let root = data_dir.join("search");
        std::fs::create_dir_all(&root).map_err(|e| Error::internal_from(format!("{}", root.display()), e))?;
        let name = std::fs::read_to_string(root.join("CURRENT")).map(|s| s.trim().to_owned()).unwrap_or_else(|_| "idx-0".into());
        let (index, coverage) = SearchIndex::open_live(&root.join(&name))?;
        let current = Arc::new(index);
        let writer = current.writer()?;
        let shared: SharedIndex = Arc::new(RwLock::new(current.clone()));
        let sh = shared.clone();
        let cell = Arc::new(std::sync::Mutex::new(Some(writer)));
        let addr = SyncArbiter::start(1, move || {
            // Indexing is background work: the actor's thread yields to the requests.
            crate::priority::lower_this_thread();
            // The factory runs once; a second call (never expected) gets a read-only actor,
            // because an index has exactly one writer.
            let writer = cell.lock().unwrap_or_else(|p| p.into_inner()).take();
            SearchActor {
                root: root.clone(),
                db: db.clone(),
                recent: recent.clone(),
                shared: sh.clone(),
                current: sh.read().unwrap_or_else(|p| p.into_inner()).clone(),
                writer,
                uncommitted: 0,
                uncommitted_at_tick: 0,
                last_commit: None,
                covered: 0,
                behind: false,
                rebuild_drops: None,
                myself: None,
                last_rebuild: None,
                covered_metric: covered_metric.clone(),
            }
        });
        addr.do_send(Init(addr.clone(), coverage));
        // The sync actor has no timers: tick it from the async side every 200 ms (see `tick_commit`).
        let tick = addr.clone();
        actix_rt::spawn(async move {
            let mut iv = tokio::time::interval(std::time::Duration::from_millis(200));
            loop {
                iv.tick().await;
                if !matches!(tick.send(Tick).await, Ok(true)) {
                    break;
                }
            }
        });
        Ok((addr, shared))
    }

    /// A tick's commit: at once when the documents stopped coming (the last tick added none),
    /// else at most every [`BUSY_COMMIT_GAP`]. Each commit writes a segment and syncs its files,
    /// so under a steady load fewer, larger commits cost much less; a quiet index is still
    /// searchable within two ticks of an event.
    fn tick_commit(&mut self) {
        let quiet = self.uncommitted == self.uncommitted_at_tick;
        let due = self.last_commit.is_none_or(|t| t.elapsed() >= BUSY_COMMIT_GAP);
        if quiet || due {
            self.commit();
        }
        self.uncommitted_at_tick = self.uncommitted;
    }

    fn commit(&mut self) {
        if self.uncommitted == 0 {
            return;
        }
        self.last_commit = Some(Instant::now());
        let Some(w) = self.writer.as_mut() else { return };
        match commit_covering(w, self.covered) {
            Ok(()) => {
                self.uncommitted = 0;
                self.uncommitted_at_tick = 0;
                if let Err(e) = self.current.reader.reload() {
                    log::error!("search reader reload failed: {e}");
                }
            }
            Err(e) => log::error!("search commit failed: {e}"),
        }
    }

    fn apply_live(&mut self, ops: &[Op]) {
        let Some(w) = self.writer.as_ref() else { return };
        for op in ops {
            if let Err(e) = apply(w, &self.current.fields, op, true) {
                log::error!("indexing failed: {e}");
            }
        }
        self.uncommitted += ops.len().max(1);
        if self.uncommitted >= COMMIT_EVERY {
            self.commit();
        }
    }

    /// Indexes searchable events committed in the store past `covered`, in stream order, at most
    /// `pages` pages. True once nothing is left.
    fn catch_up(&mut self, pages: usize) -> bool {
        if !self.behind || self.writer.is_none() {
            return true;
        }
        let mut conn = match self.db.get() {
            Ok(c) => c,
            Err(e) => {
                log::error!("search catch-up: no database connection: {e}");
                return false;
            }
        };
        let mut ops = Vec::new();
        for _ in 0..pages {
            // Read before the page: positions become visible in order, so every event up to `top`
            // is in the page's snapshot.
            let top = match crate::store::events::max_stream(&mut conn) {
                Ok(top) => top,
                Err(e) => {
                    log::error!("search catch-up: reading the store failed: {e}");
                    return false;
                }
            };
            let Some((last, full)) = self.index_page(&mut conn, top, &mut ops) else { return false };
            if !full {
                // The store's page is not bounded by `top`: it may have read past it.
                self.covered = self.covered.max(top).max(last.unwrap_or(self.covered));
                self.behind = false;
                return true;
            }
            self.covered = last.unwrap_or(self.covered);
        }
        false
    }

    /// Indexes the searchable events of one page after `covered`, up to `top`: the position of
    /// the last event read and whether the page was full (`None` when the store failed). The
    /// page comes from the writer's log of recent events unless the actor is far behind, or a
    /// redaction or a purge emptied the log; then from the store, which has redactions applied.
    fn index_page(&mut self, conn: &mut crate::store::Conn, top: i64, ops: &mut Vec<Op>) -> Option<(Option<i64>, bool)> {
        let recent = self.recent.clone();
        let from_log = recent.visit(self.covered, top, CATCH_UP_PAGE as usize, |p| {
            if is_searchable(p) {
                ops.clear();
                ops::ops_for_pdu(&self.db, p, ops);
                self.apply_found(ops);
            }
        });
        if from_log.is_some() {
            return from_log;
        }
        let rows = match crate::store::events::searchable_page(conn, self.covered, CATCH_UP_PAGE) {
            Ok(rows) => rows,
            Err(e) => {
                log::error!("search catch-up: reading the store failed: {e}");
                return None;
            }
        };
        for row in &rows {
            ops.clear();
            ops_for_row(&self.db, row, ops);
            self.apply_found(ops);
        }
        Some((rows.last().map(|r| r.0), rows.len() >= CATCH_UP_PAGE as usize))
    }

    /// Applies the operations one event gave, if any.
    fn apply_found(&mut self, ops: &[Op]) {
        if !ops.is_empty() {
            self.apply_live(ops);
        }
    }
}

impl Actor for SearchActor {
    type Context = SyncContext<Self>;
}

/// The actor's first message: its own address, and what the index opened at start covers.
#[derive(Message)]
#[rtype(result = "()")]
struct Init(Addr<SearchActor>, Coverage);

impl Handler<Init> for SearchActor {
    type Result = ();
    fn handle(&mut self, msg: Init, ctx: &mut Self::Context) {
        self.myself = Some(msg.0);
        let reason = match msg.1 {
            Coverage::Upto(n) => {
                self.covered = n;
                self.behind = true;
                return;
            }
            Coverage::Unknown(reason) => reason,
        };
        // Whatever the store holds now is left to a rebuild; live indexing starts after it.
        let store = self.db.get().and_then(|mut c| {
            let top = crate::store::events::max_stream(&mut c)?;
            let any = !crate::store::events::searchable_page(&mut c, 0, 1)?.is_empty();
            Ok((top, any))
        });
        match store {
            Ok((top, any)) => {
                self.covered = top;
                if any {
                    log::warn!("search index {reason}: rebuilding it from the store; search answers from what is indexed meanwhile");
                    <Self as Handler<Reindex>>::handle(self, Reindex, ctx);
                }
            }
            Err(e) => {
                log::error!("search index {reason} and the store cannot be read ({e}); indexing everything again");
                self.behind = true;
            }
        }
    }
}

/// Answers whether to keep ticking: not once the writer is released (after `Shutdown`, the
/// sync arbiter's replacement actor has none).
#[derive(Message)]
#[rtype(result = "bool")]
struct Tick;

impl Handler<Tick> for SearchActor {
    type Result = bool;
    fn handle(&mut self, _: Tick, _: &mut Self::Context) -> bool {
        self.catch_up(CATCH_UP_PAGES_PER_TICK);
        self.tick_commit();
        self.covered_metric.set(self.covered);
        self.writer.is_some()
    }
}

/// A room committed searchable events (messages, names, topics, redactions). Only a hint that the
/// store has more, so it carries none of them: the actor reads them back in stream order, so that
/// the position a commit records never passes an event that is not indexed yet.
#[derive(Message)]
#[rtype(result = "()")]
pub struct MoreSearchable;

impl Handler<MoreSearchable> for SearchActor {
    type Result = ();
    fn handle(&mut self, _: MoreSearchable, _: &mut Self::Context) {
        self.behind = true;
    }
}

/// Forget every document of a purged room.
#[derive(Message)]
#[rtype(result = "()")]
pub struct DropRoom(pub OwnedRoomId);

impl Handler<DropRoom> for SearchActor {
    type Result = ();
    fn handle(&mut self, msg: DropRoom, _: &mut Self::Context) {
        self.apply_live(&[Op::DropRoom(msg.0.to_string())]);
        // A rebuild may have read the room before the purge: it is dropped again after the swap.
        if let Some(drops) = self.rebuild_drops.as_mut() {
            drops.push(msg.0.to_string());
        }
        self.commit();
    }
}

/// Commit, release the index writer (and its directory lock) and stop.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Shutdown;

impl Handler<Shutdown> for SearchActor {
    type Result = ();
    fn handle(&mut self, _: Shutdown, ctx: &mut Self::Context) {
        self.commit();
        if let Some(w) = self.writer.take()
            && let Err(e) = w.wait_merging_threads()
        {
            log::warn!("search index merge on shutdown: {e}");
        }
        ctx.stop();
    }
}

/// Index everything committed so far and commit now (tests and the admin API want "searchable
/// now" without waiting for the timer). Answers the number of documents.
#[derive(Message)]
#[rtype(result = "u64")]
pub struct Flush;

impl Handler<Flush> for SearchActor {
    type Result = u64;
    fn handle(&mut self, _: Flush, _: &mut Self::Context) -> u64 {
        self.behind = true;
        // Unbounded pages: only a store error (logged) stops it early.
        self.catch_up(usize::MAX);
        self.uncommitted = self.uncommitted.max(1);
        self.commit();
        self.current.num_docs()
    }
}

/// Whether a rebuild is running, and the documents and seconds of the last one finished.
#[derive(Message)]
#[rtype(result = "(bool, Option<(u64, f64)>)")]
pub struct ReindexStatus;

impl Handler<ReindexStatus> for SearchActor {
    type Result = MessageResult<ReindexStatus>;
    fn handle(&mut self, _: ReindexStatus, _: &mut Self::Context) -> Self::Result {
        MessageResult((self.rebuild_drops.is_some(), self.last_rebuild))
    }
}

/// Start a rebuild unless one is running. Answers at once.
#[derive(Message)]
#[rtype(result = "bool")]
pub struct Reindex;

impl Handler<Reindex> for SearchActor {
    type Result = bool;
    fn handle(&mut self, _: Reindex, _: &mut Self::Context) -> bool {
        if self.rebuild_drops.is_some() {
            log::info!("reindex already running; not starting another");
            return false;
        }
        let Some(me) = self.myself.clone() else { return false };
        self.rebuild_drops = Some(Vec::new());
        let dir = self.root.join(format!("idx-{}", crate::ids::now_ms()));
        let db = self.db.clone();
        std::thread::spawn(move || {
            let result = rebuild(&db, &dir);
            me.do_send(ReindexDone(result.map(Box::new)));
        });
        true
    }
}

/// A rebuilt index: the index, its writer, the stream position it covers, its documents and
/// the seconds it took.
struct Rebuilt {
    index: SearchIndex,
    writer: IndexWriter,
    covered: i64,
    docs: u64,
    secs: f64,
}

#[derive(Message)]
#[rtype(result = "()")]
struct ReindexDone(Result<Box<Rebuilt>>);

impl Handler<ReindexDone> for SearchActor {
    type Result = ();
    fn handle(&mut self, msg: ReindexDone, _: &mut Self::Context) {
        let drops = self.rebuild_drops.take().unwrap_or_default();
        let Rebuilt { index, mut writer, covered, docs, secs } = match msg.0 {
            Ok(r) => *r,
            Err(e) => {
                log::error!("reindex failed: {e}");
                return;
            }
        };
        for room in drops {
            if let Err(e) = apply(&writer, &index.fields, &Op::DropRoom(room), true) {
                log::error!("dropping a purged room from the new index failed: {e}");
            }
        }
        if let Err(e) = commit_covering(&mut writer, covered)
            .map_err(|e| Error::internal_from("search index", e))
            .and_then(|_| index.reader.reload().map_err(|e| Error::internal_from("search index", e)))
        {
            log::error!("reindex final commit failed: {e}");
            return;
        }
        let old = std::mem::replace(&mut self.current, Arc::new(index));
        if let Some(mut w) = self.writer.replace(writer) {
            let _ = w.rollback();
        }
        *self.shared.write().unwrap_or_else(|p| p.into_inner()) = self.current.clone();
        let name = self.current.dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let tmp = self.root.join("CURRENT.tmp");
        if std::fs::write(&tmp, &name).and_then(|_| std::fs::rename(&tmp, self.root.join("CURRENT"))).is_err() {
            log::error!("could not record the new search index as current");
        }
        let old_dir = old.dir.clone();
        drop(old);
        let _ = std::fs::remove_dir_all(old_dir);
        // What was committed while the rebuild ran comes from the store, as after a restart.
        self.uncommitted = 0;
        self.covered = covered;
        self.behind = true;
        self.last_rebuild = Some((docs, secs));
        log::info!("Indexed {docs} events in {secs:.3}s");
    }
}

/// Reads every searchable event from the store, paged by stream position, into a fresh index.
fn rebuild(db: &Db, dir: &Path) -> Result<Rebuilt> {
    let started = Instant::now();
    log::info!("Starting to index events into {}", dir.display());
    let index = SearchIndex::open(dir)?;
    // A bulk load: a larger budget means fewer, bigger segments and less merging.
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).min(4);
    let writer: IndexWriter =
        index.index.writer_with_num_threads(threads, REBUILD_BUDGET).map_err(|e| Error::internal_from("search index", e))?;
    // Pages are read on their own thread so reading the store overlaps parsing and indexing.
    // It answers the position the pages cover: the store's top when it started, or the last
    // event read.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Vec<crate::store::events::SearchableRow>>>(2);
    let reader_db = db.clone();
    let reader = std::thread::spawn(move || -> i64 {
        let mut conn = match reader_db.get() {
            Ok(c) => c,
            Err(e) => {
                let _ = tx.send(Err(e));
                return 0;
            }
        };
        let top = match crate::store::events::max_stream(&mut conn) {
            Ok(t) => t,
            Err(e) => {
                let _ = tx.send(Err(e));
                return 0;
            }
        };
        let mut after = 0i64;
        loop {
            match crate::store::events::searchable_page(&mut conn, after, 10_000) {
                Ok(page) => {
                    let Some(last) = page.last() else { break };
                    after = last.0;
                    if tx.send(Ok(page)).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                    break;
                }
            }
        }
        top.max(after)
    });
    let mut count: u64 = 0;
    let mut next_log = 1000;
    let mut ops = Vec::new();
    let mut waited = std::time::Duration::ZERO;
    let mut last = Instant::now();
    for page in rx {
        waited += last.elapsed();
        let page = page?;
        for row in &page {
            ops.clear();
            ops_for_row(db, row, &mut ops);
            for op in &ops {
                apply(&writer, &index.fields, op, false)?;
                if matches!(op, Op::Add { .. }) {
                    count += 1;
                }
            }
            if count >= next_log {
                log::debug!("Indexed {count} events so far");
                next_log = count + 1000;
            }
        }
        last = Instant::now();
    }
    let covered = reader.join().map_err(|_| Error::internal("the store reader of the reindex panicked"))?;
    let fed = started.elapsed();
    let mut writer = writer;
    commit_covering(&mut writer, covered).map_err(|e| Error::internal_from("search index", e))?;
    let committed = started.elapsed();
    // Let the bulk load's merges finish before live writes start on this index.
    writer.wait_merging_threads().map_err(|e| Error::internal_from("search index", e))?;
    log::debug!(
        "reindex phases: fed all events at {:.2}s (waiting for the store {:.2}s), committed at {:.2}s, merged at {:.2}s",
        fed.as_secs_f64(),
        waited.as_secs_f64(),
        committed.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    let writer = index.writer()?;
    index.reader.reload().map_err(|e| Error::internal_from("search index", e))?;
    let docs = index.num_docs();
    Ok(Rebuilt { index, writer, covered, docs, secs: started.elapsed().as_secs_f64() })
}
