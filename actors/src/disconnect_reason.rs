//! Why a socket left its namespace, in the reference server's words. Plain data, named by
//! messages, handlers and the session.

/// Why a socket left its namespace; the strings are the reference server's reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DisconnectReason {
    /// The client left the namespace (`1<nsp>`).
    ClientNamespaceDisconnect,
    /// Server code disconnected the socket.
    ServerNamespaceDisconnect,
    /// The client closed the Engine.IO session or its transport went away.
    TransportClose,
    /// The transport failed (for example overlapping polls or an aborted poll).
    TransportError,
    /// No pong within the ping timeout.
    PingTimeout,
    /// The client sent a malformed packet.
    ParseError,
    /// The server closed the session.
    ForcedClose,
    /// The server is shutting down.
    ServerShuttingDown,
    /// The client read too slowly and its outgoing buffer filled up.
    SlowConsumer,
}

impl DisconnectReason {
    /// The reason as the reference server spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            DisconnectReason::ClientNamespaceDisconnect => "client namespace disconnect",
            DisconnectReason::ServerNamespaceDisconnect => "server namespace disconnect",
            DisconnectReason::TransportClose => "transport close",
            DisconnectReason::TransportError => "transport error",
            DisconnectReason::PingTimeout => "ping timeout",
            DisconnectReason::ParseError => "parse error",
            DisconnectReason::ForcedClose => "forced close",
            DisconnectReason::ServerShuttingDown => "server shutting down",
            DisconnectReason::SlowConsumer => "slow consumer",
        }
    }
}

impl std::fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
