//! `presence` events: with a namespace's `presence_events` on, the RoomSupervisor (which
//! sees every membership change, whoever asked for it: the built-ins, the HTTP API, server
//! code, a disconnect) tells a room's members who joined and who left.
//!
//! A small room gets one event per change: `presence {"room", "joined": {"sid","user"}}`
//! (or `"left"`). From `presence_batch_above` members on this node, changes are gathered
//! for `presence_batch_interval` and go out as one event, `presence {"room", "joined":
//! [..], "left": [..]}` (each list at most `presence_batch_max` long, `"omitted": N` saying
//! how many more there were), so a storm of N joins costs one event per member and interval
//! instead of N per member. A join and a leave of one socket within an interval cancel out.
//!
//! Events are sent as volatile broadcasts to the room: every node's members get them (with
//! the Redis adapter), nothing buffers or logs them, and a slow consumer may lose them.
//! User rooms (`user:<id>`) have no presence events.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{json, Value};
use siohub_protocol::Payload;

use crate::hub_messages::Broadcast;
use crate::policy::{PresencePolicy, USER_ROOM_PREFIX};
use crate::room_supervisor::RoomMember;
use crate::target::Target;

/// The event name.
pub const PRESENCE_EVENT: &str = "presence";

/// A room of a namespace.
pub(super) type RoomKey = (String, String);

/// One membership change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Change {
    /// The namespace.
    pub nsp: String,
    /// The room.
    pub room: String,
    /// Who.
    pub member: RoomMember,
    /// Joined (else left).
    pub joined: bool,
    /// The room's members on this node after the change.
    pub size: usize,
}

/// What to do about a change.
#[derive(Debug)]
pub(super) enum Outcome {
    /// Nothing (presence is off, or a user room).
    Nothing,
    /// Send this event now.
    Send(Box<Broadcast>),
    /// Gathered into the room's batch; when it started it, the batch is due after this.
    Batched(Option<Duration>),
}

/// The changes gathered for one room.
#[derive(Debug, Default)]
struct Batch {
    joined: Vec<RoomMember>,
    left: Vec<RoomMember>,
    omitted: usize,
}

impl Batch {
    /// Adds a change: cancels the opposite change of the same socket, else lists it (or
    /// counts it once the list holds `max`).
    fn add(&mut self, member: RoomMember, joined: bool, max: usize) {
        let (this, other) = match joined {
            true => (&mut self.joined, &mut self.left),
            false => (&mut self.left, &mut self.joined),
        };
        if let Some(at) = other.iter().position(|m| m.socket_id == member.socket_id) {
            other.swap_remove(at);
            return;
        }
        if this.len() < max {
            this.push(member);
        } else {
            self.omitted += 1;
        }
    }

    fn is_empty(&self) -> bool {
        self.joined.is_empty() && self.left.is_empty() && self.omitted == 0
    }
}

/// The batches gathering now, by room.
#[derive(Debug, Default)]
pub(super) struct Presence {
    batches: HashMap<RoomKey, Batch>,
}

impl Presence {
    /// What to do about `change` under `policy`.
    pub(super) fn change(&mut self, policy: &PresencePolicy, change: Change) -> Outcome {
        if !policy.events || change.room.starts_with(USER_ROOM_PREFIX) {
            return Outcome::Nothing;
        }
        let key = (change.nsp, change.room);
        if let Some(batch) = self.batches.get_mut(&key) {
            batch.add(change.member, change.joined, policy.batch_max);
            return Outcome::Batched(None);
        }
        if change.size < policy.batch_above {
            let kind = if change.joined { "joined" } else { "left" };
            let body = json!({ "room": key.1, kind: member_json(&change.member) });
            return Outcome::Send(Box::new(presence_broadcast(&key, body)));
        }
        let mut batch = Batch::default();
        batch.add(change.member, change.joined, policy.batch_max);
        self.batches.insert(key, batch);
        Outcome::Batched(Some(policy.batch_interval))
    }

