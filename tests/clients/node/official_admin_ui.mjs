// Drives the REAL official Admin UI (the built bundle that @socket.io/admin-ui 0.5.1 ships
// in ui/dist, the same one admin.socket.io hosts) in headless Chromium against a running
// siohub, with a real socket.io-client as the socket the UI sees and manages.
//
//   node official_admin_ui.mjs   with OFFICIAL_ADMIN_UI set to a JSON object:
//     {username, password, apiKey, screenshots, hubPid, scenario?}
//
// With scenario "cluster" the hub is node A of a two-node cluster, and the stdin line also
// names a socket on the other node (`otherSocket`): after the login the checks are that the
// UI lists two servers (one server_stats per node) and, on its sockets page, both the real
// client on A and the other node's socket (all_sockets covers the cluster); nothing else.
//
// The UI is served from a static HTTP server of this script's own, on another port: another
// origin than the hub, as in production. So that the hub can be configured with that
// origin, the script starts the static server first, prints one line
// `{"static_origin": "http://127.0.0.1:PORT"}`, and waits for one line on stdin:
// `{"url": "http://127.0.0.1:HUBPORT"}` (the hub, started with that origin in [cors]).
//
// Checks, each through the UI's own pages: a wrong password shows the UI's "Invalid
// credentials"; the right one connects (the app bar says connected); the servers page lists
// the hub (its pid, healthy) from server_stats; the sockets page lists the real client; its
// details page shows the room it joined through the hub's built-in `join`; joining a room
// and leaving it from the page take effect on the hub (an /api/v1 emit to the room reaches
// the real client; the room is gone after the leave); the rooms page lists the room and its
// "remove all sockets" (a `leave` with no filter) empties it; the sockets page's disconnect
// button disconnects the real client ("io server disconnect"); a client that connects by
// long-polling while the UI watches shows, its upgrade shows (socket_updated), its
// connection and disconnection are counted (aggregated events), and the clients page's
// disconnect closes its connection; the UI's websocket-only mode connects too. Every
// request of the page goes to the static server or the hub (the bundle's links to Google
// Fonts and jsDelivr are answered here with 404s, so the test needs no network).
// Prints one JSON line of results; exits non-zero on the first failed check.
import { createServer } from "node:http";
import { mkdirSync, readFileSync, existsSync, statSync } from "node:fs";
import { createInterface } from "node:readline";
import { join, normalize, extname, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { io } from "socket.io-client";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "node_modules/@socket.io/admin-ui/ui/dist");
const cfg = JSON.parse(process.env.OFFICIAL_ADMIN_UI || "{}");
mkdirSync(cfg.screenshots, { recursive: true });
const results = { screenshots: [], requests: 0, blocked: [] };
const WAIT = { timeout: 10000 };

function check(condition, message) {
  if (!condition) throw new Error("check failed: " + message);
}

function within(promise, ms, what) {
  return Promise.race([promise, new Promise((_, reject) => setTimeout(() => reject(new Error(what)), ms))]);
}

// The whole run is bounded: nothing here waits longer than this.
setTimeout(() => {
  results.ok = false;
  results.error = "the run took over 50 s";
  console.log(JSON.stringify(results));
  process.exit(1);
}, 50000).unref();

const TYPES = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".css": "text/css",
  ".png": "image/png", ".svg": "image/svg+xml", ".map": "application/json",
};

/** Polls `condition` (async) every 100 ms until it holds, for at most 10 s. */
async function waitFor(condition, what) {
  const end = Date.now() + 10000;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error("timed out: " + what);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Serves ui/dist (GET only, no path outside it) on an ephemeral port of 127.0.0.1. */
function serveUi() {
  check(existsSync(join(dist, "index.html")), "@socket.io/admin-ui is not installed: run tests/clients/setup.sh");
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, "http://x").pathname));
    const file = join(dist, path === "/" ? "index.html" : path);
    if (req.method !== "GET" || !file.startsWith(dist + "/") || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "Content-Type": TYPES[extname(file)] || "application/octet-stream" });
    res.end(readFileSync(file));
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

async function hubUrlFromStdin() {
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    lines.close();
    const told = JSON.parse(line);
    cfg.otherSocket = told.otherSocket;
    return told.url;
  }
  throw new Error("no hub URL on stdin");
}

