//! Field filters: a socket that joined a room with `fields` gets, of every event sent to
//! that room whose data is one JSON object (no binary attachment), only those top-level
//! fields; any other event reaches it unchanged.
//!
//! A [`FieldSet`] is a sorted list of distinct names, shared (`Arc`) by every member that
//! asked for the same set, so the fan-out can group recipients by set and encode each
//! event once per distinct set. What a socket reached through several paths gets is the
//! union of what each path gives it: a room it joined with fields gives those fields; an
//! unfiltered room, its user room, its socket id or the whole namespace give everything
//! (see [`Reach`]).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Map, Value};
use siohub_protocol::{Decoded, Parser, SocketDecoder, SocketPacket, SocketType};

use crate::wire_frame::{socket_packet_frames, Frames};

/// The most names one field set may hold.
pub const MAX_FIELD_NAMES: usize = 64;

/// The longest field name, in bytes.
pub const MAX_FIELD_NAME_BYTES: usize = 128;

/// A set of top-level field names: sorted, distinct, cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldSet(Arc<[Box<str>]>);

/// Why a list of names is no field set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadFields {
    /// More names than [`MAX_FIELD_NAMES`].
    #[error("a field set names at most {max} fields")]
    TooMany {
        /// The bound.
        max: usize,
    },
    /// An empty name, or one longer than [`MAX_FIELD_NAME_BYTES`].
    #[error("a field name is 1 to {max} bytes")]
    BadName {
        /// The bound.
        max: usize,
    },
}

/// Why a room's field set was not changed (or a filtered join refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FieldsError {
    /// The socket is not connected (any more).
    #[error("the socket is not connected")]
    NotConnected,
    /// The socket is not in the room.
    #[error("the socket is not in the room; join it first")]
    NotInRoom,
    /// The room holds as many distinct field sets as the namespace allows.
    #[error(
        "the room has {max} distinct field sets, the most max_field_sets_per_room allows; \
         use one of them or none"
    )]
    TooManyFieldSets {
        /// The bound.
        max: usize,
    },
}

/// A change of a socket's field set in one room: `fields` (`None`: everything), within
/// `max` distinct sets in the room (the namespace's `max_field_sets_per_room`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldsUpdate {
    /// The new set.
    pub fields: Option<FieldSet>,
    /// The bound on distinct sets in the room.
    pub max: usize,
}

impl FieldSet {
    /// A set of `names` (duplicates dropped), checked against the bounds.
    pub fn new<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> Result<Self, BadFields> {
        let mut set = BTreeSet::new();
        for name in names {
            let name = name.as_ref();
            if name.is_empty() || name.len() > MAX_FIELD_NAME_BYTES {
                return Err(BadFields::BadName {
                    max: MAX_FIELD_NAME_BYTES,
                });
            }
            set.insert(Box::<str>::from(name));
            if set.len() > MAX_FIELD_NAMES {
                return Err(BadFields::TooMany {
                    max: MAX_FIELD_NAMES,
                });
            }
        }
        Ok(FieldSet(set.into_iter().collect()))
    }

    /// The names, sorted.
    pub fn names(&self) -> &[Box<str>] {
        &self.0
    }

    /// Whether `name` is in the set.
    pub fn contains(&self, name: &str) -> bool {
        self.0.binary_search_by(|n| (**n).cmp(name)).is_ok()
    }

    /// Whether two handles share one allocation (the same interned set).
    pub fn same(&self, other: &FieldSet) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// The address of the shared names: equal for handles of one interned set (what
    /// [`Unions`] keys its cache on).
    fn address(&self) -> usize {
        Arc::as_ptr(&self.0) as *const Box<str> as usize
    }

    /// The names of both sets.
    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let names: BTreeSet<&Box<str>> = self.0.iter().chain(other.0.iter()).collect();
        FieldSet(names.into_iter().cloned().collect())
    }

    /// The names as JSON strings (what an ack echoes).
    pub fn to_json(&self) -> Value {
        Value::Array(
            self.0
                .iter()
                .map(|n| Value::String(n.to_string()))
                .collect(),
        )
    }

    /// Bytes the set takes, roughly (for accounting).
    pub fn bytes(&self) -> usize {
        self.0.iter().map(|n| n.len() + 16).sum::<usize>() + 16
    }
}

/// What one socket gets of an event, from every path by which the event reaches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// The whole event (some path gives everything).
    Everything,
    /// Only these fields (every path so far is a filtered room).
    Fields(FieldSet),
}

impl Reach {
    /// Adds one more path: `None` gives everything, a set gives its fields.
    pub fn add(&mut self, path: Option<&FieldSet>) {
        *self = match (&*self, path) {
            (Reach::Everything, _) | (_, None) => Reach::Everything,
            (Reach::Fields(have), Some(more)) if have == more => return,
            (Reach::Fields(have), Some(more)) => Reach::Fields(have.union(more)),
        };
    }

