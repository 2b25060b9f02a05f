// A socket.io-client 4.8 driver for the hub tests (tests/hub_*.rs): the Rust test sends one
// JSON command per line on stdin and reads one JSON reply per line on stdout, so the test
// decides what every client does and when, and asserts on what each one saw.
//
//   node hub/driver.mjs <base url>        e.g. http://127.0.0.1:4312 (path /socket.io/)
//
// Command: {"id":N,"cmd":"<name>",...}. Reply: {"id":N,"ok":true,"result":..} or
// {"id":N,"ok":false,"error":".."}. Sockets are named by the test ("a", "s12", ...).
//
//   connect      {name, nsp, auth?, transports?, options?, answer_acks?} -> {id, recovered}
//                 (answer_acks: every event that asks for an ack is answered with
//                 [answer_acks, name])
//                 (fails with the connect_error message if refused; waits at most 10 s)
//   connect_many {prefix, count, nsp, join?: [rooms], transports?} -> {ids: [..]}  (prefix0..)
//   emit         {name, event, args: [..], ack?: true, timeout_ms?} -> the ack's args | null
//   emit_many    {names, event, args}                           -> null (all sent, no ack)
//   events       {name, event?}                                 -> [{event, args}] in arrival order
//   counts       {names?, event}                                -> {name: n} (all when no names)
//   state        {name}                                         -> {connected, id, recovered,
//                                                                   connects, disconnects, connect_errors,
//                                                                   pid, offset}
//   disconnects  {}                                             -> {name: [reasons]} (only non-empty)
//   hold         {name}       stop the manager from reconnecting by itself
//   close_transport {name}    closes the Engine.IO transport (as a network failure would);
//                              socket.io-client reconnects by itself unless held
//   resume       {name}       re-enables reconnection and reconnects (with pid and offset)
//   disconnect   {name}       a clean client disconnect
//   retarget     {name, url}  points the socket's manager at another server (base URL) for
//                              its next connection attempt (a client moving to another node)
//   publish_loop {names, room, event, interval_ms} -> null; each named socket publishes
//                              {seq} to room every interval_ms, with an ack
//   stop_loops   {}                                             -> {sent, acked, errors: [..],
//                                                                   sent_by: {name: n}}
//                              (of the loops since the last stop_loops)
//   close_transports {names}  close_transport on every named socket at once (a storm)
//   retarget_many {names, url} retarget on every named socket
//   hold_many / resume_many {names}
//   states       {names}      -> {name: {connected, recovered, connects, disconnects}}
//   seqs         {names, event} -> {name: [[from, seq], ..]} of every `event` whose data is
//                              {from, seq} (publish_loop's), in arrival order
//   quit         {}
//
// Every socket: forceNew (its own Engine.IO connection), reconnectionDelay 100 ms, and
// websocket only unless told: by the command, or for every socket by
// SIOHUB_DRIVER_TRANSPORTS in the environment (a comma-separated list, such as `polling`). Events are recorded with `onAny`, with all their arguments (so
// with connection state recovery the offset is the last one).
//
// With SIOHUB_DRIVER_PARSER=msgpack in its environment every socket uses
// socket.io-msgpack-parser (for a hub started with `[server] parser = "msgpack"`).
//
// Binary travels in commands and replies as {"$binary": "<base64>"}: such an object in
// `emit` arguments is sent as a Buffer, and every Buffer (ArrayBuffer, typed array) an
// event or an ack brings is recorded as one, so a test sees what arrived as binary.

import readline from "node:readline";
import { io } from "socket.io-client";

const base = (process.argv[2] || "").replace(/\/$/, "");
if (!base) {
  process.stderr.write("usage: node driver.mjs <base url>\n");
  process.exit(2);
}

// {"$binary": base64} objects in `value` made Buffers.
function fromWire(value) {
  if (Array.isArray(value)) return value.map(fromWire);
  if (value && typeof value === "object") {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === "$binary" && typeof value.$binary === "string") {
      return Buffer.from(value.$binary, "base64");
    }
    return Object.fromEntries(keys.map((k) => [k, fromWire(value[k])]));
  }
  return value;
}

// Buffers in `value` made {"$binary": base64} objects.
function toWire(value) {
  if (Buffer.isBuffer(value)) return { $binary: value.toString("base64") };
  if (value instanceof ArrayBuffer) return { $binary: Buffer.from(value).toString("base64") };
  if (ArrayBuffer.isView(value)) {
    return { $binary: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64") };
  }
  if (Array.isArray(value)) return value.map(toWire);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.keys(value).map((k) => [k, toWire(value[k])]));
  }
  return value;
}

