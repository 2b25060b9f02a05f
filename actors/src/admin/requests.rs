//! What the `/admin` namespace asks of the Admin: a socket starts or stops watching,
//! becomes a dashboard watcher, or asks for the overview, a page of connections or rooms,
//! or the recent events. Each is a message; [`AdminFeed`] sends them (counted in the
//! Admin's mailbox depth) and the answers are JSON, as the acks carry them.

use actix::prelude::*;
use futures::channel::oneshot;
use serde_json::{json, Value};

use super::{listing, Admin, AdminFeed, PageQuery};
use crate::socket::Socket;
use crate::supervision::guarded;

/// A socket of `/admin` starts watching (as an official UI: per-socket events).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Watch {
    /// The watcher's socket.
    pub socket: Socket,
    /// Whether `[admin] read_only` is on (shown in the overview).
    pub read_only: bool,
}

/// A watcher's socket left.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Unwatch {
    /// Its socket id.
    pub socket_id: String,
}

impl Handler<Watch> for Admin {
    type Result = ();

    fn handle(&mut self, msg: Watch, ctx: &mut Context<Self>) {
        let stats = self.links.stats.clone();
        guarded(&stats, ctx, (), |ctx| {
            self.read_only = msg.read_only;
            let id = msg.socket.id().to_owned();
            self.watchers.add(msg.socket);
            self.welcome(&id);
            self.fetch_cluster_sockets(&id, ctx);
        })
    }
}

impl Handler<Unwatch> for Admin {
    type Result = ();

    fn handle(&mut self, msg: Unwatch, ctx: &mut Context<Self>) {
        handle_guarded!(self, ctx, (), {
            self.watchers.remove(&msg.socket_id);
        })
    }
}

/// A watcher sent `siohub:watch`: from now on it gets aggregates only.
pub struct WatchAggregates {
    /// Its socket id.
    pub socket_id: String,
}

/// The overview (`siohub:overview`), with the whole history.
pub struct Overview;

/// A page of connections (`siohub:connections`).
pub struct ConnectionsQuery(pub PageQuery);

/// A page of rooms (`siohub:rooms`).
pub struct RoomsQuery(pub PageQuery);

/// The recent events (`siohub:events`).
pub struct RecentEventsQuery;

/// A request the Admin answers.
pub(crate) trait Ask: Send + 'static {
    /// What it answers.
    type Answer: Send + 'static;

    /// The answer, as the Admin has it now.
    fn answer(self, admin: &mut Admin) -> Self::Answer;
}

/// A request in the Admin's mailbox with where its answer goes. Queued with `do_send`, so
/// it is always handled (and so counted off the Admin's mailbox depth), even when the
/// asker left meanwhile: a request whose answer nobody waits for any more is counted off
/// without being worked out. (With `Addr::send`, actix skips the handler of a message
/// whose asker left, and the depth the feed's bound reads never came down again.)
pub(crate) struct Asked<R: Ask> {
    request: R,
    reply: oneshot::Sender<R::Answer>,
}

impl<R: Ask> Message for Asked<R> {
    type Result = ();
}

impl<R: Ask> Handler<Asked<R>> for Admin {
    type Result = ();

    fn handle(&mut self, msg: Asked<R>, ctx: &mut Context<Self>) {
        handle_guarded!(self, ctx, (), {
            if msg.reply.is_canceled() {
                return;
            }
            let answer = msg.request.answer(self);
            // The asker may have left since: nothing to do then.
            let _ = msg.reply.send(answer);
        })
    }
}

impl Ask for WatchAggregates {
    type Answer = bool;

    fn answer(self, admin: &mut Admin) -> bool {
        admin.watchers.make_dashboard(&self.socket_id)
    }
}

impl Ask for Overview {
    type Answer = Value;

    fn answer(self, admin: &mut Admin) -> Value {
        admin.stats_json(true)
    }
}

impl Ask for ConnectionsQuery {
    type Answer = Value;

    fn answer(self, admin: &mut Admin) -> Value {
        listing::connections_page(&admin.links.registry, &admin.links.membership, &self.0)
    }
}

impl Ask for RoomsQuery {
    type Answer = Value;

    fn answer(self, admin: &mut Admin) -> Value {
        listing::rooms_page(&admin.links.membership, &self.0)
    }
}

impl Ask for RecentEventsQuery {
    type Answer = Value;

    fn answer(self, admin: &mut Admin) -> Value {
        json!({"ok": true, "items": admin.recent.to_json()})
    }
}

/// What the `/admin` namespace asks of the Admin.
impl AdminFeed {
    /// Sends a request, counted in the Admin's mailbox depth, and waits for the answer
    /// (dropping the future leaves the request to be counted off unanswered).
    fn ask<R: Ask>(
        &self,
        request: R,
    ) -> impl std::future::Future<Output = Result<R::Answer, crate::Unavailable>> + 'static {
        let (reply, answer) = oneshot::channel();
        self.stats().enqueued();
        self.addr().do_send(Asked { request, reply });
        async move { answer.await.map_err(|_| crate::Unavailable("Admin")) }
    }

    /// `socket` starts watching; it gets `server_stats` and `all_sockets` at once.
    pub fn watch(&self, socket: Socket, read_only: bool) {
        self.stats().enqueued();
        self.addr().do_send(Watch { socket, read_only });
    }

    /// The watcher `socket_id` left.
    pub fn unwatch(&self, socket_id: &str) {
        self.stats().enqueued();
        self.addr().do_send(Unwatch {
            socket_id: socket_id.to_owned(),
        });
    }

    /// Watcher `socket_id` wants aggregates only; resolves to whether it is a watcher.
    pub fn watch_aggregates(
        &self,
        socket_id: &str,
    ) -> impl std::future::Future<Output = Result<bool, crate::Unavailable>> + 'static {
        self.ask(WatchAggregates {
            socket_id: socket_id.to_owned(),
        })
    }

    /// The overview with the whole history (`siohub:overview`).
    pub fn overview(
        &self,
    ) -> impl std::future::Future<Output = Result<Value, crate::Unavailable>> + 'static {
        self.ask(Overview)
    }

    /// One page of connections (`siohub:connections`).
    pub fn connections(
        &self,
        query: PageQuery,
    ) -> impl std::future::Future<Output = Result<Value, crate::Unavailable>> + 'static {
        self.ask(ConnectionsQuery(query))
    }

    /// One page of rooms (`siohub:rooms`).
    pub fn rooms(
        &self,
        query: PageQuery,
    ) -> impl std::future::Future<Output = Result<Value, crate::Unavailable>> + 'static {
        self.ask(RoomsQuery(query))
    }

    /// The most recent sampled events (`siohub:events`).
    pub fn recent_events(
        &self,
    ) -> impl std::future::Future<Output = Result<Value, crate::Unavailable>> + 'static {
        self.ask(RecentEventsQuery)
    }

    /// Crashes the Admin on purpose (tests only).
    #[cfg(feature = "fault-injection")]
    pub(crate) fn crash(&self) {
        self.stats().enqueued();
        self.addr().do_send(crate::supervision::Crash);
    }
}
