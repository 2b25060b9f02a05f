//! The store's own thread: a small tokio runtime that owns the PostgreSQL connection. Its
//! writer drains the queue in order, pipelining up to [`BATCH`] writes at a time, and on a
//! connection failure drops the connection, keeps the writes, and reconnects with a backoff
//! (100 ms doubling to 5 s); while idle it probes the connection every [`PROBE`], so that
//! `/health` notices a database that went away with no traffic. Reads are served as they
//! come, each on its own task over the same (pipelined) connection, never while it is down.
//! The thread ends once the last [`super::Subscriptions`] handle is dropped.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::channel::oneshot;
use tokio::sync::mpsc;

use super::postgres::{Link, StoreError};
use super::queue::{WriteQueue, Written};
use super::status::{StoreStatus, WriteOutcome};
use super::{KeptRoom, ListedRoom};

/// Writes sent to PostgreSQL at once (pipelined on one connection).
pub(super) const BATCH: usize = 64;
/// How often an idle connection is checked.
pub(super) const PROBE: Duration = Duration::from_secs(2);
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// A read asked of the store.
pub(super) enum Read {
    /// The rooms a user keeps in a namespace.
    Rooms {
        user: String,
        nsp: String,
        reply: oneshot::Sender<Result<Vec<KeptRoom>, StoreError>>,
    },
    /// The rooms a user keeps, in one namespace or all.
    List {
        user: String,
        nsp: Option<String>,
        reply: oneshot::Sender<Result<Vec<ListedRoom>, StoreError>>,
    },
}

/// What the hub's threads and the store's thread share.
pub(super) struct Shared {
    pub(super) queue: WriteQueue,
    pub(super) status: Arc<StoreStatus>,
    pub(super) closed: AtomicBool,
}

impl Shared {
    /// Stops the thread (the last handle went).
    pub(super) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.queue.wake.notify_one();
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}

/// Starts the thread.
pub(super) fn spawn(
    shared: Arc<Shared>,
    link: Link,
    reads: mpsc::UnboundedReceiver<Read>,
) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("siohub-subscriptions".into())
        .spawn(move || {
            runtime.block_on(async move {
                let link = Arc::new(link);
                let reader = tokio::spawn(serve_reads(link.clone(), shared.clone(), reads));
                write_loop(&link, &shared).await;
                reader.abort();
            })
        })?;
    Ok(())
}

async fn write_loop(link: &Link, shared: &Shared) {
    let closed = Arc::new(tokio::sync::Notify::new());
    let mut backoff = BACKOFF_MIN;
    while !shared.is_closed() {
        let conn = match link.current() {
            Some(conn) => conn,
            None => match link.connect(closed.clone()).await {
                Ok(conn) => {
                    backoff = BACKOFF_MIN;
                    shared.status.set_up();
                    conn
                }
                Err(e) => {
                    siohub_actors::limited!(
                        warn,
                        "subscriptions: cannot reach PostgreSQL: {e}; retrying in {} ms",
                        backoff.as_millis()
                    );
                    shared.status.set_down(e.to_string());
                    shared.queue.release_waiters();
                    sleep_unless_woken(shared, backoff).await;
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                    continue;
                }
            },
        };
        if !drain(link, shared, &conn).await {
            continue;
        }
        shared.status.set_caught_up();
        // Idle: wait for a write, the connection's end, or the next probe.
        tokio::select! {
            _ = shared.queue.wake.notified() => {}
            _ = closed.notified() => {}
            _ = tokio::time::sleep(PROBE) => {
                if let Err(e) = link.probe(&conn).await {
                    lost(link, shared, e);
                }
            }
        }
    }
}

/// Writes the queue out; false when the connection failed (the rest stays queued).
async fn drain(link: &Link, shared: &Shared, conn: &super::postgres::Connected) -> bool {
    loop {
        let batch = shared.queue.front(BATCH);
        if batch.is_empty() {
            return true;
        }
        match link.write(conn, &batch).await {
            Ok(answers) => complete(shared, answers),
            Err((answers, e)) => {
                let left = batch.len() - answers.len();
                complete(shared, answers);
                shared.status.count_retried(left);
                lost(link, shared, e);
                return false;
            }
        }
    }
}

fn complete(shared: &Shared, answers: Vec<Written>) {
    for answer in &answers {
        match answer {
            Written::Done { outcome, .. } => shared.status.count_write(*outcome),
            Written::Failed(why) => {
                shared.status.count_write(WriteOutcome::Failed);
                siohub_actors::limited!(warn, "subscriptions: a write failed for good: {why}");
            }
            Written::Queued | Written::Dropped => {}
        }
    }
    shared.queue.complete(answers);
}

fn lost(link: &Link, shared: &Shared, e: StoreError) {
    link.drop_connection();
    shared.status.set_down(e.to_string());
    shared.queue.release_waiters();
}

async fn sleep_unless_woken(shared: &Shared, pause: Duration) {
    // A write pushed meanwhile does not cut the backoff short, the store's closing does.
    let deadline = tokio::time::Instant::now() + pause;
    while !shared.is_closed() && tokio::time::Instant::now() < deadline {
        tokio::select! {
            _ = shared.queue.wake.notified() => {}
            _ = tokio::time::sleep_until(deadline) => {}
        }
    }
    if !shared.queue.is_empty() {
        // Keep the wake-up for the writer.
        shared.queue.wake.notify_one();
    }
}

async fn serve_reads(
    link: Arc<Link>,
    shared: Arc<Shared>,
    mut reads: mpsc::UnboundedReceiver<Read>,
) {
    while let Some(read) = reads.recv().await {
        let (link, shared) = (link.clone(), shared.clone());
        tokio::spawn(async move {
            let up = shared.status.is_connected();
            match read {
                Read::Rooms { user, nsp, reply } => {
                    let rooms = match up {
                        true => link.rooms(&user, &nsp).await,
                        false => Err(unavailable(&shared)),
                    };
                    let _ = reply.send(rooms);
                }
                Read::List { user, nsp, reply } => {
                    let rooms = match up {
                        true => link.list(&user, nsp.as_deref()).await,
                        false => Err(unavailable(&shared)),
                    };
                    let _ = reply.send(rooms);
                }
            }
            shared.status.end_read();
        });
    }
}

fn unavailable(shared: &Shared) -> StoreError {
    StoreError::Unavailable(shared.status.down_reason().unwrap_or_default())
}
