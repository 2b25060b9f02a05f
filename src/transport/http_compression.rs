//! gzip or deflate of polling responses (`[engine] http_compression`), chosen by the
//! request's `Accept-Encoding` as the reference server chooses (the highest quality of
//! `gzip` and `deflate`, the header's order breaking ties), for bodies of at least the
//! threshold.

use std::io::Write;

use flate2::write::{GzEncoder, ZlibEncoder};
use flate2::Compression;

/// An HTTP content coding the server compresses with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    /// `gzip` (RFC 1952).
    Gzip,
    /// `deflate`: the zlib format (RFC 1950), as HTTP means it and Node writes it.
    Deflate,
}

impl Coding {
    /// The `Content-Encoding` value.
    pub fn name(self) -> &'static str {
        match self {
            Coding::Gzip => "gzip",
            Coding::Deflate => "deflate",
        }
    }

    /// `body` compressed at zlib's default level (Node's).
    pub fn compress(self, body: &[u8]) -> Vec<u8> {
        let out = Vec::with_capacity(body.len() / 2 + 64);
        let done = match self {
            Coding::Gzip => {
                let mut encoder = GzEncoder::new(out, Compression::default());
                encoder.write_all(body).and_then(|()| encoder.finish())
            }
            Coding::Deflate => {
                let mut encoder = ZlibEncoder::new(out, Compression::default());
                encoder.write_all(body).and_then(|()| encoder.finish())
            }
        };
        done.expect("compressing into memory cannot fail")
    }
}

/// The coding an `Accept-Encoding` value prefers among gzip and deflate, if any.
pub fn negotiate(accept_encoding: &str) -> Option<Coding> {
    let mut best: Option<(Coding, u16)> = None;
    for item in accept_encoding.split(',') {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or_default().trim();
        let quality = parts.find_map(quality).unwrap_or(1000);
        let codings: &[Coding] = if name.eq_ignore_ascii_case("gzip") {
            &[Coding::Gzip]
        } else if name.eq_ignore_ascii_case("deflate") {
            &[Coding::Deflate]
        } else if name == "*" {
            &[Coding::Gzip, Coding::Deflate]
        } else {
            &[]
        };
        for &coding in codings {
            if quality > 0 && best.is_none_or(|(_, q)| quality > q) {
                best = Some((coding, quality));
            }
        }
    }
    best.map(|(coding, _)| coding)
}

/// A `q=` parameter in thousandths (the RFC 9110 grammar: at most three decimals).
fn quality(param: &str) -> Option<u16> {
    let (key, value) = param.trim().split_once('=')?;
    if !key.trim().eq_ignore_ascii_case("q") {
        return None;
    }
    let q: f32 = value.trim().parse().ok()?;
    Some((q.clamp(0.0, 1.0) * 1000.0).round() as u16)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn the_preferred_coding_wins_and_zero_quality_refuses() {
        assert_eq!(negotiate("gzip, deflate, br"), Some(Coding::Gzip));
        assert_eq!(negotiate("deflate, gzip"), Some(Coding::Deflate));
        assert_eq!(negotiate("gzip;q=0.5, deflate"), Some(Coding::Deflate));
        assert_eq!(negotiate("gzip;q=0, deflate;q=0"), None);
        assert_eq!(negotiate("br, identity"), None);
        assert_eq!(negotiate("*"), Some(Coding::Gzip));
        assert_eq!(negotiate(""), None);
    }

    #[test]
    fn compressed_bodies_inflate_back() {
        let body = "4hello ".repeat(500);
        let mut text = String::new();
        flate2::read::GzDecoder::new(&Coding::Gzip.compress(body.as_bytes())[..])
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, body);
        text.clear();
        flate2::read::ZlibDecoder::new(&Coding::Deflate.compress(body.as_bytes())[..])
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, body);
    }
}
