//! Engine.IO v4 / Socket.IO v5 as the load generator speaks it: hand-rolled text packets on
//! the default namespace `/`, and the handful of parsers the scenarios need.
//!
//! Packets as they appear in a websocket text frame or a polling payload:
//! `0{..}` open, `2`/`3` ping/pong, `40` connect, `42[..]` event, `42<id>[..]` event with
//! ack request, `43<id>[..]` ack. With the msgpack parser ([`Parser::Msgpack`]) the
//! Socket.IO packets are msgpack maps in binary frames ([`crate::msgpack`]); Engine.IO's
//! open, ping and pong stay text.

use std::borrow::Cow;
use std::io;

use crate::msgpack;
use crate::ws::{Frame, Ws};

/// The Socket.IO parser the clients speak (the server must use the same).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parser {
    /// socket.io-parser: text packets (`42[..]`).
    Json,
    /// socket.io-msgpack-parser 3.x: one msgpack map per packet, binary frames.
    Msgpack,
}

/// How every websocket of a run talks: the parser, and whether it offers permessage-deflate.
#[derive(Clone, Copy, Debug)]
pub struct Wire {
    pub parser: Parser,
    pub deflate: bool,
}

impl Default for Wire {
    fn default() -> Wire {
        Wire {
            parser: Parser::Json,
            deflate: false,
        }
    }
}

/// The parser a connected websocket speaks.
fn parser_of(ws: &Ws) -> Parser {
    if ws.wr.binary_packets {
        Parser::Msgpack
    } else {
        Parser::Json
    }
}

/// A Socket.IO packet read from a frame, as much as the scenarios need of it.
pub enum Packet<'a> {
    /// Engine.IO ping (`2`): answer `3`.
    Ping,
    /// CONNECT (ack of ours).
    Connect,
    /// CONNECT_ERROR, with its text for the error message.
    ConnectError(String),
    /// ACK: id and JSON arguments (`[..]`).
    Ack(u64, Cow<'a, [u8]>),
    /// EVENT whose first argument starts with a publisher's 16-digit timestamp.
    Delivery(u64),
    /// Anything else (other events, the Engine.IO open, noop).
    Other,
}

/// Reads one text or binary frame as a packet of either parser; `None` for frames that are
/// not messages (control frames) and for a binary frame that is not a valid msgpack packet.
pub fn packet<'a>(frame: &Frame<'a>) -> Option<Packet<'a>> {
    Some(match *frame {
        Frame::Text(b"2") => Packet::Ping,
        Frame::Text(t) => {
            if t.starts_with(b"40") {
                Packet::Connect
            } else if t.starts_with(b"44") {
                Packet::ConnectError(String::from_utf8_lossy(t).into_owned())
            } else if let Some((id, args)) = parse_ack(t) {
                Packet::Ack(id, Cow::Borrowed(args))
            } else if let Some(ts) = event_timestamp(t) {
                Packet::Delivery(ts)
            } else {
                Packet::Other
            }
        }
        Frame::Binary(b) => {
            let p = msgpack::decode(b)?;
            match p.kind {
                0 => Packet::Connect,
                4 => Packet::ConnectError(format!("{:?}", msgpack_text(b))),
                3 => Packet::Ack(p.id?, Cow::Owned(p.ack_args?)),
                2 => match p.first_str.and_then(|s| parse_u64(s.get(..16)?)) {
                    Some(ts) => Packet::Delivery(ts),
                    None => Packet::Other,
                },
                _ => Packet::Other,
            }
        }
        _ => return None,
    })
}

/// A msgpack packet's bytes as printable text, for error messages.
fn msgpack_text(b: &[u8]) -> String {
    String::from_utf8_lossy(b)
        .chars()
        .filter(|c| !c.is_control())
        .collect()
}

