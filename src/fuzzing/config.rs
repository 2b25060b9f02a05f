//! Configuration values.

/// Any text as a configuration file over the defaults: it loads and validates, or is
/// refused with an error; settings that validate give every view the hub takes of them.
/// A public key file named by the input is not read (the fuzzer would name any file).
pub fn config_values(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(mut settings) = crate::config::Settings::from_toml(text) else {
        return;
    };
    settings.auth.jwt_public_key.clear();
    if settings.validate().is_err() {
        return;
    }
    let _ = settings.engine_config();
    let _ = settings.delivery_policies();
    let _ = settings.parser();
    let _ = settings.masked();
}
