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
        "query": query_object(hs.query()),
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

/// A socket of another node (a fetch-sockets answer: `{id, handshake, rooms, data}` as
/// socket.io serializes it) as the official UI reads it, with no credentials: the headers
/// and query parameters that carry them are left out, the URL's query is rebuilt without
/// them, and `auth` is dropped (as the admin UI's own serializer does). Another node,
/// siohub or Node.js, may send them all.
pub fn remote_socket_json(nsp: &str, socket: &Value) -> Value {
    let hs = &socket["handshake"];
    let headers: Map<String, Value> = hs["headers"]
        .as_object()
        .map(|h| {
            h.iter()
                .filter(|(name, _)| {
                    !CREDENTIAL_HEADERS
                        .iter()
                        .any(|secret| name.eq_ignore_ascii_case(secret))
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    let query: Map<String, Value> = hs["query"]
        .as_object()
        .map(|q| {
            q.iter()
                .filter(|(k, _)| !CREDENTIAL_QUERY_PARAMS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    // As the admin UI shows a socket's address: the proxy's headers first.
    let address = ["cf-connecting-ip", "x-forwarded-for"]
        .iter()
        .find_map(|h| headers.get(*h).cloned())
        .unwrap_or_else(|| hs["address"].clone());
    let mut data = socket["data"].clone();
    if let Some(obj) = data.as_object_mut() {
        obj.remove("_admin");
    }
    json!({
        "id": socket["id"],
        "clientId": socket["data"]["_admin"]["clientId"],
        "transport": socket["data"]["_admin"]["transport"],
        "nsp": nsp,
        "data": data,
        "handshake": {
            "address": address,
            "headers": headers,
            "query": query,
            "issued": hs["issued"],
            "secure": hs["secure"],
            "time": hs["time"],
            "url": public_url(hs["url"].as_str().unwrap_or("")),
            "xdomain": hs["xdomain"],
        },
        "rooms": socket["rooms"],
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

    #[test]
    fn a_remote_socket_reaches_the_ui_without_credentials() {
        let remote = json!({
            "id": "r1",
            "handshake": {
                "headers": {"authorization": "Bearer secret", "Cookie": "secret", "user-agent": "node", "x-forwarded-for": "10.0.0.9"},
                "query": {"EIO": "4", "token": "secret"},
                "auth": {"token": "secret"},
                "address": "::1", "issued": 5, "secure": false, "time": "t",
                "url": "/socket.io/?EIO=4&token=secret", "xdomain": false,
            },
            "rooms": ["r1", "news"],
            "data": {"_admin": {"clientId": "c1", "transport": "websocket"}, "x": 1},
        });
        let socket = remote_socket_json("/chat", &remote);
        assert!(!socket.to_string().contains("secret"), "{socket}");
        assert_eq!(socket["nsp"], "/chat");
        assert_eq!(socket["clientId"], "c1");
        assert_eq!(socket["data"], json!({"x": 1}));
        assert_eq!(socket["handshake"]["address"], "10.0.0.9");
        assert_eq!(socket["handshake"]["url"], "/socket.io/?EIO=4");
        assert_eq!(socket["rooms"], json!(["r1", "news"]));
        // Garbage from a peer gives empty fields, never a panic.
        let empty = remote_socket_json("/", &json!("garbage"));
        assert!(empty["handshake"]["headers"]
            .as_object()
            .unwrap()
            .is_empty());
    }
}
