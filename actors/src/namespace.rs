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

use crate::socket::{AckSender, ConnectRequest, DisconnectReason, Socket};

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

/// A namespace name or a pattern such as `/tenant-{id}`, where `{name}` matches one or more
/// characters other than `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespacePattern {
    parts: Vec<PatternPart>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PatternPart {
    Literal(String),
    Param(String),
}

impl NamespacePattern {
    /// Parses a name; `{` … `}` marks a parameter.
    pub fn parse(pattern: &str) -> Self {
        let mut parts = Vec::new();
        let mut rest = pattern;
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}').map(|c| c + open) else {
                break;
            };
            if open > 0 {
                parts.push(PatternPart::Literal(rest[..open].to_owned()));
            }
            parts.push(PatternPart::Param(rest[open + 1..close].to_owned()));
            rest = &rest[close + 1..];
        }
        if !rest.is_empty() {
            parts.push(PatternPart::Literal(rest.to_owned()));
        }
        NamespacePattern { parts }
    }

    /// Whether the pattern has no parameter.
    pub fn is_static(&self) -> bool {
        self.parts
            .iter()
            .all(|p| matches!(p, PatternPart::Literal(_)))
    }

    /// The parameters a name binds, or `None` when it does not match.
    pub fn matches(&self, name: &str) -> Option<Vec<(String, String)>> {
        let mut params = Vec::new();
        match_parts(&self.parts, name, &mut params).then_some(params)
    }
}

fn match_parts(parts: &[PatternPart], name: &str, params: &mut Vec<(String, String)>) -> bool {
    match parts.split_first() {
        None => name.is_empty(),
        Some((PatternPart::Literal(lit), rest)) => name
            .strip_prefix(lit.as_str())
            .is_some_and(|tail| match_parts(rest, tail, params)),
        Some((PatternPart::Param(key), rest)) => {
            let segment_end = name.find('/').unwrap_or(name.len());
            // Try the longest capture first, then shorter ones, so `{a}-{b}` works.
            for end in (1..=segment_end).rev() {
                if !name.is_char_boundary(end) {
                    continue;
                }
                params.push((key.clone(), name[..end].to_owned()));
                if match_parts(rest, &name[end..], params) {
                    return true;
                }
                params.pop();
            }
            false
        }
    }
}

/// One namespace (or namespace pattern) with its middleware and handlers.
pub struct Namespace {
    name: String,
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
            name: name.to_owned(),
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

    /// The namespace serving `name`, if any.
    pub fn resolve(&self, name: &str) -> Option<Arc<Namespace>> {
        if let Some(ns) = self.exact.get(name) {
            return Some(ns.clone());
        }
        self.patterns
            .iter()
            .find(|ns| ns.pattern.matches(name).is_some())
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_patterns_match_only_themselves() {
        let p = NamespacePattern::parse("/chat");
        assert!(p.is_static());
        assert_eq!(p.matches("/chat"), Some(vec![]));
        assert_eq!(p.matches("/chat2"), None);
        assert_eq!(p.matches("/"), None);
    }

    #[test]
    fn params_capture_one_segment() {
        let p = NamespacePattern::parse("/tenant-{id}");
        assert!(!p.is_static());
        assert_eq!(
            p.matches("/tenant-42"),
            Some(vec![("id".to_owned(), "42".to_owned())])
        );
        assert_eq!(p.matches("/tenant-"), None);
        assert_eq!(p.matches("/tenant-4/2"), None);
        assert_eq!(p.matches("/other-42"), None);
    }

    #[test]
    fn several_params_and_trailing_literals() {
        let p = NamespacePattern::parse("/{org}/room-{n}/x");
        assert_eq!(
            p.matches("/acme/room-7/x"),
            Some(vec![
                ("org".to_owned(), "acme".to_owned()),
                ("n".to_owned(), "7".to_owned())
            ])
        );
        assert_eq!(p.matches("/acme/room-7/y"), None);
        let q = NamespacePattern::parse("/{a}-{b}");
        assert_eq!(
            q.matches("/x-y-z"),
            Some(vec![
                ("a".to_owned(), "x-y".to_owned()),
                ("b".to_owned(), "z".to_owned())
            ])
        );
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
