//! rustls configurations: the client trusts the public web roots plus the configured extra CAs;
//! the server presents the configured certificate. ring is the crypto provider throughout.

use crate::error::{Error, Result};
use rustls::RootCertStore;
use rustls::crypto::ring;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The HTTP client for requests to other servers (federation, push gateways): the configured
/// trust roots, bounded connect and total time, no redirects followed.
pub fn http_client(config: &crate::Config, what: &str) -> Result<reqwest::Client> {
    let tls = client_config(&config.federation_custom_ca_list)?;
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .connect_timeout(std::time::Duration::from_secs(10))
        .timeout(std::time::Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("Ensemble/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Error::internal_from(format!("{what} client"), e))
}

pub fn client_config(extra_cas: &[PathBuf]) -> Result<rustls::ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for path in extra_cas {
        for cert in read_certs(path)? {
            roots.add(cert).map_err(|e| Error::internal_from(format!("{}", path.display()), e))?;
        }
    }
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::internal_from("TLS", e))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

pub fn server_config(cert: &Path, key: &Path) -> Result<rustls::ServerConfig> {
    let chain = read_certs(cert)?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| Error::internal_from(format!("{}", key.display()), e))?;
    rustls::ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::internal_from("TLS", e))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| Error::internal_from(format!("{}", cert.display()), e))
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| Error::internal_from(format!("{}", path.display()), e))?
        .collect::<Result<_, _>>()
        .map_err(|e| Error::internal_from(format!("{}", path.display()), e))?;
    if certs.is_empty() {
        return Err(Error::internal(format!("{}: no PEM certificate in it", path.display())));
    }
    Ok(certs)
}

/// Makes ring the process-wide rustls provider (reqwest asks for one when a client is built
/// without a preconfigured TLS setup). Idempotent.
pub fn install_default_provider() {
    let _ = ring::default_provider().install_default();
}
