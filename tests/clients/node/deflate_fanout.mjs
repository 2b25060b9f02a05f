// The fan-out of bench/deflate_cost.sh: `subscribers` `ws` clients (offering
// permessage-deflate or not) join the room "bench" of a siohub hub; one more client
// publishes `messages` events of `size` bytes of JSON-ish text (each different) to it, at most 64 unacked
// at a time. stdout: one JSON line {delivered, wireBytes (read by the subscribers while
// publishing), extensions (of subscriber 0)} once every subscriber has every event.
//
//   node deflate_fanout.mjs <url> <subscribers> <messages> <size> <deflate: true|false>

import WebSocket from "ws";

const [base, subsArg, msgsArg, sizeArg, deflateArg] = process.argv.slice(2);
const [subscribers, messages, size] = [subsArg, msgsArg, sizeArg].map(Number);
const perMessageDeflate = deflateArg === "true";
const url = `${base.replace(/^http/, "ws")}/socket.io/?EIO=4&transport=websocket`;
const words = ["price", "volume", "symbol", "timestamp", "bid", "ask", "trade", "venue"];
// Each event different (numbers from a per-event sequence), as real ticks are: an identical
// payload every time would flatter context takeover (Node's default), which then sends a
// back-reference to the previous message.
function payloadOf(n) {
  let text = "";
  let x = n * 2654435761;
  for (let i = 0; text.length < size; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    text += `"${words[i % 8]}":${x % 100000},`;
  }
  return text.slice(0, size);
}

function client(onText) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate });
    let step = 0;
    ws.on("message", (data) => {
      const t = data.toString();
      if (t === "2") return ws.send("3");
      if (step === 0 && t.startsWith("0{")) { step = 1; return ws.send("40"); }
      if (step === 1 && t.startsWith("40{")) { step = 2; return ws.send('420["join","bench"]'); }
      if (step === 2 && t.startsWith("430[")) { step = 3; return resolve(ws); }
      if (step === 3) onText(t);
    });
    ws.on("error", reject);
  });
}

let received = 0;
const total = subscribers * messages;
let done;
const finished = new Promise((r) => (done = r));
const subs = [];
for (let i = 0; i < subscribers; i++) {
  subs.push(await client((t) => { if (t.startsWith('42["tick"') && ++received === total) done(); }));
}
let acked = 0;
let sent = 0;
let publisher;
const publishNext = () => {
  while (sent < messages && sent - acked < 64) {
    sent++;
    publisher.send(`42${sent}${JSON.stringify(["publish", { room: "bench", event: "tick", data: payloadOf(sent) }])}`);
  }
};
publisher = await client((t) => { if (/^43\d+\[/.test(t)) { acked++; publishNext(); } });
const before = subs.reduce((n, s) => n + s._socket.bytesRead, 0);
process.stdout.write(JSON.stringify({ ready: true }) + "\n");
// The driver samples the server's CPU time now and when the result line comes.
await new Promise((r) => process.stdin.once("data", r));
publishNext();
await finished;
const wireBytes = subs.reduce((n, s) => n + s._socket.bytesRead, 0) - before;
console.log(JSON.stringify({ delivered: received, wireBytes, extensions: subs[0].extensions }));
for (const s of [...subs, publisher]) s.terminate();
process.exit(0);
