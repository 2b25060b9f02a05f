//! Engine.IO over HTTP long-polling, on the wire: the handshake, payloads, heartbeat,
//! overlapping and aborted requests, limits and malformed bodies.

use crate::support;
use crate::support::wire;

use std::thread;
use std::time::{Duration, Instant};

use serde_json::json;
use support::hub_state::{held_poll, wait_poll_held, wait_post_begun};
use support::{fast_heartbeat, start_echo, test_settings, wait_gone, wait_until};
use wire::*;

#[test]
fn handshake_answers_the_open_packet() {
    let mut settings = test_settings();
    settings.engine.ping_interval_ms = 300;
    settings.engine.ping_timeout_ms = 200;
    settings.engine.max_payload = 1000;
    let server = start_echo(settings);
    let res = get(server.addr, POLLING);
    let body = res.polling_body();
    let (sid, handshake) = open_polling(server.addr);
    assert_eq!(sid.len(), 20, "a 20-character sid");
    assert_eq!(
        handshake,
        json!({"sid": sid, "upgrades": ["websocket"], "pingInterval": 300, "pingTimeout": 200, "maxPayload": 1000})
    );
    // The exact text, member order included, of the first handshake.
    let first_sid = &body[9..29];
    assert_eq!(
        body,
        format!(
            r#"0{{"sid":"{first_sid}","upgrades":["websocket"],"pingInterval":300,"pingTimeout":200,"maxPayload":1000}}"#
        )
    );
    assert_ne!(first_sid, sid, "every session has its own sid");
    assert!(server.registry.get(&sid).is_some());
}

#[test]
fn handshake_offers_no_upgrade_when_websocket_is_off() {
    let mut settings = test_settings();
    settings.engine.transports = vec!["polling".into()];
    let server = start_echo(settings);
    let (_, handshake) = open_polling(server.addr);
    assert_eq!(handshake["upgrades"], json!([]));
}

#[test]
fn post_is_answered_ok_as_text_html() {
    let server = start_echo(test_settings());
    let (sid, _) = open_polling(server.addr);
    let res = post(server.addr, &sid_query(&sid), b"4hello");
    assert_eq!(res.status, 200);
    assert_eq!(res.header("content-type"), Some("text/html"));
    assert_eq!(res.text(), "ok");
}

#[test]
fn echo_of_text_over_polling() {
    let server = start_echo(test_settings());
    let (sid, _) = open_polling(server.addr);
    push(server.addr, &sid, "4hello €");
    assert_eq!(poll(server.addr, &sid).polling_body(), "4hello €");
}

#[test]
fn binary_travels_as_b_and_base64() {
    let server = start_echo(test_settings());
    let (sid, _) = open_polling(server.addr);
    push(server.addr, &sid, "bAAECA/8=");
    assert_eq!(poll(server.addr, &sid).polling_body(), "bAAECA/8=");
}

#[test]
fn several_packets_arrive_in_one_get_joined_by_record_separators() {
    let server = start_echo(test_settings());
    let (sid, _) = open_polling(server.addr);
    push(server.addr, &sid, "4hello\x1ebAQID");
    assert_eq!(poll(server.addr, &sid).polling_body(), "4hello\x1ebAQID");
    push(server.addr, &sid, "4a");
    push(server.addr, &sid, "4b\x1e4c");
    assert_eq!(poll(server.addr, &sid).polling_body(), "4a\x1e4b\x1e4c");
}

#[test]
fn a_get_waits_until_there_is_something_to_send() {
    let server = start_echo(test_settings());
    let (sid, _) = open_polling(server.addr);
    let pending = held_poll(&server, &sid);
    assert!(!pending.is_finished(), "the GET waits for packets");
    push(server.addr, &sid, "4late");
    assert_eq!(pending.join().unwrap().polling_body(), "4late");
}

#[test]
fn the_first_ping_comes_one_full_interval_after_the_handshake() {
    let mut settings = test_settings();
    settings.engine.ping_interval_ms = 1000;
    settings.engine.ping_timeout_ms = 5000;
    let server = start_echo(settings);
    let start = Instant::now();
    let (sid, _) = open_polling(server.addr);
    let body = poll(server.addr, &sid).polling_body();
    let elapsed = start.elapsed();
    assert_eq!(body, "2");
    assert!(
        elapsed >= Duration::from_millis(700),
        "the first ping came after {elapsed:?}, before one interval"
    );
    assert!(
        elapsed <= Duration::from_millis(3000),
        "ping after {elapsed:?}"
    );
}

