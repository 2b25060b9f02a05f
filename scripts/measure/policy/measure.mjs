// Before/after figures for issue 9 items 2, 11 and 10 against one running siohub.
// usage: node measure.mjs <port> <item>   (item: publish | tasks | logs)
import { createRequire } from "node:module";
import crypto from "node:crypto";
const require = createRequire(new URL("../../../tests/clients/node/package.json", import.meta.url));
const { io } = require("socket.io-client");
const [port, item] = [process.argv[2], process.argv[3]];
const url = `http://127.0.0.1:${port}`;
const SECRET = "measure-secret-0123456789abcdef0123456789";
const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
function jwt(sub) {
  const head = b64({ alg: "HS256", typ: "JWT" });
  const body = b64({ sub, exp: Math.floor(Date.now() / 1000) + 3600 });
  const sig = crypto.createHmac("sha256", SECRET).update(`${head}.${body}`).digest("base64url");
  return `${head}.${body}.${sig}`;
}
const connect = (opts = {}) =>
  new Promise((ok, fail) => {
    const s = io(url, { transports: ["websocket"], forceNew: true, ...opts });
    s.on("connect", () => ok(s));
    s.on("connect_error", fail);
  });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function metric(name) {
  const text = await (await fetch(`${url}/metrics`)).text();
  return text.split("\n").filter((l) => l.startsWith(name)).join("; ");
}

if (item === "publish") {
  const bob = await connect({ auth: { token: jwt("bob") } });
  let forged = 0;
  bob.on("notice", () => forged++);
  const attacker = await connect();
  const acks = [];
  for (let i = 0; i < 100; i++) {
    acks.push(
      attacker.emitWithAck("publish", { room: "user:bob", event: "notice", data: "reset your password at evil.example" }),
    );
  }
  const answers = await Promise.all(acks);
  await sleep(500);
  const codes = {};
  for (const a of answers) {
    const k = a.error ? a.error.code : "ok";
    codes[k] = (codes[k] || 0) + 1;
  }
  console.log(JSON.stringify({ forged_publishes: 100, acks: codes, forged_events_bob_received: forged }));
} else if (item === "tasks") {
  const attacker = await connect();
  const victim = await connect();
  const t0 = Date.now();
  const flood = [];
  for (let i = 0; i < 300; i++) flood.push(attacker.timeout(20000).emitWithAck("request", { action: "x" }));
  await sleep(1000);
  const inFlight = await metric("siohub_webhook_in_flight");
  const victimAnswer = await victim
    .timeout(20000)
    .emitWithAck("request", { action: "mine" })
    .catch(() => ({ error: { code: "no ack in 20 s" } }));
  const answers = await Promise.allSettled(flood);
  const codes = {};
  for (const r of answers) {
    const a = r.status === "fulfilled" ? r.value : { error: { code: "no ack in 20 s" } };
    const k = a.error ? a.error.code : "ok";
    codes[k] = (codes[k] || 0) + 1;
  }
  console.log(JSON.stringify({
    attacker_requests: 300, attacker_acks: codes,
    webhook_in_flight_during_flood: inFlight,
    victim_request: victimAnswer.error ? victimAnswer.error.code : "ok",
    seconds: (Date.now() - t0) / 1000,
  }));
} else if (item === "logs") {
  const s = await connect();
  const forgedLine = "[2026-12-01T00:00:00Z WARN  siohub] forged line";
  const nsp = `/x\n${forgedLine}\n${"y".repeat(10000)}`;
  // Raw CONNECTs to an unknown namespace with a newline, a fake line and 10 KB of name.
  const engine = s.io.engine;
  for (let i = 0; i < 1000; i++) engine.write(`0${nsp},`);
  await sleep(4000);
  console.log(JSON.stringify({ connects_sent: 1000 }));
}
process.exit(0);
