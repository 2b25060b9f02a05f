//! The Engine.IO v4 / Socket.IO v5 packets the ceiling answers, on namespace `/` in JSON:
//! CONNECT, the `join`, `leave`, `publish` and `ping` events of the benchmark (with the
//! acks siohub and the peers give), Engine.IO pongs. Everything else is ignored.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::hub::{Conn, Rooms};
use crate::ws;

/// One Socket.IO client: its connection's queue, its id and the rooms it joined.
pub struct Client {
    pub conn: Arc<Conn>,
    pub sid: String,
    pub joined: Vec<String>,
}

/// The Engine.IO open packet of a new session.
pub fn open_packet(sid: &str) -> String {
    format!(
        "0{{\"sid\":\"{sid}\",\"upgrades\":[],\"pingInterval\":{},\"pingTimeout\":20000,\"maxPayload\":{}}}",
        crate::hub::PING_INTERVAL.as_millis(),
        ws::MAX_PAYLOAD
    )
}

fn error(code: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message}})
}

/// The room named by a `join`/`leave` payload: `"room"` or `{"room": "..."}`.
fn room_of(payload: Option<&Value>) -> Option<String> {
    match payload? {
        Value::String(room) => Some(room.clone()),
        Value::Object(map) => map.get("room")?.as_str().map(str::to_owned),
        _ => None,
    }
}

impl Client {
    /// Handles one text message from the client.
    pub fn on_text(&mut self, text: &[u8], rooms: &Rooms) {
        match text {
            b"3" => {}
            b"2" => {
                self.conn.push_text(b"3");
            }
            b"40" => {
                self.conn
                    .push_text(format!("40{{\"sid\":\"{}\"}}", self.sid).as_bytes());
            }
            b"41" => self.leave_all(rooms),
            [b'4', b'0', ..] => {
                self.conn
                    .push_text(b"44{\"message\":\"only the namespace / is served\"}");
            }
            [b'4', b'2', rest @ ..] => self.on_event(rest, rooms),
            _ => {}
        }
    }

    /// An EVENT packet after its `42`: `[<ack id>][name, args..]`.
    fn on_event(&mut self, rest: &[u8], rooms: &Rooms) {
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        let id = std::str::from_utf8(&rest[..digits])
            .ok()
            .and_then(|d| d.parse::<u64>().ok());
        let Ok(Value::Array(args)) = serde_json::from_slice::<Value>(&rest[digits..]) else {
            return;
        };
        let arg = args.get(1);
        let reply = match args.first().and_then(Value::as_str) {
            Some("join") => match room_of(arg) {
                Some(room) => {
                    if !self.joined.contains(&room) {
                        rooms.join(&room, &self.conn);
                        self.joined.push(room.clone());
                    }
                    json!({"ok": true, "room": room})
                }
                None => error("INVALID_PAYLOAD", "join expects \"room\" or {\"room\":..}"),
            },
            Some("leave") => match room_of(arg) {
                Some(room) => {
                    if let Some(i) = self.joined.iter().position(|r| *r == room) {
                        self.joined.swap_remove(i);
                        rooms.leave(&room, &self.conn);
                    }
                    json!({"ok": true, "room": room})
                }
                None => error("INVALID_PAYLOAD", "leave expects \"room\" or {\"room\":..}"),
            },
            Some("publish") => self.publish(arg, rooms),
            Some("ping") => {
                let ms = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_millis())
                    .unwrap_or(0);
                let reply = json!({"server_time": ms});
                if id.is_none() {
                    let event = format!("42{}", json!(["pong", reply]));
                    self.conn.push_text(event.as_bytes());
                }
                reply
            }
            _ => return,
        };
        if let Some(id) = id {
            self.conn
                .push_text(format!("43{id}{}", json!([reply])).as_bytes());
        }
    }

    /// `publish {room, event, data, echo?}`: the event is encoded once, as one websocket
    /// frame, and its bytes queued for every member.
    fn publish(&self, arg: Option<&Value>, rooms: &Rooms) -> Value {
        let msg = arg.unwrap_or(&Value::Null);
        let room = msg.get("room").and_then(Value::as_str);
        let event = msg.get("event").and_then(Value::as_str);
        let (Some(room), Some(event)) = (room, event) else {
            return error("INVALID_PAYLOAD", "publish expects {room, event, data}");
        };
        let echo = msg.get("echo").and_then(Value::as_bool).unwrap_or(false);
        let data = msg.get("data").unwrap_or(&Value::Null);
        let mut packet = b"42".to_vec();
        if serde_json::to_writer(&mut packet, &(event, data)).is_err() {
            return error("INTERNAL_ERROR", "could not encode the event");
        }
        let mut frame = Vec::with_capacity(packet.len() + 10);
        ws::frame(&mut frame, ws::TEXT, &packet);
        let skip = (!echo).then_some(&self.conn);
        let sent = rooms.publish(room, &frame, skip);
        if sent.dropped > 0 {
            json!({"ok": true, "recipients": sent.recipients, "dropped": sent.dropped})
        } else {
            json!({"ok": true, "recipients": sent.recipients})
        }
    }

    /// Leaves every joined room (on DISCONNECT and when the connection ends).
    pub fn leave_all(&mut self, rooms: &Rooms) {
        for room in self.joined.drain(..) {
            rooms.leave(&room, &self.conn);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> Client {
        Client {
            conn: Conn::new(),
            sid: "s".into(),
            joined: Vec::new(),
        }
    }

    #[test]
    fn a_publish_reaches_the_room_but_the_sender_and_is_acked() {
        let rooms = Rooms::default();
        let (mut a, mut b, mut p) = (client(), client(), client());
        a.on_text(br#"420["join","bench"]"#, &rooms);
        b.on_text(br#"420["join",{"room":"bench"}]"#, &rooms);
        p.on_text(br#"421["join","other"]"#, &rooms);
        let sent = rooms.publish("bench", b"x", Some(&a.conn));
        assert_eq!((sent.recipients, sent.dropped), (1, 0));
        p.on_event(
            br#"7["publish",{"room":"bench","event":"m","data":"0000000000001234x"}]"#,
            &rooms,
        );
        let ack = json!([{"ok": true, "recipients": 2}]);
        let mut want = Vec::new();
        ws::frame(&mut want, ws::TEXT, format!("437{ack}").as_bytes());
        assert!(p.conn_bytes().ends_with(&want));
        let mut event = Vec::new();
        ws::frame(&mut event, ws::TEXT, br#"42["m","0000000000001234x"]"#);
        assert!(b.conn_bytes().ends_with(&event));
        a.leave_all(&rooms);
        assert_eq!(rooms.publish("bench", b"x", None).recipients, 1);
    }

    impl Client {
        fn conn_bytes(&self) -> Vec<u8> {
            self.conn.queued()
        }
    }
}
