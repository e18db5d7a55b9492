//! The fuzz targets' properties (`fuzz/`, run with cargo-fuzz) checked on
//! their seed corpora in `fixtures/fuzz/`, so that every test run exercises
//! them, and a seed added after a crash stays a regression test.

use std::path::Path;

fn each_seed(target: &str, check: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/fuzz")
        .join(target);
    let mut seeds = 0;
    for entry in std::fs::read_dir(&dir).expect("seed corpus") {
        let path = entry.expect("seed").path();
        check(&std::fs::read(&path).expect("readable seed"));
        seeds += 1;
    }
    assert!(seeds > 0, "no seeds in {}", dir.display());
}

#[test]
fn json_encoder_seeds() {
    each_seed("json_encoder", otel_log_bridge::fuzzing::check_json_line);
}

#[test]
fn otlp_encoder_seeds() {
    each_seed("otlp_encoder", otel_log_bridge::fuzzing::check_otlp_request);
}

#[test]
fn parser_seeds() {
    each_seed("parsers", otel_log_bridge::fuzzing::check_parsers);
}

#[test]
fn lint_parser_seeds() {
    each_seed("lint_parser", otel_log_bridge::fuzzing::check_lint);
}
