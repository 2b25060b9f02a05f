//! What an anonymous client can reach (issue 9, items 1 and 4), tried as an attacker with
//! nothing but network access would: `/connections` without operator credentials, a
//! stolen Engine.IO sid used from another address or User-Agent (poll, POST, upgrade), and
//! a websocket opened from a foreign site's page (cross-site websocket hijacking), on both
//! upgrade paths. Each attack is refused and counted; the victim and the well-behaved
//! clients go on working.

use crate::support;
use crate::support::wire;

use std::net::{IpAddr, Ipv4Addr};

use siohub::config::Settings;
use siohub::server::BackgroundServer;
use support::ops::metrics_text;
use support::{policy, start_hub_with, OPERATOR, OPERATOR_KEY};
use wire::*;

/// Another loopback address: a client on another machine, as the server sees it.
const STRANGER_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
const VICTIM_AGENT: &str = "victim-browser/1.0";

fn start(adjust: impl FnOnce(&mut Settings)) -> BackgroundServer {
    start_hub_with(vec![policy("/")], adjust)
}

/// A polling request on `PATH?query` from `from` with these headers.
fn polling(
    server: &BackgroundServer,
    from: Option<IpAddr>,
    method: &str,
    query: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Response {
    let mut conn = Conn::open_from(from, server.addr);
    let len = body.len().to_string();
    let mut all = headers.to_vec();
    if method == "POST" {
        all.push(("Content-Length", &len));
    }
    conn.send_head(method, &target(query), &all);
    conn.write(body.as_bytes());
    conn.read_response().expect("a response")
}

/// Opens a polling session as the victim (its User-Agent, from 127.0.0.1).
fn victim_session(server: &BackgroundServer) -> String {
    let open = polling(
        server,
        None,
        "GET",
        POLLING,
        &[("User-Agent", VICTIM_AGENT)],
        "",
    );
    assert_eq!(open.status, 200, "{}", open.text());
    json_after(&open.text(), "0")["sid"]
        .as_str()
        .expect("a sid")
        .to_owned()
}

/// The value of `siohub_refused_total{reason=...}` in `/metrics`.
fn refused(server: &BackgroundServer, reason: &str) -> u64 {
    let metrics = metrics_text(server);
    let prefix = format!("siohub_refused_total{{reason=\"{reason}\"}} ");
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {prefix} in /metrics"))
        .trim()
        .parse()
        .unwrap()
}

/// The two ways an upgrade reaches the server.
#[derive(Debug, Clone, Copy)]
enum UpgradePath {
    /// Whole in the connection's first read (answered before any HTTP dispatcher).
    FirstRead,
    /// After another request on the same keep-alive connection (through the dispatcher).
    Dispatcher,
}

/// Sends an upgrade request by `path` from `from`; returns the response (its head only
/// for a `101`) and the connection.
fn try_upgrade(
    server: &BackgroundServer,
    path: UpgradePath,
    from: Option<IpAddr>,
    query: &str,
    headers: &[(&str, &str)],
) -> (Response, Conn) {
    let mut conn = Conn::open_from(from, server.addr);
    if let UpgradePath::Dispatcher = path {
        conn.write(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n");
        let health = conn.read_response().expect("a /health response");
        assert_eq!(health.status, 200);
    }
    conn.write(upgrade_head(query, matches!(path, UpgradePath::Dispatcher), headers).as_bytes());
    let response = conn.read_response().expect("an upgrade response");
    (response, conn)
}

/// Asserts a refused upgrade, answered as engine.io's `abortUpgrade` does: 400, `Connection:
/// close`, the message as the body.
#[track_caller]
fn assert_upgrade_refused(response: &Response, message: &str) {
    assert_eq!(response.status, 400, "{}", response.text());
    assert_eq!(response.header("connection"), Some("close"));
    assert_eq!(response.text(), message);
}

// ---------------------------------------------------------------------------------------
// /connections: operators only

#[test]
fn connections_needs_an_api_key_or_the_admin_login() {
    let hash = bcrypt::hash("ops-password", 4).unwrap();
    let server = start(|s| s.admin.password_hash = hash);
    let victim = victim_session(&server);
    let get = |headers: &[(&str, &str)]| request(server.addr, "GET", "/connections", headers, b"");
    let basic = |login: &str| {
        use base64::Engine as _;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(login)
        )
    };

    let strangers: Vec<Vec<(&str, String)>> = vec![
        vec![],
        vec![("X-API-Key", "guess".into())],
        vec![("Authorization", "Bearer guess".into())],
        vec![("Authorization", basic("root:ops-password"))],
        vec![("Authorization", basic("admin:wrong"))],
        vec![("Authorization", basic("admin"))],
        vec![("Authorization", "Basic !!!".into())],
    ];
    for headers in strangers {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let response = get(&headers);
        assert_eq!(response.status, 401, "{headers:?}: {}", response.text());
        assert_eq!(response.json()["code"], "UNAUTHORIZED", "{headers:?}");
        assert!(
            response
                .header("www-authenticate")
                .is_some_and(|c| c.starts_with("Basic ")),
            "a Basic challenge while admin logins are on"
        );
        assert!(!response.text().contains(&victim), "no sid to a stranger");
    }

    // The operators: an API key either way, or the [admin] login.
    let bearer = format!("Bearer {OPERATOR_KEY}");
    let login = basic("admin:ops-password");
    for headers in [
        OPERATOR.to_vec(),
        vec![("Authorization", bearer.as_str())],
        vec![("Authorization", login.as_str())],
        // Twice: the second time the accepted login is known without a bcrypt check.
        vec![("Authorization", login.as_str())],
    ] {
        let response = get(&headers);
        assert_eq!(response.status, 200, "{headers:?}: {}", response.text());
        let listed = response.json()["connections"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["sid"] == victim.as_str());
        assert!(listed, "{headers:?}: {}", response.text());
    }
}

#[test]
fn connections_is_closed_without_keys_and_open_when_insecure() {
    let closed = start(|s| s.api.keys.clear());
    let response = request(closed.addr, "GET", "/connections", &OPERATOR, b"");
    assert_eq!(response.status, 401);
    assert!(response.json()["message"]
        .as_str()
        .unwrap()
        .contains("api.keys"));
    // No admin login configured: no Basic challenge either.
    assert_eq!(response.header("www-authenticate"), None);

    let insecure = start(|s| {
        s.api.keys.clear();
        s.api.insecure = true;
    });
    let response = request(insecure.addr, "GET", "/connections", &[], b"");
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json()["total"], 0);
}

