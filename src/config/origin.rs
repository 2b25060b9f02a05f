//! Where a configuration value came from (a `--config` file, an environment variable, the
//! command line), and the errors of reading the layers into [`Settings`] turned into one
//! line that names the dotted key (`namespaces[0].buffer`), what is wrong with its value
//! and what is allowed, and that origin: the config crate's own messages name Rust types
//! and drop the dot after an index.
//!
//! [`Settings`]: super::Settings

use super::ConfigError;

/// The prefix of the environment variables the configuration reads.
pub(super) const ENV_PREFIX: &str = "SOCKETIO_";

/// What each layer above the embedded defaults set, so that an error can say where a
/// value came from.
#[derive(Debug, Default)]
pub(super) struct Origins {
    /// The `--config` file, as it was named.
    file: Option<String>,
    /// The nested `SOCKETIO_SECTION__KEY` variables read.
    variables: Vec<String>,
    /// Keys set over the file and the nested variables (flat variables, then the command
    /// line): the dotted key and who set it.
    overrides: Vec<(String, String)>,
}

impl Origins {
    /// The origins of a load that read `file` and these nested variables.
    pub(super) fn new(file: Option<&str>, variables: impl IntoIterator<Item = String>) -> Self {
        Origins {
            file: file.map(String::from),
            variables: variables.into_iter().collect(),
            overrides: Vec::new(),
        }
    }

    /// Records that `by` (an environment variable, the command line) set `key`.
    pub(super) fn set(&mut self, key: &str, by: String) {
        self.overrides.push((key.to_owned(), by));
    }

    /// Where the value of `key` came from, as a phrase: "environment variable X", "file
    /// F", "the command line"; `None` for the embedded defaults.
    pub(super) fn of(&self, config: &config::Config, key: &str) -> Option<String> {
        if let Some((_, by)) = self.overrides.iter().rev().find(|(k, _)| k == key) {
            return Some(by.clone());
        }
        if let Some(variable) = self.variables.iter().find(|v| variable_key(v) == key) {
            return Some(format!("environment variable {variable}"));
        }
        match origin_within(value_at(&config.cache, key)?)? {
            // The config crate's name for its environment source: a variable the search
            // above did not match (none should be left).
            "the environment" => Some("the environment".into()),
            // The embedded defaults have no origin, so this is the one file (which the
            // config crate names relative to the working directory).
            resolved => Some(format!("file {}", self.file.as_deref().unwrap_or(resolved))),
        }
    }

    /// The error of deserializing the layers, as one line naming the key, the problem, what
    /// is allowed and where the value came from.
    pub(super) fn rejected(
        &self,
        config: &config::Config,
        error: config::ConfigError,
    ) -> ConfigError {
        let (key, problem) = describe(error);
        let (key, problem) = match unknown_key(&problem) {
            Some((field, allowed)) => {
                let parent = key.as_deref().map(dotted);
                let key = match &parent {
                    Some(parent) => format!("{parent}.{field}"),
                    None => field.to_owned(),
                };
                let place = match &parent {
                    Some(parent) => format!("the keys of `{parent}` are"),
                    None => "the sections are".into(),
                };
                (Some(key), format!("no such key ({place} {allowed})"))
            }
            None => (key.as_deref().map(dotted), problem),
        };
        match key {
            Some(key) => ConfigError::Rejected {
                origin: self.of(config, &key),
                key,
                problem,
            },
            None => ConfigError::Load(problem),
        }
    }

    /// A value [`super::Settings::validate`] refused, with where it came from when its key
    /// names one value.
    pub(super) fn locate(&self, config: &config::Config, error: ConfigError) -> ConfigError {
        let origin = match &error {
            ConfigError::Invalid { key, .. } => self.of(config, key),
            _ => None,
        };
        match origin {
            Some(origin) => ConfigError::Given {
                error: Box::new(error),
                origin,
            },
            None => error,
        }
    }
}

/// The dotted key an environment variable sets (`SOCKETIO_LIMITS__MAX_CONNECTIONS` →
/// `limits.max_connections`), as the config crate reads it.
fn variable_key(variable: &str) -> String {
    variable
        .strip_prefix(ENV_PREFIX)
        .unwrap_or(variable)
        .to_lowercase()
        .replace("__", ".")
}

/// The value at dotted `key` (`namespaces[0].buffer`) in the merged configuration, with
/// the origin the config crate recorded (reading it through `Config::get` would make a new
/// value without one).
fn value_at<'a>(root: &'a config::Value, key: &str) -> Option<&'a config::Value> {
    let mut value = root;
    for segment in key.split('.') {
        let (name, indexes) = segment.split_once('[').unwrap_or((segment, ""));
        if !name.is_empty() {
            let config::ValueKind::Table(table) = &value.kind else {
                return None;
            };
            value = table.get(name)?;
        }
        for index in indexes.split('[').filter(|i| !i.is_empty()) {
            let index: usize = index.trim_end_matches(']').parse().ok()?;
            let config::ValueKind::Array(items) = &value.kind else {
                return None;
            };
            value = items.get(index)?;
        }
    }
    Some(value)
}

