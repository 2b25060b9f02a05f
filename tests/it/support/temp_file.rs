//! Files a test writes for the binary to read (configuration files), removed when dropped.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

/// A file in the temporary directory, unique in this run, removed when dropped.
pub struct TempFile(pub PathBuf);

impl TempFile {
    /// Writes `text` to a fresh `.toml` file.
    pub fn with(text: &str) -> TempFile {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "siohub-config-{}-{}.toml",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, text).unwrap();
        TempFile(path)
    }

    /// Its path, as a flag's value.
    pub fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
