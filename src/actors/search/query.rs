//! Searching the live index: the read side of the search actor, run on the blocking pool by
//! requests. Every number a client chooses is bounded here before tantivy sees it, and user text
//! never reaches tantivy's query syntax.

use super::{Fields, SearchIndex, SharedIndex};
use crate::error::{Error, Result};
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{BooleanQuery, EmptyQuery, Occur, Query, RangeQuery, TermQuery};
use tantivy::schema::{IndexRecordOption, Value as _};
use tantivy::tokenizer::TokenStream;
use tantivy::{DocAddress, Order, TantivyDocument, Term};

/// Deepest result a search may page to: tantivy reserves room for `offset + limit` hits.
pub const MAX_OFFSET: usize = 10_000;
/// Most results one search page returns.
pub const MAX_LIMIT: usize = 100;
/// Distinct words of a search term that are matched; the rest are ignored.
const MAX_TERMS: usize = 64;

/// One search hit: the event and its score (or stream position for `recent`).
pub struct Hit {
    pub event_id: String,
    pub rank: f64,
}

pub struct SearchResult {
    pub hits: Vec<Hit>,
    pub count: usize,
}

/// Every word of the term must occur in the text. The term is split by the content field's own
/// tokenizer, so query syntax (field names, operators, quotes, ranges) is just more words and a
/// user can neither address another field nor send the parser something it refuses.
fn words_query(idx: &SearchIndex, term: &str) -> Box<dyn Query> {
    let mut words: Vec<String> = Vec::new();
    if let Ok(mut analyzer) = idx.index.tokenizer_for_field(idx.fields.content) {
        let mut stream = analyzer.token_stream(term);
        while words.len() < MAX_TERMS && stream.advance() {
            let w = &stream.token().text;
            if !words.contains(w) {
                words.push(w.clone());
            }
        }
    }
    if words.is_empty() {
        return Box::new(EmptyQuery);
    }
    let clauses: Vec<(Occur, Box<dyn Query>)> = words
        .iter()
        .map(|w| {
            let q = TermQuery::new(Term::from_field_text(idx.fields.content, w), IndexRecordOption::WithFreqs);
            (Occur::Must, Box::new(q) as Box<dyn Query>)
        })
        .collect();
    Box::new(BooleanQuery::new(clauses))
}

/// A room to search and the stream positions of it the searcher may see (None: all of them).
pub struct RoomScope {
    pub room_id: String,
    pub visible: Option<Vec<(i64, i64)>>,
}

/// Documents of one room, within the visible position ranges when there are any.
fn room_query(f: Fields, scope: &RoomScope) -> Box<dyn Query> {
    let room: Box<dyn Query> = Box::new(TermQuery::new(Term::from_field_text(f.room_id, &scope.room_id), IndexRecordOption::Basic));
    let Some(ranges) = &scope.visible else { return room };
    let ranges: Vec<(Occur, Box<dyn Query>)> = ranges
        .iter()
        .map(|&(lo, hi)| {
            let q = RangeQuery::new(
                std::ops::Bound::Included(Term::from_field_i64(f.stream, lo)),
                std::ops::Bound::Included(Term::from_field_i64(f.stream, hi)),
            );
            (Occur::Should, Box::new(q) as Box<dyn Query>)
        })
        .collect();
    Box::new(BooleanQuery::new(vec![(Occur::Must, room), (Occur::Must, Box::new(BooleanQuery::new(ranges)))]))
}

/// Runs a query against the current index. Blocking: call from the blocking pool. Only what
/// each room's scope lets the searcher see is matched, so hidden history is neither shown nor
/// counted.
pub fn search(
    shared: &SharedIndex,
    term: &str,
    rooms: &[RoomScope],
    kinds: &[String],
    recent: bool,
    offset: usize,
    limit: usize,
) -> Result<SearchResult> {
    let idx = shared.read().unwrap_or_else(|p| p.into_inner()).clone();
    let f = idx.fields;
    let text_q = words_query(&idx, term);
    let room_q: Vec<(Occur, Box<dyn Query>)> = rooms.iter().map(|r| (Occur::Should, room_query(f, r))).collect();
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, text_q), (Occur::Must, Box::new(BooleanQuery::new(room_q)))];
    if !kinds.is_empty() {
        let kq: Vec<(Occur, Box<dyn Query>)> = kinds
            .iter()
            .map(|k| {
                (Occur::Should, Box::new(TermQuery::new(Term::from_field_text(f.kind, k), IndexRecordOption::Basic)) as Box<dyn Query>)
            })
            .collect();
        clauses.push((Occur::Must, Box::new(BooleanQuery::new(kq))));
    }
    let query = BooleanQuery::new(clauses);
    let searcher = idx.reader.searcher();
    let err = |e: tantivy::TantivyError| Error::internal(format!("search failed: {e}"));
    // Whatever the caller checked, tantivy is never handed a deep page: it reserves room for it.
    let (offset, limit) = (offset.min(MAX_OFFSET), limit.clamp(1, MAX_LIMIT));
    let docs: Vec<(f64, DocAddress)> = if recent {
        let top = TopDocs::with_limit(limit).and_offset(offset).order_by_fast_field::<i64>("stream", Order::Desc);
        searcher.search(&query, &top).map_err(err)?.into_iter().map(|(s, a)| (s.unwrap_or(0) as f64, a)).collect()
    } else {
        let top = TopDocs::with_limit(limit).and_offset(offset).order_by_score();
        searcher.search(&query, &top).map_err(err)?.into_iter().map(|(s, a)| (s as f64, a)).collect()
    };
    let count = searcher.search(&query, &Count).map_err(err)?;
    let mut hits = Vec::with_capacity(docs.len());
    for (rank, addr) in docs {
        let d: TantivyDocument = searcher.doc(addr).map_err(err)?;
        if let Some(id) = d.get_first(f.shown_id).or_else(|| d.get_first(f.event_id)).and_then(|v| v.as_str()) {
            hits.push(Hit { event_id: id.to_owned(), rank });
        }
    }
    Ok(SearchResult { hits, count })
}
