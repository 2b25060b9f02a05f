//! The `/admin` namespace: what `@socket.io/admin-ui` 0.5 and siohub's dashboard connect
//! to. Served whatever `[[namespaces]]` says (added last, so a configured `/admin` cannot
//! shadow it). The login is in [`login`]; on connect a watcher gets `config
//! {supportedFeatures}` and is handed to the Admin actor (which sends `server_stats`,
//! `all_sockets` and, throttled, the per-socket events); the UI's commands are in
//! [`commands`], the dashboard's `siohub:*` requests in [`requests`].

pub mod cluster;
pub mod commands;
pub mod login;
pub mod requests;
pub mod sessions;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::json;
use siohub_actors::{
    AckSender, ConnectRefusal, Namespace, Payload, RefusalReason, Socket, ADMIN_NSP,
};

use crate::builtins::answer::answer;
use crate::config::Settings;
use crate::error_code::{ErrorCode, EventError};
use commands::Command;
use login::AdminLogin;
use requests::Request;

/// The most sockets connected to `/admin` at once; one more gets a CONNECT_ERROR.
pub const MAX_WATCHERS: usize = 32;
/// The most commands and requests of `/admin` being handled at once (all its sockets
/// together); one more is answered `RATE_LIMIT_EXCEEDED` at once.
pub const MAX_ADMIN_TASKS: usize = 64;
/// The most commands and requests of one `/admin` socket being handled at once; one more
/// is answered `RATE_LIMIT_EXCEEDED` at once (so one socket flooding requests cannot take
/// every slot of [`MAX_ADMIN_TASKS`] from the others).
pub const MAX_ADMIN_TASKS_PER_SOCKET: usize = 8;

/// Commands and requests being handled now, in all and by socket; a slot is given back
/// when its guard drops.
#[derive(Clone, Default)]
struct Tasks(Arc<Mutex<TaskCounts>>);

#[derive(Default)]
struct TaskCounts {
    total: usize,
    /// Only sockets with a task in flight (so at most [`MAX_ADMIN_TASKS`] entries).
    by_socket: HashMap<String, usize>,
}

/// One slot of [`Tasks`].
struct TaskSlot {
    tasks: Arc<Mutex<TaskCounts>>,
    socket_id: String,
}

impl Tasks {
    /// A slot for a task of `socket_id`, or the refusal to answer when its socket's or
    /// all of `/admin`'s slots are taken.
    fn take(&self, socket_id: &str) -> Result<TaskSlot, EventError> {
        let mut counts = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mine = counts.by_socket.get(socket_id).copied().unwrap_or(0);
        let busy = if mine >= MAX_ADMIN_TASKS_PER_SOCKET {
            format!("{MAX_ADMIN_TASKS_PER_SOCKET} commands and requests of this socket are being handled: wait for their answers")
        } else if counts.total >= MAX_ADMIN_TASKS {
            format!("{MAX_ADMIN_TASKS} admin commands and requests are being handled: try again in a moment")
        } else {
            counts.total += 1;
            counts.by_socket.insert(socket_id.to_owned(), mine + 1);
            return Ok(TaskSlot {
                tasks: self.0.clone(),
                socket_id: socket_id.to_owned(),
            });
        };
        Err(EventError::new(ErrorCode::RateLimitExceeded, busy))
    }
}

impl Drop for TaskSlot {
    fn drop(&mut self) {
        let mut counts = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        counts.total = counts.total.saturating_sub(1);
        if let Some(mine) = counts.by_socket.get_mut(&self.socket_id) {
            *mine -= 1;
            if *mine == 0 {
                counts.by_socket.remove(&self.socket_id);
            }
        }
    }
}

/// The features offered to the official UI (the command ones not when read-only).
pub fn supported_features(read_only: bool) -> Vec<&'static str> {
    let mut features = Vec::new();
    if !read_only {
        features.extend([
            "EMIT",
            "JOIN",
            "LEAVE",
            "DISCONNECT",
            "MJOIN",
            "MLEAVE",
            "MDISCONNECT",
        ]);
    }
    features.extend(["AGGREGATED_EVENTS", "ALL_EVENTS"]);
    features
}

/// What a watcher's event asks for.
#[derive(Debug, Clone, Copy)]
enum Work {
    Command(Command),
    Request(Request),
}

