//! Property tests: whatever the encoders write, the decoders read back unchanged.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use bytes::Bytes;
use proptest::prelude::*;
use serde_json::{Map, Number, Value};
use siohub_protocol::{
    decode_payload, encode_payload, placeholder, Decoded, EnginePacket, SocketDecoder,
    SocketPacket, SocketType, DEFAULT_MAX_ATTACHMENTS, RESERVED_EVENTS,
};

/// Text shaped like packets often enough that the decoders accept some: a type character
/// then packet-ish characters, or anything at all.
fn arbitrary_packet_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-6b][0-9/a-z,\\[\\]\"{}:=+-]{0,24}",
        "[0-6][-/a-z0-9]{0,6},?[0-9]{0,3}\\[\"[a-z]{0,4}\"(,[0-9]{1,3})?\\]",
    ]
}

// ---------------------------------------------------------------- JSON

/// Numbers that survive a trip through text exactly: integers of both signs and fractions
/// with a short decimal form (serde_json's default float parser is not always exact).
fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<i32>()
            .prop_map(|n| { Value::Number(Number::from_f64(f64::from(n) / 8.0).expect("finite")) }),
    ]
}

/// Object keys: never `_placeholder`, so generated data holds no accidental placeholder.
fn key() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 é]{0,8}"
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn json_object() -> impl Strategy<Value = Value> {
    prop::collection::btree_map(key(), json_value(), 0..6)
        .prop_map(|m| Value::Object(m.into_iter().collect()))
}

fn json_args() -> impl Strategy<Value = Vec<Value>> {
    prop::collection::vec(json_value(), 0..6)
}

// ---------------------------------------------------------------- Engine.IO

fn engine_packet(
    text: impl Strategy<Value = String> + Clone,
) -> impl Strategy<Value = EnginePacket> {
    prop_oneof![
        text.clone().prop_map(EnginePacket::Open),
        Just(EnginePacket::Close),
        text.clone().prop_map(EnginePacket::Ping),
        text.clone().prop_map(EnginePacket::Pong),
        text.prop_map(EnginePacket::Message),
        prop::collection::vec(any::<u8>(), 0..64).prop_map(|b| EnginePacket::Binary(b.into())),
        Just(EnginePacket::Upgrade),
        Just(EnginePacket::Noop),
    ]
}

/// Text without the record separator, which cannot travel inside a polling payload.
fn polling_text() -> impl Strategy<Value = String> + Clone {
    any::<String>().prop_map(|s| s.replace('\x1e', ""))
}

proptest! {
    #[test]
    fn engine_text_form(packet in engine_packet(any::<String>())) {
        match packet.encode_text() {
            Some(text) => prop_assert_eq!(EnginePacket::decode_text(&text), Ok(packet)),
            None => {
                let EnginePacket::Binary(data) = &packet else {
                    panic!("only binary has no text form: {packet:?}");
                };
                prop_assert_eq!(EnginePacket::decode_binary(data.clone()), packet.clone());
            }
        }
    }

    #[test]
    fn engine_polling_form(packet in engine_packet(any::<String>())) {
        let mut text = String::new();
        packet.encode_polling(&mut text);
        prop_assert_eq!(EnginePacket::decode_text(&text), Ok(packet));
    }

    #[test]
    fn polling_payload(packets in prop::collection::vec(engine_packet(polling_text()), 1..10)) {
        let body = encode_payload(&packets);
        prop_assert_eq!(decode_payload(body.as_bytes()), Ok(packets));
    }
}

// ---------------------------------------------------------------- Socket.IO

/// `/`, or a namespace starting with `/` and holding no comma.
fn namespace() -> impl Strategy<Value = String> {
    prop_oneof![Just("/".to_owned()), "/[^,]{0,12}"]
}

fn event_name() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<String>()
            .prop_filter("reserved", |s| !RESERVED_EVENTS.contains(&s.as_str()))
            .prop_map(Value::String),
        prop::sample::select(RESERVED_EVENTS.to_vec()).prop_map(|s| Value::String(format!("{s}!"))),
        number(),
    ]
}

