//! Engine.IO request errors, on the wire: status, content type and exact body of every way a
//! request can be refused, as the reference server answers them.

use crate::support;
use crate::support::wire;

use support::{start_echo, test_settings};
use wire::*;

#[test]
fn missing_transport_is_transport_unknown() {
    let server = start_echo(test_settings());
    get(server.addr, "EIO=4").assert_engine_error(400, 0, "Transport unknown");
}

#[test]
fn unknown_transport_is_transport_unknown() {
    let server = start_echo(test_settings());
    get(server.addr, "EIO=4&transport=smoke").assert_engine_error(400, 0, "Transport unknown");
    // Also with a sid: the transport is checked first.
    get(server.addr, "EIO=4&transport=smoke&sid=abc").assert_engine_error(
        400,
        0,
        "Transport unknown",
    );
}

#[test]
fn a_disabled_transport_is_transport_unknown() {
    let mut settings = test_settings();
    settings.engine.transports = vec!["websocket".into()];
    let server = start_echo(settings);
    get(server.addr, POLLING).assert_engine_error(400, 0, "Transport unknown");
}

#[test]
fn unknown_sid_is_session_id_unknown() {
    let server = start_echo(test_settings());
    poll(server.addr, "nope").assert_engine_error(400, 1, "Session ID unknown");
    post(server.addr, &sid_query("nope"), b"4hello").assert_engine_error(
        400,
        1,
        "Session ID unknown",
    );
}

#[test]
fn a_handshake_that_is_not_a_get_is_a_bad_handshake_method() {
    let server = start_echo(test_settings());
    post(server.addr, POLLING, b"4hello").assert_engine_error(400, 2, "Bad handshake method");
    request(server.addr, "PUT", &target(POLLING), &[], b"").assert_engine_error(
        400,
        2,
        "Bad handshake method",
    );
    assert!(server.registry.is_empty());
}

#[test]
fn websocket_transport_without_upgrade_headers_is_a_bad_request() {
    let server = start_echo(test_settings());
    get(server.addr, WEBSOCKET).assert_engine_error(400, 3, "Bad request");
    assert!(server.registry.is_empty());
}

#[test]
fn eio_3_is_an_unsupported_protocol_version() {
    let server = start_echo(test_settings());
    get(server.addr, "EIO=3&transport=polling").assert_engine_error(
        400,
        5,
        "Unsupported protocol version",
    );
}

#[test]
fn missing_eio_is_an_unsupported_protocol_version() {
    let server = start_echo(test_settings());
    get(server.addr, "transport=polling").assert_engine_error(
        400,
        5,
        "Unsupported protocol version",
    );
    assert!(server.registry.is_empty());
}

#[test]
fn a_sid_request_with_another_method_is_a_500() {
    let server = start_echo(test_settings());
    let (sid, _) = open_polling(server.addr);
    let res = request(server.addr, "PUT", &target(&sid_query(&sid)), &[], b"4x");
    assert_eq!(res.status, 500);
    assert!(res.body.is_empty(), "{res:?}");
    // The session is untouched.
    push(server.addr, &sid, "4still here");
    assert_eq!(poll(server.addr, &sid).polling_body(), "4still here");
}

#[test]
fn a_websocket_upgrade_with_an_unknown_sid_is_a_raw_400() {
    let server = start_echo(test_settings());
    let res = raw_upgrade(&server, &format!("{WEBSOCKET}&sid=nope"));
    assert_eq!(res.status, 400);
    assert_eq!(res.header("content-type"), Some("text/html"));
    assert_eq!(res.text(), "Session ID unknown");
    // A websocket client sees the handshake fail.
    assert!(Ws::try_connect(server.addr, &format!("{WEBSOCKET}&sid=nope")).is_err());
}

