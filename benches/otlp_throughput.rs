//! End-to-end throughput over OTLP/HTTP protobuf into a loopback receiver:
//! otel-log-bridge beside opentelemetry-appender-tracing +
//! `BatchLogProcessor` + opentelemetry-otlp, in the same run, both at
//! default settings, and the official pipeline once more with a queue that
//! holds the whole burst (at its defaults it drops most of it). A bench
//! binary, not a timed test:
//!
//! ```sh
//! cargo bench --bench otlp_throughput && scripts/bench-report
//! ```
//!
//! The receiver runs in a child process, so that the CPU time this process
//! uses (`getrusage`-style process time, every thread, including threads
//! that exit) is the pipeline's own: logging, encoding, batching and
//! sending, flush included.
//!
//! One burst takes a fraction of a second, short enough for a scheduling
//! hiccup to move it by half, so each case runs [`BURSTS`] times, the cases
//! taking turns, and the table gives each measure's median; the drop
//! count is the largest of the bursts.
//!
//! It writes `target/otlp-throughput.json`, which `scripts/bench-report`
//! renders into BENCHMARKS.md, and prints the same table.
//!
//! To run (or profile) some cases only, name them as criterion filters
//! are named, `PIPELINE/THREADS` with `bridge`, `official` or
//! `official_holding_the_burst`; the saved results are then left as they
//! are:
//!
//! ```sh
//! cargo bench --bench otlp_throughput -- bridge/4
//! ```

#[path = "../tests/support/receiver.rs"]
#[allow(dead_code)]
mod receiver;
#[path = "support/remote_receiver.rs"]
mod remote_receiver;

use std::time::{Duration, Instant};

use cpu_time::ProcessTime;

use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::logs::{BatchConfigBuilder, BatchLogProcessor, SdkLoggerProvider};
use remote_receiver::{official_otlp_provider, serve_receiver, RemoteReceiver};
use tracing::Dispatch;
use tracing_subscriber::prelude::*;

const EVENTS: u64 = 200_000;

/// How many times each case runs.
const BURSTS: usize = 5;

#[inline(never)]
fn request_handled(user_id: u64, path: &str, status: u16, latency_ms: f64) {
    // The field's reference event, spelled as the published baselines spell
    // it, so the numbers stay comparable.
    // otel-log-lint: allow(OLB004)
    tracing::info!(user_id, path, status, latency_ms, "request handled");
}

/// Emits `EVENTS` events split over `threads` producer threads and returns
/// how long the producers took.
fn burst(dispatch: &Dispatch, threads: u64) -> Duration {
    let start = Instant::now();
    std::thread::scope(|scope| {
        for thread in 0..threads {
            let dispatch = dispatch.clone();
            scope.spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    for i in 0..EVENTS / threads {
                        request_handled(thread * EVENTS + i, "/api/users", 200, 3.25);
                    }
                })
            });
        }
    });
    start.elapsed()
}

/// A pipeline's burst with this many producer threads.
type Case = fn(u64) -> Row;

struct Row {
    pipeline: &'static str,
    threads: u64,
    producer: Duration,
    total: Duration,
    /// CPU time of this whole process from the first event to the end of
    /// shutdown.
    cpu: Duration,
    received: u64,
}

fn bridge(threads: u64) -> Row {
    let mut receiver = RemoteReceiver::start(false);
    let (layer, guard) = otel_log_bridge::builder()
        .with_otlp_endpoint(receiver.endpoint.clone())
        .with_shutdown_timeout(Duration::from_secs(60))
        .layer()
        .expect("valid configuration");
    let dispatch = Dispatch::new(tracing_subscriber::registry().with(layer));
    let start = Instant::now();
    let cpu = ProcessTime::now();
    let producer = burst(&dispatch, threads);
    let _ = guard.shutdown();
    let total = start.elapsed();
    let cpu = cpu.elapsed();
    Row {
        pipeline: "otel-log-bridge",
        threads,
        producer,
        total,
        cpu,
        received: receiver.record_count(),
    }
}

fn official(threads: u64) -> Row {
    let receiver = RemoteReceiver::start(false);
    let provider = official_otlp_provider(&receiver.endpoint);
    official_burst(
        "opentelemetry-appender-tracing + BatchLogProcessor + opentelemetry-otlp",
        provider,
        receiver,
        threads,
    )
}