    /// The event of `room`'s batch, which is due (none when its changes cancelled out),
    /// with the number of changes it counts without listing them.
    pub(super) fn flush(&mut self, key: &RoomKey) -> Option<(Broadcast, usize)> {
        let batch = self.batches.remove(key)?;
        if batch.is_empty() {
            return None;
        }
        let list = |members: &[RoomMember]| members.iter().map(member_json).collect::<Vec<_>>();
        let mut body = json!({
            "room": key.1,
            "joined": list(&batch.joined),
            "left": list(&batch.left),
        });
        if batch.omitted > 0 {
            body["omitted"] = json!(batch.omitted);
        }
        Some((presence_broadcast(key, body), batch.omitted))
    }

    /// How many rooms have a batch gathering.
    pub(super) fn pending_count(&self) -> usize {
        self.batches.len()
    }

    /// The rooms with a batch gathering.
    pub(super) fn pending(&self) -> Vec<RoomKey> {
        self.batches.keys().cloned().collect()
    }
}

fn member_json(member: &RoomMember) -> Value {
    json!({ "sid": member.socket_id, "user": member.user })
}

fn presence_broadcast(key: &RoomKey, body: Value) -> Broadcast {
    Broadcast {
        target: Target {
            rooms: vec![key.1.clone()],
            ..Target::namespace(&key.0)
        },
        event: PRESENCE_EVENT.to_owned(),
        payload: Payload::new(vec![body]),
        volatile: true,
        dedupe_id: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on() -> PresencePolicy {
        PresencePolicy {
            events: true,
            batch_above: 3,
            batch_interval: Duration::from_millis(100),
            batch_max: 2,
        }
    }

    fn change(sid: &str, joined: bool, size: usize) -> Change {
        Change {
            nsp: "/".into(),
            room: "r".into(),
            member: RoomMember {
                socket_id: sid.into(),
                user: Some(format!("u-{sid}")),
            },
            joined,
            size,
        }
    }

    fn body(b: &Broadcast) -> Value {
        b.payload.args[0].clone()
    }

    #[test]
    fn small_rooms_get_one_event_per_change() {
        let mut presence = Presence::default();
        let Outcome::Send(event) = presence.change(&on(), change("a", true, 1)) else {
            panic!("sent at once");
        };
        assert_eq!(event.event, "presence");
        assert!(event.volatile);
        assert_eq!(event.target.rooms, vec!["r".to_owned()]);
        assert_eq!(
            body(&event),
            json!({"room": "r", "joined": {"sid": "a", "user": "u-a"}})
        );
        let off = PresencePolicy::default();
        assert!(matches!(
            presence.change(&off, change("a", true, 1)),
            Outcome::Nothing
        ));
        let mut user_room = change("a", true, 1);
        user_room.room = "user:u-a".into();
        assert!(matches!(
            presence.change(&on(), user_room),
            Outcome::Nothing
        ));
    }

    #[test]
    fn large_rooms_batch_cancel_and_bound_their_lists() {
        let mut presence = Presence::default();
        let first = presence.change(&on(), change("a", true, 3));
        assert!(matches!(first, Outcome::Batched(Some(_))), "{first:?}");
        for (sid, joined) in [("b", true), ("c", true), ("d", true), ("x", false)] {
            let next = presence.change(&on(), change(sid, joined, 2));
            assert!(matches!(next, Outcome::Batched(None)), "{sid}: {next:?}");
        }
        // b joined and leaves within the interval: nothing to say about b.
        presence.change(&on(), change("b", false, 4));
        let key = ("/".to_owned(), "r".to_owned());
        assert_eq!(presence.pending(), vec![key.clone()]);
        let (event, omitted) = presence.flush(&key).unwrap();
        assert_eq!(omitted, 2);
        let body = body(&event);
        let joined: Vec<&str> = body["joined"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["sid"].as_str().unwrap())
            .collect();
        // a and b filled the list (max 2), c and d were counted; b's leave cancelled b.
        assert_eq!(joined, ["a"], "{body}");
        assert_eq!(body["left"], json!([{"sid": "x", "user": "u-x"}]));
        assert_eq!(body["omitted"], json!(2), "c and d did not fit: {body}");
        assert!(presence.flush(&key).is_none());
        assert!(presence.pending().is_empty());
    }

    #[test]
    fn a_batch_that_cancelled_out_sends_nothing() {
        let mut presence = Presence::default();
        presence.change(&on(), change("a", true, 5));
        presence.change(&on(), change("a", false, 4));
        assert!(presence.flush(&("/".into(), "r".into())).is_none());
    }
}