function connectClient(hub) {
  return within(new Promise((resolve, reject) => {
    const socket = io(hub, { transports: ["websocket"], reconnection: false });
    socket.on("connect", () => resolve(socket));
    socket.on("connect_error", reject);
  }), 10000, "socket.io-client did not connect");
}

async function api(hub, method, path, body) {
  const res = await fetch(new URL(path, hub), {
    method,
    headers: { "X-API-Key": cfg.apiKey, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let json = null;
  try { json = await res.json(); } catch (e) { /* no body */ }
  return { status: res.status, body: json };
}

async function shot(page, name) {
  const file = join(cfg.screenshots, name);
  await page.screenshot({ path: file, fullPage: true });
  results.screenshots.push(file);
}

/** The connection dialog: fills it and submits. */
async function submitForm(page, hub, password, { wsOnly = false } = {}) {
  const dialog = page.locator(".v-dialog--active");
  await dialog.waitFor(WAIT);
  await dialog.getByLabel("Server URL").fill(hub);
  await dialog.getByLabel("Username").fill(cfg.username);
  await dialog.getByLabel("Password").fill(password);
  const advanced = dialog.getByRole("switch", { name: "Advanced options" });
  if (!(await advanced.isChecked())) await dialog.getByText("Advanced options").click();
  // The UI's defaults are what the hub serves: /admin on the path /socket.io.
  await dialog.getByLabel("Admin namespace").waitFor(WAIT);
  results.form_namespace = await dialog.getByLabel("Admin namespace").inputValue();
  results.form_path = await dialog.getByLabel("Path").inputValue();
  check(results.form_namespace === "/admin", "the UI's namespace: " + results.form_namespace);
  check(results.form_path === "/socket.io", "the UI's path: " + results.form_path);
  const ws = dialog.getByRole("switch", { name: "WebSocket only?" });
  if ((await ws.isChecked()) !== wsOnly) await dialog.getByText("WebSocket only?").click();
  await dialog.getByRole("button", { name: "Connect" }).click();
}

/** Opens a page of the UI (a route of its hash router) and waits for the page it leaves to go. */
async function open(page, origin, route) {
  await page.goto(origin + "/#" + route);
  await page.waitForFunction(() => document.querySelectorAll("main .v-breadcrumbs").length === 1, null, WAIT);
}

/** The data table of the page shown (a leaving page may linger) with a column `header`. */
function table(page, header) {
  return page.locator(".v-data-table", { has: page.locator("th", { hasText: header }) });
}

/** The app bar's status chip reads `connected`. */
async function waitConnected(page) {
  await page.locator("header .d-lg-flex .v-chip", { hasText: /^\s*connected\s*$/i }).waitFor(WAIT);
  // The dialog closes (its closing transition over: every .v-dialog hidden).
  await page.waitForFunction(() => [...document.querySelectorAll(".v-dialog")]
    .every((d) => getComputedStyle(d).display === "none"), null, WAIT);
}

/** Node A of a two-node cluster: two servers, and the sockets of both nodes. */
async function clusterChecks(page, origin, socketId) {
  await page.waitForFunction(() => document.getElementById("app").__vue__.$store.state.servers.servers.length === 2, null, WAIT);
  await open(page, origin, "/servers/");
  const serversTable = table(page, "Hostname");
  await serversTable.locator("tbody tr").nth(1).waitFor(WAIT);
  results.server_rows = await serversTable.locator("tbody tr").allInnerTexts();
  check(results.server_rows.length === 2, "two servers: " + JSON.stringify(results.server_rows));
  await shot(page, "cluster-01-servers.png");
  await open(page, origin, "/sockets/");
  await page.waitForFunction((ids) => {
    const nsp = document.getElementById("app").__vue__.$store.state.main.namespaces.find((n) => n.name === "/");
    return nsp && ids.every((id) => nsp.sockets.some((s) => s.id === id));
  }, [socketId, cfg.otherSocket], WAIT);
  const socketsTable = table(page, "IP address");
  // The other node's socket shows its transport too (its data's `_admin.transport`).
  await socketsTable.locator("tbody tr", { hasText: cfg.otherSocket })
    .filter({ hasText: "WebSocket" }).waitFor(WAIT);
  results.socket_rows = await socketsTable.locator("tbody tr").allInnerTexts();
  await shot(page, "cluster-02-sockets.png");
}

async function run() {
  const staticServer = await serveUi();
  const origin = `http://127.0.0.1:${staticServer.address().port}`;
  console.log(JSON.stringify({ static_origin: origin }));
  const hub = await within(hubUrlFromStdin(), 20000, "no hub URL on stdin");
  const hubHost = new URL(hub).host;

  const browser = await chromium.launch({
    executablePath: cfg.chromium || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  let client = null;
  const problems = [];
  try {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    // The bundle links Roboto (Google Fonts) and the Material Design icons (jsDelivr):
    // answered here, so that nothing leaves the machine.
    await context.route((url) => url.host !== new URL(origin).host && url.host !== hubHost, (route) => {
      results.blocked.push(route.request().url());
      route.fulfill({ status: 404, body: "" });
    });
    const page = await context.newPage();
    const requests = [];
    page.on("request", (r) => requests.push(r.url()));
    // What the hub pushes to the UI over its websocket, to tell which admin events came.
    const frames = [];
    page.on("websocket", (ws) => {
      requests.push(ws.url());
      ws.on("framereceived", (f) => { if (typeof f.payload === "string") frames.push(f.payload); });
    });
    page.on("pageerror", (e) => problems.push("page error: " + e.message));
    page.on("console", (m) => {
      if (m.type() === "error" && !/Failed to load resource/.test(m.text())) problems.push("console: " + m.text());
    });

    // The real client first: the UI picks the namespace it shows from all_sockets.
    client = await connectClient(hub);
    const socketId = client.id;
    results.socket_id = socketId;

    await page.goto(origin + "/");

    // A wrong password: the UI's own error, the dialog stays.
    await submitForm(page, hub, cfg.password + "-wrong");
    const error = page.locator(".v-dialog--active .red--text");
    await error.waitFor(WAIT);
    results.wrong_password = (await error.textContent()).trim();
    check(results.wrong_password === "Invalid credentials", "the UI's error: " + results.wrong_password);
    await shot(page, "01-wrong-password.png");

    // The right one: connected.
    await submitForm(page, hub, cfg.password);
    await waitConnected(page);
    results.app_bar = (await page.locator("header").innerText()).replace(/\s+/g, " ");
    check(results.app_bar.includes(hub), "the app bar names the hub: " + results.app_bar);
    // Not checked: the hub (as socket.io's admin server) sends `session` before the CONNECT
    // reply, and the UI 0.5.1 listens for it only once connected, so it keeps none.
    results.ui_session_id = await page.evaluate(() => localStorage.getItem("session_id"));
    if (cfg.scenario === "cluster") {
      await clusterChecks(page, origin, socketId);
      check(problems.length === 0, "page problems: " + problems.join("; "));
      return;
    }

    // The dashboard: one healthy server.
    const serversCard = page.locator(".v-card", { has: page.locator(".v-card__title", { hasText: "Servers" }) });
    await serversCard.locator("h2").first().filter({ hasText: /^1$/ }).waitFor(WAIT);
    await page.waitForTimeout(2500); // one more server_stats: the charts and counts fill
    await shot(page, "02-dashboard.png");

    // The servers page lists the hub from server_stats: its pid, healthy.
    await open(page, origin, "/servers/");
    const serversTable = table(page, "Hostname");
    const serverRow = serversTable.locator("tbody tr", { hasText: String(cfg.hubPid) });
    await serverRow.waitFor(WAIT);
    results.server_row = (await serverRow.innerText()).replace(/\s+/g, " ");
    check(/healthy/i.test(results.server_row) && !/unhealthy/i.test(results.server_row), "the hub is healthy: " + results.server_row);
    results.server_rows = await serversTable.locator("tbody tr").allInnerTexts();
    check(results.server_rows.length === 1, "one server: " + JSON.stringify(results.server_rows));
    await shot(page, "03-servers.png");

    // The client joins "lobby" through the hub's built-in join; the UI hears room_joined.
    const joined = await within(client.emitWithAck("join", "lobby"), 10000, "no ack for join");
    results.join_ack = joined;

    // The sockets page lists the real client; its details show its rooms.
    await open(page, origin, "/sockets/");
    const socketRow = table(page, "IP address").locator("tbody tr", { hasText: socketId });
    await socketRow.waitFor(WAIT);
    results.socket_row = (await socketRow.innerText()).replace(/\s+/g, " ");
    check(/websocket/i.test(results.socket_row), "the row shows the transport: " + results.socket_row);
    await shot(page, "04-sockets.png");
    await socketRow.locator("td").first().click();
    await page.waitForURL(/#\/n\/.*\/sockets\//, WAIT);
    const roomsCard = page.locator(".v-card", { has: page.locator(".v-card__title", { hasText: /^\s*Rooms\s*$/ }) });
    const roomRow = (name) => roomsCard.locator("tbody tr", { has: page.locator("td", { hasText: new RegExp(`^${name}$`) }) });
    await roomRow("lobby").waitFor(WAIT);
    await roomRow(socketId.replace(/[^\w-]/g, "\\$&")).waitFor(WAIT);

    // Join a room from the page: the hub puts the real client in it.
    const input = roomsCard.getByLabel("Join a room");
    await input.click();
    await input.fill("from-ui");
    await roomsCard.locator("form button[type=submit]").click();
    await roomRow("from-ui").waitFor(WAIT);
    const room = await api(hub, "GET", "/api/v1/rooms/from-ui?namespace=/");
    check(room.status === 200 && room.body.members.some((m) => m.sid === socketId), "the hub has the client in from-ui: " + JSON.stringify(room));
    const got = new Promise((resolve) => client.once("to-from-ui", (...args) => resolve(args)));
    const sent = await api(hub, "POST", "/api/v1/emit", { rooms: ["from-ui"], event: "to-from-ui", data: { n: 1 } });
    check(sent.status === 200, "the emit to from-ui: " + JSON.stringify(sent));
    results.room_emit = await within(got, 10000, "the emit to the room the UI joined did not reach the client");
    await shot(page, "05-socket-joined-from-ui.png");

    // Leave it from the page.
    await roomRow("from-ui").locator("button").click();
    await waitFor(async () => (await api(hub, "GET", "/api/v1/rooms/from-ui?namespace=/")).status === 404, "from-ui is empty after the UI's leave");
    await page.waitForFunction((id) => !document.getElementById("app").__vue__.$store.getters["main/findSocketById"]("/", id).rooms.includes("from-ui"),
      socketId, WAIT);

    // The rooms page lists lobby with its one socket; "remove all the sockets from this
    // room" (leave with no filter) empties it.
    await open(page, origin, "/rooms/");
    const lobby = table(page, "# of sockets").locator("tbody tr", { has: page.locator("td", { hasText: /^lobby$/ }) });
    await lobby.waitFor(WAIT);
    results.lobby_row = (await lobby.innerText()).replace(/\s+/g, " ").trim();
    check(/^lobby .*\b1\b/.test(results.lobby_row), "lobby has one socket: " + results.lobby_row);
    await shot(page, "06-rooms.png");
    // (A button's click also reaches its row, which opens the row's details page.)
    await lobby.locator("button").first().click();
    await waitFor(async () => (await api(hub, "GET", "/api/v1/rooms/lobby?namespace=/")).status === 404, "lobby is empty after the UI's clear");
    await open(page, origin, "/rooms/");
    await lobby.waitFor({ state: "detached", timeout: 10000 });

    // Disconnect the real client from the sockets page.
    await open(page, origin, "/sockets/");
    await socketRow.waitFor(WAIT);
    const gone = new Promise((resolve) => client.once("disconnect", resolve));
    await socketRow.locator("button").click();
    results.disconnect_reason = await within(gone, 10000, "the client was not disconnected");
    check(results.disconnect_reason === "io server disconnect", "the client's reason: " + results.disconnect_reason);
    await open(page, origin, "/sockets/");
    await socketRow.waitFor({ state: "detached", timeout: 10000 });
    await shot(page, "07-socket-disconnected.png");

    // A client that connects while the UI watches, by HTTP long-polling first: the UI
    // lists it, sees its upgrade (socket_updated: the row says WebSocket), counts its
    // connection in the aggregated events, and the clients page closes its connection.
    const second = io(hub, { reconnection: false });
    const upgraded = new Promise((resolve) => second.io.on("open", () => second.io.engine.once("upgrade", resolve)));
    await within(new Promise((resolve, reject) => { second.on("connect", resolve); second.on("connect_error", reject); }), 10000, "the second client did not connect");
    await within(upgraded, 10000, "the second client did not upgrade");
    const secondRow = table(page, "IP address").locator("tbody tr", { hasText: second.id });
    await secondRow.waitFor(WAIT).catch(async (e) => {
      results.store = await page.evaluate(() => JSON.stringify(document.getElementById("app").__vue__.$store.state.main.namespaces.map((n) => ({ name: n.name, sockets: n.sockets.map((x) => [x.id, x.transport]), events: n.events.map((x) => [x.type, x.id]) }))));
      throw e;
    });
    await secondRow.filter({ hasText: /WebSocket/ }).waitFor(WAIT);
    const pushed = (event) => frames.filter((f) => f.startsWith(`42/admin,["${event}",`) && f.includes(second.id));
    await waitFor(async () => pushed("socket_updated").length > 0, "socket_updated for the second client");
    results.second_pushes = { socket_connected: pushed("socket_connected"), socket_updated: pushed("socket_updated") };
    check(results.second_pushes.socket_connected.some((f) => f.includes('"transport":"polling"')), "socket_connected while polling");
    check(results.second_pushes.socket_updated.some((f) => f.includes('"transport":"websocket"')), "socket_updated to websocket");
    await page.waitForFunction(() => document.getElementById("app").__vue__.$store.state.main.aggregatedEvents
      .some((e) => e.type === "rawConnection" && e.count >= 1), null, WAIT);
    await open(page, origin, "/clients/");
    const clientRow = table(page, "# of sockets").locator("tbody tr", { hasText: second.io.engine.id });
    await clientRow.waitFor(WAIT);
    const secondGone = new Promise((resolve) => second.once("disconnect", resolve));
    await clientRow.locator("button").click();
    results.second_disconnect_reason = await within(secondGone, 10000, "the clients page did not disconnect the second client");
    await open(page, origin, "/clients/");
    await clientRow.waitFor({ state: "detached", timeout: 10000 });
    await page.waitForFunction(() => document.getElementById("app").__vue__.$store.state.main.aggregatedEvents
      .some((e) => e.type === "rawDisconnection" && e.count >= 1), null, WAIT);

    // The events page shows what the UI saw happen.
    await open(page, origin, "/events/");
    const events = table(page, "Timestamp");
    await events.locator("tbody tr", { hasText: /Room joined/ }).first().waitFor(WAIT);
    results.events_rows = await events.locator("tbody tr").allInnerTexts();
    await shot(page, "08-events.png");

    // "Update": the same form, websocket only this time; it connects again.
    await open(page, origin, "/");
    await page.locator("header").getByRole("button", { name: "Update" }).click();
    await submitForm(page, hub, cfg.password, { wsOnly: true });
    await waitConnected(page);
    await serversCard.locator("h2").first().filter({ hasText: /^1$/ }).waitFor(WAIT);
    // The namespaces card: "/" (now empty) still listed, /admin with the one UI socket,
    // each once (the UI merges server_stats into the last one index by index).
    await page.waitForFunction(() => {
      const [server] = document.getElementById("app").__vue__.$store.state.servers.servers;
      const names = server.namespaces.map((n) => n.name);
      return new Set(names).size === names.length
        && server.namespaces.some((n) => n.name === "/" && n.socketsCount === 0)
        && server.namespaces.some((n) => n.name === "/admin" && n.socketsCount === 1);
    }, null, WAIT).catch(async (e) => {
      results.namespaces = await page.evaluate(() => JSON.stringify(document.getElementById("app").__vue__.$store.state.servers.servers.map((s) => s.namespaces)));
      throw e;
    });
    const namespacesCard = page.locator(".v-card", { has: page.locator(".v-card__title", { hasText: "Namespaces" }) });
    results.namespaces_card = (await namespacesCard.locator("tbody").innerText()).replace(/\s+/g, " ").trim();
    check(results.namespaces_card === "/ 0 /admin 1", "the namespaces card: " + results.namespaces_card);
    await shot(page, "09-dashboard-websocket-only.png");
    check(requests.some((u) => u.startsWith("ws://" + hubHost)), "the UI used a websocket to the hub");

    results.requests = requests.length;
    for (const url of requests) {
      const host = new URL(url).host;
      check(host === hubHost || host === new URL(origin).host || results.blocked.includes(url), "an unexpected request: " + url);
    }
    check(problems.length === 0, "page problems: " + problems.join("; "));
  } finally {
    if (client) client.close();
    await browser.close();
    staticServer.close();
  }
}

try {
  await run();
  results.ok = true;
  console.log(JSON.stringify(results));
  process.exit(0);
} catch (e) {
  results.ok = false;
  results.error = String((e && e.stack) || e);
  console.log(JSON.stringify(results));
  process.exit(1);
}
