//! What `/connections` shows of each connection's traffic: packets and bytes in, and the
//! time of the client's last packet, counted the same on both transports (a polling POST
//! counts each packet of its body, as a websocket counts each message).

use crate::support;
use crate::support::wire;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use siohub::server::BackgroundServer;
use support::ops::connections;
use support::{policy, start_hub};
use wire::*;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The `/connections` entry of Engine.IO session `sid`.
#[track_caller]
fn entry(server: &BackgroundServer, sid: &str) -> Value {
    let listed = connections(server);
    listed["connections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["sid"] == sid)
        .cloned()
        .unwrap_or_else(|| panic!("{sid} is listed: {listed}"))
}

#[test]
fn a_polling_connection_counts_the_packets_and_bytes_it_sent() {
    let server = start_hub(vec![policy("/")]);
    let (sid, _) = open_polling(server.addr);
    let opened = entry(&server, &sid);
    assert_eq!(opened["transport"], "polling");
    assert_eq!(
        (opened["packets_in"].as_u64(), opened["bytes_in"].as_u64()),
        (Some(0), Some(0))
    );

    // The clock moves on (milliseconds) before the client sends anything.
    std::thread::sleep(Duration::from_millis(5));
    let sent_from = now_ms();
    push(server.addr, &sid, "40");
    let reply = poll(server.addr, &sid).polling_body();
    assert!(reply.starts_with("40{"), "{reply}");
    let body = "42[\"ping\"]\u{1e}42[\"news\",1]";
    push(server.addr, &sid, body);

    let after = entry(&server, &sid);
    assert_eq!(after["packets_in"], 3, "{after}");
    assert_eq!(after["bytes_in"], 2 + body.len() as u64, "{after}");
    let last = after["last_activity"].as_u64().unwrap();
    assert!(
        last >= sent_from,
        "last activity {last} is after {sent_from}: {after}"
    );
    assert!(after["packets_out"].as_u64().unwrap() >= 2, "{after}");
}

#[test]
fn both_transports_count_traffic_in_alike() {
    let server = start_hub(vec![policy("/")]);
    let (mut ws, ws_sid, _) = Ws::open(server.addr);
    ws.send_text("40");
    assert!(ws.text().starts_with("40{"));
    ws.send_text("42[\"news\",1]");
    let (sid, _) = open_polling(server.addr);
    push(server.addr, &sid, "40");
    push(server.addr, &sid, "42[\"news\",1]");
    support::wait_until(
        "the websocket's two messages are counted",
        IO_TIMEOUT,
        || entry(&server, &ws_sid)["packets_in"] == 2,
    );
    let (over_ws, over_polling) = (entry(&server, &ws_sid), entry(&server, &sid));
    for key in ["packets_in", "bytes_in"] {
        assert_eq!(
            over_ws[key], over_polling[key],
            "{key}: {over_ws} / {over_polling}"
        );
    }
}

#[test]
fn connections_refuses_a_bad_offset_or_limit_and_pages_the_rest() {
    let server = start_hub(vec![policy("/")]);
    let sids: Vec<String> = (0..3).map(|_| open_polling(server.addr).0).collect();
    let get = |query: &str| {
        request(
            server.addr,
            "GET",
            &format!("/connections?{query}"),
            &support::OPERATOR,
            b"",
        )
    };
    let query_error = "offset and limit are non-negative integers, scope is node or cluster (";
    for (query, message) in [
        ("offset=-1", query_error),
        ("offset=abc", query_error),
        ("offset=99999999999999999999999", query_error),
        ("limit=-5", query_error),
        ("limit=1.5", query_error),
        ("scope=galaxy", query_error),
        ("limit=0", "limit must be between 1 and 1000, not 0"),
        ("limit=1001", "limit must be between 1 and 1000, not 1001"),
        ("namespace=/x", "namespace goes with scope=cluster only"),
    ] {
        let res = get(query);
        assert_eq!(res.status, 400, "{query}: {res:?}");
        let body = res.json();
        assert_eq!(body["code"], "INVALID_PAYLOAD", "{query}: {body}");
        let text = body["message"].as_str().unwrap();
        assert!(text.starts_with(message), "{query}: {text}");
    }
    // Good bounds page the connections, oldest first; an offset past the end is an
    // empty page with the total.
    let page = |query: &str| -> (u64, Vec<String>) {
        let res = get(query);
        assert_eq!(res.status, 200, "{query}: {res:?}");
        let body = res.json();
        let listed = body["connections"].as_array().unwrap();
        let sids = listed.iter().map(|c| c["sid"].as_str().unwrap().to_owned());
        (body["total"].as_u64().unwrap(), sids.collect())
    };
    assert_eq!(page("limit=1000"), (3, sids.clone()));
    assert_eq!(page("offset=1&limit=1"), (3, vec![sids[1].clone()]));
    assert_eq!(page("offset=2"), (3, vec![sids[2].clone()]));
    assert_eq!(page("offset=3"), (3, vec![]));
    assert_eq!(page(&format!("offset={}", usize::MAX)), (3, vec![]));
}
