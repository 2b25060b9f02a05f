//! What the `/admin` namespace asks of the Admin: a socket starts or stops watching,
//! becomes a dashboard watcher, or asks for the overview, a page of connections or rooms,
//! or the recent events. Each is a message; [`AdminFeed`] sends them (counted in the
//! Admin's mailbox depth) and the answers are JSON, as the acks carry them.

use actix::prelude::*;
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

/// A watcher sent `siohub:watch`: from now on it gets aggregates only.
#[derive(Message)]
#[rtype(result = "bool")]
pub struct WatchAggregates {
    /// Its socket id.
    pub socket_id: String,
}

/// The overview (`siohub:overview`), with the whole history.
#[derive(Message)]
#[rtype(result = "Value")]
pub struct Overview;

/// A page of connections (`siohub:connections`).
#[derive(Message)]
#[rtype(result = "Value")]
pub struct ConnectionsQuery(pub PageQuery);

/// A page of rooms (`siohub:rooms`).
#[derive(Message)]
#[rtype(result = "Value")]
pub struct RoomsQuery(pub PageQuery);

/// The recent events (`siohub:events`).
#[derive(Message)]
#[rtype(result = "Value")]
pub struct RecentEventsQuery;

impl Handler<Watch> for Admin {
    type Result = ();

    fn handle(&mut self, msg: Watch, ctx: &mut Context<Self>) {
        handle_guarded!(self, ctx, (), {
            self.read_only = msg.read_only;
            let id = msg.socket.id().to_owned();
            self.watchers.add(msg.socket);
            self.set_watched();
            self.welcome(&id);
        })
    }
}

impl Handler<Unwatch> for Admin {
    type Result = ();

    fn handle(&mut self, msg: Unwatch, ctx: &mut Context<Self>) {
        handle_guarded!(self, ctx, (), {
            self.watchers.remove(&msg.socket_id);
            self.set_watched();
        })
    }
}

impl Handler<WatchAggregates> for Admin {
    type Result = bool;

    fn handle(&mut self, msg: WatchAggregates, ctx: &mut Context<Self>) -> bool {
        handle_guarded!(
            self,
            ctx,
            false,
            self.watchers.make_dashboard(&msg.socket_id)
        )
    }
}

impl Handler<Overview> for Admin {
    type Result = MessageResult<Overview>;

    fn handle(&mut self, _msg: Overview, ctx: &mut Context<Self>) -> Self::Result {
        MessageResult(handle_guarded!(
            self,
            ctx,
            Value::Null,
            self.stats_json(true)
        ))
    }
}

impl Handler<ConnectionsQuery> for Admin {
    type Result = MessageResult<ConnectionsQuery>;

    fn handle(&mut self, msg: ConnectionsQuery, ctx: &mut Context<Self>) -> Self::Result {
        MessageResult(handle_guarded!(self, ctx, Value::Null, {
            listing::connections_page(&self.links.registry, &self.links.membership, &msg.0)
        }))
    }
}

impl Handler<RoomsQuery> for Admin {
    type Result = MessageResult<RoomsQuery>;

    fn handle(&mut self, msg: RoomsQuery, ctx: &mut Context<Self>) -> Self::Result {
        MessageResult(handle_guarded!(self, ctx, Value::Null, {
            listing::rooms_page(&self.links.membership, &msg.0)
        }))
    }
}

impl Handler<RecentEventsQuery> for Admin {
    type Result = MessageResult<RecentEventsQuery>;

    fn handle(&mut self, _msg: RecentEventsQuery, ctx: &mut Context<Self>) -> Self::Result {
        MessageResult(handle_guarded!(self, ctx, Value::Null, {
            json!({"ok": true, "items": self.recent.to_json()})
        }))
    }
}

/// What the `/admin` namespace asks of the Admin.
impl AdminFeed {
    /// Sends a request, counted in the Admin's mailbox depth, and waits for the answer.
    fn ask<M>(
        &self,
        msg: M,
    ) -> impl std::future::Future<Output = Result<M::Result, crate::Unavailable>> + 'static
    where
        M: Message + Send + 'static,
        M::Result: Send,
        Admin: Handler<M>,
    {
        self.stats().enqueued();
        let sent = self.addr().send(msg);
        async move { sent.await.map_err(|_| crate::Unavailable("Admin")) }
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
