// Websocket clients (Node's `ws`) speaking Engine.IO/Socket.IO by hand to a siohub hub, with
// the permessage-deflate options given, to check what siohub negotiates and sends:
//
//   node deflate_clients.mjs <base url> <clients> '<ws perMessageDeflate options JSON|false>'
//
// Every client joins `/` and the room "deflate"; client 0 publishes a large event (echoed
// to itself too) and then a small one to the room. stdout: one JSON line
// {extensions: [..], params: [the negotiated parameters, per client], big: [bytes read for the large event, per client], small: [..],
//  bigLength, ok: true}.

import WebSocket from "ws";

const [base, countArg, optionsArg] = process.argv.slice(2);
const count = Number(countArg);
const perMessageDeflate = JSON.parse(optionsArg ?? "{}");
const url = `${base.replace(/^http/, "ws")}/socket.io/?EIO=4&transport=websocket`;
const BIG = "siohub compresses this ".repeat(2000);

function fail(message) {
  console.error(message);
  process.exit(1);
}
setTimeout(() => fail("timed out"), 20000).unref();

/** One client: resolves once connected to `/` and in the room. */
function open() {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate });
    const waiters = [];
    ws.on("message", (data, isBinary) => {
      const text = isBinary ? "" : data.toString();
      if (text === "2") return ws.send("3");
      const i = waiters.findIndex((w) => w.match(text));
      if (i >= 0) waiters.splice(i, 1)[0].resolve(text);
    });
    ws.on("error", reject);
    ws.waitFor = (match) => new Promise((res) => waiters.push({ match, resolve: res }));
    const opened = ws.waitFor((t) => t.startsWith("0{"));
    ws.on("open", async () => {
      await opened;
      const connected = ws.waitFor((t) => t.startsWith("40{"));
      ws.send("40");
      await connected;
      const joined = ws.waitFor((t) => t.startsWith("431["));
      ws.send('421["join","deflate"]');
      const ack = JSON.parse((await joined).slice(3));
      if (!ack[0].ok) reject(new Error(`join refused: ${JSON.stringify(ack)}`));
      resolve(ws);
    });
  });
}

/** Client 0 publishes `data` as `event`; resolves with the bytes each client read for it. */
async function publish(clients, event, data, id) {
  const before = clients.map((c) => c._socket.bytesRead);
  const arrived = clients.map((c) =>
    c.waitFor((t) => t.startsWith(`42["${event}"`)).then((t) => {
      if (JSON.parse(t.slice(2))[1] !== data) fail(`${event} arrived altered`);
    }),
  );
  const acked = clients[0].waitFor((t) => t.startsWith(`43${id}[`));
  clients[0].send(`42${id}${JSON.stringify(["publish", { room: "deflate", event, data, echo: true }])}`);
  await Promise.all([...arrived, acked]);
  return clients.map((c, i) => c._socket.bytesRead - before[i]);
}

const clients = [];
for (let i = 0; i < count; i++) clients.push(await open());
const big = await publish(clients, "big", BIG, 2);
const small = await publish(clients, "small", "tiny", 3);
console.log(
  JSON.stringify({
    extensions: clients.map((c) => c.extensions),
    params: clients.map((c) => c._extensions["permessage-deflate"]?.params ?? null),
    big,
    small,
    bigLength: BIG.length,
    ok: true,
  }),
);
for (const c of clients) c.terminate();
