//! A session that has just started and the wait for the ConnectionManager to register it:
//! a polling handshake is answered only once it is registered, so the client's next request,
//! whichever worker it lands on, finds its sid.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use actix::Addr;
use futures::channel::oneshot;

use super::Session;
use crate::disconnect_reason::DisconnectReason;
use crate::hub_error::Unavailable;
use crate::messages::CloseSession;

/// A session just started: its sid, its address, and the wait for its registration.
#[derive(Debug)]
pub struct Started {
    /// The Engine.IO session id.
    pub sid: Arc<str>,
    /// The running session.
    pub session: Addr<Session>,
    /// Resolves once the ConnectionManager has registered it; the handshake is answered
    /// after that.
    pub registered: Registered,
}

/// Resolves once the ConnectionManager has registered a session. Fails only when the
/// manager dropped the request (a fault in its handler): the session is then closed, and
/// the handshake must be refused.
#[derive(Debug)]
#[must_use = "the handshake is answered once the session is registered"]
pub struct Registered {
    answer: oneshot::Receiver<()>,
    session: Addr<Session>,
}

impl Registered {
    pub(super) fn new(answer: oneshot::Receiver<()>, session: Addr<Session>) -> Self {
        Registered { answer, session }
    }
}

impl Future for Registered {
    type Output = Result<(), Unavailable>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match Pin::new(&mut self.answer).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(())) => Poll::Ready(Ok(())),
            Poll::Ready(Err(_)) => {
                log::error!("a session was not registered: closing it");
                self.session.do_send(CloseSession {
                    reason: DisconnectReason::ServerShuttingDown,
                });
                Poll::Ready(Err(Unavailable("ConnectionManager")))
            }
        }
    }
}
