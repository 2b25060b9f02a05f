// Real-client scenarios for siohub, using the official socket.io-client.
//
//   node scenario.mjs <scenario> <url> <transport>
//
//   scenario:  connect | echo | ack | server-ack | binary | namespace-auth |
//              refused-namespace | disconnect-reconnect
//   url:       base URL of the scenario server, e.g. http://127.0.0.1:3000 (path /socket.io/)
//   transport: polling | websocket | upgrade
//
// Prints exactly one JSON line on stdout:
//   {"ok":true,"scenario":..,"transport":..,"sids":[..],"details":{..}}   exit 0
//   {"ok":false,"scenario":..,"transport":..,"error":"..","sids":[..]}    exit 1
// Diagnostics (if any) go to stderr.

import { io, Manager } from "socket.io-client";

const SCENARIO_TIMEOUT_MS = 15_000;
const STEP_TIMEOUT_MS = 5_000;
const TRANSPORTS = ["polling", "websocket", "upgrade"];

const [, , scenario, rawUrl, transport] = process.argv;
const sids = []; // every Socket.IO socket id this run had, in order
const sockets = []; // every socket created, closed at the end
let finished = false;

function finish(result, code) {
  if (finished) return;
  finished = true;
  for (const s of sockets) {
    try {
      s.disconnect();
    } catch {
      /* ignore */
    }
  }
  process.stdout.write(JSON.stringify(result) + "\n");
  // A short grace so the DISCONNECT / close packets reach the server and its records show a
  // clean "client namespace disconnect" rather than a ping timeout.
  setTimeout(() => process.exit(code), 200);
}

function fail(error) {
  finish({ ok: false, scenario, transport, error: String(error), sids }, 1);
}

class AssertionError extends Error {}

function assert(cond, message) {
  if (!cond) throw new AssertionError(message);
}

// ---------------------------------------------------------------------------------------------
// Comparison helpers: binary of any flavour (Buffer, ArrayBuffer, typed array) is compared by
// content; objects by keys regardless of order.

function isBinary(v) {
  return Buffer.isBuffer(v) || v instanceof ArrayBuffer || ArrayBuffer.isView(v);
}

function toBuffer(v) {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof ArrayBuffer) return Buffer.from(v);
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

function canon(v) {
  if (v === undefined) return { $undefined: true };
  if (isBinary(v)) return { $bin: toBuffer(v).toString("hex") };
  if (Array.isArray(v)) return v.map(canon);
  if (v && typeof v === "object") {
    const out = {};
    for (const k of Object.keys(v).sort()) out[k] = canon(v[k]);
    return out;
  }
  return v;
}

function show(v) {
  // Long binaries are summarised so error messages stay readable.
  const s = JSON.stringify(canon(v), (k, x) =>
    x && typeof x === "object" && typeof x.$bin === "string" && x.$bin.length > 64
      ? { $bin: `${x.$bin.length / 2} bytes, starts ${x.$bin.slice(0, 16)}` }
      : x,
  );
  return s.length > 600 ? s.slice(0, 600) + "..." : s;
}

function assertDeepEqual(got, expected, what) {
  const g = JSON.stringify(canon(got));
  const e = JSON.stringify(canon(expected));
  assert(g === e, `${what}: expected ${show(expected)}, got ${show(got)}`);
}

function assertBinaryKinds(got, what) {
  // Every binary that comes back must be a real binary object, not a placeholder or a string.
  const walk = (v, path) => {
    if (isBinary(v)) return;
    if (Array.isArray(v)) return v.forEach((x, i) => walk(x, `${path}[${i}]`));
    if (v && typeof v === "object") {
      assert(!("_placeholder" in v), `${what}: unresolved binary placeholder at ${path}`);
      for (const [k, x] of Object.entries(v)) walk(x, `${path}.${k}`);
    }
  };
  walk(got, "args");
}