/// The official pipeline with a queue that holds the whole burst: at its
/// defaults it drops most of a burst, and so spends no export work on
/// those records, so this is the case that delivers every record, as
/// otel-log-bridge does, to compare the CPU time of the same work.
fn official_holding_the_burst(threads: u64) -> Row {
    let receiver = RemoteReceiver::start(false);
    let exporter = opentelemetry_otlp::LogExporter::builder()
        .with_http()
        .with_endpoint(&receiver.endpoint)
        .build()
        .expect("exporter");
    let config = BatchConfigBuilder::default()
        .with_max_queue_size(EVENTS as usize)
        .build();
    let provider = SdkLoggerProvider::builder()
        .with_log_processor(
            BatchLogProcessor::builder(exporter)
                .with_batch_config(config)
                .build(),
        )
        .build();
    official_burst(
        "opentelemetry-appender-tracing + BatchLogProcessor with a queue of 200 000 records + opentelemetry-otlp",
        provider,
        receiver,
        threads,
    )
}

fn official_burst(
    pipeline: &'static str,
    provider: SdkLoggerProvider,
    mut receiver: RemoteReceiver,
    threads: u64,
) -> Row {
    let dispatch = Dispatch::new(
        tracing_subscriber::registry().with(OpenTelemetryTracingBridge::new(&provider)),
    );
    let start = Instant::now();
    let cpu = ProcessTime::now();
    let producer = burst(&dispatch, threads);
    let _ = provider.shutdown();
    let total = start.elapsed();
    let cpu = cpu.elapsed();
    Row {
        pipeline,
        threads,
        producer,
        total,
        cpu,
        received: receiver.record_count(),
    }
}

fn main() {
    // `cargo test --benches` runs bench targets with `--bench` absent; the
    // full burst is only worth its time when benchmarking.
    if std::env::args().any(|arg| arg == "--receiver") {
        serve_receiver();
        return;
    }
    if !std::env::args().any(|arg| arg == "--bench") {
        return;
    }
    // Arguments that are not flags select cases, as a criterion filter
    // does: a case runs when its name contains one of them.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with("--"))
        .collect();
    let cases: [(&str, Case); 3] = [
        ("bridge", bridge),
        ("official", official),
        ("official_holding_the_burst", official_holding_the_burst),
    ];
    // Each selected case's name and its bursts.
    let mut bursts: Vec<(&str, Vec<Row>)> = Vec::new();
    for threads in [1, 4] {
        let selected: Vec<(&str, Case)> = cases
            .iter()
            .filter(|(name, _)| {
                let id = format!("{name}/{threads}");
                filters.is_empty() || filters.iter().any(|filter| id.contains(filter.as_str()))
            })
            .copied()
            .collect();
        let first = bursts.len();
        bursts.extend(selected.iter().map(|&(name, _)| (name, Vec::new())));
        for _ in 0..BURSTS {
            for (case, (_, run)) in selected.iter().enumerate() {
                bursts[first + case].1.push(run(threads));
            }
        }
    }
    println!("| pipeline | producer threads | records received (fewest of the bursts) | dropped (most) | records/s end to end (median) | producer ns/event (median) | process CPU ns/event (median) | process CPU ns/delivered record (median) |");
    println!("|---|---|---|---|---|---|---|---|");
    let mut json = Vec::new();
    for (case, runs) in &bursts {
        let Some(first) = runs.first() else {
            continue;
        };
        let received = runs.iter().map(|run| run.received).min().unwrap_or(0);
        let dropped = EVENTS.saturating_sub(received);
        let per_second = median(runs, |run| run.received as f64 / run.total.as_secs_f64());
        let producer_ns = median(runs, |run| run.producer.as_nanos() as f64 / EVENTS as f64);
        let cpu_ns = median(runs, |run| run.cpu.as_nanos() as f64 / EVENTS as f64);
        let cpu_ns_delivered = median(runs, |run| {
            run.cpu.as_nanos() as f64 / run.received.max(1) as f64
        });
        println!(
            "| {} | {} | {} | {} | {:.0} | {:.0} | {:.0} | {:.0} |",
            first.pipeline,
            first.threads,
            received,
            dropped,
            per_second,
            producer_ns,
            cpu_ns,
            cpu_ns_delivered
        );
        json.push(serde_json::json!({
            "case": case,
            "pipeline": first.pipeline,
            "threads": first.threads,
            "events": EVENTS,
            "bursts": runs.len(),
            "received": received,
            "dropped": dropped,
            "records_per_second": per_second,
            "producer_ns_per_event": producer_ns,
            "process_cpu_ns_per_event": cpu_ns,
            "process_cpu_ns_per_delivered_record": cpu_ns_delivered,
        }));
    }
    if filters.is_empty() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/otlp-throughput.json");
        let _ = std::fs::write(&path, serde_json::to_string_pretty(&json).expect("JSON"));
    }
}

/// The median of `measure` over `runs`.
fn median(runs: &[Row], measure: impl Fn(&Row) -> f64) -> f64 {
    let mut values: Vec<f64> = runs.iter().map(measure).collect();
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}
