//! What a session does differently for an Engine.IO v3 client (`socket.io-client` 2.x,
//! `[engine] allow_eio3`): the client pings and the server answers, polling bodies are
//! length-prefixed records, websocket binary frames carry their type byte, and the
//! Socket.IO layer speaks protocol v4 (implicit `/`, CONNECT replies without a payload,
//! namespace queries as the auth payload).
//!
//! Only v3 sessions run any of this: a v4 session's frames are written as they were encoded,
//! with no per-recipient work.

use actix::prelude::*;
use bytes::Bytes;
use serde_json::{Map, Value};
use siohub_protocol::eio3;
use siohub_protocol::{EnginePacket, ProtocolError};

use super::{Session, Transport};
use crate::disconnect_reason::DisconnectReason;
use crate::socket::HandshakeInfo;
use crate::wire_frame::WireFrame;

/// Whether a handshake opened an Engine.IO v3 session: any `EIO` but `4` (none included), as
/// the reference server reads it. Only asked once `allow_eio3` admitted the request.
pub fn is_eio3(handshake: &HandshakeInfo) -> bool {
    handshake.query_param("EIO") != Some("4")
}

impl Session {
    /// (Re)starts the wait for the client's next ping: pingInterval + pingTimeout, then the
    /// session closes, as the reference server does for v3.
    pub(super) fn arm_v3_heartbeat(&mut self, ctx: &mut Context<Self>) {
        if let Some(handle) = self.pong_deadline.take() {
            ctx.cancel_future(handle);
        }
        let wait = self.config.ping_interval + self.config.ping_timeout;
        self.pong_deadline = Some(ctx.run_later(wait, |act, ctx| {
            act.pong_deadline = None;
            crate::limited!(
                info,
                "session {}: no ping from the v3 client within the ping interval and timeout; closing",
                act.meta.sid
            );
            act.close(DisconnectReason::PingTimeout, ctx);
        }));
    }

    /// A v3 heartbeat packet: a ping is answered with a pong carrying the same data and
    /// restarts the wait; a pong is the wrong direction and closes the session.
    pub(super) fn on_v3_heartbeat(&mut self, packet: EnginePacket, ctx: &mut Context<Self>) {
        match packet {
            EnginePacket::Ping(data) => {
                self.send(EnginePacket::Pong(data), ctx);
                self.arm_v3_heartbeat(ctx);
            }
            _ => {
                crate::limited!(
                    warn,
                    "session {}: pong from a v3 client (invalid heartbeat direction); closing",
                    self.meta.sid
                );
                self.close(DisconnectReason::TransportError, ctx);
            }
        }
    }

    /// Decodes a websocket text frame as the session's protocol reads it.
    pub(super) fn decode_ws_text(&self, text: &str) -> Result<EnginePacket, ProtocolError> {
        if self.eio3 {
            eio3::decode_text_packet(text)
        } else {
            EnginePacket::decode_text(text)
        }
    }

    /// Decodes a websocket binary frame as the session's protocol reads it.
    pub(super) fn decode_ws_binary(
        &self,
        data: bytes::Bytes,
    ) -> Result<EnginePacket, ProtocolError> {
        if self.eio3 {
            eio3::decode_binary_frame(data)
        } else {
            Ok(EnginePacket::decode_binary(data))
        }
    }

    /// The polling body of `6` (forcing a polling cycle during an upgrade).
    pub(super) fn noop_body(&self) -> Bytes {
        self.single_packet_body(&EnginePacket::Noop)
    }

    /// The polling body of one control packet.
    pub(super) fn single_packet_body(&self, packet: &EnginePacket) -> Bytes {
        let text = packet.encode_text().unwrap_or_default();
        if !self.eio3 {
            return Bytes::from(text);
        }
        let mut out = String::with_capacity(text.len() + 2);
        eio3::push_text_record(&mut out, &text);
        Bytes::from(out)
    }

    /// Frames as a v3 client's websocket takes them: binary messages get their type byte
    /// (the frames a broadcast shares are v4 frames, re-encoded for v3 by the first v3
    /// recipient, and that encoding shared by the others, as is its compression).
    pub(super) fn v3_ws_frames(frames: &[WireFrame]) -> Vec<WireFrame> {
        frames
            .iter()
            .map(|frame| match frame.is_binary() {
                true => {
                    frame.variant(|f| WireFrame::binary(eio3::binary_frame_payload(f.payload())))
                }
                false => frame.clone(),
            })
            .collect()
    }

    /// Whether frames must be re-encoded before they go to this session's websocket.
    pub(super) fn reframes_websocket(&self) -> bool {
        self.eio3 && matches!(self.transport, Transport::WebSocket(_))
    }
}

/// Joins frames into one v3 polling body: when some frame is binary and the client takes
/// binary bodies (it did not ask for `b64`), the binary payload encoding; otherwise
/// `<length>:<packet>` records, binary as `b4` base64.
pub(super) fn polling_body<'a>(
    frames: impl Iterator<Item = &'a WireFrame> + Clone,
    binary_ok: bool,
) -> Bytes {
    if binary_ok && frames.clone().any(WireFrame::is_binary) {
        let mut out = Vec::new();
        for frame in frames {
            match frame.is_binary() {
                true => eio3::push_binary_payload_binary(&mut out, frame.payload()),
                false => eio3::push_binary_payload_text(&mut out, frame.payload()),
            }
        }
        return Bytes::from(out);
    }
    let mut out = String::new();
    for frame in frames {
        if frame.is_binary() {
            eio3::push_binary_record(&mut out, frame.payload());
        } else {
            let text = std::str::from_utf8(frame.payload()).unwrap_or_default();
            eio3::push_text_record(&mut out, text);
        }
    }
    Bytes::from(out)
}

