//! Namespaces and their handlers: the small Rust API that server code (and the hub's own
//! built-in behaviour) is written on.
//!
//! ```
//! use siohub_actors::{Namespaces, Payload};
//! use serde_json::json;
//!
//! let namespaces = Namespaces::new()
//!     .add("/", |ns| {
//!         ns.on_connect(|socket, auth| socket.emit("welcome", json!([auth])))
//!             .on("echo", |socket, payload, ack| {
//!                 match ack {
//!                     Some(ack) => ack.send(payload),
//!                     None => socket.emit_payload("echo-back", payload),
//!                 }
//!             })
//!     })
//!     .add("/tenant-{id}", |ns| ns.on("hello", |_socket, _payload, _ack| {}));
//! assert!(namespaces.resolve("/tenant-42").is_some());
//! assert!(namespaces.resolve("/other").is_none());
//! ```

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use futures::future::LocalBoxFuture;
use futures::FutureExt;
use serde_json::Value;
use siohub_protocol::Payload;

use crate::disconnect_reason::DisconnectReason;
use crate::namespace_pattern::NamespacePattern;
use crate::socket::{AckSender, ConnectRequest, Socket};

/// Runs when a socket has joined the namespace; gets the socket and the CONNECT auth.
pub type ConnectHandler = Arc<dyn Fn(&Socket, &Value) + Send + Sync>;
/// Runs for one event; gets the socket, the arguments and, if the client asked, the ack.
pub type EventHandler = Arc<dyn Fn(&Socket, Payload, Option<AckSender>) + Send + Sync>;
/// Runs for events no [`EventHandler`] is registered for; gets the event name too.
pub type AnyHandler = Arc<dyn Fn(&Socket, &str, Payload, Option<AckSender>) + Send + Sync>;
/// Runs once when the socket leaves the namespace, with the reason.
pub type DisconnectHandler = Arc<dyn Fn(&Socket, DisconnectReason) + Send + Sync>;
/// Decides whether a CONNECT is accepted; an `Err` becomes a CONNECT_ERROR.
pub type Middleware = Arc<
    dyn Fn(ConnectRequest) -> LocalBoxFuture<'static, Result<(), ConnectRefusal>> + Send + Sync,
>;

/// Why a middleware refused a connection: sent to the client as
/// `4<nsp>,{"message":..,"data":..}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectRefusal {
    /// The `message` of the CONNECT_ERROR.
    pub message: String,
    /// The optional `data` of the CONNECT_ERROR.
    pub data: Option<Value>,
}

impl ConnectRefusal {
    /// A refusal with a message and no data.
    pub fn new(message: impl Into<String>) -> Self {
        ConnectRefusal {
            message: message.into(),
            data: None,
        }
    }

    /// Adds the `data` member.
    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }
}

/// One namespace (or namespace pattern) with its middleware and handlers.
pub struct Namespace {
    /// Shared with the sockets connected to it by this very name.
    name: Arc<str>,
    pattern: NamespacePattern,
    pub(crate) middleware: Vec<Middleware>,
    pub(crate) on_connect: Option<ConnectHandler>,
    pub(crate) on_disconnect: Option<DisconnectHandler>,
    pub(crate) events: HashMap<String, EventHandler>,
    pub(crate) on_any: Option<AnyHandler>,
}

