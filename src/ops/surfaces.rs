//! What start-up tells an operator about each surface the hub serves, one log line each:
//! where Socket.IO listens, who may use the HTTP API (and `/connections`), and who may
//! scrape `/metrics`, each with the configuration key that changes it. A surface open to
//! anyone, or closed to everyone, is a warning.

use std::net::SocketAddr;

use log::Level;

use crate::config::Settings;

/// The start-up lines for a hub listening on `addr`, with the level each is logged at.
pub fn startup_lines(settings: &Settings, addr: SocketAddr) -> Vec<(Level, String)> {
    let admin_login = !settings.admin.password_hash.is_empty();
    let mut lines = vec![
        socket_io_line(settings, addr),
        api_line(settings, admin_login),
        metrics_line(settings, admin_login),
        (Level::Info, crate::admin::admin_access_line(settings)),
        (
            Level::Info,
            crate::dashboard::home::startup_line(settings, addr),
        ),
    ];
    if settings.parser() == siohub_protocol::Parser::Msgpack {
        lines.push((Level::Warn, MSGPACK_LINE.to_owned()));
    }
    lines
}

/// With the msgpack parser, the clients that speak JSON only: the dashboard's own client and
/// the official Admin UI's page (as against a Node server with that parser).
const MSGPACK_LINE: &str = "parser: msgpack ([server] parser): every client needs \
    socket.io-msgpack-parser 3.x; the dashboard and the official Admin UI speak the JSON \
    parser and cannot connect to /admin";

fn socket_io_line(settings: &Settings, addr: SocketAddr) -> (Level, String) {
    let transports = settings.engine.transports.join(", ");
    (
        Level::Info,
        format!(
            "siohub listening on http://{addr}{}: Socket.IO ({transports})",
            settings.server.path
        ),
    )
}

fn api_line(settings: &Settings, admin_login: bool) -> (Level, String) {
    let api = &settings.api;
    if api.insecure {
        return (
            Level::Warn,
            "API: /api/v1 and /connections are open to anyone who can reach the port ([api] insecure = true; development only)".into(),
        );
    }
    match api.keys.len() {
        0 => {
            let connections = if admin_login {
                "/connections takes the [admin] login only"
            } else {
                "/connections is closed too"
            };
            (
                Level::Warn,
                format!("API: no API keys configured: /api/v1 refuses every request with 401 ({connections}); set [api] keys (SOCKETIO_API__KEYS)"),
            )
        }
        n => (
            Level::Info,
            format!(
                "API: {n} API key(s) configured ([api] keys): /api/v1 and /connections need one{}",
                if admin_login {
                    " or the [admin] login for /connections"
                } else {
                    ""
                }
            ),
        ),
    }
}

fn metrics_line(settings: &Settings, admin_login: bool) -> (Level, String) {
    if !settings.metrics.require_auth {
        return (
            Level::Info,
            "metrics: /metrics is open to anyone who can reach the port ([metrics] require_auth = false)".into(),
        );
    }
    let api = &settings.api;
    if api.insecure {
        return (
            Level::Warn,
            "metrics: /metrics is guarded ([metrics] require_auth = true) but open to anyone: [api] insecure = true".into(),
        );
    }
    if api.keys.is_empty() && !admin_login {
        return (
            Level::Warn,
            "metrics: /metrics is guarded ([metrics] require_auth = true) and refuses every scrape: set [api] keys or [admin] password_hash".into(),
        );
    }
    (
        Level::Info,
        "metrics: /metrics is guarded ([metrics] require_auth = true): an API key or the [admin] login".into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(adjust: impl FnOnce(&mut Settings)) -> Vec<(Level, String)> {
        let mut settings = Settings::default();
        adjust(&mut settings);
        startup_lines(&settings, "127.0.0.1:3000".parse().unwrap())
    }

    #[test]
    fn the_msgpack_parser_warns_that_the_json_only_clients_cannot_connect() {
        let out = lines(|s| s.server.parser = "msgpack".into());
        assert_eq!(out.len(), 6);
        assert_eq!(out[5].0, Level::Warn);
        assert!(out[5].1.contains("dashboard"), "{}", out[5].1);
    }

    #[test]
    fn the_defaults_say_where_socket_io_listens_and_that_the_api_is_closed() {
        let out = lines(|_| {});
        assert_eq!(out.len(), 5);
        assert_eq!(
            out[0],
            (
                Level::Info,
                "siohub listening on http://127.0.0.1:3000/socket.io/: Socket.IO (polling, websocket)".into()
            )
        );
        assert_eq!(out[1].0, Level::Warn);
        assert!(out[1].1.contains("no API keys configured"), "{}", out[1].1);
        assert!(
            out[1].1.contains("/connections is closed too"),
            "{}",
            out[1].1
        );
        assert_eq!(out[2].0, Level::Info);
        assert!(out[2].1.contains("open to anyone"), "{}", out[2].1);
        // With no password hash and no key, /admin and the dashboard say how to turn them on.
        assert!(
            out[3].1.contains("set [admin] password_hash"),
            "{}",
            out[3].1
        );
        assert!(out[4].1.contains("password_hash"), "{}", out[4].1);
    }

    #[test]
    fn keys_insecure_and_the_metrics_guard_are_each_said() {
        let keyed = lines(|s| s.api.keys = vec!["secret-one".into(), "secret-two".into()]);
        assert_eq!(keyed[1].0, Level::Info);
        assert!(
            keyed[1].1.contains("2 API key(s) configured"),
            "{}",
            keyed[1].1
        );
        assert!(
            keyed.iter().all(|(_, line)| !line.contains("secret")),
            "{keyed:?}"
        );

        let insecure = lines(|s| s.api.insecure = true);
        assert_eq!(insecure[1].0, Level::Warn);
        assert!(
            insecure[1].1.contains("insecure = true"),
            "{}",
            insecure[1].1
        );

        let guarded = lines(|s| {
            s.metrics.require_auth = true;
            s.api.keys = vec!["k".into()];
        });
        assert_eq!(guarded[2].0, Level::Info);
        assert!(guarded[2].1.contains("is guarded"), "{}", guarded[2].1);

        let unreachable = lines(|s| s.metrics.require_auth = true);
        assert_eq!(unreachable[2].0, Level::Warn);
        assert!(
            unreachable[2].1.contains("refuses every scrape"),
            "{}",
            unreachable[2].1
        );
    }
}
