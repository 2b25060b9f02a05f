//! The real `siohub` binary, started by a test with chosen flags and environment, its
//! standard error collected line by line.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::ports::free_port;

/// The binary, with no `SOCKETIO_` variable inherited from the test's environment.
pub fn siohub() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_siohub"));
    for (key, _) in std::env::vars() {
        if key.starts_with("SOCKETIO_") || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// Runs the binary to its end with `args` and `env`.
pub fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    siohub()
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("siohub runs")
}

/// A running server process.
pub struct Server {
    /// The process.
    pub child: Child,
    /// Its port.
    pub port: u16,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts the binary on a free port of the loopback with `args` and `env`; returns once
    /// it listens.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Server {
        Server::start_on(free_port(), args, env)
    }

    /// Starts the binary on `port` of the loopback with `args` and `env`; returns once it
    /// listens.
    pub fn start_on(port: u16, args: &[&str], env: &[(&str, &str)]) -> Server {
        let port_text = port.to_string();
        let mut all = vec!["--host", "127.0.0.1", "--port", &port_text];
        all.extend_from_slice(args);
        let mut child = siohub()
            .args(&all)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("siohub starts");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let lines = stderr.clone();
        let pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "siohub exited with {status} before listening: {:?}",
                    stderr.lock().unwrap()
                );
            }
            assert!(Instant::now() < deadline, "siohub did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Server {
            child,
            port,
            stderr,
        }
    }

    /// Its address.
    pub fn addr(&self) -> std::net::SocketAddr {
        ([127, 0, 0, 1], self.port).into()
    }

    /// Sends `signal` (such as `-TERM`).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit, at most `within`; returns its exit code.
    #[track_caller]
    pub fn wait_exit(&mut self, within: Duration) -> Option<i32> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "siohub did not exit within {within:?}; stderr: {:?}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What it wrote to standard error so far.
    pub fn stderr(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
