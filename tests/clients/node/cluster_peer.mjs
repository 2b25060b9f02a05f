// A Node.js socket.io 4.8 server with @socket.io/redis-adapter 8.3 (classic pub/sub, redis
// 4.7 clients): the peer siohub must interoperate with on one Redis (tests/it/cluster_node.rs).
//
//   node cluster_peer.mjs <redis url> [key prefix]
//
// It listens on a free port of the loopback; clients that connect with `auth.rooms` join those
// rooms. The test sends one JSON command per line on stdin and reads one JSON reply per line
// on stdout ({"id":N,"ok":true,"result":..} or {"id":N,"ok":false,"error":".."}); the first
// line is {"listening": port}. Binary travels as {"$binary": base64} both ways.
//
//   emit        {nsp?, rooms?, except?, event, args}   -> null    io.to(rooms).except(except).emit
//   fetch       {nsp?, rooms?}                          -> [{id, rooms}]   fetchSockets()
//   all_rooms   {nsp?}                                  -> [rooms]  adapter.allRooms()
//   server_count {nsp?}                                 -> N       adapter.serverCount()
//   join        {nsp?, rooms?, room}                    -> null    io.in(rooms).socketsJoin(room)
//   leave       {nsp?, rooms?, room}                    -> null    io.in(rooms).socketsLeave(room)
//   disconnect  {nsp?, rooms?, close?}                  -> null    io.in(rooms).disconnectSockets(close)
//   ack_emit    {nsp?, rooms?, event, args, timeout_ms} -> {error, responses}  io.timeout(t).emit(.., cb)
//   server_emit {nsp?, event, args, timeout_ms}         -> {error, responses}  serverSideEmitWithAck
// Server-side `ping-servers` events from other servers are answered with {pong: arg}.

import { createServer } from "node:http";
import readline from "node:readline";
import { Server } from "socket.io";
import { createAdapter } from "@socket.io/redis-adapter";
import { createClient } from "redis";

const [url, key] = process.argv.slice(2);
if (!url) {
  process.stderr.write("usage: node cluster_peer.mjs <redis url> [key prefix]\n");
  process.exit(2);
}

function fromWire(value) {
  if (Array.isArray(value)) return value.map(fromWire);
  if (value && typeof value === "object") {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === "$binary") return Buffer.from(value.$binary, "base64");
    return Object.fromEntries(keys.map((k) => [k, fromWire(value[k])]));
  }
  return value;
}

function toWire(value) {
  if (Buffer.isBuffer(value)) return { $binary: value.toString("base64") };
  if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) {
    return { $binary: Buffer.from(value.buffer ?? value).toString("base64") };
  }
  if (Array.isArray(value)) return value.map(toWire);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.keys(value).map((k) => [k, toWire(value[k])]));
  }
  return value;
}

const pub = createClient({ url });
const sub = pub.duplicate();
pub.on("error", () => {});
sub.on("error", () => {});
await Promise.all([pub.connect(), sub.connect()]);

const httpServer = createServer();
const io = new Server(httpServer, {
  adapter: createAdapter(pub, sub, { key: key || "socket.io", requestsTimeout: 2000 }),
});
const onConnection = (socket) => {
  const rooms = socket.handshake.auth?.rooms;
  if (Array.isArray(rooms)) socket.join(rooms);
};
io.on("connection", onConnection);
// A server-side event other servers may emit, answered when they ask for an answer.
io.on("ping-servers", (arg, ack) => {
  if (typeof ack === "function") ack({ pong: arg });
});
io.of("/chat").on("connection", onConnection);

function target(nsp, rooms, except) {
  let op = io.of(nsp || "/");
  if (rooms && rooms.length) op = op.to(rooms);
  if (except && except.length) op = op.except(except);
  return op;
}

const commands = {
  async emit({ nsp, rooms, except, event, args }) {
    target(nsp, rooms, except).emit(event, ...fromWire(args ?? []));
    return null;
  },
  async fetch({ nsp, rooms }) {
    const sockets = await target(nsp, rooms).fetchSockets();
    return sockets.map((s) => ({ id: s.id, rooms: [...s.rooms], handshake: s.handshake, data: s.data }));
  },
  async all_rooms({ nsp }) {
    return [...(await io.of(nsp || "/").adapter.allRooms())];
  },
  async server_count({ nsp }) {
    return await io.of(nsp || "/").adapter.serverCount();
  },
  async join({ nsp, rooms, room }) {
    target(nsp, rooms).socketsJoin(room);
    return null;
  },
  async leave({ nsp, rooms, room }) {
    target(nsp, rooms).socketsLeave(room);
    return null;
  },
  async disconnect({ nsp, rooms, close }) {
    target(nsp, rooms).disconnectSockets(close === true);
    return null;
  },
  async server_emit({ nsp, event, args, timeout_ms }) {
    try {
      const responses = await io
        .of(nsp || "/")
        .timeout(timeout_ms ?? 2000)
        .serverSideEmitWithAck(event, ...fromWire(args ?? []));
      return { error: null, responses: toWire(responses) };
    } catch (err) {
      return { error: String(err && err.message), responses: null };
    }
  },
  async ack_emit({ nsp, rooms, event, args, timeout_ms }) {
    // The callback form: on a timeout it still has the acks that came.
    return await new Promise((resolve) => {
      target(nsp, rooms)
        .timeout(timeout_ms ?? 2000)
        .emit(event, ...fromWire(args ?? []), (err, responses) => {
          resolve({ error: err ? String(err.message) : null, responses: toWire(responses ?? []) });
        });
    });
  },
};

httpServer.listen(0, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ listening: httpServer.address().port }) + "\n");
});

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", async (line) => {
  let msg;
  try {
    msg = JSON.parse(line);
  } catch {
    return;
  }
  const run = commands[msg.cmd];
  try {
    if (!run) throw new Error(`unknown command ${msg.cmd}`);
    const result = await run(msg);
    process.stdout.write(JSON.stringify({ id: msg.id, ok: true, result }) + "\n");
  } catch (err) {
    process.stdout.write(JSON.stringify({ id: msg.id, ok: false, error: String(err && err.message) }) + "\n");
  }
});
rl.on("close", async () => {
  io.close();
  await Promise.allSettled([pub.quit(), sub.quit()]);
  process.exit(0);
});
