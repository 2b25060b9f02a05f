//! The msgpack format against bytes written by notepack.io (socket.io-msgpack-parser 3.0.2's
//! encoder), every refusal, and encode∘decode = id.

use bytes::Bytes;
use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;
use crate::Payload;

fn hex(s: &str) -> Bytes {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect::<Vec<u8>>()
        .into()
}

fn decode(bytes: &[u8]) -> Result<SocketPacket, ProtocolError> {
    decode_msgpack_packet(&Bytes::copy_from_slice(bytes), 10)
}

#[test]
fn reads_what_notepack_writes() {
    // {type:2, data:["hello",1,-5,1.5,null,true,{a:"b"}], nsp:"/chat", id:7}
    let bytes = hex("84a47479706502a46461746197a568656c6c6f01fbcb3ff8000000000000c0c381a161a162a36e7370a52f63686174a2696407");
    let packet = decode_msgpack_packet(&bytes, 10).unwrap();
    let expected = SocketPacket::event(
        "/chat",
        "hello",
        json!([1, -5, 1.5, null, true, {"a": "b"}]),
    )
    .with_id(7);
    assert_eq!(packet, expected);
    // {type:2, data:["d",undefined,300,-300,70000,2**40]}: no nsp, so refused as notepack's
    // decoder's caller does; with one it reads.
    let no_nsp =
        hex("82a47479706502a46461746196a164d40000cd012cd1fed4ce00011170cf0000010000000000");
    assert!(matches!(
        decode_msgpack_packet(&no_nsp, 10),
        Err(ProtocolError::InvalidMsgpack(_))
    ));
}

#[test]
fn undefined_properties_are_absent() {
    // socket.io-client's CONNECT without auth: {type: 0, data: undefined, nsp: "/"}.
    let bytes = hex("83a47479706500a464617461d40000a36e7370a12f");
    let packet = decode_msgpack_packet(&bytes, 10).unwrap();
    assert_eq!(packet, SocketPacket::connect("/", None));
}

#[test]
fn writes_the_packet_map_in_notepacks_encodings() {
    // {type:0, nsp:"/", data:{sid:"abc"}}: notepack writes the same values with the same
    // markers (fixmap, fixstr, positive fixint); only the key order is ours (type, nsp, data).
    let ours = encode_msgpack_packet(&SocketPacket::connect("/", Some(json!({"sid": "abc"}))));
    assert_eq!(
        hex("83a47479706500a36e7370a12fa46461746181a3736964a3616263"),
        Bytes::from(ours)
    );
}

#[test]
fn buffers_travel_as_bin_and_come_back_as_attachments() {
    // {type:2, data:["bin", Buffer[1,2,3]], nsp:"/"}
    let bytes = hex("83a47479706502a46461746192a362696ec403010203a36e7370a12f");
    let packet = decode_msgpack_packet(&bytes, 10).unwrap();
    assert_eq!(packet.kind, SocketType::BinaryEvent);
    assert_eq!(packet.attachments, vec![Bytes::from_static(&[1, 2, 3])]);
    let mut payload = Payload::default();
    let ph = payload.push_binary(Bytes::from_static(&[1, 2, 3]));
    payload.push_arg(ph);
    let expected = SocketPacket::event_with_payload("/", "bin", payload);
    assert_eq!(packet, expected);
    let again = encode_msgpack_packet(&expected);
    assert!(again.windows(5).any(|w| w == [0xc4, 3, 1, 2, 3]), "a bin");
    assert!(!again.windows(12).any(|w| w == b"_placeholder"));
    assert_eq!(decode_msgpack_packet(&again.into(), 10).unwrap(), expected);
}

#[test]
fn binary_acks_are_acks_on_the_wire() {
    let mut payload = Payload::default();
    let ph = payload.push_binary(vec![9u8; 300]);
    payload.push_arg(json!({ "file": ph }));
    let ack = SocketPacket::ack("/", 4, payload);
    assert_eq!(ack.kind, SocketType::BinaryAck);
    let bytes = encode_msgpack_packet(&ack);
    assert_eq!(&bytes[1..7], &[0xa4, b't', b'y', b'p', b'e', 3]);
    assert_eq!(decode_msgpack_packet(&bytes.into(), 10).unwrap(), ack);
}

