//! The real clients `tests/clients/setup.sh` installs (the README's test command runs it):
//! a command that runs one of their Node or Python scripts, which fails at once, saying
//! what to run, when they are not installed.

use std::path::{Path, PathBuf};
use std::process::Command;

/// `tests/clients`, where the scripts and their installed clients live.
pub fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients")
}

/// `node tests/clients/node/<script>`, with socket.io-client installed.
#[track_caller]
pub fn node(script: &str) -> Command {
    let dir = clients_dir().join("node");
    assert!(
        dir.join("node_modules/socket.io-client").exists(),
        "socket.io-client is not installed: run tests/clients/setup.sh (the README test command does)"
    );
    let mut cmd = Command::new("node");
    cmd.arg(dir.join(script));
    cmd
}

/// `tests/clients/python/<script>` on the venv's Python, with python-socketio installed.
#[track_caller]
pub fn python(script: &str) -> Command {
    let dir = clients_dir().join("python");
    let python = dir.join(".venv/bin/python");
    assert!(
        python.exists(),
        "python-socketio is not installed: run tests/clients/setup.sh (the README test command does)"
    );
    let mut cmd = Command::new(python);
    cmd.arg(dir.join(script));
    cmd
}
