//! What ties a request that names a session (`?sid=`) to that session, beyond knowing the
//! sid: a sid is a bearer credential for its polling session (whoever polls with it reads
//! its events, whoever probes with it can take it over), so a request must also look like
//! it comes from the client that made the handshake.
//!
//! - The same peer IP address as the handshake, unless `[engine] bind_session_to_ip` is
//!   off (behind proxies that spread one client over several addresses). The port is not
//!   compared: each polling request may come on a new connection.
//! - Polling requests: the same `User-Agent` as the handshake (a client library sends
//!   the same one on every request, a browser too). An upgrade carries the handshake's
//!   `User-Agent` if it carries one at all: Node's and Python's websocket libraries send
//!   none, or another than their HTTP library's, so its absence is no sign of a stranger.
//!
//! A request that passes may still not take a session over: a second upgrade, a probe
//! while another is in progress, or an upgrade of a session already on websocket is
//! closed by the session right after its `101`, as the reference server does.
//!
//! A refused request is answered exactly as for a sid that does not exist (400
//! `{"code":1,"message":"Session ID unknown"}`) rather than 403: a stranger must not learn
//! that the sid it holds is alive. The victim's session is not touched.

use std::net::{IpAddr, SocketAddr};

use siohub_actors::SessionMeta;

use super::head::header_text;

/// What a request says about who sent it.
#[derive(Debug, Clone, Copy)]
pub struct Requester<'a> {
    /// The peer's address, if known.
    pub peer: Option<IpAddr>,
    /// The `User-Agent` header, if it is text.
    pub user_agent: Option<&'a str>,
}

impl<'a> Requester<'a> {
    /// The requester of a head with this `User-Agent` value, from `peer`.
    pub fn new(peer: Option<SocketAddr>, user_agent: Option<&'a [u8]>) -> Self {
        Requester {
            peer: peer.map(|a| a.ip().to_canonical()),
            user_agent: user_agent.and_then(header_text),
        }
    }
}

/// What the request wants to do with the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// A polling GET or POST.
    Polling,
    /// A websocket upgrade (the probe of a polling session).
    Upgrade,
}

/// Why a request was not taken as the session's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Mismatch {
    /// Another peer address than the handshake's.
    #[error("it comes from another address than the handshake")]
    Address,
    /// Another `User-Agent` than the handshake's.
    #[error("its User-Agent is not the handshake's")]
    UserAgent,
}

/// Whether the request `from` may `use_` the session described by `meta`.
pub fn check(
    meta: &SessionMeta,
    from: &Requester<'_>,
    use_: Use,
    bind_to_ip: bool,
) -> Result<(), Mismatch> {
    if bind_to_ip {
        if let (Some(expected), Some(actual)) = (meta.peer_ip(), from.peer) {
            if expected != actual {
                return Err(Mismatch::Address);
            }
        }
    }
    let user_agent = from.user_agent.unwrap_or_default();
    let same_agent = user_agent == meta.user_agent();
    match use_ {
        Use::Polling if !same_agent => Err(Mismatch::UserAgent),
        Use::Upgrade if !same_agent && !user_agent.is_empty() && !meta.user_agent().is_empty() => {
            Err(Mismatch::UserAgent)
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn meta(address: &str, user_agent: &str) -> SessionMeta {
        let handshake = siohub_actors::HandshakeInfo {
            headers: siohub_actors::HeaderList::from_pairs([("user-agent", user_agent)]),
            address: address.into(),
            url: "/socket.io/?EIO=4&transport=polling".into(),
            issued: std::time::SystemTime::now(),
            secure: false,
        };
        SessionMeta::new(Arc::from("sid"), Arc::new(handshake), "polling")
    }

    fn from<'a>(peer: &str, user_agent: Option<&'a str>) -> Requester<'a> {
        Requester::new(Some(peer.parse().unwrap()), user_agent.map(str::as_bytes))
    }

    #[test]
    fn polling_needs_the_handshake_address_and_user_agent() {
        let session = meta("10.0.0.1:5000", "agent/1");
        let ok = |r: Requester<'_>| check(&session, &r, Use::Polling, true);
        // Another port is the same client on a new connection.
        assert_eq!(ok(from("10.0.0.1:6000", Some("agent/1"))), Ok(()));
        assert_eq!(ok(from("[::ffff:10.0.0.1]:6000", Some("agent/1"))), Ok(()));
        assert_eq!(
            ok(from("10.0.0.2:5000", Some("agent/1"))),
            Err(Mismatch::Address)
        );
        assert_eq!(
            ok(from("10.0.0.1:5000", Some("agent/2"))),
            Err(Mismatch::UserAgent)
        );
        assert_eq!(ok(from("10.0.0.1:5000", None)), Err(Mismatch::UserAgent));
        let anonymous = meta("10.0.0.1:5000", "");
        assert_eq!(
            check(&anonymous, &from("10.0.0.1:1", None), Use::Polling, true),
            Ok(())
        );
        assert_eq!(
            check(
                &anonymous,
                &from("10.0.0.1:1", Some("x")),
                Use::Polling,
                true
            ),
            Err(Mismatch::UserAgent)
        );
    }

    #[test]
    fn the_address_is_not_compared_when_binding_is_off() {
        let session = meta("10.0.0.1:5000", "agent/1");
        let elsewhere = from("10.9.9.9:1", Some("agent/1"));
        assert_eq!(check(&session, &elsewhere, Use::Polling, false), Ok(()));
        assert_eq!(
            check(&session, &elsewhere, Use::Polling, true),
            Err(Mismatch::Address)
        );
    }

    #[test]
    fn an_upgrade_may_omit_the_user_agent_but_not_change_it() {
        let session = meta("10.0.0.1:5000", "agent/1");
        let up = |r: Requester<'_>| check(&session, &r, Use::Upgrade, true);
        assert_eq!(up(from("10.0.0.1:7", None)), Ok(()));
        assert_eq!(up(from("10.0.0.1:7", Some("agent/1"))), Ok(()));
        assert_eq!(
            up(from("10.0.0.1:7", Some("agent/2"))),
            Err(Mismatch::UserAgent)
        );
    }
}
