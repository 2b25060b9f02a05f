// The reference Engine.IO server (engine.io 6.6, as socket.io 4.8.4 runs it) with the
// engine options given as JSON, for comparing siohub's answers with Node's:
//
//   node engine_options_server.mjs '{"cookie":true,"allowUpgrades":false}'
//
// Every message is echoed back, as siohub's Engine.IO echo application does. stdout: one
// line {"port":N} once listening. Runs until killed.

import { createServer } from "node:http";
import { attach } from "engine.io";

const options = JSON.parse(process.argv[2] ?? "{}");
const httpServer = createServer();
const engine = attach(httpServer, { path: "/socket.io/", ...options });
engine.on("connection", (socket) => {
  socket.on("message", (data) => socket.send(data));
});
httpServer.listen(0, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ port: httpServer.address().port }) + "\n");
});
