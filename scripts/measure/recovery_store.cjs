// Driven by recovery_store.sh: node ports A B C, B's pid, the Redis port, events, bytes.
const { io } = require("socket.io-client");
const { execFileSync } = require("node:child_process");

const [a, b, c, bPid, redisPort, eventsArg, sizeArg] = process.argv.slice(2);
const events = Number(eventsArg);
const body = "x".repeat(Number(sizeArg));
const redis = (...args) =>
  execFileSync("redis-cli", ["-p", redisPort, ...args], { maxBuffer: 1 << 28 }).toString().trim();
const url = (port) => `http://127.0.0.1:${port}/`;
const until = async (what, check, ms = 30_000) => {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};
const connected = (s) => until("connected", () => s.connected);
const ack = (s, ev, arg) =>
  new Promise((resolve, reject) =>
    s.timeout(10_000).emit(ev, arg, (err, reply) => {
      if (err) reject(new Error(`no answer to ${ev} within 10 s`));
      else if (reply && reply.ok === false) reject(new Error(`${ev}: ${JSON.stringify(reply)}`));
      else resolve(reply);
    }),
  );

(async () => {
  const opts = { forceNew: true, transports: ["websocket"], reconnection: false };
  const client = io(url(b), opts);
  const got = [];
  client.on("news", (d) => got.push(d.n));
  await connected(client);
  await ack(client, "join", "r");
  const pub = io(url(a), opts);
  await connected(pub);
  await ack(pub, "publish", { room: "r", event: "news", data: { n: 0, body } });
  await until("news 0 on B", () => got.length === 1);
  const mine = () =>
    redis("--scan", "--pattern", "socket.io-recovery-session#*")
      .split("\n")
      .find((key) => key && redis("GET", key).includes(client.id));
  let record;
  await until("the client's record in room r", () => {
    record = mine();
    return record && redis("GET", record).includes('"r"');
  });
  execFileSync("kill", ["-KILL", bPid]);
  await until("the client sees B gone", () => !client.connected);

  const started = Date.now();
  let next = 1;
  const worker = async () => {
    while (next <= events) {
      const n = next++;
      await ack(pub, "publish", { room: "r", event: "news", data: { n, body } });
    }
  };
  await Promise.all(Array.from({ length: 100 }, worker));
  const publishMs = Date.now() - started;
  await until("the stream holds them all", () => Number(redis("XLEN", "socket.io-recovery#/")) > events);
  const streamBytes = Number(redis("MEMORY", "USAGE", "socket.io-recovery#/"));
  const recordBytes = Number(redis("MEMORY", "USAGE", record));

  client.io.uri = url(c);
  const t0 = Date.now();
  client.connect();
  await connected(client);
  const connectMs = Date.now() - t0;
  await until("the replay", () => got.length >= events + 1);
  const replayMs = Date.now() - t0;
  // The publishes of one socket are handled concurrently: the stream's order is A's.
  const streamOrder = redis("XRANGE", "socket.io-recovery#/", "-", "+")
    .split("\n")
    .filter((l) => l.startsWith('42["news"'))
    .map((l) => JSON.parse(l.slice(2))[1].n);
  const inOrder = JSON.stringify(got) === JSON.stringify(streamOrder);
  console.log(
    `${events} events of ${body.length} bytes published on A while the client was away: ` +
      `${Math.round((events * 1000) / publishMs)} acked publishes/s (100 in flight)\n` +
      `recovered on C: ${client.recovered}, ${got.length - 1} replayed, in the stream's order, each once: ${inOrder}; ` +
      `CONNECT answered in ${connectMs} ms, replay complete in ${replayMs} ms\n` +
      `Redis: stream ${streamBytes} bytes for ${events + 1} entries (${Math.round(streamBytes / (events + 1))} per entry), ` +
      `a socket record ${recordBytes} bytes`,
  );
  client.close();
  pub.close();
  process.exit(0);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
