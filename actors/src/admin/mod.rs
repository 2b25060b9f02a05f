//! The Admin actor: what the hub shows its operators through the `/admin` namespace (the
//! official `@socket.io/admin-ui` and siohub's dashboard).
//!
//! It is fed by the other actors with typed messages ([`feed`]) only while someone
//! watches, samples the lock-free [`HubCounters`] once a second into a 300-second history
//! (`history`), keeps the most recent client events (`recent_events`), and pushes to
//! its watchers (`watchers`): per-socket events to official UIs (throttled per watcher),
//! `server_stats` every 2 s to every watcher and `siohub:stats` every second to dashboard
//! watchers (built in `overview`). What the `/admin` namespace asks of it ([`requests`]:
//! watch, unwatch, the overview, connections, rooms, recent events) is answered in JSON;
//! connections and rooms are read from the registry and the membership and paged
//! ([`listing`]). Supervised like the other singletons, on an arbiter of its own: a panic
//! in a handler restarts it with its watchers and history kept.
//!
//! In a cluster ([`cluster`]) it also emits its `server_stats` to the other nodes' watchers,
//! keeps the other nodes' (`cluster_nodes`, for the dashboard's node list), lists the
//! other nodes' sockets to a new watcher and hands the UI's commands to the other nodes.

/// Runs a handler body under [`guarded`] with the Admin's stats.
macro_rules! handle_guarded {
    ($act:ident, $ctx:ident, $fallback:expr, $body:expr) => {{
        let stats = $act.links.stats.clone();
        guarded(&stats, $ctx, $fallback, |_| $body)
    }};
}

mod aggregate;
pub mod cluster;
mod cluster_nodes;
mod dates;
pub mod feed;
mod history;
pub mod listing;
mod overview;
mod recent_events;
pub mod requests;
mod serialize;
mod watchers;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use actix::prelude::*;
use serde_json::{json, Value};

use crate::connection_manager::SessionRegistry;
use crate::room_supervisor::MembershipView;
use crate::stats::{ActorStats, HubCounters};
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

pub use cluster::{
    ClusterAct, ClusterCommand, ClusterFetch, ClusterPublish, JoinCluster, RemoteAction,
    RemoteServerStats,
};
pub use cluster_nodes::{FORGET_AFTER, MAX_NODES};
pub use feed::{AdminDrops, AdminFeed, MAX_NAME_BYTES};
pub use history::HISTORY_LEN;
pub use listing::{PageQuery, MAX_ALL_SOCKETS};
pub use recent_events::RECENT_LEN;
pub use requests::{
    ConnectionsQuery, Overview, RecentEventsQuery, RoomsQuery, Unwatch, Watch, WatchAggregates,
};
pub use serialize::remote_socket_json;
pub use watchers::{MAX_PUSHES_PER_S, MAX_PUSH_BYTES_PER_S};

/// The namespace the Admin serves.
pub const ADMIN_NSP: &str = "/admin";

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
    /// What the feed dropped, and the watcher count feeders read (`AdminFeed::watched`).
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
    /// The namespaces `server_stats` has listed, in the order listed: past
    /// [`overview::MAX_LISTED_NAMESPACES`], the empty ones are forgotten, oldest first.
    listed_namespaces: Vec<String>,
    /// The cluster this node is part of (`None` with the memory adapter).
    cluster: Option<JoinCluster>,
    /// The other nodes, from their `server_stats`.
    nodes: cluster_nodes::ClusterNodes,
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
            listed_namespaces: Vec::new(),
            cluster: None,
            nodes: cluster_nodes::ClusterNodes::default(),
        }
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
        self.nodes.expire(Instant::now());
        self.publish_node_count();
        if self.watchers.any_dashboard() {
            let stats = self.stats_json(false);
            self.watchers.push_aggregate("siohub:stats", &stats, true);
        }
        // In a cluster every node emits its `server_stats` whether or not it is watched
        // itself: the watchers of the other nodes list it (as Node's admin-ui does).
        let wanted = self.watchers.len() > 0 || self.cluster.is_some();
        if self.ticks.is_multiple_of(2) && wanted {
            let aggregated = self.aggregated.take();
            let stats = self.server_stats(aggregated);
            self.watchers.push_aggregate("server_stats", &stats, false);
            if let Some(cluster) = &self.cluster {
                (cluster.publish)("server_stats", vec![stats]);
            }
        }
    }

    /// A new watcher gets `server_stats` and every socket at once.
    fn welcome(&mut self, socket_id: &str) {
        let stats = self.server_stats(json!([]));
        let (sockets, cut) = listing::all_sockets(&self.links.registry, &self.links.membership);
        if cut {
            crate::limited!(
                info,
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
