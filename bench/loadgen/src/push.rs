//! The `push` scenario's backend: `POST /api/v1/emit` (siohub's HTTP API; the peers serve
//! the same route: see `peers/`) on keep-alive connections, each request emitting the
//! event `m` to the room with the same data as a websocket publish (its send time in the
//! first 16 characters), so the subscribers time deliveries as in `fanout`.
//!
//! At a fixed `--rate`, one request is started every 1/rate s whatever the answers (open
//! loop: a slow server shows as a request latency, not as a lower offered rate); with
//! `--saturation`, `--window` requests are in flight, each sent when one is answered
//! (closed loop). Request latency is from the start of a request to its whole answer.

use std::io;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::time::sleep;

use crate::metrics::{now_us, record};
use crate::scenarios::Publishing;
use crate::sio::{self, Padding};
use crate::Config;

/// Requests in flight at most at a fixed rate: each may hold a connection (descriptors).
const MAX_RUNNING: u32 = 4096;

/// What every request of a run shares.
pub struct Backend {
    http: reqwest::Client,
    url: String,
    auth: String,
    /// The subscribers in the room: each request's expected deliveries.
    subscribers: u64,
}

impl Backend {
    /// The backend of `cfg`: the first node's `/api/v1/emit`, `--api-key` as a Bearer token.
    pub fn new(cfg: &Config, subscribers: u64) -> io::Result<Backend> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(usize::MAX)
            // Below Node's 5 s keep-alive timeout, so idle connections are dropped here first.
            .pool_idle_timeout(Duration::from_secs(4))
            .build()
            .map_err(io::Error::other)?;
        Ok(Backend {
            http,
            url: format!("http://{}/api/v1/emit", cfg.first_addr()),
            auth: format!("Bearer {}", cfg.api_key),
            subscribers,
        })
    }

    /// Counts a request as sent (and its deliveries as expected): by the caller, before
    /// `run` can return, so the counts read after it are complete.
    fn count(&self, p: &Publishing) {
        p.expected.fetch_add(self.subscribers, Relaxed);
        p.published.fetch_add(1, Relaxed);
    }

    /// One request (counted by [`Backend::count`]): its body stamped now, its answer
    /// checked (200 and a `recipients`).
    async fn request(&self, cfg: &Config, p: &Publishing, id: u64) {
        let t0 = now_us();
        let body = body(&cfg.room, t0, cfg.payload, cfg.padding, id);
        let answer = async {
            let res = self
                .http
                .post(&self.url)
                .header("authorization", &self.auth)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .map_err(|e| format!("request failed: {e}"))?;
            let status = res.status();
            let bytes = res
                .bytes()
                .await
                .map_err(|e| format!("answer failed: {e}"))?;
            match sio::number_after(&bytes, b"\"recipients\":") {
                Some(n) if status.is_success() => Ok(n),
                _ => Err(format!("{status}: {}", String::from_utf8_lossy(&bytes))),
            }
        };
        match answer.await {
            Ok(n) => {
                record(&mut p.ack_lat.shard(0), now_us().saturating_sub(t0));
                p.recipients.fetch_add(n, Relaxed);
                p.acked.fetch_add(1, Relaxed);
            }
            Err(why) => {
                if p.refused.fetch_add(1, Relaxed) == 0 {
                    eprintln!("loadgen: push refused: {why}");
                }
            }
        }
    }
}

/// The JSON body of one emit: `{"rooms":..,"event":"m","data":"<16-digit µs>..."}`.
pub fn body(room: &str, ts_us: u64, payload: usize, padding: Padding, id: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload + 64);
    out.extend_from_slice(
        format!("{{\"rooms\":\"{room}\",\"event\":\"m\",\"data\":\"{ts_us:016}").as_bytes(),
    );
    sio::pad(&mut out, payload.saturating_sub(16), padding, id);
    out.extend_from_slice(b"\"}");
    out
}

/// Sends requests until `p.stop`: at `cfg.rate` per second, or `cfg.window` in flight.
/// Returns once no request will be sent any more (every one sent is counted); requests
/// still running at a fixed rate go on (the caller's drain waits for their answers).
pub async fn run(cfg: Arc<Config>, p: Arc<Publishing>, backend: Arc<Backend>) {
    if cfg.rate > 0.0 {
        let start = Instant::now();
        let mut next_id = 0u64;
        // At most MAX_RUNNING at once (each may hold a connection), then the rate gives.
        let running = Arc::new(Semaphore::new(MAX_RUNNING as usize));
        while !p.stop.load(Relaxed) {
            let due = (start.elapsed().as_secs_f64() * cfg.rate) as u64 + 1;
            if due <= next_id {
                sleep(Duration::from_millis(1)).await;
                continue;
            }
            while next_id < due {
                next_id += 1;
                let (cfg, p, backend) = (cfg.clone(), p.clone(), backend.clone());
                let permit = running.clone().acquire_owned().await.expect("open");
                backend.count(&p);
                tokio::spawn(async move {
                    backend.request(&cfg, &p, next_id).await;
                    drop(permit);
                });
            }
        }
    } else {
        let loops: Vec<_> = (0..cfg.window)
            .map(|w| {
                let (cfg, p, backend) = (cfg.clone(), p.clone(), backend.clone());
                tokio::spawn(async move {
                    let mut id = w as u64;
                    while !p.stop.load(Relaxed) {
                        backend.count(&p);
                        backend.request(&cfg, &p, id).await;
                        id += cfg.window as u64;
                    }
                })
            })
            .collect();
        for l in loops {
            let _ = l.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_push_body_carries_the_send_time_first_in_its_data() {
        let b = body("bench", 42, 20, Padding::X, 1);
        let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v["rooms"], "bench");
        assert_eq!(v["event"], "m");
        assert_eq!(v["data"], "0000000000000042xxxx");
    }
}
