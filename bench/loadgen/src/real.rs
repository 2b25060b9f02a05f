//! `--client real`: clients that cost what a real client costs.
//!
//! The lean clients ([`crate::ws`], [`crate::sio`]) parse frames in place and find the
//! timestamp of a delivery by position, without parsing its JSON: the cheapest reader
//! possible, good for finding a server's throughput ceiling, but far cheaper per message
//! than any application's client, so it leaves the server more of the machine and shows
//! it a different scheduling. A real client here, once connected and joined (the
//! handshake goes through the lean path, which is not measured), hands its TCP stream,
//! and any bytes already read, to tungstenite 0.30 (through tokio-tungstenite, its default
//! `WebSocketConfig`: a 128 KiB read buffer) and takes every message through its message
//! API: frame parsing, reassembly, UTF-8 validation of every text message, one allocation
//! per message, automatic answers to websocket pings, masked writes. Each Socket.IO
//! packet is then parsed whole ([`parse_text`]): the JSON payload of every event and ack
//! into a [`serde_json::Value`], and a delivery's timestamp is read from the parsed data
//! string, as an application's handler would get it. msgpack packets go through the same
//! tungstenite path and the full msgpack decode of [`crate::msgpack`].
//!
//! Used by websocket subscribers (fanout, mixed, cluster), the polling subscribers' packet
//! parsing, and echo clients. Publishers and admin watchers stay lean: one connection each,
//! they are the load, not the audience. tungstenite has no permessage-deflate, so a real
//! client cannot be asked for it (`--deflate` needs `--client lean`).

use std::io;
use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::{FutureExt, SinkExt, StreamExt};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::metrics::{now_us, record};
use crate::scenarios::{Deliveries, Echoes};
use crate::sio::{self, Parser};
use crate::ws::{Frame, Ws};

/// Which clients a run uses (`--client`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Client {
    /// Frames parsed in place, timestamps found by position: the throughput ceiling.
    Lean,
    /// tungstenite's message API and a whole JSON parse of every packet: what real
    /// clients cost, for latency figures.
    Real,
}

impl Client {
    /// The option's value, as in the report.
    pub fn name(self) -> &'static str {
        match self {
            Client::Lean => "lean",
            Client::Real => "real",
        }
    }
}

/// A text packet (Engine.IO, and Socket.IO with the JSON parser), parsed whole.
#[derive(Debug, PartialEq)]
pub enum Parsed {
    /// Engine.IO ping (`2`): answer `3`.
    Ping,
    /// An event (`42`), its ack id if it asks for one, and its arguments (the first is
    /// the event name).
    Event { id: Option<u64>, args: Vec<Value> },
    /// An ack (`43<id>`) and its arguments.
    Ack { id: u64, args: Vec<Value> },
    /// Anything else well formed: open, pong, noop, CONNECT, DISCONNECT, CONNECT_ERROR.
    Other,
}

/// Parses a text message as a Socket.IO client does: the Engine.IO type, then for a
/// Socket.IO packet its type, attachments, namespace and ack id, and its JSON payload into
/// a [`Value`]. An event's payload must be an array whose first item is a string, an ack's
/// an array. An error says what is malformed.
pub fn parse_text(t: &str) -> Result<Parsed, String> {
    let mut chars = t.chars();
    match chars.next() {
        Some('2') if t.len() == 1 => return Ok(Parsed::Ping),
        Some('4') => {}
        Some('0'..='6') => return Ok(Parsed::Other),
        _ => return Err(format!("not an Engine.IO packet: {}", clip(t))),
    }
    let rest = chars.as_str();
    let kind = rest.as_bytes().first().copied();
    let mut rest = rest.get(1..).unwrap_or("");
    if matches!(kind, Some(b'5' | b'6')) {
        // Binary event/ack: attachments count, then `-`.
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        rest = rest[digits..]
            .strip_prefix('-')
            .ok_or_else(|| format!("binary packet without attachment count: {}", clip(t)))?;
    }
    if rest.starts_with('/') {
        let comma = rest
            .find(',')
            .ok_or_else(|| format!("namespace without a comma: {}", clip(t)))?;
        rest = &rest[comma + 1..];
    }
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let id = if digits > 0 {
        Some(
            rest[..digits]
                .parse::<u64>()
                .map_err(|e| format!("ack id: {e}"))?,
        )
    } else {
        None
    };
    rest = &rest[digits..];
    let payload = |rest: &str| -> Result<Vec<Value>, String> {
        match serde_json::from_str::<Value>(rest) {
            Ok(Value::Array(args)) => Ok(args),
            Ok(_) => Err(format!("payload is not an array: {}", clip(t))),
            Err(e) => Err(format!("invalid JSON ({e}): {}", clip(t))),
        }
    };
    match kind {
        Some(b'2' | b'5') => {
            let args = payload(rest)?;
            if !matches!(args.first(), Some(Value::String(_))) {
                return Err(format!("event without a name: {}", clip(t)));
            }
            Ok(Parsed::Event { id, args })
        }
        Some(b'3' | b'6') => {
            let id = id.ok_or_else(|| format!("ack without an id: {}", clip(t)))?;
            Ok(Parsed::Ack {
                id,
                args: payload(rest)?,
            })
        }
        Some(b'0' | b'1' | b'4') => {
            // CONNECT and CONNECT_ERROR carry an optional object; parsed as well.
            if !rest.is_empty() {
                serde_json::from_str::<Value>(rest)
                    .map_err(|e| format!("invalid JSON ({e}): {}", clip(t)))?;
            }
            Ok(Parsed::Other)
        }
        _ => Err(format!("unknown Socket.IO packet type: {}", clip(t))),
    }
}

