//! A session that has just started and what its registration by the ConnectionManager
//! ends: a polling handshake is answered only once it is registered, so the client's next
//! request, whichever worker it lands on, finds its sid; a websocket-first session, which
//! no request names, does not wait, and its place among the open connections (reserved at
//! admission) is given back by the manager once it is registered.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use actix::Addr;
use futures::channel::oneshot;

use super::{Session, SessionAddr};
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

/// A websocket-first session just started: its sid and its address. Its registration
/// needs no answer (see [`AdmissionHold`]).
#[derive(Debug)]
pub struct Opened {
    /// The Engine.IO session id.
    pub sid: Arc<str>,
    /// The running session (the address its registry entry, sockets and membership
    /// share).
    pub session: SessionAddr,
}

/// A place among the open connections, reserved at admission and given back when this
/// is dropped (the server's handshake slot): held until the session is registered, when it
/// starts counting in the registry.
pub type AdmissionHold = Box<dyn Send>;

/// What the ConnectionManager ends once it has registered a session.
pub(crate) enum OnRegistered {
    /// A polling handshake waiting for the registration: answered.
    Answer(oneshot::Sender<()>),
    /// A websocket-first session's admitted place: given back.
    Release(Release),
}

impl OnRegistered {
    /// The session is registered.
    pub(crate) fn done(self) {
        match self {
            // A handshake that went away meanwhile leaves a session that times out.
            OnRegistered::Answer(reply) => drop(reply.send(())),
            OnRegistered::Release(mut release) => release.registered = true,
        }
    }
}

/// A websocket-first session's admitted place, given back when dropped. Dropped without
/// [`OnRegistered::done`] (the manager dropped the request: a fault in its handler), it
/// also closes the session, as a polling handshake is refused then.
pub(crate) struct Release {
    hold: Option<AdmissionHold>,
    session: SessionAddr,
    registered: bool,
}

impl Release {
    pub(super) fn new(hold: AdmissionHold, session: SessionAddr) -> Self {
        Release {
            hold: Some(hold),
            session,
            registered: false,
        }
    }
}

impl Drop for Release {
    fn drop(&mut self) {
        drop(self.hold.take());
        if !self.registered {
            close_unregistered(&self.session);
        }
    }
}

/// The ConnectionManager dropped a session's registration (a fault in its handler): the
/// session is closed.
fn close_unregistered(session: &Addr<Session>) {
    log::error!("a session was not registered: closing it");
    session.do_send(CloseSession {
        reason: DisconnectReason::ServerShuttingDown,
    });
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
                close_unregistered(&self.session);
                Poll::Ready(Err(Unavailable("ConnectionManager")))
            }
        }
    }
}
