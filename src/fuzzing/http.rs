//! The first request's head (read before any HTTP dispatcher) and the query strings the
//! endpoint and the API read.

use actix_web::web::Query;

use crate::transport::head::header_text;
use crate::transport::query::EngineQuery;
use crate::transport::{websocket_accept, with_plain_upgrade};
use siohub_actors::ws::deflate;

/// Any bytes as a connection's first read: a head taken as a plain upgrade must lie within
/// the input, and every check made on it must answer, whatever its headers.
pub fn http_head(data: &[u8]) {
    let parsed = with_plain_upgrade(data, |head, len| {
        assert!(len <= data.len());
        let _ = EngineQuery::parse(head.query());
        let info = head.handshake_info(None);
        assert_eq!(info.url, head.target);
        let _ = websocket_accept(head);
        let offers = head
            .headers_named("sec-websocket-extensions")
            .filter_map(header_text);
        let _ = deflate::accepts_offer(offers);
        for (_, value) in head.headers {
            if let Some(text) = header_text(value) {
                assert!(text.bytes().all(|b| b == b'\t' || (32..127).contains(&b)));
            }
        }
    });
    let _ = parsed;
}

/// Any text as the query of the Engine.IO endpoint and of the API's `GET` routes.
pub fn query_strings(data: &[u8]) {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = EngineQuery::parse(query);
    if let Some(sid) = parsed.sid {
        assert!(!sid.is_empty());
    }
    let _ = Query::<crate::api::connections::Page>::from_query(query);
    crate::api::fuzz_queries(query);
}
