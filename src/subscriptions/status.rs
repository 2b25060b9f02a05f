//! What the store reports about itself: whether PostgreSQL is reachable (and why not), and
//! its counters, read by `/health` and `/metrics`.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

/// How one queued write ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    /// A room kept (inserted, or its options updated).
    Kept,
    /// A room removed (or it was not kept).
    Removed,
    /// Not kept: the user keeps `max_rooms_per_user` rooms already.
    OverLimit,
    /// Not queued: the queue held `queue_size` writes, or the user's share of it (twice
    /// `max_rooms_per_user`).
    Dropped,
    /// Refused by PostgreSQL for good (not a connection problem); not retried.
    Failed,
}

impl WriteOutcome {
    /// Every outcome, in the order `/metrics` lists them.
    pub const ALL: [WriteOutcome; 5] = [
        WriteOutcome::Kept,
        WriteOutcome::Removed,
        WriteOutcome::OverLimit,
        WriteOutcome::Dropped,
        WriteOutcome::Failed,
    ];

    /// The `outcome` label.
    pub fn as_str(self) -> &'static str {
        match self {
            WriteOutcome::Kept => "kept",
            WriteOutcome::Removed => "removed",
            WriteOutcome::OverLimit => "over_limit",
            WriteOutcome::Dropped => "dropped",
            WriteOutcome::Failed => "failed",
        }
    }
}

/// How the restore of a new socket's rooms ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestoreOutcome {
    /// Its kept rooms were read (and joined, those the policy still allows).
    Restored,
    /// PostgreSQL was unreachable when it connected: it waits for it to come back.
    Deferred,
    /// The user keeps no room in this namespace.
    Empty,
    /// PostgreSQL was too slow, or `max_pending_reads` reads (or deferred restores) were
    /// waiting already: the socket starts without its kept rooms.
    Unavailable,
}

impl RestoreOutcome {
    /// Every outcome, in the order `/metrics` lists them.
    pub const ALL: [RestoreOutcome; 4] = [
        RestoreOutcome::Restored,
        RestoreOutcome::Deferred,
        RestoreOutcome::Empty,
        RestoreOutcome::Unavailable,
    ];

    /// The `outcome` label.
    pub fn as_str(self) -> &'static str {
        match self {
            RestoreOutcome::Restored => "restored",
            RestoreOutcome::Deferred => "deferred",
            RestoreOutcome::Empty => "empty",
            RestoreOutcome::Unavailable => "unavailable",
        }
    }
}

/// Why a `join` was refused by the store's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The user keeps `max_rooms_per_user` rooms.
    OverLimit,
    /// The join's options are over `max_options_bytes`.
    OptionsTooLarge,
    /// Something PostgreSQL cannot store (a NUL character, an over-long user id).
    NotStorable,
}

impl Refusal {
    /// Every reason, in the order `/metrics` lists them.
    pub const ALL: [Refusal; 3] = [
        Refusal::OverLimit,
        Refusal::OptionsTooLarge,
        Refusal::NotStorable,
    ];

    /// The `reason` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::OverLimit => "over_limit",
            Refusal::OptionsTooLarge => "options_too_large",
            Refusal::NotStorable => "not_storable",
        }
    }
}

/// The store's state and counters, shared by the hub's threads and the store's own.
#[derive(Debug)]
pub struct StoreStatus {
    connected: AtomicBool,
    /// Connected with the queue written out since, for restores waiting for PostgreSQL.
    up: tokio::sync::watch::Sender<bool>,
    deferred: AtomicUsize,
    down_reason: Mutex<Option<String>>,
    writes: [AtomicU64; 5],
    retried: AtomicU64,
    coalesced: AtomicU64,
    restores: [AtomicU64; 4],
    rooms_restored: AtomicU64,
    refused: [AtomicU64; 3],
    reconnects: AtomicU64,
    pending_reads: AtomicUsize,
    queued: AtomicUsize,
}

impl StoreStatus {
    /// A store that has not connected yet.
    pub(super) fn new() -> Self {
        StoreStatus {
            connected: AtomicBool::new(false),
            up: tokio::sync::watch::Sender::new(false),
            deferred: AtomicUsize::new(0),
            down_reason: Mutex::new(Some("not connected yet".into())),
            writes: Default::default(),
            retried: AtomicU64::new(0),
            coalesced: AtomicU64::new(0),
            restores: Default::default(),
            rooms_restored: AtomicU64::new(0),
            refused: Default::default(),
            reconnects: AtomicU64::new(0),
            pending_reads: AtomicUsize::new(0),
            queued: AtomicUsize::new(0),
        }
    }

