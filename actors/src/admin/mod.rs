//! The Admin actor: what the hub shows its operators through the `/admin` namespace (the
//! official `@socket.io/admin-ui` and siohub's dashboard).
//!
//! It is fed by the other actors with typed messages ([`feed`]) only while someone
//! watches, samples the lock-free [`HubCounters`] once a second into a 300-second history
//! ([`history`]), keeps the most recent client events ([`recent_events`]), and pushes to
//! its watchers ([`watchers`]): per-socket events to official UIs (throttled per watcher),
//! `server_stats` every 2 s to every watcher and `siohub:stats` every second to dashboard
//! watchers. What it answers on request (connections, rooms) is read from the registry and
//! the membership and paged ([`listing`]). Supervised like the other singletons: a panic
//! in a handler restarts it with its watchers and history kept.

mod aggregate;
mod dates;
pub mod feed;
mod history;
pub mod listing;
mod recent_events;
mod serialize;
mod watchers;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use actix::prelude::*;
use serde_json::{json, Value};

use crate::connection_manager::SessionRegistry;
use crate::room_supervisor::MembershipView;
use crate::socket::Socket;
use crate::stats::{ActorStats, DropReason, HubCounters};
use crate::supervision::guarded;
use aggregate::Aggregated;
use dates::{iso, unix_ms};
use feed::{
    EventSeen, FeedCounters, RawConnection, RoomChanged, SocketConnected, SocketDisconnected,
    SocketUpdated,
};
use history::{History, Totals};
use recent_events::RecentEvents;
use serialize::{socket_json, SocketView};
use watchers::Watchers;

pub use feed::{AdminDrops, AdminFeed};
pub use history::HISTORY_LEN;
pub use listing::{PageQuery, MAX_ALL_SOCKETS};
pub use recent_events::RECENT_LEN;
pub use watchers::MAX_PUSHES_PER_S;

/// The namespace the Admin serves.
pub const ADMIN_NSP: &str = "/admin";

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

/// What the Admin reads.
pub struct AdminLinks {
    /// The hub's counters.
    pub counters: Arc<HubCounters>,
    /// The live sessions.
    pub registry: SessionRegistry,
    /// Room membership.
    pub membership: MembershipView,
    /// Every singleton's stats, its own last.
    pub actor_stats: Vec<Arc<ActorStats>>,
    /// Its own stats.
    pub stats: Arc<ActorStats>,
    /// The flag feeders read: on while someone watches.
    pub watched: Arc<AtomicBool>,
    /// What the feed dropped.
    pub(crate) feed: Arc<FeedCounters>,
}

/// See the module documentation.
pub struct Admin {
    links: AdminLinks,
    watchers: Watchers,
    history: History,
    aggregated: Aggregated,
    recent: RecentEvents,
    node_id: String,
    hostname: String,
    started: Instant,
    read_only: bool,
    ticks: u64,
}

/// The host's name, as `os.hostname()` gives it.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| std::env::var("HOSTNAME").unwrap_or_default())
}

impl Admin {
    /// An Admin reading `links`.
    pub(crate) fn new(links: AdminLinks) -> Self {
        let counters = links.feed.clone();
        Admin {
            links,
            watchers: Watchers::new(counters.clone()),
            history: History::default(),
            aggregated: Aggregated::new(counters.clone()),
            recent: RecentEvents::default(),
            node_id: crate::random_id(),
            hostname: hostname(),
            started: Instant::now(),
            read_only: false,
            ticks: 0,
        }
    }

    fn set_watched(&self) {
        let on = self.watchers.len() > 0;
        self.links.watched.store(on, Ordering::Relaxed);
    }

    /// Once a second: samples the counters, refills the budgets, pushes the aggregates.
    fn tick(&mut self) {
        let now = SystemTime::now();
        let totals = Totals::read(&self.links.counters);
        let connections = self.links.registry.len() as u64;
        if let Some(sample) = self.history.record(unix_ms(now), totals, connections) {
            if self.watchers.len() > 0 {
                self.aggregated.add_sample(&sample);
            }
        }
        self.links
            .feed
            .events_this_second
            .store(0, Ordering::Relaxed);
        self.watchers.refill();
        self.ticks += 1;
        if self.watchers.len() == 0 {
            return;
        }
        if self.watchers.any_dashboard() {
            let stats = self.stats_json(false);
            self.watchers.push_aggregate("siohub:stats", &stats, true);
        }
        if self.ticks.is_multiple_of(2) {
            let stats = self.server_stats();
            self.watchers.push_aggregate("server_stats", &stats, false);
        }
    }

