//! The dashboard's requests on `/admin`: `siohub:watch`, `siohub:overview`,
//! `siohub:connections`, `siohub:rooms` and `siohub:events`, each answered through its ack
//! (`{"ok":true,...}` or `{"error":{"code","message"}}`; bad arguments get
//! `INVALID_PAYLOAD`). Lists are paged and filtered by the Admin actor: a request gets one
//! page, never the whole list.

use serde_json::{json, Map, Value};
use siohub_actors::{PageQuery, Socket};

use crate::error_code::{ErrorCode, EventError};

/// The longest `q` or `nsp` a request takes.
const MAX_TEXT_BYTES: usize = 256;
/// The most items per page.
pub const MAX_PER_PAGE: usize = 100;
/// Items per page when none is asked for.
pub const DEFAULT_PER_PAGE: usize = 25;

/// A request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// `siohub:watch`.
    Watch,
    /// `siohub:overview`.
    Overview,
    /// `siohub:connections`.
    Connections,
    /// `siohub:rooms`.
    Rooms,
    /// `siohub:events`.
    Events,
}

impl Request {
    /// The request of an event name, if it is one.
    pub fn of(event: &str) -> Option<Self> {
        Some(match event {
            "siohub:watch" => Request::Watch,
            "siohub:overview" => Request::Overview,
            "siohub:connections" => Request::Connections,
            "siohub:rooms" => Request::Rooms,
            "siohub:events" => Request::Events,
            _ => return None,
        })
    }
}

/// The request's argument object (none = `{}`).
fn object_arg(args: &[Value]) -> Result<Map<String, Value>, EventError> {
    match args.first() {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(obj)) => Ok(obj.clone()),
        Some(_) => Err(EventError::invalid("the argument must be an object")),
    }
}

/// `q`, `nsp`, `page` and `per_page` of a list request, checked.
fn page_query(args: &[Value], allowed: &[&str]) -> Result<PageQuery, EventError> {
    let obj = object_arg(args)?;
    if let Some(unknown) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(EventError::invalid(format!(
            "unknown field {unknown:?}: expected {}",
            allowed.join(", ")
        )));
    }
    let text = |key: &str| -> Result<Option<String>, EventError> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.len() <= MAX_TEXT_BYTES => Ok(Some(s.clone())),
            Some(_) => Err(EventError::invalid(format!(
                "{key} must be a string of at most {MAX_TEXT_BYTES} bytes"
            ))),
        }
    };
    let number = |key: &str, default: usize, max: usize| -> Result<usize, EventError> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => v
                .as_u64()
                .filter(|n| *n >= 1 && *n <= max as u64)
                .map(|n| n as usize)
                .ok_or_else(|| {
                    EventError::invalid(format!("{key} must be a whole number from 1 to {max}"))
                }),
        }
    };
    Ok(PageQuery {
        q: text("q")?.unwrap_or_default().to_lowercase(),
        nsp: text("nsp")?,
        page: number("page", 1, 1_000_000)?,
        per_page: number("per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE)?,
    })
}

fn unavailable(e: siohub_actors::Unavailable) -> EventError {
    EventError::new(
        ErrorCode::InternalError,
        format!("{e}: try again in a moment"),
    )
}

/// Answers a request from watcher `socket`.
pub async fn run(socket: &Socket, request: Request, args: Vec<Value>) -> Result<Value, EventError> {
    let admin = socket.hub().admin();
    match request {
        Request::Watch => {
            object_arg(&args)?;
            match admin
                .watch_aggregates(socket.id())
                .await
                .map_err(unavailable)?
            {
                true => Ok(json!({"ok": true})),
                false => Err(EventError::new(
                    ErrorCode::InternalError,
                    "this socket is not watching: reconnect",
                )),
            }
        }
        Request::Overview => {
            object_arg(&args)?;
            let mut stats = admin.overview().await.map_err(unavailable)?;
            stats["ok"] = json!(true);
            Ok(stats)
        }
        Request::Connections => {
            let query = page_query(&args, &["q", "page", "per_page", "nsp"])?;
            admin.connections(query).await.map_err(unavailable)
        }
        Request::Rooms => {
            let query = page_query(&args, &["q", "page", "per_page", "nsp"])?;
            admin.rooms(query).await.map_err(unavailable)
        }
        Request::Events => {
            object_arg(&args)?;
            admin.recent_events().await.map_err(unavailable)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_queries_are_checked() {
        let q = page_query(
            &[json!({"q": "AbC", "page": 2, "per_page": 100})],
            &["q", "page", "per_page", "nsp"],
        )
        .unwrap();
        assert_eq!(
            (q.q.as_str(), q.page, q.per_page, q.nsp),
            ("abc", 2, 100, None)
        );
        let q = page_query(&[], &["q"]).unwrap();
        assert_eq!((q.page, q.per_page), (1, DEFAULT_PER_PAGE));
        for bad in [
            json!({"per_page": 0}),
            json!({"per_page": 101}),
            json!({"page": "1"}),
            json!({"page": -1}),
            json!({"q": 5}),
            json!({"other": 1}),
            json!("text"),
        ] {
            let err = page_query(
                std::slice::from_ref(&bad),
                &["q", "page", "per_page", "nsp"],
            )
            .unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidPayload, "{bad}");
        }
    }
}