// ---------------------------------------------------------------------------------------------
// Async helpers

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new AssertionError(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// Collects every occurrence of an event, so nothing is lost between awaits.
class Mailbox {
  constructor(emitter, event) {
    this.event = event;
    this.items = [];
    this.waiters = [];
    emitter.on(event, (...args) => {
      if (this.waiters.length) this.waiters.shift()(args);
      else this.items.push(args);
    });
  }
  next(what = `'${this.event}'`, ms = STEP_TIMEOUT_MS) {
    if (this.items.length) return Promise.resolve(this.items.shift());
    return withTimeout(new Promise((resolve) => this.waiters.push(resolve)), ms, what);
  }
  get pending() {
    return this.items.length;
  }
}

function clientOptions(extra = {}) {
  const base = { forceNew: true, reconnection: false, timeout: 10_000 };
  if (transport === "polling") Object.assign(base, { transports: ["polling"], upgrade: false });
  else if (transport === "websocket") Object.assign(base, { transports: ["websocket"] });
  else Object.assign(base, { transports: ["polling", "websocket"], upgrade: true, rememberUpgrade: false });
  return Object.assign(base, extra);
}

// Tracks, for every engine a manager opens, which transport it opened with.
function trackEngines(manager) {
  const info = { openedWith: [] };
  manager.on("open", () => info.openedWith.push(manager.engine.transport.name));
  return info;
}

// Waits until the engine of this socket runs the transport the CLI asked for.
async function verifyTransport(socket, engineInfo, what) {
  const engine = socket.io.engine;
  assert(engine, `${what}: no engine`);
  const opened = engineInfo.openedWith[engineInfo.openedWith.length - 1];
  if (transport === "polling") {
    assert(engine.transport.name === "polling", `${what}: expected transport polling, got ${engine.transport.name}`);
    return "polling";
  }
  if (transport === "websocket") {
    assert(opened === "websocket", `${what}: expected engine to open with websocket, got ${opened}`);
    assert(engine.transport.name === "websocket", `${what}: expected transport websocket, got ${engine.transport.name}`);
    return "websocket";
  }
  // upgrade: must have opened with polling and then upgraded to websocket
  assert(opened === "polling", `${what}: expected engine to open with polling before upgrading, got ${opened}`);
  if (engine.transport.name !== "websocket") {
    await withTimeout(
      new Promise((resolve) => engine.once("upgrade", resolve)),
      STEP_TIMEOUT_MS,
      `${what}: engine 'upgrade' to websocket (still ${engine.transport.name})`,
    );
  }
  assert(engine.transport.name === "websocket", `${what}: expected transport websocket after upgrade, got ${engine.transport.name}`);
  return "polling->websocket";
}

function waitConnect(socket, what) {
  return withTimeout(
    new Promise((resolve, reject) => {
      if (socket.connected) return resolve();
      const onConnect = () => {
        socket.off("connect_error", onError);
        resolve();
      };
      const onError = (err) => {
        socket.off("connect", onConnect);
        reject(new AssertionError(`${what}: unexpected connect_error: ${err && err.message}${err && err.data !== undefined ? " " + show(err.data) : ""}`));
      };
      socket.once("connect", onConnect);
      socket.once("connect_error", onError);
    }),
    STEP_TIMEOUT_MS * 2,
    `${what}: connect`,
  );
}

function waitConnectError(socket, what) {
  return withTimeout(
    new Promise((resolve, reject) => {
      const onConnect = () => {
        socket.off("connect_error", onError);
        reject(new AssertionError(`${what}: expected connect_error, but the socket connected (id ${socket.id})`));
      };
      const onError = (err) => {
        socket.off("connect", onConnect);
        resolve(err);
      };
      socket.once("connect", onConnect);
      socket.once("connect_error", onError);
    }),
    STEP_TIMEOUT_MS * 2,
    `${what}: connect_error`,
  );
}

// Creates a socket (own manager), registers `setup` listeners before it connects, and waits for
// connect plus the requested transport.
async function openSocket(nsp, { setup, extra, what = nsp } = {}) {
  const socket = io(rawUrl.replace(/\/+$/, "") + nsp, clientOptions(extra));
  sockets.push(socket);
  const engineInfo = trackEngines(socket.io);
  if (setup) setup(socket);
  await waitConnect(socket, what);
  assert(typeof socket.id === "string" && socket.id.length > 0, `${what}: socket.id should be a non-empty string, got ${show(socket.id)}`);
  sids.push(socket.id);
  const used = await verifyTransport(socket, engineInfo, what);
  return { socket, engineInfo, used };
}

async function whoami(socket, nsp, what) {
  const reply = await socket.timeout(STEP_TIMEOUT_MS).emitWithAck("whoami");
  assertDeepEqual(reply, { sid: socket.id, nsp }, `${what}: whoami ack`);
  return reply;
}

// Emits with an ack and returns ALL ack arguments.
function emitAckAll(socket, event, ...args) {
  return new Promise((resolve, reject) => {
    socket.timeout(STEP_TIMEOUT_MS).emit(event, ...args, (err, ...resp) => {
      if (err) reject(new AssertionError(`no ack for '${event}' within ${STEP_TIMEOUT_MS} ms`));
      else resolve(resp);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Test data

const JSON_VALUES = [
  ["string", "hello"],
  ["empty string", ""],
  ["unicode", "héllo wörld — 你好 ✓ 🚀🎉👩‍👩‍👧"],
  ["escapes", 'quote " backslash \\ newline \n tab \t slash / record-sep \u001e nul-ish \u0001'],
  ["int", 42],
  ["zero", 0],
  ["float", 3.14159],
  ["negative int", -17],
  ["negative float", -2.5],
  ["max safe int", 9007199254740991],
  ["true", true],
  ["false", false],
  ["null", null],
  ["nested object", { a: 1, b: { c: [1, 2, { d: "e" }], s: "x" }, t: true, n: null }],
  ["array", [1, "two", null, true, { k: "v" }, [3, [4]]]],
  ["empty object", {}],
  ["empty array", []],
];

const MULTI_ARGS = ["a", 1, { b: 2 }, [3, "c"], null];

function allBytes() {
  const b = Buffer.alloc(256);
  for (let i = 0; i < 256; i++) b[i] = i;
  return b;
}

function bigBuffer(n) {
  // Deterministic pseudo-random content (xorshift32) so corruption anywhere is caught.
  const b = Buffer.alloc(n);
  let x = 0x9e3779b9;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

function sha(buf) {
  // Small checksum for details (not cryptographic).
  let h = 0;
  for (const byte of buf) h = (Math.imul(h, 31) + byte) >>> 0;
  return h.toString(16);
}

// ---------------------------------------------------------------------------------------------
// Scenarios

const scenarios = {
  async connect() {
    const { socket, used } = await openSocket("/");
    const reply = await whoami(socket, "/", "connect");
    return { sid: socket.id, engine_sid: socket.io.engine.id, transport_used: used, whoami: reply };
  },

  async echo() {
    const { socket, used } = await openSocket("/");
    const box = new Mailbox(socket, "echo-back");
    for (const [name, value] of JSON_VALUES) {
      socket.emit("echo", value);
      const got = await box.next(`echo-back for ${name}`);
      assertDeepEqual(got, [value], `echo ${name}`);
    }
    socket.emit("echo", ...MULTI_ARGS);
    assertDeepEqual(await box.next("echo-back for 5 args"), MULTI_ARGS, "echo with 5 args");

    socket.emit("echo", "first", { n: 1 });
    assertDeepEqual(await box.next("echo-back for 2 args"), ["first", { n: 1 }], "echo with 2 args");

    const N = 20;
    for (let i = 0; i < N; i++) socket.emit("echo", "seq", i, { i });
    for (let i = 0; i < N; i++) {
      const got = await box.next(`echo-back #${i} of the ${N} in a row`);
      assertDeepEqual(got, ["seq", i, { i }], `in-order echo #${i}`);
    }
    assert(box.pending === 0, `unexpected extra echo-back events: ${box.pending}`);
    return { sid: socket.id, transport_used: used, single_values: JSON_VALUES.length, multi_args: MULTI_ARGS.length, in_order: N };
  },

  async ack() {
    const { socket, used } = await openSocket("/");
    const shapes = [
      ["one string", ["x"]],
      ["one object", [{ a: { b: [1, 2] }, u: "ü🚀" }]],
      ["three ints", [1, 2, 3]],
      ["five mixed", ["multi", 2, true, null, { k: "v" }]],
      ["array arg", [[1, [2, [3]]]]],
      ["no args", []],
    ];
    for (const [name, args] of shapes) {
      const resp = await emitAckAll(socket, "echo-ack", ...args);
      assertDeepEqual(resp, args, `echo-ack ${name}`);
    }
    // emitWithAck returns the first ack argument
    const first = await socket.timeout(STEP_TIMEOUT_MS).emitWithAck("echo-ack", { via: "emitWithAck" });
    assertDeepEqual(first, { via: "emitWithAck" }, "emitWithAck echo-ack");
    // several acks in flight at once are matched to the right callbacks
    const parallel = await Promise.all(
      Array.from({ length: 10 }, (_, i) => emitAckAll(socket, "echo-ack", "p", i)),
    );
    parallel.forEach((resp, i) => assertDeepEqual(resp, ["p", i], `parallel echo-ack #${i}`));
    // Every echo-ack sent: the shapes, the emitWithAck, the parallel ones.
    const sent = shapes.length + 1 + parallel.length;
    return { sid: socket.id, transport_used: used, shapes: shapes.length, parallel: parallel.length, sent };
  },

  async "server-ack"() {
    const questions = [];
    const { socket, used } = await openSocket("/", {
      setup: (s) =>
        s.on("question", (q, ack) => {
          questions.push(q);
          assert(typeof ack === "function", "question should carry an ack callback");
          ack({ a: 42, echo: q });
        }),
    });
    const answers = new Mailbox(socket, "answer-received");
    socket.emit("ask-client");
    const got = await answers.next("answer-received");
    assert(questions.length === 1, `expected 1 question, got ${questions.length}`);
    assertDeepEqual(questions[0], { q: 1 }, "question argument");
    assertDeepEqual(got, [{ a: 42, echo: { q: 1 } }], "answer-received");
    return { sid: socket.id, transport_used: used, question: questions[0], answer: got[0] };
  },

  async binary() {
    const { socket, used } = await openSocket("/");
    const box = new Mailbox(socket, "echo-back");
    const bytes = allBytes();
    const small = Buffer.from([0xde, 0xad, 0xbe, 0xef]);
    const cases = [
      ["all 256 byte values", [bytes]],
      ["two buffers", [bytes, small]],
      ["nested in object", [{ name: "file.bin", data: bytes, meta: { parts: [small, "x", { deeper: small }] } }]],
      ["mixed with json", ["text", 1, bytes, { j: true, inner: [small] }, null]],
      ["typed array view", [new Uint8Array([1, 2, 3, 250])]],
    ];
    for (const [name, args] of cases) {
      socket.emit("echo", ...args);
      const got = await box.next(`echo-back for ${name}`);
      assertBinaryKinds(got, `echo ${name}`);
      assertDeepEqual(got, args, `binary echo ${name}`);
    }
    const ackArgs = [bytes, { blob: small, list: [small, bytes] }, "tail"];
    const resp = await emitAckAll(socket, "echo-ack", ...ackArgs);
    assertBinaryKinds(resp, "echo-ack binary");
    assertDeepEqual(resp, ackArgs, "binary through echo-ack");

    const big = bigBuffer(100 * 1024);
    socket.emit("echo", { big });
    const gotBig = await box.next("echo-back for the 100 KB buffer");
    assertBinaryKinds(gotBig, "echo 100 KB");
    assert(isBinary(gotBig[0] && gotBig[0].big), `100 KB echo: expected a binary, got ${show(gotBig)}`);
    assert(toBuffer(gotBig[0].big).equals(big), `100 KB echo: content differs (len ${toBuffer(gotBig[0].big).length}, expected ${big.length})`);
    const bigAck = await emitAckAll(socket, "echo-ack", big);
    assert(bigAck.length === 1 && isBinary(bigAck[0]) && toBuffer(bigAck[0]).equals(big), "100 KB through echo-ack differs");
    return { sid: socket.id, transport_used: used, cases: cases.length + 3, big_len: big.length, big_sum: sha(big) };
  },

  async "namespace-auth"() {
    const welcomes = [];
    const good = await openSocket("/secure", {
      extra: { auth: { token: "s3cret" } },
      setup: (s) => s.on("welcome", (w) => welcomes.push(w)),
      what: "/secure with good token",
    });
    const welcomeBox = new Mailbox(good.socket, "welcome"); // late arrivals
    if (welcomes.length === 0) welcomes.push((await welcomeBox.next("welcome on /secure"))[0]);
    assertDeepEqual(welcomes[0], { auth: { token: "s3cret" } }, "welcome payload");
    const ackResp = await emitAckAll(good.socket, "echo-ack", "secure", { n: 1 });
    assertDeepEqual(ackResp, ["secure", { n: 1 }], "/secure echo-ack");

    const results = {};
    for (const [label, extra] of [
      ["wrong token", { auth: { token: "wrong" } }],
      ["no auth", {}],
    ]) {
      const s = io(rawUrl.replace(/\/+$/, "") + "/secure", clientOptions(extra));
      sockets.push(s);
      const err = await waitConnectError(s, `/secure with ${label}`);
      assert(err && err.message === "unauthorized", `/secure with ${label}: expected message 'unauthorized', got ${show(err && err.message)}`);
      assertDeepEqual(err.data, { reason: "bad token" }, `/secure with ${label}: connect_error data`);
      assert(!s.connected && s.id === undefined, `/secure with ${label}: socket should not be connected`);
      results[label] = { message: err.message, data: err.data };
    }
    return { sid: good.socket.id, transport_used: good.used, welcome: welcomes[0], rejected: results };
  },

  async "refused-namespace"() {
    // One manager (one Engine.IO connection) multiplexing "/" and "/nope".
    const manager = new Manager(rawUrl.replace(/\/+$/, ""), clientOptions());
    const engineInfo = trackEngines(manager);
    const root = manager.socket("/");
    const nope = manager.socket("/nope");
    sockets.push(root, nope);
    const [, err] = await Promise.all([waitConnect(root, "/ on shared manager"), waitConnectError(nope, "/nope")]);
    assert(err && err.message === "Invalid namespace", `/nope: expected message 'Invalid namespace', got ${show(err && err.message)}`);
    assert(!nope.connected, "/nope should not be connected");
    sids.push(root.id);
    const used = await verifyTransport(root, engineInfo, "/ on shared manager");
    // The refusal must not have hurt the shared connection.
    assert(root.connected, "/ should still be connected after /nope was refused");
    const reply = await whoami(root, "/", "/ after /nope refused");
    const echoed = await emitAckAll(root, "echo-ack", "still-alive");
    assertDeepEqual(echoed, ["still-alive"], "/ echo-ack after /nope refused");
    assert(engineInfo.openedWith.length === 1, `expected a single engine connection, got ${engineInfo.openedWith.length}`);
    return { sid: root.id, engine_sid: manager.engine.id, transport_used: used, refused: { nsp: "/nope", message: err.message }, whoami: reply };
  },

  async "disconnect-reconnect"() {
    const { socket, engineInfo, used } = await openSocket("/", { what: "first connect" });
    const disconnects = new Mailbox(socket, "disconnect");
    const sid1 = socket.id;
    await whoami(socket, "/", "first connect");

    // (a) client-side disconnect, then reconnect the same socket
    socket.disconnect();
    const [reasonA] = await disconnects.next("disconnect after socket.disconnect()");
    assert(reasonA === "io client disconnect", `client disconnect reason: expected 'io client disconnect', got ${show(reasonA)}`);
    assert(!socket.connected, "socket should be disconnected after socket.disconnect()");
    socket.connect();
    await waitConnect(socket, "reconnect");
    const sid2 = socket.id;
    sids.push(sid2);
    await verifyTransport(socket, engineInfo, "reconnect");
    assert(typeof sid2 === "string" && sid2.length > 0 && sid2 !== sid1, `reconnect: expected a new sid, got ${show(sid2)} (old ${sid1})`);
    await whoami(socket, "/", "reconnect");

    // (b) server-side disconnect
    socket.emit("kick-me");
    const [reasonB] = await disconnects.next("disconnect after kick-me");
    assert(reasonB === "io server disconnect", `kick-me: expected reason 'io server disconnect', got ${show(reasonB)}`);
    assert(!socket.connected, "socket should be disconnected after kick-me");

    // (c) a kicked socket can connect again
    socket.connect();
    await waitConnect(socket, "reconnect after kick");
    const sid3 = socket.id;
    sids.push(sid3);
    await verifyTransport(socket, engineInfo, "reconnect after kick");
    assert(sid3 !== sid2 && sid3 !== sid1, `reconnect after kick: expected a new sid, got ${sid3}`);
    await whoami(socket, "/", "reconnect after kick");
    return {
      transport_used: used,
      first_sid: sid1,
      reconnect_sid: sid2,
      after_kick_sid: sid3,
      client_disconnect_reason: reasonA,
      kick_reason: reasonB,
      engines_opened: engineInfo.openedWith,
    };
  },
};

// ---------------------------------------------------------------------------------------------

async function main() {
  if (!scenarios[scenario] || !rawUrl || !TRANSPORTS.includes(transport)) {
    fail(
      `usage: node scenario.mjs <scenario> <url> <transport>; scenario one of ${Object.keys(scenarios).join(", ")}; ` +
        `transport one of ${TRANSPORTS.join(", ")} (got ${JSON.stringify(process.argv.slice(2))})`,
    );
    return;
  }
  const hard = setTimeout(
    () => fail(`scenario '${scenario}' (${transport}) did not finish within ${SCENARIO_TIMEOUT_MS / 1000} s`),
    SCENARIO_TIMEOUT_MS,
  );
  try {
    const details = await scenarios[scenario]();
    clearTimeout(hard);
    finish({ ok: true, scenario, transport, sids, details }, 0);
  } catch (e) {
    clearTimeout(hard);
    fail(e instanceof AssertionError ? e.message : `unexpected exception: ${e && e.stack ? e.stack : e}`);
  }
}

process.on("unhandledRejection", (e) => fail(`unhandled rejection: ${e && e.stack ? e.stack : e}`));
process.on("uncaughtException", (e) => fail(e instanceof AssertionError ? e.message : `uncaught exception: ${e && e.stack ? e.stack : e}`));

main();
