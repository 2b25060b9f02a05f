//! Event subscriptions for consumers that do not speak Socket.IO (the HTTP API's
//! Server-Sent-Events stream): a subscriber of a namespace, optionally narrowed to rooms,
//! gets every event emitted there as one ready-made SSE chunk (`event:` / `data:`), encoded
//! once per broadcast and shared by every subscriber.
//!
//! Subscribers are kept apart from room members (in a short list per namespace the
//! Broadcaster holds), so the socket fan-out stays a loop over `Addr<Session>` with no per-recipient
//! allocation and costs nothing more when nobody subscribes. Each subscriber has a bounded
//! queue: one that reads too slowly is cut off and counted, as a slow socket is.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use futures::channel::mpsc;
use serde_json::Value;
use siohub_protocol::SocketPacket;

use crate::target::Target;

static NEXT_SUBSCRIBER_ID: AtomicU64 = AtomicU64::new(1);

/// The Broadcaster's side of a subscription: who wants what, and where it goes.
pub(crate) struct Subscriber {
    pub(crate) id: u64,
    rooms: HashSet<String>,
    /// The fields it gets of events whose data is one object (`None`: everything).
    pub(crate) fields: Option<crate::fields::FieldSet>,
    tx: mpsc::Sender<Bytes>,
    cut: Arc<AtomicBool>,
}

/// The consumer's side of a subscription.
#[derive(Debug)]
pub struct Subscription {
    /// Its id (to unsubscribe).
    pub id: u64,
    /// The namespace.
    pub nsp: String,
    /// The events, each a complete SSE chunk. Ends when the subscriber is cut off or
    /// unsubscribed.
    pub events: mpsc::Receiver<Bytes>,
    /// Set when the subscriber was cut off for reading too slowly.
    pub cut: Arc<AtomicBool>,
}

impl Subscription {
    /// Whether the stream ended because the consumer read too slowly.
    pub fn was_cut_off(&self) -> bool {
        self.cut.load(Ordering::Relaxed)
    }
}

/// What happened when an event was offered to a subscriber.
pub(crate) enum Offer {
    /// Queued, or not wanted.
    Kept,
    /// The consumer is gone.
    Gone,
    /// The queue was full: the subscriber is cut off.
    CutOff,
}

impl Subscriber {
    /// A subscriber to `rooms` (empty = everything in the namespace) with a queue of
    /// `capacity` events, and the consumer's side.
    pub(crate) fn new(
        nsp: &str,
        rooms: Vec<String>,
        fields: Option<crate::fields::FieldSet>,
        capacity: usize,
    ) -> (Self, Subscription) {
        // The channel holds `capacity` plus one slot per sender; with one sender that is
        // `capacity + 1`, so ask for one less.
        let (tx, events) = mpsc::channel(capacity.saturating_sub(1));
        let id = NEXT_SUBSCRIBER_ID.fetch_add(1, Ordering::Relaxed);
        let cut = Arc::new(AtomicBool::new(false));
        let subscriber = Subscriber {
            id,
            rooms: rooms.into_iter().collect(),
            fields,
            tx,
            cut: cut.clone(),
        };
        let subscription = Subscription {
            id,
            nsp: nsp.to_owned(),
            events,
            cut,
        };
        (subscriber, subscription)
    }

    /// Whether an event sent to `target` is for this subscriber: everything when it named no
    /// rooms; otherwise events that name one of its rooms (directly or as a user's room) and
    /// do not except one of them.
    pub(crate) fn wants(&self, target: &Target) -> bool {
        if self.rooms.is_empty() {
            return true;
        }
        if target.except_rooms.iter().any(|r| self.rooms.contains(r)) {
            return false;
        }
        target.rooms.iter().any(|r| self.rooms.contains(r))
            || target
                .users
                .iter()
                .any(|u| self.rooms.contains(&crate::policy::user_room(u)))
    }

    /// Queues one event.
    pub(crate) fn offer(&mut self, chunk: &Bytes) -> Offer {
        match self.tx.try_send(chunk.clone()) {
            Ok(()) => Offer::Kept,
            Err(e) if e.is_disconnected() => Offer::Gone,
            Err(_) => {
                self.cut.store(true, Ordering::Relaxed);
                Offer::CutOff
            }
        }
    }

    /// Whether the consumer went away.
    pub(crate) fn is_gone(&self) -> bool {
        self.tx.is_closed()
    }
}

