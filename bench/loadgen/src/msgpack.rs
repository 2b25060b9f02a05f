//! socket.io-msgpack-parser 3.x packets as the load generator writes and reads them: every
//! Socket.IO packet is one msgpack map `{type, nsp, data?, id?}` in a binary websocket frame
//! (Engine.IO's own packets, `2`/`3` pings and pongs, stay text).
//!
//! Writing covers the few packets the scenarios send; reading decodes a whole packet,
//! every value checked and walked, without allocating (a delivered event is read in place
//! from the frame), except for acks, whose arguments become JSON so the JSON mode's ack
//! helpers read them the same way.

use serde_json::{Map, Number, Value};

/// Deepest nesting the reader follows (deeper input is refused, not recursed into).
const MAX_DEPTH: usize = 32;

// ---- writing -------------------------------------------------------------------------------

fn map_header(out: &mut Vec<u8>, n: usize) {
    debug_assert!(n < 16);
    out.push(0x80 | n as u8);
}

fn array_header(out: &mut Vec<u8>, n: usize) {
    debug_assert!(n < 16);
    out.push(0x90 | n as u8);
}

/// A msgpack str of any length.
pub fn str(out: &mut Vec<u8>, s: &[u8]) {
    str_header(out, s.len());
    out.extend_from_slice(s);
}