/// Handles one event of a watcher: a command, a `siohub:*` request, or an unknown event.
fn on_event(
    read_only: bool,
    tasks: &Tasks,
    socket: &Socket,
    event: &str,
    payload: Payload,
    ack: Option<AckSender>,
) {
    let work = match event {
        "emit" => Work::Command(Command::Emit),
        "join" => Work::Command(Command::Join),
        "leave" => Work::Command(Command::Leave),
        "_disconnect" => Work::Command(Command::Disconnect),
        other => match Request::of(other) {
            Some(request) => Work::Request(request),
            None => {
                let unknown = format!("unknown admin event {}", siohub_actors::ClientText(other));
                return answer(socket, event, ack, Err(EventError::invalid(unknown)));
            }
        },
    };
    if read_only && matches!(work, Work::Command(_)) {
        let refusal = EventError::new(
            ErrorCode::PermissionDenied,
            "the admin namespace is read-only ([admin] read_only = true)",
        );
        return answer(socket, event, ack, Err(refusal));
    }
    let slot = match tasks.take(socket.id()) {
        Ok(slot) => slot,
        Err(busy) => {
            socket
                .hub()
                .counters()
                .refused(RefusalReason::AdminTasksFull);
            return answer(socket, event, ack, Err(busy));
        }
    };
    let (task_socket, event) = (socket.clone(), event.to_owned());
    socket.run_in_session(async move {
        let result = match work {
            Work::Command(command) => commands::run(task_socket.hub(), command, payload.args).await,
            Work::Request(request) => requests::run(&task_socket, request, payload.args).await,
        };
        drop(slot);
        answer(&task_socket, &event, ack, result);
    });
}

/// The refusal of one socket more than [`MAX_WATCHERS`].
fn watchers_full() -> String {
    format!("{MAX_WATCHERS} admin sockets are connected already")
}

/// Sets up the `/admin` namespace as `settings` configure it.
pub fn namespace(settings: &Settings) -> impl FnOnce(Namespace) -> Namespace {
    let login = AdminLogin::new(settings);
    let read_only = settings.admin.read_only;
    let connected = Arc::new(AtomicUsize::new(0));
    let tasks = Tasks::default();
    move |ns| {
        let (on_connect, on_disconnect) = (connected.clone(), connected.clone());
        ns.middleware(move |req| {
            let (login, connected) = (login.clone(), connected.clone());
            async move {
                login.check(&req).await?;
                if connected.load(Ordering::Acquire) >= MAX_WATCHERS {
                    req.counters.refused(RefusalReason::AdminWatchersFull);
                    return Err(ConnectRefusal::new(watchers_full())
                        .with_data(json!({"code": "RATE_LIMIT_EXCEEDED", "max": MAX_WATCHERS})));
                }
                Ok(())
            }
        })
        .on_connect(move |socket, _auth| {
            // The middleware's check only reads the count: sockets passing it at the same
            // time are counted here, where the count is raised, and those over the bound
            // are told why and disconnected at once (never watching).
            if on_connect.fetch_add(1, Ordering::AcqRel) >= MAX_WATCHERS {
                socket.hub().counters().refused(RefusalReason::AdminWatchersFull);
                socket.emit(
                    "siohub:refused",
                    json!({"code": "RATE_LIMIT_EXCEEDED", "message": watchers_full(), "max": MAX_WATCHERS}),
                );
                socket.disconnect();
                return;
            }
            socket.emit(
                "config",
                json!({ "supportedFeatures": supported_features(read_only) }),
            );
            socket.hub().admin().watch(socket.clone(), read_only);
        })
        .on_disconnect(move |socket, _reason| {
            on_disconnect.fetch_sub(1, Ordering::AcqRel);
            socket.hub().admin().unwatch(socket.id());
        })
        .on_any(move |socket, event, payload, ack| {
            on_event(read_only, &tasks, socket, event, payload, ack)
        })
    }
}

/// Whether `/admin` is reachable at all with `settings` (for the start-up log).
pub fn admin_access_line(settings: &Settings) -> String {
    let login = AdminLogin::new(settings);
    if login.off() {
        format!("{ADMIN_NSP}: {}", login::ADMIN_OFF)
    } else if settings.api.insecure {
        format!("{ADMIN_NSP}: open without credentials ([api] insecure = true)")
    } else {
        format!(
            "{ADMIN_NSP}: for operators (the [admin] login{})",
            if settings.api.keys.is_empty() {
                ""
            } else {
                " or an API key"
            }
        )
    }
}
