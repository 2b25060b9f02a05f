// Drives the built-in dashboard in headless Chromium (Debian's /usr/bin/chromium, through
// playwright-core: no browser download) against a running siohub, with a real
// socket.io-client as the socket the page watches and manages.
//
//   node dashboard_browser.mjs   with DASHBOARD_TEST set to a JSON object:
//     {url, username, password, apiKey, screenshots,
//      scenario: "manage" | "load" | "off" | "read_only" | "keys_only" | "cluster",
//      loadConnections (load: the idle connections already open), withinMs (load),
//      otherSockets (cluster: the sockets on the other node)}
//
// "manage": logs in (a wrong password first), watches a socket appear, makes it join and
// leave a room and emits to it from the page, disconnects it from the page, reloads (the
// session id logs in again), and checks that every request the page made went to the hub.
// "load": with many idle connections held elsewhere, a new socket shows within `withinMs`.
// "off": admin access off, the page says so. "read_only": an insecure, read-only hub opens
// with no login and offers no command. "keys_only": API keys but no password hash, a
// password is refused and the form offers the key, which logs in. "cluster": an insecure
// node of a two-node cluster lists itself and the other node (its uid and sockets, from
// the other node's server_stats) under "Cluster nodes".
// Prints one JSON line of results; exits non-zero on the first failed check.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { io } from "socket.io-client";

const cfg = JSON.parse(process.env.DASHBOARD_TEST || "{}");
const base = new URL(cfg.url);
const shots = cfg.screenshots;
mkdirSync(shots, { recursive: true });
const results = { scenario: cfg.scenario, screenshots: [], requests: 0 };

function check(condition, message) {
  if (!condition) throw new Error("check failed: " + message);
}

async function api(method, path) {
  const res = await fetch(new URL(path, base), { method, headers: { "X-API-Key": cfg.apiKey } });
  let body = null;
  try { body = await res.json(); } catch (e) { /* no body */ }
  return { status: res.status, body };
}

function connectClient() {
  return new Promise((resolve, reject) => {
    const socket = io(base.origin, { transports: ["websocket"], reconnection: false });
    const timer = setTimeout(() => reject(new Error("socket.io-client did not connect")), 10000);
    socket.on("connect", () => { clearTimeout(timer); resolve(socket); });
    socket.on("connect_error", (e) => { clearTimeout(timer); reject(e); });
  });
}

async function shot(page, name) {
  const file = join(shots, name);
  await page.screenshot({ path: file, fullPage: true });
  results.screenshots.push(file);
}