#[test]
fn every_packet_type_round_trips() {
    let packets = [
        SocketPacket::connect("/", None),
        SocketPacket::connect("/a", Some(json!({"token": "x"}))),
        SocketPacket::disconnect("/a"),
        SocketPacket::connect_error("/a", "Invalid namespace", None),
        SocketPacket::connect_error("/a", "no", Some(json!({"why": 1}))),
        SocketPacket::event("/", "e", json!([])).with_id(u64::MAX),
        SocketPacket::ack("/", 0, Payload::new(vec![])),
    ];
    for packet in packets {
        let bytes = encode_msgpack_packet(&packet);
        assert_eq!(decode_msgpack_packet(&bytes.into(), 10).unwrap(), packet);
    }
}

fn refused(bytes: &[u8]) -> String {
    decode(bytes).unwrap_err().to_string()
}

#[test]
fn malformed_packets_are_refused_with_the_reason() {
    assert!(refused(&[]).contains("truncated"));
    assert!(refused(&[0xc1]).contains("0xc1"));
    assert!(refused(&[0x92, 1, 2]).contains("must be a msgpack map"));
    // {type: 5, nsp: "/"}: no binary types in this parser.
    assert!(
        refused(&[0x82, 0xa4, b't', b'y', b'p', b'e', 5, 0xa3, b'n', b's', b'p', 0xa1, b'/'])
            .contains("invalid packet type")
    );
    // {type: 2, nsp: 1}
    assert!(
        refused(&[0x82, 0xa4, b't', b'y', b'p', b'e', 2, 0xa3, b'n', b's', b'p', 1])
            .contains("invalid namespace")
    );
    let mut packet = encode_msgpack_packet(&SocketPacket::connect("/", None));
    packet.push(0);
    assert!(refused(&packet).contains("1 bytes after the packet"));
    let ext = [0xd5, 7, 0, 0];
    let mut map = vec![0x81, 0xa1, b'x'];
    map.extend_from_slice(&ext);
    assert!(refused(&map).contains("unsupported msgpack extension"));
    assert!(refused(&[0xa2, 0xff, 0xfe]).contains("not UTF-8"));
}

#[test]
fn shapes_follow_the_msgpack_parsers_rules() {
    let event = |data: Value| {
        let mut p = SocketPacket::event("/", "x", json!([]));
        p.data = Some(data);
        encode_msgpack_packet(&p)
    };
    assert_eq!(
        refused(&event(json!("not an array"))),
        "invalid payload for a EVENT packet"
    );
    assert_eq!(
        refused(&event(json!(["connect"]))),
        "invalid payload for a EVENT packet"
    );
    let mut ack = SocketPacket::ack("/", 1, Payload::default());
    ack.data = None;
    assert_eq!(
        refused(&encode_msgpack_packet(&ack)),
        "invalid payload for a ACK packet"
    );
    let mut disconnect = SocketPacket::disconnect("/");
    disconnect.data = Some(json!([]));
    assert_eq!(
        refused(&encode_msgpack_packet(&disconnect)),
        "invalid payload for a DISCONNECT packet"
    );
    // {type:2, nsp:"/", data:["x"], id:-1}
    let mut bytes = event(json!(["x"]));
    bytes[0] = 0x84;
    bytes.extend_from_slice(&[0xa2, b'i', b'd', 0xff]);
    assert_eq!(refused(&bytes), "invalid ack id");
}

#[test]
fn deep_nesting_is_refused_without_recursing_into_it() {
    // 100,000 nested one-element arrays inside the packet's data, as in GHSA-c6g7-r2mf-pf5g.
    let mut bytes = vec![
        0x83, 0xa4, b't', b'y', b'p', b'e', 2, 0xa3, b'n', b's', b'p', 0xa1,
    ];
    bytes.extend_from_slice(b"/");
    bytes.extend_from_slice(&[0xa4, b'd', b'a', b't', b'a']);
    bytes.extend(std::iter::repeat_n(0x91, 100_000));
    bytes.push(0xc0);
    assert_eq!(
        decode(&bytes).unwrap_err(),
        ProtocolError::MsgpackTooDeep { max: MAX_DEPTH }
    );
    // Nesting at the limit reads.
    let mut ok = vec![
        0x83, 0xa4, b't', b'y', b'p', b'e', 2, 0xa3, b'n', b's', b'p', 0xa1, b'/',
    ];
    ok.extend_from_slice(&[0xa4, b'd', b'a', b't', b'a', 0x92, 0xa1, b'x']);
    ok.extend(std::iter::repeat_n(0x91, MAX_DEPTH - 3));
    ok.push(0xc0);
    assert!(decode(&ok).is_ok());
}