    /// Like [`Reach::add`], taking a union of two sets from `unions` when it was made
    /// before (a fan-out reaching many sockets through the same two filtered rooms makes
    /// each union once, not once per socket).
    pub fn add_with(&mut self, path: Option<&FieldSet>, unions: &mut Unions) {
        *self = match (&*self, path) {
            (Reach::Everything, _) | (_, None) => Reach::Everything,
            (Reach::Fields(have), Some(more)) if have.same(more) || have == more => return,
            (Reach::Fields(have), Some(more)) => Reach::Fields(unions.union(have, more)),
        };
    }

    /// The reach of a first path.
    pub fn of(path: Option<&FieldSet>) -> Reach {
        match path {
            Some(set) => Reach::Fields(set.clone()),
            None => Reach::Everything,
        }
    }

    /// The field set, when the reach is filtered.
    pub fn fields(&self) -> Option<&FieldSet> {
        match self {
            Reach::Everything => None,
            Reach::Fields(set) => Some(set),
        }
    }
}

/// The unions of field sets made during one resolution, by the addresses of the two sets
/// (interned per room, so many sockets share each pair). Holds its results, so their
/// addresses stay valid keys while it lives.
#[derive(Default)]
pub struct Unions {
    made: HashMap<(usize, usize), FieldSet>,
}

impl Unions {
    /// The union of `a` and `b`, made once per pair of sets.
    pub fn union(&mut self, a: &FieldSet, b: &FieldSet) -> FieldSet {
        let (x, y) = (a.address(), b.address());
        let key = (x.min(y), x.max(y));
        if let Some(set) = self.made.get(&key) {
            return set.clone();
        }
        // A set holding the other is their union already (and keeps its identity).
        let set = if b.names().iter().all(|n| a.contains(n)) {
            a.clone()
        } else if a.names().iter().all(|n| b.contains(n)) {
            b.clone()
        } else {
            a.union(b)
        };
        self.made.insert(key, set.clone());
        set
    }
}

