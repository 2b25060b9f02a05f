//! `loadgen`: the load generator of siohub's benchmark (`bench/run.sh` drives it).
//!
//! It speaks Engine.IO v4 / Socket.IO v5 itself (websocket, and long-polling for the
//! `mixed` scenario), uses only the built-in `join`/`publish`/`ping` events of SPEC §2, so
//! it drives siohub and its peers (Node socket.io, socketioxide) with identical traffic,
//! and prints one JSON object per run on stdout. Progress goes to stderr.
//!
//! ```text
//! loadgen run --scenario fanout --addr 127.0.0.1:3000 --pid 1234 --label siohub \
//!             --clients 1000 --rate 200 --duration 10
//! loadgen table results.jsonl        # Markdown table of several runs (one JSON per line)
//! ```
//! `loadgen help` lists every option.

mod chat;
mod metrics;
mod msgpack;
mod polling;
mod presence;
mod push;
mod real;
mod report;
mod scenarios;
mod sio;
mod soak;
mod ws;

use std::process::ExitCode;

/// Everything a run is told on the command line.
#[derive(Clone, Debug)]
pub struct Config {
    pub scenario: String,
    /// The server's nodes (`--addr A,B`): subscribers and other clients go round-robin over
    /// them, the publishers and admin watchers to the first (the cluster scenario).
    pub addrs: Vec<String>,
    pub path: String,
    pub label: String,
    /// The server's processes (one per node), whose RSS and CPU are summed.
    pub pids: Vec<u32>,
    /// Redis's process in the cluster scenario: its CPU over the publishing phase.
    pub redis_pid: Option<u32>,
    pub clients: usize,
    pub publishers: usize,
    /// Publishes per second over all publishers; 0 means saturation (ack-paced).
    pub rate: f64,
    pub window: usize,
    pub duration: f64,
    pub payload: usize,
    pub concurrency: usize,
    pub connect_timeout: f64,
    pub polling_frac: f64,
    pub echo_rate: f64,
    pub drain_max: f64,
    pub drain_idle: f64,
    pub settle: f64,
    pub room: String,
    pub buf: usize,
    pub threads: usize,
    pub case: String,
    /// Prometheus pages (siohub's `/metrics`, one per node) whose counters are summed.
    pub metrics_urls: Vec<String>,
    /// Sockets connected to `/admin` as the official admin UI during a fanout (siohub only;
    /// the server must let them in, e.g. `SOCKETIO_API__INSECURE=true`).
    pub admin_watchers: usize,
    /// The parser every websocket speaks and whether it offers permessage-deflate.
    pub wire: sio::Wire,
    /// What follows the timestamp in each publish's data.
    pub padding: sio::Padding,
    /// Fields of each publish's data besides its timestamp `a`: 0 = the data is a string;
    /// N = an object `{"a": ts, "f0": .., "f{N-1}": ..}` sharing the payload bytes.
    pub object_fields: usize,
    /// Field sets the subscribers join with (siohub's `join {"room", "fields"}`):
    /// subscriber i takes `["a", "f{i % N}"]`; 0 = a plain join.
    pub field_sets: usize,
    /// Rooms the soak's and the chat's clients spread over (`<room>-<k>`).
    pub soak_rooms: usize,
    /// Rooms each chat subscriber joins (of `soak_rooms`).
    pub rooms_per_client: usize,
    /// The key the push backend presents (`Authorization: Bearer <key>`).
    pub api_key: String,
    /// Rooms a fanout's subscribers spread over: 1 = all in `room`; K = subscriber i in
    /// `<room>-<i % K>`, publish n to `<room>-<n % K>` (the room-count curve).
    pub fanout_rooms: usize,
    /// Mean seconds a soak client stays connected before it goes and comes back.
    pub lifetime: f64,
    /// Share of the soak's clients that read slowly.
    pub slow_frac: f64,
    /// Seconds over which the soak's first connections are spread.
    pub ramp: f64,
    /// How subscribers and echo clients read (`--client`): lean, or as a real client.
    pub client: real::Client,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            scenario: "fanout".into(),
            addrs: vec!["127.0.0.1:3000".into()],
            path: "/socket.io/".into(),
            label: "server".into(),
            pids: Vec::new(),
            redis_pid: None,
            clients: 1000,
            publishers: 1,
            rate: 200.0,
            window: 32,
            duration: 10.0,
            payload: 64,
            concurrency: 100,
            connect_timeout: 15.0,
            polling_frac: 0.0,
            echo_rate: 10.0,
            drain_max: 30.0,
            drain_idle: 3.0,
            settle: 2.0,
            room: "bench".into(),
            buf: 16 * 1024,
            threads: 2,
            case: String::new(),
            metrics_urls: Vec::new(),
            admin_watchers: 0,
            wire: sio::Wire::default(),
            padding: sio::Padding::X,
            object_fields: 0,
            field_sets: 0,
            soak_rooms: 100,
            rooms_per_client: 5,
            api_key: "bench-key".into(),
            fanout_rooms: 1,
            lifetime: 60.0,
            slow_frac: 0.05,
            ramp: 30.0,
            client: real::Client::Lean,
        }
    }
}

