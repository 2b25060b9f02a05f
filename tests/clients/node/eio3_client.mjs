// socket.io-client 2.5.0 (Engine.IO v3, Socket.IO protocol v4) against siohub with
// `[engine] allow_eio3 = true`.
//
//   node eio3_client.mjs scenario <url> <transport>   against the scenario server
//   node eio3_client.mjs hub <url> <transport>        against a hub whose "/" lets clients
//                                                     join and publish
//
//   transport: polling | websocket | upgrade
//
// Prints one JSON line on stdout: {"ok":true,..} (exit 0) or {"ok":false,"error":..} (exit 1).

import io from "socket.io-client-v2";

const STEP_MS = 5000;
const [, , mode, url, transport] = process.argv;
const opened = [];
const report = { ok: false, mode, transport, sids: [] };

function finish(ok, extra = {}) {
  Object.assign(report, { ok }, extra);
  for (const s of opened) s.close();
  process.stdout.write(JSON.stringify(report) + "\n");
  setTimeout(() => process.exit(ok ? 0 : 1), 200);
}

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

function options(extra = {}) {
  const base = { forceNew: true, reconnectionDelay: 100, reconnectionDelayMax: 200 };
  if (transport === "polling") base.transports = ["polling"];
  if (transport === "websocket") base.transports = ["websocket"];
  return { ...base, ...extra };
}

function open(nsp = "/", extra = {}) {
  const socket = io(url + nsp, options(extra));
  opened.push(socket);
  return socket;
}

function once(socket, event) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${STEP_MS} ms`)), STEP_MS);
    socket.once(event, (...args) => {
      clearTimeout(timer);
      resolve(args);
    });
  });
}

function ack(socket, event, ...args) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ack for ${event}`)), STEP_MS);
    socket.emit(event, ...args, (...resp) => {
      clearTimeout(timer);
      resolve(resp);
    });
  });
}


async function connected(socket) {
  if (!socket.connected) await once(socket, "connect");
  if (transport === "upgrade" && socket.io.engine.transport.name !== "websocket") {
    await once(socket.io.engine, "upgrade");
  }
  report.sids.push(socket.id);
  return socket;
}

function sameBytes(a, b) {
  return Buffer.isBuffer(a) && Buffer.compare(a, Buffer.from(b)) === 0;
}

async function scenario() {
  const root = await connected(open());
  const engineId = root.io.engine.id;
  assert(root.id === engineId, `socket id ${root.id} is not the engine id ${engineId}`);
  const [who] = await ack(root, "whoami");
  assert(who.sid === root.id && who.nsp === "/", `whoami: ${JSON.stringify(who)}`);

  // Events both ways, text and binary; a non-ASCII string checks the UTF-16 lengths.
  const back = once(root, "echo-back");
  root.emit("echo", "héllo 😀", { n: 1 }, Buffer.from([1, 2, 3]));
  const [text, obj, bin] = await back;
  assert(text === "héllo 😀" && obj.n === 1, `echo-back: ${text} ${JSON.stringify(obj)}`);
  assert(sameBytes(bin, [1, 2, 3]), `echo-back binary: ${bin}`);

  // Acks both ways.
  const acked = await ack(root, "echo-ack", "a", Buffer.from([9]));
  assert(acked[0] === "a" && sameBytes(acked[1], [9]), `ack: ${JSON.stringify(acked)}`);
  root.on("question", (q, reply) => reply({ got: q }));
  const answered = once(root, "answer-received");
  root.emit("ask-client");
  const [answer] = await answered;
  assert(answer.got && answer.got.q === 1, `server ack: ${JSON.stringify(answer)}`);

  // The heartbeat: the client pings, the session outlives several ping intervals (three
  // pongs come back, waited for as events, not for a time).
  await new Promise((resolve) => {
    let pongs = 0;
    const onPong = () => {
      if (++pongs === 3) {
        root.io.off("pong", onPong);
        resolve();
      }
    };
    root.io.on("pong", onPong);
  });
  assert(root.connected && root.io.engine.id === engineId, "the session did not survive");
  const [again] = await ack(root, "echo-ack", "still");
  assert(again === "still", "no ack after the heartbeat wait");

  // A namespace with a query: the query is the auth payload.
  const secure = open("/secure", { query: { token: "s3cret" } });
  const welcome = once(secure, "welcome");
  await connected(secure);
  assert(secure.id === `/secure#${secure.io.engine.id}`, `secure id ${secure.id}`);
  const [w] = await welcome;
  assert(w.auth && w.auth.token === "s3cret", `welcome: ${JSON.stringify(w)}`);
  const [s] = await ack(secure, "echo-ack", "in secure");
  assert(s === "in secure", "no ack on /secure");

  // Refusals: middleware (err.data), unknown namespace.
  const refused = open("/secure", { query: { token: "wrong" } });
  const [err] = await once(refused, "error");
  assert(err && err.reason === "bad token", `refusal: ${JSON.stringify(err)}`);
  const unknown = open("/nope");
  const [err2] = await once(unknown, "error");
  assert(err2 && err2.message === "Invalid namespace", `unknown: ${JSON.stringify(err2)}`);

  // Reconnect: the transport is cut, the manager opens a new session, implicitly on "/".
  const reconnected = once(root, "reconnect");
  root.io.engine.close();
  await reconnected;
  await connected(root);
  assert(root.io.engine.id !== engineId, "reconnected on the same session");
  const [after] = await ack(root, "echo-ack", "after");
  assert(after === "after", "no ack after the reconnect");
}

async function hub() {
  const a = await connected(open());
  const b = await connected(open());
  for (const s of [a, b]) {
    const [joined] = await ack(s, "join", "room-1");
    assert(joined.ok === true, `join: ${JSON.stringify(joined)}`);
  }
  const news = once(b, "news");
  const [published] = await ack(a, "publish", {
    room: "room-1",
    event: "news",
    data: { x: 1, bin: Buffer.from([5, 6]) },
  });
  assert(published.ok === true && published.recipients === 1, `publish: ${JSON.stringify(published)}`);
  const [got] = await news;
  assert(got.x === 1 && sameBytes(got.bin, [5, 6]), `news: ${JSON.stringify(got)}`);
}

const run = mode === "hub" ? hub : scenario;
setTimeout(() => finish(false, { error: "scenario timed out" }), 20000).unref();
run().then(
  () => finish(true),
  (e) => finish(false, { error: String(e && e.stack ? e.stack : e) }),
);
