//! The server's worker threads and their listening sockets.
//!
//! Every worker is an actix arbiter with a listening socket of its own, all bound to the
//! same address with `SO_REUSEPORT`: the kernel spreads new connections across them, and a
//! worker serves each connection it accepts on its own thread. There is no accept thread,
//! so a new connection costs no hand-off between threads (with a shared accept thread,
//! every connection woke a worker through an eventfd and cost a context switch).
//!
//! Every accepted connection gets `TCP_NODELAY`. The hub gathers what it has for a
//! connection into one write itself, so Nagle's algorithm has nothing left to merge; it
//! only holds back a small write while an earlier one is unacknowledged, which adds a
//! delayed-ACK round (up to 40 ms on Linux) to a delivery or an ack now and then. Node
//! (`ws`) and hyper/axum servers set it too.

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_rt::net::TcpStream;
use actix_rt::Arbiter;
use actix_service::{Service, ServiceFactory};
use futures::channel::oneshot;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::sync::watch;

/// How long a graceful stop waits for HTTP exchanges still in flight.
pub const GRACEFUL_WAIT: Duration = Duration::from_secs(1);

/// How long a worker pauses accepting after an accept error (such as running out of file
/// descriptors), so the error does not spin the thread.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// Binds `count` listening sockets to one address (`host`, `port`), with `backlog` pending
/// connections each. Port 0 picks a free port, shared by all of them.
///
/// A plain bind of the address comes first, so an address that another process (even
/// another siohub) listens on fails with "address in use" instead of being shared.
pub fn bind(host: &str, port: u16, count: usize, backlog: i32) -> io::Result<Vec<TcpListener>> {
    let mut last_error = None;
    let addrs = (host, port)
        .to_socket_addrs()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot resolve {host}: {e}")))?;
    for addr in addrs {
        match bind_group(addr, count.max(1), backlog) {
            Ok(listeners) => return Ok(listeners),
            Err(e) => {
                last_error = Some(io::Error::new(
                    e.kind(),
                    format!("cannot listen on {addr}: {e}"),
                ))
            }
        }
    }
    Err(last_error.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{host} resolves to no address"),
        )
    }))
}

/// Whether this system lets several sockets listen on one port (`SO_REUSEPORT`).
const REUSE_PORT: bool = cfg!(all(
    unix,
    not(any(target_os = "solaris", target_os = "illumos"))
));

fn bind_group(addr: SocketAddr, count: usize, backlog: i32) -> io::Result<Vec<TcpListener>> {
    // The probe holds the port (and picks it, for port 0) while the group binds.
    let probe = new_socket(addr, false)?;
    probe.bind(&addr.into())?;
    let addr = probe
        .local_addr()?
        .as_socket()
        .ok_or_else(|| io::Error::other("the listening socket has no IP address"))?;
    drop(probe);
    let listen = || -> io::Result<TcpListener> {
        let socket = new_socket(addr, REUSE_PORT)?;
        socket.bind(&addr.into())?;
        // Bursts of thousands of connections overflow the default backlog of 128; the
        // kernel then drops SYNs and clients retry a second later.
        socket.listen(backlog)?;
        socket.set_nonblocking(true)?;
        Ok(socket.into())
    };
    let first = listen()?;
    let mut group = Vec::with_capacity(count);
    for _ in 1..count {
        // Without SO_REUSEPORT the workers share one socket (each wakes for every
        // connection, and one wins the accept).
        group.push(if REUSE_PORT {
            listen()?
        } else {
            first.try_clone()?
        });
    }
    group.insert(0, first);
    Ok(group)
}

fn new_socket(addr: SocketAddr, reuse_port: bool) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    #[cfg(all(unix, not(any(target_os = "solaris", target_os = "illumos"))))]
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    #[cfg(not(all(unix, not(any(target_os = "solaris", target_os = "illumos")))))]
    let _ = reuse_port;
    Ok(socket)
}

/// Runs one worker per listener, each serving the connections it accepts with a service
/// made on its own thread by `factory`. Returns the running server.
pub fn start<F, SF>(listeners: Vec<TcpListener>, factory: F) -> io::Result<Server>
where
    F: Fn() -> SF + Send + Clone + 'static,
    SF: ServiceFactory<(TcpStream, SocketAddr), Config = ()> + 'static,
    SF::Service: 'static,
    SF::InitError: std::fmt::Debug,
{
    let (stop_tx, stop_rx) = watch::channel(None);
    let mut done = Vec::with_capacity(listeners.len());
    for (index, listener) in listeners.into_iter().enumerate() {
        let arbiter = Arbiter::try_new()?;
        let (done_tx, done_rx) = oneshot::channel();
        done.push(done_rx);
        let (factory, stop_rx) = (factory.clone(), stop_rx.clone());
        // The service is made and run on the worker's own thread: it is not `Send`.
        arbiter.spawn_fn(move || {
            actix_rt::spawn(async move {
                run_worker(index, listener, factory(), stop_rx).await;
                Arbiter::current().stop();
                let _ = done_tx.send(());
            });
        });
    }
    Ok(Server {
        handle: ServerHandle { stop: stop_tx },
        done: futures::future::join_all(done),
    })
}

