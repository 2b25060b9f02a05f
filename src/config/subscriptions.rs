//! `[subscriptions]`: where the rooms an identified user joined are kept, so that every new
//! socket of that user joins them again (see [`crate::subscriptions`]).

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// `[subscriptions]`: durable subscriptions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(expecting = "a table of keys", deny_unknown_fields, default)]
pub struct SubscriptionSettings {
    /// `none` (nothing kept) or `postgres` (kept in PostgreSQL at `postgres_url`).
    pub store: String,
    /// `postgres://[user[:password]@]host[:port]/dbname` or `host=.. dbname=..`.
    pub postgres_url: String,
    /// Rooms kept for one user at most, over every namespace; a `join` over it is refused
    /// with `RATE_LIMIT_EXCEEDED`.
    pub max_rooms_per_user: usize,
    /// Most bytes of a join's options (its JSON object without `room`) kept with the room;
    /// a join with more is refused with `PAYLOAD_TOO_LARGE`.
    pub max_options_bytes: usize,
    /// Writes (kept or removed rooms) waiting for PostgreSQL at most; one more is dropped
    /// and counted.
    pub queue_size: usize,
    /// Reads (a connecting socket's rooms, the API's listing) waiting at once at most; one
    /// more is answered "unavailable" at once and counted. Also the most restores waiting
    /// for PostgreSQL to come back.
    pub max_pending_reads: usize,
    /// Milliseconds any one PostgreSQL operation (connecting included) may take; a `join`
    /// or `leave` ack waits at most this long for its write.
    pub timeout_ms: u64,
}

impl Default for SubscriptionSettings {
    fn default() -> Self {
        SubscriptionSettings {
            store: "none".into(),
            postgres_url: "postgres://siohub@127.0.0.1:5432/siohub".into(),
            max_rooms_per_user: 100,
            max_options_bytes: 4096,
            queue_size: 10_000,
            max_pending_reads: 4096,
            timeout_ms: 2000,
        }
    }
}

fn invalid(key: &'static str, value: String, allowed: &'static str) -> Result<(), ConfigError> {
    Err(ConfigError::Invalid {
        key,
        value,
        allowed,
    })
}

impl SubscriptionSettings {
    /// Whether rooms are kept (`store = "postgres"`).
    pub fn is_enabled(&self) -> bool {
        self.store == "postgres"
    }

    /// Checks the section; `max_rooms_per_socket` is `[limits]`' bound, which a socket's
    /// restored rooms and its user room must fit in.
    pub fn validate(&self, max_rooms_per_socket: usize) -> Result<(), ConfigError> {
        match self.store.as_str() {
            "none" => return Ok(()),
            "postgres" => {}
            other => {
                return invalid(
                    "subscriptions.store",
                    format!("{other:?}"),
                    "\"none\" or \"postgres\"",
                )
            }
        }
        if self.postgres_url.parse::<tokio_postgres::Config>().is_err() {
            return invalid(
                "subscriptions.postgres_url",
                format!("{:?}", self.masked_url()),
                "a PostgreSQL connection string, such as \"postgres://siohub:secret@127.0.0.1:5432/siohub\"",
            );
        }
        if self.max_rooms_per_user == 0 || self.max_rooms_per_user >= max_rooms_per_socket {
            return invalid(
                "subscriptions.max_rooms_per_user",
                format!(
                    "{} with limits.max_rooms_per_socket = {max_rooms_per_socket}",
                    self.max_rooms_per_user
                ),
                "at least 1 and below limits.max_rooms_per_socket (a socket holds its user room and every kept room)",
            );
        }
        for (key, value) in [
            ("subscriptions.max_options_bytes", self.max_options_bytes),
            ("subscriptions.queue_size", self.queue_size),
            ("subscriptions.max_pending_reads", self.max_pending_reads),
        ] {
            if value == 0 {
                return invalid(key, "0".into(), "at least 1");
            }
        }
        if self.timeout_ms == 0 {
            return invalid(
                "subscriptions.timeout_ms",
                "0".into(),
                "a number of milliseconds above 0",
            );
        }
        Ok(())
    }

    /// The URL with its password replaced by `***` (for `--print-config` and logs).
    pub fn masked_url(&self) -> String {
        mask_password(&self.postgres_url)
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`; in the key=value
/// form, `password=secret` → `password=***`.
fn mask_password(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let (authority, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        return match authority.rsplit_once('@') {
            Some((userinfo, host)) if userinfo.contains(':') => {
                let user = userinfo.split_once(':').map_or("", |(u, _)| u);
                format!("{scheme}://{user}:***@{host}{tail}")
            }
            _ => url.to_owned(),
        };
    }
    url.split_whitespace()
        .map(|pair| match pair.split_once('=') {
            Some(("password", _)) => "password=***".to_owned(),
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn postgres() -> SubscriptionSettings {
        SubscriptionSettings {
            store: "postgres".into(),
            ..SubscriptionSettings::default()
        }
    }

    #[test]
    fn the_store_is_none_or_postgres_with_a_url() {
        assert!(SubscriptionSettings::default().validate(1000).is_ok());
        assert!(postgres().validate(1000).is_ok());
        let redis = SubscriptionSettings {
            store: "redis".into(),
            ..postgres()
        };
        assert!(redis.validate(1000).is_err());
        let bad_url = SubscriptionSettings {
            postgres_url: "postgres://h:notaport/db".into(),
            ..postgres()
        };
        assert!(bad_url.validate(1000).is_err());
    }

    #[test]
    fn kept_rooms_fit_in_a_socket() {
        assert!(
            postgres().validate(100).is_err(),
            "100 kept + the user room"
        );
        assert!(postgres().validate(101).is_ok());
        let none = SubscriptionSettings {
            max_rooms_per_user: 0,
            ..postgres()
        };
        assert!(none.validate(1000).is_err());
        let no_queue = SubscriptionSettings {
            queue_size: 0,
            ..postgres()
        };
        assert!(no_queue.validate(1000).is_err());
    }

    #[test]
    fn print_config_masks_the_password() {
        let mut settings = super::super::Settings::load(None, &[]).unwrap();
        settings.subscriptions.postgres_url = "postgres://app:s3cret@db/hub".into();
        let masked = settings.masked().subscriptions.postgres_url;
        assert_eq!(masked, "postgres://app:***@db/hub");
    }

    #[test]
    fn passwords_are_masked() {
        assert_eq!(
            mask_password("postgres://app:s3cret@db:5432/hub"),
            "postgres://app:***@db:5432/hub"
        );
        assert_eq!(
            mask_password("postgres://app@db/hub"),
            "postgres://app@db/hub"
        );
        assert_eq!(
            mask_password("host=db user=app password=s3cret dbname=hub"),
            "host=db user=app password=*** dbname=hub"
        );
    }
}
