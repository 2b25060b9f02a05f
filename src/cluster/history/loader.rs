//! The load of the room histories on every (re)subscription: once the subscription is
//! confirmed the Broadcaster is told a load starts (joins of always-rooms wait for it, at
//! most `[adapter] history_read_timeout_ms`), then the namespaces with a history are read
//! from Redis (those whose policy here is `buffer = "always"`), each room newest first, at
//! most `history_max_rooms` rooms and `max_buffer_bytes` of events per namespace (what its
//! buffers may hold anyway), [`ROOMS_PER_TRIP`] rooms and [`PAGE`] entries of each per round
//! trip, each round trip's answer bounded by what is left of the budget ([`READ`] stops
//! there, in Redis); what was read goes to the Broadcaster, which merges it (see `RoomBuffers::merge`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use redis::aio::ConnectionManager;
use siohub_actors::room_history::{
    HistoryCounters, HistoryKey, HistoryLoadStart, HistoryLoaded, LoadOutcome, LoadSkip,
    LoadedEvent,
};
use siohub_actors::wire_frame::WireFrame;
use siohub_actors::{BufferPolicy, Hub, EVENT_OVERHEAD};

use super::{HistoryKeys, MAX_NAMESPACES};

/// Room streams read per round trip.
pub(crate) const ROOMS_PER_TRIP: usize = 16;

/// Entries read per room per round trip: a round trip's reply holds at most
/// `ROOMS_PER_TRIP` x `PAGE` entries, whatever `buffer_size` is.
pub(crate) const PAGE: usize = 128;

