//! The Redis channel names, under `[adapter] key_prefix`, exactly as
//! `@socket.io/redis-adapter` 8.3 names them:
//!
//! - broadcasts: `<prefix>#<nsp>#`, and `<prefix>#<nsp>#<room>#` for a single-room one;
//! - requests: `<prefix>-request#<nsp>#` (every node SUBSCRIBEs to it: the node count is
//!   its `PUBSUB NUMSUB`);
//! - responses: `<prefix>-response#<nsp>#` (and `…#<uid>#` for a node that asks for
//!   responses on its own channel).
//!
//! siohub serves namespaces that appear at run time, so it listens with patterns covering
//! every namespace (`<prefix>#*`, `<prefix>-request#*`, `<prefix>-response#*`) and SUBSCRIBEs
//! to the request channel of each namespace it serves, to be counted.

/// What a channel is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Channel<'a> {
    /// A broadcast to a namespace, with the room of a single-room broadcast.
    Broadcast {
        /// The namespace.
        nsp: &'a str,
        /// The room named by the channel, if any.
        room: Option<&'a str>,
    },
    /// A request to the nodes of a namespace.
    Request(&'a str),
    /// A response to a node of a namespace.
    Response(&'a str),
}

/// The channel names of one key prefix.
#[derive(Debug, Clone)]
pub(crate) struct Channels {
    prefix: String,
}

impl Channels {
    /// The channels under `prefix` (validated at start-up: non-empty, no `#`).
    pub(crate) fn new(prefix: &str) -> Self {
        Channels {
            prefix: prefix.to_owned(),
        }
    }

    /// Where a broadcast to `nsp` goes: the room's channel when it names exactly one room.
    pub(crate) fn broadcast(&self, nsp: &str, single_room: Option<&str>) -> String {
        match single_room {
            Some(room) => format!("{}#{nsp}#{room}#", self.prefix),
            None => format!("{}#{nsp}#", self.prefix),
        }
    }

    /// The request channel of `nsp`.
    pub(crate) fn request(&self, nsp: &str) -> String {
        format!("{}-request#{nsp}#", self.prefix)
    }

    /// The response channel of `nsp`.
    pub(crate) fn response(&self, nsp: &str) -> String {
        format!("{}-response#{nsp}#", self.prefix)
    }

    /// The patterns that cover every namespace's broadcasts, requests and responses.
    pub(crate) fn patterns(&self) -> [String; 3] {
        let prefix = escape_glob(&self.prefix);
        [
            format!("{prefix}#*"),
            format!("{prefix}-request#*"),
            format!("{prefix}-response#*"),
        ]
    }

    /// What `channel` is, or `None` when it is none of ours (or names a namespace with a
    /// `#`, which no channel can carry unambiguously).
    pub(crate) fn parse<'a>(&self, channel: &'a str) -> Option<Channel<'a>> {
        let rest = channel.strip_prefix(self.prefix.as_str())?;
        if let Some(rest) = rest.strip_prefix('#') {
            let (nsp, room) = rest.split_once('#')?;
            let room = match room {
                "" => None,
                room => Some(room.strip_suffix('#')?),
            };
            return Some(Channel::Broadcast { nsp, room });
        }
        if let Some(rest) = rest.strip_prefix("-request#") {
            let nsp = rest.strip_suffix('#')?;
            return (!nsp.contains('#')).then_some(Channel::Request(nsp));
        }
        let rest = rest.strip_prefix("-response#")?;
        // `<nsp>#` or `<nsp>#<uid>#`.
        let (nsp, _) = rest.split_once('#')?;
        Some(Channel::Response(nsp))
    }
}

/// `text` with Redis glob specials escaped, for a pattern that matches it literally.
fn escape_glob(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_node_adapter() {
        let c = Channels::new("socket.io");
        assert_eq!(c.broadcast("/", None), "socket.io#/#");
        assert_eq!(c.broadcast("/chat", Some("r1")), "socket.io#/chat#r1#");
        assert_eq!(c.request("/"), "socket.io-request#/#");
        assert_eq!(c.response("/"), "socket.io-response#/#");
        assert_eq!(c.patterns()[0], "socket.io#*");
        assert_eq!(Channels::new("a*b").patterns()[1], "a\\*b-request#*");
    }

    #[test]
    fn channels_parse_back() {
        let c = Channels::new("socket.io");
        let room = Some("r#1");
        assert_eq!(
            c.parse("socket.io#/chat#r#1#"),
            Some(Channel::Broadcast { nsp: "/chat", room })
        );
        assert_eq!(
            c.parse("socket.io#/#"),
            Some(Channel::Broadcast {
                nsp: "/",
                room: None
            })
        );
        assert_eq!(c.parse("socket.io-request#/#"), Some(Channel::Request("/")));
        assert_eq!(
            c.parse("socket.io-response#/x#abc123#"),
            Some(Channel::Response("/x"))
        );
        assert_eq!(c.parse("other#/#"), None);
        assert_eq!(c.parse("socket.io#/"), None);
        assert_eq!(c.parse("socket.io#/#room"), None);
    }
}