#[test]
fn a_session_that_answers_pings_stays_open() {
    // Pings every 300 ms, a second for each pong: a test descheduled for a moment still
    // answers in time, and eight pings take well past one interval and timeout, so an
    // answer the session did not take would have closed it.
    let mut settings = fast_heartbeat();
    settings.engine.ping_timeout_ms = 1000;
    let server = start_echo(settings);
    let (sid, _) = open_polling(server.addr);
    let mut pings = 0;
    while pings < 8 {
        for packet in packets(&poll(server.addr, &sid).polling_body()) {
            assert_eq!(packet, "2");
            pings += 1;
            push(server.addr, &sid, "3");
        }
    }
    push(server.addr, &sid, "4alive");
    poll_until(server.addr, &sid, "4alive");
}

#[test]
fn a_session_that_does_not_answer_pings_is_closed() {
    // A ping timeout long enough that the GET sent right after the ping is surely held
    // when it runs out: that GET is answered with the close packet.
    let mut settings = test_settings();
    settings.engine.ping_interval_ms = 300;
    settings.engine.ping_timeout_ms = 1500;
    let server = start_echo(settings);
    let (sid, _) = open_polling(server.addr);
    assert_eq!(poll(server.addr, &sid).polling_body(), "2");
    let ping_seen = Instant::now();
    // No pong: the held GET is answered with the close packet once the timeout is over.
    let pending = held_poll(&server, &sid);
    assert_eq!(pending.join().unwrap().polling_body(), "1");
    assert!(
        ping_seen.elapsed() >= Duration::from_millis(1000),
        "closed {:?} after the ping, before the ping timeout",
        ping_seen.elapsed()
    );
    poll(server.addr, &sid).assert_engine_error(400, 1, "Session ID unknown");
    wait_gone(&server, &sid);
}

#[test]
fn after_a_ping_timeout_the_sid_is_unknown() {
    let mut settings = test_settings();
    settings.engine.ping_interval_ms = 300;
    settings.engine.ping_timeout_ms = 1000;
    let server = start_echo(settings);
    let opened = Instant::now();
    let (sid, _) = open_polling(server.addr);
    // Nobody polls: the ping waits in the queue, the pong never comes. Once the ping
    // timeout is over the sid is unknown at once: no close packet waits for a poll.
    wait_gone(&server, &sid);
    assert!(
        opened.elapsed() >= Duration::from_millis(300 + 1000),
        "gone {:?} after the handshake, before a ping interval and timeout",
        opened.elapsed()
    );
    poll(server.addr, &sid).assert_engine_error(400, 1, "Session ID unknown");
    assert!(server.registry.is_empty());
}

#[test]
fn a_ping_from_the_client_closes_the_session() {
    let server = start_echo(test_settings());
    let (sid, _) = open_polling(server.addr);
    let pending = held_poll(&server, &sid);
    push(server.addr, &sid, "2");
    assert_eq!(pending.join().unwrap().polling_body(), "1");
    poll(server.addr, &sid).assert_engine_error(400, 1, "Session ID unknown");
    wait_gone(&server, &sid);
}

#[test]
fn a_close_packet_answers_the_pending_get_with_noop_and_ends_the_session() {
    let server = start_echo(test_settings());
    let (sid, _) = open_polling(server.addr);
    let pending = held_poll(&server, &sid);
    push(server.addr, &sid, "1");
    assert_eq!(pending.join().unwrap().polling_body(), "6");
    wait_gone(&server, &sid);
    poll(server.addr, &sid).assert_engine_error(400, 1, "Session ID unknown");
}

#[test]
fn a_close_packet_without_a_pending_get_ends_the_session() {
    let server = start_echo(test_settings());
    let (sid, _) = open_polling(server.addr);
    push(server.addr, &sid, "1");
    // A GET may have been on its way: the next one takes the `6` it would have had, once.
    assert_eq!(server.hub.counters().closed_polling_sessions(), 1);
    assert_eq!(poll(server.addr, &sid).polling_body(), "6");
    wait_gone(&server, &sid);
    assert_eq!(server.hub.counters().closed_polling_sessions(), 0);
    poll(server.addr, &sid).assert_engine_error(400, 1, "Session ID unknown");
}