const HELP: &str = r#"loadgen run [options]         run one scenario, print one JSON object on stdout
loadgen table FILE           print the Markdown comparison table of the runs in FILE
                              (JSON lines, or run.sh's {"meta":..,"runs":[..]})
loadgen ready --addr A        wait until a Socket.IO client can connect (--connect-timeout S)
loadgen free-port             print a free TCP port on 127.0.0.1

options of `run` (defaults in brackets):
  --scenario S      fanout | idle | ramp | echo | mixed | presence (a join
                    storm with presence events; siohub only) | soak | chat |
                    polling | push                                            [fanout]
                    chat: fanout over many rooms: each subscriber joins
                    --rooms-per-client of --rooms rooms; publisher p of P
                    joins the rooms k % P == p and publishes to them
                    round-robin (a member: the sender gets no copy)
                    polling: fanout with every subscriber on long-polling
                    (--polling-frac 1)
                    push: fanout where the publishes are POST /api/v1/emit
                    requests on keep-alive HTTP (--rate R: R requests/s, open
                    loop; --saturation: --window requests in flight)
  --addr HOST:PORT[,HOST:PORT..]  the server; with several nodes, subscribers
                    (and other clients) go round-robin over them, publishers
                    and admin watchers to the first                           [127.0.0.1:3000]
  --path P          the Socket.IO path                                        [/socket.io/]
  --label NAME      the server's name in the report                           [server]
  --case NAME       the scenario's case name in the report        [scenario and sizes]
  --pid PID[,PID..] the server's pids (one per node), to read their RSS and CPU
                    time from /proc (summed over the nodes)
  --redis-pid PID   Redis's pid: its CPU time over the publishing phase
  --metrics-url URL[,URL..]  Prometheus pages (siohub's /metrics, one per node)
                    whose drop and slow-consumer counters are reported per
                    fanout run (summed over the nodes)
  --clients N       subscribers (fanout, mixed), connections (idle, ramp),
                    ping clients (echo)                                       [1000]
  --publishers N    publishing connections (fanout, mixed)                    [1]
  --rate R          publishes/s over all publishers; 0 = saturation          [200]
  --saturation      same as --rate 0: publish as fast as the server acks
  --window W        unacked publishes per publisher at saturation             [32]
  --duration S      seconds of publishing / pinging                           [10]
  --payload B       bytes of each publish's data (>= 16)                      [64]
  --concurrency C   connection attempts in flight while connecting           [100]
  --connect-timeout S  give up on one connection (and join) after S seconds  [15]
  --polling-frac F  share of subscribers on HTTP long-polling                 [0; mixed 0.05]
  --echo-rate R     pings per second per client (echo)                        [10]
  --drain-max S     longest wait for deliveries after the last publish        [30]
  --drain-idle S    stop draining after S seconds without a delivery          [3]
  --settle S        wait before reading RSS (idle, ramp)                      [2]
  --room NAME       the room                                                  [bench]
  --buf BYTES       read buffer per busy connection                           [16384]
  --threads N       tokio worker threads                                      [2]
  --admin-watchers N  sockets watching on /admin during a fanout (siohub)    [0]
  --parser P        json | msgpack (socket.io-msgpack-parser: binary frames;
                    the server must use the same; websocket only)             [json]
  --deflate         offer permessage-deflate on every websocket (the report
                    says how many subscribers got it); websocket only
  --padding K       x | ticks: what follows the timestamp in each publish's
                    data: x repeated, or key=number; pairs that differ in
                    every publish (for deflate)                               [x]
  --object-fields N publish data as an object: its timestamp "a" and N fields
                    f0..f{N-1} sharing the payload bytes; 0 = a string        [0]
  --fanout-rooms K  fanout subscribers spread over K rooms: subscriber i joins
                    <room>-<i % K>, publish n goes to <room>-<n % K>; 1 = all
                    in <room>                                                 [1]
  --field-sets N    fanout subscribers join with fields (siohub): subscriber i
                    takes ["a", "f{i % N}"] (needs --object-fields >= N)      [0]
  --rooms-per-client K  rooms each chat subscriber joins                     [5]
  --api-key K       push: the key sent as Authorization: Bearer K        [bench-key]
soak (churning clients for --duration s; publishes at --rate to random rooms)
and chat:
  --rooms K         rooms the clients spread over (<room>-0..K-1)  [soak 100, chat 2000]
  --lifetime S      mean seconds a client stays before it goes and returns   [60]
  --slow-frac F     share of clients that read slowly                         [0.05]
  --ramp S          seconds over which the first connections are spread      [30]
  --client K        lean | real: how subscribers and echo clients read.
                    lean: frames parsed in place, the timestamp found by
                    position (the throughput ceiling); real: every message
                    through tungstenite's message API and its Socket.IO
                    packet parsed whole with serde_json, the timestamp read
                    from the parsed data (what real clients cost: latency
                    figures); not with --deflate                             [lean]
"#;

impl Config {
    /// The node the `i`-th client connects to: round-robin over `--addr`.
    pub fn addr_for(&self, i: usize) -> &str {
        &self.addrs[i % self.addrs.len()]
    }

    /// The room of a fanout's subscriber `i` or publish `i` (see `fanout_rooms`).
    pub fn fanout_room(&self, i: usize) -> std::borrow::Cow<'_, str> {
        match self.fanout_rooms {
            1 => self.room.as_str().into(),
            k => format!("{}-{}", self.room, i % k).into(),
        }
    }

    /// The first node: the publishers', the admin watchers' and `ready`'s.
    pub fn first_addr(&self) -> &str {
        &self.addrs[0]
    }
}

/// A comma-separated option value, empty items left out.
fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect()
}