// The parser option of every socket: socket.io-msgpack-parser when asked for.
const parserOption =
  process.env.SIOHUB_DRIVER_PARSER === "msgpack"
    ? { parser: (await import("socket.io-msgpack-parser")).default }
    : {};

// The transports of a socket whose connect command names none.
const defaultTransports = (process.env.SIOHUB_DRIVER_TRANSPORTS || "websocket").split(",");

const sockets = new Map();
const loops = [];
const loopStats = { sent: 0, acked: 0, errors: [], sent_by: {} };

function entry(name) {
  const e = sockets.get(name);
  if (!e) throw new Error(`no socket named ${name}`);
  return e;
}

function open(name, nsp, { auth, transports, options, answer_acks } = {}) {
  if (sockets.has(name)) throw new Error(`socket ${name} exists already`);
  const socket = io(base + nsp, {
    forceNew: true,
    transports: transports ?? defaultTransports,
    reconnectionDelay: 100,
    reconnectionDelayMax: 1000,
    timeout: 10_000,
    ...(auth ? { auth } : {}),
    ...parserOption,
    ...(options ?? {}),
  });
  const e = { socket, events: [], connects: [], disconnects: [], connectErrors: [] };
  socket.onAny((event, ...args) => {
    const asks = answer_acks !== undefined && typeof args[args.length - 1] === "function";
    const ack = asks ? args.pop() : null;
    e.events.push({ event, args: toWire(args) });
    if (ack) ack(answer_acks, name);
  });
  socket.on("connect", () => e.connects.push({ id: socket.id, recovered: socket.recovered === true }));
  socket.on("disconnect", (reason) => e.disconnects.push(reason));
  socket.on("connect_error", (err) => e.connectErrors.push(String(err && err.message)));
  sockets.set(name, e);
  return e;
}

function whenConnected(e, timeoutMs = 10_000) {
  const { socket } = e;
  return new Promise((resolve, reject) => {
    if (socket.connected) return resolve();
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`not connected within ${timeoutMs} ms (connect errors: ${JSON.stringify(e.connectErrors)})`));
    }, timeoutMs);
    const onConnect = () => {
      cleanup();
      resolve();
    };
    const onError = (err) => {
      // A refusal by the server (CONNECT_ERROR) leaves the socket inactive for good;
      // transport errors are retried by the manager.
      if (!socket.active) {
        cleanup();
        reject(new Error(`connect_error: ${err && err.message}`));
      }
    };
    function cleanup() {
      clearTimeout(timer);
      socket.off("connect", onConnect);
      socket.off("connect_error", onError);
    }
    socket.on("connect", onConnect);
    socket.on("connect_error", onError);
  });
}

function state(e) {
  return {
    connected: e.socket.connected,
    id: e.socket.id ?? null,
    recovered: e.socket.recovered === true,
    connects: e.connects,
    disconnects: e.disconnects,
    connect_errors: e.connectErrors,
    // What the client offers for connection state recovery on its next CONNECT
    // (socket.io-client 4's own fields: the session's pid and the last offset received).
    pid: e.socket._pid ?? null,
    offset: e.socket._lastOffset ?? null,
  };
}

async function emitWithAck(socket, event, args, timeoutMs) {
  return await new Promise((resolve, reject) => {
    socket.timeout(timeoutMs).emit(event, ...fromWire(args), (err, ...reply) => {
      if (err) reject(new Error(`no ack for ${event} within ${timeoutMs} ms`));
      else resolve(toWire(reply));
    });
  });
}

