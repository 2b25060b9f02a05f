//! The requester's side of the requests between nodes: the table of requests waiting for
//! the other nodes' answers, each with the number of nodes expected (`PUBSUB NUMSUB` of the
//! request channel, less this node) and a deadline (the adapter's timer). A request is
//! answered once every expected node answered, or at its deadline with what came: never
//! later, and never an error because a node died.

use std::collections::HashMap;

use futures::channel::oneshot;
use serde_json::{json, Value};

use super::request_wire::{Kind, Message};

/// What a request gathered.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Gathered {
    /// The items (rooms, sockets, emit answers or acks).
    pub items: Vec<Value>,
    /// Other nodes expected to answer.
    pub expected: usize,
    /// Other nodes that answered.
    pub answered: usize,
    /// For a broadcast with acks: the clients the other nodes sent it to.
    pub recipients: usize,
}

/// One request waiting for answers.
pub(crate) struct PendingRequest {
    kind: Kind,
    gathered: Gathered,
    /// Bytes of responses it may still take items from.
    budget: usize,
    reply: oneshot::Sender<Gathered>,
}

/// What became of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Taken {
    /// It is for no request of this node.
    NotOurs,
    /// Taken in.
    Yes,
    /// Counted, but its items left out: its request gathered its budget of bytes already.
    OverBudget,
}

impl PendingRequest {
    /// A request of `kind` expecting `expected` nodes to answer on `reply`, taking items
    /// from `budget` bytes of responses at most (a peer may send any number of acks, each
    /// as large as a message may be).
    pub(crate) fn new(
        kind: Kind,
        expected: usize,
        budget: usize,
        reply: oneshot::Sender<Gathered>,
    ) -> Self {
        PendingRequest {
            kind,
            gathered: Gathered {
                expected,
                ..Gathered::default()
            },
            budget,
            reply,
        }
    }

    /// Takes one response of `size` bytes in; the items it brings are at most `max_items`
    /// in all, and none once the budget is spent. Returns whether they fitted.
    fn take(&mut self, response: &Message, size: usize, max_items: usize) -> bool {
        let fits = size <= self.budget;
        if fits {
            self.budget -= size;
        }
        let g = &mut self.gathered;
        let room = match fits {
            true => max_items.saturating_sub(g.items.len()),
            false => 0,
        };
        let list = |key: &str| -> Vec<Value> {
            match response.body.get(key) {
                Some(Value::Array(items)) => items.iter().take(room).cloned().collect(),
                _ => Vec::new(),
            }
        };
        match self.kind {
            Kind::AllRooms => {
                g.answered += 1;
                g.items.extend(list("rooms"));
            }
            Kind::RemoteFetch | Kind::Sockets => {
                g.answered += 1;
                g.items.extend(list("sockets"));
            }
            Kind::ServerSideEmit => {
                g.answered += 1;
                if room > 0 {
                    g.items.push(response.value_with_base64("data"));
                }
            }
            Kind::Broadcast => match response.kind() {
                Some(Kind::BroadcastClientCount) => {
                    g.answered += 1;
                    let count = response.body.get("clientCount").and_then(Value::as_u64);
                    // A peer may claim anything: saturate rather than overflow (a panic in
                    // a debug build, a wrapped count in a release one).
                    let count = usize::try_from(count.unwrap_or(0)).unwrap_or(usize::MAX);
                    g.recipients = g.recipients.saturating_add(count);
                }
                Some(Kind::BroadcastAck) if room > 0 => g.items.push(ack_item(response)),
                _ => {}
            },
            _ => {}
        }
        fits
    }

    /// Whether every expected answer came.
    fn complete(&self) -> bool {
        let g = &self.gathered;
        match self.kind {
            Kind::Broadcast => g.answered >= g.expected && g.items.len() >= g.recipients,
            _ => g.answered >= g.expected,
        }
    }
}

/// One ack of a broadcast with acks: `{sid, data, args?}` as the HTTP emit answers it (`sid`
/// is null for a Node.js node, which sends only the first argument).
fn ack_item(response: &Message) -> Value {
    let data = response.value_with_base64("packet");
    let sid = response.str("sid");
    let mut item = json!({ "sid": sid, "data": data });
    if let Some(Value::Array(args)) = response.body.get("args") {
        if args.len() != 1 {
            item["args"] = response.value_with_base64("args");
        }
    }
    item
}

/// The requests waiting for answers, by request id.
#[derive(Default)]
pub(crate) struct Pending {
    requests: HashMap<String, PendingRequest>,
}

impl Pending {
    /// Requests waiting now.
    pub(crate) fn len(&self) -> usize {
        self.requests.len()
    }

    /// Whether `id` is one of this node's requests.
    pub(crate) fn contains(&self, id: &str) -> bool {
        self.requests.contains_key(id)
    }

