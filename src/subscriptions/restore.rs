//! Restoring a new socket's rooms: when a socket of an identified user connects, the
//! rooms the user keeps in its namespace are read, and the socket joins each one the
//! namespace's policy still allows, with the room's buffered events replayed as for a
//! `join`, and no ack (the client did not ask). The client's own joins and leaves made
//! while the rooms were read win: the restore leaves those rooms alone. A socket brought
//! back by connection state recovery keeps its own rooms and is not restored again.
//! PostgreSQL down: the socket is restored once it is back (at most `max_pending_reads`
//! sockets wait so, each as long as its session lives; more start without their rooms);
//! PostgreSQL slow (no answer within `timeout_ms`): it starts without them. Counted.

use std::sync::Arc;

use futures::future::Either;
use serde_json::json;
use siohub_actors::fields::{FieldSet, FieldsUpdate};
use siohub_actors::{JoinError, Socket};

use super::status::RestoreOutcome;
use super::{KeptRoom, StoreError, Subscriptions};
use crate::builtins::roles_of;
use crate::config::NamespacePolicy;

/// Set in a restored socket's data; a recovered socket carries it over and is left alone.
pub const RESTORED_KEY: &str = "subscriptions_restored";

/// The connect handler: restores `socket`'s kept rooms in the background.
pub fn on_connect(subs: &Subscriptions, policy: &Arc<NamespacePolicy>, socket: &Socket) {
    let Some(user) = socket.user() else {
        return;
    };
    if socket.data(RESTORED_KEY).is_some() {
        return;
    }
    socket.set_data(RESTORED_KEY, json!(true));
    let guard = subs.begin_restore(socket.id());
    let read = subs.rooms_of(&user, socket.nsp());
    let (subs, policy, handle) = (subs.clone(), policy.clone(), socket.clone());
    socket.run_in_session(async move {
        let mut read = read.await;
        if matches!(read, Err(StoreError::Unavailable(_))) {
            // PostgreSQL is down: wait for it (with the session; bounded in number).
            if let Some(up) = subs.wait_until_up() {
                subs.status().count_restore(RestoreOutcome::Deferred, 0);
                up.await;
                read = subs.rooms_of(&user, handle.nsp()).await;
            }
        }
        let touched = guard.end();
        let kept = match read {
            Ok(kept) => kept,
            Err(e) => {
                subs.status().count_restore(RestoreOutcome::Unavailable, 0);
                siohub_actors::limited!(
                    info,
                    "subscriptions: socket {} of user {} starts without its kept rooms: {e}",
                    handle.id(),
                    siohub_actors::ClientText(&user)
                );
                return;
            }
        };
        if kept.is_empty() {
            subs.status().count_restore(RestoreOutcome::Empty, 0);
            return;
        }
        let roles = roles_of(&handle);
        let joins: Vec<_> = kept
            .iter()
            .filter(|k| !touched.has(&k.room) && policy.may_join(&k.room, &roles))
            .map(|k| (k.room.clone(), join_kept(&handle, k, &policy)))
            .collect();
        let mut joined = 0;
        for (room, join) in joins {
            match join.await {
                Ok(_) => joined += 1,
                Err(JoinError::NotConnected) => break,
                Err(e) => siohub_actors::limited!(
                    info,
                    "subscriptions: socket {} not restored into {}: {e}",
                    handle.id(),
                    siohub_actors::ClientText(&room)
                ),
            }
        }
        subs.status()
            .count_restore(RestoreOutcome::Restored, joined);
    });
}

/// Joins one kept room as its `join` did: with the field set it named, if any (a set the
/// bounds now refuse, or options that do not parse, join without one).
fn join_kept(
    socket: &Socket,
    kept: &KeptRoom,
    policy: &NamespacePolicy,
) -> impl std::future::Future<Output = Result<usize, JoinError>> + 'static {
    let names = kept.options.get("fields").and_then(|f| f.as_array());
    let names: Option<Vec<&str>> = names.and_then(|n| n.iter().map(|v| v.as_str()).collect());
    match names.and_then(|n| FieldSet::new(n).ok()) {
        Some(set) => {
            let update = FieldsUpdate {
                fields: Some(set),
                max: policy.max_field_sets_per_room,
            };
            Either::Right(socket.join_with_fields(&kept.room, update))
        }
        None => Either::Left(socket.join(&kept.room)),
    }
}
