//! Engine.IO v4 / Socket.IO v5 as the load generator speaks it: hand-rolled text packets on
//! the default namespace `/`, and the handful of parsers the scenarios need.
//!
//! Packets as they appear in a websocket text frame or a polling payload:
//! `0{..}` open, `2`/`3` ping/pong, `40` connect, `42[..]` event, `42<id>[..]` event with
//! ack request, `43<id>[..]` ack.

use std::io;

use crate::ws::{Frame, Ws};

/// The websocket URL path (and query) of a Socket.IO server at `path` (e.g. `/socket.io/`).
pub fn ws_path(path: &str) -> String {
    format!("{path}?EIO=4&transport=websocket")
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// Connects over websocket and completes the Engine.IO open and Socket.IO CONNECT to `/`.
pub async fn connect_ws(addr: &str, path: &str, buf_size: usize, seed: u32) -> io::Result<Ws> {
    connect_ws_to(addr, path, buf_size, seed, "/").await
}

/// Connects over websocket and completes the Engine.IO open and Socket.IO CONNECT to
/// namespace `nsp` (no auth).
pub async fn connect_ws_to(
    addr: &str,
    path: &str,
    buf_size: usize,
    seed: u32,
    nsp: &str,
) -> io::Result<Ws> {
    let connect = if nsp == "/" {
        b"40".to_vec()
    } else {
        format!("40{nsp},").into_bytes()
    };
    let mut ws = Ws::connect(addr, &ws_path(path), buf_size, seed).await?;
    let (mut opened, mut connected) = (false, false);
    loop {
        // The open packet and a first ping may come in one read: answer both.
        let (mut send_connect, mut pong) = (false, false);
        while let Some(frame) = ws.rd.next_frame()? {
            match frame {
                Frame::Text(t) if t.first() == Some(&b'0') && !opened => {
                    opened = true;
                    send_connect = true;
                }
                Frame::Text(t) if t.starts_with(b"40") => connected = true,
                Frame::Text(t) if t.starts_with(b"44") => {
                    return Err(invalid(format!(
                        "socket.io connect refused: {}",
                        String::from_utf8_lossy(t)
                    )))
                }
                Frame::Text(b"2") => pong = true,
                Frame::Close(why) => {
                    return Err(invalid(format!(
                        "closed during socket.io connect: {}",
                        close_reason(why)
                    )))
                }
                _ => {}
            }
        }
        if pong {
            ws.wr.push_text(b"3");
        }
        if send_connect {
            ws.wr.push_text(&connect);
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
pub async fn call(ws: &mut Ws, packet: &[u8], ack_id: u64) -> io::Result<Vec<u8>> {
    ws.wr.send_text(packet).await?;
    loop {
        let (mut pong, mut answer) = (false, None);
        while let Some(frame) = ws.rd.next_frame()? {
            match frame {
                Frame::Text(b"2") => pong = true,
                Frame::Text(t) => match parse_ack(t) {
                    Some((id, args)) if id == ack_id => answer = Some(args.to_vec()),
                    _ => {}
                },
                Frame::Close(why) => {
                    return Err(invalid(format!(
                        "closed while waiting for an ack: {}",
                        close_reason(why)
                    )))
                }
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

/// The `join` packet for `room` with ack id `id`.
pub fn join_packet(room: &str, id: u64) -> Vec<u8> {
    format!("42{id}[\"join\",\"{room}\"]").into_bytes()
}

/// The `join` packet for `room` taking field set `["a", "f<set>"]` (siohub's field filter).
pub fn join_fields_packet(room: &str, id: u64, set: usize) -> Vec<u8> {
    format!("42{id}[\"join\",{{\"room\":\"{room}\",\"fields\":[\"a\",\"f{set}\"]}}]").into_bytes()
}

/// Joins `room` as subscriber `i` of `cfg` (with its field set, if the run has them).
pub async fn join_as(ws: &mut Ws, cfg: &crate::Config, i: usize) -> io::Result<()> {
    let packet = match cfg.field_sets {
        0 => join_packet(&cfg.room, 0),
        n => join_fields_packet(&cfg.room, 0, i % n),
    };
    let args = call(ws, &packet, 0).await?;
    check_ok(&args, "join")
}

/// Joins `room` and checks the ack says `"ok":true`.
pub async fn join(ws: &mut Ws, room: &str) -> io::Result<()> {
    let args = call(ws, &join_packet(room, 0), 0).await?;
    check_ok(&args, "join")
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

/// Builds `42<id>["publish",{"room":..,"event":..,"data":"<ts><padding>"}]` into `out`,
/// reusing its allocation. `data` is `payload` bytes long: a 16-digit timestamp in
/// microseconds then `x` padding.
pub fn publish_packet(
    out: &mut Vec<u8>,
    id: u64,
    room: &str,
    event: &str,
    ts_us: u64,
    payload: usize,
    object_fields: usize,
) {
    use std::io::Write;
    out.clear();
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
    out.resize(out.len() + payload.saturating_sub(16), b'x');
    out.extend_from_slice(b"\"}]");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_publishes_carry_the_timestamp_first() {
        let mut p = Vec::new();
        publish_packet(&mut p, 3, "bench", "m", 1234, 64, 3);
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
        publish_packet(&mut p, 7, "bench", "m", 1234, 64, 0);
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
