//! Copying a stopped server's SQLite store into PostgreSQL (`ensemble port-db`).
//!
//! The copy is generic over the schema: every table SQLite has (but diesel's migration record) is
//! read in key order in chunks, each chunk turned into one JSON array on SQLite and inserted on
//! PostgreSQL through `json_populate_recordset`, so PostgreSQL's own column types convert the
//! values (SQLite's 0/1 booleans, BLOBs sent as `\x` hex). Each chunk commits on PostgreSQL in
//! one transaction together with its table's row in `port_db_progress`, so an interrupted port
//! resumes after the last committed key and never copies a row twice.

use crate::error::{Error, Result};
use diesel::connection::SimpleConnection;
use diesel::migration::MigrationSource;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Integer, Nullable, Text};
use diesel::sqlite::{Sqlite, SqliteConnection};
use diesel_migrations::MigrationHarness;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Instant;

/// How a port runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Rows read per chunk (one PostgreSQL transaction each).
    pub chunk_rows: usize,
    /// A chunk also ends once its JSON passes this many bytes (events can be 64 KiB each).
    pub chunk_bytes: usize,
    /// Stop after this many committed chunks, as an interruption would (tests).
    pub max_chunks: Option<usize>,
}

impl Default for Options {
    fn default() -> Self {
        Self { chunk_rows: 2000, chunk_bytes: 16 << 20, max_chunks: None }
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Every ported table with its row count on the source.
    pub tables: BTreeMap<String, i64>,
    /// Rows this run inserted.
    pub rows_copied: u64,
    /// The port is finished (now or earlier).
    pub complete: bool,
    /// It was finished before this run, which changed nothing.
    pub already_complete: bool,
}

/// The row `port_db_progress` keeps for the sequences step, after every table.
const SEQUENCES: &str = "(sequences)";
/// Diesel's record of applied migrations: each side keeps its own.
const MIGRATIONS_TABLE: &str = "__diesel_schema_migrations";

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct SqliteColumn {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    decl: String,
    #[diesel(sql_type = Integer)]
    pk: i32,
}

#[derive(QueryableByName)]
struct PgColumn {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct MaybeCount {
    #[diesel(sql_type = Nullable<BigInt>)]
    n: Option<i64>,
}

#[derive(QueryableByName)]
struct ChunkRow {
    #[diesel(sql_type = Text)]
    obj: String,
    #[diesel(sql_type = Text)]
    key: String,
}

#[derive(QueryableByName)]
struct ProgressRow {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Nullable<Text>)]
    last_key: Option<String>,
    #[diesel(sql_type = BigInt)]
    rows_copied: i64,
    #[diesel(sql_type = Bool)]
    done: bool,
}

/// One table's shape on the source and how to page it.
struct Table {
    name: String,
    /// (column, declared SQLite type)
    columns: Vec<(String, String)>,
    /// The paging key: `rowid`, or the primary key of a `WITHOUT ROWID` table.
    key: Vec<String>,
}

fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

fn fail(what: impl std::fmt::Display) -> Error {
    Error::internal(what.to_string())
}

/// The target or source is not one to port: nothing failed, the port would be wrong.
fn refuse(why: impl std::fmt::Display) -> Error {
    Error::forbidden(why.to_string())
}

fn ctx<E: std::fmt::Display>(what: impl std::fmt::Display) -> impl FnOnce(E) -> Error {
    move |e| fail(format!("{what}: {e}"))
}

