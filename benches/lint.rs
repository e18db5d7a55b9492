//! Lines per second of `otel_log_bridge::lint::check_source` on a large
//! generated file (target: at least 50 000 lines/s). Criterion reports the
//! throughput in elements per second, one element being one line.

use std::fmt::Write as _;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use otel_log_bridge::lint::check_source;

/// A file of `functions` functions mixing clean and flagged `tracing` and
/// `log` calls with ordinary code, about 12 lines per function.
fn generated_source(functions: usize) -> String {
    let mut source = String::from("use tracing::{debug, error, info, info_span, warn};\n\n");
    for index in 0..functions {
        // Writing to a String cannot fail.
        let _ = write!(
            source,
            r#"pub fn handler_{index}(user: &str, count: u64, e: &std::io::Error) -> u64 {{
    let span = info_span!("handler", handler.index = {index}, user);
    let _entered = span.enter();
    info!(user, count, "request handled");
    debug!("user {{}} sent {{}} items", user, count);
    if count > {index} {{
        warn!(error = %e, "slow path taken");
    }}
    log::info!(attempt = count; "retrying {{}}", user);
    error!(peer = format!("{{:?}}", user), "connection lost");
    count.wrapping_mul({index})
}}

"#
        );
    }
    source
}

fn lint_throughput(c: &mut Criterion) {
    let source = generated_source(2_000);
    let lines = source.lines().count();
    let mut group = c.benchmark_group("lint");
    group.throughput(Throughput::Elements(lines as u64));
    group.sample_size(10);
    group.bench_function("check_source_lines", |b| {
        b.iter(|| check_source("generated.rs", black_box(&source)))
    });
    group.finish();
}

criterion_group!(benches, lint_throughput);
criterion_main!(benches);
