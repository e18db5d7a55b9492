//! Helpers shared by the lint tests.

use std::path::{Path, PathBuf};

use otel_log_bridge::lint::Diagnostic;

/// A fresh, empty directory for one test under Cargo's scratch directory.
pub(super) fn scratch_dir(name: &str) -> PathBuf {
    fresh(
        Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("lint")
            .join(name),
    )
}

/// A fresh, empty directory outside any git repository (Cargo's scratch
/// directory is inside this crate's checkout, whose `.gitignore` would
/// apply to it).
pub(super) fn scratch_dir_outside_git(name: &str) -> PathBuf {
    fresh(std::env::temp_dir().join(format!("otel-log-lint-{name}-{}", std::process::id())))
}

fn fresh(directory: PathBuf) -> PathBuf {
    if directory.exists() {
        std::fs::remove_dir_all(&directory).expect("remove the old scratch directory");
    }
    std::fs::create_dir_all(&directory).expect("create the scratch directory");
    directory
}

/// Writes `text` to `directory/relative`, creating parent directories.
pub(super) fn write(directory: &Path, relative: &str, text: &str) -> PathBuf {
    let path = directory.join(relative);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create the parent directory");
    }
    std::fs::write(&path, text).expect("write the file");
    path
}

/// `LINE:COLUMN RULE` for every finding, as the fixture files list them.
pub(super) fn positions(diagnostics: &[Diagnostic]) -> Vec<String> {
    diagnostics
        .iter()
        .map(|d| format!("{}:{} {}", d.line, d.column, d.rule.id()))
        .collect()
}

/// Renders findings the way the command line does, for failure messages.
pub(super) fn rendered(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(|d| format!("{d}\n"))
        .collect::<Vec<_>>()
        .join("\n")
}
