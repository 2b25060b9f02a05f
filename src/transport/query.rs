//! The Engine.IO query parameters: `EIO`, `transport`, `sid`.

/// The two transports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// HTTP long-polling.
    Polling,
    /// WebSocket.
    WebSocket,
}

/// The parameters the endpoint reads; unknown ones (`t`, `j`, user parameters) are ignored.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct EngineQuery<'a> {
    /// `EIO`, the protocol revision.
    pub eio: Option<&'a str>,
    /// `transport`, if it names a known one.
    pub transport: Option<TransportKind>,
    /// `sid`, the session id.
    pub sid: Option<&'a str>,
}

impl<'a> EngineQuery<'a> {
    /// Whether a handshake with this `EIO` is served: `4`, or anything else (none included,
    /// as the reference server reads it) when Engine.IO v3 clients are allowed.
    pub fn revision_served(&self, allow_eio3: bool) -> bool {
        self.eio == Some("4") || allow_eio3
    }

    /// Parses a raw query string.
    pub fn parse(query: &'a str) -> Self {
        let mut out = EngineQuery::default();
        for pair in query.split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "EIO" => out.eio = Some(value),
                "transport" => {
                    out.transport = match value {
                        "polling" => Some(TransportKind::Polling),
                        "websocket" => Some(TransportKind::WebSocket),
                        _ => None,
                    }
                }
                "sid" if !value.is_empty() => out.sid = Some(value),
                _ => {}
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_three_parameters_and_ignores_the_rest() {
        let q = EngineQuery::parse("EIO=4&transport=polling&t=N8hyd6w&sid=abc&x=1");
        assert_eq!(q.eio, Some("4"));
        assert_eq!(q.transport, Some(TransportKind::Polling));
        assert_eq!(q.sid, Some("abc"));
        let q = EngineQuery::parse("transport=smoke&sid=");
        assert_eq!(q, EngineQuery::default());
        assert_eq!(
            EngineQuery::parse("transport=websocket").transport,
            Some(TransportKind::WebSocket)
        );
    }

    #[test]
    fn v3_is_served_only_when_allowed() {
        for (query, allowed, served) in [
            ("EIO=4", false, true),
            ("EIO=3", false, false),
            ("", false, false),
            ("EIO=3", true, true),
            ("", true, true),
        ] {
            assert_eq!(
                EngineQuery::parse(query).revision_served(allowed),
                served,
                "{query}"
            );
        }
    }
}
