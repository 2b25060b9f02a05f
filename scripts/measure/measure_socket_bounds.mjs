// Before/after figures for the per-socket bounds (rooms per socket, namespaces, binary
// attachments): starts a siohub binary on a free port, runs each attack over raw Engine.IO
// websocket frames, and prints what the server spent and kept (CPU seconds from
// /proc/<pid>/stat, RSS from /proc/<pid>/status, /metrics series).
//
//   node scripts/measure/measure_socket_bounds.mjs <siohub binary> [KEY=VALUE env ...]
//
// Needs the `ws` package of tests/clients (run tests/clients/setup.sh once).

import { createRequire } from "node:module";
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "../../tests/clients/node/package.json"));
const WebSocket = require("ws");

const [binary, ...envPairs] = process.argv.slice(2);
if (!binary) {
  console.error("usage: measure_socket_bounds.mjs <siohub binary> [KEY=VALUE ...]");
  process.exit(2);
}

const config = `
[server]
host = "127.0.0.1"
[[namespaces]]
name = "/"
[[namespaces]]
name = "/tenant-{id}"
[[namespaces]]
name = "/t-{a}-{b}"
`;
const configPath = `/tmp/measure_socket_bounds_${process.pid}.toml`;
writeFileSync(configPath, config);

const port = await new Promise((resolve) => {
  const s = createServer().listen(0, "127.0.0.1", () => {
    const p = s.address().port;
    s.close(() => resolve(p));
  });
});
const env = { ...process.env, SOCKETIO_LOGGER_LEVEL: "error" };
for (const pair of envPairs) {
  const i = pair.indexOf("=");
  env[pair.slice(0, i)] = pair.slice(i + 1);
}
const server = spawn(binary, ["--config", configPath, "--port", String(port)], {
  env,
  stdio: ["ignore", "ignore", "inherit"],
});
// The server goes with this script, however it ends.
process.on("exit", () => server.kill("SIGKILL"));
process.on("uncaughtException", (e) => {
  console.error(e);
  process.exit(1);
});
const base = `http://127.0.0.1:${port}`;
const wsUrl = `ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const cpu = () => {
  const fields = readFileSync(`/proc/${server.pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in seconds
};
const rssMiB = () => {
  const line = readFileSync(`/proc/${server.pid}/status`, "utf8")
    .split("\n")
    .find((l) => l.startsWith("VmRSS:"));
  return Math.round(Number(line.split(/\s+/)[1]) / 102.4) / 10;
};

for (let i = 0; ; i++) {
  try {
    if ((await fetch(`${base}/health`)).ok) break;
  } catch {}
  if (i > 200) throw new Error("the server did not start");
  await sleep(50);
}

/** A raw Engine.IO websocket with a queue of incoming text frames. */
async function open() {
  const ws = new WebSocket(wsUrl, { maxPayload: 100 * 1024 * 1024 });
  const texts = [];
  let waiter = null;
  ws.closed = false;
  ws.on("message", (data, isBinary) => {
    if (isBinary) return;
    const t = data.toString();
    if (t === "2") return ws.send("3");
    texts.push(t);
    if (waiter) waiter();
  });
  ws.on("close", () => {
    ws.closed = true;
    if (waiter) waiter();
  });
  ws.on("error", () => {});
  ws.next = async (ms = 30000) => {
    const deadline = Date.now() + ms;
    while (!texts.length) {
      if (ws.closed || Date.now() > deadline) return null;
      await new Promise((r) => {
        waiter = r;
        setTimeout(r, 100);
      });
      waiter = null;
    }
    return texts.shift();
  };
  await new Promise((r, e) => {
    ws.once("open", r);
    ws.once("error", e);
  });
  await ws.next(); // the open packet
  return ws;
}

async function connected(nsp = "/") {
  const ws = await open();
  ws.send(nsp === "/" ? "40" : `40${nsp},`);
  const reply = await ws.next();
  if (!reply?.startsWith("40")) throw new Error(`CONNECT refused: ${reply}`);
  return ws;
}

