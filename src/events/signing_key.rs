//! The server's ed25519 signing key, generated once and kept under the data directory.

use crate::error::{Error, Result};
use ruma::signatures::Ed25519KeyPair;
use std::path::Path;

pub struct ServerKeys {
    pub server_name: String,
    pub keypair: Ed25519KeyPair,
}

impl ServerKeys {
    /// Loads the key from `signing.key`. A key is generated only for a store with no events: once events
    /// and keys have been signed with it, a silently replaced key would make them unverifiable,
    /// so a missing or unreadable file stops the start with a message instead.
    pub fn load_or_generate(data_dir: &Path, server_name: &str, new_database: bool) -> Result<Self> {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD;
        let path = data_dir.join("signing.key");
        let (version, der) = match std::fs::read(&path) {
            Ok(bytes) => {
                let text = String::from_utf8(bytes)
                    .map_err(|_| Error::internal(format!("signing key {} is not text: restore it from a backup", path.display())))?;
                let mut parts = text.split_whitespace();
                let (Some(version), Some(key)) = (parts.next(), parts.next()) else {
                    return Err(Error::internal(format!("signing key {} is malformed (expected \"<version> <base64>\")", path.display())));
                };
                let der = b64.decode(key).map_err(|e| Error::internal_from(format!("signing key {}", path.display()), e))?;
                (version.to_owned(), der)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && new_database => {
                let der = Ed25519KeyPair::generate();
                let version = format!("a_{}", crate::ids::random_alnum(4));
                std::fs::create_dir_all(data_dir).map_err(|e| Error::internal_from(format!("{}", data_dir.display()), e))?;
                write_private(&path, format!("{version} {}\n", b64.encode(&der[..])).as_bytes())?;
                (version, der.to_vec())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::internal(format!(
                    "signing key {} is missing but the database holds events signed with it: restore the key from a backup \
                     (a new key would leave what this server signed unverifiable)",
                    path.display()
                )));
            }
            Err(e) => return Err(Error::internal_from(format!("reading signing key {}", path.display()), e)),
        };
        let keypair = Ed25519KeyPair::from_der(&der, version).map_err(|e| Error::internal_from(format!("{}", path.display()), e))?;
        Ok(Self { server_name: server_name.into(), keypair })
    }
}

/// Writes a new secret file readable by its owner only; never replaces an existing one.
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path).map_err(|e| Error::internal_from(format!("creating {}", path.display()), e))?;
    f.write_all(bytes).and_then(|_| f.sync_all()).map_err(|e| Error::internal_from(format!("writing {}", path.display()), e))
}
