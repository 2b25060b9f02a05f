//! Building and running the HTTP server: the Engine.IO endpoint on the configured path and
//! the operations routes, with the hub's settings, in the foreground or (for tests and
//! examples) in the background.

use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use actix_http::{HttpService, Protocol};
use actix_rt::net::TcpStream;
use actix_service::{fn_factory, fn_service, map_config, ServiceFactory};
use actix_web::dev::{AppConfig, Service};
use actix_web::App;
use siohub_actors::{Application, Hub, SessionRegistry};

use crate::config::Settings;
use crate::ops::drain;
use crate::state::{AppState, OpsState};
use crate::transport::{self, FirstRequest};
use crate::workers::{Server, ServerHandle};

/// Pending connections the kernel keeps for each worker's listening socket (capped by
/// `net.core.somaxconn`).
pub const LISTEN_BACKLOG: i32 = 4096;

/// Binds the server; the returned server runs when awaited. It never handles signals
/// itself: the binary drains on SIGTERM/SIGINT ([`drain_and_stop`]), and `background`
/// servers (tests, tools) leave signals to their owner.
///
/// Each worker thread listens on its own socket and serves what it accepts (see
/// [`crate::workers`]).
pub fn bind(
    settings: &Settings,
    state: AppState,
    background: bool,
) -> std::io::Result<(Server, Vec<SocketAddr>)> {
    let path = settings.server.path.clone();
    let api = actix_web::web::Data::new(crate::api::ApiState::new(&settings.api, &settings.admin));
    let dashboard = crate::dashboard::Dashboard::new(settings);
    let workers = match settings.server.workers {
        0 if background => 1,
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let listeners = crate::workers::bind(
        &settings.server.host,
        settings.server.port,
        workers,
        LISTEN_BACKLOG,
    )?;
    let addrs = vec![crate::workers::local_addr(&listeners)?];
    let guard_metrics = settings.metrics.require_auth;
    let server = crate::workers::start(listeners, move || {
        let state = state.clone();
        let path = path.clone();
        let upgrade = (state.clone(), path.clone());
        let first = (state.clone(), path.clone());
        let ops = state.ops.clone();
        let app = App::new()
            .app_data(api.clone())
            .configure(crate::api::configure)
            .configure(move |cfg| crate::ops::configure(cfg, guard_metrics))
            .configure(|cfg| dashboard.configure(cfg))
            .configure(move |cfg| transport::configure(cfg, &path, state))
            // Counts every request by route pattern and status for /metrics.
            .wrap_fn(move |req, srv| {
                let (ops, method) = (ops.clone(), req.method().clone());
                let response = srv.call(req);
                async move {
                    let response = response.await?;
                    let route = response.request().match_pattern();
                    let status = response.status().as_u16();
                    ops.http().count(&method, route, status);
                    Ok(response)
                }
            });
        let http = HttpService::build()
            // A client that closes its side of the connection has gone away, as Node's
            // HTTP server takes it: an aborted long-poll closes its session.
            .h1_allow_half_closed(false)
            // Websockets leave the HTTP dispatcher at the upgrade (see
            // `transport::serve_upgrade`).
            .upgrade(fn_service(move |(req, framed)| {
                let (state, path) = upgrade.clone();
                transport::serve_upgrade(req, framed, state, path)
            }))
            .finish(map_config(app, |_| AppConfig::default()));
        // A connection's first request is looked at before any dispatcher exists: a
        // websocket upgrade is answered at once (`transport::serve_first_request`), the
        // rest goes to the dispatcher. The peer's address comes from accept.
        fn_factory(move || {
            let http = http.new_service(());
            let first = first.clone();
            async move {
                let http = Rc::new(http.await?);
                let first = Rc::new(first);
                Ok::<_, ()>(fn_service(move |(io, peer): (TcpStream, SocketAddr)| {
                    let (http, first) = (http.clone(), first.clone());
                    async move {
                        let (state, path) = &*first;
                        match transport::serve_first_request(io, peer, state, path).await {
                            FirstRequest::Done => Ok(()),
                            FirstRequest::Http(io) => {
                                http.call((io, Protocol::Http1, Some(peer))).await
                            }
                        }
                    }
                }))
            }
        })
    })?;
    Ok((server, addrs))
}

/// Drains `state` (see [`drain::drain`]) within `grace`, keeping a second for the
/// server's own stop, then stops the server; resolves when it is stopped.
pub async fn drain_and_stop(state: &AppState, handle: ServerHandle, grace: Duration) {
    let budget = grace.saturating_sub(Duration::from_secs(1));
    drain::drain(state, budget).await;
    handle.stop(true).await;
}

/// A server running on its own thread, for tests and tools.
pub struct BackgroundServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Live sessions.
    pub registry: SessionRegistry,
    /// The hub (its actors, counters, membership).
    pub hub: Hub,
    /// Draining, limits and operational counters.
    pub ops: Arc<OpsState>,
    /// The cluster adapter, when `[adapter] kind = "redis"`.
    pub cluster: Option<crate::cluster::ClusterHandle>,
    state: AppState,
    handle: ServerHandle,
    thread: Option<thread::JoinHandle<()>>,
}

impl BackgroundServer {
    /// Starts a server with `settings` (port 0 picks a free port) and `app` on a new thread.
    pub fn start(settings: Settings, app: Application) -> std::io::Result<Self> {
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = thread::spawn(move || {
            let system = actix_rt::System::new();
            system.block_on(async move {
                let state = AppState::new(&settings, app);
                let bound_state = state.clone();
                let (server, addrs) = match bind(&settings, state, true) {
                    Ok(bound) => bound,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                let addr = addrs[0];
                let _ = tx.send(Ok((addr, bound_state, server.handle())));
                let _ = server.await;
            });
        });
        let (addr, state, handle) = rx
            .recv()
            .map_err(|_| std::io::Error::other("the server thread died while starting"))??;
        Ok(BackgroundServer {
            addr,
            registry: state.hub.registry().clone(),
            hub: state.hub.clone(),
            ops: state.ops.clone(),
            cluster: state.cluster.clone(),
            state,
            handle,
            thread: Some(thread),
        })
    }

    /// The base URL, such as `http://127.0.0.1:4312`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Drains the server as SIGTERM does (without stopping it): `/ready` answers 503,
    /// handshakes are refused, every session is closed. Blocks until they are all gone (and
    /// every websocket wrote out its queue) or `budget` has passed; returns what is still
    /// open.
    pub fn drain(&self, budget: Duration) -> usize {
        let deadline = std::time::Instant::now() + budget;
        drain::begin_drain(&self.state, budget);
        while drain::open_for_drain(&self.state) > 0 && std::time::Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
        }
        drain::end_drain(&self.state)
    }
}

impl Drop for BackgroundServer {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        futures::executor::block_on(handle.stop(false));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
