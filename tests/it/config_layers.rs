//! The configuration as a user gives it to the real binary: each layer (embedded defaults,
//! `--config` file, `SOCKETIO_` environment nested and flat, CLI flags) overrides the one
//! before; `--print-config` masks every secret; each invalid value stops start-up with one
//! line naming the key (exit 2); and the example files start a server that serves.

use crate::support;
use crate::support::binary;
use crate::support::wire;

use binary::{run, Server};
use serde_json::{json, Value};
use support::temp_file::TempFile;

fn config_file(text: &str) -> TempFile {
    TempFile::with(text)
}

fn print_config(args: &[&str], env: &[(&str, &str)]) -> Value {
    let mut all = vec!["--print-config"];
    all.extend_from_slice(args);
    let out = run(&all, env);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

const FILE: &str = r#"
[server]
port = 4001
host = "127.0.0.2"

[cors]
origins = ["https://file.example"]

[limits]
max_connections = 10
ip_connections_per_s = 5

[webhook]
url = "http://127.0.0.1:9/file"
timeout_ms = 100

[shutdown]
grace_s = 7

[logging]
level = "warn"

[[namespaces]]
name = "/"
rate_limit = { per_s = 5, burst = 10 }
forward = ["chat"]
"#;

#[test]
fn each_layer_overrides_the_one_before() {
    // Embedded defaults.
    let defaults = print_config(&[], &[]);
    assert_eq!(defaults["server"]["port"], 3000);
    assert_eq!(defaults["limits"]["max_connections"], 0);
    assert_eq!(defaults["webhook"]["timeout_ms"], 5000);
    assert_eq!(defaults["shutdown"]["grace_s"], 10);
    assert_eq!(defaults["adapter"]["kind"], "memory");
    assert_eq!(defaults["admin"]["read_only"], false);
    assert_eq!(
        defaults["namespaces"][0]["rate_limit"],
        json!({ "per_s": 0, "burst": 20 })
    );
    assert_eq!(defaults["namespaces"][0]["forward"], json!([]));

    // The file over the defaults.
    let file = config_file(FILE);
    let from_file = print_config(&["--config", file.path()], &[]);
    assert_eq!(from_file["server"]["port"], 4001);
    assert_eq!(from_file["server"]["host"], "127.0.0.2");
    assert_eq!(
        from_file["server"]["path"], "/socket.io/",
        "untouched keys keep their defaults"
    );
    assert_eq!(from_file["limits"]["max_connections"], 10);
    assert_eq!(from_file["limits"]["ip_connection_burst"], 20);
    assert_eq!(from_file["webhook"]["timeout_ms"], 100);
    assert_eq!(from_file["shutdown"]["grace_s"], 7);
    assert_eq!(from_file["logging"]["level"], "warn");
    assert_eq!(
        from_file["namespaces"][0]["rate_limit"],
        json!({ "per_s": 5, "burst": 10 })
    );
    assert_eq!(from_file["namespaces"][0]["forward"], json!(["chat"]));
    assert_eq!(
        from_file["namespaces"][0]["max_event_bytes"], 65536,
        "policy keys not given keep their defaults"
    );

    // The environment over the file: nested and flat names.
    let env = [
        ("SOCKETIO_PORT", "4002"),
        ("SOCKETIO_HOST", "127.0.0.3"),
        ("SOCKETIO_CORS", "https://a.example, https://b.example"),
        ("SOCKETIO_LOGGER_LEVEL", "debug"),
        ("SOCKETIO_LIMITS__MAX_CONNECTIONS", "20"),
        ("SOCKETIO_WEBHOOK__TIMEOUT_MS", "200"),
        ("SOCKETIO_SHUTDOWN__GRACE_S", "8"),
        ("SOCKETIO_ADAPTER__KIND", "redis"),
        ("SOCKETIO_ADAPTER__KEY_PREFIX", "my-app"),
        ("SOCKETIO_ADMIN__READ_ONLY", "true"),
        ("SOCKETIO_LOGGING__FORMAT", "json"),
    ];
    let from_env = print_config(&["--config", file.path()], &env);
    assert_eq!(from_env["server"]["port"], 4002);
    assert_eq!(from_env["server"]["host"], "127.0.0.3");
    assert_eq!(
        from_env["cors"]["origins"],
        json!(["https://a.example", "https://b.example"])
    );
    assert_eq!(from_env["logging"]["level"], "debug");
    assert_eq!(from_env["logging"]["format"], "json");
    assert_eq!(from_env["limits"]["max_connections"], 20);
    assert_eq!(
        from_env["limits"]["ip_connections_per_s"], 5,
        "the file's value stays"
    );
    assert_eq!(from_env["webhook"]["timeout_ms"], 200);
    assert_eq!(from_env["shutdown"]["grace_s"], 8);
    assert_eq!(from_env["adapter"]["kind"], "redis");
    assert_eq!(from_env["adapter"]["key_prefix"], "my-app");
    assert_eq!(from_env["admin"]["read_only"], true);

    // CLI flags over the environment.
    let from_cli = print_config(
        &[
            "--config",
            file.path(),
            "--port",
            "4003",
            "--host",
            "127.0.0.4",
        ],
        &env,
    );
    assert_eq!(from_cli["server"]["port"], 4003);
    assert_eq!(from_cli["server"]["host"], "127.0.0.4");
    assert_eq!(from_cli["limits"]["max_connections"], 20);
}

#[test]
fn print_config_masks_every_secret() {
    let hash = "$2b$12$LvQnWU18iUMuM8pMTuYFvuAnZBMWECxnCkY4708kL7PEbp9I.D4lK";
    let env = [
        (
            "SOCKETIO_AUTH__JWT_SECRET",
            "jwt-secret-value-of-32-bytes-or-more",
        ),
        ("SOCKETIO_WEBHOOK__URL", "http://127.0.0.1:9/hook"),
        ("SOCKETIO_WEBHOOK__SECRET", "webhook-secret-value"),
        ("SOCKETIO_ADMIN__PASSWORD_HASH", hash),
        ("SOCKETIO_API__KEYS", "api-key-value-1,api-key-value-2"),
        ("SOCKETIO_ADAPTER__KIND", "redis"),
        (
            "SOCKETIO_ADAPTER__REDIS_URL",
            "redis://user:redis-password-value@127.0.0.1:6379/0",
        ),
    ];
    let out = run(&["--print-config"], &env);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for secret in [
        "jwt-secret-value",
        "webhook-secret-value",
        hash,
        "redis-password-value",
        "api-key-value-1",
        "api-key-value-2",
    ] {
        assert!(!text.contains(secret), "{secret} shows in {text}");
    }
    let config: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(config["auth"]["jwt_secret"], "***");
    assert_eq!(config["webhook"]["secret"], "***");
    assert_eq!(config["admin"]["password_hash"], "***");
    assert_eq!(
        config["adapter"]["redis_url"],
        "redis://user:***@127.0.0.1:6379/0"
    );
    assert_eq!(config["webhook"]["url"], "http://127.0.0.1:9/hook");
    // Empty secrets stay empty (nothing to hide, and it shows they are unset).
    let plain = print_config(&[], &[]);
    assert_eq!(plain["auth"]["jwt_secret"], "");
    assert_eq!(plain["webhook"]["secret"], "");
}

/// Environment variables given to one run.
type Env<'a> = &'a [(&'a str, &'a str)];

/// Asserts that start-up stops (exit 2) with one line naming `key` and what is `allowed`;
/// returns the line and the path of the file written from `file`.
#[track_caller]
fn assert_refused(
    env: &[(&str, &str)],
    file: Option<&str>,
    key: &str,
    allowed: &str,
) -> (String, Option<String>) {
    let temp = file.map(config_file);
    let mut args = vec!["--print-config"];
    if let Some(temp) = &temp {
        args.extend(["--config", temp.path()]);
    }
    let out = run(&args, env);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{env:?} {file:?}: {err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(err.contains(&format!("`{key}`")), "names {key}: {err}");
    assert!(
        err.contains(allowed),
        "says what is allowed ({allowed}): {err}"
    );
    (err.trim().to_owned(), temp.map(|t| t.path().to_owned()))
}

#[test]
fn a_value_that_does_not_fit_names_its_dotted_key_what_is_allowed_and_where_it_came_from() {
    let policy = |body: &str| format!("[[namespaces]]\nname = \"/\"\n{body}\n");
    // From a file: an enum, an unknown key, wrong types; then a value validation refuses.
    let from_file = [
        (
            policy("buffer = \"sometimes\""),
            "namespaces[0].buffer",
            "drop, if_no_clients, always",
        ),
        (
            policy("bufer = \"always\""),
            "namespaces[0].bufer",
            "`buffer`",
        ),
        (
            policy("rate_limit = 3"),
            "namespaces[0].rate_limit",
            "per_s",
        ),
        (
            policy("client_join = 5"),
            "namespaces[0].client_join",
            "true, false, or a list of room patterns",
        ),
        (
            policy("buffer_size = \"many\""),
            "namespaces[0].buffer_size",
            "an integer",
        ),
        (
            "[engine]\nping_interval_ms = \"soon\"\n".into(),
            "engine.ping_interval_ms",
            "an integer",
        ),
        ("[serv]\nport = 1\n".into(), "serv", "`server`"),
        (
            "[logging]\nlevel = \"loud\"\n".into(),
            "logging.level",
            "error, warn, info, debug, trace",
        ),
    ];
    for (text, key, allowed) in &from_file {
        let (err, path) = assert_refused(&[], Some(text), key, allowed);
        let path = path.unwrap();
        assert!(
            err.contains(&format!("set by file {path}")),
            "names the file: {err}"
        );
        for internal in [
            "BufferName",
            "RoomAccess",
            "RateLimit",
            "struct",
            "enum",
            "variant",
        ] {
            assert!(
                !err.contains(internal),
                "no Rust type names ({internal}): {err}"
            );
        }
    }
    // From the environment: the variable is named.
    let from_env: [(Env, &str, &str); 5] = [
        (
            &[("SOCKETIO_ENGINE__PING_INTERVAL_MS", "soon")],
            "engine.ping_interval_ms",
            "an integer",
        ),
        (
            &[("SOCKETIO_LIMITS__MAX_CONECTIONS", "1")],
            "limits.max_conections",
            "`max_connections`",
        ),
        (
            &[("SOCKETIO_ADMIN__READ_ONLY", "maybe")],
            "admin.read_only",
            "a boolean",
        ),
        (
            &[("SOCKETIO_ADAPTER__KIND", "etcd")],
            "adapter.kind",
            "memory or redis",
        ),
        (
            &[("SOCKETIO_PORT", "99999")],
            "server.port",
            "16 bit integer",
        ),
    ];
    for (env, key, allowed) in from_env {
        let (err, _) = assert_refused(env, None, key, allowed);
        let variable = env[0].0;
        assert!(
            err.contains(&format!("set by environment variable {variable}")),
            "names the variable: {err}"
        );
    }
    // The environment over a file: the one that set the value is named.
    let file = "[engine]\nping_interval_ms = 100\n";
    let env = [("SOCKETIO_ENGINE__PING_INTERVAL_MS", "soon")];
    let (err, _) = assert_refused(&env, Some(file), "engine.ping_interval_ms", "an integer");
    assert!(err.contains("SOCKETIO_ENGINE__PING_INTERVAL_MS"), "{err}");
    assert!(!err.contains("set by file"), "{err}");
}

#[test]
fn each_invalid_value_stops_start_up_with_one_line_naming_the_key() {
    let cases: [(Env, &str, &str); 16] = [
        (
            &[
                ("SOCKETIO_LIMITS__IP_CONNECTIONS_PER_S", "5"),
                ("SOCKETIO_LIMITS__IP_CONNECTION_BURST", "0"),
            ],
            "limits.ip_connection_burst",
            "above 0",
        ),
        (
            &[("SOCKETIO_WEBHOOK__URL", "ftp://backend/hook")],
            "webhook.url",
            "http:// or https:// URL",
        ),
        (
            &[("SOCKETIO_AUTH__JWT_SECRET", "too-short")],
            "auth.jwt_secret",
            "at least 32 bytes",
        ),
        (
            &[("SOCKETIO_AUTH__JWT_PUBLIC_KEY", "/nonexistent/key.pem")],
            "auth.jwt_public_key",
            "RSA or EC",
        ),
        (
            &[("SOCKETIO_AUTH__JWKS_URL", "jwks.json")],
            "auth.jwks_url",
            "https:// URL",
        ),
        (
            &[("SOCKETIO_HTTP_CLIENT__CA_FILE", "/nonexistent/ca.pem")],
            "http_client.ca_file",
            "PEM file of CA certificates",
        ),
        (
            &[("SOCKETIO_WEBHOOK__URL", "backend:80")],
            "webhook.url",
            "http:// or https:// URL",
        ),
        (
            &[("SOCKETIO_WEBHOOK__TIMEOUT_MS", "0")],
            "webhook.timeout_ms",
            "above 0",
        ),
        (
            &[("SOCKETIO_WEBHOOK__MAX_CONCURRENCY", "0")],
            "webhook.max_concurrency",
            "above 0",
        ),
        (
            &[("SOCKETIO_SHUTDOWN__GRACE_S", "0")],
            "shutdown.grace_s",
            "1 to 3600",
        ),
        (
            &[("SOCKETIO_SHUTDOWN__GRACE_S", "86400")],
            "shutdown.grace_s",
            "1 to 3600",
        ),
        (
            &[("SOCKETIO_ADMIN__PASSWORD_HASH", "plain-password")],
            "admin.password_hash",
            "bcrypt hash",
        ),
        (
            &[("SOCKETIO_ADMIN__USERNAME", "a:b")],
            "admin.username",
            "without ':'",
        ),
        (
            &[("SOCKETIO_ADAPTER__KIND", "etcd")],
            "adapter.kind",
            "memory or redis",
        ),
        (
            &[
                ("SOCKETIO_ADAPTER__KIND", "redis"),
                ("SOCKETIO_ADAPTER__REDIS_URL", "http://127.0.0.1:6379"),
            ],
            "adapter.redis_url",
            "redis:// or rediss://",
        ),
        (
            &[
                ("SOCKETIO_ADAPTER__KIND", "redis"),
                ("SOCKETIO_ADAPTER__KEY_PREFIX", "a#b"),
            ],
            "adapter.key_prefix",
            "without '#'",
        ),
    ];
    for (env, key, allowed) in cases {
        assert_refused(env, None, key, allowed);
    }
    // The plain-text password is not echoed back in the error either.
    let out = run(&[], &[("SOCKETIO_ADMIN__PASSWORD_HASH", "plain-password")]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("plain-password"));

    let policy = |body: &str| format!("[[namespaces]]\nname = \"/\"\n{body}\n");
    let with_webhook = "[webhook]\nurl = \"http://127.0.0.1:9/\"\n";
    assert_refused(
        &[],
        Some(&format!(
            "{with_webhook}{}",
            policy("rate_limit = { per_s = 5, burst = 0 }")
        )),
        "namespaces.rate_limit.burst",
        "above 0",
    );
    assert_refused(
        &[],
        Some(&format!("{with_webhook}{}", policy("forward = [\"join\"]"))),
        "namespaces.forward",
        "built-in",
    );
    assert_refused(
        &[],
        Some(&format!(
            "{with_webhook}{}",
            policy("forward = [\"disconnect\"]")
        )),
        "namespaces.forward",
        "reserved",
    );
    assert_refused(
        &[],
        Some(&policy("forward = [\"chat\"]")),
        "webhook.url",
        "forwards events",
    );
    // An unknown key is refused too (a typo must not be ignored).
    let out = run(
        &["--print-config"],
        &[("SOCKETIO_LIMITS__MAX_CONECTIONS", "1")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("max_conections"));
}

fn serves(server: &Server) {
    let addr = server.addr();
    let (sid, handshake) = wire::open_polling(addr);
    assert!(!sid.is_empty());
    assert!(handshake["pingInterval"].is_u64());
    let health = wire::request(addr, "GET", "/health", &[], b"");
    assert_eq!(health.status, 200);
    let ready = wire::request(addr, "GET", "/ready", &[], b"");
    assert_eq!(ready.status, 200);
}

fn example(name: &str) -> String {
    format!("{}/config/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_production_example_starts_and_serves() {
    let path = example("production.toml");
    let server = Server::start(&["--config", &path], &[]);
    serves(&server);
    // Its namespace requires a token: an anonymous CONNECT is refused with AUTH_REQUIRED.
    let (mut ws, _, handshake) = wire::Ws::open(server.addr());
    assert_eq!(handshake["pingInterval"], 25000);
    ws.send_text("40");
    let refusal = ws.text();
    assert!(refusal.starts_with("44{"), "{refusal}");
    assert!(refusal.contains("AUTH_REQUIRED"), "{refusal}");
    // Its log format is JSON.
    support::wait_until("the start-up line", wire::IO_TIMEOUT, || {
        server.stderr().iter().any(|l| l.contains("listening on"))
    });
    for line in server.stderr() {
        let record: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line}: {e}"));
        assert!(record["level"].is_string(), "{record}");
    }
}

#[test]
fn the_conformance_example_starts_and_serves() {
    let path = example("conformance.toml");
    let server = Server::start(&["--config", &path], &[]);
    serves(&server);
    let (_, handshake) = wire::open_polling(server.addr());
    assert_eq!(handshake["pingInterval"], 300);
    assert_eq!(handshake["pingTimeout"], 200);
    assert_eq!(handshake["maxPayload"], 1000000);
}

#[test]
fn the_log_level_is_applied() {
    // At `warn`, the start-up line (info) is not written; a warning still is (the Redis
    // adapter's: nothing listens at its URL).
    let redis_url = format!("redis://127.0.0.1:{}", support::free_port());
    let mut server = Server::start(
        &[],
        &[
            ("SOCKETIO_LOGGER_LEVEL", "warn"),
            ("SOCKETIO_ADAPTER__KIND", "redis"),
            ("SOCKETIO_ADAPTER__REDIS_URL", &redis_url),
            ("SOCKETIO_SHUTDOWN__GRACE_S", "2"),
        ],
    );
    support::wait_until("the adapter warning", wire::IO_TIMEOUT, || {
        server.stderr().iter().any(|l| l.contains("adapter"))
    });
    server.signal("-TERM");
    assert_eq!(
        server.wait_exit(std::time::Duration::from_secs(10)),
        Some(0)
    );
    let lines = server.stderr();
    assert!(lines.iter().all(|l| !l.contains("INFO")), "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("WARN")), "{lines:?}");
}
