// The Node socket.io 4.8.4 peer of the siohub benchmark.
//
// A plain socket.io server (default settings, in-memory adapter, websocket and polling)
// giving clients the same built-in events as siohub's hub (SPEC §2), so the load
// generator drives every server with identical traffic:
//   join    "room" | {room}                → ack {ok:true, room}
//   leave   "room" | {room}                → ack {ok:true, room}
//   publish {room, event, data, echo?}     → emit `event` with `data` to the room, sender
//                                            excluded unless echo; ack {ok:true, recipients}
//   ping    anything                       → ack {server_time} (or emit `pong` without ack)
//
// With REDIS_URL set (redis://127.0.0.1:6379), the server runs on @socket.io/redis-adapter
// 8.3.0 (classic pub/sub, default options, node-redis 4.7.1 clients: one publishing, one
// subscribing), so several of them on one Redis form a cluster (the benchmark's `cluster`
// scenario). A publish's `recipients` then counts this node's room members only.
//
// PARSER=msgpack: socket.io-msgpack-parser 3.0.2 (the benchmark's `msgpack` scenario).
// PER_MESSAGE_DEFLATE=1: permessage-deflate with {threshold: 1024}, siohub's deflate_threshold
// (the `deflate` scenario and deflate_cost.sh); ws's other defaults stay (context takeover).
//
// POST /api/v1/emit {rooms, event, data} (the body of siohub's HTTP API; `rooms` a string or a
// list), with `Authorization: Bearer <API_KEY>` (API_KEY, default "bench-key"): emits `event`
// with `data` to the rooms (`io.to(rooms).emit`) and answers {recipients}, the rooms' member
// count (the `push` scenario's backend). A wrong key gets 401, a bad body 400.
//
// Usage: [REDIS_URL=..] [PARSER=msgpack] [PER_MESSAGE_DEFLATE=1] node server.mjs <port>
// (listens on 127.0.0.1, path /socket.io/)
import { createServer } from "node:http";
import { Server } from "socket.io";
import { createAdapter } from "@socket.io/redis-adapter";
import { createClient } from "redis";
import msgpackParser from "socket.io-msgpack-parser";

const port = Number(process.argv[2] ?? 3000);
const apiKey = `Bearer ${process.env.API_KEY || "bench-key"}`;
// socket.io takes the requests under /socket.io/ and hands the others to this listener,
// which must be registered before the Server is created.
const httpServer = createServer((req, res) => {
  const answer = (status, body) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };
  if (req.method !== "POST" || req.url !== "/api/v1/emit") return answer(404, error("NOT_FOUND", "no such route"));
  if (req.headers.authorization !== apiKey) return answer(401, error("UNAUTHORIZED", "bad API key"));
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    let msg;
    try {
      msg = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      return answer(400, error("INVALID_PAYLOAD", "the body is not JSON"));
    }
    const targets = typeof msg?.rooms === "string" ? [msg.rooms] : msg?.rooms;
    if (!Array.isArray(targets) || typeof msg.event !== "string") {
      return answer(400, error("INVALID_PAYLOAD", "emit expects {rooms, event, data}"));
    }
    let recipients = 0;
    for (const room of targets) recipients += rooms.get(room)?.size ?? 0;
    io.to(targets).emit(msg.event, msg.data);
    answer(200, { recipients });
  });
});
// PER_MESSAGE_DEFLATE=1: permessage-deflate as Node documents it (bench/deflate_cost.sh).
const perMessageDeflate = process.env.PER_MESSAGE_DEFLATE === "1" ? { threshold: 1024 } : false;
const parser = process.env.PARSER === "msgpack" ? { parser: msgpackParser } : {};
const io = new Server(httpServer, { cors: { origin: "*" }, perMessageDeflate, ...parser });
if (process.env.REDIS_URL) {
  const pubClient = createClient({ url: process.env.REDIS_URL });
  const subClient = pubClient.duplicate();
  for (const c of [pubClient, subClient]) {
    c.on("error", (e) => console.error(`redis: ${e.message}`));
  }
  await Promise.all([pubClient.connect(), subClient.connect()]);
  io.adapter(createAdapter(pubClient, subClient));
  console.error(`node socket.io peer on @socket.io/redis-adapter at ${process.env.REDIS_URL}`);
}
const rooms = io.of("/").adapter.rooms;

const error = (code, message) => ({ error: { code, message } });

// The room named by a join/leave payload: "room" or {room: "..."}.
function roomOf(payload) {
  if (typeof payload === "string") return payload;
  if (payload && typeof payload === "object" && typeof payload.room === "string") {
    return payload.room;
  }
  return undefined;
}

// socket.io passes the ack callback as the last argument when the client asked for one.
function split(args) {
  const ack = typeof args[args.length - 1] === "function" ? args.pop() : undefined;
  return [args[0], ack];
}

io.on("connection", (socket) => {
  socket.on("join", (...args) => {
    const [payload, ack] = split(args);
    const room = roomOf(payload);
    if (room === undefined) {
      ack?.(error("INVALID_PAYLOAD", 'join expects "room" or {"room":..}'));
      return;
    }
    socket.join(room);
    ack?.({ ok: true, room });
  });

  socket.on("leave", (...args) => {
    const [payload, ack] = split(args);
    const room = roomOf(payload);
    if (room === undefined) {
      ack?.(error("INVALID_PAYLOAD", 'leave expects "room" or {"room":..}'));
      return;
    }
    socket.leave(room);
    ack?.({ ok: true, room });
  });

  socket.on("publish", (...args) => {
    const [msg, ack] = split(args);
    if (!msg || typeof msg.room !== "string" || typeof msg.event !== "string") {
      ack?.(error("INVALID_PAYLOAD", "publish expects {room, event, data}"));
      return;
    }
    const members = rooms.get(msg.room);
    let recipients = members ? members.size : 0;
    if (msg.echo === true) {
      io.to(msg.room).emit(msg.event, msg.data);
    } else {
      if (members?.has(socket.id)) recipients -= 1;
      socket.to(msg.room).emit(msg.event, msg.data);
    }
    ack?.({ ok: true, recipients });
  });

  socket.on("ping", (...args) => {
    const [, ack] = split(args);
    const reply = { server_time: Date.now() };
    if (ack) ack(reply);
    else socket.emit("pong", reply);
  });
});

httpServer.listen(port, "127.0.0.1", () => {
  console.error(`node socket.io peer listening on http://127.0.0.1:${port}/socket.io/`);
});
