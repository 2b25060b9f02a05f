//! What a handler asks of its own session while the session runs it: emits, acks, joins,
//! leaves, and tasks that wait for something (a join's replay, a broadcast's outcome)
//! before they answer.
//!
//! The session runs connect and event handlers inside its own turn. A `Socket` or
//! `AckSender` call made there on the same session is collected here (keyed by the session
//! id, on this thread) and applied by the session as the handler returns, instead of
//! travelling through the session's own mailbox: an actor does not message itself to
//! finish its own work. A task handed over with [`Socket::run_in_session`] runs inside the
//! session (`ctx.spawn`), and what it asks while the session polls it is collected and
//! applied the same way. Calls from anywhere else (another session, a detached task) go
//! through the mailbox as before.
//!
//! [`Socket::run_in_session`]: crate::Socket::run_in_session

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use actix::prelude::*;
use futures::future::LocalBoxFuture;
use siohub_protocol::SocketPacket;

use super::Session;
use crate::messages::{SocketJoin, SocketLeave, SocketSetFields};

/// One thing a handler asked of its session.
pub(crate) enum Request {
    /// Send a packet (an event or an ack) on the socket of its namespace.
    Emit(SocketPacket),
    /// Join a room.
    Join(SocketJoin),
    /// Leave a room.
    Leave(SocketLeave),
    /// Change a field set.
    SetFields(SocketSetFields),
    /// Run a task inside the session.
    Task(LocalBoxFuture<'static, ()>),
}

/// The session running a handler on this thread, and what the handler asked of it.
type Running = Option<(Arc<str>, Vec<Request>)>;

thread_local! {
    static RUNNING: RefCell<Running> = const { RefCell::new(None) };
}

/// Runs `f` for session `sid` and returns what it asked of that session, in order. A
/// nested run (a handler that makes another session run one on this thread) keeps its own.
fn collect(sid: &Arc<str>, f: impl FnOnce()) -> Vec<Request> {
    let outer = RUNNING.with(|r| r.borrow_mut().replace((sid.clone(), Vec::new())));
    let mut restore = Restore { outer: Some(outer) };
    f();
    restore.swap_back()
}

/// Puts the outer run back, also when `f` panics.
struct Restore {
    outer: Option<Running>,
}

impl Restore {
    fn swap_back(&mut self) -> Vec<Request> {
        let Some(outer) = self.outer.take() else {
            return Vec::new();
        };
        let ours = RUNNING.with(|r| std::mem::replace(&mut *r.borrow_mut(), outer));
        ours.map(|(_, requests)| requests).unwrap_or_default()
    }
}

impl Drop for Restore {
    fn drop(&mut self) {
        self.swap_back();
    }
}

/// Keeps `request` for session `sid` if that session is running a handler (or a task) on
/// this thread; gives it back otherwise (the caller sends it through the mailbox).
pub(crate) fn capture(sid: &str, request: Request) -> Option<Request> {
    RUNNING.with(|r| match &mut *r.borrow_mut() {
        Some((running, requests)) if **running == *sid => {
            requests.push(request);
            None
        }
        _ => Some(request),
    })
}

impl Session {
    /// Runs a handler of this session, then applies what it asked.
    pub(super) fn run_handler(&mut self, handler: impl FnOnce(), ctx: &mut Context<Self>) {
        let sid = self.meta.sid.clone();
        let requests = collect(&sid, handler);
        self.apply(requests, ctx);
    }

    /// Applies what a handler or a task asked, in order.
    fn apply(&mut self, requests: Vec<Request>, ctx: &mut Context<Self>) {
        for request in requests {
            match request {
                Request::Emit(packet) => self.emit_on_socket(packet, ctx),
                Request::Join(join) => <Self as Handler<SocketJoin>>::handle(self, join, ctx),
                Request::Leave(leave) => <Self as Handler<SocketLeave>>::handle(self, leave, ctx),
                Request::SetFields(set) => {
                    <Self as Handler<SocketSetFields>>::handle(self, set, ctx)
                }
                Request::Task(task) => {
                    ctx.spawn(SessionTask { task });
                }
            }
        }
    }
}

/// A task running inside the session: each time the session polls it, what it asks of the
/// session is collected and applied.
struct SessionTask {
    task: LocalBoxFuture<'static, ()>,
}

impl ActorFuture<Session> for SessionTask {
    type Output = ();

    fn poll(
        mut self: Pin<&mut Self>,
        act: &mut Session,
        ctx: &mut Context<Session>,
        task: &mut std::task::Context<'_>,
    ) -> Poll<()> {
        let sid = act.meta.sid.clone();
        let mut polled = Poll::Pending;
        let requests = collect(&sid, || polled = self.task.as_mut().poll(task));
        act.apply(requests, ctx);
        polled
    }
}

/// Boxes a task for [`Request::Task`].
pub(crate) fn task(f: impl Future<Output = ()> + 'static) -> Request {
    Request::Task(Box::pin(f))
}
