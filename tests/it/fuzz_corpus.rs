//! The fuzz corpora replayed on stable Rust: every file committed under
//! `fuzz/corpus/TARGET/` goes through the same body the fuzz target runs
//! (`siohub::fuzzing`), so what the fuzzer once found stays checked on every run. One test
//! per target; a target with no corpus fails.

use std::path::PathBuf;

/// Feeds every corpus file of `target` to its body; panics naming the files that fail.
fn replay(target: &str) {
    let body = siohub::fuzzing::target(target).expect("a target of siohub::fuzzing");
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("no corpus for {target} at {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "the corpus of {target} is empty");
    let failed: Vec<String> = files
        .iter()
        .filter(|file| {
            let data = std::fs::read(file).unwrap();
            std::panic::catch_unwind(|| body(&data)).is_err()
        })
        .map(|file| file.display().to_string())
        .collect();
    assert!(failed.is_empty(), "{target}: these inputs fail: {failed:?}");
}

macro_rules! replays {
    ($($target:ident),* $(,)?) => {
        $(
            #[test]
            fn $target() {
                replay(stringify!($target));
            }
        )*

        #[test]
        fn every_target_has_its_replay_here() {
            let here = [$(stringify!($target)),*];
            let targets: Vec<&str> = siohub::fuzzing::TARGETS.iter().map(|(n, _)| *n).collect();
            assert_eq!(targets, here);
        }
    };
}

replays!(
    engine_packet,
    polling_payload,
    eio3_payload,
    socket_decoder,
    msgpack_packet,
    http_head,
    query_strings,
    api_json,
    config_values,
    ws_frames,
    inflate,
);