/// The send time of a delivery: an event whose data (second argument) is a string that
/// starts with a publisher's 16-digit timestamp in µs.
pub fn delivery_timestamp(args: &[Value]) -> Option<u64> {
    let data = args.get(1)?.as_str()?;
    sio::parse_u64(data.as_bytes().get(..16)?)
}

/// The first 80 characters of a packet, for error messages.
fn clip(t: &str) -> String {
    t.chars().take(80).collect()
}

/// A delivery's timestamp from a text packet, parsed whole: `Ok(None)` for a well formed
/// packet that is no delivery.
pub fn text_delivery(t: &[u8]) -> Result<Option<u64>, String> {
    let t = std::str::from_utf8(t).map_err(|e| format!("not UTF-8: {e}"))?;
    Ok(match parse_text(t)? {
        Parsed::Event { args, .. } => delivery_timestamp(&args),
        _ => None,
    })
}

/// The TCP stream under tungstenite, counting the bytes read from it.
struct Counted {
    inner: TcpStream,
    read: u64,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            self.read += (buf.filled().len() - before) as u64;
        }
        polled
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Hands a connected (and joined) lean websocket to tungstenite.
async fn upgrade(ws: Ws) -> io::Result<(WebSocketStream<Counted>, Parser)> {
    let parser = if ws.wr.binary_packets {
        Parser::Msgpack
    } else {
        Parser::Json
    };
    let (inner, leftover) = ws.into_raw()?;
    let stream = Counted { inner, read: 0 };
    let ws = WebSocketStream::from_partially_read(stream, leftover, Role::Client, None).await;
    Ok((ws, parser))
}

/// A Socket.IO packet as a message of `parser`'s kind.
fn packet_message(parser: Parser, packet: &[u8]) -> Message {
    match parser {
        Parser::Json => Message::text(String::from_utf8_lossy(packet).into_owned()),
        Parser::Msgpack => Message::binary(packet.to_vec()),
    }
}

/// Deliveries read but not yet added to the shared counters: they are added when no
/// message is ready (as the lean subscriber adds once per read), so the counters do not
/// take a lock per message.
struct Pending {
    lat: Vec<u64>,
    last: u64,
    bytes_added: u64,
}

impl Pending {
    /// Most deliveries held before they are added anyway.
    const MAX: usize = 1024;

    fn flush(&mut self, d: &Deliveries, shard: usize, bytes_read: u64) {
        if !self.lat.is_empty() {
            let mut h = d.lat.shard(shard);
            for &us in &self.lat {
                record(&mut h, us);
            }
            drop(h);
            d.received.fetch_add(self.lat.len() as u64, Relaxed);
            d.window.mark(self.last);
            self.lat.clear();
        }
        d.wire_bytes
            .fetch_add(bytes_read - self.bytes_added, Relaxed);
        self.bytes_added = bytes_read;
    }
}