#[test]
fn a_closed_session_takes_no_post_while_it_waits_for_its_last_poll() {
    let server = start_echo(test_settings());
    let (sid, _) = open_polling(server.addr);
    push(server.addr, &sid, "1");
    post(server.addr, &sid_query(&sid), b"4late").assert_engine_error(400, 1, "Session ID unknown");
    assert_eq!(poll(server.addr, &sid).polling_body(), "6");
    poll(server.addr, &sid).assert_engine_error(400, 1, "Session ID unknown");
}

#[test]
fn a_closed_session_waits_for_its_last_poll_at_most_a_ping_timeout() {
    let server = start_echo(fast_heartbeat());
    let (sid, _) = open_polling(server.addr);
    push(server.addr, &sid, "1");
    // Nobody polls: the session goes on its own once the bound is over.
    wait_gone(&server, &sid);
    assert_eq!(server.hub.counters().closed_polling_sessions(), 0);
    poll(server.addr, &sid).assert_engine_error(400, 1, "Session ID unknown");
}

#[test]
fn overlapping_gets_are_refused_and_close_the_session() {
    let server = start_echo(test_settings());
    let (sid, _) = open_polling(server.addr);
    let first = held_poll(&server, &sid);
    poll(server.addr, &sid).assert_engine_error(400, 3, "Bad request");
    assert_eq!(first.join().unwrap().polling_body(), "1");
    wait_gone(&server, &sid);
    poll(server.addr, &sid).assert_engine_error(400, 1, "Session ID unknown");
}

#[test]
fn overlapping_posts_are_refused_and_close_the_session() {
    let server = start_echo(test_settings());
    let (sid, _) = open_polling(server.addr);
    // A POST whose chunked body is still coming in.
    let begun = server.hub.counters().posts_begun();
    let mut slow = Conn::open(server.addr);
    slow.send_head(
        "POST",
        &target(&sid_query(&sid)),
        &[("Transfer-Encoding", "chunked")],
    );
    slow.send_chunk(b"4hel");
    wait_post_begun(&server, begun);
    post(server.addr, &sid_query(&sid), b"4x").assert_engine_error(400, 3, "Bad request");
    poll(server.addr, &sid).assert_engine_error(400, 1, "Session ID unknown");
    wait_gone(&server, &sid);
    // The slow POST ends; what it carried goes nowhere, and its answer says so.
    slow.send_chunk(b"lo");
    slow.send_chunk(b"");
    let res = slow.read_response().unwrap();
    res.assert_engine_error(400, 1, "Session ID unknown");
    poll(server.addr, &sid).assert_engine_error(400, 1, "Session ID unknown");
}

#[test]
fn a_pending_get_aborted_by_the_client_closes_the_session() {
    let server = start_echo(test_settings());
    let (sid, _) = open_polling(server.addr);
    let (other, _) = open_polling(server.addr);
    let held = server.hub.counters().polls_held();
    let mut conn = Conn::open(server.addr);
    conn.send_head("GET", &target(&sid_query(&sid)), &[]);
    wait_poll_held(&server, held);
    conn.abort();
    // Nothing but the aborted GET tells the server: the session must go on its own.
    wait_gone(&server, &sid);
    poll(server.addr, &sid).assert_engine_error(400, 1, "Session ID unknown");
    assert!(server.registry.get(&other).is_some());
}

#[test]
fn a_post_whose_client_goes_away_mid_body_closes_the_session() {
    let server = start_echo(test_settings());
    let (sid, _) = open_polling(server.addr);
    let (other, _) = open_polling(server.addr);
    let begun = server.hub.counters().posts_begun();
    let mut conn = Conn::open(server.addr);
    conn.send_head(
        "POST",
        &target(&sid_query(&sid)),
        &[("Transfer-Encoding", "chunked")],
    );
    conn.send_chunk(b"4hel");
    wait_post_begun(&server, begun);
    conn.abort();
    // As in the reference server ("data request connection closed prematurely"): the
    // session closes, so the client's next POST, whichever worker serves it and whenever
    // the aborted one is noticed, finds it closed (an overlap closes it too).
    wait_gone(&server, &sid);
    assert_eq!(post(server.addr, &sid_query(&sid), b"4x").status, 400);
    assert!(server.registry.get(&other).is_some());
}