/// Copies the SQLite store at `source` into the PostgreSQL database at `target_url`, reporting
/// each step as a line through `say`. See the module comment; `Options::max_chunks` stops early.
pub fn port(source: &Path, target_url: &str, opts: &Options, say: &mut dyn FnMut(&str)) -> Result<Summary> {
    let started = Instant::now();
    let mut src = open_source(source)?;
    let mut pg = PgConnection::establish(target_url).map_err(ctx("connecting to the target PostgreSQL"))?;
    let locked: bool = diesel::select(diesel::dsl::sql::<Bool>(&format!("pg_try_advisory_lock({})", super::pg_locks::PORT)))
        .get_result(&mut pg)
        .map_err(ctx("locking the target"))?;
    if !locked {
        return Err(refuse("another port-db is running against this PostgreSQL database"));
    }
    super::migrate_postgres(&mut pg)?;
    // One read transaction: every chunk reads the same snapshot of the source.
    src.batch_execute("BEGIN").map_err(ctx("reading the source"))?;
    let tables = source_tables(&mut src)?;
    check_schemas(&mut pg, &tables)?;
    let progress = prepare_target(&mut pg, &tables)?;
    let mut summary = Summary::default();
    for t in &tables {
        let n: Count = diesel::sql_query(format!("SELECT count(*) AS n FROM {}", quote(&t.name)))
            .get_result(&mut src)
            .map_err(ctx(format!("counting {}", t.name)))?;
        summary.tables.insert(t.name.clone(), n.n);
    }
    if progress.get(SEQUENCES).is_some_and(|p| p.done) {
        say("the port is already complete: nothing to do");
        summary.complete = true;
        summary.already_complete = true;
        return Ok(summary);
    }
    let mut chunks = 0usize;
    for t in &tables {
        let total = summary.tables[&t.name];
        let (mut last_key, mut copied, done) = match progress.get(&t.name) {
            Some(p) => (p.last_key.clone(), p.rows_copied, p.done),
            None => (None, 0, false),
        };
        if done {
            say(&format!("{}: {copied}/{total} rows (copied earlier)", t.name));
            continue;
        }
        if copied > 0 {
            say(&format!("{}: resuming after {copied} rows", t.name));
        }
        let fresh = !progress.contains_key(&t.name);
        let mut first = true;
        loop {
            if opts.max_chunks.is_some_and(|m| chunks >= m) {
                say(&format!("stopped after {chunks} chunks, as asked; run port-db again to finish"));
                return Ok(summary);
            }
            let rows = read_chunk(&mut src, t, last_key.as_deref(), opts.chunk_rows)?;
            let fetched = rows.len();
            let (json, used, key) = assemble(t, &rows, opts.chunk_bytes)?;
            let finished = used == fetched && fetched < opts.chunk_rows;
            let key = key.or(last_key.clone());
            pg.transaction(|pg| {
                // The copied rows are the source's as they stand, kept counts included: a trigger
                // (`users` counting into `user_counts`) would count them a second time. Inside the
                // transaction, so an interrupted port never leaves a trigger off.
                diesel::sql_query(format!("ALTER TABLE {} DISABLE TRIGGER USER", quote(&t.name))).execute(pg)?;
                if fresh && first {
                    // Rows of `SEEDED` give way to the source's; `prepare_target` made sure
                    // nothing else is there.
                    diesel::sql_query(format!("DELETE FROM {}", quote(&t.name))).execute(pg)?;
                }
                if used > 0 {
                    diesel::sql_query(format!(
                        "INSERT INTO {0} SELECT * FROM json_populate_recordset(NULL::{0}, $1::json)",
                        quote(&t.name)
                    ))
                    .bind::<Text, _>(&json)
                    .execute(pg)?;
                }
                diesel::sql_query(format!("ALTER TABLE {} ENABLE TRIGGER USER", quote(&t.name))).execute(pg)?;
                record(pg, &t.name, key.as_deref(), copied + used as i64, finished)
            })
            .map_err(ctx(format!("copying {} after {copied} rows", t.name)))?;
            chunks += 1;
            first = false;
            copied += used as i64;
            summary.rows_copied += used as u64;
            last_key = key;
            if finished {
                break;
            }
            if chunks.is_multiple_of(50) {
                say(&format!("{}: {copied}/{total} rows...", t.name));
            }
        }
        let on_target: Count = diesel::sql_query(format!("SELECT count(*) AS n FROM {}", quote(&t.name)))
            .get_result(&mut pg)
            .map_err(ctx(format!("counting {} on the target", t.name)))?;
        if on_target.n != total {
            return Err(fail(format!("{}: {} rows on the target after the copy, {total} on the source", t.name, on_target.n)));
        }
        say(&format!("{}: {copied}/{total} rows", t.name));
    }
    set_sequences(&mut src, &mut pg, say)?;
    src.batch_execute("COMMIT").map_err(ctx("reading the source"))?;
    summary.complete = true;
    let secs = started.elapsed().as_secs_f64();
    let rate = if secs > 0.0 { summary.rows_copied as f64 / secs } else { 0.0 };
    say(&format!(
        "port complete: {} tables, {} rows copied in {secs:.1} s ({rate:.0} rows/s), {} rows in all",
        tables.len(),
        summary.rows_copied,
        summary.tables.values().sum::<i64>()
    ));
    Ok(summary)
}

