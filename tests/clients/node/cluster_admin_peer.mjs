// A Node.js socket.io 4.8 server with @socket.io/redis-adapter 8.3 and @socket.io/admin-ui
// 0.5.1 instrumenting it (server id "node-admin-peer"), next to siohub nodes on one Redis
// (tests/it/cluster_views.rs): what the official admin UI sees of a mixed cluster.
//
//   node cluster_admin_peer.mjs <redis url> <a siohub socket id on />
//
// Once the adapter counts the siohub node, an admin client (socket.io-client) connects to
// this server's /admin and waits until it has a server_stats from a siohub node (it carries
// `siohub.uid`) and an all_sockets that lists the siohub socket (admin-ui fetches every
// node's sockets). Prints one JSON line, {"ok":true,...} or {"ok":false,"error":".."}, then
// keeps serving (its own server_stats go to the siohub nodes every 2 s) until stdin closes.

import { createServer } from "node:http";
import { Server } from "socket.io";
import { createAdapter } from "@socket.io/redis-adapter";
import { instrument } from "@socket.io/admin-ui";
import { createClient } from "redis";
import { io as connect } from "socket.io-client";

const [url, siohubSocket] = process.argv.slice(2);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(pred, what, ms = 15000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > deadline) throw new Error("timed out waiting for " + what);
    await sleep(50);
  }
}

const pub = createClient({ url });
const sub = pub.duplicate();
await Promise.all([pub.connect(), sub.connect()]);
const http = createServer();
const io = new Server(http, { adapter: createAdapter(pub, sub) });
instrument(io, { auth: false, mode: "development", serverId: "node-admin-peer" });
await new Promise((r) => http.listen(0, "127.0.0.1", r));
const port = http.address().port;

let admin = null;
try {
  await until(async () => (await io.of("/").adapter.serverCount()) >= 2, "the siohub node to be counted");
  admin = connect(`http://127.0.0.1:${port}/admin`, { transports: ["websocket"], reconnection: false });
  const stats = new Map();
  let sockets = [];
  admin.on("server_stats", (s) => stats.set(s.serverId, s));
  admin.on("all_sockets", (list) => { sockets = list; });
  const siohub = await until(
    () => [...stats.values()].find((s) => s.siohub && typeof s.siohub.uid === "string"),
    "a siohub node's server_stats",
  );
  const listed = await until(() => sockets.find((s) => s.id === siohubSocket), "the siohub socket in all_sockets");
  console.log(JSON.stringify({
    ok: true,
    port,
    siohub_stats: siohub,
    listed,
    servers: [...stats.keys()].sort(),
  }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, error: String(e && e.stack || e) }));
}

// Serve on (the siohub node lists this server from its server_stats) until told to stop.
process.stdin.resume();
process.stdin.on("end", async () => {
  if (admin) admin.close();
  io.close();
  await Promise.allSettled([pub.quit(), sub.quit()]);
  process.exit(0);
});
