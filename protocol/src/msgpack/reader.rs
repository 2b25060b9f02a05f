//! A bounded msgpack reader for untrusted input: msgpack values to JSON values, `bin` to
//! attachments behind placeholders.
//!
//! Bounds: containers nest at most [`MAX_DEPTH`] deep (the only recursion is into a
//! container, so the stack is bounded too); a length the input claims is checked against the
//! bytes left before anything is reserved (an array element takes at least one byte, a map
//! entry two), and no reservation is bigger than [`MAX_RESERVE`] elements whatever is claimed.

use bytes::Bytes;
use serde_json::{Map, Number, Value};

use crate::{placeholder, ProtocolError};

/// How deep maps and arrays may nest in one packet (the packet map itself is level 1). The
/// same as `serde_json`'s limit on the JSON parser's side.
pub const MAX_DEPTH: usize = 128;

/// The most elements reserved up front for one container; more grow as they are read.
const MAX_RESERVE: usize = 256;

/// Reads the one value `message` holds; returns it with the buffers its placeholders index.
pub(super) fn read(
    message: &Bytes,
    max_attachments: usize,
) -> Result<(Value, Vec<Bytes>), ProtocolError> {
    let mut reader = Reader {
        message,
        pos: 0,
        depth: 0,
        max_attachments,
        attachments: Vec::new(),
        undefined: false,
    };
    let value = reader.value()?;
    if reader.pos != message.len() {
        return Err(invalid(format!(
            "{} bytes after the packet",
            message.len() - reader.pos
        )));
    }
    Ok((value, reader.attachments))
}

fn invalid(why: impl Into<String>) -> ProtocolError {
    ProtocolError::InvalidMsgpack(why.into())
}

struct Reader<'a> {
    message: &'a Bytes,
    pos: usize,
    depth: usize,
    max_attachments: usize,
    attachments: Vec<Bytes>,
    /// Whether the value just read was notepack's `undefined` (read as `null`): a map drops
    /// such an entry, as JavaScript's encoders drop undefined properties.
    undefined: bool,
}

