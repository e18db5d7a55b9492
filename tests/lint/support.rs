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

/// A source file with one OLB001 finding, at 4:17.
pub(super) const INTERPOLATED: &str =
    "use tracing::info;\n\nfn f(user: &str) {\n    info!(\"user {} logged in\", user);\n}\n";

/// A tree outside any git repository with a module named `target`
/// (`src/target/mod.rs`, with a finding), Cargo's tagged build directory
/// (`target/`, with a finding), a tagged one of another name (`build/`,
/// with a finding) and, next to a `Cargo.toml`, an untagged one
/// (`member/target/`, with a finding). Only the module is to be linted.
pub(super) fn tree_with_target_directories(name: &str) -> PathBuf {
    let root = scratch_dir_outside_git(name);
    write(&root, "src/lib.rs", "mod target;\n");
    write(&root, "src/target/mod.rs", INTERPOLATED);
    // Cargo tags its build directory, wherever `CARGO_TARGET_DIR` puts it.
    write(
        &root,
        "target/CACHEDIR.TAG",
        "Signature: 8a477f597d28d172789f06886806bc55\n",
    );
    write(&root, "target/x.rs", INTERPOLATED);
    // A build directory given another name (`[build] target-dir`).
    write(
        &root,
        "build/CACHEDIR.TAG",
        "Signature: 8a477f597d28d172789f06886806bc55\n# cargo\n",
    );
    write(&root, "build/debug/build/out/x.rs", INTERPOLATED);
    // Next to a `Cargo.toml`, `target` is the build directory even before
    // Cargo has tagged it.
    write(&root, "member/Cargo.toml", "[package]\nname = \"member\"\n");
    write(&root, "member/target/debug/x.rs", INTERPOLATED);
    root
}
