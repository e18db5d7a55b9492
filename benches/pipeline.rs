//! Per-event cost on the calling thread, this crate beside the alternatives,
//! all measured in the same run:
//!
//! ```sh
//! cargo bench --bench pipeline
//! ```
//!
//! Every case logs the same event,
//! `info!(user_id, path, status, latency_ms, "request handled")`, through a
//! thread-local default dispatcher.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{BatchLogProcessor, LogBatch, LogExporter, SdkLoggerProvider};
use tracing::Dispatch;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

#[inline(never)]
fn request_handled(user_id: i64, path: &str, status: u16, latency_ms: f64) {
    // The field's reference event, spelled as the published baselines spell
    // it, so the numbers stay comparable.
    // otel-log-lint: allow(OLB004)
    tracing::info!(user_id, path, status, latency_ms, "request handled");
}

fn log_one() {
    request_handled(
        black_box(42),
        black_box("/api/users"),
        black_box(200),
        black_box(3.25),
    );
}

/// The floor: a layer that sees every event and does nothing with it.
struct NoopLayer;

impl<S: tracing::Subscriber> Layer<S> for NoopLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        black_box(event);
    }
}

/// An exporter that discards batches, so the SDK pipeline is measured
/// without any I/O.
#[derive(Debug)]
struct DiscardingExporter;

impl LogExporter for DiscardingExporter {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        black_box(batch.iter().count());
        Ok(())
    }
}

fn bench_case(
    c: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    dispatch: &Dispatch,
) {
    tracing::dispatcher::with_default(dispatch, || {
        c.bench_function(name, |b| b.iter(log_one));
    });
}

fn pipelines(c: &mut Criterion) {
    let mut group = c.benchmark_group("pipeline");

    let noop = Dispatch::new(tracing_subscriber::registry().with(NoopLayer));
    bench_case(&mut group, "noop_layer", &noop);

    let (layer, guard) = otel_log_bridge::builder()
        .with_json_writer(std::io::sink())
        .layer()
        .expect("valid configuration");
    let bridge = Dispatch::new(tracing_subscriber::registry().with(layer));
    bench_case(&mut group, "otel_log_bridge_json", &bridge);
    drop(guard);

    let fmt_json = Dispatch::new(
        tracing_subscriber::fmt()
            .json()
            .with_writer(std::io::sink)
            .finish(),
    );
    bench_case(&mut group, "fmt_json", &fmt_json);

    let provider = SdkLoggerProvider::builder()
        .with_log_processor(BatchLogProcessor::builder(DiscardingExporter).build())
        .build();
    let appender = Dispatch::new(
        tracing_subscriber::registry().with(OpenTelemetryTracingBridge::new(&provider)),
    );
    bench_case(&mut group, "otel_appender_batch", &appender);
    group.finish();
    let _ = provider.shutdown();
}

criterion_group!(benches, pipelines);
criterion_main!(benches);