const results = { binary, env: envPairs };

// 1. One socket joins 10,000 rooms through the built-in `join` (pipelined).
{
  const ws = await connected();
  const n = 10000;
  const cpu0 = cpu();
  const t0 = Date.now();
  for (let i = 0; i < n; i++) ws.send(`42${i}["join","room-${i}"]`);
  let ok = 0;
  let refused = 0;
  for (let i = 0; i < n; i++) {
    const t = await ws.next(120000);
    if (t === null) throw new Error(`only ${i} join acks`);
    if (t.includes('"ok":true')) ok++;
    else refused++;
  }
  results.join_10000_rooms = {
    wall_s: (Date.now() - t0) / 1000,
    server_cpu_s: Math.round((cpu() - cpu0) * 100) / 100,
    ok,
    refused,
  };
  ws.close();
}

// 2. One connection joins and leaves 10,000 distinct /tenant-N namespaces in turn.
{
  const ws = await connected();
  const rss0 = rssMiB();
  const cpu0 = cpu();
  for (let i = 0; i < 10000; i++) {
    ws.send(`40/tenant-${i},`);
    const reply = await ws.next();
    if (!reply?.startsWith(`40/tenant-${i},`)) throw new Error(`tenant ${i}: ${reply}`);
    ws.send(`41/tenant-${i},`);
  }
  await sleep(1000);
  const metrics = await (await fetch(`${base}/metrics`)).text();
  results.namespaces_10000_in_turn = {
    server_cpu_s: Math.round((cpu() - cpu0) * 100) / 100,
    namespace_series_after: metrics
      .split("\n")
      .filter((l) => l.startsWith("siohub_namespace_sockets{")).length,
    metrics_bytes: metrics.length,
    rss_growth_mib: Math.round((rssMiB() - rss0) * 10) / 10,
  };
  // 2b. The same connection asks for 100 namespaces at once.
  for (let i = 0; i < 100; i++) ws.send(`40/tenant-burst-${i},`);
  let joined = 0;
  let refused = 0;
  for (let i = 0; i < 100; i++) {
    const t = await ws.next();
    if (t?.startsWith("40/")) joined++;
    else if (t?.startsWith("44/")) refused++;
  }
  results.namespaces_100_at_once = { joined, refused };
  ws.close();
}

// 3. A pathological namespace name against `/t-{a}-{b}`: dashes, then a `/` so that no
//    split matches (the backtracking matcher tried every one, copying each).
for (const n of [1000, 2000, 4000]) {
  const ws = await open();
  const cpu0 = cpu();
  const t0 = Date.now();
  ws.send(`40/t-${"-".repeat(n)}/x,`);
  const reply = await ws.next(120000);
  results[`pathological_name_${n}_dashes`] = {
    answer: reply === null ? (ws.closed ? "connection closed" : "no answer in 120 s") : reply.slice(0, 40),
    wall_s: (Date.now() - t0) / 1000,
    server_cpu_s: Math.round((cpu() - cpu0) * 100) / 100,
  };
  ws.terminate();
}

// 4. 20 connections each announce 10 attachments and send 9 buffers of 999,000 bytes.
{
  await sleep(500);
  const rss0 = rssMiB();
  const attackers = [];
  for (let c = 0; c < 20; c++) {
    const ws = await connected();
    const ph = Array.from({ length: 10 }, (_, i) => `{"_placeholder":true,"num":${i}}`);
    ws.send(`4510-["echo",${ph.join(",")}]`);
    const buf = Buffer.alloc(999000, c);
    for (let i = 0; i < 9; i++) if (!ws.closed) ws.send(buf);
    attackers.push(ws);
  }
  await sleep(3000);
  results.attachments_20x9_buffers = {
    rss_growth_mib: Math.round((rssMiB() - rss0) * 10) / 10,
    connections_closed_by_server: attackers.filter((w) => w.closed).length,
  };
  attackers.forEach((w) => w.terminate());
}

console.log(JSON.stringify(results, null, 2));
server.kill("SIGKILL");