/// Whether a port-db into this database started and has not finished: a server must not serve
/// (and write into) half a store, which the port's next run would then refuse or overwrite.
pub fn unfinished(pg: &mut PgConnection) -> Result<bool> {
    if !progress_kept(pg)? {
        return Ok(false);
    }
    let finished: Vec<ProgressRow> =
        diesel::sql_query("SELECT table_name, last_key, rows_copied, done FROM port_db_progress WHERE table_name = $1 AND done")
            .bind::<Text, _>(SEQUENCES)
            .load(pg)?;
    Ok(finished.is_empty())
}

/// Whether a port-db has started on this database (it keeps its progress in `port_db_progress`).
fn progress_kept(pg: &mut PgConnection) -> QueryResult<bool> {
    diesel::select(diesel::dsl::sql::<Bool>("to_regclass('port_db_progress') IS NOT NULL")).get_result(pg)
}

/// The source must exist (no new empty file is made) and be an Ensemble store at exactly this
/// version's schema, which is the one the PostgreSQL migrations match.
fn open_source(path: &Path) -> Result<SqliteConnection> {
    let meta = std::fs::metadata(path).map_err(ctx(format!("the source {}", path.display())))?;
    if !meta.is_file() {
        return Err(fail(format!("the source {} is not a file", path.display())));
    }
    let not_ours = || refuse(format!("the source {} is not an Ensemble SQLite store", path.display()));
    let mut c = SqliteConnection::establish(&path.to_string_lossy()).map_err(|_| not_ours())?;
    c.batch_execute("PRAGMA busy_timeout = 10000;").map_err(|_| not_ours())?;
    let names: Vec<Name> = diesel::sql_query("SELECT name FROM sqlite_master WHERE type = 'table' AND name IN (?1, 'events', 'users')")
        .bind::<Text, _>(MIGRATIONS_TABLE)
        .load(&mut c)
        .map_err(|_| not_ours())?;
    if names.len() != 3 {
        return Err(not_ours());
    }
    let applied: BTreeSet<String> =
        c.applied_migrations().map_err(ctx("reading the source's migrations"))?.into_iter().map(|v| v.to_string()).collect();
    let known: BTreeSet<String> = MigrationSource::<Sqlite>::migrations(&super::SQLITE_MIGRATIONS)
        .map_err(ctx("listing migrations"))?
        .iter()
        .map(|m| m.name().version().to_string())
        .collect();
    if let Some(v) = known.difference(&applied).next() {
        return Err(refuse(format!(
            "the source lacks migration {v}: start this version of Ensemble on it once (it migrates at start), stop it, then port"
        )));
    }
    if let Some(v) = applied.difference(&known).next() {
        return Err(refuse(format!("the source has migration {v}, from a newer Ensemble: port with that version")));
    }
    Ok(c)
}

fn source_tables(src: &mut SqliteConnection) -> Result<Vec<Table>> {
    let names: Vec<Name> = diesel::sql_query(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name <> ?1 ORDER BY name",
    )
    .bind::<Text, _>(MIGRATIONS_TABLE)
    .load(src)
    .map_err(ctx("listing the source's tables"))?;
    let mut tables = Vec::new();
    for Name { name } in names {
        let cols: Vec<SqliteColumn> = diesel::sql_query("SELECT name, upper(type) AS decl, pk FROM pragma_table_info(?1) ORDER BY cid")
            .bind::<Text, _>(&name)
            .load(src)
            .map_err(ctx(format!("columns of {name}")))?;
        let has_rowid = diesel::sql_query(format!("SELECT rowid AS name FROM {} LIMIT 0", quote(&name))).execute(src).is_ok();
        let key = if has_rowid {
            vec!["rowid".to_owned()]
        } else {
            let mut pk: Vec<&SqliteColumn> = cols.iter().filter(|c| c.pk > 0).collect();
            pk.sort_by_key(|c| c.pk);
            pk.iter().map(|c| quote(&c.name)).collect()
        };
        let columns = cols.into_iter().map(|c| (c.name, c.decl)).collect();
        tables.push(Table { name, columns, key });
    }
    Ok(tables)
}

/// Whether a declared SQLite type and a PostgreSQL column type hold the same values.
fn compatible(sqlite: &str, pg: &str) -> bool {
    match pg {
        "bigint" | "integer" | "smallint" => sqlite.contains("INT"),
        "boolean" => sqlite == "BOOLEAN",
        "bytea" => sqlite == "BLOB",
        "text" | "character varying" => sqlite == "TEXT",
        _ => false,
    }
}

