//! The crate follows its own rules: its sources, examples, tests and
//! benches lint clean (`fixtures/` holds deliberate findings and is not
//! checked).

use std::path::Path;

use otel_log_bridge::lint::check_path;

use super::support::rendered;

#[test]
fn the_crate_lints_clean() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut findings = Vec::new();
    for directory in ["src", "examples", "tests", "benches"] {
        let path = root.join(directory);
        if path.exists() {
            findings.extend(check_path(&path).expect("the crate's sources are readable"));
        }
    }
    assert!(
        findings.is_empty(),
        "{} finding(s) in the crate's own code:\n\n{}",
        findings.len(),
        rendered(&findings)
    );
}
