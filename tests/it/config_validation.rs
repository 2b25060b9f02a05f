//! Every refusal of the start-up validation of `src/config/mod.rs` (`Settings::validate`),
//! one test each: a setting the hub cannot run with stops start-up with one line naming the
//! key, the value given and what is allowed. Each test starts from the valid test settings
//! and breaks one thing, so the message asserted is that refusal's and no other's.

use crate::support;

use siohub::config::{BufferName, Settings};
use support::{policy, test_settings};

/// The one-line refusal of `settings` after `change`.
fn refusal(change: impl FnOnce(&mut Settings)) -> String {
    let mut settings = test_settings();
    settings.validate().expect("the test settings are valid");
    change(&mut settings);
    let message = settings
        .validate()
        .expect_err("the changed settings are refused")
        .to_string();
    assert!(!message.contains('\n'), "one line: {message}");
    message
}

/// A test per refusal: `$name`, the change, and the exact message.
macro_rules! refused {
    ($($name:ident: $change:expr => $message:expr;)+) => {
        $(
            #[test]
            fn $name() {
                assert_eq!(refusal($change), $message);
            }
        )+
    };
}

refused! {
    a_transport_path_not_ending_with_a_slash_is_refused: |s| s.server.path = "/io".into() =>
        "configuration key `server.path` = \"/io\": a path starting and ending with '/', other than \"/\" and not under \"/dashboard/\", such as \"/socket.io/\"";
    a_transport_path_shadowing_the_dashboard_is_refused: |s| s.server.path = "/dashboard/io/".into() =>
        "configuration key `server.path` = \"/dashboard/io/\": a path starting and ending with '/', other than \"/\" and not under \"/dashboard/\", such as \"/socket.io/\"";
    an_unknown_parser_is_refused: |s| s.server.parser = "cbor".into() =>
        "configuration key `server.parser` = \"cbor\": \"json\" or \"msgpack\"";
    a_zero_ping_interval_is_refused: |s| s.engine.ping_interval_ms = 0 =>
        "configuration key `engine.ping_interval_ms` = 0: a number of milliseconds above 0";
    a_zero_ping_timeout_is_refused: |s| s.engine.ping_timeout_ms = 0 =>
        "configuration key `engine.ping_timeout_ms` = 0: a number of milliseconds above 0";
    a_zero_upgrade_timeout_is_refused: |s| s.engine.upgrade_timeout_ms = 0 =>
        "configuration key `engine.upgrade_timeout_ms` = 0: a number of milliseconds above 0";
    a_zero_connect_timeout_is_refused: |s| s.engine.connect_timeout_ms = 0 =>
        "configuration key `engine.connect_timeout_ms` = 0: a number of milliseconds above 0";
    a_zero_attachment_timeout_is_refused: |s| s.engine.attachment_timeout_ms = 0 =>
        "configuration key `engine.attachment_timeout_ms` = 0: a number of milliseconds above 0";
    a_zero_max_payload_is_refused: |s| s.engine.max_payload = 0 =>
        "configuration key `engine.max_payload` = 0: a number of bytes above 0";
    a_zero_attachment_byte_bound_is_refused: |s| s.engine.max_attachment_bytes = 0 =>
        "configuration key `engine.max_attachment_bytes` = 0: a number of bytes above 0";
    a_zero_outgoing_bound_is_refused: |s| s.outgoing.max_packets = 0 =>
        "configuration key `outgoing.max_packets/max_bytes` = 0/4194304: numbers above 0";
    a_zero_write_timeout_is_refused: |s| s.outgoing.write_timeout_ms = 0 =>
        "configuration key `outgoing.write_timeout_ms` = 0: a number of milliseconds above 0";
    a_zero_incoming_bound_is_refused: |s| s.incoming.max_bytes = 0 =>
        "configuration key `incoming.max_messages/max_bytes` = 64/0: numbers above 0";
    an_unknown_slow_consumer_action_is_refused: |s| s.outgoing.slow_consumer = "block".into() =>
        "configuration key `outgoing.slow_consumer` = block: disconnect or drop_volatile";
    a_namespace_without_a_leading_slash_is_refused: |s| s.namespaces = vec![policy("chat")] =>
        "configuration key `namespaces.name` = \"chat\": a namespace starting with '/', such as \"/\" or \"/tenant-{id}\"";
    a_namespace_listed_twice_is_refused: |s| s.namespaces = vec![policy("/"), policy("/chat"), policy("/chat")] =>
        "configuration key `namespaces.name` = \"/chat\": each namespace listed once";
    a_buffering_namespace_with_a_zero_buffer_is_refused: |s| {
        let mut chat = policy("/chat");
        chat.buffer = BufferName::Always;
        chat.buffer_ttl_s = 0;
        s.namespaces = vec![chat];
    } => "configuration key `namespaces.buffer_size/buffer_ttl_s` = 1000/0 for /chat: numbers above 0 when buffer is if_no_clients or always";
    a_zero_recovery_byte_bound_is_refused: |s| {
        let mut chat = policy("/chat");
        chat.recovery_max_bytes = 0;
        s.namespaces = vec![chat];
    } => "configuration key `namespaces.recovery_max_bytes` = 0 for /chat: a number of bytes above 0";
    a_zero_event_size_is_refused: |s| {
        let mut chat = policy("/chat");
        chat.max_event_bytes = 0;
        s.namespaces = vec![chat];
    } => "configuration key `namespaces.max_event_bytes` = 0 for /chat: a number of bytes above 0";
    a_rate_limit_without_a_burst_is_refused: |s| {
        let mut chat = policy("/chat");
        chat.rate_limit.per_s = 5;
        chat.rate_limit.burst = 0;
        s.namespaces = vec![chat];
    } => "configuration key `namespaces.rate_limit.burst` = 0 for /chat: a number of events above 0 when rate_limit.per_s is set";
    forwarding_a_builtin_event_is_refused: |s| {
        let mut chat = policy("/chat");
        chat.forward = vec!["publish".into()];
        s.webhook.url = "http://127.0.0.1:1/hook".into();
        s.namespaces = vec![chat];
    } => "configuration key `namespaces.forward` = \"publish\" for /chat: event names other than the built-in ones (join, leave, publish, ping, request, fields, presence, history) and Socket.IO's reserved ones";
    forwarding_a_reserved_event_is_refused: |s| {
        let mut chat = policy("/chat");
        chat.forward = vec!["disconnecting".into()];
        s.webhook.url = "http://127.0.0.1:1/hook".into();
        s.namespaces = vec![chat];
    } => "configuration key `namespaces.forward` = \"disconnecting\" for /chat: event names other than the built-in ones (join, leave, publish, ping, request, fields, presence, history) and Socket.IO's reserved ones";
    require_auth_without_a_secret_or_key_is_refused: |s| {
        let mut chat = policy("/chat");
        chat.require_auth = true;
        s.namespaces = vec![chat];
    } => "configuration key `auth.jwt_secret` = \"\": a secret, jwt_public_key or jwks_url when a namespace has require_auth = true (tokens could never be checked)";
    no_transport_is_refused: |s| s.engine.transports = vec![] =>
        "configuration key `engine.transports` = []: a non-empty list of \"polling\" and \"websocket\"";
    an_unknown_transport_is_refused: |s| s.engine.transports = vec!["polling".into(), "webtransport".into()] =>
        "configuration key `engine.transports` = [\"polling\", \"webtransport\"]: a non-empty list of \"polling\" and \"websocket\"";
    an_unknown_log_level_is_refused: |s| s.logging.level = "verbose".into() =>
        "configuration key `logging.level` = verbose: one of error, warn, info, debug, trace";
    an_unknown_log_format_is_refused: |s| s.logging.format = "xml".into() =>
        "configuration key `logging.format` = xml: text or json";
    a_client_text_bound_out_of_range_is_refused: |s| s.logging.client_text_max_bytes = 8 =>
        "configuration key `logging.client_text_max_bytes` = 8: 16 to 65536 bytes";
    forwarding_without_a_webhook_is_refused: |s| {
        let mut chat = policy("/chat");
        chat.forward = vec!["order".into()];
        s.namespaces = vec![chat];
    } => "configuration key `webhook.url` = \"\": an http:// URL when a namespace forwards events (forward = [..])";
    any_origin_with_credentials_is_refused: |s| {
        s.cors.origins = vec!["https://app.example".into(), "*".into()];
        s.cors.credentials = true;
    } => "configuration key `cors.origins` = [\"*\"] with cors.credentials = true: explicit origins when credentials are allowed (browsers refuse \"*\" with credentials)";
}

