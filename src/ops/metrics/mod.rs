//! `GET /metrics`: the Prometheus text exposition (version 0.0.4) of the hub's counters and
//! gauges.
//!
//! The hot paths count on lock-free atomics ([`siohub_actors::HubCounters`], the room
//! table's sizes, [`crate::state::HttpCounters`]); nothing there knows about Prometheus.
//! A scrape builds a prometheus-client [`Registry`] whose one [`Collector`] reads those
//! values and writes them as metric families, one file per area.

mod actors;
mod bounds;
mod cluster_views;
mod connections;
mod dependencies;
mod families;
mod retention;
mod server;
mod subscriptions;
mod traffic;

use std::fmt;

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{prometheus_text, DescriptorEncoder};
use prometheus_client::registry::Registry;

use crate::state::AppState;
use families::Families;

/// Reads the hub's counters and gauges at scrape time.
struct HubCollector(AppState);

impl fmt::Debug for HubCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HubCollector").finish_non_exhaustive()
    }
}

impl Collector for HubCollector {
    fn encode(&self, encoder: DescriptorEncoder) -> fmt::Result {
        let state = &self.0;
        let mut out = Families(encoder);
        server::encode(state, &mut out)?;
        connections::encode(state, &mut out)?;
        traffic::encode(state, &mut out)?;
        retention::encode(state, &mut out)?;
        bounds::encode(state, &mut out)?;
        actors::encode(state, &mut out)?;
        cluster_views::encode(state, &mut out)?;
        subscriptions::encode(state, &mut out)?;
        dependencies::encode(state, &mut out)
    }
}

/// The text of `/metrics`.
fn render(state: &AppState) -> String {
    // A registry is a few pointers: each scrape builds its own around the state it reads,
    // so workers share nothing but the counters.
    let mut registry = Registry::default();
    registry.register_collector(Box::new(HubCollector(state.clone())));
    let mut text = String::with_capacity(8192);
    prometheus_text::encode(&mut text, &registry).expect("writing to a String cannot fail");
    text
}

/// `GET /metrics`.
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, prometheus_text::CONTENT_TYPE))
        .body(render(&state))
}
