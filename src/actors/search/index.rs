//! The index itself: its schema, opening it (and deciding how much of the store it is known to
//! cover), its live writer's settings, and commits that record the position they cover.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use tantivy::schema::{FAST, Field, INDEXED, STORED, STRING, Schema, TEXT};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy};

/// Memory the live writer buffers before it writes a segment.
const WRITER_BUDGET: usize = 64_000_000;

#[derive(Clone, Copy)]
pub struct Fields {
    /// The original event (an edit replaces its original's document); stored, not indexed.
    pub(super) event_id: Field,
    /// The event a hit shows: the latest edit, or the event itself.
    pub(super) shown_id: Field,
    pub(super) room_id: Field,
    pub(super) kind: Field,
    pub(super) content: Field,
    /// The original event's stream position: the document's key, and the visibility ranges'.
    pub(super) stream: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let fields = Fields {
        // Keyed by stream position, not by event ID: a million random 44-character IDs made
        // building the term dictionary (its FST) a third of a reindex's CPU.
        event_id: b.add_text_field("event_id", STORED),
        shown_id: b.add_text_field("shown_id", STORED),
        room_id: b.add_text_field("room_id", STRING | STORED),
        kind: b.add_text_field("kind", STRING),
        content: b.add_text_field("content", TEXT),
        stream: b.add_i64_field("stream", FAST | INDEXED),
    };
    (b.build(), fields)
}

/// An open index and its reader; replaced as a whole on reindex.
pub struct SearchIndex {
    pub(super) index: Index,
    pub(super) reader: IndexReader,
    pub(super) fields: Fields,
    pub(super) dir: PathBuf,
}

impl SearchIndex {
    pub(super) fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::internal_from(format!("{}", dir.display()), e))?;
        let (schema, fields) = schema();
        let mmap = tantivy::directory::MmapDirectory::open(dir).map_err(|e| Error::internal_from("search index", e))?;
        let index = Index::open_or_create(mmap, schema).map_err(|e| Error::internal_from("search index", e))?;
        let reader =
            index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into().map_err(|e| Error::internal_from("search index", e))?;
        Ok(Self { index, reader, fields, dir: dir.to_path_buf() })
    }

    /// The live writer. One indexing thread: live documents come a few hundred a second at
    /// most, and each thread makes its own segment per commit (more segments, more merging),
    /// while the cores are wanted by the room actors and the store.
    pub(super) fn writer(&self) -> Result<IndexWriter> {
        // Its indexing and merging threads start with it, and take the background's priority.
        let writer = crate::priority::started_in_background(|| self.index.writer_with_num_threads(1, WRITER_BUDGET))
            .map_err(|e| Error::internal_from("search index", e))?;
        writer.set_merge_policy(Box::new(live_merge_policy()));
        Ok(writer)
    }

    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Opens the live index at `dir` and says how far it is known to cover the store. A
    /// directory without an index, or one that cannot be read, becomes a fresh empty index.
    pub(super) fn open_live(dir: &Path) -> Result<(Self, Coverage)> {
        if !dir.join("meta.json").exists() {
            return Ok((Self::open(dir)?, Coverage::Unknown("is missing")));
        }
        if Index::open_in_dir(dir).is_ok_and(|old| old.schema() != schema().0) {
            // Built by an earlier version: its documents are keyed differently.
            std::fs::remove_dir_all(dir).map_err(|e| Error::internal_from(format!("removing {}", dir.display()), e))?;
            return Ok((Self::open(dir)?, Coverage::Unknown("was built with an earlier schema")));
        }
        let opened = Self::open(dir)
            .and_then(|idx| idx.index.load_metas().map(|m| (idx, m.payload)).map_err(|e| Error::internal_from("search index", e)));
        match opened {
            Ok((idx, payload)) => {
                let coverage = match payload.as_deref().map(str::parse::<i64>) {
                    Some(Ok(n)) => Coverage::Upto(n),
                    _ => Coverage::Unknown("records no stream position"),
                };
                Ok((idx, coverage))
            }
            Err(e) => {
                log::error!("search index {} is unreadable ({e}); replacing it", dir.display());
                std::fs::remove_dir_all(dir).map_err(|e| Error::internal_from(format!("removing {}", dir.display()), e))?;
                Ok((Self::open(dir)?, Coverage::Unknown("was unreadable")))
            }
        }
    }
}

/// tantivy's log merge policy, with layers starting at [`MIN_LAYER_DOCS`] instead of 10,000
/// documents. Live commits make segments of tens to hundreds of documents; with the default
/// every one of them sat in the lowest layer together with the segment their merges grew, so
/// that segment was rewritten at every merge until it passed 10,000 documents (profiled: merges
/// were a sixth of the server's CPU under a steady send load). Small layers merge segments of
/// like size only, and a document is rewritten about once per eightfold growth of the index.
fn live_merge_policy() -> tantivy::indexer::LogMergePolicy {
    let mut policy = tantivy::indexer::LogMergePolicy::default();
    policy.set_min_layer_size(MIN_LAYER_DOCS);
    policy
}

/// The smallest layer of the live merge policy, in documents.
const MIN_LAYER_DOCS: u32 = 100;

/// How much of the store an index opened at start is known to hold.
#[derive(Clone, Copy, Debug)]
pub(super) enum Coverage {
    /// Every searchable event at or below this stream position.
    Upto(i64),
    /// Nothing can be assumed (the reason, for the log).
    Unknown(&'static str),
}

/// Commits with the covered stream position as payload, so a restart knows where to resume.
pub(super) fn commit_covering(writer: &mut IndexWriter, covered: i64) -> tantivy::Result<()> {
    let mut prepared = writer.prepare_commit()?;
    prepared.set_payload(&covered.to_string());
    prepared.commit().map(|_| ())
}
