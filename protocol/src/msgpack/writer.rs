//! The msgpack writer: a packet as one map, in notepack.io's shortest encodings, with each
//! placeholder that indexes an attachment written as that buffer (`bin`).

use bytes::Bytes;
use serde_json::{Map, Number, Value};

use crate::binary::placeholder_num;
use crate::{SocketPacket, SocketType};

/// The packet map: `type`, `nsp`, then `data` and `id` when present.
pub(super) fn packet(packet: &SocketPacket) -> Vec<u8> {
    let data_len = packet.attachments.iter().map(Bytes::len).sum::<usize>();
    let mut out = Vec::with_capacity(32 + packet.nsp.len() + data_len);
    let fields = 2 + usize::from(packet.data.is_some()) + usize::from(packet.id.is_some());
    map_header(&mut out, fields);
    str(&mut out, "type");
    // The msgpack parser has no binary packet types: buffers are inside the data.
    let kind = match packet.kind {
        SocketType::BinaryEvent => SocketType::Event,
        SocketType::BinaryAck => SocketType::Ack,
        kind => kind,
    };
    out.push(kind as u8);
    str(&mut out, "nsp");
    str(&mut out, &packet.nsp);
    let writer = Writer {
        attachments: &packet.attachments,
    };
    if let Some(data) = &packet.data {
        str(&mut out, "data");
        writer.value(&mut out, data);
    }
    if let Some(id) = packet.id {
        str(&mut out, "id");
        uint(&mut out, id);
    }
    out
}

struct Writer<'a> {
    attachments: &'a [Bytes],
}

impl Writer<'_> {
    fn value(&self, out: &mut Vec<u8>, value: &Value) {
        match value {
            Value::Null => out.push(0xc0),
            Value::Bool(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
            Value::Number(n) => number(out, n),
            Value::String(s) => str(out, s),
            Value::Array(items) => {
                sized_header(out, items.len(), 0x90, 0xdc);
                for item in items {
                    self.value(out, item);
                }
            }
            Value::Object(fields) => match self.attachment_of(value) {
                Some(buffer) => bin(out, buffer),
                None => self.map(out, fields),
            },
        }
    }

    fn map(&self, out: &mut Vec<u8>, fields: &Map<String, Value>) {
        map_header(out, fields.len());
        for (key, value) in fields {
            str(out, key);
            self.value(out, value);
        }
    }

    fn attachment_of(&self, value: &Value) -> Option<&Bytes> {
        let num = usize::try_from(placeholder_num(value)?).ok()?;
        self.attachments.get(num)
    }
}

fn number(out: &mut Vec<u8>, n: &Number) {
    if let Some(u) = n.as_u64() {
        uint(out, u);
    } else if let Some(i) = n.as_i64() {
        int(out, i);
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.as_f64().unwrap_or(0.0).to_bits().to_be_bytes());
    }
}

fn uint(out: &mut Vec<u8>, u: u64) {
    match u {
        0..=0x7f => out.push(u as u8),
        0x80..=0xff => out.extend_from_slice(&[0xcc, u as u8]),
        0x100..=0xffff => {
            out.push(0xcd);
            out.extend_from_slice(&(u as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(0xce);
            out.extend_from_slice(&(u as u32).to_be_bytes());
        }
        _ => {
            out.push(0xcf);
            out.extend_from_slice(&u.to_be_bytes());
        }
    }
}

/// A negative integer (non-negative ones go through [`uint`]).
fn int(out: &mut Vec<u8>, i: i64) {
    if i >= -32 {
        out.push(i as u8);
    } else if i >= i64::from(i8::MIN) {
        out.extend_from_slice(&[0xd0, i as u8]);
    } else if i >= i64::from(i16::MIN) {
        out.push(0xd1);
        out.extend_from_slice(&(i as i16).to_be_bytes());
    } else if i >= i64::from(i32::MIN) {
        out.push(0xd2);
        out.extend_from_slice(&(i as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&i.to_be_bytes());
    }
}

fn str(out: &mut Vec<u8>, s: &str) {
    let len = s.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[0xd9, len as u8]);
    } else {
        length(out, len, 0xda);
    }
    out.extend_from_slice(s.as_bytes());
}

fn bin(out: &mut Vec<u8>, data: &[u8]) {
    if data.len() <= 0xff {
        out.extend_from_slice(&[0xc4, data.len() as u8]);
    } else {
        length(out, data.len(), 0xc5);
    }
    out.extend_from_slice(data);
}

fn map_header(out: &mut Vec<u8>, len: usize) {
    sized_header(out, len, 0x80, 0xde);
}

/// The header of an array or map: the fix form under 16 elements, else 16 or 32 bits.
fn sized_header(out: &mut Vec<u8>, len: usize, fix: u8, marker16: u8) {
    if len < 16 {
        out.push(fix | len as u8);
    } else {
        length(out, len, marker16);
    }
}

/// `marker16` with a 16-bit length, or the next marker (its 32-bit form) with a 32-bit one.
fn length(out: &mut Vec<u8>, len: usize, marker16: u8) {
    if len <= 0xffff {
        out.push(marker16);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(marker16 + 1);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}
