//! Building and running the HTTP server: the Engine.IO endpoint on the configured path,
//! with the hub's settings, in the foreground or (for tests and examples) in the background.

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread;

use actix_web::{dev::ServerHandle, App, HttpServer};
use siohub_actors::{Application, Hub, SessionRegistry};

use crate::config::Settings;
use crate::transport::{self, Cors, EngineState};

/// The shared state of one server, built once from the settings: it starts the hub's
/// actors, so it runs inside an actix system.
pub fn engine_state(settings: &Settings, app: Application) -> EngineState {
    EngineState {
        config: Arc::new(settings.engine_config()),
        hub: Hub::start(SessionRegistry::new(), settings.delivery_policies()),
        app,
        cors: Cors::new(settings.cors.origins.clone(), settings.cors.credentials),
    }
}

/// Binds the server; the returned server runs when awaited. `background` servers (tests,
/// tools) leave signals to their owner and stop fast.
pub fn bind(
    settings: &Settings,
    state: EngineState,
    background: bool,
) -> std::io::Result<(actix_web::dev::Server, Vec<SocketAddr>)> {
    let path = settings.server.path.clone();
    let mut server = HttpServer::new(move || {
        let state = state.clone();
        let path = path.clone();
        App::new()
            .configure(crate::api::configure)
            .configure(move |cfg| transport::configure(cfg, &path, state))
    })
    // A client that closes its side of the connection has gone away, as Node's HTTP server
    // takes it: the pending handler is dropped, so an aborted long-poll closes its session.
    .h1_allow_half_closed(false)
    .shutdown_timeout(if background { 1 } else { 5 });
    if background {
        server = server
            .disable_signals()
            .workers(settings.server.workers.max(1));
    } else if settings.server.workers > 0 {
        server = server.workers(settings.server.workers);
    }
    let server = server.bind((settings.server.host.as_str(), settings.server.port))?;
    let addrs = server.addrs();
    Ok((server.run(), addrs))
}

/// A server running on its own thread, for tests and tools.
pub struct BackgroundServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Live sessions.
    pub registry: SessionRegistry,
    /// The hub (its actors, counters, room table).
    pub hub: Hub,
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
                let state = engine_state(&settings, app);
                let hub = state.hub.clone();
                let (server, addrs) = match bind(&settings, state, true) {
                    Ok(bound) => bound,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                let addr = addrs[0];
                let _ = tx.send(Ok((addr, hub, server.handle())));
                let _ = server.await;
            });
        });
        let (addr, hub, handle) = rx
            .recv()
            .map_err(|_| std::io::Error::other("the server thread died while starting"))??;
        Ok(BackgroundServer {
            addr,
            registry: hub.registry().clone(),
            hub,
            handle,
            thread: Some(thread),
        })
    }

    /// The base URL, such as `http://127.0.0.1:4312`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
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
