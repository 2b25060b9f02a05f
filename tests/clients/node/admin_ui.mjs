// The hosted @socket.io/admin-ui 0.5.1 (and siohub's dashboard) against siohub's /admin,
// with socket.io-client 4.8 connecting the way the hosted UI does: auth {username,
// password} (or {sessionId}), withCredentials, and the page's Origin
// (https://admin.socket.io) on every request. Plain client sockets are what it watches and
// what its commands act on.
//
//   node admin_ui.mjs <base url> <scenario>
//
// Scenarios (the Rust test starts the server each one expects):
//   full       admin/s3cret, commands allowed: every event's shape, each command's effect,
//              wrong credentials, session-id reconnect, api_key login, the siohub:* requests
//   read_only  admin/s3cret, [admin] read_only: no command features, commands refused
//   bounds     32 admin sockets at most; the 33rd is refused
//   off        no password hash, no API key: /admin refuses, saying how to turn it on;
//              with an API key as 3rd argument (keys configured, no hash): the key opens it,
//              a password login is refused saying admin logins are off
//   names      events with 100 KiB names: the watchers get them cut (pushes and the
//              recent events stay small) and are not cut off as slow consumers
//   reserved   emit of a name Socket.IO reserves is refused (INVALID_PAYLOAD), clients stay
//   race       100 /admin sockets connecting at once: at most 32 stay connected
//   flood      one watcher sends N (3rd argument, 100000) requests: at most 8 of them are
//              handled at once, the rest answered RATE_LIMIT_EXCEEDED, another watcher is
//              served meanwhile
//   login_flood  sockets from 127.0.0.2 retry wrong passwords; the operator's password
//              logins from 127.0.0.1 pass every time, the flood is refused by its budget
//
// Prints one JSON line: {"ok":true,...} or {"ok":false,"error":"..."}.

import { io } from "socket.io-client";

const base = (process.argv[2] || "").replace(/\/$/, "");
const scenario = process.argv[3] || "full";
const ORIGIN = "https://admin.socket.io";
const opened = [];

function fail(message) {
  throw new Error(message);
}

