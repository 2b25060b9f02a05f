//! Socket.IO packets: encoding, decoding, every validation rule of the decoder, binary
//! reassembly, and the helpers that build and split packets.

use bytes::Bytes;
use serde_json::{json, Value};
use siohub_protocol::{
    placeholder, Decoded, Payload, ProtocolError, SocketDecoder, SocketPacket, SocketType,
    DEFAULT_MAX_ATTACHMENTS, RESERVED_EVENTS,
};

/// Decodes one complete text packet with a fresh default decoder.
fn decode(text: &str) -> Result<SocketPacket, ProtocolError> {
    match SocketDecoder::default().feed_text(text)? {
        Decoded::Packet(p) => Ok(p),
        Decoded::NeedAttachments(n) => panic!("{text:?} wants {n} attachments"),
    }
}

fn packet(kind: SocketType, nsp: &str, id: Option<u64>, data: Option<Value>) -> SocketPacket {
    SocketPacket {
        kind,
        nsp: nsp.into(),
        id,
        data,
        attachments: Vec::new(),
    }
}

/// Checks both directions: `text` decodes to `expected`, and `expected` encodes to `text`.
#[track_caller]
fn both_ways(text: &str, expected: SocketPacket) {
    assert_eq!(decode(text), Ok(expected.clone()), "decoding {text:?}");
    assert_eq!(
        expected.encode_header_and_data(),
        text,
        "encoding {expected:?}"
    );
}

#[track_caller]
fn refused(text: &str, error: ProtocolError) {
    assert_eq!(decode(text), Err(error), "decoding {text:?}");
}

fn invalid(kind: &'static str) -> ProtocolError {
    ProtocolError::InvalidPayload(kind)
}

// ---------------------------------------------------------------- types

#[test]
fn type_digits() {
    let all = [
        (SocketType::Connect, '0', false),
        (SocketType::Disconnect, '1', false),
        (SocketType::Event, '2', false),
        (SocketType::Ack, '3', false),
        (SocketType::ConnectError, '4', false),
        (SocketType::BinaryEvent, '5', true),
        (SocketType::BinaryAck, '6', true),
    ];
    for (kind, c, binary) in all {
        assert_eq!(kind.as_char(), c);
        assert_eq!(kind.is_binary(), binary);
    }
}

#[test]
fn unknown_type_and_empty_text() {
    refused("", ProtocolError::Empty);
    refused("7", ProtocolError::UnknownSocketType('7'));
    refused("9[\"a\"]", ProtocolError::UnknownSocketType('9'));
    refused("x", ProtocolError::UnknownSocketType('x'));
    refused("é", ProtocolError::UnknownSocketType('é'));
}

// ---------------------------------------------------------------- CONNECT

#[test]
fn connect() {
    both_ways("0", packet(SocketType::Connect, "/", None, None));
    both_ways(
        "0{\"token\":1}",
        packet(SocketType::Connect, "/", None, Some(json!({"token": 1}))),
    );
    both_ways(
        "0/custom,",
        packet(SocketType::Connect, "/custom", None, None),
    );
    both_ways(
        "0/custom,{\"token\":1}",
        packet(
            SocketType::Connect,
            "/custom",
            None,
            Some(json!({"token": 1})),
        ),
    );
    // The namespace runs to the end when there is no comma.
    assert_eq!(
        decode("0/custom"),
        Ok(packet(SocketType::Connect, "/custom", None, None))
    );
    assert_eq!(
        decode("0/"),
        Ok(packet(SocketType::Connect, "/", None, None))
    );
    assert_eq!(
        SocketPacket::connect("/custom", Some(json!({"sid": "x"}))),
        packet(
            SocketType::Connect,
            "/custom",
            None,
            Some(json!({"sid": "x"}))
        )
    );
    assert_eq!(
        SocketPacket::connect("/", None).encode_header_and_data(),
        "0"
    );
}

#[test]
fn connect_payload_must_be_an_object() {
    for text in [
        "0[]",
        "0\"a\"",
        "0-1",
        "0 1",
        "01[]",
        "0null",
        "0true",
        "0/custom,[1]",
        "0/custom,\"token\"",
    ] {
        refused(text, invalid("CONNECT"));
    }
}

// ---------------------------------------------------------------- DISCONNECT

