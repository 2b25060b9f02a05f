//! What a client sends never reaches the log whole, and cannot forge a line: the real
//! binary's standard error, with a client sending names that carry a newline and a fake log
//! line, and names far over the shown length; and a client repeating a refused event gets
//! one line per `warn_interval_ms`, then the count of the lines held back.

use crate::support::binary;
use crate::support::temp_file::TempFile;
use crate::support::wait_until;
use crate::support::wire;

use std::time::{Duration, Instant};

use binary::Server;
use serde_json::json;
use wire::*;

/// A line a client would like the operator to read as the hub's own.
const FORGED: &str = "[2026-12-01T00:00:00Z WARN  siohub] admin password reset by request";

const INTERVAL_MS: u64 = 1000;

fn server() -> Server {
    Server::start(
        &[],
        &[
            ("SOCKETIO_LOGGING__LEVEL", "info"),
            (
                "SOCKETIO_LOGGING__WARN_INTERVAL_MS",
                &INTERVAL_MS.to_string(),
            ),
        ],
    )
}

/// Waits until `count` lines of the server's standard error contain `needle`.
#[track_caller]
fn lines_with(server: &Server, needle: &str, count: usize) -> Vec<String> {
    let mut found = Vec::new();
    wait_until(
        &format!("{count} log lines with {needle:?}"),
        IO_TIMEOUT,
        || {
            found = server
                .stderr()
                .into_iter()
                .filter(|l| l.contains(needle))
                .collect();
            found.len() >= count
        },
    );
    found
}

/// The number of held-back lines a line reports at its end (0 when it reports none).
fn suppressed_in(line: &str) -> u64 {
    line.strip_suffix(" more like this suppressed since the last one)")
        .and_then(|head| head.rsplit_once(" ("))
        .and_then(|(_, n)| n.parse().ok())
        .unwrap_or(0)
}

/// Lines a client wrote itself: text of its own at the start of a line (env_logger indents
/// the continuation of a message that holds a newline).
fn forged_lines(server: &Server) -> Vec<String> {
    server
        .stderr()
        .into_iter()
        .filter(|l| {
            let l = l.trim_start();
            l.starts_with(FORGED) || l.starts_with('y')
        })
        .collect()
}

#[test]
fn client_text_is_escaped_and_cut_and_repeats_are_counted() {
    let server = server();
    let (mut ws, _, _) = Ws::open(server.addr());
    // A namespace name with a newline, a fake line, and 200 more bytes (longer than what a
    // log line shows, within max_namespace_name_bytes); sent 20 times.
    let nsp = format!("/x\n{FORGED}\n{}", "y".repeat(150));
    let started = Instant::now();
    for _ in 0..20 {
        ws.send_text(&format!("40{nsp},"));
        let refusal = ws.text_skipping_pings();
        assert!(refusal.starts_with("44/x"), "{}", &refusal[..40]);
    }
    let windows = 1 + started.elapsed().as_millis() as u64 / INTERVAL_MS;
    let logged = lines_with(&server, "CONNECT to unknown namespace", 1);
    assert!(
        logged.len() as u64 <= windows,
        "at most one line per interval for twenty refusals: {logged:?}"
    );
    let line = &logged[0];
    assert!(
        line.contains(&format!("\"/x\\n{FORGED}\\ny")),
        "quoted and escaped: {line}"
    );
    assert!(line.contains("…(+"), "cut: {line}");
    assert!(
        line.len() < 400,
        "at most 128 bytes of the name: {} bytes",
        line.len()
    );
    assert_eq!(forged_lines(&server), Vec::<String>::new());

    // Once the interval has passed, the next refusal is written with the count held back:
    // every refusal is either a line or counted in one.
    std::thread::sleep(Duration::from_millis(INTERVAL_MS + 100));
    ws.send_text(&format!("40{nsp},"));
    assert!(ws.text_skipping_pings().starts_with("44/x"));
    let before = logged.len();
    let logged = lines_with(&server, "CONNECT to unknown namespace", before + 1);
    let accounted: u64 = logged.iter().map(|l| 1 + suppressed_in(l)).sum();
    assert_eq!(accounted, 21, "{logged:?}");
    assert!(suppressed_in(logged.last().unwrap()) > 0, "{logged:?}");

    // A refused built-in event, repeated: one line per interval, and the client is served.
    ws.send_text("40");
    ws.text_skipping_pings();
    let room = format!("user:\n{FORGED}");
    let started = Instant::now();
    for id in 1..=30 {
        let body = ack(&mut ws, id, "join", json!([room]));
        assert_eq!(error_code(&body), Some("PERMISSION_DENIED"), "{body}");
    }
    let windows = 1 + started.elapsed().as_millis() as u64 / INTERVAL_MS;
    let logged = lines_with(&server, "join\" refused", 1);
    assert!(logged.len() as u64 <= windows, "{logged:?}");
    assert_eq!(forged_lines(&server), Vec::<String>::new());
}

/// A namespace pattern lets a client pick a name with a newline and a fake line in it; a
/// join over `max_rooms_per_socket` in that namespace, repeated, must neither forge a line
/// (the session's own refusal line showed the name raw) nor write one line per refusal.
#[test]
fn refused_joins_over_the_room_bound_in_a_client_named_namespace() {
    let config = TempFile::with(
        "[limits]\nmax_rooms_per_socket = 2\n\n[[namespaces]]\nname = \"/t-{id}\"\n",
    );
    let server = Server::start(
        &["--config", config.path()],
        &[
            ("SOCKETIO_LOGGING__LEVEL", "info"),
            (
                "SOCKETIO_LOGGING__WARN_INTERVAL_MS",
                &INTERVAL_MS.to_string(),
            ),
        ],
    );
    let (mut ws, _, _) = Ws::open(server.addr());
    let nsp = format!("/t-x\n{FORGED}");
    ws.send_text(&format!("40{nsp},"));
    assert!(ws.text_skipping_pings().starts_with(&format!("40{nsp},")));
    // Two joins fit; every further one is refused.
    let started = Instant::now();
    for id in 1..=20u64 {
        ws.send_text(&format!(
            "42{nsp},{id}{}",
            json!(["join", format!("r{id}")])
        ));
        let reply = ws.text_skipping_pings();
        let prefix = format!("43{nsp},{id}");
        assert!(reply.starts_with(&prefix), "{reply}");
        if id > 2 {
            assert!(reply.contains("RATE_LIMIT_EXCEEDED"), "{reply}");
        }
    }
    let windows = 1 + started.elapsed().as_millis() as u64 / INTERVAL_MS;
    let logged = lines_with(&server, "join refused: in 2 rooms already", 1);
    assert!(
        logged.len() as u64 <= windows,
        "at most one line per interval for eighteen refusals: {logged:?}"
    );
    assert!(
        logged[0].contains(&format!("\"/t-x\\n{FORGED}\"")),
        "quoted and escaped: {}",
        logged[0]
    );
    assert_eq!(forged_lines(&server), Vec::<String>::new());
}