function check(cond, message) {
  if (!cond) fail(message);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Waits until `pred()` is truthy (at most `ms`), returning its value.
async function until(pred, what, ms = 8000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = pred();
    if (v) return v;
    if (Date.now() > deadline) fail(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const isIso = (s) => typeof s === "string" && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(s);

// Opens a socket and records every event it gets; resolves once connected or refused.
function open(nsp, { auth, transports } = {}) {
  const socket = io(base + nsp, {
    forceNew: true,
    reconnection: false,
    withCredentials: true,
    extraHeaders: { origin: ORIGIN },
    transports: transports ?? ["polling", "websocket"],
    auth,
    timeout: 8000,
  });
  opened.push(socket);
  const rec = { socket, events: [], disconnects: [], error: null };
  socket.onAny((event, ...args) => rec.events.push({ event, args }));
  socket.on("disconnect", (reason) => rec.disconnects.push(reason));
  return new Promise((resolve) => {
    socket.on("connect", () => resolve(rec));
    socket.on("connect_error", (err) => {
      rec.error = { message: err.message, data: err.data };
      resolve(rec);
    });
  });
}

const eventsOf = (rec, name) => rec.events.filter((e) => e.event === name);

function adminAuth() {
  return { username: "admin", password: "s3cret" };
}

// The CORS answers the browser checks for the hosted UI (Node applies none itself).
async function checkCors() {
  const url = `${base}/socket.io/?EIO=4&transport=polling`;
  const pre = await fetch(url, {
    method: "OPTIONS",
    headers: {
      origin: ORIGIN,
      "access-control-request-method": "GET",
      "access-control-request-headers": "content-type",
    },
  });
  check(pre.status === 204, `preflight status ${pre.status}`);
  check(pre.headers.get("access-control-allow-origin") === ORIGIN, "preflight: origin not echoed");
  check(pre.headers.get("access-control-allow-credentials") === "true", "preflight: no credentials");
  const get = await fetch(url, { headers: { origin: ORIGIN } });
  check(get.status === 200, `handshake status ${get.status}`);
  check(get.headers.get("access-control-allow-origin") === ORIGIN, "handshake: origin not echoed");
  check(get.headers.get("access-control-allow-credentials") === "true", "handshake: no credentials");
  const foreign = await fetch(url, { headers: { origin: "https://evil.example" } });
  check(foreign.status === 403, `a foreign origin got ${foreign.status}`);
}

async function full() {
  const report = {};
  await checkCors();

  // Wrong credentials, an unknown session id, a wrong API key.
  for (const auth of [
    { username: "admin", password: "wrong" },
    { username: "root", password: "s3cret" },
    { sessionId: "not-a-session" },
    { api_key: "wrong-key" },
    undefined,
  ]) {
    const bad = await open("/admin", { auth });
    check(bad.error, `auth ${JSON.stringify(auth)} was accepted`);
    check(bad.error.message === "invalid credentials", `auth ${JSON.stringify(auth)}: ${bad.error.message}`);
  }

  // The official UI's login.
  const ui = await open("/admin", { auth: adminAuth() });
  check(!ui.error, `login refused: ${JSON.stringify(ui.error)}`);
  const session = await until(() => eventsOf(ui, "session")[0], "session");
  check(typeof session.args[0] === "string" && session.args[0].length >= 10, "session id");
  check(ui.events[0].event === "session", `the first event is ${ui.events[0].event}, not session`);
  const config = await until(() => eventsOf(ui, "config")[0], "config");
  const features = config.args[0].supportedFeatures;
  for (const f of ["EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT", "AGGREGATED_EVENTS", "ALL_EVENTS"]) {
    check(features.includes(f), `feature ${f} missing: ${features}`);
  }
  const firstStats = await until(() => eventsOf(ui, "server_stats")[0], "server_stats");
  const stats = firstStats.args[0];
  for (const key of ["serverId", "hostname", "pid", "uptime", "clientsCount", "pollingClientsCount", "aggregatedEvents", "namespaces"]) {
    check(key in stats, `server_stats lacks ${key}`);
  }
  const all = await until(() => eventsOf(ui, "all_sockets")[0], "all_sockets");
  check(Array.isArray(all.args[0]), "all_sockets is an array");

  // A client connects: socket_connected with the serialized socket.
  const c1 = await open("/", { transports: ["websocket"] });
  check(!c1.error, "client c1 connects");
  const connected = await until(
    () => eventsOf(ui, "socket_connected").find((e) => e.args[0].id === c1.socket.id),
    "socket_connected of c1",
  );
  const s = connected.args[0];
  check(s.nsp === "/" && s.transport === "websocket" && typeof s.clientId === "string", `socket: ${JSON.stringify(s)}`);
  check(s.rooms.includes(c1.socket.id), "a socket is in the room of its id");
  for (const key of ["address", "headers", "query", "issued", "secure", "time", "url", "xdomain"]) {
    check(key in s.handshake, `handshake lacks ${key}`);
  }
  check(s.handshake.headers.origin === ORIGIN && s.handshake.xdomain === true, "handshake origin");
  check(isIso(connected.args[1]), `date ${connected.args[1]}`);
  report.socket_connected = true;

  // The client joins a room: room_joined and event_received.
  const joined = await c1.socket.emitWithAck("join", "news");
  check(joined.ok === true, `join: ${JSON.stringify(joined)}`);
  const rj = await until(
    () => eventsOf(ui, "room_joined").find((e) => e.args[1] === "news" && e.args[2] === c1.socket.id),
    "room_joined news",
  );
  check(rj.args[0] === "/" && isIso(rj.args[3]), `room_joined: ${JSON.stringify(rj.args)}`);
  const er = await until(
    () => eventsOf(ui, "event_received").find((e) => e.args[1] === c1.socket.id && e.args[2][0] === "join"),
    "event_received join",
  );
  check(er.args[0] === "/" && er.args[2][1] === "news" && isIso(er.args[3]), `event_received: ${JSON.stringify(er.args)}`);

  // A per-socket emit of the hub (the built-in ping answers with a pong event): event_sent.
  c1.socket.emit("ping", {});
  const es = await until(
    () => eventsOf(ui, "event_sent").find((e) => e.args[1] === c1.socket.id && e.args[2][0] === "pong"),
    "event_sent pong",
  );
  check(es.args[0] === "/" && isIso(es.args[3]), `event_sent: ${JSON.stringify(es.args)}`);

  // Commands as the official UI sends them (no ack).
  ui.socket.emit("emit", "/", "news", "hello", { x: 1 }, "two");
  const hello = await until(() => eventsOf(c1, "hello")[0], "hello on c1");
  check(JSON.stringify(hello.args) === JSON.stringify([{ x: 1 }, "two"]), `hello args ${JSON.stringify(hello.args)}`);
  ui.socket.emit("join", "/", "vip", c1.socket.id);
  await until(
    () => eventsOf(ui, "room_joined").find((e) => e.args[1] === "vip" && e.args[2] === c1.socket.id),
    "room_joined vip",
  );
  // The same with an ack, as the dashboard sends them.
  const j2 = await ui.socket.emitWithAck("join", "/", "vip2", c1.socket.id);
  check(j2.ok === true && j2.sockets === 1, `join with ack: ${JSON.stringify(j2)}`);
  const left = await ui.socket.emitWithAck("leave", "/", "vip", c1.socket.id);
  check(left.ok === true && left.sockets === 1, `leave: ${JSON.stringify(left)}`);
  await until(
    () => eventsOf(ui, "room_left").find((e) => e.args[1] === "vip" && e.args[2] === c1.socket.id),
    "room_left vip",
  );
  const toRoom = await ui.socket.emitWithAck("emit", "/", "vip2", "to-vip2", 42);
  check(toRoom.ok === true && toRoom.sockets === 1, `emit with ack: ${JSON.stringify(toRoom)}`);
  await until(() => eventsOf(c1, "to-vip2").find((e) => e.args[0] === 42), "to-vip2 on c1");
  // `leave` with no filter, as the official UI's Rooms page sends it: the room empties.
  const j3 = await ui.socket.emitWithAck("join", "/", "vip3", c1.socket.id);
  check(j3.ok === true && j3.sockets === 1, `join vip3: ${JSON.stringify(j3)}`);
  const cleared = await ui.socket.emitWithAck("leave", "/", "vip3");
  check(cleared.ok === true && cleared.sockets === 1, `leave with no filter: ${JSON.stringify(cleared)}`);
  await until(
    () => eventsOf(ui, "room_left").find((e) => e.args[1] === "vip3" && e.args[2] === c1.socket.id),
    "room_left vip3",
  );
  const badCommand = await ui.socket.emitWithAck("join", "/", "", c1.socket.id);
  check(badCommand.error?.code === "INVALID_PAYLOAD", `bad join: ${JSON.stringify(badCommand)}`);

  // server_stats every 2 s, with the traffic aggregated (c1 keeps some flowing).
  const pinger = setInterval(() => c1.socket.emit("ping", {}), 100);
  const later = await until(
    () => eventsOf(ui, "server_stats").find((e) => e.args[0].aggregatedEvents.some((a) => a.type === "packetsIn")),
    "server_stats with packetsIn",
    7000,
  ).catch((e) => fail(`${e.message}; server_stats so far: ${JSON.stringify(eventsOf(ui, "server_stats").map((e) => e.args[0].aggregatedEvents))}`));
  clearInterval(pinger);
  const ev = later.args[0].aggregatedEvents.find((a) => a.type === "packetsIn");
  check(typeof ev.timestamp === "number" && ev.count > 0, `aggregated event ${JSON.stringify(ev)}`);
  check(later.args[0].namespaces.some((n) => n.name === "/" && n.socketsCount >= 1), "namespaces in server_stats");
  check(later.args[0].clientsCount >= 2, "clientsCount");

  // The dashboard: reconnects with the session id, then watches aggregates only.
  const dash = await open("/admin", { auth: { sessionId: session.args[0] }, transports: ["websocket"] });
  check(!dash.error, `session-id reconnect refused: ${JSON.stringify(dash.error)}`);
  check(eventsOf(dash, "session").length === 0, "no new session id for a session-id login");
  const watch = await dash.socket.emitWithAck("siohub:watch", {});
  check(watch.ok === true, `siohub:watch: ${JSON.stringify(watch)}`);
  const pushed = await until(() => eventsOf(dash, "siohub:stats")[0], "siohub:stats push", 4000);
  const p = pushed.args[0];
  for (const key of ["node", "read_only", "connections", "namespaces", "rooms", "rates", "totals", "history", "actors", "nodes", "admin"]) {
    check(key in p, `siohub:stats lacks ${key}`);
  }
  check(p.history.length <= 1, "the push carries the newest point only");
  check(p.nodes[0].this === true && p.read_only === false, "nodes / read_only");
  const overview = await dash.socket.emitWithAck("siohub:overview", {});
  check(overview.ok === true && Array.isArray(overview.history), "overview");
  check(overview.actors.some((a) => a.name === "Admin"), "the Admin actor reports itself");
  check(overview.admin.watchers === 2, `watchers ${overview.admin.watchers}`);
  check(overview.connections.total >= 3, "connections in overview");

  // More clients; a dashboard watcher gets no per-socket event.
  const dashSocketEventsBefore = eventsOf(dash, "socket_connected").length;
  const more = [];
  for (let i = 0; i < 5; i++) {
    const transports = [["polling"], ["websocket"], ["polling"], ["websocket"], ["polling", "websocket"]][i];
    const c = await open("/", { transports });
    check(!c.error, `client ${i} connects`);
    more.push(c);
  }
  await until(
    () => more.every((c) => eventsOf(ui, "socket_connected").some((e) => e.args[0].id === c.socket.id)),
    "socket_connected of the five",
  );
  check(eventsOf(dash, "socket_connected").length === dashSocketEventsBefore, "a dashboard watcher got socket_connected");
  // The last one upgrades from polling to websocket: socket_updated.
  const upgraded = more[4];
  await until(() => upgraded.socket.io.engine.transport.name === "websocket", "the upgrade");
  const su = await until(
    () => eventsOf(ui, "socket_updated").find((e) => e.args[0].id === upgraded.socket.id),
    "socket_updated",
  );
  check(su.args[0].nsp === "/" && su.args[0].transport === "websocket", `socket_updated: ${JSON.stringify(su.args)}`);
  check(eventsOf(dash, "all_sockets").length <= 1, "all_sockets once at most");

  // siohub:connections: paged, newest first, filtered on the server.
  const page1 = await dash.socket.emitWithAck("siohub:connections", { per_page: 2, page: 1 });
  check(page1.ok === true && page1.total >= 8 && page1.items.length === 2, `page 1: ${JSON.stringify(page1).slice(0, 300)}`);
  check(page1.items[0].connected_at >= page1.items[1].connected_at, "newest first");
  const page2 = await dash.socket.emitWithAck("siohub:connections", { per_page: 2, page: 2 });
  check(page2.items.length === 2 && page2.items[0].sid !== page1.items[0].sid, "page 2 differs");
  for (const key of ["sid", "transport", "address", "user", "user_agent", "namespaces", "sockets", "packets_in", "packets_out", "bytes_in", "bytes_out", "backlog", "connected_at"]) {
    check(key in page1.items[0], `connection item lacks ${key}`);
  }
  const byId = await dash.socket.emitWithAck("siohub:connections", { q: c1.socket.id.toUpperCase() });
  check(byId.total === 1 && byId.items[0].sockets.some((s) => s.id === c1.socket.id), `q = socket id: ${JSON.stringify(byId).slice(0, 300)}`);
  const byRoom = await dash.socket.emitWithAck("siohub:connections", { q: "vip2" });
  check(byRoom.total === 1 && byRoom.items[0].sockets[0].rooms.includes("vip2"), `q = room: ${JSON.stringify(byRoom).slice(0, 300)}`);
  const admins = await dash.socket.emitWithAck("siohub:connections", { nsp: "/admin" });
  check(admins.total === 2, `nsp = /admin: ${admins.total}`);
  const beyond = await dash.socket.emitWithAck("siohub:connections", { page: 1000 });
  check(beyond.ok === true && beyond.items.length === 0, "a page past the end is empty");

  // siohub:rooms.
  const rooms = await dash.socket.emitWithAck("siohub:rooms", { nsp: "/" });
  check(rooms.ok === true && rooms.namespaces.some((n) => n.name === "/" && n.sockets >= 6), `rooms namespaces: ${JSON.stringify(rooms.namespaces)}`);
  const names = rooms.items.map((r) => r.room);
  check(names.includes("news") && names.includes("vip2") && !names.includes("vip"), `rooms: ${names}`);
  check(!names.includes(c1.socket.id), "a socket-id room is not listed");
  check(rooms.items.find((r) => r.room === "news").members === 1, "news has one member");
  const someRooms = await dash.socket.emitWithAck("siohub:rooms", { q: "VIP", per_page: 1 });
  check(someRooms.total === 1 && someRooms.items[0].room === "vip2", `rooms q: ${JSON.stringify(someRooms)}`);

  // siohub:events.
  const recent = await dash.socket.emitWithAck("siohub:events", {});
  check(recent.ok === true && recent.items.length > 0 && recent.items.length <= 100, "events");
  check(recent.items.some((e) => e.direction === "in" && e.event === "join" && e.socket_id === c1.socket.id), "join among the events");
  check(recent.items.some((e) => e.direction === "out" && e.event === "hello"), "the broadcast among the events");
  check(recent.items.every((e) => typeof e.at === "number" && typeof e.bytes === "number"), "event fields");

  // Bad arguments.
  for (const [event, arg] of [
    ["siohub:connections", { per_page: 0 }],
    ["siohub:connections", { per_page: 101 }],
    ["siohub:connections", { page: "2" }],
    ["siohub:connections", { q: 5 }],
    ["siohub:connections", { bogus: true }],
    ["siohub:rooms", "text"],
    ["siohub:events", 3],
    ["siohub:nope", {}],
  ]) {
    const r = await dash.socket.emitWithAck(event, arg);
    check(r.error?.code === "INVALID_PAYLOAD", `${event} ${JSON.stringify(arg)}: ${JSON.stringify(r)}`);
  }

  // _disconnect: a namespace disconnect, then a whole connection.
  const [c2, c3] = more;
  const [c2id, c3id] = [c2.socket.id, c3.socket.id];
  const d1 = await ui.socket.emitWithAck("_disconnect", "/", false, c2id);
  check(d1.ok === true && d1.sockets === 1, `_disconnect: ${JSON.stringify(d1)}`);
  await until(() => c2.disconnects.includes("io server disconnect"), "c2 disconnected by the server");
  const sd = await until(
    () => eventsOf(ui, "socket_disconnected").find((e) => e.args[1] === c2id),
    "socket_disconnected of c2",
  );
  check(sd.args[0] === "/" && sd.args[2] === "server namespace disconnect" && isIso(sd.args[3]), `socket_disconnected: ${JSON.stringify(sd.args)}`);
  ui.socket.emit("_disconnect", "/", true, c3id);
  await until(() => c3.disconnects.length > 0, "c3's connection closed");
  check(["transport close", "transport error"].includes(c3.disconnects[0]), `c3: ${c3.disconnects}`);
  await until(
    () => eventsOf(ui, "socket_disconnected").find((e) => e.args[1] === c3id),
    "socket_disconnected of c3",
  );
  // A room disconnect reaches its members only.
  const byRoomDisconnect = await ui.socket.emitWithAck("_disconnect", "/", false, "news");
  check(byRoomDisconnect.sockets === 1, `room _disconnect: ${JSON.stringify(byRoomDisconnect)}`);
  await until(() => c1.disconnects.includes("io server disconnect"), "c1 disconnected");
  check(more[3].socket.connected && more[4].socket.connected, "others stay connected");

  // An API key logs in too.
  const keyed = await open("/admin", { auth: { api_key: "test-operator-key" }, transports: ["websocket"] });
  check(!keyed.error, `api_key login: ${JSON.stringify(keyed.error)}`);
  check(eventsOf(keyed, "session").length === 0, "no session id for an API key");
  return report;
}

async function readOnly() {
  const ui = await open("/admin", { auth: adminAuth() });
  check(!ui.error, `login refused: ${JSON.stringify(ui.error)}`);
  const config = await until(() => eventsOf(ui, "config")[0], "config");
  const features = config.args[0].supportedFeatures;
  for (const f of ["EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT"]) {
    check(!features.includes(f), `read-only offers ${f}`);
  }
  check(features.includes("AGGREGATED_EVENTS"), "AGGREGATED_EVENTS");
  const c1 = await open("/", { transports: ["websocket"] });
  await c1.socket.emitWithAck("join", "news");
  for (const args of [
    ["emit", "/", "news", "hello"],
    ["join", "/", "vip", c1.socket.id],
    ["leave", "/", "news", c1.socket.id],
    ["_disconnect", "/", true, c1.socket.id],
  ]) {
    const r = await ui.socket.emitWithAck(...args);
    check(r.error?.code === "PERMISSION_DENIED", `${args[0]}: ${JSON.stringify(r)}`);
  }
  // Without an ack (the official UI): nothing happens either.
  ui.socket.emit("_disconnect", "/", true, c1.socket.id);
  ui.socket.emit("emit", "/", null, "hello");
  const overview = await ui.socket.emitWithAck("siohub:overview", {});
  check(overview.read_only === true, "overview says read-only");
  await sleep(300);
  check(c1.socket.connected && eventsOf(c1, "hello").length === 0, "a refused command had an effect");
  const rooms = await ui.socket.emitWithAck("siohub:rooms", {});
  check(rooms.items.some((r) => r.room === "news" && r.members === 1), "the client is still in news");
  return {};
}

async function off() {
  const withKeys = Boolean(process.argv[4]);
  for (const auth of withKeys ? [{ username: "admin", password: "s3cret" }] : [{ username: "admin", password: "" }, {}]) {
    const refused = await open("/admin", { auth });
    check(refused.error, "admin off accepted a connection");
    check(refused.error.message === "admin access is off: set [admin] password_hash", `message: ${refused.error.message}`);
  }
  // The rest of the hub serves as usual.
  if (process.argv[4]) {
    // API keys configured, no password hash: a key opens it, a password login learns why
    // it cannot.
    const keyed = await open("/admin", { auth: { api_key: process.argv[4] }, transports: ["websocket"] });
    check(!keyed.error, `api_key with no password hash: ${JSON.stringify(keyed.error)}`);
    const wrongKey = await open("/admin", { auth: { api_key: "nope" } });
    check(wrongKey.error?.message === "invalid credentials", `a wrong key: ${JSON.stringify(wrongKey.error)}`);
  }
  const c1 = await open("/", { transports: ["websocket"] });
  check(!c1.error, "a client connects to / with admin off");
  return {};
}

// At most 32 sockets on /admin: the 33rd is refused (RATE_LIMIT_EXCEEDED), and one leaving
// makes room again.
async function bounds() {
  const watchers = [];
  for (let i = 0; i < 32; i++) {
    const w = await open("/admin", { auth: { api_key: "test-operator-key" }, transports: ["websocket"] });
    check(!w.error, `watcher ${i}: ${JSON.stringify(w.error)}`);
    watchers.push(w);
  }
  const over = await open("/admin", { auth: { api_key: "test-operator-key" }, transports: ["websocket"] });
  check(over.error?.data?.code === "RATE_LIMIT_EXCEEDED", `the 33rd: ${JSON.stringify(over.error)}`);
  const overview = await watchers[0].socket.emitWithAck("siohub:overview", {});
  check(overview.admin.watchers === 32, `watchers ${overview.admin.watchers}`);
  watchers[31].socket.disconnect();
  let again = null;
  for (let attempt = 0; attempt < 50 && !(again && !again.error); attempt++) {
    await sleep(50);
    again = await open("/admin", { auth: { api_key: "test-operator-key" }, transports: ["websocket"] });
  }
  check(again && !again.error, `room again after one left: ${JSON.stringify(again?.error)}`);
  return {};
}

const KEY = "test-operator-key";

// A watcher logged in with the API key, on websocket.
function watcher(extra = {}) {
  return open("/admin", { auth: { api_key: KEY }, transports: ["websocket"], ...extra });
}

// Huge event names are cut for the watchers: a client sends 20 events with 100 KiB names.
async function names() {
  const ui = await watcher();
  check(!ui.error, `ui: ${JSON.stringify(ui.error)}`);
  const dash = await watcher();
  const watch = await dash.socket.emitWithAck("siohub:watch", {});
  check(watch.ok === true, "siohub:watch");
  const c = await open("/", { transports: ["websocket"] });
  check(!c.error, "client connects");
  const long = "n".repeat(100 * 1024);
  for (let i = 0; i < 20; i++) c.socket.emit(long + (i % 10), i);
  c.socket.emit("after-the-long-names", 1);
  await until(
    () => eventsOf(ui, "event_received").some((e) => e.args[2][0] === "after-the-long-names"),
    "event_received after the long names",
    15000,
  );
  const shown = eventsOf(ui, "event_received").map((e) => e.args[2][0]).filter((n) => n.startsWith("nnn"));
  check(shown.length === 20, `${shown.length} long names pushed, not 20`);
  for (const name of shown) {
    check(name.length <= 200, `a name of ${name.length} characters was pushed`);
    check(name.endsWith(`[${long.length + 1} bytes]`), `the cut name does not say its length: ${name.slice(-40)}`);
  }
  check(ui.socket.connected && ui.disconnects.length === 0, `the watcher was cut: ${ui.disconnects}`);
  const recent = await dash.socket.emitWithAck("siohub:events", {});
  const listed = recent.items.filter((e) => e.event.startsWith("nnn"));
  check(listed.length === 20 && listed.every((e) => e.event.length <= 200), `recent events: ${listed.map((e) => e.event.length)}`);
  const size = JSON.stringify(recent).length;
  check(size < 32 * 1024, `siohub:events answered ${size} bytes`);
  return { answer_bytes: size };
}

// emit refuses the names Socket.IO reserves; the clients of "/" stay connected.
async function reserved() {
  const ui = await watcher();
  check(!ui.error, `ui: ${JSON.stringify(ui.error)}`);
  const clients = [];
  for (let i = 0; i < 2; i++) {
    const c = await open("/", { transports: ["websocket"] });
    check(!c.error, "client connects");
    clients.push(c);
  }
  for (const name of ["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"]) {
    const r = await ui.socket.emitWithAck("emit", "/", null, name, { x: 1 });
    check(r.error?.code === "INVALID_PAYLOAD" && r.error.message.includes("reserved"), `emit ${name}: ${JSON.stringify(r)}`);
  }
  // As the official UI sends it: no ack.
  ui.socket.emit("emit", "/", null, "connect", { x: 1 });
  const hello = await ui.socket.emitWithAck("emit", "/", null, "hello", 1);
  check(hello.ok === true && hello.sockets === 2, `emit hello: ${JSON.stringify(hello)}`);
  await until(() => clients.every((c) => eventsOf(c, "hello").length === 1), "hello on both clients");
  await sleep(200);
  for (const c of clients) {
    check(c.socket.connected && c.disconnects.length === 0, `a client dropped: ${c.disconnects}`);
    check(eventsOf(c, "connect").length === 0, "a client got a connect event");
  }
  return {};
}

// 100 sockets connect to /admin at once: at most 32 stay; the others are refused at the
// CONNECT or, when they passed its check at the same time, told and disconnected at once.
async function race() {
  const results = await Promise.all(Array.from({ length: 100 }, () => watcher()));
  for (const r of results.filter((r) => r.error)) {
    check(r.error.data?.code === "RATE_LIMIT_EXCEEDED", `refusal: ${JSON.stringify(r.error)}`);
  }
  const stays = () => results.filter((r) => !r.error && r.socket.connected);
  await until(() => stays().length <= 32, `at most 32 connected (${stays().length})`);
  const kept = stays();
  check(kept.length === 32, `${kept.length} stayed connected`);
  for (const r of results.filter((r) => !r.error && !r.socket.connected)) {
    const told = eventsOf(r, "siohub:refused")[0];
    check(told?.args[0].code === "RATE_LIMIT_EXCEEDED", `a socket cut without a reason: ${JSON.stringify(r.events.map((e) => e.event))}`);
  }
  const overview = await kept[0].socket.emitWithAck("siohub:overview", {});
  check(overview.admin.watchers === 32, `the Admin counts ${overview.admin.watchers} watchers`);
  return { refused_at_connect: results.filter((r) => r.error).length };
}

// One watcher floods requests; each gets an answer (ok or RATE_LIMIT_EXCEEDED), and
// another watcher is served all along.
async function flood() {
  const n = Number(process.argv[4] || 100000);
  const w1 = await watcher();
  const w2 = await watcher();
  check(!w1.error && !w2.error, "watchers connect");
  let answered = 0, ok = 0, busy = 0;
  const other = [];
  const onAnswer = (r) => {
    answered++;
    if (r?.ok === true) ok++;
    else if (r?.error?.code === "RATE_LIMIT_EXCEEDED") busy++;
    else other.push(r);
  };
  let sent = 0;
  // The other watcher asks one request after another while the flood goes on.
  const mine = [];
  const served = (async () => {
    while (answered < n && mine.length < 50) {
      mine.push(await w2.socket.timeout(20000).emitWithAck("siohub:overview", {}));
    }
  })();
  while (sent < n) {
    check(w1.socket.connected, `the flooding watcher was cut after ${answered} answers: ${w1.disconnects}`);
    // Keep at most 2,000 unanswered, so this client reads its answers as it goes.
    while (sent < n && sent - answered < 2000) {
      w1.socket.emit("siohub:events", {}, onAnswer);
      sent++;
    }
    await new Promise((r) => setImmediate(r));
  }
  await until(() => answered === n, `all ${n} answered (${answered})`, 120000);
  await served;
  check(mine.length > 0, "the other watcher got no answer");
  check(mine.every((r) => r.ok === true), `the other watcher was refused: ${JSON.stringify(mine.find((r) => r.ok !== true))}`);
  check(other.length === 0, `unexpected answers: ${JSON.stringify(other.slice(0, 3))}`);
  check(busy > 0 && ok > 0, `ok ${ok}, busy ${busy}`);
  check(w1.socket.connected && w2.socket.connected, "a watcher was cut");
  return { ok_answers: ok, busy_answers: busy, served: mine.length };
}

// Attackers on another source address retry wrong passwords; the operator's logins pass.
async function loginFlood() {
  const attackers = [];
  const refusals = {};
  let stop = false;
  for (let i = 0; i < 20; i++) {
    const socket = io(base + "/admin", {
      forceNew: true,
      transports: ["websocket"],
      localAddress: "127.0.0.2",
      auth: { username: "admin", password: "guess" + i },
      reconnection: false,
    });
    opened.push(socket);
    socket.on("connect_error", (e) => {
      refusals[e.message] = (refusals[e.message] || 0) + 1;
      if (!stop) setTimeout(() => socket.connect(), 1);
    });
    attackers.push(socket);
  }
  await until(() => Object.values(refusals).reduce((a, b) => a + b, 0) >= 100, "the flood under way", 20000);
  for (let k = 0; k < 5; k++) {
    const op = await open("/admin", { auth: adminAuth(), transports: ["websocket"] });
    check(!op.error, `operator login ${k} refused: ${JSON.stringify(op.error)}`);
    op.socket.close();
  }
  stop = true;
  const budget = Object.keys(refusals).find((m) => m.startsWith("too many failed admin logins from your address"));
  check(budget, `the flood was not refused by its address's budget: ${JSON.stringify(refusals)}`);
  check((refusals["invalid credentials"] || 0) <= 5, `more than 5 wrong passwords were checked: ${JSON.stringify(refusals)}`);
  return { refusals };
}

const scenarios = { full, read_only: readOnly, off, bounds, names, reserved, race, flood, login_flood: loginFlood };

try {
  const run = scenarios[scenario] ?? (() => fail(`unknown scenario ${scenario}`));
  const report = await run();
  console.log(JSON.stringify({ ok: true, scenario, ...report }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, scenario, error: String(e?.stack || e) }));
  process.exitCode = 1;
} finally {
  for (const s of opened) s.close();
  setTimeout(() => process.exit(), 100).unref();
}