#[test]
fn disconnect() {
    both_ways("1", packet(SocketType::Disconnect, "/", None, None));
    both_ways(
        "1/chat,",
        packet(SocketType::Disconnect, "/chat", None, None),
    );
    assert_eq!(
        decode("1/chat"),
        Ok(packet(SocketType::Disconnect, "/chat", None, None))
    );
    assert_eq!(
        SocketPacket::disconnect("/chat"),
        packet(SocketType::Disconnect, "/chat", None, None)
    );
}

#[test]
fn disconnect_carries_no_payload() {
    for text in ["1{}", "1[]", "1\"bye\"", "1/chat,{}", "1null"] {
        refused(text, invalid("DISCONNECT"));
    }
}

// ---------------------------------------------------------------- EVENT

#[test]
fn event() {
    both_ways(
        "2[\"a\"]",
        packet(SocketType::Event, "/", None, Some(json!(["a"]))),
    );
    both_ways(
        "2/chat,[\"a\",1,{\"b\":null}]",
        packet(
            SocketType::Event,
            "/chat",
            None,
            Some(json!(["a", 1, {"b": null}])),
        ),
    );
    both_ways(
        "2/chat,12[\"a\"]",
        packet(SocketType::Event, "/chat", Some(12), Some(json!(["a"]))),
    );
    both_ways(
        "212[\"a\"]",
        packet(SocketType::Event, "/", Some(12), Some(json!(["a"]))),
    );
    // A numeric event name.
    both_ways(
        "2[42,\"x\"]",
        packet(SocketType::Event, "/", None, Some(json!([42, "x"]))),
    );
    both_ways(
        "2[-1.5]",
        packet(SocketType::Event, "/", None, Some(json!([-1.5]))),
    );
}

#[test]
fn event_namespace_edge_cases() {
    // An explicit `/` namespace is the default one.
    assert_eq!(
        decode("2/,[\"a\"]"),
        Ok(packet(SocketType::Event, "/", None, Some(json!(["a"]))))
    );
    // A namespace without a comma swallows the rest: here there is nothing left for the data.
    refused("2/chat[\"a\"]", invalid("EVENT"));
    // Namespaces may hold any character but a comma.
    both_ways(
        "2/ü/ß-1 x,[\"a\"]",
        packet(SocketType::Event, "/ü/ß-1 x", None, Some(json!(["a"]))),
    );
    // The empty namespace is written like `/`.
    assert_eq!(
        packet(SocketType::Event, "", None, Some(json!(["a"]))).encode_header_and_data(),
        "2[\"a\"]"
    );
}

#[test]
fn event_payload_rules() {
    for text in [
        "2",
        "2/chat,",
        "2/chat,12",
        "2[]",
        "2{}",
        "2\"a\"",
        "21",
        "2null",
        "2[null]",
        "2[true]",
        "2[[\"a\"]]",
        "2[{\"a\":1}]",
    ] {
        refused(text, invalid("EVENT"));
    }
}

#[test]
fn reserved_event_names_are_refused() {
    assert_eq!(
        RESERVED_EVENTS,
        [
            "connect",
            "connect_error",
            "disconnect",
            "disconnecting",
            "newListener",
            "removeListener"
        ]
    );
    for name in RESERVED_EVENTS {
        let args = json!([name, 1]).to_string();
        refused(&format!("2{args}"), invalid("EVENT"));
        refused(&format!("2/chat,5{args}"), invalid("EVENT"));
        let binary = json!([name, placeholder(0)]).to_string();
        refused(&format!("51-{binary}"), invalid("BINARY_EVENT"));
    }
    // Only the exact names are reserved.
    for name in ["Connect", "connect ", "disconnected", "newlistener", ""] {
        let text = format!("2{}", json!([name]));
        assert!(decode(&text).is_ok(), "{text}");
    }
}

// ---------------------------------------------------------------- ACK

#[test]
fn ack() {
    both_ways(
        "312[\"x\"]",
        packet(SocketType::Ack, "/", Some(12), Some(json!(["x"]))),
    );
    both_ways(
        "3/chat,0[]",
        packet(SocketType::Ack, "/chat", Some(0), Some(json!([]))),
    );
    // No data at all is allowed, as in the reference parser.
    both_ways("37", packet(SocketType::Ack, "/", Some(7), None));
    both_ways("3", packet(SocketType::Ack, "/", None, None));
    // Leading zeros are read as a number.
    assert_eq!(
        decode("3007[1]"),
        Ok(packet(SocketType::Ack, "/", Some(7), Some(json!([1]))))
    );
}