const commands = {
  async connect({ name, nsp, auth, transports, options, answer_acks }) {
    const e = open(name, nsp, { auth, transports, options, answer_acks });
    await whenConnected(e);
    return { id: e.socket.id, recovered: e.socket.recovered === true };
  },

  async connect_many({ prefix, count, nsp, join, transports }) {
    const opened = [];
    for (let i = 0; i < count; i++) opened.push(open(`${prefix}${i}`, nsp, { transports }));
    await Promise.all(opened.map((e) => whenConnected(e, 30_000)));
    if (join) {
      await Promise.all(
        opened.flatMap((e) =>
          join.map(async (room) => {
            const [reply] = await emitWithAck(e.socket, "join", [room], 20_000);
            if (!reply || reply.ok !== true) throw new Error(`join ${room}: ${JSON.stringify(reply)}`);
          }),
        ),
      );
    }
    return { ids: opened.map((e) => e.socket.id) };
  },

  async emit({ name, event, args, ack, timeout_ms }) {
    const { socket } = entry(name);
    if (!ack) {
      socket.emit(event, ...fromWire(args ?? []));
      return null;
    }
    return await emitWithAck(socket, event, args ?? [], timeout_ms ?? 10_000);
  },

  async emit_many({ names, event, args }) {
    for (const name of names) entry(name).socket.emit(event, ...(args ?? []));
    return null;
  },

  async events({ name, event }) {
    const e = entry(name);
    return event ? e.events.filter((x) => x.event === event) : e.events;
  },

  async counts({ names, event }) {
    const out = {};
    for (const name of names ?? sockets.keys()) {
      out[name] = entry(name).events.filter((x) => x.event === event).length;
    }
    return out;
  },

  async state({ name }) {
    return state(entry(name));
  },

  async disconnects() {
    const out = {};
    for (const [name, e] of sockets) if (e.disconnects.length) out[name] = e.disconnects;
    return out;
  },

  async hold({ name }) {
    entry(name).socket.io.reconnection(false);
    return null;
  },

  async close_transport({ name }) {
    const { socket } = entry(name);
    if (!socket.io.engine) throw new Error(`socket ${name} has no transport open`);
    socket.io.engine.close();
    return null;
  },

  async resume({ name }) {
    const e = entry(name);
    e.socket.io.reconnection(true);
    e.socket.connect();
    return null;
  },

  async retarget({ name, url }) {
    // The manager opens every new Engine.IO connection on `uri`.
    entry(name).socket.io.uri = url;
    return null;
  },

  async disconnect({ name }) {
    entry(name).socket.disconnect();
    return null;
  },

  async publish_loop({ names, room, event, interval_ms }) {
    for (const name of names) {
      const { socket } = entry(name);
      let seq = 0;
      const timer = setInterval(() => {
        seq += 1;
        loopStats.sent += 1;
        loopStats.sent_by[name] = seq;
        const body = { room, event, data: { from: name, seq } };
        socket.timeout(20_000).emit("publish", body, (err, reply) => {
          if (err) loopStats.errors.push(`${name} #${seq}: no ack`);
          else if (!reply || reply.ok !== true) loopStats.errors.push(`${name} #${seq}: ${JSON.stringify(reply)}`);
          else loopStats.acked += 1;
        });
      }, interval_ms);
      loops.push(timer);
    }
    return null;
  },

  async stop_loops() {
    for (const timer of loops.splice(0)) clearInterval(timer);
    // Wait (bounded) for the acks of what was sent.
    const deadline = Date.now() + 20_000;
    while (loopStats.acked + loopStats.errors.length < loopStats.sent && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    // Each round of loops is reported once: the next starts from zero.
    const round = { ...loopStats };
    Object.assign(loopStats, { sent: 0, acked: 0, errors: [], sent_by: {} });
    return round;
  },

  async close_transports({ names }) {
    for (const name of names) {
      const { socket } = entry(name);
      if (socket.io.engine) socket.io.engine.close();
    }
    return null;
  },

  async retarget_many({ names, url }) {
    for (const name of names) entry(name).socket.io.uri = url;
    return null;
  },

  async hold_many({ names }) {
    for (const name of names) entry(name).socket.io.reconnection(false);
    return null;
  },

  async resume_many({ names }) {
    for (const name of names) {
      const e = entry(name);
      e.socket.io.reconnection(true);
      e.socket.connect();
    }
    return null;
  },

  async states({ names }) {
    const out = {};
    for (const name of names) {
      const e = entry(name);
      out[name] = {
        connected: e.socket.connected,
        recovered: e.socket.recovered === true,
        connects: e.connects.length,
        disconnects: e.disconnects.length,
      };
    }
    return out;
  },

  async seqs({ names, event }) {
    const out = {};
    for (const name of names) {
      out[name] = entry(name)
        .events.filter((x) => x.event === event)
        .map((x) => [x.args[0]?.from ?? null, x.args[0]?.seq ?? null]);
    }
    return out;
  },

  async quit() {
    for (const timer of loops.splice(0)) clearInterval(timer);
    for (const e of sockets.values()) e.socket.disconnect();
    setTimeout(() => process.exit(0), 100);
    return null;
  },
};

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", async (line) => {
  if (!line.trim()) return;
  let msg;
  try {
    msg = JSON.parse(line);
  } catch (err) {
    process.stdout.write(JSON.stringify({ id: null, ok: false, error: `bad command line: ${err}` }) + "\n");
    return;
  }
  const handler = commands[msg.cmd];
  let reply;
  try {
    if (!handler) throw new Error(`unknown command ${msg.cmd}`);
    const result = await handler(msg);
    reply = { id: msg.id, ok: true, result: result ?? null };
  } catch (err) {
    reply = { id: msg.id, ok: false, error: String(err && err.message ? err.message : err) };
  }
  process.stdout.write(JSON.stringify(reply) + "\n");
});
// The test closed our stdin (it finished or died): leave.
rl.on("close", () => {
  for (const e of sockets.values()) e.socket.disconnect();
  setTimeout(() => process.exit(0), 100);
});