/// The origin of `value`, or of the first value inside it that has one (the config crate
/// records origins on the values a source gave, not on the tables it merged them into).
fn origin_within(value: &config::Value) -> Option<&str> {
    if let Some(origin) = value.origin() {
        return Some(origin);
    }
    match &value.kind {
        config::ValueKind::Table(table) => table.values().find_map(origin_within),
        config::ValueKind::Array(items) => items.iter().find_map(origin_within),
        _ => None,
    }
}

/// The config crate's key with the dot it leaves out after an index put back
/// (`namespaces[0]buffer` → `namespaces[0].buffer`).
fn dotted(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    let mut after_index = false;
    for c in key.chars() {
        if after_index && c != '[' && c != '.' {
            out.push('.');
        }
        after_index = c == ']';
        out.push(c);
    }
    out
}

/// The key the config crate says an error is at, and the problem without the crate's
/// " for key `..`" and " in <origin>" suffixes.
fn describe(error: config::ConfigError) -> (Option<String>, String) {
    match error {
        config::ConfigError::Type {
            unexpected,
            expected,
            key,
            ..
        } => (
            key,
            format!("{unexpected} is not allowed: expected {expected}"),
        ),
        config::ConfigError::At { error, key, .. } => {
            let (inner, problem) = describe(*error);
            (key.or(inner), problem)
        }
        config::ConfigError::Message(message) => (None, reworded(message)),
        other => (None, other.to_string()),
    }
}

/// serde's "invalid type: X, expected Y" (and "invalid value") in the words of the config
/// crate's own type errors.
fn reworded(message: String) -> String {
    let rest = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "));
    match rest.and_then(|rest| rest.split_once(", expected ")) {
        Some((unexpected, expected)) => format!("{unexpected} is not allowed: expected {expected}"),
        None => message,
    }
}

/// serde's "unknown field `x`, expected one of `a`, `b`": the field and the keys allowed.
fn unknown_key(problem: &str) -> Option<(&str, String)> {
    let rest = problem.strip_prefix("unknown field `")?;
    let (field, rest) = rest.split_once('`')?;
    let rest = rest.trim_start_matches(", ");
    let allowed = match rest {
        "there are no fields" => "none".to_owned(),
        _ => rest
            .strip_prefix("expected one of ")
            .or_else(|| rest.strip_prefix("expected "))
            .unwrap_or(rest)
            .to_owned(),
    };
    Some((field, allowed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_index_gets_its_dot_back() {
        assert_eq!(dotted("namespaces[0]buffer"), "namespaces[0].buffer");
        assert_eq!(
            dotted("namespaces[10]rate_limit.burst"),
            "namespaces[10].rate_limit.burst"
        );
        assert_eq!(dotted("a[1][2]"), "a[1][2]");
        assert_eq!(dotted("engine.ping_interval_ms"), "engine.ping_interval_ms");
        assert_eq!(dotted("namespaces[0]"), "namespaces[0]");
    }

    #[test]
    fn a_value_is_found_by_its_dotted_key() {
        let config = config::Config::builder()
            .add_source(config::File::from_str(
                "[a]\nb = 1\n[[n]]\nx = 2\n[[n]]\nx = 3\n",
                config::FileFormat::Toml,
            ))
            .build()
            .unwrap();
        let int = |key| value_at(&config.cache, key).map(|v| v.clone().into_int().unwrap());
        assert_eq!(int("a.b"), Some(1));
        assert_eq!(int("n[1].x"), Some(3));
        assert_eq!(int("n[2].x"), None);
        assert_eq!(int("a.c"), None);
        assert_eq!(int("a.b.c"), None);
    }

    #[test]
    fn a_variable_names_its_dotted_key() {
        assert_eq!(
            variable_key("SOCKETIO_LIMITS__MAX_CONNECTIONS"),
            "limits.max_connections"
        );
        assert_eq!(
            variable_key("SOCKETIO_ENGINE__PING_INTERVAL_MS"),
            "engine.ping_interval_ms"
        );
    }

    #[test]
    fn serde_unknown_fields_are_read() {
        assert_eq!(
            unknown_key("unknown field `bufer`, expected one of `name`, `buffer`"),
            Some(("bufer", "`name`, `buffer`".to_owned()))
        );
        assert_eq!(
            unknown_key("unknown field `x`, expected `y`"),
            Some(("x", "`y`".to_owned()))
        );
        assert_eq!(
            unknown_key("unknown field `x`, there are no fields"),
            Some(("x", "none".to_owned()))
        );
        assert_eq!(unknown_key("invalid type"), None);
    }

    #[test]
    fn serde_type_errors_are_reworded() {
        assert_eq!(
            reworded("invalid type: integer `3`, expected a table".into()),
            "integer `3` is not allowed: expected a table"
        );
        assert_eq!(reworded("something else".into()), "something else");
    }
}