/// Sends a websocket upgrade request to `PATH?query` and returns the raw answer.
fn raw_upgrade(server: &siohub::server::BackgroundServer, query: &str) -> Response {
    let mut conn = Conn::open(server.addr);
    conn.send_head(
        "GET",
        &target(query),
        &[
            ("Upgrade", "websocket"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("Sec-WebSocket-Version", "13"),
        ],
    );
    conn.read_response().unwrap()
}

#[test]
fn a_failed_websocket_handshake_is_a_raw_400_with_the_message() {
    let server = start_echo(test_settings());
    for (query, message) in [
        ("EIO=4", "Transport unknown"),
        ("EIO=4&transport=abc", "Transport unknown"),
        ("transport=websocket", "Unsupported protocol version"),
        (
            "EIO=abc&transport=websocket",
            "Unsupported protocol version",
        ),
        ("EIO=3&transport=websocket", "Unsupported protocol version"),
    ] {
        let res = raw_upgrade(&server, query);
        assert_eq!(res.status, 400, "{query}");
        assert_eq!(res.header("content-type"), Some("text/html"), "{query}");
        assert_eq!(res.text(), message, "{query}");
        assert!(Ws::try_connect(server.addr, query).is_err(), "{query}");
    }
    assert!(server.registry.is_empty());
}

#[test]
fn a_websocket_request_with_a_polling_sid_but_no_upgrade_is_a_bad_request() {
    let server = start_echo(test_settings());
    let (sid, _) = open_polling(server.addr);
    get(server.addr, &format!("{WEBSOCKET}&sid={sid}")).assert_engine_error(400, 3, "Bad request");
    // The polling session goes on.
    push(server.addr, &sid, "4a");
    assert_eq!(poll(server.addr, &sid).polling_body(), "4a");
}

#[test]
fn polling_on_a_session_that_upgraded_is_a_bad_request() {
    let server = start_echo(test_settings());
    let (sid, _) = open_polling(server.addr);
    let mut ws = upgrade(server.addr, &sid);
    // The upgrade is done once the websocket carries messages.
    ws.send_text("4ping-me");
    assert_eq!(ws.text(), "4ping-me");
    poll(server.addr, &sid).assert_engine_error(400, 3, "Bad request");
    post(server.addr, &sid_query(&sid), b"4x").assert_engine_error(400, 3, "Bad request");
    // The websocket is not disturbed by the refused requests.
    ws.send_text("4after");
    assert_eq!(ws.text(), "4after");
}

#[test]
fn garbage_requests_do_not_hurt_the_server() {
    let server = start_echo(test_settings());
    // Each answered as the reference server answers it: an error naming what is wrong, or
    // (an empty sid is no sid, as in Node's truthiness test) a handshake.
    let refused = [
        ("", 0, "Transport unknown"),
        ("EIO", 0, "Transport unknown"),
        ("EIO=&transport=", 0, "Transport unknown"),
        (
            "EIO=4&transport=polling&sid=%00%ff",
            1,
            "Session ID unknown",
        ),
        (
            "EIO=99999999999999999999&transport=polling",
            5,
            "Unsupported protocol version",
        ),
    ];
    for (q, code, message) in refused {
        get(server.addr, q).assert_engine_error(400, code, message);
    }
    for q in [
        "transport=polling&EIO=4&sid=",
        "EIO=4&&&transport=polling&=x",
    ] {
        let res = get(server.addr, q);
        assert_eq!(res.status, 200, "GET ?{q} answered {res:?}");
        assert!(res.polling_body().starts_with("0{\"sid\":"), "{res:?}");
    }
    // Raw junk on a connection, and a Content-Length that is no number: 400, no body.
    let mut conn = Conn::open(server.addr);
    conn.write(b"\x00\x01\x02 NOT HTTP\r\n\r\n");
    let res = conn.read_response().expect("an answer");
    assert_eq!((res.status, res.text()), (400, String::new()));
    let mut conn = Conn::open(server.addr);
    conn.send_head(
        "POST",
        &target(POLLING),
        &[("Content-Length", "not-a-number")],
    );
    let res = conn.read_response().expect("an answer");
    assert_eq!((res.status, res.text()), (400, String::new()));
    // Still serving.
    let (sid, _) = open_polling(server.addr);
    push(server.addr, &sid, "4ok");
    assert_eq!(poll(server.addr, &sid).polling_body(), "4ok");
}
