// Reference "scenario server" written against the Node.js socket.io 4.8 server.
//
// It implements the same contract that siohub's own scenario server implements, so the client
// scenario scripts (scenario.mjs, ../python/scenario.py) can be validated against the reference
// implementation and later run unchanged against siohub.
//
//   node reference_server.mjs <port>        (port 0 = pick a free one)
//
// stdout: one JSON line per record. The first line is {"rec":"listening","port":N}; then one
// line per connect / connect_error / event / disconnect, so you can see what a server should
// record for a given client run. Binary values are summarised as {"$bin":<length>}.

import { createServer } from "node:http";
import { Server } from "socket.io";

const port = Number(process.argv[2] ?? 0);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error("usage: node reference_server.mjs <port>");
  process.exit(2);
}

function summarise(value) {
  if (Buffer.isBuffer(value) || value instanceof ArrayBuffer || ArrayBuffer.isView(value)) {
    return { $bin: value.byteLength };
  }
  if (Array.isArray(value)) return value.map(summarise);
  if (typeof value === "function") return "[ack]";
  if (value && typeof value === "object") {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = summarise(v);
    return out;
  }
  return value;
}

function record(rec) {
  process.stdout.write(JSON.stringify({ ts: Date.now(), ...rec }) + "\n");
}

// Splits off a trailing ack callback, if the client asked for one.
function splitAck(args) {
  if (args.length && typeof args[args.length - 1] === "function") {
    return [args.slice(0, -1), args[args.length - 1]];
  }
  return [args, null];
}

const httpServer = createServer();
const io = new Server(httpServer, { path: "/socket.io/" });

function common(socket) {
  const nsp = socket.nsp.name;
  record({
    rec: "connect",
    nsp,
    sid: socket.id,
    engine_sid: socket.conn.id,
    transport: socket.conn.transport.name,
    auth: socket.handshake.auth,
  });
  socket.conn.on("upgrade", (t) =>
    record({ rec: "upgrade", nsp, sid: socket.id, transport: t.name }),
  );
  socket.onAny((event, ...raw) => {
    const [args, ack] = splitAck(raw);
    record({ rec: "event", nsp, sid: socket.id, event, args: summarise(args), ack: !!ack });
  });
  socket.on("disconnect", (reason) => record({ rec: "disconnect", nsp, sid: socket.id, reason }));

  socket.on("echo-ack", (...raw) => {
    const [args, ack] = splitAck(raw);
    if (ack) ack(...args);
  });
}

io.of("/").on("connection", (socket) => {
  common(socket);

  socket.on("echo", (...raw) => {
    const [args] = splitAck(raw);
    socket.emit("echo-back", ...args);
  });

  socket.on("ask-client", () => {
    socket.timeout(2000).emit("question", { q: 1 }, (err, answer) => {
      const payload = err ? { timeout: true } : answer;
      record({ rec: "client-ack", nsp: "/", sid: socket.id, answer: summarise(payload) });
      socket.emit("answer-received", payload);
    });
  });

  socket.on("kick-me", () => socket.disconnect());

  socket.on("whoami", (...raw) => {
    const [, ack] = splitAck(raw);
    if (ack) ack({ sid: socket.id, nsp: socket.nsp.name });
  });
});

const secure = io.of("/secure");
secure.use((socket, next) => {
  const auth = socket.handshake.auth;
  if (auth && auth.token === "s3cret") return next();
  record({ rec: "connect_error", nsp: "/secure", auth, message: "unauthorized" });
  const err = new Error("unauthorized");
  err.data = { reason: "bad token" };
  next(err);
});
secure.on("connection", (socket) => {
  common(socket);
  socket.emit("welcome", { auth: socket.handshake.auth });
});

httpServer.listen(port, "127.0.0.1", () => {
  record({ rec: "listening", port: httpServer.address().port });
});

for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => {
    io.close();
    process.exit(0);
  });
}