    /// Waits for answers to request `id`.
    pub(crate) fn insert(&mut self, id: String, request: PendingRequest) {
        self.requests.insert(id, request);
    }

    /// Takes a response of `size` bytes in; answers its request once complete.
    pub(crate) fn on_response(
        &mut self,
        response: &Message,
        size: usize,
        max_items: usize,
    ) -> Taken {
        let Some(id) = response.request_id() else {
            return Taken::NotOurs;
        };
        let Some(request) = self.requests.get_mut(id) else {
            return Taken::NotOurs;
        };
        let fitted = request.take(response, size, max_items);
        if request.complete() {
            let id = id.to_owned();
            self.finish(&id);
        }
        match fitted {
            true => Taken::Yes,
            false => Taken::OverBudget,
        }
    }

    /// Answers request `id` with what it gathered (its deadline came, or it is complete).
    pub(crate) fn finish(&mut self, id: &str) {
        if let Some(request) = self.requests.remove(id) {
            let _ = request.reply.send(request.gathered);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(body: Value) -> Message {
        Message {
            body,
            attachments: Vec::new(),
        }
    }

    #[test]
    fn a_request_answers_once_every_node_did() {
        let mut pending = Pending::default();
        let (tx, mut rx) = oneshot::channel();
        pending.insert(
            "r1".into(),
            PendingRequest::new(Kind::AllRooms, 2, 1000, tx),
        );
        let a = response(json!({"requestId": "r1", "rooms": ["a"]}));
        assert_eq!(pending.on_response(&a, 10, 100), Taken::Yes);
        assert!(rx.try_recv().unwrap().is_none());
        let other = response(json!({"requestId": "other"}));
        assert_eq!(pending.on_response(&other, 10, 100), Taken::NotOurs);
        pending.on_response(
            &response(json!({"requestId": "r1", "rooms": ["b"]})),
            10,
            100,
        );
        let got = rx.try_recv().unwrap().unwrap();
        assert_eq!((got.items.len(), got.answered, got.expected), (2, 2, 2));
        assert_eq!(pending.len(), 0);
    }

    #[test]
    fn a_deadline_answers_with_what_came() {
        let mut pending = Pending::default();
        let (tx, mut rx) = oneshot::channel();
        pending.insert(
            "r".into(),
            PendingRequest::new(Kind::Broadcast, 1, 1000, tx),
        );
        pending.on_response(
            &response(json!({"requestId": "r", "type": 8, "clientCount": 2})),
            10,
            100,
        );
        pending.on_response(
            &response(json!({"requestId": "r", "type": 9, "packet": "x", "sid": "s"})),
            10,
            100,
        );
        assert!(rx.try_recv().unwrap().is_none());
        pending.finish("r");
        let got = rx.try_recv().unwrap().unwrap();
        assert_eq!(got.recipients, 2);
        assert_eq!(got.items, vec![json!({"sid": "s", "data": "x"})]);
    }

    #[test]
    fn a_peers_absurd_client_counts_saturate_instead_of_overflowing() {
        let mut pending = Pending::default();
        let (tx, mut rx) = oneshot::channel();
        pending.insert(
            "r".into(),
            PendingRequest::new(Kind::Broadcast, 3, 1000, tx),
        );
        for _ in 0..2 {
            let huge = json!({"requestId": "r", "type": 8, "clientCount": u64::MAX});
            pending.on_response(&response(huge), 10, 100);
        }
        pending.finish("r");
        assert_eq!(rx.try_recv().unwrap().unwrap().recipients, usize::MAX);
    }

    #[test]
    fn items_are_bounded() {
        let mut pending = Pending::default();
        let (tx, mut rx) = oneshot::channel();
        pending.insert("r".into(), PendingRequest::new(Kind::AllRooms, 1, 1000, tx));
        pending.on_response(
            &response(json!({"requestId": "r", "rooms": ["a", "b", "c"]})),
            10,
            2,
        );
        assert_eq!(rx.try_recv().unwrap().unwrap().items.len(), 2);
    }

    #[test]
    fn a_request_takes_items_from_its_budget_of_bytes_only() {
        let mut pending = Pending::default();
        let (tx, mut rx) = oneshot::channel();
        pending.insert("r".into(), PendingRequest::new(Kind::Broadcast, 1, 250, tx));
        let count = response(json!({"requestId": "r", "type": 8, "clientCount": 5}));
        assert_eq!(pending.on_response(&count, 50, 100), Taken::Yes);
        let ack = response(json!({"requestId": "r", "type": 9, "packet": "x", "sid": "s"}));
        let taken: Vec<Taken> = (0..4).map(|_| pending.on_response(&ack, 90, 100)).collect();
        assert_eq!(
            taken,
            [Taken::Yes, Taken::Yes, Taken::OverBudget, Taken::OverBudget]
        );
        pending.finish("r");
        assert_eq!(rx.try_recv().unwrap().unwrap().items.len(), 2);
    }
}