    /// (websocket, polling) sessions now.
    fn transports(&self) -> (u64, u64) {
        let mut counts = (0, 0);
        for (_, meta) in self.links.registry.entries() {
            match meta.transport() {
                "websocket" => counts.0 += 1,
                _ => counts.1 += 1,
            }
        }
        counts
    }

    /// `server_stats` as the official UI reads it.
    fn server_stats(&mut self) -> Value {
        let (websocket, polling) = self.transports();
        let namespaces: Vec<Value> = self
            .links
            .membership
            .read()
            .namespace_counts()
            .into_iter()
            .map(|(name, sockets, _)| json!({"name": name, "socketsCount": sockets}))
            .collect();
        json!({
            "serverId": self.node_id,
            "hostname": self.hostname,
            "pid": std::process::id(),
            "uptime": self.started.elapsed().as_secs_f64(),
            "clientsCount": websocket + polling,
            "pollingClientsCount": polling,
            "aggregatedEvents": self.aggregated.take(),
            "namespaces": namespaces,
        })
    }

    /// `siohub:stats`: the newest history point (`full`: every point).
    fn stats_json(&self, full: bool) -> Value {
        let counters = &self.links.counters;
        let (websocket, polling) = self.transports();
        let (namespaces, rooms) = {
            let members = self.links.membership.read();
            let counts = members.namespace_counts();
            (counts.len(), counts.iter().map(|c| c.2).sum::<usize>())
        };
        let totals = Totals::read(counters);
        let latest = self.history.latest();
        let history: Vec<Value> = if full {
            self.history.all().map(|s| json!(s)).collect()
        } else {
            self.history.last_n(1).map(|s| json!(s)).collect()
        };
        let actors: Vec<Value> = self
            .links
            .actor_stats
            .iter()
            .map(|a| {
                let s = a.snapshot();
                json!({"name": s.name, "restarts": s.restarts, "mailbox_depth": s.mailbox_depth, "handled": s.messages_handled})
            })
            .collect();
        let dropped: u64 = DropReason::ALL.iter().map(|r| counters.drops(*r)).sum();
        let admin_dropped = AdminFeed::drops(&self.links.feed).total();
        let total = websocket + polling;
        json!({
            "node": {
                "id": self.node_id,
                "hostname": self.hostname,
                "pid": std::process::id(),
                "uptime_s": self.started.elapsed().as_secs(),
                "version": env!("CARGO_PKG_VERSION"),
            },
            "read_only": self.read_only,
            "connections": {"websocket": websocket, "polling": polling, "total": total},
            "namespaces": namespaces,
            "rooms": rooms,
            "rates": {
                "events_in": latest.events_in,
                "events_out": latest.events_out,
                "bytes_in": latest.bytes_in,
                "bytes_out": latest.bytes_out,
            },
            "totals": {
                "events_in": totals.events_in,
                "events_out": totals.events_out,
                "bytes_in": totals.bytes_in,
                "bytes_out": totals.bytes_out,
                "dropped": dropped,
                "slow_consumer_disconnects": counters.slow_consumer_disconnects(),
            },
            "history": history,
            "actors": actors,
            "nodes": [{
                "id": self.node_id,
                "hostname": self.hostname,
                "pid": std::process::id(),
                "connections": total,
                "this": true,
            }],
            "admin": {"watchers": self.watchers.len(), "dropped": admin_dropped},
        })
    }

    /// A new watcher gets `server_stats` and every socket at once.
    fn welcome(&mut self, socket_id: &str) {
        let stats = self.server_stats();
        let (sockets, cut) = listing::all_sockets(&self.links.registry, &self.links.membership);
        if cut {
            log::info!(
                "all_sockets: more than {MAX_ALL_SOCKETS} sockets; the admin UI gets the first {MAX_ALL_SOCKETS} (use the dashboard's paged list)"
            );
        }
        if let Some(socket) = self.watchers.socket(socket_id) {
            socket.emit("server_stats", stats);
            socket.emit("all_sockets", json!([sockets]));
        }
    }
}

