//! The parts of a request head the Engine.IO endpoint reads, borrowed either from a head
//! the HTTP dispatcher parsed or from one read before any dispatcher existed (see
//! [`super::first_request`]).

use std::net::SocketAddr;
use std::time::SystemTime;

use actix_http::RequestHead;
use siohub_actors::{HandshakeInfo, HeaderList};

/// A request head: method, target and headers, all borrowed.
pub struct HeadView<'a> {
    /// The method, such as `GET`.
    pub method: &'a str,
    /// The request target as sent: path and query.
    pub target: &'a str,
    /// Every header as (name, raw value), in order.
    pub headers: &'a [(&'a str, &'a [u8])],
}

impl<'a> HeadView<'a> {
    /// A view of `head`; `headers` is filled with its headers and must outlive the view.
    pub fn of_actix(head: &'a RequestHead, headers: &'a mut Vec<(&'a str, &'a [u8])>) -> Self {
        headers.extend(head.headers.iter().map(|(k, v)| (k.as_str(), v.as_bytes())));
        HeadView {
            method: head.method.as_str(),
            target: head
                .uri
                .path_and_query()
                .map_or_else(|| head.uri.path(), |pq| pq.as_str()),
            headers,
        }
    }

    /// The path, without the query.
    pub fn path(&self) -> &'a str {
        self.target.split_once('?').map_or(self.target, |(p, _)| p)
    }

    /// The raw query string, or an empty one.
    pub fn query(&self) -> &'a str {
        self.target.split_once('?').map_or("", |(_, q)| q)
    }

    /// The first value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.headers_named(name).next()
    }

    /// Every value of a header (case-insensitive name).
    pub fn headers_named<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'a [u8]> + 's {
        self.headers
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    /// What the session keeps of the opening request: headers whose values are visible
    /// ASCII (as an HTTP header value converts to text), the query, the peer and the URL.
    pub fn handshake_info(&self, peer: Option<SocketAddr>) -> HandshakeInfo {
        HandshakeInfo {
            headers: HeaderList::from_pairs(
                self.headers
                    .iter()
                    .filter_map(|(k, v)| Some((*k, header_text(v)?))),
            ),
            address: peer.map(|a| a.to_string()).unwrap_or_default(),
            url: self.target.to_owned(),
            issued: SystemTime::now(),
            secure: false,
        }
    }
}

/// A header value as text, if it is visible ASCII (tabs and spaces allowed), as
/// `HeaderValue::to_str` takes it.
pub fn header_text(value: &[u8]) -> Option<&str> {
    value
        .iter()
        .all(|&b| b == b'\t' || (32..127).contains(&b))
        .then(|| std::str::from_utf8(value).ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_the_target_and_finds_headers_in_any_case() {
        let headers = [
            ("Host", &b"x"[..]),
            ("origin", b"http://a"),
            ("X-Many", b"1"),
            ("x-many", b"2"),
        ];
        let head = HeadView {
            method: "GET",
            target: "/socket.io/?EIO=4&transport=websocket",
            headers: &headers,
        };
        assert_eq!(head.path(), "/socket.io/");
        assert_eq!(head.query(), "EIO=4&transport=websocket");
        assert_eq!(head.header("ORIGIN"), Some(&b"http://a"[..]));
        assert_eq!(head.headers_named("x-many").count(), 2);
        let plain = HeadView {
            method: "GET",
            target: "/health",
            headers: &[],
        };
        assert_eq!((plain.path(), plain.query()), ("/health", ""));
    }

    #[test]
    fn header_text_takes_visible_ascii_only() {
        assert_eq!(header_text(b"a b\tc"), Some("a b\tc"));
        assert_eq!(header_text(b"caf\xc3\xa9"), None);
        assert_eq!(header_text(b"a\x7f"), None);
    }

    #[test]
    fn handshake_info_keeps_text_headers_the_query_and_the_url() {
        let headers = [("user-agent", &b"test"[..]), ("x-bin", b"\xff")];
        let head = HeadView {
            method: "GET",
            target: "/socket.io/?EIO=4&x=1",
            headers: &headers,
        };
        let info = head.handshake_info(Some("127.0.0.1:5000".parse().unwrap()));
        assert_eq!(info.header("User-Agent"), Some("test"));
        assert_eq!(info.header("x-bin"), None);
        assert_eq!(info.query(), "EIO=4&x=1");
        assert_eq!(info.url, "/socket.io/?EIO=4&x=1");
        assert_eq!(info.address, "127.0.0.1:5000");
    }
}