impl std::fmt::Debug for Namespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Namespace")
            .field("name", &self.name)
            .field("events", &self.events.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Namespace {
    fn new(name: &str) -> Self {
        Namespace {
            name: name.into(),
            pattern: NamespacePattern::parse(name),
            middleware: Vec::new(),
            on_connect: None,
            on_disconnect: None,
            events: HashMap::new(),
            on_any: None,
        }
    }

    /// The name or pattern this namespace was registered under.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The name, shared: a socket of this namespace keeps it instead of a copy.
    pub(crate) fn shared_name(&self) -> Arc<str> {
        self.name.clone()
    }

    /// Adds a connect middleware; they run in the order added and the first refusal wins.
    pub fn middleware<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(ConnectRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), ConnectRefusal>> + 'static,
    {
        self.middleware
            .push(Arc::new(move |req| f(req).boxed_local()));
        self
    }

    /// Sets the handler run when a socket has joined.
    pub fn on_connect(mut self, f: impl Fn(&Socket, &Value) + Send + Sync + 'static) -> Self {
        self.on_connect = Some(Arc::new(f));
        self
    }

    /// Sets the handler for one event name.
    pub fn on(
        mut self,
        event: &str,
        f: impl Fn(&Socket, Payload, Option<AckSender>) + Send + Sync + 'static,
    ) -> Self {
        self.events.insert(event.to_owned(), Arc::new(f));
        self
    }

    /// Sets the handler for events that have no handler of their own.
    pub fn on_any(
        mut self,
        f: impl Fn(&Socket, &str, Payload, Option<AckSender>) + Send + Sync + 'static,
    ) -> Self {
        self.on_any = Some(Arc::new(f));
        self
    }

    /// Sets the handler run when a socket leaves, for whatever reason.
    pub fn on_disconnect(
        mut self,
        f: impl Fn(&Socket, DisconnectReason) + Send + Sync + 'static,
    ) -> Self {
        self.on_disconnect = Some(Arc::new(f));
        self
    }
}

/// Every namespace a server accepts: exact names first, then patterns in the order added.
#[derive(Debug, Default)]
pub struct Namespaces {
    exact: HashMap<String, Arc<Namespace>>,
    patterns: Vec<Arc<Namespace>>,
    extensions: Extensions,
}

/// Values the application's handlers share with the server around them (such as a store
/// the HTTP API reads too), at most one per type.
#[derive(Default)]
struct Extensions(Vec<Arc<dyn std::any::Any + Send + Sync>>);

impl std::fmt::Debug for Extensions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Extensions({})", self.0.len())
    }
}

impl Namespaces {
    /// No namespace at all: every CONNECT gets "Invalid namespace".
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a namespace (or a pattern such as `/tenant-{id}`) set up by `build`.
    pub fn add(mut self, name: &str, build: impl FnOnce(Namespace) -> Namespace) -> Self {
        let ns = Arc::new(build(Namespace::new(name)));
        if ns.pattern.is_static() {
            self.exact.insert(name.to_owned(), ns);
        } else {
            self.patterns.push(ns);
        }
        self
    }

    /// Hangs `value` on the namespaces (replacing one of the same type), for the server
    /// around them to find with [`Namespaces::extension`].
    pub fn with_extension<T: std::any::Any + Send + Sync>(mut self, value: T) -> Self {
        self.extensions.0.retain(|e| !e.is::<T>());
        self.extensions.0.push(Arc::new(value));
        self
    }

    /// The value of type `T` hung on the namespaces, if any.
    pub fn extension<T: std::any::Any + Send + Sync>(&self) -> Option<&T> {
        self.extensions.0.iter().find_map(|e| e.downcast_ref::<T>())
    }

    /// The namespace serving `name`, if any.
    pub fn resolve(&self, name: &str) -> Option<Arc<Namespace>> {
        if let Some(ns) = self.exact.get(name) {
            return Some(ns.clone());
        }
        self.patterns
            .iter()
            .find(|ns| ns.pattern.is_match(name))
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_are_found_by_type() {
        let nsps = Namespaces::new()
            .with_extension(7u32)
            .with_extension(String::from("a"))
            .with_extension(8u32);
        assert_eq!(nsps.extension::<u32>(), Some(&8));
        assert_eq!(nsps.extension::<String>().map(String::as_str), Some("a"));
        assert_eq!(nsps.extension::<u64>(), None);
    }

    #[test]
    fn exact_names_win_over_patterns() {
        let nsps = Namespaces::new()
            .add("/t-{id}", |ns| ns.on("a", |_, _, _| {}))
            .add("/t-admin", |ns| ns.on("b", |_, _, _| {}));
        assert!(nsps.resolve("/t-admin").unwrap().events.contains_key("b"));
        assert!(nsps.resolve("/t-1").unwrap().events.contains_key("a"));
        assert!(nsps.resolve("/u").is_none());
    }
}