/// Accepts and serves until told to stop, then (for a graceful stop) waits for the HTTP
/// exchanges in flight.
async fn run_worker<SF>(
    index: usize,
    listener: TcpListener,
    factory: SF,
    mut stop: watch::Receiver<Option<bool>>,
) where
    SF: ServiceFactory<(TcpStream, SocketAddr), Config = ()>,
    SF::Service: 'static,
    SF::InitError: std::fmt::Debug,
{
    let service = match factory.new_service(()).await {
        Ok(service) => Rc::new(service),
        Err(e) => {
            log::error!("worker {index}: the HTTP service did not start: {e:?}");
            return;
        }
    };
    let listener = match actix_rt::net::TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(e) => {
            log::error!("worker {index}: cannot listen: {e}");
            return;
        }
    };
    let in_flight = Rc::new(Cell::new(0usize));
    let graceful = loop {
        tokio::select! {
            biased;
            changed = stop.changed() => match (changed, *stop.borrow()) {
                (Ok(()), Some(graceful)) => break graceful,
                (Ok(()), None) => continue,
                // The server was dropped without a stop: stop at once.
                (Err(_), _) => break false,
            },
            accepted = listener.accept() => match accepted {
                Ok((io, peer)) => {
                    if let Err(e) = io.set_nodelay(true) {
                        log::debug!("worker {index}: TCP_NODELAY on {peer}: {e}");
                    }
                    let (service, in_flight) = (service.clone(), in_flight.clone());
                    in_flight.set(in_flight.get() + 1);
                    actix_rt::spawn(async move {
                        let _ = service.call((io, peer)).await;
                        in_flight.set(in_flight.get() - 1);
                    });
                }
                Err(e) => {
                    log::warn!("worker {index}: accept failed: {e}; pausing {ACCEPT_ERROR_PAUSE:?}");
                    actix_rt::time::sleep(ACCEPT_ERROR_PAUSE).await;
                }
            },
        }
    };
    drop(listener);
    if graceful {
        let deadline = actix_rt::time::Instant::now() + GRACEFUL_WAIT;
        while in_flight.get() > 0 && actix_rt::time::Instant::now() < deadline {
            actix_rt::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// A running server: resolves once every worker has stopped.
pub struct Server {
    handle: ServerHandle,
    done: futures::future::JoinAll<oneshot::Receiver<()>>,
}

impl Server {
    /// A handle that stops the server.
    pub fn handle(&self) -> ServerHandle {
        self.handle.clone()
    }
}

impl Future for Server {
    type Output = io::Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.done).poll(cx).map(|_| Ok(()))
    }
}

/// Stops a [`Server`]; cheap to clone, usable from any thread.
#[derive(Clone)]
pub struct ServerHandle {
    stop: watch::Sender<Option<bool>>,
}

impl ServerHandle {
    /// Stops accepting and stops every worker: at once, or (`graceful`) after the HTTP
    /// exchanges in flight have finished, waiting at most [`GRACEFUL_WAIT`]. Connections
    /// still open then are closed. Resolves once the stop is sent; await the [`Server`] to
    /// know the workers are gone.
    pub async fn stop(&self, graceful: bool) {
        self.stop.send_if_modified(|state| {
            // A second call can only make a graceful stop immediate.
            let next = Some(state.map_or(graceful, |g| g && graceful));
            let changed = *state != next;
            *state = next;
            changed
        });
    }
}

/// The local address of the first listener.
pub fn local_addr(listeners: &[TcpListener]) -> io::Result<SocketAddr> {
    listeners
        .first()
        .ok_or_else(|| io::Error::other("no listener"))?
        .local_addr()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_rt::test]
    async fn accepted_connections_have_nodelay() {
        let listeners = bind("127.0.0.1", 0, 2, 16).unwrap();
        let addr = local_addr(&listeners).unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let server = start(listeners, move || {
            let tx = tx.clone();
            actix_service::fn_service(move |(io, _peer): (TcpStream, SocketAddr)| {
                let tx = tx.clone();
                async move {
                    let _ = tx.send(io.nodelay().map_err(|e| e.to_string()));
                    Ok::<_, ()>(())
                }
            })
        })
        .unwrap();
        let handle = server.handle();
        // Several connections, so both workers' listeners are likely to accept some.
        let clients: Vec<_> = (0..4)
            .map(|_| std::net::TcpStream::connect(addr).unwrap())
            .collect();
        for _ in 0..clients.len() {
            let nodelay = tokio::time::timeout(Duration::from_secs(30), rx.recv())
                .await
                .expect("a worker accepted the connection")
                .expect("the service reports");
            assert_eq!(nodelay, Ok(true));
        }
        handle.stop(false).await;
        server.await.unwrap();
    }
}
