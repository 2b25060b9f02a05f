//! A recovery read: takes a socket's record (GETDEL: one node recovers it, once) unless
//! its socket is still connected on a live node (see `liveness`), and walks its
//! namespace's stream back from the newest entry to the client's offset.

use redis::aio::ConnectionManager;
use siohub_actors::recovery_store::{StoreRecovery, StoredEvent};
use std::time::Duration;

use super::encoding::{decode_event, decode_record, entry_offset, live_owner, record_owner};
use super::{liveness, Keys};

/// Stream entries read per round trip.
const PAGE: usize = 500;

/// Why a socket was not recovered.
#[derive(Debug, thiserror::Error)]
pub(super) enum Miss {
    /// No record: never written, expired, taken by another recovery, or another
    /// namespace's.
    #[error("no recovery record (expired, taken, or never written)")]
    Record,
    /// The client's offset is not in the stream any more (or an entry after it cannot be
    /// read): what it missed may be gone, and recovering it would lie.
    #[error("its offset is no longer in the stream")]
    Offset,
    /// The record's socket is still connected on a node that is up (this one or another):
    /// taking it would make a second live copy of the socket.
    #[error("its socket is still connected on a live node")]
    OwnerAlive,
    /// Redis did not answer in time.
    #[error("Redis did not answer in time")]
    Unavailable,
}

/// One recovery's read.
pub(super) struct Read {
    pub(super) conn: ConnectionManager,
    pub(super) record_key: String,
    pub(super) stream_key: String,
    pub(super) nsp: String,
    pub(super) offset: String,
    pub(super) window: Duration,
    pub(super) max_events: usize,
    /// This node's name (a record it still owns as connected is never taken).
    pub(super) node: String,
    pub(super) keys: Keys,
}

type Entry = (String, Vec<Vec<u8>>);

impl Read {
    /// The record and the events after the offset, or why not.
    pub(super) async fn run(mut self) -> Result<StoreRecovery, Miss> {
        self.refuse_a_live_socket().await?;
        let record: Option<Vec<u8>> = redis::cmd("GETDEL")
            .arg(&self.record_key)
            .query_async(&mut self.conn)
            .await
            .map_err(|_| Miss::Unavailable)?;
        let here = record.as_deref().and_then(record_owner) == Some(self.node.as_str());
        let socket = record
            .and_then(|r| decode_record(&r, &self.nsp, self.window))
            .ok_or(Miss::Record)?;
        let events = self.missed().await?;
        Ok(StoreRecovery {
            socket,
            events,
            here,
        })
    }

    /// Refuses when the record says its socket is connected and the node that wrote it is
    /// up. (Its owner may finalise it between this look and the GETDEL: then the record
    /// taken is the finalised one, which is what a recovery wants.)
    async fn refuse_a_live_socket(&mut self) -> Result<(), Miss> {
        let current: Option<Vec<u8>> = redis::cmd("GET")
            .arg(&self.record_key)
            .query_async(&mut self.conn)
            .await
            .map_err(|_| Miss::Unavailable)?;
        let Some(owner) = current.as_deref().and_then(live_owner) else {
            return Ok(());
        };
        if owner == self.node {
            return Err(Miss::OwnerAlive);
        }
        let channel = liveness::channel(&self.keys.prefix, owner);
        match liveness::is_up(&mut self.conn, &channel).await {
            Ok(false) => Ok(()),
            Ok(true) => Err(Miss::OwnerAlive),
            Err(()) => Err(Miss::Unavailable),
        }
    }

    /// The stream's entries after the offset, oldest first.
    async fn missed(&mut self) -> Result<Vec<StoredEvent>, Miss> {
        let mut newer: Vec<Entry> = Vec::new();
        let mut end = "+".to_owned();
        loop {
            let page: Vec<Entry> = redis::cmd("XREVRANGE")
                .arg(&self.stream_key)
                .arg(&end)
                .arg("-")
                .arg("COUNT")
                .arg(PAGE)
                .query_async(&mut self.conn)
                .await
                .map_err(|_| Miss::Unavailable)?;
            let full = page.len() == PAGE;
            for entry in page {
                if entry_offset(&entry.1) == Some(self.offset.as_bytes()) {
                    return self.decode(newer);
                }
                end = format!("({}", entry.0);
                newer.push(entry);
            }
            // The stream is trimmed to `max_events` (approximately: allow a page more).
            if !full || newer.len() > self.max_events + PAGE {
                return Err(Miss::Offset);
            }
        }
    }

    fn decode(&self, mut newer: Vec<Entry>) -> Result<Vec<StoredEvent>, Miss> {
        newer.reverse();
        newer
            .iter()
            .map(|(_, fields)| decode_event(&self.nsp, fields).ok_or(Miss::Offset))
            .collect()
    }
}
