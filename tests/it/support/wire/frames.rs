//! Websocket frames written and read by hand on a raw connection, for the tests that
//! control the bytes after an upgrade (a frame in the same write as the upgrade request, a
//! blast of frames the server must read within its bound).

use std::io::Read;

/// A masked text frame from the client (a final frame, under 126 bytes).
pub fn client_text_frame(text: &str) -> Vec<u8> {
    let mask = [0x12u8, 0x34, 0x56, 0x78];
    assert!(text.len() < 126);
    let mut frame = vec![0x81, 0x80 | text.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(text.bytes().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// Reads one text frame from the server, which must be a final, unmasked one.
#[track_caller]
pub fn read_server_text(stream: &mut impl Read) -> String {
    let (first, data) = read_frame(stream);
    assert_eq!(first, 0x81, "a final text frame");
    String::from_utf8(data).unwrap()
}

/// Reads one unmasked frame from the server: its first byte (FIN, RSV bits, opcode) and its
/// payload.
#[track_caller]
pub fn read_frame(stream: &mut impl Read) -> (u8, Vec<u8>) {
    let mut head = [0u8; 2];
    stream.read_exact(&mut head).expect("a frame");
    let len = match head[1] & 0x7f {
        126 => {
            let mut ext = [0u8; 2];
            stream.read_exact(&mut ext).unwrap();
            u16::from_be_bytes(ext) as usize
        }
        127 => {
            let mut ext = [0u8; 8];
            stream.read_exact(&mut ext).unwrap();
            u64::from_be_bytes(ext) as usize
        }
        n => n as usize,
    };
    let mut data = vec![0u8; len];
    stream.read_exact(&mut data).unwrap();
    (head[0], data)
}
