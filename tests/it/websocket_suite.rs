//! The websocket code against an external conformance suite: kosoku (PyPI, installed by
//! tests/clients/setup.sh) runs the Autobahn TestSuite's own case files as a fuzzing client
//! against the raw echo example (`examples/websocket_echo.rs`), which serves on the hub's
//! websocket code (its upgrade checks, `ws_connection`, the frame reader, the outbox,
//! permessage-deflate). Sections 1-7 and 10 run here; the others and the report are in
//! docs/websocket-conformance.md.

#[path = "../../examples/websocket_echo.rs"]
#[allow(dead_code)]
mod websocket_echo;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use crate::support::clients::clients_dir;

/// The Autobahn verdicts that pass a case (NON-STRICT and INFORMATIONAL are Autobahn's own
/// passing grades).
const PASSING: [&str; 3] = ["OK", "NON-STRICT", "INFORMATIONAL"];

/// The sections run here (247 cases, seconds): framing, ping/pong, reserved bits, opcodes,
/// fragmentation, UTF-8, closing, auto-fragmentation. The permessage-deflate sections (12,
/// 13: thousands of messages each) and the performance one (9) are run by hand; see
/// docs/websocket-conformance.md.
const SECTIONS: [&str; 8] = ["1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "10.*"];

fn kosoku() -> PathBuf {
    let path = clients_dir().join("python/.venv/bin/kosoku");
    assert!(
        path.exists(),
        "kosoku is not installed: run tests/clients/setup.sh (the README test command does)"
    );
    path
}

#[actix_rt::test]
async fn autobahn_cases_pass_against_the_echo_on_the_hub_websocket_code() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    actix_rt::spawn(websocket_echo::run(listener, 16 << 20));
    let reports = std::env::temp_dir().join(format!("siohub-autobahn-{}", addr.port()));
    let output = tokio::process::Command::new(kosoku())
        .arg(addr.to_string())
        .args(SECTIONS.iter().flat_map(|s| ["-i", s]))
        .args(["-p", "4", "-o"])
        .arg(&reports)
        .output()
        .await
        .expect("kosoku runs");
    let index: Value = serde_json::from_slice(
        &std::fs::read(reports.join("index.json")).unwrap_or_else(|e| {
            panic!(
                "no report ({e}); kosoku said: {}",
                String::from_utf8_lossy(&output.stderr)
            )
        }),
    )
    .unwrap();
    let _ = std::fs::remove_dir_all(&reports);
    let cases = index[addr.to_string()]
        .as_object()
        .expect("the echo's cases");
    let mut failed = BTreeMap::new();
    for (case, result) in cases {
        let behavior = result["behavior"].as_str().unwrap_or_default();
        let close = result["behaviorClose"].as_str().unwrap_or_default();
        if !PASSING.contains(&behavior) || !PASSING.contains(&close) {
            failed.insert(case.clone(), format!("{behavior}/{close}"));
        }
    }
    assert!(cases.len() >= 247, "only {} cases ran", cases.len());
    assert!(failed.is_empty(), "failed cases: {failed:?}");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
