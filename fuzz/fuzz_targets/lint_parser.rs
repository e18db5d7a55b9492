//! Fuzz target: see `otel_log_bridge::fuzzing::check_lint`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    otel_log_bridge::fuzzing::check_lint(data);
});
