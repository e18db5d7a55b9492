//! The crate follows its own rules: everything but `fixtures/` (which
//! holds deliberate findings) lints clean.

use std::path::Path;

use otel_log_bridge::lint::{check_path_with, Config};

use super::support::rendered;

#[test]
fn the_crate_lints_clean() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut config = Config::new();
    config.exclude("fixtures");
    let findings = check_path_with(root, &config).expect("the crate's sources are readable");
    assert!(
        findings.is_empty(),
        "{} finding(s) in the crate's own code:\n\n{}",
        findings.len(),
        rendered(&findings)
    );
}
