//! HTTP requests counted by method, route pattern and status, for `/metrics`.

use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::http::Method;
use dashmap::DashMap;

/// HTTP requests by method, route pattern and status.
#[derive(Debug, Default)]
pub struct HttpCounters {
    counts: DashMap<(&'static str, String, u16), AtomicU64>,
}

impl HttpCounters {
    /// Counts one request; `route` is the matched pattern (so the label set stays bounded).
    pub fn count(&self, method: &Method, route: Option<String>, status: u16) {
        let method = match *method {
            Method::GET => "GET",
            Method::POST => "POST",
            Method::PUT => "PUT",
            Method::DELETE => "DELETE",
            Method::PATCH => "PATCH",
            Method::OPTIONS => "OPTIONS",
            Method::HEAD => "HEAD",
            _ => "OTHER",
        };
        let key = (method, route.unwrap_or_else(|| "unmatched".into()), status);
        // The common case (a key seen before) takes a shard's read lock only.
        if let Some(counter) = self.counts.get(&key) {
            counter.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.counts
            .entry(key)
            .or_default()
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Every (method, route, status) with its count, sorted.
    pub fn snapshot(&self) -> Vec<(&'static str, String, u16, u64)> {
        let mut all: Vec<_> = self
            .counts
            .iter()
            .map(|e| {
                let (method, route, status) = e.key();
                (
                    *method,
                    route.clone(),
                    *status,
                    e.value().load(Ordering::Relaxed),
                )
            })
            .collect();
        all.sort();
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_counters_count_by_route_and_status() {
        let http = HttpCounters::default();
        http.count(&Method::GET, Some("/health".into()), 200);
        http.count(&Method::GET, Some("/health".into()), 200);
        http.count(&Method::from_bytes(b"BREW").unwrap(), None, 404);
        assert_eq!(
            http.snapshot(),
            vec![
                ("GET", "/health".to_owned(), 200, 2),
                ("OTHER", "unmatched".to_owned(), 404, 1)
            ]
        );
    }
}