#[test]
fn a_post_over_max_payload_is_refused_with_413() {
    let mut settings = test_settings();
    settings.engine.max_payload = 1000;
    let server = start_echo(settings);
    let (sid, _) = open_polling(server.addr);
    // Refused on the Content-Length alone: the body need not be sent.
    let mut conn = Conn::open(server.addr);
    conn.send_head(
        "POST",
        &target(&sid_query(&sid)),
        &[("Content-Length", "1001")],
    );
    assert_eq!(conn.read_response().unwrap().status, 413);
    // Exactly max_payload is fine.
    let body = format!("4{}", "x".repeat(999));
    push(server.addr, &sid, &body);
    assert_eq!(poll(server.addr, &sid).polling_body(), body);
}

#[test]
fn a_chunked_post_over_max_payload_is_refused_with_413() {
    let mut settings = test_settings();
    settings.engine.max_payload = 1000;
    let server = start_echo(settings);
    let (sid, _) = open_polling(server.addr);
    let mut conn = Conn::open(server.addr);
    conn.send_head(
        "POST",
        &target(&sid_query(&sid)),
        &[("Transfer-Encoding", "chunked")],
    );
    conn.send_chunk(format!("4{}", "x".repeat(599)).as_bytes());
    conn.send_chunk("y".repeat(600).as_bytes());
    assert_eq!(conn.read_response().unwrap().status, 413);
    // The session carries on, as in the reference server.
    push(server.addr, &sid, "4small");
    assert_eq!(poll(server.addr, &sid).polling_body(), "4small");
}

#[test]
fn a_malformed_payload_closes_the_session_and_only_that_one() {
    let server = start_echo(test_settings());
    let (bystander, _) = open_polling(server.addr);
    let bodies: [&[u8]; 7] = [
        b"9abc",
        b"b!!!",
        b"4ok\x1e9bad",
        b"4a\x1e\x1e4b",
        b"",
        b"4\xff\xfe",
        b"xhello",
    ];
    for body in bodies {
        let (sid, _) = open_polling(server.addr);
        let res = post(server.addr, &sid_query(&sid), body);
        assert_eq!(res.status, 200, "{body:?}: {res:?}");
        // As in the reference server, the session is gone at once: no close packet waits.
        poll(server.addr, &sid).assert_engine_error(400, 1, "Session ID unknown");
        wait_gone(&server, &sid);
    }
    push(server.addr, &bystander, "4still here");
    assert_eq!(poll(server.addr, &bystander).polling_body(), "4still here");
}

#[test]
fn a_malformed_payload_answers_the_pending_get_with_close() {
    let server = start_echo(test_settings());
    let (sid, _) = open_polling(server.addr);
    let pending = held_poll(&server, &sid);
    push(server.addr, &sid, "9abc");
    assert_eq!(pending.join().unwrap().polling_body(), "1");
    wait_gone(&server, &sid);
}

#[test]
fn a_session_ends_with_the_close_packet_when_its_buffer_overflows() {
    let mut settings = test_settings();
    settings.outgoing.max_packets = 5;
    let server = start_echo(settings);
    let (sid, _) = open_polling(server.addr);
    // Six echoes queued while nobody polls: one over the bound.
    push(server.addr, &sid, "4a\x1e4b\x1e4c\x1e4d\x1e4e\x1e4f");
    assert_polling_closed(server.addr, &sid);
}

/// The official suite's "forcefully closes the session": a GET and a POST `1` sent at once.
/// With several workers the two requests are served by different threads and reach the
/// session in either order; whichever comes first, the GET is answered `6`, the POST `ok`,
/// and the sid is unknown from then on. Half the rounds write the POST first, so both orders
/// happen; lanes run rounds side by side.
#[test]
fn a_close_sent_with_a_poll_answers_the_poll_with_noop_whichever_arrives_first() {
    const LANES: usize = 4;
    const ROUNDS: usize = 100;
    let server = start_echo(test_settings());
    assert!(server_workers() >= 2, "the race needs two workers");
    let addr = server.addr;
    let lanes: Vec<_> = (0..LANES)
        .map(|lane| {
            thread::spawn(move || {
                for round in 0..ROUNDS {
                    close_with_a_poll_in_flight(addr, (lane + round) % 2 == 0);
                }
            })
        })
        .collect();
    for lane in lanes {
        lane.join().expect("every round answers the poll with `6`");
    }
}