fn str_header(out: &mut Vec<u8>, len: usize) {
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len < 256 {
        out.extend_from_slice(&[0xd9, len as u8]);
    } else if len < 65_536 {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

/// A msgpack unsigned integer in its smallest form.
fn uint(out: &mut Vec<u8>, n: u64) {
    if n < 128 {
        out.push(n as u8);
    } else if n < 256 {
        out.extend_from_slice(&[0xcc, n as u8]);
    } else if n < 65_536 {
        out.push(0xcd);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else if n <= u64::from(u32::MAX) {
        out.push(0xce);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(0xcf);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// The header of a packet of `type` on namespace `nsp` with `extra` more keys to come.
fn packet_start(out: &mut Vec<u8>, kind: u64, nsp: &str, extra: usize) {
    map_header(out, 2 + extra);
    str(out, b"type");
    uint(out, kind);
    str(out, b"nsp");
    str(out, nsp.as_bytes());
}

/// CONNECT to `nsp`, no auth: `{type: 0, nsp}`.
pub fn connect_packet(nsp: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(16);
    packet_start(&mut out, 0, nsp, 0);
    out
}

/// Starts an EVENT on `/` with ack id `id` whose data is `[event, <one argument>]`; the
/// caller writes the argument next.
fn event_start(out: &mut Vec<u8>, id: u64, event: &str) {
    packet_start(out, 2, "/", 2);
    str(out, b"id");
    uint(out, id);
    str(out, b"data");
    array_header(out, 2);
    str(out, event.as_bytes());
}

/// `join` `room` with ack id `id`.
pub fn join_packet(room: &str, id: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + room.len());
    event_start(&mut out, id, "join");
    str(&mut out, room.as_bytes());
    out
}

/// `ping` `{}` with ack id `id`, into `out`.
pub fn ping_packet(out: &mut Vec<u8>, id: u64) {
    out.clear();
    event_start(out, id, "ping");
    map_header(out, 0);
}

/// `publish` `{room, event, data}` with ack id `id`, into `out`; `data` as given.
pub fn publish_packet(out: &mut Vec<u8>, id: u64, room: &str, event: &str, data: &[u8]) {
    out.clear();
    event_start(out, id, "publish");
    map_header(out, 3);
    str(out, b"room");
    str(out, room.as_bytes());
    str(out, b"event");
    str(out, event.as_bytes());
    str(out, b"data");
    str(out, data);
}

// ---- reading -------------------------------------------------------------------------------

/// One value's head: scalars whole, containers as their length (their items follow).
#[derive(Debug, PartialEq)]
enum Head<'a> {
    Nil,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(&'a [u8]),
    Bin(&'a [u8]),
    Ext,
    Array(usize),
    Map(usize),
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }

    fn be(&mut self, n: usize) -> Option<u64> {
        Some(
            self.take(n)?
                .iter()
                .fold(0u64, |acc, &b| acc << 8 | u64::from(b)),
        )
    }

    fn head(&mut self) -> Option<Head<'a>> {
        let b = *self.take(1)?.first()?;
        Some(match b {
            0x00..=0x7f => Head::Uint(u64::from(b)),
            0x80..=0x8f => Head::Map(usize::from(b & 0x0f)),
            0x90..=0x9f => Head::Array(usize::from(b & 0x0f)),
            0xa0..=0xbf => Head::Str(self.take(usize::from(b & 0x1f))?),
            0xc0 => Head::Nil,
            0xc2 => Head::Bool(false),
            0xc3 => Head::Bool(true),
            0xc4..=0xc6 => {
                let n = self.be(1 << (b - 0xc4))? as usize;
                Head::Bin(self.take(n)?)
            }
            0xc7..=0xc9 => {
                let n = self.be(1 << (b - 0xc7))? as usize;
                self.take(n + 1)?;
                Head::Ext
            }
            0xca => Head::Float(f64::from(f32::from_bits(self.be(4)? as u32))),
            0xcb => Head::Float(f64::from_bits(self.be(8)?)),
            0xcc..=0xcf => Head::Uint(self.be(1 << (b - 0xcc))?),
            0xd0..=0xd3 => {
                let bytes = 1usize << (b - 0xd0);
                let raw = self.be(bytes)?;
                let shift = 64 - 8 * bytes as u32;
                Head::Int(((raw << shift) as i64) >> shift)
            }
            0xd4..=0xd8 => {
                self.take(1 + (1 << (b - 0xd4)))?;
                Head::Ext
            }
            0xd9..=0xdb => {
                let n = self.be(1 << (b - 0xd9))? as usize;
                Head::Str(self.take(n)?)
            }
            0xdc | 0xdd => Head::Array(self.be(2 << (b - 0xdc))? as usize),
            0xde | 0xdf => Head::Map(self.be(2 << (b - 0xde))? as usize),
            0xe0..=0xff => Head::Int(i64::from(b as i8)),
            0xc1 => return None,
        })
    }

    /// Walks one whole value (every nested item read and checked).
    fn skip(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        match self.head()? {
            Head::Array(n) => (0..n).try_for_each(|_| self.skip(depth + 1)),
            Head::Map(n) => (0..n).try_for_each(|_| {
                self.skip(depth + 1)?;
                self.skip(depth + 1)
            }),
            Head::Str(s) => std::str::from_utf8(s).ok().map(drop),
            _ => Some(()),
        }
    }

    /// One whole value as JSON (bin and ext as null: acks carry neither).
    fn json(&mut self, depth: usize) -> Option<Value> {
        if depth > MAX_DEPTH {
            return None;
        }
        Some(match self.head()? {
            Head::Nil | Head::Bin(_) | Head::Ext => Value::Null,
            Head::Bool(b) => Value::Bool(b),
            Head::Int(i) => Value::from(i),
            Head::Uint(u) => Value::from(u),
            Head::Float(f) => Number::from_f64(f).map_or(Value::Null, Value::Number),
            Head::Str(s) => Value::String(std::str::from_utf8(s).ok()?.to_owned()),
            Head::Array(n) => {
                // Never reserve from a length the bytes have not shown yet.
                let mut items = Vec::new();
                for _ in 0..n {
                    items.push(self.json(depth + 1)?);
                }
                Value::Array(items)
            }
            Head::Map(n) => {
                let mut map = Map::new();
                for _ in 0..n {
                    let Head::Str(k) = self.head()? else {
                        return None;
                    };
                    let k = std::str::from_utf8(k).ok()?.to_owned();
                    map.insert(k, self.json(depth + 1)?);
                }
                Value::Object(map)
            }
        })
    }
}

/// What [`decode`] read from a packet.
#[derive(Debug, Default, PartialEq)]
pub struct Packet<'a> {
    pub kind: u64,
    pub id: Option<u64>,
    /// EVENT: the event's name.
    pub event: Option<&'a [u8]>,
    /// EVENT: the first argument when it is a string (the benchmark's events carry one).
    pub first_str: Option<&'a [u8]>,
    /// ACK: the arguments as JSON text (`[..]`), as a JSON packet carries them.
    pub ack_args: Option<Vec<u8>>,
}

/// Decodes one whole packet: a map with an integer `type` 0-4 and a string `nsp`, and
/// `data`, `id` if present; every value is walked and checked. `None` when it is not a
/// valid packet. Allocates only for an ACK's arguments.
pub fn decode(bytes: &[u8]) -> Option<Packet<'_>> {
    let mut r = Reader { buf: bytes, pos: 0 };
    let Head::Map(n) = r.head()? else { return None };
    let mut p = Packet::default();
    let (mut kind, mut nsp) = (None, false);
    let mut data_at = None;
    for _ in 0..n {
        let Head::Str(key) = r.head()? else {
            return None;
        };
        match key {
            b"type" => match r.head()? {
                Head::Uint(k) if k <= 4 => kind = Some(k),
                _ => return None,
            },
            b"nsp" => match r.head()? {
                Head::Str(s) if std::str::from_utf8(s).is_ok() => nsp = true,
                _ => return None,
            },
            b"id" => match r.head()? {
                Head::Uint(id) => p.id = Some(id),
                Head::Int(id) if id >= 0 => p.id = Some(id as u64),
                Head::Nil => {}
                _ => return None,
            },
            b"data" => {
                data_at = Some(r.pos);
                r.skip(1)?;
            }
            _ => r.skip(1)?,
        }
    }
    if r.pos != bytes.len() || !nsp {
        return None;
    }
    p.kind = kind?;
    if let Some(at) = data_at {
        let mut d = Reader {
            buf: bytes,
            pos: at,
        };
        match p.kind {
            2 => {
                let Head::Array(n) = d.head()? else {
                    return None;
                };
                let Head::Str(event) = d.head().filter(|_| n > 0)? else {
                    return None;
                };
                p.event = Some(event);
                // The whole of `data` was walked above; only its first argument is kept.
                if n > 1 {
                    if let Head::Str(s) = d.head()? {
                        p.first_str = Some(s);
                    }
                }
            }
            3 => {
                let args = d.json(1)?;
                if !args.is_array() {
                    return None;
                }
                p.ack_args = Some(args.to_string().into_bytes());
            }
            _ => {}
        }
    }
    Some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_what_it_reads() {
        let mut out = Vec::new();
        publish_packet(&mut out, 300, "bench", "m", b"0000000000001234xyz");
        let p = decode(&out).unwrap();
        assert_eq!(
            (p.kind, p.id, p.event),
            (2, Some(300), Some(&b"publish"[..]))
        );
        assert_eq!(p.first_str, None); // the argument is a map
        let j = join_packet("bench", 0);
        let p = decode(&j).unwrap();
        assert_eq!(p.first_str, Some(&b"bench"[..]));
        assert_eq!(decode(&connect_packet("/admin")).unwrap().kind, 0);
    }

    /// What socket.io-msgpack-parser (notepack.io) sends: an event with a 300-byte string
    /// (str16), an ack with a nested map, and bad input refused.
    #[test]
    fn reads_events_and_acks_and_refuses_garbage() {
        let text = vec![b'7'; 300];
        let mut ev = vec![0x83, 0xa4];
        ev.extend_from_slice(b"type");
        ev.push(2);
        ev.push(0xa4);
        ev.extend_from_slice(b"data");
        ev.extend_from_slice(&[0x92, 0xa1, b'm', 0xda, 0x01, 0x2c]);
        ev.extend_from_slice(&text);
        ev.push(0xa3);
        ev.extend_from_slice(b"nsp");
        ev.extend_from_slice(&[0xa1, b'/']);
        let p = decode(&ev).unwrap();
        assert_eq!(p.event, Some(&b"m"[..]));
        assert_eq!(p.first_str, Some(&text[..]));

        // {type:3, nsp:"/", id:7, data:[{ok:true, recipients:1000, x:-1.5}]}
        let mut ack = Vec::new();
        packet_start(&mut ack, 3, "/", 2);
        str(&mut ack, b"id");
        uint(&mut ack, 7);
        str(&mut ack, b"data");
        ack.push(0x91);
        ack.push(0x83);
        str(&mut ack, b"ok");
        ack.push(0xc3);
        str(&mut ack, b"recipients");
        uint(&mut ack, 1000);
        str(&mut ack, b"x");
        ack.push(0xcb);
        ack.extend_from_slice(&(-1.5f64).to_bits().to_be_bytes());
        let p = decode(&ack).unwrap();
        assert_eq!(p.id, Some(7));
        assert_eq!(
            p.ack_args.as_deref(),
            Some(&br#"[{"ok":true,"recipients":1000,"x":-1.5}]"#[..])
        );

        assert!(decode(&ev[..ev.len() - 1]).is_none(), "truncated");
        let mut extra = ev.clone();
        extra.push(0);
        assert!(decode(&extra).is_none(), "trailing bytes");
        assert!(decode(&[0x81, 0xa4, b't', b'y', b'p', b'e', 9]).is_none());
        let deep: Vec<u8> = std::iter::repeat_n(0x91, 100).collect();
        let mut nested = vec![0x83];
        for (k, v) in [(&b"type"[..], &[2u8][..]), (b"nsp", &[0xa1, b'/'])] {
            str(&mut nested, k);
            nested.extend_from_slice(v);
        }
        str(&mut nested, b"data");
        nested.extend_from_slice(&deep);
        nested.push(0xc0);
        assert!(decode(&nested).is_none(), "too deep");
        assert!(decode(&[0xdd, 0xff, 0xff, 0xff, 0xff]).is_none());
    }
}
