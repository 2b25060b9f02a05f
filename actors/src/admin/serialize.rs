//! Sockets as `@socket.io/admin-ui` 0.5 reads them: `{id, clientId, transport, nsp, data,
//! handshake: {address, headers, query, issued, secure, time, url, xdomain}, rooms}`.

use serde_json::{json, Map, Value};

use super::dates::{iso, unix_ms};
use crate::socket::{HandshakeInfo, CREDENTIAL_HEADERS, CREDENTIAL_QUERY_PARAMS};

/// The fields of one socket the UI shows.
pub(crate) struct SocketView<'a> {
    pub(crate) id: &'a str,
    pub(crate) sid: &'a str,
    pub(crate) transport: &'a str,
    pub(crate) nsp: &'a str,
    pub(crate) data: Value,
    pub(crate) handshake: Option<&'a HandshakeInfo>,
    /// The peer address when the handshake is not known.
    pub(crate) address: &'a str,
    pub(crate) rooms: Vec<String>,
}

/// The IP part of `ip:port` (`[v6]:port` too).
fn ip_of(address: &str) -> &str {
    match address.parse::<std::net::SocketAddr>() {
        Ok(_) => address
            .rsplit_once(':')
            .map(|(ip, _)| ip.trim_start_matches('[').trim_end_matches(']'))
            .unwrap_or(address),
        Err(_) => address,
    }
}

/// The query string's pairs, those that carry credentials left out (values not
/// percent-decoded).
fn public_query(query: &str) -> impl Iterator<Item = (&str, &str)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        .filter(|(k, _)| !CREDENTIAL_QUERY_PARAMS.contains(k))
}

/// The query string as an object, without credentials.
fn query_object(query: &str) -> Value {
    let out: Map<String, Value> = public_query(query)
        .map(|(k, v)| (k.to_owned(), Value::String(v.to_owned())))
        .collect();
    Value::Object(out)
}

/// The request URL with its query rebuilt without credentials.
fn public_url(url: &str) -> String {
    let Some((path, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let kept: Vec<String> = public_query(query)
        .map(|(k, v)| match v.is_empty() {
            true => k.to_owned(),
            false => format!("{k}={v}"),
        })
        .collect();
    match kept.is_empty() {
        true => path.to_owned(),
        false => format!("{path}?{}", kept.join("&")),
    }
}

fn handshake_json(view: &SocketView<'_>) -> Value {
    let Some(hs) = view.handshake else {
        return json!({
            "address": ip_of(view.address),
            "headers": {},
            "query": {},
            "issued": 0,
            "secure": false,
            "time": "",
            "url": "",
            "xdomain": false,
        });
    };
    let headers: Map<String, Value> = hs
        .headers
        .iter()
        .filter(|(name, _)| {
            !CREDENTIAL_HEADERS
                .iter()
                .any(|secret| name.eq_ignore_ascii_case(secret))
        })
        .map(|(k, v)| (k.to_owned(), Value::String(v.to_owned())))
        .collect();
    json!({
        "address": ip_of(&hs.address),
        "headers": headers,
        "query": query_object(&hs.query),
        "issued": unix_ms(hs.issued),
        "secure": hs.secure,
        "time": iso(hs.issued),
        "url": public_url(&hs.url),
        "xdomain": hs.header("origin").is_some(),
    })
}

/// One serialized socket.
pub(crate) fn socket_json(view: &SocketView<'_>) -> Value {
    json!({
        "id": view.id,
        "clientId": view.sid,
        "transport": view.transport,
        "nsp": view.nsp,
        "data": view.data,
        "handshake": handshake_json(view),
        "rooms": view.rooms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::socket::HeaderList;
    use std::time::SystemTime;

    #[test]
    fn a_socket_has_every_field_the_ui_reads_and_no_credentials() {
        let hs = HandshakeInfo {
            headers: HeaderList::from_pairs([
                ("Origin", "https://admin.socket.io"),
                ("Cookie", "secret"),
                ("Authorization", "Bearer secret"),
                ("X-API-Key", "secret"),
                ("User-Agent", "node"),
            ]),
            query: "EIO=4&token=secret&transport=polling".into(),
            address: "127.0.0.1:5000".into(),
            url: "/socket.io/?EIO=4&token=secret&transport=polling".into(),
            issued: SystemTime::now(),
            secure: false,
        };
        let view = SocketView {
            id: "abc",
            sid: "sid1",
            transport: "polling",
            nsp: "/",
            data: json!({}),
            handshake: Some(&hs),
            address: "",
            rooms: vec!["abc".into(), "news".into()],
        };
        let socket = socket_json(&view);
        assert_eq!(socket["clientId"], "sid1");
        assert_eq!(socket["handshake"]["address"], "127.0.0.1");
        assert_eq!(socket["handshake"]["query"]["EIO"], "4");
        assert_eq!(socket["handshake"]["xdomain"], true);
        assert_eq!(socket["handshake"]["headers"]["user-agent"], "node");
        assert!(socket["handshake"]["headers"].get("cookie").is_none());
        // Another client's credentials reach no operator: headers, query or URL.
        assert!(!socket.to_string().contains("secret"), "{socket}");
        assert_eq!(
            socket["handshake"]["url"],
            "/socket.io/?EIO=4&transport=polling"
        );
        assert!(socket["handshake"]["time"].as_str().unwrap().ends_with('Z'));
        assert_eq!(ip_of("[::1]:80"), "::1");
    }
}