#[test]
fn claimed_lengths_are_checked_before_anything_is_reserved() {
    // An array 32 claiming 2^32 - 1 elements, a map 32 claiming as many, a str and a bin
    // claiming 4 GiB: refused at once from a 5-byte message.
    for marker in [0xdd, 0xdf, 0xdb, 0xc6] {
        let err = refused(&[marker, 0xff, 0xff, 0xff, 0xff]);
        assert!(
            err.contains("4294967295") || err.contains("truncated"),
            "{marker:#x}: {err}"
        );
    }
}

#[test]
fn too_many_buffers_are_refused() {
    let mut payload = Payload::default();
    let args: Vec<Value> = (0..3).map(|i| payload.push_binary(vec![i as u8])).collect();
    payload.args = args;
    let bytes = encode_msgpack_packet(&SocketPacket::event_with_payload("/", "b", payload));
    assert_eq!(
        decode_msgpack_packet(&bytes.into(), 2).unwrap_err(),
        ProtocolError::TooManyAttachments { count: 3, max: 2 }
    );
}

#[test]
fn text_from_timestamps_and_floats() {
    // A Date as a timestamp 32 (2^31 s) becomes milliseconds; NaN becomes null.
    let mut bytes = vec![
        0x83, 0xa4, b't', b'y', b'p', b'e', 2, 0xa3, b'n', b's', b'p', 0xa1, b'/',
    ];
    bytes.extend_from_slice(&[0xa4, b'd', b'a', b't', b'a', 0x93, 0xa1, b'x']);
    bytes.extend_from_slice(&[0xd6, 0xff, 0x80, 0, 0, 0]);
    bytes.push(0xcb);
    bytes.extend_from_slice(&f64::NAN.to_bits().to_be_bytes());
    let packet = decode(&bytes).unwrap();
    assert_eq!(packet.data, Some(json!(["x", 2_147_483_648_000i64, null])));
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e9f64..1e9)
            .prop_filter("not integral", |f| f.fract() != 0.0)
            .prop_map(Value::from),
        ".{0,40}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 20, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..20).prop_map(Value::Array),
            prop::collection::btree_map(".{0,10}", inner, 0..20)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn encode_then_decode_is_identity(
        nsp in "/[a-z]{0,8}",
        name in "[a-z]{1,8}",
        args in prop::collection::vec(json_value(), 0..5),
        buffers in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..4),
        id in prop::option::of(any::<u64>()),
    ) {
        let mut payload = Payload::new(args);
        for buffer in buffers {
            let ph = payload.push_binary(buffer);
            payload.push_arg(ph);
        }
        let mut packet = SocketPacket::event_with_payload(&nsp, &name, payload);
        packet.id = id;
        let bytes = encode_msgpack_packet(&packet);
        prop_assert_eq!(decode_msgpack_packet(&bytes.into(), 10).unwrap(), packet);
    }

    #[test]
    fn what_arbitrary_bytes_decode_to_encodes_back(
        bytes in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        if let Ok(packet) = decode(&bytes) {
            let again = encode_msgpack_packet(&packet);
            prop_assert_eq!(decode(&again), Ok(packet));
        }
    }
}

#[test]
fn an_undefined_last_element_does_not_drop_its_container() {
    // socket.io-client's `emit("x", undefined)`: {type:2, data:["x", undefined], nsp:"/"}.
    // The undefined element reads as null; the data array around it stays.
    let bytes = hex("83a47479706502a46461746192a178d40000a36e7370a12f");
    assert_eq!(
        decode_msgpack_packet(&bytes, 10).unwrap(),
        SocketPacket::event("/", "x", json!([null]))
    );
    // {type:2, data:["x", {a:[undefined], b:{c:undefined}}], nsp:"/"}: `a` keeps its array
    // and `b` its (then empty) map; only `c`, itself undefined, is absent.
    let nested = hex("83a47479706502a46461746192a17882a16191d40000a16281a163d40000a36e7370a12f");
    assert_eq!(
        decode_msgpack_packet(&nested, 10).unwrap(),
        SocketPacket::event("/", "x", json!([{"a": [null], "b": {}}]))
    );
}