/// A websocket subscriber as a real client: reads every message through tungstenite and
/// parses it whole until the connection ends. A malformed packet ends it (a real client
/// would fail on it too), counted as a lost subscriber with the reason.
pub async fn subscriber(ws: Ws, d: Arc<Deliveries>, shard: usize) {
    let (mut ws, parser) = match upgrade(ws).await {
        Ok(up) => up,
        Err(e) => return d.lose(false, || format!("handing over to tungstenite: {e}")),
    };
    let mut pending = Pending {
        lat: Vec::with_capacity(Pending::MAX),
        last: 0,
        bytes_added: 0,
    };
    let why = loop {
        // What is ready now is taken without a wake-up; when nothing is, the counters
        // get what was read before this task sleeps.
        let next = match ws.next().now_or_never() {
            Some(next) if pending.lat.len() < Pending::MAX => next,
            ready => {
                pending.flush(&d, shard, ws.get_ref().read);
                match ready {
                    Some(next) => next,
                    None => ws.next().await,
                }
            }
        };
        let msg = match next {
            None => break "connection closed".to_owned(),
            Some(Err(e)) => break format!("websocket: {e}"),
            Some(Ok(msg)) => msg,
        };
        let ts = match msg {
            Message::Text(t) => match parse_text(t.as_str()) {
                Ok(Parsed::Event { args, .. }) => delivery_timestamp(&args),
                Ok(Parsed::Ping) => {
                    if let Err(e) = ws.send(Message::text("3")).await {
                        break format!("write failed: {e}");
                    }
                    None
                }
                Ok(_) => None,
                Err(e) => break format!("the server sent an invalid packet: {e}"),
            },
            Message::Binary(b) if parser == Parser::Msgpack => {
                match sio::packet(&Frame::Binary(&b)) {
                    Some(sio::Packet::Delivery(ts)) => Some(ts),
                    Some(_) => None,
                    None => break "the server sent an invalid msgpack packet".to_owned(),
                }
            }
            // A binary attachment of the JSON parser is none of the benchmark's.
            Message::Binary(_) => None,
            Message::Close(frame) => {
                break match frame {
                    Some(f) => format!(
                        "websocket closed by the server: code {} {}",
                        u16::from(f.code),
                        f.reason
                    ),
                    None => "websocket closed by the server: no code".to_owned(),
                }
            }
            // tungstenite answers websocket pings itself.
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => None,
        };
        if let Some(ts) = ts {
            let now = now_us();
            pending.lat.push(now.saturating_sub(ts));
            pending.last = now;
        }
    };
    pending.flush(&d, shard, ws.get_ref().read);
    d.lose(false, || why);
}

/// What an echo client's loop waits for.
enum Wake {
    Tick,
    Message(Option<Result<Message, tokio_tungstenite::tungstenite::Error>>),
}

