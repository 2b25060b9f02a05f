//! Many clients started at the same instant: one thread each, released together by a
//! barrier, so that their requests interleave as much as the machine lets them.

use std::sync::{Arc, Barrier};

/// Runs `client(i)` for `i` in `0..n`, each on its own thread, all released at once, and
/// returns their results in order of `i`.
pub fn all_at_once<T: Send + 'static>(
    n: usize,
    client: impl Fn(usize) -> T + Send + Sync + 'static,
) -> Vec<T> {
    let start = Arc::new(Barrier::new(n));
    let client = Arc::new(client);
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let (start, client) = (start.clone(), client.clone());
            std::thread::spawn(move || {
                start.wait();
                client(i)
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}
