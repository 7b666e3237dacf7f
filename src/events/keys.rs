//! The server's ed25519 signing key, generated once and kept under the data directory.

use ruma::signatures::Ed25519KeyPair;
use std::path::Path;

pub struct ServerKeys {
    pub server_name: String,
    pub keypair: Ed25519KeyPair,
}

impl ServerKeys {
    pub fn load_or_generate(data_dir: &Path, server_name: &str) -> Result<Self, String> {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD;
        let path = data_dir.join("signing.key");
        let (version, der) = match std::fs::read_to_string(&path) {
            Ok(text) => {
                let mut parts = text.split_whitespace();
                let version = parts.next().unwrap_or_default().to_owned();
                let der = b64.decode(parts.next().unwrap_or_default()).map_err(|e| format!("{}: {e}", path.display()))?;
                (version, der)
            }
            Err(_) => {
                let der = Ed25519KeyPair::generate();
                let version = format!("a_{}", crate::ids::random_alnum(4));
                std::fs::create_dir_all(data_dir).map_err(|e| format!("{}: {e}", data_dir.display()))?;
                std::fs::write(&path, format!("{version} {}\n", b64.encode(&der[..]))).map_err(|e| format!("{}: {e}", path.display()))?;
                (version, der.to_vec())
            }
        };
        let keypair = Ed25519KeyPair::from_der(&der, version).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Self { server_name: server_name.into(), keypair })
    }
}