/// Whether a v3 client takes binary polling bodies: it did not ask for base64 (`b64` absent
/// or empty, as the reference server reads it).
pub(super) fn takes_binary_bodies(handshake: &HandshakeInfo) -> bool {
    handshake.query_param("b64").is_none_or(str::is_empty)
}

/// A v3 namespace with a query (`/nsp?token=x`): the namespace, and the query as the
/// CONNECT's auth payload (an object of strings, percent-decoded), as the reference server
/// reads a v3 CONNECT (an empty object without a query).
pub(super) fn split_namespace_query(nsp: &str) -> (String, Value) {
    let (path, query) = nsp.split_once('?').unwrap_or((nsp, ""));
    let mut auth = Map::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        auth.insert(percent_decode(key), Value::String(percent_decode(value)));
    }
    (path.to_owned(), Value::Object(auth))
}

/// Decodes `%XX` escapes and `+` (a space, in a query); a bad escape stays as it is.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The socket id the reference server gives a v3 client's socket: the session id on `/`,
/// `<nsp>#<sid>` elsewhere (the id socket.io-client 2.x computes for itself).
pub(super) fn socket_id(nsp: &str, sid: &str) -> String {
    if nsp == "/" {
        sid.to_owned()
    } else {
        format!("{nsp}#{sid}")
    }
}

/// The CONNECT_ERROR data a v3 client gets for a refusal: the refusal's data if it has
/// some, else its message, as the reference server sends (`err.data || err.message`).
pub(super) fn connect_error_data(message: &str, data: Option<Value>) -> Value {
    match data {
        Some(data) if truthy(&data) => data,
        _ => Value::String(message.to_owned()),
    }
}

/// JavaScript truthiness of a JSON value.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn namespace_queries_become_the_auth_payload() {
        assert_eq!(split_namespace_query("/chat"), ("/chat".into(), json!({})));
        assert_eq!(
            split_namespace_query("/chat?token=a%20b&x=1+2&flag&bad=%zz"),
            (
                "/chat".into(),
                json!({"token": "a b", "x": "1 2", "flag": "", "bad": "%zz"})
            )
        );
        assert_eq!(split_namespace_query("/?"), ("/".into(), json!({})));
        assert_eq!(percent_decode("%e2%82%ac%"), "€%");
    }

    #[test]
    fn socket_ids_follow_the_reference_server() {
        assert_eq!(socket_id("/", "abc"), "abc");
        assert_eq!(socket_id("/chat", "abc"), "/chat#abc");
    }

    #[test]
    fn connect_errors_carry_data_or_message() {
        assert_eq!(connect_error_data("no", None), json!("no"));
        assert_eq!(connect_error_data("no", Some(json!(null))), json!("no"));
        assert_eq!(connect_error_data("no", Some(json!(""))), json!("no"));
        assert_eq!(
            connect_error_data("no", Some(json!({"code": 1}))),
            json!({"code": 1})
        );
    }

    #[test]
    fn polling_bodies_are_length_prefixed() {
        let frames = [
            WireFrame::text("4é".into()),
            WireFrame::binary(bytes::Bytes::from_static(&[1, 2, 3])),
        ];
        assert_eq!(polling_body(frames[..1].iter(), true), "2:4é");
        assert_eq!(polling_body(frames.iter(), false), "2:4é6:b4AQID");
        assert_eq!(
            polling_body(frames.iter(), true),
            &[0, 3, 255, b'4', 0xc3, 0xa9, 1, 4, 255, 4, 1, 2, 3][..]
        );
        let ws = Session::v3_ws_frames(&frames);
        assert_eq!(ws[0], frames[0]);
        assert_eq!(ws[1].payload(), &[4, 1, 2, 3]);
    }

    #[test]
    fn a_broadcast_to_v3_websockets_is_reframed_and_compressed_once() {
        // One broadcast's shared frames, taken by two v3 recipients and a v4 one.
        let shared = [
            WireFrame::text(format!("4{}", "a".repeat(2000))),
            WireFrame::binary(bytes::Bytes::from(vec![7u8; 2000])),
        ];
        let first = Session::v3_ws_frames(&shared);
        let second = Session::v3_ws_frames(&shared);
        for i in 0..2 {
            // The same allocation: encoded (and deflated) once for every recipient.
            assert_eq!(first[i].payload().as_ptr(), second[i].payload().as_ptr());
            let (a, b) = (
                first[i].ws_bytes_deflated(0),
                second[i].ws_bytes_deflated(0),
            );
            assert_eq!(a.as_ptr(), b.as_ptr());
        }
        let v4 = shared[0].ws_bytes_deflated(0);
        assert_eq!(v4.as_ptr(), first[0].ws_bytes_deflated(0).as_ptr());
    }
}
