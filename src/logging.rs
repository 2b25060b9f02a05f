//! Logging through env_logger, as plain text or one JSON object per line; and the bounds of
//! what clients can put into it ([`siohub_actors::client_log`]).

use std::io::Write;
use std::time::Duration;

use crate::config::LoggingSettings;

/// Installs the logger; `RUST_LOG`, when set, overrides the configured level.
pub fn init(settings: &LoggingSettings) {
    siohub_actors::client_log::configure(
        settings.client_text_max_bytes,
        Duration::from_millis(settings.warn_interval_ms),
    );
    let mut builder = env_logger::Builder::new();
    builder.parse_filters(&settings.level);
    if let Ok(filters) = std::env::var("RUST_LOG") {
        builder.parse_filters(&filters);
    }
    if settings.format == "json" {
        builder.format(|buf, record| {
            let line = serde_json::json!({
                "ts": buf.timestamp_millis().to_string(),
                "level": record.level().as_str(),
                "target": record.target(),
                "message": record.args().to_string(),
            });
            writeln!(buf, "{line}")
        });
    }
    let _ = builder.try_init();
}