/// Both migration sets describe one schema; a port between two that drifted apart would lose
/// or mangle columns, so any difference stops it before a row is copied.
fn check_schemas(pg: &mut PgConnection, tables: &[Table]) -> Result<()> {
    let cols: Vec<PgColumn> = diesel::sql_query(
        "SELECT table_name::text AS table_name, column_name::text AS column_name, data_type::text AS data_type \
         FROM information_schema.columns WHERE table_schema = current_schema()",
    )
    .load(pg)
    .map_err(ctx("reading the target's columns"))?;
    let mut on_pg: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for c in cols {
        on_pg.entry(c.table_name).or_default().insert(c.column_name, c.data_type);
    }
    for t in tables {
        let Some(pg_cols) = on_pg.remove(&t.name) else {
            return Err(fail(format!("the target has no table {}", t.name)));
        };
        if pg_cols.len() != t.columns.len() {
            return Err(fail(format!("{}: {} columns on the source, {} on the target", t.name, t.columns.len(), pg_cols.len())));
        }
        for (col, decl) in &t.columns {
            match pg_cols.get(col) {
                Some(ty) if compatible(decl, ty) => {}
                Some(ty) => return Err(fail(format!("{}.{col}: {decl} on the source, {ty} on the target", t.name))),
                None => return Err(fail(format!("{}.{col}: no such column on the target", t.name))),
            }
        }
    }
    on_pg.remove(MIGRATIONS_TABLE);
    on_pg.remove("port_db_progress");
    if let Some(extra) = on_pg.keys().next() {
        return Err(fail(format!("the target has a table {extra} the source lacks")));
    }
    Ok(())
}

/// What the PostgreSQL migration, or a server that started on the database and served nothing,
/// writes: each table with the condition that marks a row as written by serving. The typing
/// stream's position is set from the clock at every start.
const SEEDED: &[(&str, &str)] = &[("stream_positions", "stream <> 'typing' AND position <> 0"), ("push_progress", "stream_ordering <> 0")];

/// A database port-db has not started on must hold nothing but what the migration, or a start
/// without use, writes: data a server wrote there while serving would mix with the source's.
fn prepare_target(pg: &mut PgConnection, tables: &[Table]) -> Result<BTreeMap<String, ProgressRow>> {
    if !progress_kept(pg).map_err(ctx("reading the target"))? {
        for t in tables {
            let seeded = SEEDED.iter().find(|(name, _)| *name == t.name).map_or(String::new(), |(_, served)| format!(" WHERE {served}"));
            let n: Count = diesel::sql_query(format!("SELECT count(*) AS n FROM {}{seeded}", quote(&t.name)))
                .get_result(pg)
                .map_err(ctx(format!("reading {} on the target", t.name)))?;
            if n.n > 0 {
                return Err(refuse(format!(
                    "the target already holds data ({} rows in {}) that port-db did not copy: port into an empty database",
                    n.n, t.name
                )));
            }
        }
        pg.batch_execute(
            "CREATE TABLE port_db_progress (table_name TEXT PRIMARY KEY, last_key TEXT, rows_copied BIGINT NOT NULL, \
             done BOOLEAN NOT NULL)",
        )
        .map_err(ctx("creating port_db_progress"))?;
    }
    let rows: Vec<ProgressRow> = diesel::sql_query("SELECT table_name, last_key, rows_copied, done FROM port_db_progress")
        .load(pg)
        .map_err(ctx("reading port_db_progress"))?;
    Ok(rows.into_iter().map(|r| (r.table_name.clone(), r)).collect())
}

fn record(pg: &mut PgConnection, table: &str, key: Option<&str>, copied: i64, done: bool) -> QueryResult<usize> {
    diesel::sql_query(
        "INSERT INTO port_db_progress (table_name, last_key, rows_copied, done) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (table_name) DO UPDATE SET last_key = excluded.last_key, rows_copied = excluded.rows_copied, \
         done = excluded.done",
    )
    .bind::<Text, _>(table)
    .bind::<Nullable<Text>, _>(key)
    .bind::<BigInt, _>(copied)
    .bind::<Bool, _>(done)
    .execute(pg)
}

