//! Per-event cost on the calling thread, this crate beside the alternatives,
//! all measured in the same run:
//!
//! ```sh
//! cargo bench --bench pipeline
//! ```
//!
//! Groups (each case behind a thread-local default dispatcher):
//! - `pipeline`: the reference event outside any span: a no-op layer,
//!   this crate to JSON and queued for OTLP/HTTP export, `fmt().json()`,
//!   json-subscriber, and the official appender with the SDK's
//!   `BatchLogProcessor`.
//! - `in_span`: the same event inside an entered span whose trace ids are
//!   filled: this crate queueing for OTLP/HTTP export, the official
//!   pipeline (with `tracing-opentelemetry` providing the ids), the JSON
//!   formatters, and beside the no-op layer a layer that visits every
//!   field and keeps nothing (what reading the values costs any layer).
//! - `disabled`: an event the filter turns off.
//! - `span_depth/N` and `field_count/N`: the cost curves.
//! - `span_turns/otel_log_bridge_otlp/N`: events taking turns between `N`
//!   spans, as on a thread of an async runtime; 32 is more spans than a
//!   thread keeps the snapshots of.
//!
//! Every case is timed in stretches of 1024 events, each after 128 untimed
//! ones and followed by an untimed flush, so that the pipelines with a
//! queue (this crate's and the SDK's `BatchLogProcessor`, whose queue holds
//! 2048 records) queue every event instead of dropping it once a tight loop
//! has filled the queue.

use std::cell::Cell;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{criterion_group, Bencher, BenchmarkGroup, Criterion};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{BatchLogProcessor, LogBatch, LogExporter, SdkLoggerProvider};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Dispatch;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

#[path = "../tests/support/receiver.rs"]
#[allow(dead_code)]
mod receiver;
#[path = "support/remote_receiver.rs"]
mod remote_receiver;

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

/// A layer that visits every field of every event and keeps nothing: what
/// reading an event's values through `tracing-core` costs before any layer
/// does anything with them.
struct VisitingLayer;

struct DiscardingVisitor;

impl tracing::field::Visit for DiscardingVisitor {
    fn record_i64(&mut self, field: &tracing::field::Field, value: i64) {
        black_box((field, value));
    }

    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        black_box((field, value));
    }

    fn record_f64(&mut self, field: &tracing::field::Field, value: f64) {
        black_box((field, value));
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        black_box((field, value));
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        black_box((field, value));
    }
}

impl<S: tracing::Subscriber> Layer<S> for VisitingLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        event.record(&mut DiscardingVisitor);
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

fn official_provider() -> SdkLoggerProvider {
    SdkLoggerProvider::builder()
        .with_log_processor(BatchLogProcessor::builder(DiscardingExporter).build())
        .build()
}

fn bridge_json() -> (otel_log_bridge::BridgeLayer, otel_log_bridge::Guard) {
    otel_log_bridge::builder()
        .with_json_writer(std::io::sink())
        .layer()
        .expect("valid configuration")
}

/// Runs `f` in `depth` nested entered spans of two fields each.
fn in_spans(depth: usize, f: &mut dyn FnMut()) {
    if depth == 0 {
        f();
        return;
    }
    let span = tracing::info_span!("level", depth, route = "/api/users/{id}");
    let _entered = span.enter();
    in_spans(depth - 1, f);
}

/// Events per timed stretch: with the untimed `WARM_UP` events before it,
/// fewer than the official `BatchLogProcessor`'s queue holds (2048
/// records), so that no pipeline drops what a stretch logs and every case
/// is measured queueing each event, not dropping it.
const STRETCH: u64 = 1024;

/// Untimed events before each stretch, after the flush that ended the last
/// one: the thread slept through the flush, and its first events would
/// otherwise measure the caches the export worker took over meanwhile.
const WARM_UP: u64 = 128;

