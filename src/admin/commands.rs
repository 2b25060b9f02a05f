//! The admin UI's commands: `emit(nsp, filter, ev, ...args)`, `join(nsp, room, filter)`,
//! `leave(nsp, room, filter)` and `_disconnect(nsp, close, filter)`, where a filter is a
//! room or a socket id (the sockets of the room, or that socket); `leave` with no filter
//! empties the room (the official UI's Rooms page sends it so). The official UI sends
//! them without an ack; the dashboard with one, and gets `{"ok":true,"sockets":N}`.
//! In a cluster they act on every node, as with Node's adapter: `emit` is a broadcast
//! (the Broadcaster hands it to the adapter), join, leave and disconnect are sent to the
//! other nodes too (`socketsJoin`, `socketsLeave`, `disconnectSockets`); `sockets` counts
//! this node's (the other nodes do not answer those).
//! Refused with `PERMISSION_DENIED` when `[admin] read_only`; `emit` of a name Socket.IO
//! reserves (`connect`, `disconnect`, ...) is refused with `INVALID_PAYLOAD`.

use serde_json::{json, Value};
use siohub_actors::admin::RemoteAction;
use siohub_actors::{Broadcast, DisconnectReason, Hub, Payload, Target};

use crate::error_code::{ErrorCode, EventError};

/// The longest room, socket id or event name a command takes.
const MAX_NAME_BYTES: usize = 256;

/// Which command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// `emit`.
    Emit,
    /// `join`.
    Join,
    /// `leave`.
    Leave,
    /// `_disconnect`.
    Disconnect,
}

/// Argument `i` as a name of 1 to 256 bytes.
fn name_arg(args: &[Value], i: usize, what: &str) -> Result<String, EventError> {
    match args.get(i) {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= MAX_NAME_BYTES => Ok(s.clone()),
        _ => Err(EventError::invalid(format!(
            "argument {} ({what}) must be a string of 1 to {MAX_NAME_BYTES} bytes",
            i + 1
        ))),
    }
}

/// The sockets a filter names in `nsp`: the members of the room, or the socket with that
/// id (a union, as every socket is in the room named by its id).
fn filter_target(nsp: &str, filter: &str) -> Target {
    Target {
        rooms: vec![filter.to_owned()],
        socket_ids: vec![filter.to_owned()],
        ..Target::namespace(nsp)
    }
}

/// Runs a command; resolves to the number of sockets it reached.
pub async fn run(hub: &Hub, command: Command, mut args: Vec<Value>) -> Result<Value, EventError> {
    let nsp = name_arg(&args, 0, "namespace")?;
    let sockets = match command {
        Command::Emit => {
            let event = name_arg(&args, 2, "event")?;
            if siohub_protocol::RESERVED_EVENTS.contains(&event.as_str()) {
                // Its clients would read it as a protocol packet they cannot parse and
                // drop their connections (as the HTTP API and publish refuse it too).
                return Err(EventError::invalid(format!(
                    "{event:?} is reserved by Socket.IO and cannot be emitted"
                )));
            }
            let target = match args.get(1) {
                Some(Value::String(filter)) if !filter.is_empty() => filter_target(&nsp, filter),
                None | Some(Value::Null) | Some(Value::String(_)) => Target::namespace(&nsp),
                Some(_) => {
                    return Err(EventError::invalid(
                        "argument 2 (filter) must be a room or socket id",
                    ))
                }
            };
            let rest = args.split_off(3);
            let broadcast = Broadcast {
                target,
                event,
                payload: Payload::new(rest),
                volatile: false,
                dedupe_id: None,
            };
            hub.broadcast(broadcast)
                .await
                .map_err(|e| EventError::new(ErrorCode::InternalError, e.to_string()))?
                .recipients
        }
        Command::Join | Command::Leave => {
            let room = name_arg(&args, 1, "room")?;
            let target = match (command, args.get(2)) {
                // The official UI's "remove all the sockets from this room" (Rooms page)
                // sends `leave(nsp, room)` with no filter: every socket of the namespace
                // leaves the room, that is the room's members.
                (Command::Leave, None | Some(Value::Null)) => Target {
                    rooms: vec![room.clone()],
                    ..Target::namespace(&nsp)
                },
                _ => filter_target(&nsp, &name_arg(&args, 2, "filter")?),
            };
            let action = match command {
                Command::Join => RemoteAction::Join {
                    target: target.clone(),
                    room: room.clone(),
                },
                _ => RemoteAction::Leave {
                    target: target.clone(),
                    room: room.clone(),
                },
            };
            hub.admin().cluster_command(action);
            let recipients = hub.resolve(&target);
            let mut done = 0;
            for (socket_id, _) in recipients {
                let ok = if command == Command::Join {
                    hub.join_socket(&nsp, &socket_id, &room).await.is_ok()
                } else {
                    hub.leave_socket(&nsp, &socket_id, &room).await.is_ok()
                };
                done += usize::from(ok);
            }
            done
        }
        Command::Disconnect => {
            let close = match args.get(1) {
                Some(Value::Bool(close)) => *close,
                None | Some(Value::Null) => false,
                Some(_) => return Err(EventError::invalid("argument 2 (close) must be a boolean")),
            };
            let filter = name_arg(&args, 2, "filter")?;
            let target = filter_target(&nsp, &filter);
            hub.admin().cluster_command(RemoteAction::Disconnect {
                target: target.clone(),
                close,
            });
            let recipients = hub.resolve(&target);
            let mut done = 0;
            for (socket_id, _) in recipients {
                let result = if close {
                    hub.close_connection_of(&nsp, &socket_id, DisconnectReason::ForcedClose)
                } else {
                    hub.disconnect_socket(&nsp, &socket_id)
                };
                done += usize::from(result.is_ok());
            }
            done
        }
    };
    Ok(json!({"ok": true, "sockets": sockets}))
}
