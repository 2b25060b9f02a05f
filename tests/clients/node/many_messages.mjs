// Opens many socket.io-client 4 connections at once to the Socket.IO conformance server;
// each emits `message` once connected and waits for its `message-back`. Every client must
// end in one of two ways: it got its reply, or it saw a `disconnect` (or a `connect_error`)
// with a reason. Silence (neither, within the deadline) is the failure this looks for.
//   node many_messages.mjs <url> [clients=200] [deadline_ms=10000]
// Prints one JSON line: {"clients","replied","disconnects":{reason:n},"connect_errors":{..},
// "silent":[{client, state...}]}; exit 0 unless a client stayed silent.
import { io } from "socket.io-client";

const [url, countArg, deadlineArg] = process.argv.slice(2);
const count = Number(countArg ?? 200);
const deadline = Number(deadlineArg ?? 10000);

function tally(map, key) {
  map[key] = (map[key] ?? 0) + 1;
}

function run(i) {
  return new Promise((resolve) => {
    const socket = io(url, { forceNew: true, reconnection: false });
    const seen = { client: i, events: [] };
    const note = (what) => seen.events.push(`${Date.now() - started}ms ${what}`);
    let done = false;
    const finish = (outcome) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.disconnect();
      resolve({ ...outcome, seen });
    };
    const timer = setTimeout(() => {
      const engine = socket.io.engine;
      finish({
        silent: {
          client: i,
          connected: socket.connected,
          sid: engine?.id,
          transport: engine?.transport?.name,
          engine_state: engine?.readyState,
          transport_state: engine?.transport?.readyState,
          upgrading: engine?.upgrading,
          write_buffer: engine?.writeBuffer?.length,
          events: seen.events,
        },
      });
    }, deadline);
    socket.on("connect", () => {
      note(`connect on ${socket.io.engine.transport.name}`);
      socket.emit("message", i);
    });
    socket.io.on("open", () => {
      const engine = socket.io.engine;
      note(`open ${engine.id}`);
      engine.on("upgrading", (t) => note(`upgrading ${t.name}`));
      engine.on("upgrade", (t) => note(`upgrade ${t.name}`));
      engine.on("upgradeError", (e) => note(`upgradeError ${e.message}`));
    });
    socket.on("message-back", (n) => {
      if (n === i) finish({ replied: true });
    });
    socket.on("disconnect", (reason) => finish({ disconnect: reason }));
    socket.on("connect_error", (e) => finish({ connect_error: e.message }));
  });
}

const started = Date.now();
const results = await Promise.all(Array.from({ length: count }, (_, i) => run(i)));
const summary = { clients: count, replied: 0, disconnects: {}, connect_errors: {}, silent: [] };
for (const r of results) {
  if (r.replied) summary.replied++;
  else if (r.disconnect) tally(summary.disconnects, r.disconnect);
  else if (r.connect_error) tally(summary.connect_errors, r.connect_error);
  else summary.silent.push(r.silent);
}
console.log(JSON.stringify(summary));
process.exit(summary.silent.length === 0 ? 0 : 1);