/// Times `log` in stretches of `STRETCH` calls; after each, `flush` empties
/// the pipeline, untimed: the calling thread's cost is what is measured,
/// the export workers' is in `otlp_throughput`.
fn measure(b: &mut Bencher<'_>, log: impl Fn(), flush: &dyn Fn()) {
    b.iter_custom(|iters| {
        let mut timed = Duration::ZERO;
        let mut left = iters;
        while left > 0 {
            let stretch = left.min(STRETCH);
            for _ in 0..WARM_UP {
                log();
            }
            let start = Instant::now();
            for _ in 0..stretch {
                log();
            }
            timed += start.elapsed();
            flush();
            left -= stretch;
        }
        timed
    });
}

/// Nothing to flush: the case has no queue.
fn no_queue() {}

fn bench(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    dispatch: &Dispatch,
    depth: usize,
    flush: &dyn Fn(),
) {
    tracing::dispatcher::with_default(dispatch, || {
        // Which callsites are enabled, and whether each event must ask its
        // dispatcher, is decided over every dispatcher alive: one dropped
        // since must not leave its answers to the case measured now. Done
        // inside the case's scope: with one dispatcher alive, `tracing`
        // asks the default one.
        tracing::callsite::rebuild_interest_cache();
        in_spans(depth, &mut || {
            group.bench_function(name, |b| measure(b, log_one, flush));
        });
    });
}

/// This crate queueing for OTLP/HTTP export to `receiver`.
fn bench_bridge_otlp(
    group: &mut BenchmarkGroup<'_, WallTime>,
    receiver: &remote_receiver::RemoteReceiver,
    depth: usize,
) {
    let (layer, guard) = otel_log_bridge::builder()
        .with_otlp_endpoint(receiver.endpoint.clone())
        .layer()
        .expect("valid configuration");
    let bridge = Dispatch::new(tracing_subscriber::registry().with(layer));
    bench(group, "otel_log_bridge_otlp", &bridge, depth, &|| {
        let _ = guard.flush();
    });
}

/// `fmt().json()` and json-subscriber, both writing to `io::sink`.
fn bench_json_formatters(group: &mut BenchmarkGroup<'_, WallTime>, depth: usize) {
    let fmt_json = Dispatch::new(
        tracing_subscriber::fmt()
            .json()
            .with_writer(std::io::sink)
            .finish(),
    );
    bench(group, "fmt_json", &fmt_json, depth, &no_queue);
    drop(fmt_json);
    let json_subscriber = Dispatch::new(json_subscriber::fmt().with_writer(std::io::sink).finish());
    bench(group, "json_subscriber", &json_subscriber, depth, &no_queue);
}

/// The official pipeline, the appender and the SDK's `BatchLogProcessor`,
/// exporting over OTLP/HTTP to `receiver`. In spans, trace ids come from
/// tracing-opentelemetry, which is given spans alone so that it does no
/// work per event; outside any span there are none to give.
fn bench_official_otlp(
    group: &mut BenchmarkGroup<'_, WallTime>,
    receiver: &remote_receiver::RemoteReceiver,
    depth: usize,
) {
    let tracer_provider = SdkTracerProvider::builder().build();
    let provider = remote_receiver::official_otlp_provider(&receiver.endpoint);
    let appender = OpenTelemetryTracingBridge::new(&provider);
    let official = if depth == 0 {
        Dispatch::new(tracing_subscriber::registry().with(appender))
    } else {
        Dispatch::new(
            tracing_subscriber::registry()
                .with(
                    tracing_opentelemetry::layer()
                        .with_tracer(tracer_provider.tracer("bench"))
                        .with_filter(filter_fn(|metadata| metadata.is_span())),
                )
                .with(appender),
        )
    };
    bench(group, "otel_appender_batch", &official, depth, &|| {
        let _ = provider.force_flush();
    });
    let _ = provider.shutdown();
}