#[test]
fn ack_payload_must_be_an_array() {
    for text in ["312{}", "312\"x\"", "312null", "3/chat,1true"] {
        refused(text, invalid("ACK"));
    }
}

#[test]
fn ack_id_limits() {
    let max = u64::MAX;
    both_ways(
        &format!("3{max}[]"),
        packet(SocketType::Ack, "/", Some(max), Some(json!([]))),
    );
    refused("318446744073709551616[]", ProtocolError::InvalidAckId);
    refused(
        "2/chat,99999999999999999999999[\"a\"]",
        ProtocolError::InvalidAckId,
    );
}

// ---------------------------------------------------------------- CONNECT_ERROR

#[test]
fn connect_error() {
    both_ways(
        "4{\"message\":\"no\"}",
        packet(
            SocketType::ConnectError,
            "/",
            None,
            Some(json!({"message": "no"})),
        ),
    );
    both_ways(
        "4/admin,\"invalid credentials\"",
        packet(
            SocketType::ConnectError,
            "/admin",
            None,
            Some(json!("invalid credentials")),
        ),
    );
    for text in ["4", "4/admin,", "4[]", "41", "4null", "4false"] {
        refused(text, invalid("CONNECT_ERROR"));
    }
}

#[test]
fn connect_error_builder() {
    let without = SocketPacket::connect_error("/x", "Invalid namespace", None);
    assert_eq!(
        without.encode_header_and_data(),
        "4/x,{\"message\":\"Invalid namespace\"}"
    );
    assert_eq!(decode(&without.encode_header_and_data()), Ok(without));

    let with = SocketPacket::connect_error("/", "denied", Some(json!({"retry": false})));
    assert_eq!(
        with.data,
        Some(json!({"message": "denied", "data": {"retry": false}}))
    );
    assert_eq!(with.kind, SocketType::ConnectError);
    assert_eq!(decode(&with.encode_header_and_data()), Ok(with));
}

// ---------------------------------------------------------------- invalid JSON

#[test]
fn invalid_json() {
    for text in [
        "2[\"a\"",
        "2[\"a\"]x",
        "0{token:1}",
        "2/chat,1[\"a\",]",
        "4'x'",
        "0xyz",
    ] {
        assert!(
            matches!(decode(text), Err(ProtocolError::InvalidJson(_))),
            "{text}: {:?}",
            decode(text)
        );
    }
}

// ---------------------------------------------------------------- binary packets