impl Reader<'_> {
    fn value(&mut self) -> Result<Value, ProtocolError> {
        self.undefined = false;
        let marker = self.byte()?;
        match marker {
            0x00..=0x7f => Ok(Value::from(marker)),
            0x80..=0x8f => self.map(usize::from(marker & 0x0f)),
            0x90..=0x9f => self.array(usize::from(marker & 0x0f)),
            0xa0..=0xbf => self.str(usize::from(marker & 0x1f)),
            0xc0 => Ok(Value::Null),
            0xc1 => Err(invalid("the reserved byte 0xc1")),
            0xc2 => Ok(Value::Bool(false)),
            0xc3 => Ok(Value::Bool(true)),
            0xc4..=0xc6 => {
                let len = self.len_of(marker - 0xc4)?;
                self.bin(len)
            }
            0xc7..=0xc9 => {
                let len = self.len_of(marker - 0xc7)?;
                let kind = self.byte()? as i8;
                self.ext(kind, len, false)
            }
            0xca => Ok(float(f64::from(f32::from_bits(self.uint(4)? as u32)))),
            0xcb => Ok(float(f64::from_bits(self.uint(8)?))),
            0xcc..=0xcf => Ok(Value::from(self.uint(1 << (marker - 0xcc))?)),
            0xd0..=0xd3 => Ok(Value::from(self.int(1 << (marker - 0xd0))?)),
            0xd4..=0xd8 => {
                let kind = self.byte()? as i8;
                self.ext(kind, 1 << (marker - 0xd4), true)
            }
            0xd9..=0xdb => {
                let len = self.len_of(marker - 0xd9)?;
                self.str(len)
            }
            0xdc | 0xdd => {
                let len = self.len_of(marker - 0xdc + 1)?;
                self.array(len)
            }
            0xde | 0xdf => {
                let len = self.len_of(marker - 0xde + 1)?;
                self.map(len)
            }
            0xe0..=0xff => Ok(Value::from(marker as i8)),
        }
    }

    fn left(&self) -> usize {
        self.message.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&[u8], ProtocolError> {
        if n > self.left() {
            return Err(invalid(format!(
                "truncated: {n} bytes claimed, {} left",
                self.left()
            )));
        }
        let bytes = &self.message[self.pos..self.pos + n];
        self.pos += n;
        Ok(bytes)
    }

    fn byte(&mut self) -> Result<u8, ProtocolError> {
        Ok(self.take(1)?[0])
    }

    /// A big-endian unsigned integer of `n` bytes (1, 2, 4 or 8).
    fn uint(&mut self, n: usize) -> Result<u64, ProtocolError> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    /// A big-endian two's complement integer of `n` bytes (1, 2, 4 or 8).
    fn int(&mut self, n: usize) -> Result<i64, ProtocolError> {
        let raw = self.uint(n)?;
        let shift = 64 - 8 * n as u32;
        Ok(((raw << shift) as i64) >> shift)
    }

    /// A length field: `width` 0, 1 or 2 for 1, 2 or 4 bytes.
    fn len_of(&mut self, width: u8) -> Result<usize, ProtocolError> {
        Ok(self.uint(1 << width)? as usize)
    }

    /// Checks that `count` elements of at least `min_bytes` each can fit in what is left.
    fn claim(&self, count: usize, min_bytes: usize) -> Result<(), ProtocolError> {
        if count.saturating_mul(min_bytes) > self.left() {
            return Err(invalid(format!(
                "a container claims {count} elements with {} bytes left",
                self.left()
            )));
        }
        Ok(())
    }

    fn enter(&mut self) -> Result<(), ProtocolError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ProtocolError::MsgpackTooDeep { max: MAX_DEPTH });
        }
        Ok(())
    }

    /// Ends a container. Its last element may have been `undefined`; the container itself
    /// is a value, so the map holding it must not drop it.
    fn leave(&mut self) {
        self.depth -= 1;
        self.undefined = false;
    }

    fn array(&mut self, len: usize) -> Result<Value, ProtocolError> {
        self.claim(len, 1)?;
        self.enter()?;
        let mut items = Vec::with_capacity(len.min(MAX_RESERVE));
        for _ in 0..len {
            items.push(self.value()?);
        }
        self.leave();
        Ok(Value::Array(items))
    }

    fn map(&mut self, len: usize) -> Result<Value, ProtocolError> {
        self.claim(len, 2)?;
        self.enter()?;
        let mut fields = Map::new();
        for _ in 0..len {
            let key = match self.value()? {
                Value::String(key) => key,
                Value::Number(n) => n.to_string(),
                _ => return Err(invalid("a map key that is neither a string nor a number")),
            };
            let value = self.value()?;
            if !self.undefined {
                fields.insert(key, value);
            }
        }
        self.leave();
        Ok(Value::Object(fields))
    }

    fn str(&mut self, len: usize) -> Result<Value, ProtocolError> {
        let bytes = self.take(len)?;
        let text = std::str::from_utf8(bytes).map_err(|_| invalid("a string that is not UTF-8"))?;
        Ok(Value::String(text.to_owned()))
    }

    /// A buffer: kept as an attachment (a slice of the message, not a copy), with a
    /// placeholder in its place.
    fn bin(&mut self, len: usize) -> Result<Value, ProtocolError> {
        let start = self.pos;
        self.take(len)?;
        if self.attachments.len() == self.max_attachments {
            return Err(ProtocolError::TooManyAttachments {
                count: self.attachments.len() + 1,
                max: self.max_attachments,
            });
        }
        self.attachments
            .push(self.message.slice(start..start + len));
        Ok(placeholder(self.attachments.len() - 1))
    }

    /// The extensions notepack.io writes: `undefined` (fixext 1 of type 0), an ArrayBuffer
    /// (ext 8/16/32 of type 0), a Date (type 0 of 8 bytes, or a timestamp of type -1). A date
    /// becomes its milliseconds since the epoch. Any other extension is refused. `fixed`:
    /// a fixext marker (its length is in the marker, not in a length field).
    fn ext(&mut self, kind: i8, len: usize, fixed: bool) -> Result<Value, ProtocolError> {
        match (kind, len) {
            (0, 1) if fixed => {
                self.take(1)?;
                self.undefined = true;
                Ok(Value::Null)
            }
            (0, 8) if fixed => {
                let high = self.int(4)? as f64;
                let low = self.uint(4)? as f64;
                Ok(float(high * 4_294_967_296.0 + low))
            }
            (0, _) => self.bin(len),
            (-1, 4) => Ok(float(self.uint(4)? as f64 * 1e3)),
            (-1, 8) => {
                let raw = self.uint(8)?;
                let seconds = (raw & 0x3_ffff_ffff) as f64;
                let nanos = (raw >> 34) as f64;
                Ok(float(seconds * 1e3 + nanos / 1e6))
            }
            (-1, 12) => {
                let nanos = self.uint(4)? as f64;
                let seconds = self.int(8)? as f64;
                Ok(float(seconds * 1e3 + nanos / 1e6))
            }
            _ => Err(invalid(format!(
                "an unsupported msgpack extension (type {kind}, {len} bytes)"
            ))),
        }
    }
}

/// A float as JSON: integral values stay integers (JavaScript has one number type), and
/// NaN and the infinities become `null`, as `JSON.stringify` writes them.
fn float(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
        return Value::from(f as i64);
    }
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}