fn event_data() -> impl Strategy<Value = Value> {
    (event_name(), json_args()).prop_map(|(name, mut args)| {
        args.insert(0, name);
        Value::Array(args)
    })
}

/// Puts a placeholder for each of `count` attachments somewhere in `args` (after index
/// `keep`), some bare, some inside an array or an object.
fn with_placeholders(
    mut args: Vec<Value>,
    keep: usize,
    count: usize,
    spots: &[(usize, u8)],
) -> Vec<Value> {
    for (num, &(spot, wrap)) in spots.iter().enumerate().take(count) {
        let at = keep + spot % (args.len() - keep + 1);
        let ph = placeholder(num);
        let value = match wrap % 3 {
            0 => ph,
            1 => Value::Array(vec![Value::Null, ph]),
            _ => {
                let mut m = Map::new();
                m.insert("file".into(), ph);
                Value::Object(m)
            }
        };
        args.insert(at, value);
    }
    args
}

fn attachments() -> impl Strategy<Value = (Vec<Bytes>, Vec<(usize, u8)>)> {
    (1..=DEFAULT_MAX_ATTACHMENTS).prop_flat_map(|n| {
        (
            prop::collection::vec(
                prop::collection::vec(any::<u8>(), 0..32).prop_map(Bytes::from),
                n,
            ),
            prop::collection::vec((any::<usize>(), any::<u8>()), n),
        )
    })
}

fn socket_packet() -> impl Strategy<Value = SocketPacket> {
    let kind_and_data = prop_oneof![
        prop::option::of(json_object()).prop_map(|d| (SocketType::Connect, d, Vec::new())),
        Just((SocketType::Disconnect, None, Vec::new())),
        event_data().prop_map(|d| (SocketType::Event, Some(d), Vec::new())),
        prop::option::of(json_args().prop_map(Value::Array)).prop_map(|d| (
            SocketType::Ack,
            d,
            Vec::new()
        )),
        prop_oneof![any::<String>().prop_map(Value::String), json_object()].prop_map(|d| (
            SocketType::ConnectError,
            Some(d),
            Vec::new()
        )),
        (event_data(), attachments()).prop_map(|(data, (buffers, spots))| {
            let Value::Array(args) = data else {
                unreachable!()
            };
            let args = with_placeholders(args, 1, buffers.len(), &spots);
            (SocketType::BinaryEvent, Some(Value::Array(args)), buffers)
        }),
        (prop::option::of(json_args()), attachments()).prop_map(|(args, (buffers, spots))| {
            let data = args.map(|a| Value::Array(with_placeholders(a, 0, buffers.len(), &spots)));
            (SocketType::BinaryAck, data, buffers)
        }),
    ];
    (namespace(), prop::option::of(any::<u64>()), kind_and_data).prop_map(
        |(nsp, id, (kind, data, attachments))| SocketPacket {
            kind,
            nsp,
            id,
            data,
            attachments,
        },
    )
}

