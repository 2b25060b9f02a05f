//! The writes of the room histories, added to the publisher's pipeline before the
//! PUBLISHes of the same batch (see the module above): per always-room an XADD trimmed to
//! `buffer_size` and its expiry, then per namespace one script that lists the rooms
//! (and the namespace) with their expiry and keeps at most `history_max_rooms` of them.

use std::collections::HashMap;
use std::sync::Arc;

use siohub_actors::room_history::{HistoryCounters, OutboundHistory};
use siohub_actors::OutboundBroadcast;

use super::{HistoryKeys, MAX_NAMESPACES};

/// Lists the rooms written (KEYS[1]: the namespace's rooms, KEYS[2]: the namespaces), each
/// scored by when its history expires; removes expired ones, and beyond the bound the
/// least recently written rooms with their streams. ARGV: now (ms), ttl (ms), the most
/// rooms, the namespace's stream prefix, the namespace, the most namespaces, then the
/// rooms. Returns how many rooms were evicted for the bound.
const INDEX: &str = r"
local now = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local max = tonumber(ARGV[3])
for i = 7, #ARGV do redis.call('ZADD', KEYS[1], now + ttl, ARGV[i]) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local evicted = 0
local n = redis.call('ZCARD', KEYS[1])
if n > max then
  local old = redis.call('ZRANGE', KEYS[1], 0, n - max - 1)
  for _, room in ipairs(old) do redis.call('DEL', ARGV[4] .. room) end
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, n - max - 1)
  evicted = #old
