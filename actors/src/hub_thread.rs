//! The thread the hub's actors (ConnectionManager, RoomSupervisor, Broadcaster) run on is
//! scheduled as a batch thread (Linux `SCHED_BATCH`): a message sent to it no longer
//! preempts the worker that sent it.
//!
//! Every connection sends it a few messages (its registration, its sockets' `AddSocket`).
//! Scheduled normally, the woken hub thread preempted the sending worker at once, handled
//! the one message and slept again: one context switch per message, on both threads (a
//! ramp of 8,000 connections woke it 4,000–9,000 times). As a batch thread it runs when
//! a core comes free and takes what queued meanwhile in one wake-up (800–1,400 times);
//! the Broadcaster's runs gather the same way. Its nice value is unchanged.
//! `bench/results/20261205T1700Z-ramp-connect-path.md` has the figures.

/// Makes the calling thread a batch thread; logs (and leaves it as it is) where the
/// system refuses or has no such policy.
pub(crate) fn schedule_as_batch() {
    #[cfg(target_os = "linux")]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: `param` is a valid `sched_param`; pid 0 is the calling thread.
        let set = unsafe { libc::sched_setscheduler(0, libc::SCHED_BATCH, &param) };
        if set != 0 {
            log::debug!(
                "the hub thread stays on the default policy: {}",
                std::io::Error::last_os_error()
            );
        }
    }
}