fn parse_args(args: &[String]) -> Result<Config, String> {
    let mut cfg = Config::default();
    let mut polling_frac = None;
    let mut rooms_given = false;
    let mut i = 0;
    while i < args.len() {
        let flag = args[i].as_str();
        if flag == "--saturation" {
            cfg.rate = 0.0;
            i += 1;
            continue;
        }
        if flag == "--deflate" {
            cfg.wire.deflate = true;
            i += 1;
            continue;
        }
        let value = args
            .get(i + 1)
            .ok_or_else(|| format!("{flag} needs a value"))?;
        let num = |what: &str| -> Result<f64, String> {
            value
                .parse::<f64>()
                .map_err(|_| format!("{what}: not a number: {value}"))
        };
        match flag {
            "--scenario" => cfg.scenario = value.clone(),
            "--addr" => cfg.addrs = list(value),
            "--path" => cfg.path = value.clone(),
            "--label" => cfg.label = value.clone(),
            "--case" => cfg.case = value.clone(),
            "--metrics-url" => cfg.metrics_urls = list(value),
            "--pid" => {
                cfg.pids = list(value)
                    .iter()
                    .map(|p| p.parse().map_err(|_| format!("--pid: not a pid: {p}")))
                    .collect::<Result<_, _>>()?
            }
            "--redis-pid" => cfg.redis_pid = Some(num(flag)? as u32),
            "--clients" => cfg.clients = num(flag)? as usize,
            "--admin-watchers" => cfg.admin_watchers = num(flag)? as usize,
            "--publishers" => cfg.publishers = (num(flag)? as usize).max(1),
            "--rate" => cfg.rate = num(flag)?,
            "--window" => cfg.window = (num(flag)? as usize).max(1),
            "--duration" => cfg.duration = num(flag)?,
            "--payload" => cfg.payload = (num(flag)? as usize).max(16),
            "--concurrency" => cfg.concurrency = (num(flag)? as usize).max(1),
            "--connect-timeout" => cfg.connect_timeout = num(flag)?,
            "--polling-frac" => polling_frac = Some(num(flag)?),
            "--echo-rate" => cfg.echo_rate = num(flag)?,
            "--drain-max" => cfg.drain_max = num(flag)?,
            "--drain-idle" => cfg.drain_idle = num(flag)?,
            "--settle" => cfg.settle = num(flag)?,
            "--room" => cfg.room = value.clone(),
            "--buf" => cfg.buf = (num(flag)? as usize).max(1024),
            "--threads" => cfg.threads = (num(flag)? as usize).max(1),
            "--parser" => {
                cfg.wire.parser = match value.as_str() {
                    "json" => sio::Parser::Json,
                    "msgpack" => sio::Parser::Msgpack,
                    other => return Err(format!("--parser: json or msgpack, not {other}")),
                }
            }
            "--padding" => {
                cfg.padding = match value.as_str() {
                    "x" => sio::Padding::X,
                    "ticks" => sio::Padding::Ticks,
                    other => return Err(format!("--padding: x or ticks, not {other}")),
                }
            }
            "--object-fields" => cfg.object_fields = num(flag)? as usize,
            "--field-sets" => cfg.field_sets = num(flag)? as usize,
            "--rooms" => {
                rooms_given = true;
                cfg.soak_rooms = (num(flag)? as usize).max(1)
            }
            "--rooms-per-client" => cfg.rooms_per_client = (num(flag)? as usize).max(1),
            "--api-key" => cfg.api_key = value.clone(),
            "--fanout-rooms" => cfg.fanout_rooms = (num(flag)? as usize).max(1),
            "--lifetime" => cfg.lifetime = num(flag)?.max(1.0),
            "--slow-frac" => cfg.slow_frac = num(flag)?.clamp(0.0, 1.0),
            "--ramp" => cfg.ramp = num(flag)?.max(0.0),
            "--client" => {
                cfg.client = match value.as_str() {
                    "lean" => real::Client::Lean,
                    "real" => real::Client::Real,
                    other => return Err(format!("--client: lean or real, not {other}")),
                }
            }
            _ => return Err(format!("unknown option {flag}; see `loadgen help`")),
        }
        i += 2;
    }
    if cfg.addrs.is_empty() {
        return Err("--addr needs at least one HOST:PORT".to_owned());
    }
    let scenarios = [
        "fanout", "idle", "ramp", "echo", "mixed", "presence", "soak", "chat", "polling", "push",
    ];
    if !scenarios.contains(&cfg.scenario.as_str()) {
        return Err(format!(
            "unknown scenario {}; one of {}",
            cfg.scenario,
            scenarios.join(" ")
        ));
    }
    if cfg.scenario == "chat" {
        if !rooms_given {
            cfg.soak_rooms = 2000;
        }
        if cfg.field_sets > 0 {
            return Err("--field-sets is for fanout, not chat".into());
        }
    }
    if cfg.field_sets > cfg.object_fields {
        return Err("--field-sets needs --object-fields at least as large".to_owned());
    }
    if cfg.client == real::Client::Real && cfg.wire.deflate {
        return Err(
            "--client real reads through tungstenite, which has no permessage-deflate: \
             use --client lean with --deflate"
                .to_owned(),
        );
    }
    let default_frac = match cfg.scenario.as_str() {
        "mixed" => 0.05,
        "polling" => 1.0,
        _ => 0.0,
    };
    if cfg.scenario == "chat" && polling_frac.unwrap_or(0.0) > 0.0 {
        return Err("chat subscribers are websockets: drop --polling-frac".into());
    }
    cfg.polling_frac = polling_frac.unwrap_or(default_frac).clamp(0.0, 1.0);
    if cfg.case.is_empty() {
        cfg.case = scenarios::default_case(&cfg);
    }
    if (cfg.object_fields > 0 || cfg.field_sets > 0) && cfg.wire.parser != sio::Parser::Json {
        return Err("--object-fields and --field-sets need --parser json".into());
    }
    Ok(cfg)
}