#[test]
fn metrics_is_open_by_default_and_for_operators_only_when_guarded() {
    let open = start(|_| {});
    let response = request(open.addr, "GET", "/metrics", &[], b"");
    assert_eq!(response.status, 200);
    assert!(response.text().contains("siohub_connections"));

    let hash = bcrypt::hash("ops-password", 4).unwrap();
    let guarded = start(|s| {
        s.metrics.require_auth = true;
        s.admin.password_hash = hash;
    });
    let get = |headers: &[(&str, &str)]| request(guarded.addr, "GET", "/metrics", headers, b"");
    for headers in [&[][..], &[("X-API-Key", "guess")][..]] {
        let response = get(headers);
        assert_eq!(response.status, 401, "{headers:?}: {}", response.text());
        assert_eq!(response.json()["code"], "UNAUTHORIZED");
        assert!(
            !response.text().contains("siohub_"),
            "no metrics to a stranger"
        );
        assert!(response.header("www-authenticate").is_some());
    }
    use base64::Engine as _;
    let login = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("admin:ops-password")
    );
    let bearer = format!("Bearer {OPERATOR_KEY}");
    for headers in [
        OPERATOR.to_vec(),
        vec![("Authorization", bearer.as_str())],
        vec![("Authorization", login.as_str())],
    ] {
        let response = get(&headers);
        assert_eq!(response.status, 200, "{headers:?}: {}", response.text());
        assert!(response.text().contains("siohub_connections"));
    }
    // The refusals are counted like any request, under the route's pattern.
    let scraped = get(&OPERATOR).text();
    assert!(
        scraped.contains(
            r#"siohub_http_requests_total{method="GET",route="/metrics",status="401"} 2"#
        ),
        "{scraped}"
    );

    // [api] insecure opens it again, as it opens /connections.
    let insecure = start(|s| {
        s.metrics.require_auth = true;
        s.api.keys.clear();
        s.api.insecure = true;
    });
    assert_eq!(
        request(insecure.addr, "GET", "/metrics", &[], b"").status,
        200
    );
}

// ---------------------------------------------------------------------------------------
// A stolen sid