/// The packet as a socket with `fields` gets it, or `None` when it gets it unchanged: an
/// EVENT (not binary; with or without an ack id) whose data is one JSON object (followed, when
/// `skip_last`, by the recovery offset) loses every other top-level field.
pub fn filter_packet(
    packet: &SocketPacket,
    fields: &FieldSet,
    skip_last: bool,
) -> Option<SocketPacket> {
    if packet.kind != SocketType::Event || !packet.attachments.is_empty() {
        return None;
    }
    let Some(Value::Array(items)) = &packet.data else {
        return None;
    };
    // [event, data] or [event, data, offset].
    let expected = 2 + usize::from(skip_last);
    if items.len() != expected {
        return None;
    }
    let Value::Object(data) = &items[1] else {
        return None;
    };
    let kept: Map<String, Value> = data
        .iter()
        .filter(|(k, _)| fields.contains(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut filtered = Vec::with_capacity(items.len());
    filtered.push(items[0].clone());
    filtered.push(Value::Object(kept));
    filtered.extend(items[2..].iter().cloned());
    Some(SocketPacket {
        data: Some(Value::Array(filtered)),
        ..packet.clone()
    })
}

/// The frames a socket with `fields` gets of `packet`: `full` (its frames unfiltered)
/// unless the set filters it (see [`filter_packet`]).
pub fn frames_for(
    packet: &SocketPacket,
    fields: Option<&FieldSet>,
    skip_last: bool,
    parser: Parser,
    full: &Frames,
) -> Frames {
    match fields.and_then(|f| filter_packet(packet, f, skip_last)) {
        Some(filtered) => socket_packet_frames(&filtered, parser).into(),
        None => full.clone(),
    }
}

/// Frames kept earlier (a room buffer, the recovery log) filtered for `fields`: decoded,
/// filtered and encoded again (once per replayed event and socket: replays are rare next
/// to live events). `recovering`: the namespace appends recovery offsets, so data
/// followed by one string is an object and its offset. Frames that do not decode as one
/// plain event go unchanged.
pub fn filter_frames(
    frames: &Frames,
    fields: &FieldSet,
    parser: Parser,
    recovering: bool,
) -> Frames {
    let Some(packet) = decode_frames(frames, parser) else {
        return frames.clone();
    };
    let skip_last = recovering
        && matches!(&packet.data, Some(Value::Array(items)) if items.len() == 3 && items[2].is_string());
    frames_for(&packet, Some(fields), skip_last, parser, frames)
}

/// The one plain event some frames carry, if they carry one.
fn decode_frames(frames: &Frames, parser: Parser) -> Option<SocketPacket> {
    let [frame] = &**frames else {
        return None;
    };
    let packet = match parser {
        Parser::Json => {
            if frame.is_binary() {
                return None;
            }
            let text = std::str::from_utf8(frame.payload()).ok()?;
            let body = text.strip_prefix('4')?;
            match SocketDecoder::new(0).feed_text(body).ok()? {
                Decoded::Packet(packet) => packet,
                Decoded::NeedAttachments(_) => return None,
            }
        }
        Parser::Msgpack => {
            let message = Bytes::copy_from_slice(frame.payload());
            siohub_protocol::decode_msgpack_packet(&message, 0).ok()?
        }
    };
    (packet.kind == SocketType::Event).then_some(packet)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn set(names: &[&str]) -> FieldSet {
        FieldSet::new(names.iter().copied()).unwrap()
    }

    #[test]
    fn sets_are_sorted_distinct_and_bounded() {
        assert_eq!(set(&["b", "a", "b"]).names().len(), 2);
        assert!(set(&["b", "a"]).contains("a"));
        assert_eq!(set(&["b", "a"]), set(&["a", "b"]));
        let many: Vec<String> = (0..=MAX_FIELD_NAMES).map(|i| format!("f{i}")).collect();
        assert_eq!(
            FieldSet::new(&many).unwrap_err(),
            BadFields::TooMany {
                max: MAX_FIELD_NAMES
            }
        );
        assert!(FieldSet::new([""]).is_err());
        assert!(FieldSet::new(["x".repeat(MAX_FIELD_NAME_BYTES + 1)]).is_err());
        assert!(FieldSet::new(Vec::<String>::new())
            .unwrap()
            .names()
            .is_empty());
    }

    #[test]
    fn reach_is_the_union_of_its_paths() {
        let mut reach = Reach::of(Some(&set(&["a"])));
        reach.add(Some(&set(&["b"])));
        assert_eq!(reach, Reach::Fields(set(&["a", "b"])));
        reach.add(None);
        assert_eq!(reach, Reach::Everything);
        reach.add(Some(&set(&["c"])));
        assert_eq!(reach, Reach::Everything);
    }

    #[test]
    fn a_union_of_two_interned_sets_is_made_once() {
        let (price, volume) = (set(&["price"]), set(&["volume"]));
        let mut unions = Unions::default();
        // Two sockets reached through the same two rooms, in either order.
        let mut first = Reach::of(Some(&price));
        first.add_with(Some(&volume), &mut unions);
        let mut second = Reach::of(Some(&volume));
        second.add_with(Some(&price.clone()), &mut unions);
        let (Reach::Fields(a), Reach::Fields(b)) = (&first, &second) else {
            panic!("both filtered: {first:?} {second:?}");
        };
        assert_eq!(*a, set(&["price", "volume"]));
        assert!(a.same(b), "one union shared by both sockets");
        // A set the reach holds already, even another allocation of it, changes nothing.
        second.add_with(Some(&set(&["price"])), &mut unions);
        assert!(matches!(&second, Reach::Fields(s) if s.same(a)));
        second.add_with(None, &mut unions);
        assert_eq!(second, Reach::Everything);
    }

    #[test]
    fn only_one_object_is_filtered() {
        let fields = set(&["price"]);
        let packet = SocketPacket::event("/", "tick", json!([{"price": 1, "volume": 2}]));
        let out = filter_packet(&packet, &fields, false).unwrap();
        assert_eq!(out.data, Some(json!(["tick", {"price": 1}])));
        let with_offset =
            SocketPacket::event("/", "tick", json!([{"price": 1, "volume": 2}, "off"]));
        let out = filter_packet(&with_offset, &fields, true).unwrap();
        assert_eq!(out.data, Some(json!(["tick", {"price": 1}, "off"])));
        for other in [
            json!([1]),
            json!([{"price": 1}, 2]),
            json!(["s"]),
            json!([]),
        ] {
            let packet = SocketPacket::event("/", "e", other);
            assert!(filter_packet(&packet, &fields, false).is_none());
        }
    }

    #[test]
    fn kept_frames_are_filtered_in_either_parser() {
        let fields = set(&["a"]);
        for parser in [Parser::Json, Parser::Msgpack] {
            let packet = SocketPacket::event("/n", "e", json!([{"a": 1, "b": 2}, "7"]));
            let frames: Frames = socket_packet_frames(&packet, parser).into();
            let out = filter_frames(&frames, &fields, parser, true);
            let decoded = decode_frames(&out, parser).unwrap();
            assert_eq!(decoded.data, Some(json!(["e", {"a": 1}, "7"])));
            assert_eq!(decoded.nsp, "/n");
            // Without recovery, two arguments are no single object.
            let same = filter_frames(&frames, &fields, parser, false);
            assert_eq!(same, frames);
        }
    }
}