/// `loadgen ready --addr A [--path P] [--timeout S]`: waits until a Socket.IO client can
/// connect to the server (exit 0), or gives up after the timeout (exit 1).
fn ready(args: &[String]) -> ExitCode {
    let cfg = match parse_args(args) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("loadgen ready: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let deadline =
        std::time::Instant::now() + std::time::Duration::from_secs_f64(cfg.connect_timeout);
    runtime.block_on(async {
        loop {
            let attempt = sio::connect_ws(cfg.first_addr(), &cfg.path, 4096, 0, cfg.wire);
            let last = match tokio::time::timeout(std::time::Duration::from_secs(2), attempt).await
            {
                Ok(Ok(_)) => return ExitCode::SUCCESS,
                Ok(Err(e)) => e.to_string(),
                Err(_) => "no answer in 2 s".to_owned(),
            };
            if std::time::Instant::now() > deadline {
                eprintln!("loadgen ready: {} not ready: {last}", cfg.first_addr());
                return ExitCode::FAILURE;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("run") => {}
        Some("free-port") => {
            // Bind port 0 and report what the kernel chose; the caller starts a server on it.
            return match std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()) {
                Ok(addr) => {
                    println!("{}", addr.port());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("loadgen free-port: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        Some("ready") => return ready(&args[1..]),
        Some("table") => {
            let Some(file) = args.get(1) else {
                eprintln!("loadgen table FILE.jsonl");
                return ExitCode::from(2);
            };
            return match report::table_from_file(file) {
                Ok(table) => {
                    print!("{table}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("loadgen table: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        _ => {
            print!("{HELP}");
            return ExitCode::from(2);
        }
    }
    let cfg = match parse_args(&args[1..]) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("loadgen: {e}");
            return ExitCode::from(2);
        }
    };
    metrics::now_us(); // start the clock
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cfg.threads)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = runtime.block_on(scenarios::run(&cfg));
    match result {
        Ok(report) => {
            println!("{report}");
            // Thousands of sockets close with the process; no need to wait for the runtime.
            std::process::exit(0);
        }
        Err(e) => {
            eprintln!("loadgen: {} against {} failed: {e}", cfg.case, cfg.label);
            std::process::exit(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn several_nodes_take_clients_round_robin_and_the_publisher_takes_the_first() {
        let cfg = parse_args(&args("--addr 127.0.0.1:1,127.0.0.1:2 --pid 10,11")).unwrap();
        assert_eq!(cfg.first_addr(), "127.0.0.1:1");
        let nodes: Vec<&str> = (0..4).map(|i| cfg.addr_for(i)).collect();
        assert_eq!(
            nodes,
            ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:1", "127.0.0.1:2"]
        );
        assert_eq!(cfg.pids, [10, 11]);
    }

    #[test]
    fn wire_options() {
        let cfg = parse_args(&args("--parser msgpack --deflate --padding ticks")).unwrap();
        assert_eq!(cfg.wire.parser, sio::Parser::Msgpack);
        assert!(cfg.wire.deflate);
        assert_eq!(cfg.padding, sio::Padding::Ticks);
        assert!(parse_args(&args("--parser cbor")).is_err());
        assert!(parse_args(&args("--padding y")).is_err());
    }

    #[test]
    fn client_option() {
        assert_eq!(parse_args(&[]).unwrap().client, real::Client::Lean);
        let cfg = parse_args(&args("--client real --parser msgpack")).unwrap();
        assert_eq!(cfg.client, real::Client::Real);
        assert!(parse_args(&args("--client lean --deflate")).is_ok());
        assert!(parse_args(&args("--client real --deflate"))
            .unwrap_err()
            .contains("permessage-deflate"));
        assert!(parse_args(&args("--client fat")).is_err());
    }

    #[test]
    fn a_bad_node_list_is_refused() {
        assert!(parse_args(&args("--addr ,")).is_err());
        assert!(parse_args(&args("--pid 10,x"))
            .unwrap_err()
            .contains("not a pid: x"));
    }
}
