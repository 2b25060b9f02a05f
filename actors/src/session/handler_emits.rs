//! Packets a handler emits on its own session while the session runs it. The session runs
//! connect and event handlers inside its own turn; a `Socket::emit` or an ack sent from
//! there is collected here and written by the session as the handler returns, instead of
//! travelling through the session's own mailbox (an actor does not message itself to finish
//! its own work), so it also goes out in the same write as what the turn wrote before it.
//! Emits from anywhere else (another session's handler, a spawned task) go through the
//! mailbox as before.

use std::cell::RefCell;
use std::sync::Arc;

use siohub_protocol::SocketPacket;

/// The session running a handler on this thread, and what the handler emitted on it.
type Running = Option<(Arc<str>, Vec<SocketPacket>)>;

thread_local! {
    static RUNNING: RefCell<Running> = const { RefCell::new(None) };
}

/// Runs `f` (a handler of session `sid`) and returns the packets it emitted on that
/// session, in order. A nested run (a handler that makes another session run one on this
/// thread) keeps its own.
pub(crate) fn collect(sid: &Arc<str>, f: impl FnOnce()) -> Vec<SocketPacket> {
    let outer = RUNNING.with(|r| r.borrow_mut().replace((sid.clone(), Vec::new())));
    let mut restore = Restore { outer: Some(outer) };
    f();
    restore.swap_back()
}

/// Puts the outer run back, also when the handler panics.
struct Restore {
    outer: Option<Running>,
}

impl Restore {
    fn swap_back(&mut self) -> Vec<SocketPacket> {
        let Some(outer) = self.outer.take() else {
            return Vec::new();
        };
        let ours = RUNNING.with(|r| std::mem::replace(&mut *r.borrow_mut(), outer));
        ours.map(|(_, packets)| packets).unwrap_or_default()
    }
}

impl Drop for Restore {
    fn drop(&mut self) {
        self.swap_back();
    }
}

/// Keeps `packet` for session `sid` if that session is running a handler on this thread;
/// gives it back otherwise (the caller sends it through the mailbox).
pub(crate) fn capture(sid: &str, packet: SocketPacket) -> Result<(), SocketPacket> {
    RUNNING.with(|r| match &mut *r.borrow_mut() {
        Some((running, packets)) if **running == *sid => {
            packets.push(packet);
            Ok(())
        }
        _ => Err(packet),
    })
}