fn pipeline(c: &mut Criterion) {
    let mut group = c.benchmark_group("pipeline");
    let noop = Dispatch::new(tracing_subscriber::registry().with(NoopLayer));
    bench(&mut group, "noop_layer", &noop, 0, &no_queue);
    drop(noop);
    let (layer, guard) = bridge_json();
    let bridge = Dispatch::new(tracing_subscriber::registry().with(layer));
    bench(&mut group, "otel_log_bridge_json", &bridge, 0, &|| {
        let _ = guard.flush();
    });
    drop((bridge, guard));
    // Both pipelines queue for OTLP/HTTP export to a receiver that only
    // counts records, in a process of its own at the lowest priority: a
    // receiver sharing the machine's cores at normal priority would
    // otherwise be measured with this thread.
    let receiver = remote_receiver::RemoteReceiver::start(true);
    bench_bridge_otlp(&mut group, &receiver, 0);
    bench_official_otlp(&mut group, &receiver, 0);
    bench_json_formatters(&mut group, 0);
    group.finish();
}

fn in_span(c: &mut Criterion) {
    let mut group = c.benchmark_group("in_span");
    let noop = Dispatch::new(tracing_subscriber::registry().with(NoopLayer));
    bench(&mut group, "noop_layer", &noop, 1, &no_queue);
    drop(noop);
    let visiting = Dispatch::new(tracing_subscriber::registry().with(VisitingLayer));
    bench(&mut group, "visiting_layer", &visiting, 1, &no_queue);
    drop(visiting);
    // As in `pipeline`.
    let receiver = remote_receiver::RemoteReceiver::start(true);
    bench_bridge_otlp(&mut group, &receiver, 1);
    bench_official_otlp(&mut group, &receiver, 1);
    let (layer, guard) = bridge_json();
    let bridge = Dispatch::new(tracing_subscriber::registry().with(layer));
    bench(&mut group, "otel_log_bridge_json", &bridge, 1, &|| {
        let _ = guard.flush();
    });
    drop((bridge, guard));
    bench_json_formatters(&mut group, 1);
    group.finish();
}

fn disabled(c: &mut Criterion) {
    let mut group = c.benchmark_group("disabled");
    bench(&mut group, "no_subscriber", &Dispatch::none(), 0, &no_queue);
    let (layer, guard) = bridge_json();
    let filtered = Dispatch::new(
        tracing_subscriber::registry()
            .with(tracing_subscriber::EnvFilter::new("warn"))
            .with(layer),
    );
    bench(
        &mut group,
        "otel_log_bridge_filtered_out",
        &filtered,
        0,
        &no_queue,
    );
    drop(guard);
    group.finish();
}

fn span_depth(c: &mut Criterion) {
    let mut group = c.benchmark_group("span_depth");
    let (layer, guard) = bridge_json();
    let bridge = Dispatch::new(tracing_subscriber::registry().with(layer));
    let provider = official_provider();
    let official = Dispatch::new(
        tracing_subscriber::registry().with(OpenTelemetryTracingBridge::new(&provider)),
    );
    for depth in [0, 1, 4, 16] {
        bench(
            &mut group,
            &format!("otel_log_bridge_json/{depth}"),
            &bridge,
            depth,
            &|| {
                let _ = guard.flush();
            },
        );
        bench(
            &mut group,
            &format!("otel_appender_batch/{depth}"),
            &official,
            depth,
            &|| {
                let _ = provider.force_flush();
            },
        );
    }
    drop(guard);
    let _ = provider.shutdown();
    group.finish();
}