/// The websocket URL path (and query) of a Socket.IO server at `path` (e.g. `/socket.io/`).
pub fn ws_path(path: &str) -> String {
    format!("{path}?EIO=4&transport=websocket")
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// Connects over websocket and completes the Engine.IO open and Socket.IO CONNECT to `/`.
pub async fn connect_ws(
    addr: &str,
    path: &str,
    buf_size: usize,
    seed: u32,
    wire: Wire,
) -> io::Result<Ws> {
    connect_ws_to(addr, path, buf_size, seed, "/", wire).await
}

/// Connects over websocket and completes the Engine.IO open and Socket.IO CONNECT to
/// namespace `nsp` (no auth).
pub async fn connect_ws_to(
    addr: &str,
    path: &str,
    buf_size: usize,
    seed: u32,
    nsp: &str,
    wire: Wire,
) -> io::Result<Ws> {
    let connect = match (wire.parser, nsp) {
        (Parser::Msgpack, _) => msgpack::connect_packet(nsp),
        (Parser::Json, "/") => b"40".to_vec(),
        (Parser::Json, _) => format!("40{nsp},").into_bytes(),
    };
    let mut ws = Ws::connect(addr, &ws_path(path), buf_size, seed, wire.deflate).await?;
    ws.wr.binary_packets = wire.parser == Parser::Msgpack;
    let (mut opened, mut connected) = (false, false);
    loop {
        // The open packet and a first ping may come in one read: answer both.
        let (mut send_connect, mut pong) = (false, false);
        while let Some(frame) = ws.rd.next_frame()? {
            if let Frame::Close(why) = frame {
                return Err(invalid(format!(
                    "closed during socket.io connect: {}",
                    close_reason(why)
                )));
            }
            if let Frame::Text(t) = frame {
                if t.first() == Some(&b'0') && !opened {
                    opened = true;
                    send_connect = true;
                    continue;
                }
            }
            match packet(&frame) {
                Some(Packet::Connect) => connected = true,
                Some(Packet::ConnectError(why)) => {
                    return Err(invalid(format!("socket.io connect refused: {why}")))
                }
                Some(Packet::Ping) => pong = true,
                _ => {}
            }
        }
        if pong {
            ws.wr.push_text(b"3");
        }
        if send_connect {
            ws.wr.push_packet(&connect);
        }
        ws.wr.flush().await?;
        if connected {
            return Ok(ws);
        }
        if ws.rd.fill().await? == 0 {
            return Err(invalid("connection closed during socket.io connect".into()));
        }
    }
}

/// Emits `packet` (an event with ack id `ack_id`) and waits for its ack, answering pings
/// meanwhile; other packets are skipped. Returns the ack's JSON arguments.
pub async fn call(ws: &mut Ws, packet_bytes: &[u8], ack_id: u64) -> io::Result<Vec<u8>> {
    ws.wr.send_packet(packet_bytes).await?;
    loop {
        let (mut pong, mut answer) = (false, None);
        while let Some(frame) = ws.rd.next_frame()? {
            if let Frame::Close(why) = frame {
                return Err(invalid(format!(
                    "closed while waiting for an ack: {}",
                    close_reason(why)
                )));
            }
            match packet(&frame) {
                Some(Packet::Ping) => pong = true,
                Some(Packet::Ack(id, args)) if id == ack_id => answer = Some(args.into_owned()),
                _ => {}
            }
        }
        // Answer a ping that came with the ack before returning, or the server times out.
        if pong {
            ws.wr.send_text(b"3").await?;
        }
        if let Some(args) = answer {
            return Ok(args);
        }
        if ws.rd.fill().await? == 0 {
            return Err(invalid("connection closed while waiting for an ack".into()));
        }
    }
}

/// A websocket close frame's code and reason, for error messages.
pub fn close_reason(payload: &[u8]) -> String {
    match payload {
        [a, b, reason @ ..] => format!(
            "code {} {}",
            u16::from_be_bytes([*a, *b]),
            String::from_utf8_lossy(reason)
        ),
        _ => "no code".to_owned(),
    }
}

/// The `join` packet for `room` with ack id `id` (JSON: polling sessions use it too).
pub fn join_packet(room: &str, id: u64) -> Vec<u8> {
    format!("42{id}[\"join\",\"{room}\"]").into_bytes()
}

/// The `join` packet for `room` taking field set `["a", "f<set>"]` (siohub's field filter).
pub fn join_fields_packet(room: &str, id: u64, set: usize) -> Vec<u8> {
    format!("42{id}[\"join\",{{\"room\":\"{room}\",\"fields\":[\"a\",\"f{set}\"]}}]").into_bytes()
}

/// Joins `room` as subscriber `i` of `cfg` (with its field set, if the run has them).
pub async fn join_as(ws: &mut Ws, cfg: &crate::Config, i: usize) -> io::Result<()> {
    let room = cfg.fanout_room(i);
    match cfg.field_sets {
        0 => join(ws, &room).await,
        n => {
            let args = call(ws, &join_fields_packet(&room, 0, i % n), 0).await?;
            check_ok(&args, "join")
        }
    }
}

/// Joins `room` and checks the ack says `"ok":true`.
pub async fn join(ws: &mut Ws, room: &str) -> io::Result<()> {
    let packet = match parser_of(ws) {
        Parser::Json => join_packet(room, 0),
        Parser::Msgpack => msgpack::join_packet(room, 0),
    };
    let args = call(ws, &packet, 0).await?;
    check_ok(&args, "join")
}

/// The `ping` packet with ack id `id` (`42<id>["ping",{}]`), into `out`.
pub fn ping_packet(parser: Parser, out: &mut Vec<u8>, id: u64) {
    match parser {
        Parser::Json => {
            use std::io::Write;
            out.clear();
            let _ = write!(out, "42{id}[\"ping\",{{}}]");
        }
        Parser::Msgpack => msgpack::ping_packet(out, id),
    }
}

/// An ack's arguments must carry `"ok":true`.
pub fn check_ok(args: &[u8], what: &str) -> io::Result<()> {
    if crate::ws::find(args, b"\"ok\":true").is_some() {
        Ok(())
    } else {
        Err(invalid(format!(
            "{what} refused: {}",
            String::from_utf8_lossy(args)
        )))
    }
}

/// `43<id>[...]` → `(id, "[...]")`.
pub fn parse_ack(t: &[u8]) -> Option<(u64, &[u8])> {
    let rest = t.strip_prefix(b"43")?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    Some((parse_u64(&rest[..digits])?, &rest[digits..]))
}

/// The send timestamp in an event `42["<event>","<16 digits>..."]` sent by a publisher.
pub fn event_timestamp(t: &[u8]) -> Option<u64> {
    let rest = t.strip_prefix(b"42[\"")?;
    let at = rest.iter().position(|&b| b == b'"')?;
    let after = &rest[at + 1..];
    // A string, or an object whose first field is the timestamp `a`.
    let data = after
        .strip_prefix(b",\"")
        .or_else(|| after.strip_prefix(b",{\"a\":\""))?;
    parse_u64(data.get(..16)?)
}

/// The `"recipients":N` of a publish ack, if any.
pub fn recipients(args: &[u8]) -> Option<u64> {
    number_after(args, b"\"recipients\":")
}

/// The unsigned number after `key` (such as `"dropped":`) in `json`, if any.
pub fn number_after(json: &[u8], key: &[u8]) -> Option<u64> {
    let at = crate::ws::find(json, key)?;
    let rest = &json[at + key.len()..];
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    parse_u64(&rest[..digits])
}

pub fn parse_u64(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + u64::from(b - b'0'))
    })
}

