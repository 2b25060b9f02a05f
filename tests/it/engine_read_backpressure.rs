//! Read backpressure on websockets: a client that sends faster than its session handles
//! stops being read (at most `incoming.max_messages` read and unhandled), is still served
//! every message in order, and leaves other clients unaffected.

use crate::support;
use crate::support::wire;
use support::start_echo;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use siohub::config::Settings;
use wire::*;

const BOUND: usize = 8;
const MESSAGES: usize = 20_000;

fn settings() -> Settings {
    let mut settings = support::test_settings();
    settings.incoming.max_messages = BOUND;
    // The echoes of the blast wait for the client's reader thread: let them.
    settings.outgoing.max_packets = 1_000_000;
    settings.outgoing.max_bytes = 64 * 1024 * 1024;
    settings
}

/// Upgrades a raw socket to a websocket session; returns it past the `101` head.
fn raw_websocket(addr: SocketAddr) -> TcpStream {
    let mut io = TcpStream::connect(addr).unwrap();
    io.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    io.write_all(upgrade_head(WEBSOCKET, false, &[]).as_bytes())
        .unwrap();
    // Byte by byte, so that no frame after the head is consumed.
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8];
        io.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{:?}",
        String::from_utf8_lossy(&head)
    );
    io
}

#[test]
fn a_client_blasting_messages_is_read_within_the_bound_in_order() {
    let server = start_echo(settings());
    let mut blaster = raw_websocket(server.addr);
    assert!(
        read_server_text(&mut blaster).starts_with("0{"),
        "the open packet"
    );
    // Every message in as few writes as the kernel takes: thousands per read.
    let mut blast = Vec::new();
    for i in 0..MESSAGES {
        blast.extend(client_text_frame(&format!("4m{i}")));
    }
    let mut writer = blaster.try_clone().unwrap();
    let sender = std::thread::spawn(move || writer.write_all(&blast).unwrap());

    // Another client is served while the blast goes on.
    let (mut other, _, _) = Ws::open(server.addr);
    other.send_text("4hello");
    assert_eq!(other.text_skipping_pings(), "4hello");

    for i in 0..MESSAGES {
        assert_eq!(read_server_text(&mut blaster), format!("4m{i}"), "in order");
    }
    sender.join().unwrap();
    let counters = server.hub.counters();
    assert!(counters.read_pauses() > 0, "the reader was held back");
    let high = counters.inflight_high_water();
    assert!(
        (1..=BOUND as u64).contains(&high),
        "at most {BOUND} messages read and unhandled, saw {high}"
    );
    other.send_text("4still");
    assert_eq!(other.text_skipping_pings(), "4still");
    let metrics = wire::request(server.addr, "GET", "/metrics", &[], b"").text();
    assert!(
        metrics.contains(&format!("siohub_ws_inflight_high_water {high}")),
        "{metrics}"
    );
}

#[test]
fn a_message_over_the_byte_bound_still_passes_alone() {
    let mut settings = settings();
    settings.incoming.max_bytes = 16;
    let server = start_echo(settings);
    let (mut ws, _, _) = Ws::open(server.addr);
    let big = format!("4{}", "y".repeat(10_000));
    for _ in 0..3 {
        ws.send_text(&big);
    }
    for _ in 0..3 {
        assert_eq!(ws.text_skipping_pings(), big);
    }
}