end
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
redis.call('ZADD', KEYS[2], now + ttl, ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local m = redis.call('ZCARD', KEYS[2])
local most = tonumber(ARGV[6])
if m > most then redis.call('ZREMRANGEBYRANK', KEYS[2], 0, m - most - 1) end
if redis.call('PTTL', KEYS[2]) < ttl then redis.call('PEXPIRE', KEYS[2], ttl) end
return evicted";

/// What Redis keeps of one broadcast: its entry in the history of each always-room it
/// names.
#[derive(Debug)]
pub(crate) struct Append {
    nsp: String,
    uid: Arc<str>,
    history: OutboundHistory,
}

impl Append {
    /// What Redis keeps of broadcast `b` of node `uid`, if it lands in an always-room.
    pub(crate) fn of(uid: &Arc<str>, b: &OutboundBroadcast) -> Option<Append> {
        let history = b.history.as_ref().filter(|h| !h.rooms.is_empty())?;
        Some(Append {
            nsp: b.target.nsp.clone(),
            uid: uid.clone(),
            history: history.clone(),
        })
    }
}

/// Adds the history writes to the publisher's pipelines, and counts them.
pub(crate) struct HistoryWriter {
    keys: HistoryKeys,
    max_rooms: usize,
    counters: Arc<HistoryCounters>,
}

/// The history writes of one pipeline: room entries (XADDs), then one index script per
/// namespace, whose answers the pipeline returns first, in this order.
#[derive(Debug, Default)]
pub(crate) struct Written {
    /// Per entry, which index script lists its room.
    entries: Vec<usize>,
    /// Index scripts.
    scripts: usize,
}

impl Written {
    /// How many answers of the pipeline are the writes' (they come first).
    pub(crate) fn replies(&self) -> usize {
        self.entries.len() + self.scripts
    }
}

impl HistoryWriter {
    /// A writer under `keys`, listing at most `max_rooms` rooms per namespace.
    pub(crate) fn new(keys: HistoryKeys, max_rooms: usize, counters: Arc<HistoryCounters>) -> Self {
        HistoryWriter {
            keys,
            max_rooms,
            counters,
        }
    }

    /// Adds the writes of `appends` to `pipe`.
    pub(crate) fn add<'a>(
        &self,
        pipe: &mut redis::Pipeline,
        appends: impl Iterator<Item = &'a Append>,
    ) -> Written {
        let mut written = Written::default();
        // Per namespace: its TTL and the rooms written (first seen first).
        let mut index: HashMap<&str, (u64, Vec<&str>)> = HashMap::new();
        let mut order: Vec<&str> = Vec::new();
        let mut now = 0;
        // Per entry, its namespace (as a rank in `order`, filled in below).
        let mut entry_nsps: Vec<&str> = Vec::new();
        for append in appends {
            let h = &append.history;
            let ttl = h.ttl.as_millis().max(1) as u64;
            now = now.max(h.at_us / 1000);
            for room in &h.rooms {
                let key = self.keys.stream(&append.nsp, room);
                let cmd = pipe.cmd("XADD").arg(&key);
                cmd.arg("MAXLEN").arg(h.size.max(1)).arg("*");
                cmd.arg("o").arg(&*append.uid);
                cmd.arg("c").arg(h.seq);
                cmd.arg("w").arg(h.at_us);
                for frame in h.frames.iter() {
                    let name = if frame.is_binary() { "b" } else { "t" };
                    cmd.arg(name).arg(frame.payload());
                }
                pipe.cmd("PEXPIRE").arg(&key).arg(ttl).ignore();
                entry_nsps.push(&append.nsp);
            }
            let (nsp_ttl, rooms) = index.entry(&append.nsp).or_insert_with(|| {
                order.push(&append.nsp);
                (ttl, Vec::new())
            });
            *nsp_ttl = (*nsp_ttl).max(ttl);
            for room in &h.rooms {
                if !rooms.contains(&room.as_str()) {
                    rooms.push(room);
                }
            }
        }
        written.entries = entry_nsps
            .iter()
            .map(|nsp| order.iter().position(|n| n == nsp).unwrap_or_default())
            .collect();
        written.scripts = order.len();
        for nsp in order {
            let (ttl, rooms) = &index[nsp];
            let cmd = pipe.cmd("EVAL").arg(INDEX).arg(2);
            cmd.arg(self.keys.rooms(nsp)).arg(self.keys.namespaces());
            cmd.arg(now).arg(*ttl).arg(self.max_rooms);
            cmd.arg(self.keys.stream_prefix(nsp))
                .arg(nsp)
                .arg(MAX_NAMESPACES);
            for room in rooms {
                cmd.arg(*room);
            }
        }
        written
    }

    /// Counts what became of the writes of a pipeline: `replies` are Redis's answers to
    /// them (see [`Written::replies`]; `None`: the pipeline failed). An entry is written
    /// when its XADD and its room's index script succeeded; one Redis refused (a key of
    /// the wrong type, out of memory) is counted failed, alone.
    pub(crate) fn done(
        &self,
        written: Written,
        replies: Option<&[redis::RedisResult<redis::Value>]>,
    ) {
        let total = written.entries.len() as u64;
        if total == 0 {
            return;
        }
        let Some(replies) = replies.filter(|r| r.len() == written.replies()) else {
            self.counters.write_failed(total);
            siohub_actors::limited!(
                warn,
                "room history: {total} entries could not be written to Redis; nodes that load the histories later miss them"
            );
            return;
        };
        let (adds, scripts) = replies.split_at(written.entries.len());
        let mut failed = 0;
        let mut refusal = None;
        for (add, &script) in adds.iter().zip(&written.entries) {
            match add.as_ref().and(scripts[script].as_ref()) {
                Ok(_) => {}
                Err(e) => {
                    failed += 1;
                    refusal.get_or_insert(e);
                }
            }
        }
        self.counters.written(total - failed);
        if let Some(e) = refusal {
            self.counters.write_failed(failed);
            siohub_actors::limited!(
                warn,
                "room history: Redis refused {failed} entries ({e}); nodes that load the histories later miss them"
            );
        }
        let rooms: i64 = scripts
            .iter()
            .filter_map(|r| match r {
                Ok(redis::Value::Int(n)) => Some(*n),
                _ => None,
            })
            .sum();
        if rooms > 0 {
            self.counters.rooms_evicted(rooms as u64);
            siohub_actors::limited!(
                warn,
                "room history: more rooms than [adapter] history_max_rooms have a history in Redis; the {rooms} least recently written lost theirs"
            );
        }
    }
}
