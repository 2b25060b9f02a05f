//! A real PostgreSQL server of the test's own: a cluster made by `initdb` in a temporary
//! directory (its unix socket there too), started by `pg_ctl` on a free port of the
//! loopback, with a database `siohub` for user `siohub` (trust authentication, no fsync).
//! A test can kill it (`pg_ctl stop -m immediate`, as a crash: no goodbye to its clients)
//! and start it again on the same port with its data; it is stopped and removed when the
//! handle drops. Never the system's service. As root (PostgreSQL refuses to run as root),
//! the tools run as the `postgres` user.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use super::ports::free_port;
use super::wait::wait_until;

/// A PostgreSQL server this test owns.
pub struct PostgresServer {
    port: u16,
    dir: PathBuf,
    bin: PathBuf,
    running: bool,
}

/// Where `initdb` and `pg_ctl` are: on the PATH, or in Debian's versioned directory.
fn bin_dir() -> PathBuf {
    if let Ok(out) = Command::new("sh")
        .args(["-c", "command -v initdb"])
        .output()
    {
        let path = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if let Some(dir) = Path::new(&path).parent().filter(|_| !path.is_empty()) {
            return dir.to_owned();
        }
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is installed (tests/clients/setup.sh installs Debian's postgresql)")
        .filter_map(|e| Some(e.ok()?.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    found.sort();
    found.pop().expect("an initdb in /usr/lib/postgresql/*/bin")
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

impl PostgresServer {
    /// Makes a cluster, starts it on a free port and waits until it accepts connections.
    pub fn start() -> PostgresServer {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("siohub-pg-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("the temporary directory is made");
        let mut server = PostgresServer {
            port: free_port(),
            dir,
            bin: bin_dir(),
            running: false,
        };
        if is_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres"])
                .arg(&server.dir)
                .status()
                .expect("chown runs");
            assert!(status.success(), "chown postgres {:?}", server.dir);
        }
        let data = server.dir.join("data");
        let out = server.tool("initdb", |cmd| {
            cmd.arg("-D").arg(&data).args([
                "-A",
                "trust",
                "-U",
                "siohub",
                "-E",
                "UTF8",
                "--no-sync",
            ]);
        });
        assert!(out.status.success(), "initdb: {}", text(&out));
        server.restart();
        server.psql("postgres", "CREATE DATABASE siohub");
        server
    }

    /// Runs one of the PostgreSQL tools (as `postgres` when this is root).
    fn tool(&self, name: &str, args: impl FnOnce(&mut Command)) -> Output {
        let path = self.bin.join(name);
        let mut cmd = match is_root() {
            true => {
                let mut cmd = Command::new("runuser");
                cmd.args(["-u", "postgres", "--"]).arg(path);
                cmd
            }
            false => Command::new(path),
        };
        args(&mut cmd);
        cmd.current_dir(&self.dir)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("{name} runs: {e}"))
    }

    /// `postgres://siohub@127.0.0.1:<port>/siohub`, for `[subscriptions] postgres_url`.
    pub fn url(&self) -> String {
        format!("postgres://siohub@127.0.0.1:{}/siohub", self.port)
    }

    /// Kills it as a crash would (`pg_ctl stop -m immediate`): every backend quits at once.
    pub fn kill(&mut self) {
        if !self.running {
            return;
        }
        let data = self.dir.join("data");
        let out = self.tool("pg_ctl", |cmd| {
            cmd.arg("-D")
                .arg(&data)
                .args(["-m", "immediate", "-w", "stop"]);
        });
        assert!(out.status.success(), "pg_ctl stop: {}", text(&out));
        self.running = false;
    }

    /// Starts it (again) on the same port, with its data, and waits until it accepts
    /// connections.
    pub fn restart(&mut self) {
        self.kill();
        let data = self.dir.join("data");
        let log = self.dir.join("postgres.log");
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50",
            self.port,
            self.dir.display()
        );
        let out = self.tool("pg_ctl", |cmd| {
            cmd.arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(&log)
                .args(["-o", &options, "-w", "-t", "60", "start"]);
        });
        let log_text = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(
            out.status.success(),
            "pg_ctl start: {}\n{log_text}",
            text(&out)
        );
        self.running = true;
        let port = self.port;
        wait_until(
            "PostgreSQL accepts connections",
            Duration::from_secs(30),
            || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
        );
    }

    /// Sends `signal` (`STOP`: a hung database whose connections stay open and answer
    /// nothing; `CONT`: it goes on) to the server and each of its processes.
    pub fn signal(&self, signal: &str) {
        let pid_file = self.dir.join("data").join("postmaster.pid");
        let text = std::fs::read_to_string(&pid_file).expect("postmaster.pid");
        let postmaster: u32 = text.lines().next().unwrap().trim().parse().unwrap();
        let mut pids = vec![postmaster];
        for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            // pid (comm) state ppid ...: the fields after the last ')'.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<u32>().ok());
            if ppid == Some(postmaster) {
                pids.push(pid);
            }
        }
        for pid in pids {
            let status = Command::new("kill")
                .args([format!("-{signal}"), pid.to_string()])
                .status()
                .expect("kill runs");
            assert!(status.success(), "kill -{signal} {pid}");
        }
    }

    /// Runs `sql` with `psql` in database `db`; returns its rows (unaligned, `|` between
    /// columns), trimmed.
    #[track_caller]
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = Command::new("psql")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args([
                "-U",
                "siohub",
                "-d",
                db,
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ])
            .stdin(Stdio::null())
            .output()
            .expect("psql runs");
        assert!(out.status.success(), "psql {sql}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        if self.running {
            let data = self.dir.join("data");
            let _ = self.tool("pg_ctl", |cmd| {
                cmd.arg("-D")
                    .arg(&data)
                    .args(["-m", "immediate", "-w", "stop"]);
            });
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