#[test]
fn a_stranger_with_a_sid_cannot_poll_post_or_upgrade_the_session() {
    let server = start(|_| {});
    let victim = victim_session(&server);
    let sid = sid_query(&victim);
    let before = refused(&server, "session_mismatch");

    // From another address, even with the victim's User-Agent: refused as an unknown sid.
    let same_agent = [("User-Agent", VICTIM_AGENT)];
    for (from, agent) in [
        (Some(STRANGER_IP), &same_agent[..]),
        (None, &[("User-Agent", "curl/8")][..]),
        (None, &[][..]),
    ] {
        let poll = polling(&server, from, "GET", &sid, agent, "");
        poll.assert_engine_error(400, 1, "Session ID unknown");
        let post = polling(&server, from, "POST", &sid, agent, "40");
        post.assert_engine_error(400, 1, "Session ID unknown");
    }
    for path in [UpgradePath::FirstRead, UpgradePath::Dispatcher] {
        let query = format!("{WEBSOCKET}&sid={victim}");
        let (response, _) = try_upgrade(&server, path, Some(STRANGER_IP), &query, &[]);
        assert_upgrade_refused(&response, "Session ID unknown");
        let agent = [("User-Agent", "evil/1")];
        let (response, _) = try_upgrade(&server, path, None, &query, &agent);
        assert_upgrade_refused(&response, "Session ID unknown");
    }
    assert_eq!(refused(&server, "session_mismatch"), before + 10);

    // The victim never noticed: it connects, and upgrades without a User-Agent (as Node's
    // and Python's websocket libraries do).
    let post = polling(&server, None, "POST", &sid, &same_agent, "40");
    assert_eq!(post.status, 200, "{}", post.text());
    let poll = polling(&server, None, "GET", &sid, &same_agent, "");
    let reply = json_after(&poll.polling_body(), "40");
    assert_ne!(
        reply["sid"],
        victim.as_str(),
        "the socket id is not the sid"
    );
    let mut ws = upgrade(server.addr, &victim);
    ws.send_text(r#"421["join","lobby"]"#);
    assert!(ws.text_skipping_pings().starts_with("431[{"));
    // Once on websocket, a second upgrade is closed after its 101 (as the reference server
    // does), and a stranger's is refused before.
    let mut second = Ws::connect(server.addr, &format!("{WEBSOCKET}&sid={victim}"));
    second.try_send_text("2probe");
    second.assert_closed();
    let (response, _) = try_upgrade(
        &server,
        UpgradePath::FirstRead,
        Some(STRANGER_IP),
        &format!("{WEBSOCKET}&sid={victim}"),
        &[],
    );
    assert_upgrade_refused(&response, "Session ID unknown");
    ws.send_text(r#"421["join","lobby"]"#);
    assert!(ws.text_skipping_pings().starts_with("431[{"));
}

#[test]
fn with_ip_binding_off_another_address_may_use_the_session() {
    let server = start(|s| s.engine.bind_session_to_ip = false);
    let victim = victim_session(&server);
    let sid = sid_query(&victim);
    let agent = [("User-Agent", VICTIM_AGENT)];
    // A proxy pool: the same client's next request comes from another address.
    let post = polling(&server, Some(STRANGER_IP), "POST", &sid, &agent, "40");
    assert_eq!(post.status, 200, "{}", post.text());
    let poll = polling(&server, None, "GET", &sid, &agent, "");
    assert!(poll.polling_body().starts_with("40{"));
    // The User-Agent is still compared.
    let other = polling(&server, Some(STRANGER_IP), "GET", &sid, &[], "");
    other.assert_engine_error(400, 1, "Session ID unknown");
}

#[test]
fn no_answer_to_a_client_shows_an_engine_sid() {
    let server = start(|_| {});
    let (mut ws, sid, _) = Ws::open(server.addr);
    ws.send_text("40");
    let reply = ws.text();
    assert!(!reply.contains(&sid), "CONNECT reply {reply}");
    // Built-in events, their errors, and an unknown namespace.
    for packet in [
        r#"421["join","lobby"]"#,
        r#"422["publish",{"room":"lobby","event":"e","data":1}]"#,
        r#"423["leave","lobby"]"#,
        r#"424["publish",{"event":"e"}]"#,
        r#"425["join",{"room":7}]"#,
        "40/missing,",
    ] {
        ws.send_text(packet);
        let answer = ws.text_skipping_pings();
        assert!(!answer.contains(&sid), "{packet} -> {answer}");
    }
    // Error bodies of the HTTP endpoints.
    for response in [
        request(server.addr, "GET", "/api/v1/rooms", &[], b""),
        request(server.addr, "GET", "/connections", &[], b""),
        get(server.addr, &format!("EIO=3&transport=polling&sid={sid}")),
    ] {
        assert!(!response.text().contains(&sid), "{}", response.text());
    }
}

// ---------------------------------------------------------------------------------------
// Cross-site websocket hijacking

const APP: &str = "https://app.example";

fn with_allow_list(s: &mut Settings) {
    s.cors.origins = vec![APP.into()];
}

/// Asserts a `101`, then the open packet on the socket.
#[track_caller]
fn assert_upgraded(response: &Response, conn: &mut Conn) {
    use std::io::Read;
    assert_eq!(response.status, 101, "{}", response.text());
    let mut head = [0u8; 2];
    conn.stream().read_exact(&mut head).expect("a frame");
    let mut text = vec![0u8; usize::from(head[1] & 0x7f)];
    conn.stream()
        .read_exact(&mut text)
        .expect("the open packet");
    assert!(text.starts_with(b"0{\"sid\":"), "{text:?}");
}

#[test]
fn a_foreign_origin_cannot_open_a_websocket_on_either_path() {
    let server = start(with_allow_list);
    let before = refused(&server, "foreign_origin");
    let foreign = [
        "https://evil.example",
        "https://app.example.evil.example",
        "null",
    ];
    for path in [UpgradePath::FirstRead, UpgradePath::Dispatcher] {
        for origin in foreign {
            let (response, _) = try_upgrade(&server, path, None, WEBSOCKET, &[("Origin", origin)]);
            assert_upgrade_refused(&response, "Forbidden");
        }
    }
    assert_eq!(refused(&server, "foreign_origin"), before + 6);
    assert!(
        server.registry.is_empty(),
        "no refused upgrade opened a session"
    );
    // The allowed origin, the hub's own page, and a client that is not a browser.
    for path in [UpgradePath::FirstRead, UpgradePath::Dispatcher] {
        for headers in [
            &[("Origin", APP)][..],
            &[("Origin", "http://localhost")][..],
            &[][..],
        ] {
            let (response, mut conn) = try_upgrade(&server, path, None, WEBSOCKET, headers);
            assert_upgraded(&response, &mut conn);
        }
    }
    assert_eq!(refused(&server, "foreign_origin"), before + 6);
}

#[test]
fn an_upgrade_of_a_polling_session_from_a_foreign_origin_is_refused() {
    let server = start(with_allow_list);
    let (sid, _) = open_polling(server.addr);
    let query = format!("{WEBSOCKET}&sid={sid}");
    let (response, _) = try_upgrade(
        &server,
        UpgradePath::FirstRead,
        None,
        &query,
        &[("Origin", "https://evil.example")],
    );
    assert_upgrade_refused(&response, "Forbidden");
    // The session is untouched and upgrades from its own origin.
    let mut ws = Ws::try_connect_with(None, server.addr, &query, &[("Origin", APP)])
        .expect("the allowed origin upgrades");
    ws.send_text("2probe");
    assert_eq!(ws.text(), "3probe");
}

#[test]
fn polling_from_a_foreign_origin_is_refused_with_403() {
    let server = start(with_allow_list);
    let evil = [("Origin", "https://evil.example")];
    let handshake = polling(&server, None, "GET", POLLING, &evil, "");
    handshake.assert_engine_error(403, 4, "Forbidden");
    assert_eq!(handshake.header("access-control-allow-origin"), None);
    let (sid, _) = open_polling(server.addr);
    let post = polling(&server, None, "POST", &sid_query(&sid), &evil, "40");
    post.assert_engine_error(403, 4, "Forbidden");
    assert_eq!(
        server.registry.len(),
        1,
        "the refused handshake opened nothing"
    );
    // The allowed origin gets its CORS header.
    let allowed = polling(&server, None, "GET", POLLING, &[("Origin", APP)], "");
    assert_eq!(allowed.status, 200);
    assert_eq!(allowed.header("access-control-allow-origin"), Some(APP));
    assert_eq!(refused(&server, "foreign_origin"), 2);
}

#[test]
fn any_origin_passes_with_a_star_or_without_a_list() {
    for origins in [vec!["*".to_owned()], vec![]] {
        let server = start(|s| s.cors.origins = origins.clone());
        for path in [UpgradePath::FirstRead, UpgradePath::Dispatcher] {
            let (response, mut conn) = try_upgrade(
                &server,
                path,
                None,
                WEBSOCKET,
                &[("Origin", "https://anywhere.example")],
            );
            assert_upgraded(&response, &mut conn);
        }
        let open = polling(
            &server,
            None,
            "GET",
            POLLING,
            &[("Origin", "https://anywhere.example")],
            "",
        );
        assert_eq!(open.status, 200, "{origins:?}");
        assert_eq!(refused(&server, "foreign_origin"), 0);
    }
}