async function openDashboard() {
  const browser = await chromium.launch({
    executablePath: cfg.chromium || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
  const page = await context.newPage();
  const requests = [];
  const problems = [];
  page.on("request", (r) => requests.push(r.url()));
  page.on("websocket", (ws) => requests.push(ws.url()));
  page.on("pageerror", (e) => problems.push("page error: " + e.message));
  page.on("console", (m) => {
    if (m.type() === "error" && /Content Security Policy|Refused to/i.test(m.text())) problems.push("console: " + m.text());
  });
  return { browser, page, requests, problems };
}

async function logIn(page) {
  await page.goto(new URL("/dashboard", base).href);
  await page.waitForSelector("#login:not(.hidden)", { timeout: 10000 });
  // A wrong password is refused with the server's message, and the form stays.
  await page.fill("#login-username", cfg.username);
  await page.fill("#login-password", cfg.password + "-wrong");
  await page.click("#login-submit");
  await page.waitForFunction(() => /Refused/.test(document.getElementById("login-error").textContent), null, { timeout: 15000 });
  results.wrong_password = await page.textContent("#login-error");
  await shot(page, cfg.scenario + "-01-login-refused.png");
  await page.fill("#login-password", cfg.password);
  await page.click("#login-submit");
  await page.waitForSelector("#app:not(.hidden)", { timeout: 15000 });
  await page.waitForFunction(() => document.getElementById("c-total").textContent !== "–", null, { timeout: 10000 });
}

/** Every request the page made went to the hub itself. */
function checkOnlyTheHub(requests) {
  results.requests = requests.length;
  for (const url of requests) {
    const u = new URL(url);
    check(u.host === base.host, "a request left the hub: " + url);
  }
}

async function manage() {
  const { browser, page, requests, problems } = await openDashboard();
  let socket = null;
  try {
    await logIn(page);
    const sessionId = await page.evaluate(() => sessionStorage.getItem("siohub.admin.sessionId"));
    check(typeof sessionId === "string" && sessionId.length > 0, "the session id is kept in sessionStorage");

    socket = await connectClient();
    const sid = socket.io.engine.id;
    const socketId = socket.id;
    const row = `#conn-body tr[data-sid="${sid}"]`;
    await page.waitForSelector(row, { timeout: 10000 });
    await page.waitForFunction(() => Number(document.getElementById("c-total").dataset.value) >= 1, null, { timeout: 10000 });
    await shot(page, "manage-02-socket-listed.png");

    // Join a room from the page.
    await page.click(`${row} button.manage`);
    const input = `#socket-dialog-sockets input[data-socket="${socketId}"]`;
    await page.fill(input, "lobby");
    await page.click(`#socket-dialog-sockets [data-socket="${socketId}"] button:text-is("Join")`);
    await page.waitForFunction(() => /joined lobby/.test(document.getElementById("socket-dialog-result").textContent), null, { timeout: 10000 });
    await page.waitForSelector(`${row} .pill:text-is("lobby")`, { timeout: 10000 });
    let room = await api("GET", "/api/v1/rooms/lobby?namespace=/");
    check(room.status === 200 && room.body.members.some((m) => m.sid === socketId), "the socket is in lobby: " + JSON.stringify(room));
    await shot(page, "manage-03-joined-lobby.png");

    // Leave it.
    await page.fill(input, "lobby");
    await page.click(`#socket-dialog-sockets [data-socket="${socketId}"] button:text-is("Leave")`);
    await page.waitForFunction(() => /left lobby/.test(document.getElementById("socket-dialog-result").textContent), null, { timeout: 10000 });
    await page.waitForSelector(`${row} .pill:text-is("lobby")`, { state: "detached", timeout: 10000 });
    room = await api("GET", "/api/v1/rooms/lobby?namespace=/");
    check(room.status === 404, "lobby is empty after the leave: " + JSON.stringify(room));
    await page.click("#socket-dialog-close");

    // Emit to the socket's own room from the form; the client gets it.
    const got = new Promise((resolve) => socket.once("hello", (...args) => resolve(args)));
    await page.fill("#emit-nsp", "/");
    await page.fill("#emit-room", socketId);
    await page.fill("#emit-event", "hello");
    await page.fill("#emit-data", "not json");
    await page.click("#emit-form button[type=submit]");
    await page.waitForFunction(() => /not JSON/.test(document.getElementById("emit-result").textContent), null, { timeout: 5000 });
    await page.fill("#emit-data", '{"from": "dashboard"}');
    await page.click("#emit-form button[type=submit]");
    const args = await Promise.race([got, new Promise((_, reject) => setTimeout(() => reject(new Error("the emit did not arrive")), 10000))]);
    check(JSON.stringify(args) === '[{"from":"dashboard"}]', "the emitted data: " + JSON.stringify(args));
    await page.waitForFunction(() => /Sent to 1 socket/.test(document.getElementById("emit-result").textContent), null, { timeout: 10000 });

    // Disconnect it from the page.
    const gone = new Promise((resolve) => socket.once("disconnect", resolve));
    await page.click(`${row} button.manage`);
    await page.click(`#socket-dialog-sockets [data-socket="${socketId}"] button:text-is("Disconnect socket")`);
    const reason = await Promise.race([gone, new Promise((_, reject) => setTimeout(() => reject(new Error("not disconnected")), 10000))]);
    check(reason === "io server disconnect", "the client saw a server disconnect: " + reason);
    results.disconnect_reason = reason;
    await page.click("#socket-dialog-close");
    // Now let the events and charts fill a little, and take the page as an operator sees it.
    await page.waitForTimeout(2500);
    await shot(page, "manage-04-after-disconnect.png");

    // A reload logs in again with the kept session id, with no form.
    await page.reload();
    await page.waitForSelector("#app:not(.hidden)", { timeout: 15000 });
    check(await page.isHidden("#login"), "no login form after a reload");

    // Log out: the form again, the session forgotten.
    await page.click("#logout");
    await page.waitForSelector("#login:not(.hidden)", { timeout: 5000 });
    check(await page.evaluate(() => sessionStorage.getItem("siohub.admin.sessionId")) === null, "logged out forgets the session");

    // An API key logs in too.
    await page.click("#login-key-box summary");
    await page.fill("#login-password", "");
    await page.fill("#login-key", cfg.apiKey);
    await page.click("#login-submit");
    await page.waitForSelector("#app:not(.hidden)", { timeout: 15000 });
    await page.click("#logout");
    await page.waitForSelector("#login:not(.hidden)", { timeout: 5000 });

    checkOnlyTheHub(requests);
    check(problems.length === 0, "page problems: " + problems.join("; "));
    check(requests.some((u) => u.startsWith("ws://")), "the page used a websocket");
  } finally {
    if (socket) socket.close();
    await browser.close();
  }
}

async function load() {
  const { browser, page, requests, problems } = await openDashboard();
  let socket = null;
  try {
    await logIn(page);
    await page.waitForFunction((n) => Number(document.getElementById("c-total").dataset.value) >= n,
      cfg.loadConnections, { timeout: 15000 });
    // The page is live: wait for one connections refresh to pass, then connect.
    await page.waitForTimeout(1500);
    socket = await connectClient();
    const connected = Date.now();
    const sid = socket.io.engine.id;
    await page.waitForSelector(`#conn-body tr[data-sid="${sid}"]`, { timeout: cfg.withinMs });
    results.shown_after_ms = Date.now() - connected;
    results.total_shown = await page.textContent("#conn-total");
    await shot(page, "load-02-new-socket-among-8000.png");
    checkOnlyTheHub(requests);
    check(problems.length === 0, "page problems: " + problems.join("; "));
  } finally {
    if (socket) socket.close();
    await browser.close();
  }
}

/** Admin access off: the page says so and how to turn it on, and offers no login. */
async function off() {
  const { browser, page, requests, problems } = await openDashboard();
  try {
    await page.goto(new URL("/dashboard", base).href);
    await page.waitForSelector("#admin-off:not(.hidden)", { timeout: 10000 });
    results.message = await page.textContent("#admin-off-message");
    check(/password_hash/.test(results.message), "the server's reason is shown: " + results.message);
    check(await page.isHidden("#login") && await page.isHidden("#app"), "no login form, no data");
    await shot(page, "off-01-admin-off.png");
    checkOnlyTheHub(requests);
    check(problems.length === 0, "page problems: " + problems.join("; "));
  } finally {
    await browser.close();
  }
}

/** `[api] insecure` with `[admin] read_only`: no login, and no command offered. */
async function readOnly() {
  const { browser, page, requests, problems } = await openDashboard();
  let socket = null;
  try {
    await page.goto(new URL("/dashboard", base).href);
    await page.waitForSelector("#app:not(.hidden)", { timeout: 10000 });
    await page.waitForSelector("#read-only-badge:not(.hidden)", { timeout: 10000 });
    check(await page.isDisabled("#emit-form button[type=submit]"), "emit is disabled");
    socket = await connectClient();
    const row = `#conn-body tr[data-sid="${socket.io.engine.id}"]`;
    await page.waitForSelector(row, { timeout: 10000 });
    check((await page.textContent(`${row} button.manage`)) === "Details", "the row offers details only");
    await page.click(`${row} button.manage`);
    await page.waitForSelector(`#socket-dialog-sockets [data-socket="${socket.id}"]`, { timeout: 5000 });
    check(await page.locator("#socket-dialog-sockets button").count() === 0, "no join, leave or disconnect");
    await shot(page, "read-only-01-details.png");
    checkOnlyTheHub(requests);
    check(problems.length === 0, "page problems: " + problems.join("; "));
  } finally {
    if (socket) socket.close();
    await browser.close();
  }
}

/** API keys but no password hash: a password is refused, the form offers the key, the key works. */
async function keysOnly() {
  const { browser, page, requests, problems } = await openDashboard();
  try {
    await page.goto(new URL("/dashboard", base).href);
    await page.waitForSelector("#login:not(.hidden)", { timeout: 10000 });
    await page.fill("#login-password", "any password");
    await page.click("#login-submit");
    await page.waitForFunction(() => /API key/.test(document.getElementById("login-error").textContent), null, { timeout: 10000 });
    results.password_refused = await page.textContent("#login-error");
    check(await page.evaluate(() => document.getElementById("login-key-box").open), "the API key field is open");
    await shot(page, "keys-only-01-password-refused.png");
    await page.fill("#login-password", "");
    await page.fill("#login-key", cfg.apiKey);
    await page.click("#login-submit");
    await page.waitForSelector("#app:not(.hidden)", { timeout: 10000 });
    checkOnlyTheHub(requests);
    check(problems.length === 0, "page problems: " + problems.join("; "));
  } finally {
    await browser.close();
  }
}

/** A node of a two-node cluster: the node list shows this node and the other one. */
async function cluster() {
  const { browser, page, requests, problems } = await openDashboard();
  try {
    await page.goto(new URL("/dashboard", base).href);
    await page.waitForSelector("#app:not(.hidden)", { timeout: 10000 });
    await page.waitForFunction((sockets) => {
      const rows = [...document.querySelectorAll("#nodes-body tr")];
      const other = rows.find((r) => !/this node/.test(r.textContent));
      if (rows.length !== 2 || !other) return false;
      const cells = other.querySelectorAll("td");
      const uid = other.querySelector("[data-uid]");
      return uid && uid.textContent !== "—" && cells[3].textContent === String(sockets);
    }, cfg.otherSockets, { timeout: 15000 });
    results.nodes = await page.$$eval("#nodes-body tr", (rows) =>
      rows.map((r) => [...r.querySelectorAll("td")].map((c) => c.textContent)));
    await shot(page, "cluster-01-nodes.png");
    checkOnlyTheHub(requests);
    check(problems.length === 0, "page problems: " + problems.join("; "));
  } finally {
    await browser.close();
  }
}

try {
  if (cfg.scenario === "manage") await manage();
  else if (cfg.scenario === "cluster") await cluster();
  else if (cfg.scenario === "keys_only") await keysOnly();
  else if (cfg.scenario === "load") await load();
  else if (cfg.scenario === "off") await off();
  else if (cfg.scenario === "read_only") await readOnly();
  else throw new Error("unknown scenario " + cfg.scenario);
  results.ok = true;
  console.log(JSON.stringify(results));
  process.exit(0);
} catch (e) {
  results.ok = false;
  results.error = String(e && e.stack || e);
  console.log(JSON.stringify(results));
  process.exit(1);
}