    /// Resolves once PostgreSQL is connected, if fewer than `max` others are waiting
    /// (`None` otherwise); the slot is held while the future lives.
    pub(super) fn wait_until_up(
        self: &std::sync::Arc<Self>,
        max: usize,
    ) -> Option<impl std::future::Future<Output = ()> + 'static> {
        self.deferred
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()?;
        let slot = DeferredSlot(self.clone());
        let mut up = self.up.subscribe();
        Some(async move {
            let _slot = slot;
            // An error: the store closed (the server is stopping); nothing to wait for.
            let _ = up.wait_for(|up| *up).await;
        })
    }

    /// Restores waiting for PostgreSQL to come back now.
    pub fn deferred(&self) -> usize {
        self.deferred.load(Ordering::Relaxed)
    }

    fn reason(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.down_reason.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether PostgreSQL is connected (and the schema migrated).
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }

    /// Why it is not (`None` when it is).
    pub fn down_reason(&self) -> Option<String> {
        match self.is_connected() {
            true => None,
            false => self.reason().clone(),
        }
    }

    pub(super) fn set_up(&self) {
        *self.reason() = None;
        if !self.connected.swap(true, Ordering::AcqRel) {
            log::info!("subscriptions: PostgreSQL connected");
        }
    }

    /// Connected, and the writes queued meanwhile are written: restores that waited for
    /// PostgreSQL read what they should.
    pub(super) fn set_caught_up(&self) {
        self.up.send_if_modified(|up| !std::mem::replace(up, true));
    }

    pub(super) fn set_down(&self, why: String) {
        self.up.send_replace(false);
        if self.connected.swap(false, Ordering::AcqRel) {
            self.reconnects.fetch_add(1, Ordering::Relaxed);
            log::warn!("subscriptions: PostgreSQL lost: {why}; writes are queued and retried");
        }
        *self.reason() = Some(why);
    }

    pub(super) fn count_write(&self, outcome: WriteOutcome) {
        self.writes[outcome as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Writes that ended so, since start.
    pub fn writes(&self, outcome: WriteOutcome) -> u64 {
        self.writes[outcome as usize].load(Ordering::Relaxed)
    }

    pub(super) fn count_retried(&self, writes: usize) {
        self.retried.fetch_add(writes as u64, Ordering::Relaxed);
    }

    /// Writes sent to PostgreSQL again after a failure of their connection.
    pub fn retried(&self) -> u64 {
        self.retried.load(Ordering::Relaxed)
    }

    pub(super) fn count_coalesced(&self) {
        self.coalesced.fetch_add(1, Ordering::Relaxed);
    }

    /// Writes not queued because they changed nothing beyond the latest one waiting for
    /// the same room of the same user.
    pub fn coalesced(&self) -> u64 {
        self.coalesced.load(Ordering::Relaxed)
    }

    pub(super) fn count_restore(&self, outcome: RestoreOutcome, rooms: usize) {
        self.restores[outcome as usize].fetch_add(1, Ordering::Relaxed);
        self.rooms_restored
            .fetch_add(rooms as u64, Ordering::Relaxed);
    }

    /// Restores of new sockets that ended so.
    pub fn restores(&self, outcome: RestoreOutcome) -> u64 {
        self.restores[outcome as usize].load(Ordering::Relaxed)
    }

    /// Rooms joined by restores.
    pub fn rooms_restored(&self) -> u64 {
        self.rooms_restored.load(Ordering::Relaxed)
    }

    pub(super) fn count_refused(&self, reason: Refusal) {
        self.refused[reason as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Joins refused by the store's bounds.
    pub fn refused(&self, reason: Refusal) -> u64 {
        self.refused[reason as usize].load(Ordering::Relaxed)
    }

    /// Times the connection was lost.
    pub fn reconnects(&self) -> u64 {
        self.reconnects.load(Ordering::Relaxed)
    }

    /// Writes waiting for PostgreSQL now.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    pub(super) fn set_queued(&self, n: usize) {
        self.queued.store(n, Ordering::Relaxed);
    }

    /// Reads waiting for PostgreSQL now.
    pub fn pending_reads(&self) -> usize {
        self.pending_reads.load(Ordering::Relaxed)
    }

    /// Takes a read slot if fewer than `max` reads wait.
    pub(super) fn try_begin_read(&self, max: usize) -> bool {
        self.pending_reads
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .is_ok()
    }

    pub(super) fn end_read(&self) {
        self.pending_reads.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A deferred restore's place among the `max_pending_reads` allowed, given back on drop.
struct DeferredSlot(std::sync::Arc<StoreStatus>);

impl Drop for DeferredSlot {
    fn drop(&mut self) {
        self.0.deferred.fetch_sub(1, Ordering::AcqRel);
    }
}
