//! Supervision of the singleton actors: a panic inside a handler is caught, logged and
//! counted, and the actor is stopped so that its `Supervisor` restarts it (the actor then
//! rebuilds its state in `restarting`). Also the fault-injection message tests use to crash
//! an actor on purpose.

use std::panic::{catch_unwind, AssertUnwindSafe};

use actix::prelude::*;

use crate::stats::ActorStats;

/// Runs a handler body; a panic stops the actor (its supervisor restarts it) and yields
/// `fallback`.
pub fn guarded<A, R>(
    stats: &ActorStats,
    ctx: &mut Context<A>,
    fallback: R,
    body: impl FnOnce(&mut Context<A>) -> R,
) -> R
where
    A: Actor<Context = Context<A>>,
{
    stats.handled();
    match catch_unwind(AssertUnwindSafe(|| body(ctx))) {
        Ok(result) => result,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            log::error!(
                "actor {} panicked ({what}); restarting it",
                stats.snapshot().name
            );
            ctx.stop();
            fallback
        }
    }
}

/// Makes an actor panic inside a handler, as a bug would. Only with the `fault-injection`
/// feature, which tests turn on.
#[cfg(feature = "fault-injection")]
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub struct Crash;
