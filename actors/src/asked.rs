//! A request that is handled whether or not its asker still waits for the answer.
//!
//! actix skips the handler of a message sent with `Addr::send` when the asker dropped its
//! future before the actor got to it. The hub counts every message it sends to a singleton
//! in that singleton's mailbox depth and counts it off in the handler, so a skipped handler
//! would leave the depth raised for good (and the Broadcaster, which gathers deliveries
//! while its depth says more broadcasts wait, would hand every run out late). A request
//! wrapped in [`Asked`] and sent with `do_send` always reaches its handler; the answer goes
//! back on a oneshot channel, and is simply dropped when nobody waits. A broadcast whose
//! publisher left meanwhile is still delivered.

use actix::dev::{MessageResponse, OneshotSender};
use actix::prelude::*;
use tokio::sync::oneshot;

/// A request `msg` and where its answer goes.
pub(crate) struct Asked<M: Message> {
    msg: M,
    reply: OneshotSender<M::Result>,
}

impl<M: Message> Asked<M> {
    /// The request, and the receiver of its answer (closed if the actor drops it unhandled,
    /// which happens only when the actor is gone).
    pub(crate) fn new(msg: M) -> (Self, oneshot::Receiver<M::Result>) {
        let (reply, answer) = oneshot::channel();
        (Asked { msg, reply }, answer)
    }

    /// Runs `actor`'s handler for the request and sends the answer back.
    pub(crate) fn handle_by<A>(self, actor: &mut A, ctx: &mut A::Context)
    where
        A: Actor + Handler<M>,
    {
        let response = <A as Handler<M>>::handle(actor, self.msg, ctx);
        response.handle(ctx, Some(self.reply));
    }
}

impl<M: Message> Message for Asked<M> {
    type Result = ();
}