fn server_workers() -> usize {
    test_settings().server.workers
}

/// One round of the case: a fresh session, a GET and a POST `1` on two connections (the POST
/// written first if `post_first`), both answers read, then one more GET.
#[track_caller]
fn close_with_a_poll_in_flight(addr: std::net::SocketAddr, post_first: bool) {
    let (sid, _) = open_polling(addr);
    let query = target(&sid_query(&sid));
    let mut get = Conn::open(addr);
    let mut post = Conn::open(addr);
    let send_get = |conn: &mut Conn| conn.send_head("GET", &query, &[]);
    let send_post = |conn: &mut Conn| {
        conn.send_head(
            "POST",
            &query,
            &[("Content-Type", "text/plain"), ("Content-Length", "1")],
        );
        conn.write(b"1");
    };
    if post_first {
        send_post(&mut post);
        send_get(&mut get);
    } else {
        send_get(&mut get);
        send_post(&mut post);
    }
    let posted = post.read_response().expect("the POST is answered");
    let polled = get.read_response().expect("the GET is answered");
    assert_eq!(
        (polled.status, polled.text()),
        (200, "6".to_owned()),
        "the poll in flight (POST written first: {post_first})"
    );
    assert_eq!((posted.status, posted.text()), (200, "ok".to_owned()));
    poll(addr, &sid).assert_engine_error(400, 1, "Session ID unknown");
}

/// A polling handshake is answered only once the ConnectionManager has registered its
/// session: the client's next request, on a connection of its own (either of the two
/// workers may serve it), always finds its sid, and so does the server's registry the
/// moment the open packet is read. A websocket-first session (whose sid no request names)
/// starts at once and is registered right after.
#[test]
fn the_request_after_a_handshake_always_finds_its_sid() {
    let server = start_echo(test_settings());
    for round in 0..150 {
        let (sid, _) = open_polling(server.addr);
        assert!(server.registry.get(&sid).is_some(), "round {round}");
        let res = post(server.addr, &sid_query(&sid), b"4next");
        assert_eq!(res.status, 200, "round {round}: {res:?}");
        assert_eq!(poll(server.addr, &sid).text(), "4next", "round {round}");
        let (ws, sid, _) = Ws::open(server.addr);
        wait_until(
            &format!("round {round}: {sid} registered"),
            IO_TIMEOUT,
            || server.registry.get(&sid).is_some(),
        );
        drop(ws);
    }
}

/// `data` gzip-compressed.
fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn a_compressed_post_body_is_never_inflated() {
    let mut settings = test_settings();
    settings.engine.max_payload = 2000;
    let server = start_echo(settings);
    let (bystander, _) = open_polling(server.addr);
    // A gzip bomb: 1.5 MB of one packet in a body within max_payload. The hub takes request
    // bodies as they come (Content-Encoding is not honoured, as in the reference server):
    // nothing is inflated, and the compressed bytes are a malformed payload that closes
    // that session like any other.
    let bomb = gzip(format!("4{}", "x".repeat(1_500_000)).as_bytes());
    assert!(bomb.len() < 2000, "{} bytes", bomb.len());
    let (sid, _) = open_polling(server.addr);
    let res = request(
        server.addr,
        "POST",
        &target(&sid_query(&sid)),
        &[("Content-Encoding", "gzip")],
        &bomb,
    );
    assert_eq!((res.status, res.text()), (200, "ok".to_owned()));
    poll(server.addr, &sid).assert_engine_error(400, 1, "Session ID unknown");
    wait_gone(&server, &sid);
    assert_eq!(bytes_in_total(&server), bomb.len() as u64);
    push(server.addr, &bystander, "4fine");
    assert_eq!(poll(server.addr, &bystander).polling_body(), "4fine");
}

/// Bytes the hub has read from clients in all.
fn bytes_in_total(server: &siohub::server::BackgroundServer) -> u64 {
    server.hub.counters().traffic().bytes_in
}
