//! Moving a server from SQLite to PostgreSQL: `ensemble port-db --from sqlite://… --to postgres://…`.
//! The server must be stopped; its data_dir (search index, media, signing key) is used unchanged
//! by the server that then runs on PostgreSQL.

use crate::error::{Error, Result};
use crate::store::{Location, port};
use std::path::PathBuf;

pub use crate::store::port::{Options, Summary};

/// The SQLite file a `--from` names: `sqlite://PATH`, `sqlite:PATH` or a plain path.
pub fn source_path(from: &str) -> Result<PathBuf> {
    match Location::from_url(from) {
        Some(Location::Sqlite(path)) if !path.as_os_str().is_empty() => Ok(path),
        Some(Location::Postgres(_)) => Err(Error::invalid_param("--from must name an SQLite file (sqlite://PATH or a path)")),
        _ => Err(Error::invalid_param("--from names no file")),
    }
}

/// Ports the SQLite store `from` into the PostgreSQL database `to`, saying each step through `say`.
/// Re-running after an interruption resumes; re-running after success changes nothing.
pub fn port_db(from: &str, to: &str, opts: &Options, say: &mut dyn FnMut(&str)) -> Result<Summary> {
    let source = source_path(from)?;
    if !matches!(Location::from_url(to), Some(Location::Postgres(_))) {
        return Err(Error::invalid_param("--to must be a postgres:// or postgresql:// URL"));
    }
    if opts.chunk_rows == 0 {
        return Err(Error::invalid_param("the chunk size must be at least one row"));
    }
    port::port(&source, to, opts, say)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_sqlite_files() {
        assert_eq!(source_path("sqlite:///var/lib/e.db").unwrap(), PathBuf::from("/var/lib/e.db"));
        assert_eq!(source_path("sqlite:e.db").unwrap(), PathBuf::from("e.db"));
        assert_eq!(source_path("data/ensemble.db").unwrap(), PathBuf::from("data/ensemble.db"));
        assert!(source_path("postgres://h/db").is_err());
        assert!(source_path("sqlite://").is_err());
    }
}