/// The SSE chunk of an event packet: `event: <name>` and `data: <arguments as a JSON
/// array>` (binary attachments as base64 strings). `skip_last` leaves out the last argument
/// (the offset connection state recovery appends).
pub(crate) fn sse_chunk(packet: &SocketPacket, skip_last: bool) -> Bytes {
    let items: &[Value] = match &packet.data {
        Some(Value::Array(items)) => items,
        _ => &[],
    };
    let name = items.first().and_then(Value::as_str).unwrap_or_default();
    let mut args = items.get(1..).unwrap_or_default();
    if skip_last && !args.is_empty() {
        args = &args[..args.len() - 1];
    }
    let data = if packet.attachments.is_empty() {
        Value::Array(args.to_vec())
    } else {
        Value::Array(
            args.iter()
                .map(|v| with_base64(v, &packet.attachments))
                .collect(),
        )
    };
    let mut out = String::with_capacity(name.len() + 32);
    out.push_str("event: ");
    // A line break would end the field: an event name never carries one to the client.
    out.extend(
        name.chars()
            .map(|c| if c == '\n' || c == '\r' { ' ' } else { c }),
    );
    out.push_str("\ndata: ");
    out.push_str(&data.to_string());
    out.push_str("\n\n");
    Bytes::from(out)
}

/// `value` with every binary placeholder replaced by its attachment as a base64 string (for
/// JSON consumers: the HTTP API, SSE).
pub fn with_base64(value: &Value, attachments: &[Bytes]) -> Value {
    if let Some(Value::Bool(true)) = value.get("_placeholder") {
        let num = value.get("num").and_then(Value::as_u64);
        if let Some(data) = num.and_then(|n| attachments.get(n as usize)) {
            return Value::String(base64::engine::general_purpose::STANDARD.encode(data));
        }
    }
    match value {
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| with_base64(v, attachments)).collect())
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), with_base64(v, attachments)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use siohub_protocol::Payload;

    #[test]
    fn chunks_carry_the_name_and_the_arguments() {
        let packet = SocketPacket::event("/", "news", json!([{"a": 1}, 2]));
        assert_eq!(
            &sse_chunk(&packet, false)[..],
            b"event: news\ndata: [{\"a\":1},2]\n\n"
        );
        assert_eq!(
            &sse_chunk(&packet, true)[..],
            b"event: news\ndata: [{\"a\":1}]\n\n"
        );
        let odd = SocketPacket::event("/", "a\nb", json!([]));
        assert_eq!(&sse_chunk(&odd, false)[..], b"event: a b\ndata: []\n\n");
    }

    #[test]
    fn binary_becomes_base64() {
        let mut payload = Payload::default();
        let ph = payload.push_binary(vec![1u8, 2, 3]);
        payload.push_arg(json!({ "file": ph }));
        let packet = SocketPacket::event_with_payload("/", "up", payload);
        assert_eq!(
            &sse_chunk(&packet, false)[..],
            b"event: up\ndata: [{\"file\":\"AQID\"}]\n\n"
        );
    }

    #[test]
    fn room_filters() {
        let (sub, _s) = Subscriber::new("/", vec!["a".into(), "user:7".into()], None, 4);
        let to = |rooms: &[&str], users: &[&str], except: &[&str]| Target {
            nsp: "/".into(),
            rooms: rooms.iter().map(|s| s.to_string()).collect(),
            users: users.iter().map(|s| s.to_string()).collect(),
            except_rooms: except.iter().map(|s| s.to_string()).collect(),
            ..Target::default()
        };
        assert!(sub.wants(&to(&["a"], &[], &[])));
        assert!(sub.wants(&to(&[], &["7"], &[])));
        assert!(!sub.wants(&to(&["b"], &[], &[])));
        assert!(
            !sub.wants(&to(&[], &[], &[])),
            "namespace-wide is not a room"
        );
        assert!(!sub.wants(&to(&["a"], &[], &["a"])));
        let (all, _s) = Subscriber::new("/", vec![], None, 4);
        assert!(all.wants(&to(&[], &[], &[])));
    }

    #[test]
    fn a_full_queue_cuts_the_subscriber_off() {
        let (mut sub, s) = Subscriber::new("/", vec![], None, 2);
        let chunk = Bytes::from_static(b"x");
        assert!(matches!(sub.offer(&chunk), Offer::Kept));
        assert!(matches!(sub.offer(&chunk), Offer::Kept));
        assert!(matches!(sub.offer(&chunk), Offer::CutOff));
        assert!(s.was_cut_off());
        drop(s);
        assert!(sub.is_gone());
        assert!(matches!(sub.offer(&chunk), Offer::Gone));
    }
}
