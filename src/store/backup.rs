//! A consistent copy of a running server's SQLite store, taken without stopping it.
//!
//! `VACUUM INTO` reads one snapshot (a WAL reader blocks no writer) and writes a compact,
//! self-contained database file: no `-wal` or `-shm` companion is needed to open it.

use crate::error::{Error, Result};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;
use std::path::Path;

/// Copies the SQLite store at `source` into the new file `dest`.
pub fn sqlite_into(source: &Path, dest: &Path) -> Result<()> {
    if !source.is_file() {
        return Err(Error::invalid_param(format!("no SQLite store at {}", source.display())));
    }
    if dest.exists() {
        return Err(Error::invalid_param(format!("{} exists: a backup never overwrites a file", dest.display())));
    }
    let dest = dest.to_str().ok_or_else(|| Error::invalid_param("the backup path is not valid UTF-8"))?;
    let url = source.to_str().ok_or_else(|| Error::invalid_param("the store path is not valid UTF-8"))?;
    let mut c = SqliteConnection::establish(url).map_err(|e| Error::internal_from("opening the SQLite store", e))?;
    // The running server may hold the write lock for a moment; the copy reads a snapshot.
    c.batch_execute("PRAGMA busy_timeout = 10000;")?;
    diesel::sql_query("VACUUM INTO ?").bind::<Text, _>(dest).execute(&mut c)?;
    Ok(())
}