/// Logs one event with `N` fields.
macro_rules! fields {
    (0) => {
        tracing::info!("fields")
    };
    (4) => {
        tracing::info!(f0 = 0, f1 = 1, f2 = 2, "fields")
    };
    (16) => {
        tracing::info!(
            f0 = 0,
            f1 = 1,
            f2 = 2,
            f3 = 3,
            f4 = 4,
            f5 = 5,
            f6 = 6,
            f7 = 7,
            f8 = 8,
            f9 = 9,
            f10 = 10,
            f11 = 11,
            f12 = 12,
            f13 = 13,
            f14 = 14,
            "fields"
        )
    };
    (32) => {
        tracing::info!(
            f0 = 0,
            f1 = 1,
            f2 = 2,
            f3 = 3,
            f4 = 4,
            f5 = 5,
            f6 = 6,
            f7 = 7,
            f8 = 8,
            f9 = 9,
            f10 = 10,
            f11 = 11,
            f12 = 12,
            f13 = 13,
            f14 = 14,
            f15 = 15,
            f16 = 16,
            f17 = 17,
            f18 = 18,
            f19 = 19,
            f20 = 20,
            f21 = 21,
            f22 = 22,
            f23 = 23,
            f24 = 24,
            f25 = 25,
            f26 = 26,
            f27 = 27,
            f28 = 28,
            f29 = 29,
            f30 = 30,
            "fields"
        )
    };
}

fn field_count(c: &mut Criterion) {
    let mut group = c.benchmark_group("field_count");
    let (layer, guard) = bridge_json();
    let bridge = Dispatch::new(tracing_subscriber::registry().with(layer));
    let provider = official_provider();
    let official = Dispatch::new(
        tracing_subscriber::registry().with(OpenTelemetryTracingBridge::new(&provider)),
    );
    // The message counts as a field: 4, 16 and 32 fields; the first case
    // has the message alone.
    let cases: [(&str, fn()); 4] = [
        ("0", || fields!(0)),
        ("4", || fields!(4)),
        ("16", || fields!(16)),
        ("32", || fields!(32)),
    ];
    for (count, log) in cases {
        let flush_bridge = || {
            let _ = guard.flush();
        };
        let flush_official = || {
            let _ = provider.force_flush();
        };
        let cases: [(&str, &Dispatch, &dyn Fn()); 2] = [
            ("otel_log_bridge_json", &bridge, &flush_bridge),
            ("otel_appender_batch", &official, &flush_official),
        ];
        for (name, dispatch, flush) in cases {
            tracing::dispatcher::with_default(dispatch, || {
                group.bench_function(format!("{name}/{count}"), |b| measure(b, log, flush));
            });
        }
    }
    drop(guard);
    let _ = provider.shutdown();
    group.finish();
}

/// Events taking turns between `N` entered spans, one event each, as a
/// thread of an async runtime polls many tasks in turn: the OTLP queue
/// writes a span's context once for the records after it that share it,
/// and here consecutive records share it only with one span. Entering and
/// leaving the span is part of every case's cost.
fn span_turns(c: &mut Criterion) {
    let mut group = c.benchmark_group("span_turns");
    let receiver = remote_receiver::RemoteReceiver::start(true);
    let (layer, guard) = otel_log_bridge::builder()
        .with_otlp_endpoint(receiver.endpoint.clone())
        .layer()
        .expect("valid configuration");
    let dispatch = Dispatch::new(tracing_subscriber::registry().with(layer));
    tracing::dispatcher::with_default(&dispatch, || {
        for count in [1, 2, 8, 32] {
            let spans: Vec<_> = (0..count)
                .map(|task| tracing::info_span!("task", task, route = "/api/users/{id}"))
                .collect();
            let next = Cell::new(0);
            let log = || {
                let turn = next.get();
                next.set((turn + 1) % spans.len());
                spans[turn].in_scope(log_one);
            };
            group.bench_function(format!("otel_log_bridge_otlp/{count}"), |b| {
                measure(b, log, &|| {
                    let _ = guard.flush();
                });
            });
        }
    });
    group.finish();
}

criterion_group!(
    benches,
    pipeline,
    in_span,
    disabled,
    span_depth,
    field_count,
    span_turns
);
fn main() {
    // The OTLP cases' receiver is this binary in another process.
    if std::env::args().any(|arg| arg == "--receiver") {
        remote_receiver::serve_receiver();
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
