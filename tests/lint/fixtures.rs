//! Every file under `fixtures/lint/` is checked and must yield exactly the
//! findings listed in the `.expected` file beside it (`LINE:COLUMN RULE` per
//! line, `#` starts a comment); a file without one must yield none.
//!
//! Directories named after a rule (`OLB001-interpolated-message`) hold that
//! rule's `positive.rs` and `negative.rs`; they are checked at the default
//! levels with their own rule turned on when it is off by default. The other
//! directories (`grammar`, `imports`, `suppression`) cover what all rules
//! share.

use std::path::{Path, PathBuf};

use otel_log_bridge::lint::{check_source_with, Config, Level, Rule};

use super::support::{positions, rendered};

fn fixtures_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/lint")
}

fn sorted_entries(directory: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(directory)
        .unwrap_or_else(|error| panic!("read {}: {error}", directory.display()))
        .map(|entry| entry.expect("read a directory entry").path())
        .collect();
    entries.sort();
    entries
}

/// The rule a fixture directory is about, from its name.
fn rule_of(directory: &Path) -> Option<Rule> {
    let name = directory.file_name()?.to_str()?;
    name.get(..6)?.parse().ok()
}

fn config_for(directory: &Path) -> Config {
    let mut config = Config::new();
    if let Some(rule) = rule_of(directory) {
        if rule.default_level() == Level::Allow {
            config.set_level(rule, Level::Warn);
        }
    }
    config
}

fn expected_positions(source: &Path) -> Vec<String> {
    let expected = source.with_extension("expected");
    let Ok(text) = std::fs::read_to_string(&expected) else {
        return Vec::new();
    };
    text.lines()
        .map(|line| line.split('#').next().unwrap_or_default().trim())
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_fixture_yields_exactly_its_expected_findings() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for directory in sorted_entries(&fixtures_root()) {
        let config = config_for(&directory);
        for source in sorted_entries(&directory) {
            if source.extension().is_none_or(|ext| ext != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&source).expect("read the fixture");
            let diagnostics = check_source_with(&source, &text, &config);
            checked += 1;
            let actual = positions(&diagnostics);
            let expected = expected_positions(&source);
            if actual != expected {
                failures.push(format!(
                    "{}\n  expected: {expected:?}\n  actual:   {actual:?}\n{}",
                    source.display(),
                    rendered(&diagnostics)
                ));
            }
        }
    }
    assert!(checked >= 30, "only {checked} fixture files were found");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_rule_has_a_positive_and_a_negative_fixture() {
    let directories = sorted_entries(&fixtures_root());
    for &rule in Rule::ALL {
        let directory = directories
            .iter()
            .find(|directory| rule_of(directory) == Some(rule))
            .unwrap_or_else(|| panic!("no fixture directory for {rule}"));
        assert!(
            directory.join("negative.rs").is_file(),
            "{rule} has no negative.rs"
        );
        let positive = expected_positions(&directory.join("positive.rs"));
        assert!(
            positive.iter().any(|line| line.ends_with(rule.id())),
            "positive.expected of {rule} lists no {rule} finding"
        );
        assert!(
            !directory.join("negative.expected").exists(),
            "negative.rs of {rule} must be clean"
        );
    }
}

#[test]
fn findings_carry_a_message_a_help_and_the_source_line() {
    let source = fixtures_root().join("OLB006-error-as-string/positive.rs");
    let text = std::fs::read_to_string(&source).expect("read the fixture");
    let diagnostics = check_source_with(&source, &text, &Config::new());
    let first = diagnostics.first().expect("the fixture has findings");
    assert_eq!((first.line, first.column, first.end_column), (4, 19, 21));
    assert_eq!(
        first.source_line,
        r#"    warn!(error = %e, "read failed");"#
    );
    assert_eq!(
        first.message,
        "error `e` is recorded as a string with `Display` (`%`); its type and source chain are lost"
    );
    assert_eq!(
        first.help,
        "record the error itself: `error = &e as &dyn std::error::Error` keeps its type, message and source chain (for a `Box<dyn Error>`, `anyhow::Error` or `eyre::Report`, which do not implement `Error` themselves: `error = &*e as &dyn std::error::Error`)"
    );
}