fn feed_all(
    decoder: &mut SocketDecoder,
    text: &str,
    buffers: &[&'static [u8]],
) -> Result<Decoded, ProtocolError> {
    let mut last = decoder.feed_text(text)?;
    for buffer in buffers {
        last = decoder.feed_binary(Bytes::from_static(buffer))?;
    }
    Ok(last)
}

#[test]
fn binary_event_with_one_attachment() {
    let mut decoder = SocketDecoder::default();
    let text = "51-[\"a\",{\"_placeholder\":true,\"num\":0}]";
    assert_eq!(decoder.feed_text(text), Ok(Decoded::NeedAttachments(1)));
    assert!(decoder.is_reconstructing());
    let got = decoder.feed_binary(Bytes::from_static(b"\x01\x02"));
    assert!(!decoder.is_reconstructing());
    let expected = SocketPacket {
        kind: SocketType::BinaryEvent,
        nsp: "/".into(),
        id: None,
        data: Some(json!(["a", placeholder(0)])),
        attachments: vec![Bytes::from_static(b"\x01\x02")],
    };
    assert_eq!(got, Ok(Decoded::Packet(expected.clone())));
    assert_eq!(expected.encode_header_and_data(), text);
    assert_eq!(expected.event_name(), Some("a"));
}

#[test]
fn binary_event_with_namespace_id_and_several_attachments() {
    let mut decoder = SocketDecoder::default();
    let data = json!(["up", {"a": placeholder(1), "b": [placeholder(0)]}, placeholder(2)]);
    let text = format!("53-/files,9{data}");
    assert_eq!(decoder.feed_text(&text), Ok(Decoded::NeedAttachments(3)));
    assert_eq!(
        decoder.feed_binary(Bytes::from_static(b"0")),
        Ok(Decoded::NeedAttachments(2))
    );
    assert_eq!(
        decoder.feed_binary(Bytes::from_static(b"1")),
        Ok(Decoded::NeedAttachments(1))
    );
    let done = decoder.feed_binary(Bytes::from_static(b"2")).unwrap();
    let expected = SocketPacket {
        kind: SocketType::BinaryEvent,
        nsp: "/files".into(),
        id: Some(9),
        data: Some(data),
        attachments: vec![
            Bytes::from_static(b"0"),
            Bytes::from_static(b"1"),
            Bytes::from_static(b"2"),
        ],
    };
    assert_eq!(done, Decoded::Packet(expected.clone()));
    assert_eq!(expected.encode_header_and_data(), text);
    // The decoder is ready for the next packet.
    assert_eq!(
        decoder.feed_text("2[\"next\"]"),
        Ok(Decoded::Packet(packet(
            SocketType::Event,
            "/",
            None,
            Some(json!(["next"]))
        )))
    );
}

#[test]
fn binary_ack() {
    let mut decoder = SocketDecoder::default();
    let got = feed_all(
        &mut decoder,
        "61-/chat,15[{\"_placeholder\":true,\"num\":0}]",
        &[b"bin"],
    );
    let expected = SocketPacket::ack(
        "/chat",
        15,
        Payload {
            args: vec![placeholder(0)],
            attachments: vec![Bytes::from_static(b"bin")],
        },
    );
    assert_eq!(expected.kind, SocketType::BinaryAck);
    assert_eq!(got, Ok(Decoded::Packet(expected)));
    // A binary ack without data is allowed, like a plain one.
    let got = feed_all(&mut decoder, "61-3", &[b"x"]).unwrap();
    let Decoded::Packet(p) = got else {
        panic!("incomplete")
    };
    assert_eq!(
        (p.kind, p.id, p.data),
        (SocketType::BinaryAck, Some(3), None)
    );
}

#[test]
fn binary_payload_rules() {
    refused("51-{}", invalid("BINARY_EVENT"));
    refused("51-", invalid("BINARY_EVENT"));
    refused("51-[]", invalid("BINARY_EVENT"));
    refused("61-{}", invalid("BINARY_ACK"));
    refused("61-\"x\"", invalid("BINARY_ACK"));
    assert!(matches!(
        decode("51-[\"a\""),
        Err(ProtocolError::InvalidJson(_))
    ));
}

#[test]
fn illegal_attachment_headers() {
    for text in [
        "5a-[\"a\"]",
        "5-[\"a\"]",
        "5[\"a\"]",
        "5",
        "6",
        "6[]",
        "5/chat,[\"a-b\"]",
        "5+1-[\"a\"]",
        "51 -[\"a\"]",
        "5 1-[\"a\"]",
        "50-[\"a\"]",
        "600-[]",
        "599999999999999999999999-[\"a\"]",
    ] {
        refused(text, ProtocolError::IllegalAttachments);
    }
}

#[test]
fn too_many_attachments() {
    let mut decoder = SocketDecoder::default();
    let at_limit = format!("5{DEFAULT_MAX_ATTACHMENTS}-[\"a\"]");
    assert_eq!(
        decoder.feed_text(&at_limit),
        Ok(Decoded::NeedAttachments(DEFAULT_MAX_ATTACHMENTS))
    );
    let over = format!("5{}-[\"a\"]", DEFAULT_MAX_ATTACHMENTS + 1);
    assert_eq!(
        SocketDecoder::default().feed_text(&over),
        Err(ProtocolError::TooManyAttachments {
            count: DEFAULT_MAX_ATTACHMENTS + 1,
            max: DEFAULT_MAX_ATTACHMENTS,
        })
    );

    let mut custom = SocketDecoder::new(2);
    assert_eq!(custom.feed_text("62-1[]"), Ok(Decoded::NeedAttachments(2)));
    let mut custom = SocketDecoder::new(2);
    assert_eq!(
        custom.feed_text("63-1[]"),
        Err(ProtocolError::TooManyAttachments { count: 3, max: 2 })
    );
    assert!(!custom.is_reconstructing());

    let mut none = SocketDecoder::new(0);
    assert_eq!(
        none.feed_text("51-[\"a\"]"),
        Err(ProtocolError::TooManyAttachments { count: 1, max: 0 })
    );
    // Plain packets do not care about the limit.
    assert!(none.feed_text("2[\"a\"]").is_ok());
}

#[test]
fn a_huge_limit_does_not_allocate_for_the_announced_count() {
    let mut decoder = SocketDecoder::new(usize::MAX);
    let text = format!("5{}-[\"a\"]", usize::MAX);
    assert_eq!(
        decoder.feed_text(&text),
        Ok(Decoded::NeedAttachments(usize::MAX))
    );
    assert_eq!(
        decoder.feed_binary(Bytes::from_static(b"x")),
        Ok(Decoded::NeedAttachments(usize::MAX - 1))
    );
}

#[test]
fn attachments_of_one_packet_are_bounded_in_bytes() {
    let mut decoder = SocketDecoder::default().with_max_attachment_bytes(10);
    assert_eq!(
        decoder.feed_text("53-[\"a\"]"),
        Ok(Decoded::NeedAttachments(3))
    );
    assert_eq!(
        decoder.feed_binary(Bytes::from_static(b"1234")),
        Ok(Decoded::NeedAttachments(2))
    );
    assert_eq!(decoder.pending_bytes(), 4);
    assert_eq!(
        decoder.feed_binary(Bytes::from_static(b"56789")),
        Ok(Decoded::NeedAttachments(1))
    );
    assert_eq!(decoder.pending_bytes(), 9);
    // The buffer that takes the packet over the bound drops it and what it held.
    assert_eq!(
        decoder.feed_binary(Bytes::from_static(b"ab")),
        Err(ProtocolError::AttachmentsTooLarge { max: 10 })
    );
    assert!(!decoder.is_reconstructing());
    assert_eq!(decoder.pending_bytes(), 0);

    // Exactly at the bound is fine, and the count starts again with the next packet.
    assert_eq!(
        decoder.feed_text("52-[\"a\"]"),
        Ok(Decoded::NeedAttachments(2))
    );
    decoder.feed_binary(Bytes::from_static(b"12345")).unwrap();
    let done = decoder.feed_binary(Bytes::from_static(b"67890")).unwrap();
    assert!(matches!(done, Decoded::Packet(p) if p.attachments.len() == 2));
    assert_eq!(decoder.pending_bytes(), 0);
    assert_eq!(
        decoder.feed_text("51-[\"a\"]"),
        Ok(Decoded::NeedAttachments(1))
    );
    assert!(matches!(
        decoder.feed_binary(Bytes::from_static(b"0123456789")),
        Ok(Decoded::Packet(_))
    ));
}

#[test]
fn text_while_reconstructing() {
    let mut decoder = SocketDecoder::default();
    decoder.feed_text("52-[\"a\"]").unwrap();
    decoder.feed_binary(Bytes::from_static(b"1")).unwrap();
    assert_eq!(
        decoder.feed_text("2[\"b\"]"),
        Err(ProtocolError::UnexpectedText)
    );
    // Even a malformed text is refused for that reason first.
    assert_eq!(decoder.feed_text(""), Err(ProtocolError::UnexpectedText));
    assert!(decoder.is_reconstructing());
}

#[test]
fn binary_when_not_reconstructing() {
    let mut decoder = SocketDecoder::default();
    assert!(!decoder.is_reconstructing());
    assert_eq!(
        decoder.feed_binary(Bytes::from_static(b"x")),
        Err(ProtocolError::UnexpectedAttachment)
    );
    // After a complete binary packet, one more buffer is unexpected too.
    feed_all(&mut decoder, "51-[\"a\"]", &[b"1"]).unwrap();
    assert_eq!(
        decoder.feed_binary(Bytes::from_static(b"2")),
        Err(ProtocolError::UnexpectedAttachment)
    );
    // After a plain packet as well.
    decoder.feed_text("2[\"a\"]").unwrap();
    assert_eq!(
        decoder.feed_binary(Bytes::new()),
        Err(ProtocolError::UnexpectedAttachment)
    );
}

#[test]
fn placeholder_errors() {
    let cases: [(&str, &[&'static [u8]], i64); 7] = [
        // Out of range.
        (r#"51-["a",{"_placeholder":true,"num":1}]"#, &[b"x"], 1),
        (r#"62-[{"_placeholder":true,"num":2}]"#, &[b"x", b"y"], 2),
        // Negative.
        (r#"51-["a",{"_placeholder":true,"num":-1}]"#, &[b"x"], -1),
        // Missing or not an integer: reported as -1.
        (r#"51-["a",{"_placeholder":true}]"#, &[b"x"], -1),
        (r#"51-["a",{"_placeholder":true,"num":"0"}]"#, &[b"x"], -1),
        (r#"51-["a",{"_placeholder":true,"num":0.5}]"#, &[b"x"], -1),
        // Nested deep inside the arguments.
        (
            r#"52-["a",{"k":[1,{"_placeholder":true,"num":0},{"z":{"_placeholder":true,"num":7}}]}]"#,
            &[b"x", b"y"],
            7,
        ),
    ];
    for (text, buffers, num) in cases {
        let mut decoder = SocketDecoder::default();
        assert_eq!(
            feed_all(&mut decoder, text, buffers),
            Err(ProtocolError::BadPlaceholder(num)),
            "{text}"
        );
        // The failed packet is gone: the decoder starts afresh.
        assert!(!decoder.is_reconstructing());
        assert!(decoder.feed_text("2[\"a\"]").is_ok());
    }
}

#[test]
fn nested_placeholders_are_accepted() {
    let data = json!(["a", {"x": [[placeholder(1)]], "y": {"z": placeholder(0)}}]);
    let text = format!("52-{data}");
    let mut decoder = SocketDecoder::default();
    let got = feed_all(&mut decoder, &text, &[b"zero", b"one"]).unwrap();
    let Decoded::Packet(p) = got else {
        panic!("incomplete")
    };
    assert_eq!(p.data, Some(data));
    let (name, payload) = p.into_payload();
    assert_eq!(name, "a");
    assert_eq!(
        payload
            .binary_of(&payload.args[0]["x"][0][0])
            .map(|b| &b[..]),
        Some(&b"one"[..])
    );
    assert_eq!(
        payload
            .binary_of(&payload.args[0]["y"]["z"])
            .map(|b| &b[..]),
        Some(&b"zero"[..])
    );
}

#[test]
fn placeholders_in_plain_packets_are_not_checked() {
    // A plain EVENT has no attachments: a placeholder-shaped object is just data.
    assert!(decode(r#"2["a",{"_placeholder":true,"num":5}]"#).is_ok());
}

#[test]
fn a_binary_packet_may_not_use_all_its_buffers() {
    let mut decoder = SocketDecoder::default();
    let got = feed_all(&mut decoder, "52-[\"a\"]", &[b"x", b"y"]).unwrap();
    let Decoded::Packet(p) = got else {
        panic!("incomplete")
    };
    assert_eq!(p.attachments.len(), 2);
}

// ---------------------------------------------------------------- builders and helpers

#[test]
fn event_builder() {
    let p = SocketPacket::event("/chat", "hello", json!(["world", 1]));
    assert_eq!(p.encode_header_and_data(), r#"2/chat,["hello","world",1]"#);
    // A non-array argument becomes the only argument.
    let p = SocketPacket::event("/", "hello", json!({"a": 1}));
    assert_eq!(p.encode_header_and_data(), r#"2["hello",{"a":1}]"#);
    let p = SocketPacket::event("/", "hello", json!([])).with_id(3);
    assert_eq!(p.encode_header_and_data(), r#"23["hello"]"#);
    assert_eq!(p.id, Some(3));
}

#[test]
fn event_with_payload_picks_the_type() {
    let plain = SocketPacket::event_with_payload("/", "e", Payload::new(vec![json!(1)]));
    assert_eq!(plain.kind, SocketType::Event);
    assert_eq!(plain.encode_header_and_data(), r#"2["e",1]"#);

    let mut payload = Payload::default();
    let ph = payload.push_binary(&b"abc"[..]);
    payload.push_arg(ph);
    let binary = SocketPacket::event_with_payload("/up", "e", payload);
    assert_eq!(binary.kind, SocketType::BinaryEvent);
    assert_eq!(
        binary.encode_header_and_data(),
        r#"51-/up,["e",{"_placeholder":true,"num":0}]"#
    );
    assert_eq!(binary.attachments, vec![Bytes::from_static(b"abc")]);
}

#[test]
fn ack_builder_picks_the_type() {
    let plain = SocketPacket::ack("/", 4, Payload::new(vec![json!("ok")]));
    assert_eq!(plain.kind, SocketType::Ack);
    assert_eq!(plain.encode_header_and_data(), r#"34["ok"]"#);
    let empty = SocketPacket::ack("/", 4, Payload::default());
    assert_eq!(empty.encode_header_and_data(), "34[]");
}

#[test]
fn event_name() {
    let event = |data: Value| packet(SocketType::Event, "/", None, Some(data));
    assert_eq!(event(json!(["hi", 1])).event_name(), Some("hi"));
    assert_eq!(event(json!([1, "hi"])).event_name(), None);
    assert_eq!(event(json!([])).event_name(), None);
    assert_eq!(event(json!({"a": 1})).event_name(), None);
    assert_eq!(
        packet(SocketType::Event, "/", None, None).event_name(),
        None
    );
    assert_eq!(
        packet(SocketType::BinaryEvent, "/", None, Some(json!(["b"]))).event_name(),
        Some("b")
    );
    assert_eq!(
        packet(SocketType::Ack, "/", Some(1), Some(json!(["hi"]))).event_name(),
        None
    );
}

#[test]
fn into_payload() {
    let (name, payload) =
        packet(SocketType::Event, "/", None, Some(json!(["hi", 1, "x"]))).into_payload();
    assert_eq!(name, "hi");
    assert_eq!(payload, Payload::new(vec![json!(1), json!("x")]));

    // Numeric event names become their decimal text.
    let (name, payload) = decode("2[42,true]").unwrap().into_payload();
    assert_eq!(name, "42");
    assert_eq!(payload.args, vec![json!(true)]);
    let (name, _) = decode("2[-1.5]").unwrap().into_payload();
    assert_eq!(name, "-1.5");

    // Acks keep all their arguments and have no name.
    let (name, payload) = decode("31[\"a\",\"b\"]").unwrap().into_payload();
    assert_eq!(name, "");
    assert_eq!(payload.args, vec![json!("a"), json!("b")]);
    let (name, payload) = decode("31").unwrap().into_payload();
    assert_eq!((name.as_str(), payload), ("", Payload::default()));

    // Non-array data becomes one argument.
    let (name, payload) = decode("0{\"t\":1}").unwrap().into_payload();
    assert_eq!(name, "");
    assert_eq!(payload.args, vec![json!({"t": 1})]);

    // An event built by hand without data or arguments.
    let (name, payload) = packet(SocketType::Event, "/", None, None).into_payload();
    assert_eq!((name.as_str(), payload.args.len()), ("", 0));
    let (name, _) = packet(SocketType::Event, "/", None, Some(json!([]))).into_payload();
    assert_eq!(name, "");

    // Attachments come along.
    let mut decoder = SocketDecoder::default();
    let Decoded::Packet(p) = feed_all(
        &mut decoder,
        r#"51-["f",{"_placeholder":true,"num":0}]"#,
        &[b"data"],
    )
    .unwrap() else {
        panic!("incomplete")
    };
    let (name, payload) = p.into_payload();
    assert_eq!(name, "f");
    assert_eq!(payload.attachments, vec![Bytes::from_static(b"data")]);
    assert_eq!(
        payload.binary_of(&payload.args[0]),
        Some(&Bytes::from_static(b"data"))
    );
}

#[test]
fn payload_round_trips_through_an_event() {
    let mut payload = Payload::default();
    let ph = payload.push_binary(vec![9u8; 4]);
    payload.push_arg(json!({"file": ph}));
    let packet = SocketPacket::event_with_payload("/", "save", payload.clone());
    let (name, back) = packet.into_payload();
    assert_eq!(name, "save");
    assert_eq!(back, payload);
}

#[test]
fn json_escapes_the_polling_separator() {
    // So an event can travel inside a polling payload whatever its strings hold.
    let p = SocketPacket::event("/", "a\x1eb", json!([]));
    assert_eq!(p.encode_header_and_data(), r#"2["a\u001eb"]"#);
    assert_eq!(decode(&p.encode_header_and_data()), Ok(p));
}

#[test]
fn a_lone_surrogate_from_javascript_is_read_as_a_replacement_character() {
    // socket.emit("x", "ab😀".slice(0, 3)): JSON.stringify escapes the lone half.
    assert_eq!(
        decode(r#"2["x","ab\ud83d"]"#).unwrap(),
        SocketPacket::event("/", "x", json!(["ab\u{fffd}"]))
    );
    assert_eq!(
        decode(r#"2["x","\ud83d\ude00"]"#).unwrap(),
        SocketPacket::event("/", "x", json!(["😀"]))
    );
}
