//! The state every HTTP handler of one server shares: the engine settings, the hub, the
//! application on top of Engine.IO, the cross-origin policy and the operational state.
//! It sits below the transport, the API and the operations routes, which all read it.

mod http_counters;
mod ops_state;

use std::sync::Arc;

use siohub_actors::{Application, ClusterOutbox, EngineConfig, Hub};

pub use http_counters::HttpCounters;
pub use ops_state::OpsState;

use crate::cluster::{self, ClusterHandle};
use crate::config::Settings;
use crate::cors::Cors;

/// What the HTTP handlers share, cloned into every worker.
#[derive(Clone)]
pub struct AppState {
    /// Engine settings.
    pub config: Arc<EngineConfig>,
    /// The hub: its actors and the live sessions.
    pub hub: Hub,
    /// What runs on top of Engine.IO.
    pub app: Application,
    /// Cross-origin policy.
    pub cors: Cors,
    /// Draining, connection limits and operational counters.
    pub ops: Arc<OpsState>,
    /// The cluster adapter, when `[adapter] kind = "redis"`.
    pub cluster: Option<ClusterHandle>,
    /// The cluster-wide views answered, for `/metrics`.
    pub views: Arc<crate::api::cluster_scope::ViewCounters>,
    /// The polling cookie and compression, and what compression did.
    pub transport: Arc<crate::transport::options::TransportOptions>,
    /// Durable subscriptions, when `[subscriptions] store = "postgres"` (the store the
    /// application's namespaces carry).
    pub subscriptions: Option<crate::subscriptions::Subscriptions>,
}

impl AppState {
    /// The shared state of one server, built once from the settings: it starts the hub's
    /// actors, so it runs inside an actix system.
    pub fn new(settings: &Settings, app: Application) -> Self {
        let (hub, cluster) = match settings.adapter.kind.as_str() {
            "redis" => {
                let (outbox, receiver) = ClusterOutbox::new(settings.adapter.max_queued);
                let store = cluster::recovery_store::from_settings(&settings.adapter);
                let policies = settings.delivery_policies();
                let hub = Hub::start_clustered_with_store(policies, outbox.clone(), store);
                let cluster = cluster::start(settings, &hub, outbox, receiver);
                crate::admin::cluster::join(&hub, &cluster, settings);
                // The `presence` built-in asks the other nodes through it.
                hub.attach(cluster.clone());
                (hub, Some(cluster))
            }
            _ => (Hub::start(settings.delivery_policies()), None),
        };
        let adapter_status = cluster.as_ref().map(|c| c.status().clone());
        let subscriptions = match &app {
            Application::SocketIo(nsps) => nsps
                .extension::<crate::subscriptions::Subscriptions>()
                .cloned(),
            Application::EngineEcho => None,
        };
        AppState {
            config: Arc::new(settings.engine_config()),
            hub,
            app,
            cors: Cors::new(settings.cors.origins.clone(), settings.cors.credentials),
            ops: Arc::new(OpsState::new(settings, adapter_status)),
            cluster,
            views: Arc::default(),
            transport: Arc::new(crate::transport::options::TransportOptions::new(
                &settings.engine,
            )),
            subscriptions,
        }
    }
}
