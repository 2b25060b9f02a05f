//! A small HTTPS server the TLS tests start themselves: rustls with the test certificate
//! of tests/fixtures/tls (signed by the test CA `ca.pem`, for 127.0.0.1 and localhost) on a
//! free port of the loopback. Each request is answered by the test's `route` and recorded;
//! one request per connection (`Connection: close`), which is all the hub's client needs.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

/// Where the test keys and certificates live.
pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// The CA that signed the server certificate.
pub fn test_ca() -> String {
    format!("{FIXTURES}/tls/ca.pem")
}

/// A CA that signed nothing this server presents.
pub fn other_ca() -> String {
    format!("{FIXTURES}/tls/other-ca.pem")
}

/// One request the server answered.
#[derive(Debug, Clone)]
pub struct Hit {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The request path.
    pub path: String,
    /// The body.
    pub body: Vec<u8>,
}

/// How the test answers: (status, JSON body) for a request.
pub type Route = Arc<dyn Fn(&Hit) -> (u16, String) + Send + Sync>;

/// The running server; stops when dropped.
pub struct TlsBackend {
    /// Where it listens.
    pub addr: SocketAddr,
    hits: Arc<Mutex<Vec<Hit>>>,
    handshakes_failed: Arc<Mutex<u64>>,
    runtime: Option<tokio::runtime::Runtime>,
}

fn server_config() -> Arc<ServerConfig> {
    let certs = CertificateDer::pem_file_iter(format!("{FIXTURES}/tls/server.pem"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(format!("{FIXTURES}/tls/server.key")).unwrap();
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("the test certificate and key match");
    Arc::new(config)
}

/// Reads one request (head, then `Content-Length` bytes of body).
async fn read_request<S: AsyncReadExt + Unpin>(stream: &mut S) -> Option<Hit> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut request = httparse::Request::new(&mut headers);
        if let Ok(httparse::Status::Complete(head)) = request.parse(&buf) {
            let length: usize = request
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                .and_then(|h| std::str::from_utf8(h.value).ok()?.trim().parse().ok())
                .unwrap_or(0);
            let method = request.method.unwrap_or("").to_owned();
            let path = request.path.unwrap_or("").to_owned();
            while buf.len() < head + length {
                let n = stream.read(&mut chunk).await.ok()?;
                if n == 0 {
                    return None;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            let body = buf[head..head + length].to_vec();
            return Some(Hit { method, path, body });
        }
    }
}

impl TlsBackend {
    /// Starts the server; `route` answers every request.
    pub fn start(route: impl Fn(&Hit) -> (u16, String) + Send + Sync + 'static) -> TlsBackend {
        let route: Route = Arc::new(route);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("the TLS backend binds");
        let addr = listener.local_addr().unwrap();
        let acceptor = TlsAcceptor::from(server_config());
        let hits = Arc::new(Mutex::new(Vec::new()));
        let handshakes_failed = Arc::new(Mutex::new(0));
        let (shared_hits, failed) = (hits.clone(), handshakes_failed.clone());
        runtime.spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, route) = (acceptor.clone(), route.clone());
                let (hits, failed) = (shared_hits.clone(), failed.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        *failed.lock().unwrap() += 1;
                        return;
                    };
                    let Some(hit) = read_request(&mut tls).await else {
                        return;
                    };
                    let (status, body) = route(&hit);
                    hits.lock().unwrap().push(hit);
                    let response = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = tls.write_all(response.as_bytes()).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        TlsBackend {
            addr,
            hits,
            handshakes_failed,
            runtime: Some(runtime),
        }
    }

    /// The `https://` URL of `path` on this server, by IP address.
    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.addr.port())
    }

    /// Every request answered so far.
    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    /// TLS handshakes that did not complete (a client that refused the certificate).
    pub fn handshakes_failed(&self) -> u64 {
        *self.handshakes_failed.lock().unwrap()
    }
}

impl Drop for TlsBackend {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