impl Actor for Admin {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.history.baseline(Totals::read(&self.links.counters));
        ctx.run_interval(Duration::from_secs(1), |act, ctx| {
            let stats = act.links.stats.clone();
            // The tick is not a message: counted as handled without having been queued.
            stats.enqueued();
            guarded(&stats, ctx, (), |_| act.tick());
        });
    }
}

impl Supervised for Admin {
    fn restarting(&mut self, _ctx: &mut Context<Self>) {
        self.links.stats.restarted();
        log::warn!("Admin restarted; {} watchers kept", self.watchers.len());
    }
}

/// Runs a handler body under [`guarded`] with the Admin's stats.
macro_rules! handle_guarded {
    ($act:ident, $ctx:ident, $fallback:expr, $body:expr) => {{
        let stats = $act.links.stats.clone();
        guarded(&stats, $ctx, $fallback, |_| $body)
    }};
}

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

impl Handler<SocketConnected> for Admin {
    type Result = ();

    fn handle(&mut self, msg: SocketConnected, ctx: &mut Context<Self>) {
        handle_guarded!(self, ctx, (), {
            self.aggregated.add(unix_ms(msg.at), "connection", None, 1);
            if !self.watchers.any_official() {
                return;
            }
            let socket = socket_json(&SocketView {
                id: &msg.socket_id,
                sid: &msg.sid,
                transport: msg.transport,
                nsp: &msg.nsp,
                data: Value::Object(msg.data),
                handshake: Some(&msg.handshake),
                address: "",
                rooms: msg.rooms,
            });
            self.watchers
                .push_socket_event("socket_connected", &json!([socket, iso(msg.at)]));
        })
    }
}

impl Handler<SocketDisconnected> for Admin {
    type Result = ();

    fn handle(&mut self, msg: SocketDisconnected, ctx: &mut Context<Self>) {
        handle_guarded!(self, ctx, (), {
            self.aggregated
                .add(unix_ms(msg.at), "disconnection", Some(msg.reason), 1);
            let args = json!([msg.nsp, msg.socket_id, msg.reason, iso(msg.at)]);
            self.watchers
                .push_socket_event("socket_disconnected", &args);
        })
    }
}

impl Handler<SocketUpdated> for Admin {
    type Result = ();

    fn handle(&mut self, msg: SocketUpdated, ctx: &mut Context<Self>) {
        handle_guarded!(self, ctx, (), {
            let partial = json!({"id": msg.socket_id, "nsp": msg.nsp, "transport": msg.transport});
            self.watchers.push_socket_event("socket_updated", &partial);
        })
    }
}

impl Handler<RoomChanged> for Admin {
    type Result = ();

    fn handle(&mut self, msg: RoomChanged, ctx: &mut Context<Self>) {
        handle_guarded!(self, ctx, (), {
            let event = if msg.joined {
                "room_joined"
            } else {
                "room_left"
            };
            let args = json!([msg.nsp, msg.room, msg.socket_id, iso(msg.at)]);
            self.watchers.push_socket_event(event, &args);
        })
    }
}

impl Handler<EventSeen> for Admin {
    type Result = ();

    fn handle(&mut self, msg: EventSeen, ctx: &mut Context<Self>) {
        handle_guarded!(self, ctx, (), {
            self.recent.push(&msg);
            let Some(socket_id) = &msg.socket_id else {
                return;
            };
            let event = if msg.incoming {
                "event_received"
            } else {
                "event_sent"
            };
            let mut args = vec![Value::String(msg.event.clone())];
            args.extend(msg.args.iter().cloned());
            let payload = json!([msg.nsp, socket_id, args, iso(msg.at)]);
            self.watchers.push_socket_event(event, &payload);
        })
    }
}

impl Handler<RawConnection> for Admin {
    type Result = ();

    fn handle(&mut self, msg: RawConnection, ctx: &mut Context<Self>) {
        handle_guarded!(self, ctx, (), {
            let at = unix_ms(msg.at);
            match msg.closed {
                None => self.aggregated.add(at, "rawConnection", None, 1),
                Some(reason) => self.aggregated.add(at, "rawDisconnection", Some(reason), 1),
            }
        })
    }
}

#[cfg(feature = "fault-injection")]
impl Handler<crate::supervision::Crash> for Admin {
    type Result = ();

    fn handle(&mut self, _msg: crate::supervision::Crash, ctx: &mut Context<Self>) {
        handle_guarded!(self, ctx, (), panic!("fault injected into Admin"))
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
