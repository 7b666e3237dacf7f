//! `ensemble backup --to PATH`: an online copy of the server's SQLite store. A PostgreSQL store
//! is backed up with PostgreSQL's own tools (`pg_dump`), which this does not replace.

use crate::config::Config;
use crate::error::{Error, Result};
use crate::store::{Location, backup};
use std::path::Path;

/// Writes a consistent copy of the configured SQLite store to `dest` (a new file), while the
/// server may be running. Answers the copy's size in bytes.
pub fn backup(cfg: &Config, dest: &Path) -> Result<u64> {
    match cfg.database() {
        Location::Sqlite(source) => {
            backup::sqlite_into(&source, dest)?;
            let len = std::fs::metadata(dest).map_err(|e| Error::internal_from("reading the backup's size", e))?.len();
            Ok(len)
        }
        Location::Postgres(_) => Err(Error::invalid_param("the store is on PostgreSQL: back it up with pg_dump (see docs/deployment.md)")),
    }
}