/// Reads one page of each room stream of a round trip (KEYS), newest first, stopping at a
/// byte budget so that what Redis sends back is bounded whatever the entries hold. ARGV:
/// the bytes this trip may still bring, the namespace's whole budget, then per key its end
/// id, its count and its per-event overhead. Of each entry only what the loader reads comes
/// back: its first `o` (at most [`MAX_META`] bytes), `c` and `w` (digits, at most 20), then
/// its frames (`t`, `b`), which count against the budget with the overhead, as the loader
/// counts them. An entry not of that shape (no origin, no frame, a number that is not one)
/// or larger than the whole budget comes back as its id alone and counts nothing (the
/// loader skips it as invalid), so neither fields of no meaning nor junk entries cost the
/// load its budget or its memory. Per key: `{status, entries}`, status 0: read, 1: not a
/// stream, 2: the budget ends here (the namespace's load ends).
const READ: &str = r"
local left = tonumber(ARGV[1])
local whole = tonumber(ARGV[2])
local function number(v) return v ~= nil and #v <= 20 and string.match(v, '^%d+$') ~= nil end
local out = {}
local spent = false
for i, key in ipairs(KEYS) do
  local base = 3 * i
  if spent then
    out[i] = {2, {}}
  else
    local ok, page = pcall(redis.call, 'XREVRANGE', key, ARGV[base], '-', 'COUNT', ARGV[base + 1])
    if not ok then
      out[i] = {1, {}}
    else
      local overhead = tonumber(ARGV[base + 2])
      local kept = {}
      for _, entry in ipairs(page) do
        local fields = entry[2]
        local size, frames, o, c, w = overhead, 0, nil, nil, nil
        for j = 1, #fields, 2 do
          local name = fields[j]
          if name == 't' or name == 'b' then
            size = size + #fields[j + 1]
            frames = frames + 1
          elseif name == 'o' then o = o or fields[j + 1]
          elseif name == 'c' then c = c or fields[j + 1]
          elseif name == 'w' then w = w or fields[j + 1]
          end
        end
        local valid = o ~= nil and #o <= MAX_META and number(c) and number(w) and frames > 0
        if not valid or size > whole then
          kept[#kept + 1] = {entry[1], {}}
        else
          left = left - size
          if left < 0 then spent = true break end
          local read = {'o', o, 'c', c, 'w', w}
          for j = 1, #fields, 2 do
            if fields[j] == 't' or fields[j] == 'b' then
              read[#read + 1] = fields[j]
              read[#read + 1] = fields[j + 1]
            end
          end
          kept[#kept + 1] = {entry[1], read}
        end
      end
      out[i] = {spent and 2 or 0, kept}
    end
  end
end
return out";

/// The longest origin (a node's uid) an entry may name; see [`READ`].
pub(crate) const MAX_META: usize = 128;

/// [`READ`] with its bound filled in.
static SCRIPT: LazyLock<String> = LazyLock::new(|| READ.replace("MAX_META", &MAX_META.to_string()));

/// A stream entry: its id and its fields (names and values alternating).
type Entry = (String, Vec<Vec<u8>>);

/// Starts loads (see the module documentation).
#[derive(Clone)]
pub(crate) struct Loader {
    pub(crate) hub: Hub,
    pub(crate) conn: ConnectionManager,
    pub(crate) keys: HistoryKeys,
    /// This node's uid: its own events are named without it.
    pub(crate) uid: Arc<str>,
    pub(crate) max_rooms: usize,
    pub(crate) timeout: Duration,
    pub(crate) next_id: Arc<AtomicU64>,
    /// Counts what the load skipped as not ours ([`LoadSkip::Invalid`]).
    pub(crate) counters: Arc<HistoryCounters>,
}

impl Loader {
    /// Whether any namespace may have an always-room (else nothing is ever loaded).
    pub(crate) fn wanted(hub: &Hub) -> bool {
        hub.policies().any(|p| p.buffer == BufferPolicy::Always)
    }

    /// The subscription is confirmed: tells the Broadcaster a load starts (before any
    /// message the subscription brings reaches it), and reads in the background.
    pub(crate) fn start(&self) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        self.hub.history_load_start(HistoryLoadStart {
            id,
            timeout: self.timeout,
        });
        let this = self.clone();
        actix_rt::spawn(async move {
            // Redis may hang: the read gives up a while after the joins stopped waiting.
            let deadline = this.timeout * 4;
            let mut loaded = HistoryLoaded {
                id,
                ..HistoryLoaded::default()
            };
            let read = tokio::time::timeout(deadline, this.read(&mut loaded.namespaces)).await;
            loaded.outcome = match read {
                Ok(Ok(())) => LoadOutcome::Complete,
                Ok(Err(e)) => {
                    siohub_actors::limited!(
                        warn,
                        "room history: the load from Redis failed ({e}); joins get what this node holds"
                    );
                    LoadOutcome::Failed
                }
                Err(_) => LoadOutcome::Failed,
            };
            this.hub.history_loaded(loaded);
        });
    }

    /// Reads every namespace's history into `out`.
    async fn read(&self, out: &mut Vec<(String, Vec<LoadedEvent>)>) -> redis::RedisResult<()> {
        let mut conn = self.conn.clone();
        let now = now_us();
        let namespaces: Vec<String> = redis::cmd("ZRANGEBYSCORE")
            .arg(self.keys.namespaces())
            .arg(now / 1000)
            .arg("+inf")
            .arg("LIMIT")
            .arg(0)
            .arg(MAX_NAMESPACES)
            .query_async(&mut conn)
            .await?;
        for nsp in namespaces {
            let policy = self.hub.policies().of(&nsp);
            if policy.buffer != BufferPolicy::Always || policy.buffer_size == 0 {
                continue;
            }
            let rooms: Vec<String> = match redis::cmd("ZREVRANGEBYSCORE")
                .arg(self.keys.rooms(&nsp))
                .arg("+inf")
                .arg(now / 1000)
                .arg("LIMIT")
                .arg(0)
                .arg(self.max_rooms)
                .query_async(&mut conn)
                .await
            {
                Ok(rooms) => rooms,
                // Not a sorted set (written by something else): this namespace is skipped.
                Err(e) if is_answer(&e) => {
                    self.invalid(&self.keys.rooms(&nsp));
                    continue;
                }
                Err(e) => return Err(e),
            };
            let budget = policy.max_buffer_bytes;
            let mut events = Vec::new();
            let mut bytes = 0usize;
            'rooms: for chunk in rooms.chunks(ROOMS_PER_TRIP) {
                // Each room is read newest first, a page of at most PAGE entries per round
                // trip, until it has given `buffer_size` entries or has no more.
                let mut cursors: Vec<(&String, String, usize)> = chunk
                    .iter()
                    .map(|room| (room, "+".to_owned(), policy.buffer_size))
                    .collect();
                while !cursors.is_empty() {
                    let mut read = redis::cmd("EVAL");
                    read.arg(SCRIPT.as_str()).arg(cursors.len());
                    for (room, _, _) in &cursors {
                        read.arg(self.keys.stream(&nsp, room));
                    }
                    read.arg(budget.saturating_sub(bytes)).arg(budget);
                    for (room, end, left) in &cursors {
                        read.arg(end)
                            .arg((*left).min(PAGE))
                            .arg(room.len() + EVENT_OVERHEAD);
                    }
                    let pages: Vec<(u8, Vec<Entry>)> = read.query_async(&mut conn).await?;
                    let mut next = Vec::with_capacity(cursors.len());
                    for ((room, _, left), (status, page)) in cursors.into_iter().zip(pages) {
                        if status == 1 {
                            self.invalid(&self.keys.stream(&nsp, room));
                            continue;
                        }
                        let full = page.len() == left.min(PAGE);
                        let mut last = None;
                        let taken = page.len();
                        for (id, fields) in page {
                            last = Some(id);
                            let Some(event) = self.decode(room, &fields, now) else {
                                self.counters.skipped(LoadSkip::Invalid, 1);
                                continue;
                            };
                            if event.age > policy.buffer_ttl {
                                continue;
                            }
                            let frames: usize = event.frames.iter().map(|f| f.len()).sum();
                            let size = frames + room.len() + EVENT_OVERHEAD;
                            // One event larger than the whole budget was not written by a
                            // node of this policy (its buffers could not hold it): skipped,
                            // so that it cannot crowd out the rest of the namespace.
                            if size > budget {
                                self.counters.skipped(LoadSkip::Invalid, 1);
                                continue;
                            }
                            bytes += size;
                            // Over the budget, the older events are left out.
                            if bytes > budget {
                                break 'rooms;
                            }
                            events.push(event);
                        }
                        // Redis stopped at the budget: the older events are left out.
                        if status == 2 {
                            break 'rooms;
                        }
                        if let Some(last) = last.filter(|_| full && left > taken) {
                            next.push((room, format!("({last}"), left - taken));
                        }
                    }
                    cursors = next;
                }
            }
            out.push((nsp, events));
        }
        Ok(())
    }

    /// `key` could not be read as ours (Redis answered WRONGTYPE): counted and skipped.
    fn invalid(&self, key: &str) {
        self.counters.skipped(LoadSkip::Invalid, 1);
        siohub_actors::limited!(
            warn,
            "room history: {} in Redis is not of the type siohub writes; skipped",
            siohub_actors::ClientText(key)
        );
    }

    /// A stream entry of `room` as a loaded event (`None`: not one of ours, or garbage).
    fn decode(&self, room: &str, fields: &[Vec<u8>], now: u64) -> Option<LoadedEvent> {
        let (mut origin, mut seq, mut at) = (None, None, None);
        let mut frames = Vec::new();
        for pair in fields.chunks_exact(2) {
            let (name, value) = (pair[0].as_slice(), &pair[1]);
            let text = || std::str::from_utf8(value).ok();
            match name {
                b"o" => origin = Some(text()?),
                b"c" => seq = text()?.parse::<u64>().ok(),
                b"w" => at = text()?.parse::<u64>().ok(),
                b"t" => frames.push(WireFrame::text(text()?.to_owned())),
                b"b" => frames.push(WireFrame::binary(Bytes::copy_from_slice(value))),
                _ => {}
            }
        }
        let origin = origin?;
        if frames.is_empty() {
            return None;
        }
        let origin = (origin != &*self.uid).then(|| Arc::from(origin));
        let at_us = at?;
        Some(LoadedEvent {
            room: room.to_owned(),
            key: HistoryKey {
                origin,
                seq: seq?,
                at_us,
            },
            age: Duration::from_micros(now.saturating_sub(at_us)),
            frames: frames.into(),
        })
    }
}

/// Whether `e` is Redis's answer to one command (such as WRONGTYPE), not a failure of the
/// connection: only that command's key is skipped.
fn is_answer(e: &redis::RedisError) -> bool {
    !(e.is_io_error() || e.is_connection_dropped() || e.is_timeout() || e.is_unrecoverable_error())
}

/// Microseconds since the epoch, now.
fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros() as u64
}
