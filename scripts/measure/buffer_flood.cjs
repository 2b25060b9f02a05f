// Publishes once into each of many distinct rooms of a namespace that buffers them
// (`buffer = "always"`), then never touches them again: what the hub keeps for later must
// still go (RSS, /metrics) once the TTL has passed. Used for issue 9's before/after figure.
//
//   node scripts/measure/buffer_flood.cjs <url> <rooms> <event bytes>
//
// Run with NODE_PATH=tests/clients/node/node_modules (see scripts/measure/buffer_flood.sh).
const { io } = require("socket.io-client");

async function main() {
  const [url, rooms = "100000", size = "4096"] = process.argv.slice(2);
  const data = "x".repeat(Number(size));
  const socket = io(url, { transports: ["websocket"] });
  await new Promise((ok, fail) => {
    socket.on("connect", ok);
    socket.on("connect_error", fail);
  });
  const started = Date.now();
  for (let n = 0; n < Number(rooms); n++) {
    const body = { room: `flood-${n}`, event: "ev", data };
    if (n % 500 === 499) {
      // An ack now and then paces the client to what the hub handles.
      await socket.timeout(30000).emitWithAck("publish", body);
    } else {
      socket.emit("publish", body);
    }
  }
  await socket.timeout(30000).emitWithAck("ping", {});
  console.log(`published into ${rooms} rooms (${size} bytes each) in ${Date.now() - started} ms`);
  socket.close();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
