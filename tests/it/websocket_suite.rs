//! The websocket code against an external conformance suite: kosoku (PyPI, installed by
//! tests/clients/setup.sh) runs the Autobahn TestSuite's own case files as a fuzzing client
//! against the raw echo example (`examples/websocket_echo.rs`), which serves on the hub's
//! websocket code (its upgrade checks, `ws_connection`, the frame reader, the outbox,
//! permessage-deflate). Sections 1-7 and 10 run here in full, the permessage-deflate
//! sections 12 and 13 in part (see [`deflate_cases`]); the others and the report are in
//! docs/websocket-conformance.md.

#[path = "../../examples/websocket_echo.rs"]
#[allow(dead_code)]
mod websocket_echo;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Output;

use serde_json::Value;

use crate::support::clients::clients_dir;

/// The Autobahn verdicts that pass a case (NON-STRICT and INFORMATIONAL are Autobahn's own
/// passing grades).
const PASSING: [&str; 3] = ["OK", "NON-STRICT", "INFORMATIONAL"];

/// The sections run here in full (247 cases, seconds): framing, ping/pong, reserved bits,
/// opcodes, fragmentation, UTF-8, closing, auto-fragmentation. The performance one (9) is
/// run by hand; see docs/websocket-conformance.md.
const SECTIONS: [&str; 8] = ["1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "10.*"];

/// The permessage-deflate cases run here: 13 of the 216 of sections 12 and 13. Each sends
/// 1,000 messages and waits for every echo, so a case costs seconds in a debug build on a
/// loaded machine even with the compression crates optimised (see the workspace
/// `Cargo.toml`); the set is one case per sub-section, and one large message:
/// - 12.1-12.5 (a test file each: JSON, a bitmap, German text, HTML, a PDF; the default
///   offer): x.5, 4 KiB messages (several deflate blocks, stored ones where the file does
///   not compress);
/// - 12.1.17: 128 KiB JSON messages, sent in 4 KiB frames (a compressed message over
///   continuation frames one way, one 128 KiB compressed frame back, references across the
///   whole 32 KiB window);
/// - 13.1-13.7 (an offer and accept of context takeover and window bits each): x.1, 16-byte
///   messages, 1,000 on one connection (a client that keeps its context compresses each
///   against the ones before). 13.3 and 13.5 offer only a server window under 15 bits, which
///   the echo declines as the hub does ([`DECLINED`]).
fn deflate_cases() -> Vec<String> {
    let files = (1..=5).map(|s| format!("12.{s}.5"));
    let offers = (1..=7).map(|s| format!("13.{s}.1"));
    let large = std::iter::once("12.1.17".to_owned());
    files.chain(large).chain(offers).collect()
}

/// The deflate cases whose offer the echo declines (`server_max_window_bits` under 15: the
/// compressor always uses a 15-bit window): kosoku reports UNIMPLEMENTED and closes.
const DECLINED: [&str; 2] = ["13.3.1", "13.5.1"];

fn kosoku() -> PathBuf {
    let path = clients_dir().join("python/.venv/bin/kosoku");
    assert!(
        path.exists(),
        "kosoku is not installed: run tests/clients/setup.sh (the README test command does)"
    );
    path
}

/// Runs kosoku's cases matching `include` (ids or globs) against an echo of its own that
/// compresses the messages of at least `deflate_threshold` bytes; returns the verdicts
/// (`behavior/behaviorClose`) by case, and kosoku's output.
async fn run_cases(include: &[String], deflate_threshold: usize) -> (Verdicts, Output) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    actix_rt::spawn(websocket_echo::run(listener, 16 << 20, deflate_threshold));
    let reports = std::env::temp_dir().join(format!("siohub-autobahn-{}", addr.port()));
    let output = tokio::process::Command::new(kosoku())
        .arg(addr.to_string())
        .args(include.iter().flat_map(|s| ["-i", s.as_str()]))
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
    let verdicts = cases.iter().map(|(case, result)| {
        let behavior = result["behavior"].as_str().unwrap_or_default();
        let close = result["behaviorClose"].as_str().unwrap_or_default();
        (case.clone(), (behavior.to_owned(), close.to_owned()))
    });
    (verdicts.collect(), output)
}

/// Kosoku's verdicts by case: (behavior, behaviorClose).
type Verdicts = BTreeMap<String, (String, String)>;

/// The cases whose verdicts are not both passing ones.
fn failed(verdicts: &Verdicts) -> BTreeMap<&str, String> {
    let passing = |v: &String| PASSING.contains(&v.as_str());
    verdicts
        .iter()
        .filter(|(_, (behavior, close))| !passing(behavior) || !passing(close))
        .map(|(case, (behavior, close))| (case.as_str(), format!("{behavior}/{close}")))
        .collect()
}

#[actix_rt::test]
async fn autobahn_cases_pass_against_the_echo_on_the_hub_websocket_code() {
    let sections: Vec<String> = SECTIONS.iter().map(|s| s.to_string()).collect();
    let (verdicts, output) = run_cases(&sections, 64).await;
    assert!(verdicts.len() >= 247, "only {} cases ran", verdicts.len());
    let failed = failed(&verdicts);
    assert!(failed.is_empty(), "failed cases: {failed:?}");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The echo compresses every message here: kosoku 0.1.0 errors on an uncompressed message
/// over a compressed connection ("Strings must be encoded before hashing", in the cases
/// x.1 of 16 bytes, under the example's default threshold of 64), which RFC 7692 section 6
/// allows; every message compressed, those cases pass.
#[actix_rt::test]
async fn autobahn_permessage_deflate_cases_pass_against_the_echo() {
    let cases = deflate_cases();
    let (verdicts, output) = run_cases(&cases, 0).await;
    let ran: Vec<&String> = verdicts.keys().collect();
    let mut want: Vec<&String> = cases.iter().collect();
    want.sort();
    assert_eq!(ran, want, "{}", String::from_utf8_lossy(&output.stderr));
    let declined = ("UNIMPLEMENTED".to_owned(), "OK".to_owned());
    for case in DECLINED {
        assert_eq!(verdicts[case], declined, "{case}");
    }
    let mut failed = failed(&verdicts);
    failed.retain(|case, _| !DECLINED.contains(case));
    assert!(failed.is_empty(), "failed cases: {failed:?}");
}