/// An echo client as a real client: pings with an ack request every `period` (after
/// `offset`), timing each ack, every message through tungstenite and parsed whole.
pub async fn echo_client(
    ws: Ws,
    e: Arc<Echoes>,
    shard: usize,
    period: Duration,
    offset: Duration,
) -> io::Result<()> {
    let (mut ws, parser) = upgrade(ws).await?;
    let mut sent_at = [0u64; 64];
    let mut next_id = 1u64;
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + offset, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut packet = Vec::with_capacity(32);
    let failed = |e: tokio_tungstenite::tungstenite::Error| io::Error::other(e.to_string());
    loop {
        let wake = tokio::select! {
            _ = tick.tick(), if !e.stop.load(Relaxed) => Wake::Tick,
            msg = ws.next() => Wake::Message(msg),
        };
        let ack = match wake {
            Wake::Tick => {
                if e.stop.load(Relaxed) {
                    continue;
                }
                sio::ping_packet(parser, &mut packet, next_id);
                sent_at[next_id as usize % 64] = now_us();
                next_id += 1;
                // Counted before the write, as the lean client does (see there).
                e.sent.fetch_add(1, Relaxed);
                ws.send(packet_message(parser, &packet))
                    .await
                    .map_err(failed)?;
                continue;
            }
            Wake::Message(None) | Wake::Message(Some(Ok(Message::Close(_)))) => return Ok(()),
            Wake::Message(Some(Err(err))) => return Err(failed(err)),
            Wake::Message(Some(Ok(Message::Text(t)))) => match parse_text(t.as_str()) {
                Ok(Parsed::Ack { id, .. }) => Some(id),
                Ok(Parsed::Ping) => {
                    ws.send(Message::text("3")).await.map_err(failed)?;
                    None
                }
                Ok(_) => None,
                Err(why) => {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, why));
                }
            },
            Wake::Message(Some(Ok(Message::Binary(b)))) if parser == Parser::Msgpack => {
                match sio::packet(&Frame::Binary(&b)) {
                    Some(sio::Packet::Ack(id, _)) => Some(id),
                    Some(_) => None,
                    None => {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "the server sent an invalid msgpack packet",
                        ))
                    }
                }
            }
            Wake::Message(Some(Ok(_))) => None,
        };
        if let Some(id) = ack {
            let now = now_us();
            record(
                &mut e.lat.shard(shard),
                now.saturating_sub(sent_at[id as usize % 64]),
            );
            e.acked.fetch_add(1, Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_events_acks_and_engine_packets() {
        let ev = parse_text(r#"42["m","0000000000001234xxxx"]"#).unwrap();
        let Parsed::Event { id: None, args } = ev else {
            panic!("not an event: {ev:?}")
        };
        assert_eq!(delivery_timestamp(&args), Some(1234));
        assert_eq!(
            parse_text(r#"42/chat,17["m",{"a":[1,2]}]"#).unwrap(),
            Parsed::Event {
                id: Some(17),
                args: vec![json!("m"), json!({"a": [1, 2]})]
            }
        );
        assert_eq!(
            parse_text(r#"4312[{"ok":true,"recipients":3}]"#).unwrap(),
            Parsed::Ack {
                id: 12,
                args: vec![json!({"ok": true, "recipients": 3})]
            }
        );
        assert_eq!(
            parse_text(r#"451-["m",{"_placeholder":true,"num":0}]"#).unwrap(),
            Parsed::Event {
                id: None,
                args: vec![json!("m"), json!({"_placeholder": true, "num": 0})]
            }
        );
        assert_eq!(parse_text("2").unwrap(), Parsed::Ping);
        assert_eq!(parse_text("3").unwrap(), Parsed::Other);
        assert_eq!(
            parse_text(r#"0{"sid":"x","pingInterval":25000}"#).unwrap(),
            Parsed::Other
        );
        assert_eq!(parse_text(r#"40{"sid":"abc"}"#).unwrap(), Parsed::Other);
        assert_eq!(parse_text(r#"44{"message":"no"}"#).unwrap(), Parsed::Other);
    }

    #[test]
    fn refuses_malformed_packets() {
        for bad in [
            "",
            "x",
            r#"42["m","unterminated]"#,
            r#"42{"not":"an array"}"#,
            r#"42[1,2]"#,
            r#"42[]"#,
            r#"43[{"ok":true}]"#,
            r#"42/chat["m"]"#,
            r#"45["m"]"#,
            r#"49["m"]"#,
            r#"40{bad"#,
        ] {
            assert!(parse_text(bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn a_delivery_needs_a_16_digit_timestamp_in_its_data() {
        let args = |v: Value| match v {
            Value::Array(a) => a,
            _ => unreachable!(),
        };
        assert_eq!(
            delivery_timestamp(&args(json!(["m", "0000000000000042"]))),
            Some(42)
        );
        assert_eq!(delivery_timestamp(&args(json!(["m", "00000042"]))), None);
        assert_eq!(
            delivery_timestamp(&args(json!(["m", "00000000000000x2yy"]))),
            None
        );
        assert_eq!(delivery_timestamp(&args(json!(["m", 42]))), None);
        assert_eq!(delivery_timestamp(&args(json!(["m"]))), None);
        assert_eq!(
            text_delivery(br#"42["m","0000000000000007"]"#).unwrap(),
            Some(7)
        );
        assert_eq!(text_delivery(b"40").unwrap(), None);
        assert!(text_delivery(b"42[\"m\",\"\xff\"]").is_err());
    }

    /// A server's text frame (unmasked).
    fn text_frame(payload: &str) -> Vec<u8> {
        assert!(payload.len() < 126);
        let mut f = vec![0x81, payload.len() as u8];
        f.extend_from_slice(payload.as_bytes());
        f
    }

    /// Reads one masked client frame and returns its opcode and unmasked payload.
    async fn client_frame(sock: &mut TcpStream) -> (u8, Vec<u8>) {
        use tokio::io::AsyncReadExt;
        let mut head = [0u8; 2];
        sock.read_exact(&mut head).await.unwrap();
        assert!(head[1] & 0x80 != 0, "client frames are masked");
        let len = usize::from(head[1] & 0x7f);
        assert!(len < 126);
        let mut mask = [0u8; 4];
        sock.read_exact(&mut mask).await.unwrap();
        let mut payload = vec![0u8; len];
        sock.read_exact(&mut payload).await.unwrap();
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= mask[i & 3];
        }
        (head[0] & 0x0f, payload)
    }

    /// A listening socket, and a lean websocket connected to it whose upgrade answer came
    /// in one write with `first` (frames the lean reader buffered but did not parse).
    async fn connected(first: &[u8]) -> (Ws, TcpStream) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let first = first.to_vec();
        let server = tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut req = Vec::new();
            while !req.ends_with(b"\r\n\r\n") {
                let mut b = [0u8; 1];
                sock.read_exact(&mut b).await.unwrap();
                req.push(b[0]);
            }
            let mut answer =
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n".to_vec();
            answer.extend_from_slice(&first);
            sock.write_all(&answer).await.unwrap();
            sock
        });
        let ws = Ws::connect(
            &addr,
            "/socket.io/?EIO=4&transport=websocket",
            4096,
            1,
            false,
        )
        .await
        .unwrap();
        (ws, server.await.unwrap())
    }

    #[tokio::test]
    async fn a_real_subscriber_counts_deliveries_answers_pings_and_stops_on_bad_json() {
        use tokio::io::AsyncWriteExt;
        // The first delivery arrives with the upgrade answer: the hand-over keeps it.
        let first = text_frame(r#"42["m","0000000000000001a"]"#);
        let (ws, mut server) = connected(&first).await;
        let d = Arc::new(Deliveries::new());
        let task = tokio::spawn(subscriber(ws, d.clone(), 0));
        let mut burst = Vec::new();
        for _ in 0..5 {
            burst.extend(text_frame(r#"42["m","0000000000000002b"]"#));
        }
        // A packet that is no delivery, then an Engine.IO ping.
        burst.extend(text_frame(r#"42["other",{"x":1}]"#));
        burst.extend(text_frame("2"));
        server.write_all(&burst).await.unwrap();
        assert_eq!(client_frame(&mut server).await, (0x1, b"3".to_vec()));
        // A websocket ping: tungstenite answers it by itself.
        server.write_all(&[0x89, 2, b'h', b'i']).await.unwrap();
        server
            .write_all(&text_frame(r#"42["m","0000000000000003c"]"#))
            .await
            .unwrap();
        assert_eq!(client_frame(&mut server).await, (0xA, b"hi".to_vec()));
        server
            .write_all(&text_frame(r#"42["m","00000000000000"#))
            .await
            .unwrap();
        task.await.unwrap();
        assert_eq!(d.received.load(Relaxed), 7);
        assert_eq!(d.lat.merged().len(), 7);
        assert_eq!(d.lost.load(Relaxed), 1);
        let why = d.first_loss.lock().unwrap().clone().unwrap();
        assert!(why.contains("invalid packet"), "{why}");
        assert!(d.wire_bytes.load(Relaxed) > 0);
    }

    #[tokio::test]
    async fn a_real_subscriber_reports_the_close_code() {
        let (ws, server) = connected(&[0x88, 4, 0x03, 0xf0, b'b', b'y']).await;
        let d = Arc::new(Deliveries::new());
        subscriber(ws, d.clone(), 0).await;
        drop(server);
        let why = d.first_loss.lock().unwrap().clone().unwrap();
        assert!(why.contains("code 1008 by"), "{why}");
    }

    #[tokio::test]
    async fn a_real_echo_client_times_acks() {
        use tokio::io::AsyncWriteExt;
        let (ws, mut server) = connected(&[]).await;
        let e = Arc::new(Echoes {
            lat: crate::metrics::Latencies::new(1),
            sent: Default::default(),
            acked: Default::default(),
            stop: Default::default(),
        });
        let task = tokio::spawn(echo_client(
            ws,
            e.clone(),
            0,
            Duration::from_millis(5),
            Duration::ZERO,
        ));
        for id in 1..=3 {
            let (op, ping) = client_frame(&mut server).await;
            assert_eq!(op, 0x1);
            assert_eq!(ping, format!(r#"42{id}["ping",{{}}]"#).into_bytes());
            let ack = text_frame(&format!(r#"43{id}[{{"server_time":1}}]"#));
            server.write_all(&ack).await.unwrap();
        }
        e.stop.store(true, Relaxed);
        // An ack that is not JSON ends the client with an error.
        server.write_all(&text_frame("439[{")).await.unwrap();
        let err = task.await.unwrap().unwrap_err();
        assert!(err.to_string().contains("invalid JSON"), "{err}");
        assert_eq!(e.acked.load(Relaxed), 3);
        assert_eq!(e.lat.merged().len(), 3);
    }
}
