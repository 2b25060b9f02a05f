// The Socket.IO conformance server written against the Node.js socket.io 4.8 server (ping
// 300/200 ms, connect timeout 1 s, `message` -> `message-back`), to compare siohub with:
//   node node_conformance_server.mjs [port=3000]
import { Server } from "socket.io";

const port = Number(process.argv[2] ?? 3000);
const io = new Server(port, { pingInterval: 300, pingTimeout: 200, connectTimeout: 1000, cors: { origin: "*" } });
io.on("connection", (socket) => {
  socket.emit("auth", socket.handshake.auth);
  socket.on("message", (...args) => socket.emit("message-back", ...args));
});
