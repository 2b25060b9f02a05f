//! An Engine.IO v4 HTTP long-polling client, for the `mixed` scenario's polling share.
//!
//! GET returns the packets the server holds (joined by `\x1e`), or waits until it has some;
//! POST sends packets. One GET is outstanding at a time; answers (`3` to a ping) are POSTed
//! between polls.

use std::io;

use bytes::Bytes;

use crate::ws::find;

fn err(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

/// One polling session.
pub struct Polling {
    client: reqwest::Client,
    url: String,
}

impl Polling {
    /// Opens a session and completes the Socket.IO CONNECT to `/`.
    pub async fn connect(client: &reqwest::Client, addr: &str, path: &str) -> io::Result<Polling> {
        let base = format!("http://{addr}{path}?EIO=4&transport=polling");
        let open = get(client, &base).await?;
        let sid = find(&open, b"\"sid\":\"")
            .and_then(|at| {
                let rest = &open[at + 7..];
                let end = rest.iter().position(|&b| b == b'"')?;
                std::str::from_utf8(&rest[..end]).ok()
            })
            .ok_or_else(|| {
                err(format!(
                    "no sid in open packet {:?}",
                    String::from_utf8_lossy(&open)
                ))
            })?
            .to_owned();
        let session = Polling {
            client: client.clone(),
            url: format!("{base}&sid={sid}"),
        };
        session.post(b"40").await?;
        loop {
            let body = session.poll().await?;
            if packets(&body).any(|p| p.starts_with(b"40")) {
                return Ok(session);
            }
            if packets(&body).any(|p| p.starts_with(b"44")) {
                return Err(err(format!(
                    "socket.io connect refused: {}",
                    String::from_utf8_lossy(&body)
                )));
            }
        }
    }

    /// Emits `packet` and polls until its ack with `ack_id` comes; returns its arguments.
    pub async fn call(&self, packet: &[u8], ack_id: u64) -> io::Result<Vec<u8>> {
        self.post(packet).await?;
        loop {
            let body = self.poll().await?;
            for p in packets(&body) {
                if p == b"2" {
                    self.post(b"3").await?;
                } else if let Some((id, args)) = crate::sio::parse_ack(p) {
                    if id == ack_id {
                        return Ok(args.to_vec());
                    }
                }
            }
        }
    }

    /// Sends packets (one, or several joined by `\x1e`).
    pub async fn post(&self, body: &[u8]) -> io::Result<()> {
        let send = || {
            self.client
                .post(&self.url)
                .header("content-type", "text/plain;charset=UTF-8")
                .body(body.to_vec())
                .send()
        };
        let resp = match send().await {
            Err(e) if stale_connection(&e) => send().await,
            other => other,
        }
        .map_err(err)?;
        if !resp.status().is_success() {
            return Err(err(format!("POST {}: {}", self.url, resp.status())));
        }
        resp.bytes().await.map_err(err)?;
        Ok(())
    }

    /// One long poll.
    pub async fn poll(&self) -> io::Result<Bytes> {
        get(&self.client, &self.url).await
    }
}

/// A request that failed before the server could have taken it: a pooled keep-alive
/// connection the server closed as the request went out (Node closes idle ones after 5 s).
/// Sending it again on a new connection is what a browser does.
fn stale_connection(e: &reqwest::Error) -> bool {
    e.is_request() && !e.is_timeout()
}

async fn get(client: &reqwest::Client, url: &str) -> io::Result<Bytes> {
    let resp = match client.get(url).send().await {
        Err(e) if stale_connection(&e) => client.get(url).send().await,
        other => other,
    }
    .map_err(err)?;
    if !resp.status().is_success() {
        return Err(err(format!("GET {url}: {}", resp.status())));
    }
    resp.bytes().await.map_err(err)
}

/// The packets of a polling payload.
pub fn packets(body: &[u8]) -> impl Iterator<Item = &[u8]> {
    body.split(|&b| b == 0x1e).filter(|p| !p.is_empty())
}