#[test]
fn each_namespace_bound_is_refused_at_zero_by_its_own_key() {
    for (key, change) in [
        (
            "namespaces.max_buffer_bytes",
            (|p| p.max_buffer_bytes = 0) as fn(&mut siohub::config::NamespacePolicy),
        ),
        ("namespaces.recovery_max_bytes", |p| {
            p.recovery_max_bytes = 0
        }),
        ("namespaces.dedupe_max_ids", |p| p.dedupe_max_ids = 0),
    ] {
        let message = refusal(|s| {
            let mut chat = policy("/chat");
            change(&mut chat);
            s.namespaces = vec![chat];
        });
        assert!(
            message.starts_with(&format!("configuration key `{key}` = 0 for /chat: ")),
            "{key}: {message}"
        );
    }
}

#[test]
fn the_same_settings_pass_when_the_one_fault_is_mended() {
    // The refusals above are of the fault they name: mended, the settings pass.
    let mut settings = test_settings();
    settings.cors.origins = vec!["https://app.example".into()];
    settings.cors.credentials = true;
    let mut chat = policy("/chat");
    chat.forward = vec!["order".into()];
    chat.rate_limit.per_s = 5;
    chat.rate_limit.burst = 5;
    chat.buffer = BufferName::Always;
    settings.webhook.url = "http://127.0.0.1:1/hook".into();
    settings.namespaces = vec![policy("/"), chat];
    settings.validate().expect("valid");
}
