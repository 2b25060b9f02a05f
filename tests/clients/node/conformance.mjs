// Checks a conformance server (SPEC.md §1) with the real clients:
//   node conformance.mjs socketio <url>   -- the Socket.IO conformance server
//   node conformance.mjs engineio <url>   -- the Engine.IO echo server (path /engine.io/)
// Prints one JSON line {"ok":true,...} (exit 0) or {"ok":false,"error":..} (exit 1).
import { io } from "socket.io-client";
import { Socket as EngineSocket } from "engine.io-client";
import { isDeepStrictEqual } from "node:util";

const [mode, url] = process.argv.slice(2);
const results = {};

function fail(error) {
  console.log(JSON.stringify({ ok: false, mode, error: String(error) }));
  process.exit(1);
}
setTimeout(() => fail("timed out after 15 s; results so far: " + JSON.stringify(results)), 15000).unref();

function expectEqual(what, got, want) {
  if (!isDeepStrictEqual(got, want)) {
    throw new Error(`${what}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
  }
}

function once(emitter, event) {
  return new Promise((resolve) => emitter.once(event, (...args) => resolve(args)));
}

async function socketio(transports) {
  const auth = { token: "123", nested: { a: [1, 2] } };
  const socket = io(url, { transports, auth, forceNew: true, reconnection: false });
  const [gotAuth] = await once(socket, "auth");
  expectEqual("auth on /", gotAuth, auth);

  const args = [1, "2", { 3: [4] }, Buffer.from([1, 2, 3]), { nested: Buffer.from("xyz") }];
  const back = once(socket, "message-back");
  socket.emit("message", ...args);
  expectEqual("message-back", await back, args);

  const acked = await new Promise((resolve) =>
    socket.emit("message-with-ack", ...args, (...reply) => resolve(reply)),
  );
  expectEqual("message-with-ack", acked, args);

  // Survive a few heartbeats (interval 300 ms, timeout 200 ms): three pings come and are
  // answered (waited for as events, not for a time).
  await new Promise((resolve) => {
    let pings = 0;
    const onPing = () => {
      if (++pings === 3) {
        socket.io.off("ping", onPing);
        resolve();
      }
    };
    socket.io.on("ping", onPing);
  });
  expectEqual("still connected after heartbeats", socket.connected, true);

  const custom = io(url + "/custom", { transports, auth: { x: 1 }, forceNew: true, reconnection: false });
  const [customAuth] = await once(custom, "auth");
  expectEqual("auth on /custom", customAuth, { x: 1 });

  const noAuth = io(url, { transports, forceNew: true, reconnection: false });
  const [emptyAuth] = await once(noAuth, "auth");
  expectEqual("auth without handshake auth", emptyAuth, {});

  for (const s of [socket, custom, noAuth]) s.disconnect();
  results[transports.join("+")] = "ok";
}

function engineio(transports) {
  return new Promise((resolve, reject) => {
    const socket = new EngineSocket(url, { path: "/engine.io/", transports });
    const sent = ["hello", "ünïcödé \u{1F600}", new Uint8Array([0, 1, 2, 255])];
    const received = [];
    socket.on("open", () => sent.forEach((m) => socket.send(m)));
    socket.on("message", (data) => {
      received.push(typeof data === "string" ? data : new Uint8Array(data));
      if (received.length === sent.length) {
        try {
          expectEqual("engine echo", received.map(normalise), sent.map(normalise));
          socket.close();
          results[transports.join("+")] = "ok";
          resolve();
        } catch (e) {
          reject(e);
        }
      }
    });
    socket.on("error", (e) => reject(new Error("engine error: " + e)));
  });
}

function normalise(m) {
  return typeof m === "string" ? m : Array.from(m);
}

async function handshakeTimings() {
  const body = await (await fetch(url + "/socket.io/?EIO=4&transport=polling")).text();
  const open = JSON.parse(body.slice(1));
  expectEqual("handshake timings", [open.pingInterval, open.pingTimeout, open.maxPayload], [300, 200, 1000000]);
}

try {
  if (mode === "socketio") await handshakeTimings();
  for (const transports of [["polling"], ["websocket"], ["polling", "websocket"]]) {
    if (mode === "socketio") await socketio(transports);
    else if (mode === "engineio") await engineio(transports);
    else fail("mode must be socketio or engineio");
  }
  console.log(JSON.stringify({ ok: true, mode, results }));
  process.exit(0);
} catch (e) {
  fail(e && e.stack ? e.stack : e);
}
