//! Encode and decode costs of the packets a hub handles most.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::json;
use siohub_protocol::{
    decode_msgpack_packet, decode_payload, encode_msgpack_packet, encode_payload, Decoded,
    EnginePacket, Payload, SocketDecoder, SocketPacket,
};

/// An event on `/chat` whose one string argument makes the encoded text about `size` bytes.
fn event_of_size(size: usize) -> SocketPacket {
    let header = SocketPacket::event("/chat", "message", json!([""]))
        .encode_header_and_data()
        .len();
    let text = "x".repeat(size.saturating_sub(header));
    let packet = SocketPacket::event("/chat", "message", json!([text]));
    debug_assert_eq!(packet.encode_header_and_data().len(), size.max(header));
    packet
}

fn binary_event(size: usize) -> SocketPacket {
    let mut payload = Payload::default();
    let ph = payload.push_binary(vec![0xA5u8; size]);
    payload.push_arg(json!({"name": "file.bin", "data": ph}));
    SocketPacket::event_with_payload("/files", "upload", payload)
}

fn decode_one(text: &str) -> SocketPacket {
    match SocketDecoder::default().feed_text(text) {
        Ok(Decoded::Packet(p)) => p,
        other => panic!("{other:?}"),
    }
}

fn socket_events(c: &mut Criterion) {
    for (name, size) in [("small_event_64b", 64), ("event_1kb", 1024)] {
        let packet = event_of_size(size);
        let text = packet.encode_header_and_data();
        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_function("encode", |b| {
            b.iter(|| black_box(&packet).encode_header_and_data())
        });
        group.bench_function("decode", |b| b.iter(|| decode_one(black_box(&text))));
        group.finish();
    }
}

fn socket_binary_event(c: &mut Criterion) {
    let packet = binary_event(1024);
    let text = packet.encode_header_and_data();
    let attachment = packet.attachments[0].clone();
    let mut group = c.benchmark_group("binary_event_1kb_attachment");
    group.throughput(Throughput::Bytes((text.len() + attachment.len()) as u64));
    group.bench_function("encode", |b| {
        b.iter(|| {
            let p = black_box(&packet);
            (p.encode_header_and_data(), p.attachments.clone())
        })
    });
    group.bench_function("decode", |b| {
        b.iter(|| {
            let mut decoder = SocketDecoder::default();
            decoder.feed_text(black_box(&text)).unwrap();
            match decoder.feed_binary(black_box(attachment.clone())).unwrap() {
                Decoded::Packet(p) => p,
                other => panic!("{other:?}"),
            }
        })
    });
    group.finish();
}

/// The same packets in the msgpack parser's format: the 64-byte event, the 1 KiB one and
/// the binary event (its buffer inside the one message).
fn msgpack_events(c: &mut Criterion) {
    for (name, packet) in [
        ("msgpack_small_event_64b", event_of_size(64)),
        ("msgpack_event_1kb", event_of_size(1024)),
        ("msgpack_binary_event_1kb_attachment", binary_event(1024)),
    ] {
        let bytes = Bytes::from(encode_msgpack_packet(&packet));
        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function("encode", |b| {
            b.iter(|| encode_msgpack_packet(black_box(&packet)))
        });
        group.bench_function("decode", |b| {
            b.iter(|| decode_msgpack_packet(black_box(&bytes), 10).unwrap())
        });
        group.finish();
    }
}

fn polling(c: &mut Criterion) {
    let packets: Vec<EnginePacket> = (0..10)
        .map(|i| {
            if i % 5 == 4 {
                EnginePacket::Binary(Bytes::from(vec![i as u8; 128]))
            } else {
                EnginePacket::Message(event_of_size(64 + i * 8).encode_header_and_data())
            }
        })
        .collect();
    let body = encode_payload(&packets);
    let mut group = c.benchmark_group("polling_payload_10_packets");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("encode", |b| b.iter(|| encode_payload(black_box(&packets))));
    group.bench_function("decode", |b| {
        b.iter(|| decode_payload(black_box(body.as_bytes())).unwrap())
    });
    group.finish();
}

fn engine_message(c: &mut Criterion) {
    let text = event_of_size(64).encode_header_and_data();
    let mut group = c.benchmark_group("engine_message");
    let packet = EnginePacket::Message(text);
    group.bench_function("encode_text", |b| {
        b.iter(|| black_box(&packet).encode_text())
    });
    let frame = packet.encode_text().unwrap();
    group.bench_function("decode_text", |b| {
        b.iter(|| EnginePacket::decode_text(black_box(&frame)).unwrap())
    });
    group.finish();
}

criterion_group!(
    benches,
    socket_events,
    socket_binary_event,
    msgpack_events,
    polling,
    engine_message
);
criterion_main!(benches);