/// The next `limit` rows after `after` (a JSON array of the key's values), each as a JSON
/// object and its key. JSON cannot hold a BLOB, so BLOB columns travel as PostgreSQL's `\x` hex.
fn read_chunk(src: &mut SqliteConnection, t: &Table, after: Option<&str>, limit: usize) -> Result<Vec<ChunkRow>> {
    let fields: Vec<String> = t
        .columns
        .iter()
        .map(|(c, decl)| {
            let value = if decl == "BLOB" { format!("'\\x' || hex({})", quote(c)) } else { quote(c) };
            format!("'{}', {value}", c.replace('\'', "''"))
        })
        .collect();
    let key = t.key.join(", ");
    let filter = match after {
        Some(_) => {
            let bound: Vec<String> = (0..t.key.len()).map(|i| format!("json_extract(?1, '$[{i}]')")).collect();
            format!("WHERE ({key}) > ({})", bound.join(", "))
        }
        None => "WHERE ?1 IS NULL".to_owned(),
    };
    let sql = format!(
        "SELECT json_object({}) AS obj, json_array({key}) AS key FROM {} {filter} ORDER BY {key} LIMIT ?2",
        fields.join(", "),
        quote(&t.name)
    );
    diesel::sql_query(sql)
        .bind::<Nullable<Text>, _>(after)
        .bind::<BigInt, _>(limit as i64)
        .load(src)
        .map_err(ctx(format!("reading {} from the source", t.name)))
}

/// Joins rows into one JSON array up to `max_bytes` (at least one row), returning the array, how
/// many rows it holds and the last one's key. A NUL in text stops the port: PostgreSQL's TEXT
/// cannot hold one, and dropping or altering a value silently would lose data.
fn assemble(t: &Table, rows: &[ChunkRow], max_bytes: usize) -> Result<(String, usize, Option<String>)> {
    let mut json = String::from("[");
    let mut used = 0;
    for r in rows {
        if used > 0 && json.len() + r.obj.len() > max_bytes {
            break;
        }
        if r.obj.contains("\\u0000") {
            check_nul(t, r)?;
        }
        if used > 0 {
            json.push(',');
        }
        json.push_str(&r.obj);
        used += 1;
    }
    json.push(']');
    Ok((json, used, rows[..used].last().map(|r| r.key.clone())))
}

fn check_nul(t: &Table, r: &ChunkRow) -> Result<()> {
    let v: serde_json::Value = serde_json::from_str(&r.obj).map_err(ctx(format!("a row of {}", t.name)))?;
    if let Some(obj) = v.as_object() {
        for (col, value) in obj {
            if value.as_str().is_some_and(|s| s.contains('\0')) {
                return Err(fail(format!(
                    "table {}, row with key {}: column {col} holds a NUL character, which PostgreSQL's TEXT cannot store; \
                     remove it from that row in the SQLite file and run port-db again",
                    t.name, r.key
                )));
            }
        }
    }
    Ok(())
}

/// Identity columns must hand out numbers above every copied one, and above any SQLite's
/// AUTOINCREMENT ever gave (deleted rows' numbers are never reused there either).
fn set_sequences(src: &mut SqliteConnection, pg: &mut PgConnection, say: &mut dyn FnMut(&str)) -> Result<()> {
    let cols: Vec<PgColumn> = diesel::sql_query(
        "SELECT table_name::text AS table_name, column_name::text AS column_name, data_type::text AS data_type \
         FROM information_schema.columns WHERE table_schema = current_schema() \
         AND (is_identity = 'YES' OR column_default LIKE 'nextval(%') ORDER BY table_name, column_name",
    )
    .load(pg)
    .map_err(ctx("reading the target's sequences"))?;
    let has_sequence_table = diesel::sql_query("SELECT name FROM sqlite_sequence LIMIT 0").execute(src).is_ok();
    pg.transaction(|pg| {
        for c in &cols {
            let on_pg: MaybeCount =
                diesel::sql_query(format!("SELECT max({}) AS n FROM {}", quote(&c.column_name), quote(&c.table_name))).get_result(pg)?;
            let on_sqlite = if has_sequence_table {
                diesel::sql_query("SELECT max(seq) AS n FROM sqlite_sequence WHERE name = ?1")
                    .bind::<Text, _>(&c.table_name)
                    .get_result::<MaybeCount>(src)
                    .ok()
                    .and_then(|m| m.n)
            } else {
                None
            };
            if let Some(top) = on_pg.n.max(on_sqlite).filter(|n| *n > 0) {
                diesel::sql_query("SELECT setval(pg_get_serial_sequence($1, $2), $3)::text AS name")
                    .bind::<Text, _>(quote(&c.table_name))
                    .bind::<Text, _>(&c.column_name)
                    .bind::<BigInt, _>(top)
                    .get_result::<Name>(pg)?;
                say(&format!("sequence of {}.{}: next value {}", c.table_name, c.column_name, top + 1));
            }
        }
        record(pg, SEQUENCES, None, 0, true)
    })
    .map_err(ctx("setting the target's sequences"))?;
    Ok(())
}