/// What follows the timestamp in a publish's `data`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    /// `x` repeated: the same every time, and deflate shrinks it to nearly nothing.
    X,
    /// `key=number;` pairs, the numbers different in every publish (as market ticks are):
    /// text that deflate compresses about as real JSON, and that context takeover cannot
    /// reduce to a back-reference to the previous message.
    Ticks,
}

/// Appends `len` bytes of `padding` (for publish `seq`) to `out`; no `"` or `\`, so it
/// goes into a JSON string as it is.
pub fn pad(out: &mut Vec<u8>, len: usize, padding: Padding, seq: u64) {
    use std::io::Write;
    let end = out.len() + len;
    match padding {
        Padding::X => out.resize(end, b'x'),
        Padding::Ticks => {
            const KEYS: [&str; 8] = [
                "price", "volume", "symbol", "ts", "bid", "ask", "trade", "venue",
            ];
            let mut x = seq.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
            let mut i = 0;
            while out.len() < end {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let _ = write!(out, "{}={};", KEYS[i % 8], x % 100_000);
                i += 1;
            }
            out.truncate(end);
        }
    }
}

/// Builds a publish of `data` = `payload` bytes (a 16-digit timestamp in microseconds,
/// then `padding`) to `room` as `event` with ack id `id`, into `out` (reusing its
/// allocation; `scratch` too): `42<id>["publish",{"room":..,"event":..,"data":".."}]` or
/// its msgpack form.
#[allow(clippy::too_many_arguments)]
pub fn publish_packet(
    parser: Parser,
    out: &mut Vec<u8>,
    scratch: &mut Vec<u8>,
    id: u64,
    room: &str,
    event: &str,
    ts_us: u64,
    payload: usize,
    padding: Padding,
    object_fields: usize,
) {
    use std::io::Write;
    out.clear();
    match parser {
        Parser::Json => {
            if let Some(each) = payload.saturating_sub(16).checked_div(object_fields) {
                let _ = write!(
                    out,
                    "42{id}[\"publish\",{{\"room\":\"{room}\",\"event\":\"{event}\",\"data\":{{\"a\":\"{ts_us:016}\""
                );
                for f in 0..object_fields {
                    let _ = write!(out, ",\"f{f}\":\"");
                    out.resize(out.len() + each, b'x');
                    out.push(b'"');
                }
                out.extend_from_slice(b"}}]");
                return;
            }
            let _ = write!(
                out,
                "42{id}[\"publish\",{{\"room\":\"{room}\",\"event\":\"{event}\",\"data\":\"{ts_us:016}"
            );
            pad(out, payload.saturating_sub(16), padding, id);
            out.extend_from_slice(b"\"}]");
        }
        Parser::Msgpack => {
            scratch.clear();
            let _ = write!(scratch, "{ts_us:016}");
            pad(scratch, payload.saturating_sub(16), padding, id);
            msgpack::publish_packet(out, id, room, event, scratch);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_publishes_carry_the_timestamp_first() {
        let mut p = Vec::new();
        publish_packet(
            Parser::Json,
            &mut p,
            &mut Vec::new(),
            3,
            "bench",
            "m",
            1234,
            64,
            Padding::X,
            3,
        );
        let text = String::from_utf8(p).unwrap();
        let data = text.split("\"data\":").nth(1).unwrap();
        let data: serde_json::Value = serde_json::from_str(&data[..data.len() - 2]).unwrap();
        assert_eq!(data["a"], "0000000000001234");
        assert_eq!(data["f2"].as_str().unwrap().len(), 16);
        // As a filtered member gets it: the timestamp and one field.
        let event = br#"42["m",{"a":"0000000000001234","f1":"xx"}]"#;
        assert_eq!(event_timestamp(event), Some(1234));
        let join = String::from_utf8(join_fields_packet("bench", 0, 2)).unwrap();
        assert_eq!(join, r#"420["join",{"room":"bench","fields":["a","f2"]}]"#);
    }

    #[test]
    fn parses_acks_events_and_recipients() {
        assert_eq!(
            parse_ack(b"4312[{\"ok\":true}]"),
            Some((12, &b"[{\"ok\":true}]"[..]))
        );
        assert_eq!(parse_ack(b"42[\"m\"]"), None);
        let mut p = Vec::new();
        publish_packet(
            Parser::Json,
            &mut p,
            &mut Vec::new(),
            7,
            "bench",
            "m",
            1234,
            64,
            Padding::X,
            0,
        );
        let text = String::from_utf8(p.clone()).unwrap();
        assert!(text.starts_with(
            "427[\"publish\",{\"room\":\"bench\",\"event\":\"m\",\"data\":\"0000000000001234xx"
        ));
        let data_len = text
            .split("\"data\":\"")
            .nth(1)
            .unwrap()
            .trim_end_matches("\"}]")
            .len();
        assert_eq!(data_len, 64);
        let event = format!(
            "42[\"m\",\"{}\"]",
            &text[text.find("0000000000001234").unwrap()..text.len() - 2]
        );
        assert_eq!(event_timestamp(event.as_bytes()), Some(1234));
        assert_eq!(recipients(b"[{\"ok\":true,\"recipients\":999}]"), Some(999));
    }
}

#[cfg(test)]
mod wire_tests {
    use super::*;

    #[test]
    fn tick_padding_varies_and_keeps_json_strings_valid() {
        let (mut a, mut b, mut scratch) = (Vec::new(), Vec::new(), Vec::new());
        for (out, id) in [(&mut a, 1), (&mut b, 2)] {
            publish_packet(
                Parser::Json,
                out,
                &mut scratch,
                id,
                "bench",
                "m",
                99,
                2048,
                Padding::Ticks,
                0,
            );
        }
        assert_ne!(a[20..], b[20..]);
        let text = std::str::from_utf8(&a).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text[3..]).unwrap();
        assert_eq!(v[1]["data"].as_str().unwrap().len(), 2048);
    }

    #[test]
    fn msgpack_publishes_and_deliveries_carry_the_timestamp() {
        let (mut out, mut scratch) = (Vec::new(), Vec::new());
        publish_packet(
            Parser::Msgpack,
            &mut out,
            &mut scratch,
            5,
            "bench",
            "m",
            4321,
            300,
            Padding::Ticks,
            0,
        );
        let p = msgpack::decode(&out).unwrap();
        assert_eq!((p.kind, p.id), (2, Some(5)));
        // What a subscriber gets: {type:2, nsp:"/", data:["m", data]}.
        let mut ev = Vec::new();
        ev.extend_from_slice(&[0x83, 0xa4]);
        ev.extend_from_slice(b"type");
        ev.push(2);
        ev.push(0xa3);
        ev.extend_from_slice(b"nsp");
        ev.extend_from_slice(&[0xa1, b'/']);
        ev.push(0xa4);
        ev.extend_from_slice(b"data");
        ev.extend_from_slice(&[0x92, 0xa1, b'm']);
        msgpack::str(&mut ev, &scratch);
        assert!(matches!(
            packet(&Frame::Binary(&ev)),
            Some(Packet::Delivery(4321))
        ));
        assert!(packet(&Frame::Binary(&ev[1..])).is_none());
    }
}
