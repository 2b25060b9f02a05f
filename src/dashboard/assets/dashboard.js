// The siohub dashboard: a watcher of the `/admin` namespace (see the README's "Dashboard").
// It logs in, asks to be a dashboard watcher (`siohub:watch`: aggregates pushed once a
// second, no per-socket events), and asks for one page of connections, rooms and recent
// events at a time, so it stays live however many connections the hub holds.
"use strict";

(function () {
  const SESSION_KEY = "siohub.admin.sessionId";
  const CONNECTIONS_EVERY_MS = 1000;
  const ROOMS_EVERY_MS = 2000;
  const EVENTS_EVERY_MS = 2000;
  const ROOMS_PER_PAGE = 10;
  const ROOMS_SHOWN_PER_SOCKET = 6;

  const $ = (id) => document.getElementById(id);
  const path = document.body.dataset.path || "/socket.io/";

  // ---- small helpers -------------------------------------------------------------------

  /** An element with attributes and children (strings become text, never HTML). */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (k.startsWith("data-")) node.setAttribute(k, v);
      else node[k] = v;
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  function fmtNum(n) {
    n = Number(n) || 0;
    if (Math.abs(n) >= 1e9) return (n / 1e9).toFixed(1) + " G";
    if (Math.abs(n) >= 1e6) return (n / 1e6).toFixed(1) + " M";
    if (Math.abs(n) >= 1e4) return (n / 1e3).toFixed(1) + " k";
    return Math.round(n).toLocaleString("en-US");
  }
  function fmtBytes(n) {
    n = Number(n) || 0;
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (Math.abs(n) >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i === 0 ? Math.round(n) : n.toFixed(n >= 100 ? 0 : 1)) + " " + units[i];
  }
  function fmtDuration(s) {
    s = Math.max(0, Math.floor(Number(s) || 0));
    const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    if (d) return d + "d " + h + "h";
    if (h) return h + "h " + m + "m";
    if (m) return m + "m " + (s % 60) + "s";
    return s + "s";
  }
  function fmtAgo(ms) {
    if (!ms) return "";
    return fmtDuration((Date.now() - Number(ms)) / 1000) + " ago";
  }
  function fmtTime(ms) {
    const d = new Date(Number(ms));
    const pad = (v, n) => String(v).padStart(n || 2, "0");
    return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds()) + "." + pad(d.getMilliseconds(), 3);
  }
  function setText(id, text) {
    const node = $(id);
    if (node && node.textContent !== text) node.textContent = text;
  }
  function debounce(fn, ms) {
    let t = null;
    return (...args) => { clearTimeout(t); t = setTimeout(() => fn(...args), ms); };
  }
  let toastTimer = null;
  function toast(message, isError) {
    const t = $("toast");
    t.textContent = message;
    t.className = "toast" + (isError ? " err" : "");
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => t.classList.add("hidden"), 4000);
  }
  function show(id, visible) { $(id).classList.toggle("hidden", !visible); }

  // ---- the connection to /admin --------------------------------------------------------

  let credentials = null; // a login being tried; forgotten once it is accepted
  // An accepted API key, kept in memory only (no session id is handed out for one), so
  // that the page can reconnect; a reload asks again.
  let apiKey = null;
  let readOnly = false;
  let timers = [];

  function authPayload() {
    if (credentials) return credentials;
    const sessionId = sessionStorage.getItem(SESSION_KEY);
    if (sessionId) return { sessionId };
    return apiKey ? { api_key: apiKey } : {};
  }

  const client = new window.SioClient({ path, nsp: "/admin", auth: authPayload, ackTimeout: 10000 });

  /** Sends a request event; resolves with its ack, rejects with the ack's error. */
  async function call(event, ...args) {
    const reply = await client.request(event, ...args);
    if (reply && reply.error) {
      const err = new Error(reply.error.message || reply.error.code || "refused");
      err.code = reply.error.code;
      throw err;
    }
    if (!reply || reply.ok !== true) throw new Error(event + ": unexpected answer");
    return reply;
  }

  function setStatus(kind, text) {
    $("status-dot").className = "dot" + (kind === "ok" ? " ok" : kind === "down" ? " down" : "");
    setText("status-text", text);
  }

  client.on("session", (id) => {
    if (typeof id === "string" && id) sessionStorage.setItem(SESSION_KEY, id);
  });
  client.on("state", (state) => {
    if (state === "connected") setStatus("ok", "live · " + client.transport);
    else if (state === "reconnecting") setStatus("warn", "reconnecting…");
    else if (state === "connecting") setStatus("warn", "connecting…");
    else setStatus("down", "disconnected");
  });
  client.on("connect", () => {
    if (credentials && credentials.api_key) apiKey = credentials.api_key;
    credentials = null;
    show("login", false);
    show("admin-off", false);
    show("app", true);
    show("logout", true);
    startWatching().catch((e) => toast("Could not start watching: " + e.message, true));
  });
  client.on("connect_error", (err) => {
    stopTimers();
    const triedLogin = credentials !== null;
    const triedPassword = triedLogin && credentials.password !== undefined;
    const triedSession = !triedLogin && (sessionStorage.getItem(SESSION_KEY) !== null || apiKey !== null);
    credentials = null;
    apiKey = null;
    const off = /admin access is off/i.test(err.message);
    // Off for passwords only (API keys but no password hash): the form stays for a key.
    if (off && triedPassword) {
      show("login", true);
      setText("login-error", "Refused: " + err.message + ". Log in with an API key.");
      setStatus("down", "logged out");
      $("login-key-box").open = true;
      $("login-submit").disabled = false;
      $("login-key").focus();
      return;
    }
    if (off) {
      show("app", false);
      show("login", false);
      show("admin-off", true);
      setText("admin-off-message", err.message);
      setStatus("down", "admin off");
      return;
    }
    sessionStorage.removeItem(SESSION_KEY);
    show("app", false);
    show("logout", false);
    show("login", true);
    setStatus("down", "logged out");
    setText("login-error", triedLogin ? "Refused: " + err.message
      : triedSession ? "Your session ended; log in again." : "");
    $("login-submit").disabled = false;
    if (triedLogin) $("login-password").select();
    else $("login-password").focus();
  });
  client.on("disconnect", (reason) => {
    stopTimers();
    if (reason === "io server disconnect") {
      // Removed by the server (a restart of the admin side, or an operator): try again.
      setTimeout(() => client.connect(), 1000);
    }
  });
  client.on("siohub:stats", (stats) => renderStats(stats, false));

  $("login-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const key = $("login-key").value.trim();
    const password = $("login-password").value;
    if (!key && !password) {
      setText("login-error", "Enter the password (or an API key).");
      return;
    }
    credentials = key ? { api_key: key } : { username: $("login-username").value, password };
    setText("login-error", "");
    $("login-submit").disabled = true;
    client.connect();
  });
  $("logout").addEventListener("click", () => {
    sessionStorage.removeItem(SESSION_KEY);
    apiKey = null;
    $("login-key").value = "";
    client.close();
    stopTimers();
    show("app", false);
    show("logout", false);
    show("login", true);
    setStatus("down", "logged out");
    $("login-password").value = "";
  });

  function stopTimers() {
    for (const t of timers) clearInterval(t);
    timers = [];
  }

  async function startWatching() {
    stopTimers();
    await call("siohub:watch", {});
    const overview = await call("siohub:overview", {});
    renderStats(overview, true);
    refreshConnections();
    refreshRooms();
    refreshEvents();
    timers.push(setInterval(refreshConnections, CONNECTIONS_EVERY_MS));
    timers.push(setInterval(refreshRooms, ROOMS_EVERY_MS));
    timers.push(setInterval(refreshEvents, EVENTS_EVERY_MS));
  }

  // ---- stats: counters, charts, actors, nodes ------------------------------------------

  const css = getComputedStyle(document.documentElement);
  const color = (name) => css.getPropertyValue(name).trim();
  const charts = {
    events: new window.LineChart($("chart-events"), [
      { key: "events_in", color: color("--in") }, { key: "events_out", color: color("--out") },
    ], fmtNum, 300),
    bytes: new window.LineChart($("chart-bytes"), [
      { key: "bytes_in", color: color("--in") }, { key: "bytes_out", color: color("--out") },
    ], fmtBytes, 300),
    connections: new window.LineChart($("chart-connections"), [
      { key: "connections", color: color("--conn") },
    ], fmtNum, 300),
  };
  window.addEventListener("resize", debounce(() => Object.values(charts).forEach((c) => c.draw()), 100));

  function renderStats(s, full) {
    if (!s || typeof s !== "object") return;
    if (typeof s.read_only === "boolean" && s.read_only !== readOnly) setReadOnly(s.read_only);
    const node = s.node || {};
    setText("node-info", [node.id, node.hostname, node.pid ? "pid " + node.pid : null,
      node.uptime_s !== undefined ? "up " + fmtDuration(node.uptime_s) : null,
      node.version ? "v" + node.version : null].filter(Boolean).join(" · "));
    const c = s.connections || {};
    setText("c-total", fmtNum(c.total));
    $("c-total").dataset.value = String(Number(c.total) || 0);
    setText("c-transports", fmtNum(c.websocket) + " websocket · " + fmtNum(c.polling) + " polling");
    setText("c-namespaces", fmtNum(s.namespaces));
    setText("c-rooms", fmtNum(s.rooms));
    const r = s.rates || {}, t = s.totals || {};
    setText("c-events-in", fmtNum(r.events_in));
    setText("c-events-out", fmtNum(r.events_out));
    setText("c-bytes-in", fmtBytes(r.bytes_in));
    setText("c-bytes-out", fmtBytes(r.bytes_out));
    setText("c-events-in-total", fmtNum(t.events_in) + " in all");
    setText("c-events-out-total", fmtNum(t.events_out) + " in all");
    setText("c-bytes-in-total", fmtBytes(t.bytes_in) + " in all");
    setText("c-bytes-out-total", fmtBytes(t.bytes_out) + " in all");
    setText("c-dropped", fmtNum(t.dropped));
    setText("c-slow", fmtNum(t.slow_consumer_disconnects));
    const history = Array.isArray(s.history) ? s.history : [];
    for (const chart of Object.values(charts)) {
      if (full) chart.set(history);
      else for (const p of history) chart.push(p);
    }
    renderRows("actors-body", s.actors, 4, (a) => el("tr", {},
      el("td", { text: a.name }), el("td", { class: "num", text: fmtNum(a.restarts) }),
      el("td", { class: "num", text: fmtNum(a.mailbox_depth) }), el("td", { class: "num", text: fmtNum(a.handled) })));
    // This node, then every other node of the cluster from its last server_stats (a
    // Node.js server's has no uid or rooms); a node silent for over 5 s is marked stale.
    renderRows("nodes-body", s.nodes, 6, (n) => el("tr", { class: n.stats_age_ms > 5000 ? "stale" : "", "data-node": n.id },
      el("td", {}, el("span", { class: "sid", text: n.id }), n.this ? el("span", { class: "muted", text: " (this node)" }) : null,
        el("div", { class: "sid muted", "data-uid": "", text: n.uid || "—" })),
      el("td", { text: n.hostname + " · " + n.pid }),
      el("td", { class: "num", text: fmtNum(n.connections) }),
      el("td", { class: "num", text: fmtNum(n.sockets) }),
      el("td", { class: "num", text: n.rooms === null || n.rooms === undefined ? "—" : fmtNum(n.rooms) }),
      el("td", { class: "num", text: n.this ? "—" : (n.stats_age_ms / 1000).toFixed(1) + " s" })));
    if (s.admin) {
      setText("admin-stats", "Admin watchers: " + fmtNum(s.admin.watchers) + " · admin updates dropped: " + fmtNum(s.admin.dropped));
    }
  }

  function setReadOnly(value) {
    readOnly = value;
    show("read-only-badge", value);
    for (const node of document.querySelectorAll("#emit-form input, #emit-form textarea, #emit-form button")) node.disabled = value;
    document.querySelector(".read-only-note").classList.toggle("hidden", !value);
    if ($("socket-dialog").dataset.sid) renderDialog();
  }

  /** Replaces a tbody's rows with one per item (or a row saying there is none). */
  function renderRows(bodyId, items, columns, row, emptyText) {
    const body = $(bodyId);
    const rows = (Array.isArray(items) ? items : []).map(row);
    if (rows.length === 0) rows.push(el("tr", {}, el("td", { class: "empty", colSpan: columns, text: emptyText || "none" })));
    body.replaceChildren(...rows);
  }

  // ---- connections ---------------------------------------------------------------------

  const conn = { q: "", page: 1, perPage: 25, total: 0, items: [], inFlight: false, again: false };

  async function refreshConnections() {
    if (document.hidden || !client.connected) return;
    if (conn.inFlight) { conn.again = true; return; }
    conn.inFlight = true;
    try {
      const args = { page: conn.page, per_page: conn.perPage };
      if (conn.q) args.q = conn.q;
      const reply = await call("siohub:connections", args);
      conn.total = Number(reply.total) || 0;
      const pages = Math.max(1, Math.ceil(conn.total / conn.perPage));
      if (conn.page > pages) { conn.page = pages; conn.again = true; }
      conn.items = Array.isArray(reply.items) ? reply.items : [];
      renderConnections();
    } catch (e) {
      if (client.connected) toast("Connections: " + e.message, true);
    } finally {
      conn.inFlight = false;
      if (conn.again) { conn.again = false; refreshConnections(); }
    }
  }

  function roomPills(socket) {
    const rooms = (socket.rooms || []).filter((r) => r !== socket.id);
    const shown = rooms.slice(0, ROOMS_SHOWN_PER_SOCKET).map((r) => el("span", { class: "pill", text: r, title: r }));
    if (rooms.length > shown.length) shown.push(el("span", { class: "muted small", text: "+" + (rooms.length - shown.length) }));
    return shown;
  }

  function roomsOrNone(socket) {
    const pills = roomPills(socket);
    return pills.length ? pills : el("span", { class: "muted", text: "none" });
  }

  function renderConnections() {
    const pages = Math.max(1, Math.ceil(conn.total / conn.perPage));
    setText("conn-total", fmtNum(conn.total) + (conn.q ? " matching" : ""));
    setText("conn-page", "page " + conn.page + " of " + pages);
    $("conn-prev").disabled = conn.page <= 1;
    $("conn-next").disabled = conn.page >= pages;
    renderRows("conn-body", conn.items, 10, (c) => el("tr", { "data-sid": c.sid },
      el("td", { class: "sid", text: c.sid }),
      el("td", { text: c.user || "" }, c.user ? null : el("span", { class: "muted", text: "–" })),
      el("td", {}, el("span", { class: "pill " + c.transport, text: c.transport })),
      el("td", { class: "mono", text: c.address || "" }),
      el("td", {}, (c.sockets || []).map((s) => el("div", { class: "socket-rooms", "data-nsp": s.nsp },
        el("span", { class: "pill nsp", text: s.nsp, title: "socket " + s.id }), roomPills(s)))),
      el("td", { class: "num traffic" }, fmtNum(c.packets_in), el("br"), el("span", { class: "muted", text: fmtBytes(c.bytes_in) })),
      el("td", { class: "num traffic" }, fmtNum(c.packets_out), el("br"), el("span", { class: "muted", text: fmtBytes(c.bytes_out) })),
      el("td", { class: "num", text: fmtNum(c.backlog) }),
      el("td", { class: "small", text: fmtAgo(c.connected_at), title: c.connected_at ? new Date(c.connected_at).toISOString() : "" }),
      el("td", {}, el("button", { type: "button", class: "small manage", text: readOnly ? "Details" : "Manage", onclick: () => openDialog(c.sid) }))),
      conn.q ? "no connection matches" : "no connections");
    if ($("socket-dialog").dataset.sid) renderDialog();
  }

  $("conn-search").addEventListener("input", debounce(() => {
    conn.q = $("conn-search").value.trim();
    conn.page = 1;
    refreshConnections();
  }, 250));
  $("conn-per-page").addEventListener("change", () => {
    conn.perPage = Number($("conn-per-page").value) || 25;
    conn.page = 1;
    refreshConnections();
  });
  $("conn-prev").addEventListener("click", () => { if (conn.page > 1) { conn.page--; refreshConnections(); } });
  $("conn-next").addEventListener("click", () => { conn.page++; refreshConnections(); });

  // ---- the dialog of one connection: join, leave, disconnect ----------------------------

  const dialog = { sid: null, last: null };

  function openDialog(sid) {
    $("socket-dialog").dataset.sid = sid;
    dialog.sid = sid;
    setText("socket-dialog-result", "");
    show("socket-dialog", true);
    renderDialog();
  }
  function closeDialog() {
    delete $("socket-dialog").dataset.sid;
    dialog.sid = null;
    dialog.last = null;
    show("socket-dialog", false);
  }
  $("socket-dialog-close").addEventListener("click", closeDialog);
  $("socket-dialog").addEventListener("click", (e) => { if (e.target === $("socket-dialog")) closeDialog(); });
  document.addEventListener("keydown", (e) => { if (e.key === "Escape" && dialog.sid) closeDialog(); });

  function renderDialog() {
    const current = conn.items.find((c) => c.sid === dialog.sid);
    if (current) dialog.last = current;
    const c = dialog.last;
    const box = $("socket-dialog-sockets");
    if (!c) { box.replaceChildren(el("p", { class: "muted", text: "This connection is not on the current page." })); return; }
    setText("socket-dialog-title", "Connection " + c.sid);
    setText("socket-dialog-sid", [c.transport, c.address, c.user ? "user " + c.user : null, c.user_agent].filter(Boolean).join(" · "));
    // Keep what is being typed: rebuild only when the sockets or their rooms changed.
    const key = JSON.stringify([readOnly, current ? 1 : 0, (c.sockets || []).map((s) => [s.nsp, s.id, s.rooms])]);
    if (box.dataset.key === key) return;
    const typed = {};
    for (const input of box.querySelectorAll("input[data-socket]")) typed[input.dataset.socket] = input.value;
    box.dataset.key = key;
    const blocks = (c.sockets || []).map((s) => {
      const input = el("input", { placeholder: "room", "data-socket": s.id, "aria-label": "Room for socket " + s.id, value: typed[s.id] || "" });
      const room = () => input.value.trim();
      const act = (label, fn) => el("button", { type: "button", class: "small", text: label, disabled: readOnly || !current, onclick: fn });
      return el("div", { class: "socket-block", "data-socket": s.id, "data-nsp": s.nsp },
        el("div", {}, el("span", { class: "pill nsp", text: s.nsp }), " ", el("span", { class: "sid", text: s.id })),
        el("div", { class: "small rooms-line" }, "rooms: ", roomsOrNone(s)),
        readOnly ? null : el("div", { class: "row" }, input,
          act("Join", () => command("join", [s.nsp, room(), s.id], "joined " + room(), room)),
          act("Leave", () => command("leave", [s.nsp, room(), s.id], "left " + room(), room))),
        readOnly ? null : el("div", { class: "row" },
          el("button", { type: "button", class: "small danger", text: "Disconnect socket", disabled: !current,
            onclick: () => command("_disconnect", [s.nsp, false, s.id], "disconnected " + s.id) }),
          el("button", { type: "button", class: "small danger", text: "Close connection", disabled: !current,
            onclick: () => command("_disconnect", [s.nsp, true, s.id], "closed " + c.sid) })));
    });
    box.replaceChildren(...(blocks.length ? blocks : [el("p", { class: "muted", text: "No namespace sockets on this connection." })]));
  }

  /** Runs an admin command; `needs` (optional) must give a non-empty value first. */
  async function command(name, args, done, needs) {
    const result = $("socket-dialog-result");
    if (needs && !needs()) { result.className = "result err"; result.textContent = "Name a room first."; return; }
    result.className = "result";
    result.textContent = "…";
    try {
      const reply = await call(name, ...args);
      result.className = "result ok";
      result.textContent = done + " (" + fmtNum(reply.sockets) + " socket" + (reply.sockets === 1 ? "" : "s") + ")";
      refreshConnections();
      refreshRooms();
    } catch (e) {
      result.className = "result err";
      result.textContent = (e.code ? e.code + ": " : "") + e.message;
    }
  }

  // ---- emit to a room --------------------------------------------------------------------

  $("emit-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const result = $("emit-result");
    const nsp = $("emit-nsp").value.trim() || "/";
    const room = $("emit-room").value.trim();
    const event = $("emit-event").value.trim();
    const text = $("emit-data").value.trim();
    let args = [];
    if (text) {
      try { args = [JSON.parse(text)]; } catch (err) {
        result.className = "result err";
        result.textContent = "The data is not JSON (put text in double quotes).";
        return;
      }
    }
    result.className = "result";
    result.textContent = "…";
    try {
      const reply = await call("emit", nsp, room, event, ...args);
      result.className = "result ok";
      result.textContent = "Sent to " + fmtNum(reply.sockets) + " socket" + (reply.sockets === 1 ? "" : "s") + ".";
    } catch (err) {
      result.className = "result err";
      result.textContent = (err.code ? err.code + ": " : "") + err.message;
    }
  });

  // ---- namespaces and rooms -------------------------------------------------------------

  const rooms = { q: "", nsp: "", page: 1, total: 0, inFlight: false };

  async function refreshRooms() {
    if (document.hidden || !client.connected || rooms.inFlight) return;
    rooms.inFlight = true;
    try {
      const args = { page: rooms.page, per_page: ROOMS_PER_PAGE };
      if (rooms.q) args.q = rooms.q;
      if (rooms.nsp) args.nsp = rooms.nsp;
      const reply = await call("siohub:rooms", args);
      const namespaces = Array.isArray(reply.namespaces) ? reply.namespaces : [];
      renderRows("nsp-body", namespaces, 3, (n) => el("tr", { "data-nsp": n.name },
        el("td", { class: "mono", text: n.name }), el("td", { class: "num", text: fmtNum(n.sockets) }),
        el("td", { class: "num", text: fmtNum(n.rooms) })), "no namespaces in use");
      const select = $("room-nsp");
      const names = namespaces.map((n) => n.name);
      if (rooms.nsp && !names.includes(rooms.nsp)) names.push(rooms.nsp);
      const have = Array.from(select.options).slice(1).map((o) => o.value);
      if (JSON.stringify(have) !== JSON.stringify(names)) {
        select.replaceChildren(el("option", { value: "", text: "every namespace" }),
          ...names.map((n) => el("option", { value: n, text: n })));
        select.value = rooms.nsp;
      }
      rooms.total = Number(reply.total) || 0;
      const pages = Math.max(1, Math.ceil(rooms.total / ROOMS_PER_PAGE));
      if (rooms.page > pages) rooms.page = pages;
      setText("room-page", rooms.total ? "page " + rooms.page + " of " + pages + " · " + fmtNum(rooms.total) + " rooms" : "");
      $("room-prev").disabled = rooms.page <= 1;
      $("room-next").disabled = rooms.page >= pages;
      renderRows("room-body", reply.items, 3, (r) => el("tr", { "data-room": r.room },
        el("td", { class: "mono", text: r.nsp }), el("td", { text: r.room }),
        el("td", { class: "num", text: fmtNum(r.members) })), rooms.q ? "no room matches" : "no rooms");
    } catch (e) {
      if (client.connected) toast("Rooms: " + e.message, true);
    } finally {
      rooms.inFlight = false;
    }
  }
  $("room-search").addEventListener("input", debounce(() => {
    rooms.q = $("room-search").value.trim();
    rooms.page = 1;
    refreshRooms();
  }, 250));
  $("room-nsp").addEventListener("change", () => { rooms.nsp = $("room-nsp").value; rooms.page = 1; refreshRooms(); });
  $("room-prev").addEventListener("click", () => { if (rooms.page > 1) { rooms.page--; refreshRooms(); } });
  $("room-next").addEventListener("click", () => { rooms.page++; refreshRooms(); });

  // ---- recent events ---------------------------------------------------------------------

  let eventsInFlight = false;
  async function refreshEvents() {
    if (document.hidden || !client.connected || eventsInFlight) return;
    eventsInFlight = true;
    try {
      const reply = await call("siohub:events", {});
      const items = (Array.isArray(reply.items) ? reply.items : []).slice().sort((a, b) => b.at - a.at);
      renderRows("events-body", items, 6, (e) => el("tr", {},
        el("td", { class: "mono small", text: fmtTime(e.at) }),
        el("td", { class: e.direction === "in" ? "dir-in" : "dir-out", text: e.direction === "in" ? "in" : "out", title: e.direction === "in" ? "from a client" : "to clients" }),
        el("td", { class: "mono", text: e.nsp }), el("td", { class: "sid", text: e.socket_id || "" }),
        el("td", { text: e.event }), el("td", { class: "num", text: fmtBytes(e.bytes) })), "no events yet");
    } catch (e) {
      if (client.connected) toast("Events: " + e.message, true);
    } finally {
      eventsInFlight = false;
    }
  }

  // A hidden tab asks for nothing; it catches up when it is shown again.
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && client.connected) { refreshConnections(); refreshRooms(); refreshEvents(); }
  });

  // ---- start ---------------------------------------------------------------------------------

  client.connect();
})();