/// Feeds a packet's frames to `decoder` and returns what came out at the end.
fn feed(decoder: &mut SocketDecoder, packet: &SocketPacket) -> Result<SocketPacket, TestCaseError> {
    let text = packet.encode_header_and_data();
    let mut decoded = decoder
        .feed_text(&text)
        .map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
    for (i, buffer) in packet.attachments.iter().enumerate() {
        prop_assert_eq!(
            &decoded,
            &Decoded::NeedAttachments(packet.attachments.len() - i)
        );
        decoded = decoder
            .feed_binary(buffer.clone())
            .map_err(|e| TestCaseError::fail(format!("{text:?} attachment {i}: {e}")))?;
    }
    match decoded {
        Decoded::Packet(p) => Ok(p),
        Decoded::NeedAttachments(n) => Err(TestCaseError::fail(format!("{text:?}: {n} more"))),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn socket_packet_round_trip(packet in socket_packet()) {
        let mut decoder = SocketDecoder::default();
        let back = feed(&mut decoder, &packet)?;
        prop_assert_eq!(back, packet);
        prop_assert!(!decoder.is_reconstructing());
    }

    #[test]
    fn one_decoder_reads_a_stream(packets in prop::collection::vec(socket_packet(), 1..6)) {
        let mut decoder = SocketDecoder::default();
        for packet in packets {
            let back = feed(&mut decoder, &packet)?;
            prop_assert_eq!(back, packet);
        }
    }

    #[test]
    fn socket_packets_over_polling(packets in prop::collection::vec(socket_packet(), 1..6)) {
        // Socket.IO packets inside Engine.IO messages inside one polling body. JSON escapes
        // the record separator, but a namespace may hold it raw: such a packet cannot travel
        // over polling (the reference client has the same limit).
        prop_assume!(packets.iter().all(|p| !p.nsp.contains('\x1e')));
        let mut frames = Vec::new();
        for packet in &packets {
            frames.push(EnginePacket::Message(packet.encode_header_and_data()));
            frames.extend(packet.attachments.iter().cloned().map(EnginePacket::Binary));
        }
        let body = encode_payload(&frames);
        let decoded_frames = decode_payload(body.as_bytes());
        prop_assert_eq!(decoded_frames.as_ref(), Ok(&frames));
        let mut decoder = SocketDecoder::default();
        let mut out = Vec::new();
        for frame in decoded_frames.unwrap() {
            let step = match frame {
                EnginePacket::Message(text) => decoder.feed_text(&text),
                EnginePacket::Binary(data) => decoder.feed_binary(data),
                other => panic!("unexpected frame {other:?}"),
            };
            if let Decoded::Packet(p) = step.map_err(|e| TestCaseError::fail(e.to_string()))? {
                out.push(p);
            }
        }
        prop_assert_eq!(out, packets);
    }

    #[test]
    fn arbitrary_text_decodes_to_what_it_says_or_is_refused(text in arbitrary_packet_text()) {
        // Engine.IO: a packet exactly when the type is known (and a `b` body is base64);
        // what it decodes to is written back as the same text (types without data drop
        // what follows the type).
        let is_type = text.starts_with(|c: char| ('0'..='6').contains(&c));
        let engine = EnginePacket::decode_text(&text);
        let base64_ok = text
            .strip_prefix('b')
            .is_some_and(|rest| STANDARD.decode(rest).is_ok());
        prop_assert_eq!(engine.is_ok(), is_type || base64_ok, "{:?}: {:?}", text, engine);
        if let Ok(packet) = &engine {
            let mut written = String::new();
            packet.encode_polling(&mut written);
            let data_less = matches!(
                packet,
                EnginePacket::Close | EnginePacket::Upgrade | EnginePacket::Noop
            );
            let expected = if data_less { &text[..1] } else { text.as_str() };
            prop_assert_eq!(written.as_str(), expected);
        }
        // A polling body: a payload exactly when each of its packets is one.
        let parts: Result<Vec<_>, _> = text.split('\x1e').map(EnginePacket::decode_text).collect();
        prop_assert_eq!(decode_payload(text.as_bytes()), parts);
        // Socket.IO: a text that is no Socket.IO type is refused; a packet decoded is
        // written back as text that decodes to the same packet; a binary header waits for
        // one to the bound of attachments.
        let decoded = SocketDecoder::default().feed_text(&text);
        if !text.starts_with(|c: char| ('0'..='6').contains(&c)) {
            prop_assert!(decoded.is_err(), "{:?}: {:?}", text, decoded);
        }
        match decoded {
            Ok(Decoded::Packet(packet)) => {
                let again = SocketDecoder::default().feed_text(&packet.encode_header_and_data());
                prop_assert_eq!(again.ok(), Some(Decoded::Packet(packet)));
            }
            Ok(Decoded::NeedAttachments(n)) => {
                prop_assert!((1..=DEFAULT_MAX_ATTACHMENTS).contains(&n), "{}", n);
            }
            Err(_) => {}
        }
    }
}
