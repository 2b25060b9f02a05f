//! The hub's outgoing HTTP client, shared by the backend webhook and the JWKS fetch:
//! `awc` over plain TCP for `http://` and over TLS (rustls on the ring provider) for
//! `https://`, trusting the webpki (Mozilla) roots plus the certificates of
//! `[http_client] ca_file`, so that a private backend with its own CA can be reached
//! without turning verification off.

use std::cell::RefCell;
use std::sync::{Arc, Weak};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

/// Why the TLS trust could not be set up (named after the config key at start-up).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsSetupError {
    /// The extra CA file cannot be read or holds no PEM certificate.
    #[error("cannot use {path} as a CA file: {why}")]
    CaFile {
        /// The path given.
        path: String,
        /// What was wrong with it.
        why: String,
    },
    /// rustls refused the protocol versions (does not happen with the ring provider).
    #[error("TLS set-up failed: {0}")]
    Rustls(String),
}

/// The certificates of a PEM file (at least one).
pub fn read_ca_file(path: &str) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let fail = |why: String| TlsSetupError::CaFile {
        path: path.to_owned(),
        why,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| fail(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(e.to_string()))?;
    if certs.is_empty() {
        return Err(fail("no \"BEGIN CERTIFICATE\" block in it".into()));
    }
    Ok(certs)
}

/// The rustls client configuration: the webpki roots, plus `ca_file`'s certificates when
/// it is not empty.
pub fn tls_config(ca_file: &str) -> Result<Arc<ClientConfig>, TlsSetupError> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if !ca_file.is_empty() {
        for cert in read_ca_file(ca_file)? {
            roots.add(cert).map_err(|e| TlsSetupError::CaFile {
                path: ca_file.to_owned(),
                why: e.to_string(),
            })?;
        }
    }
    // The provider is named here rather than taken from a process default, so no other
    // crate's choice of backend can change (or break) how the hub verifies servers.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsSetupError::Rustls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A client configuration; [`HttpClient::client`] hands out a pooled `awc` client of it
/// for the calling thread. Cheap to clone and `Send`, unlike `awc::Client`.
#[derive(Clone)]
pub struct HttpClient {
    tls: Arc<ClientConfig>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient").finish_non_exhaustive()
    }
}

thread_local! {
    /// One `awc` client (and so one connection pool) per thread and configuration: awc
    /// clients are not `Send`, and each worker's sockets call from that worker.
    static CLIENTS: RefCell<Vec<(Weak<ClientConfig>, awc::Client)>> =
        const { RefCell::new(Vec::new()) };
}

impl HttpClient {
    /// A client trusting the webpki roots and `ca_file` (empty = none).
    pub fn new(ca_file: &str) -> Result<Self, TlsSetupError> {
        Ok(HttpClient {
            tls: tls_config(ca_file)?,
        })
    }

    /// This thread's `awc` client for this configuration (no redirects followed; no pool
    /// limit, the callers bound their own concurrency).
    pub fn client(&self) -> awc::Client {
        CLIENTS.with(|cell| {
            let mut clients = cell.borrow_mut();
            clients.retain(|(config, _)| config.strong_count() > 0);
            if let Some((_, client)) = clients
                .iter()
                .find(|(config, _)| std::ptr::eq(config.as_ptr(), Arc::as_ptr(&self.tls)))
            {
                return client.clone();
            }
            let client = awc::Client::builder()
                .disable_redirects()
                .connector(awc::Connector::new().rustls_0_23(self.tls.clone()).limit(0))
                .finish();
            clients.push((Arc::downgrade(&self.tls), client.clone()));
            client
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

    #[test]
    fn a_ca_file_must_hold_certificates() {
        assert!(tls_config("").is_ok());
        assert!(tls_config(&format!("{FIXTURES}/tls/ca.pem")).is_ok());
        let missing = tls_config("/nonexistent/ca.pem").unwrap_err();
        assert!(
            missing.to_string().contains("/nonexistent/ca.pem"),
            "{missing}"
        );
        let not_a_cert = tls_config(&format!("{FIXTURES}/rs256.pub.pem")).unwrap_err();
        assert!(
            not_a_cert.to_string().contains("no \"BEGIN CERTIFICATE\""),
            "{not_a_cert}"
        );
    }
}
