//! Memory during a collector outage: 50 000 records/s for 30 s into an
//! OTLP endpoint that refuses connections. Reports the queued bytes per
//! record before the budget fills, and the process's peak RSS against the
//! 64 MiB queue budget. A bench binary, not a timed test:
//!
//! ```sh
//! cargo bench --bench outage_memory && scripts/bench-report
//! ```
//!
//! It writes `target/outage-memory.json` for `scripts/bench-report`.

use std::time::{Duration, Instant};

use tracing_subscriber::prelude::*;

const RATE: u64 = 50_000;
const SECONDS: u64 = 30;
/// The queue budget, set explicitly (it is also the default).
const QUEUE_BUDGET: usize = 64 * 1024 * 1024;

#[inline(never)]
fn request_handled(user_id: u64, path: &str, status: u16, latency_ms: f64) {
    // The field's reference event, spelled as the published baselines spell
    // it, so the numbers stay comparable.
    // otel-log-lint: allow(OLB004)
    tracing::info!(user_id, path, status, latency_ms, "request handled");
}

/// The resident set size, from `/proc/self/status` (Linux).
fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmRSS:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn main() {
    if !std::env::args().any(|arg| arg == "--bench") {
        return;
    }
    // A port that nothing listens on: every export attempt is refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let (layer, guard) = otel_log_bridge::builder()
        .with_otlp_endpoint(format!("http://127.0.0.1:{port}/v1/logs"))
        .with_shutdown_timeout(Duration::from_millis(100))
        .with_queue_budget(QUEUE_BUDGET)
        .layer()
        .expect("valid configuration");
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    let baseline_rss = rss_bytes();
    let mut peak_rss = baseline_rss;
    let mut bytes_per_record = 0.0;
    let start = Instant::now();
    tracing::dispatcher::with_default(&dispatch, || {
        for second in 0..SECONDS {
            for tick in 0..100 {
                for i in 0..RATE / 100 {
                    request_handled(second * RATE + tick * 1000 + i, "/api/users", 200, 3.25);
                }
                let due = start + Duration::from_millis(second * 1000 + (tick + 1) * 10);
                std::thread::sleep(due.saturating_duration_since(Instant::now()));
            }
            let stats = guard.stats();
            if second == 0 {
                bytes_per_record = stats.queued_bytes as f64 / stats.emitted as f64;
            }
            peak_rss = peak_rss.max(rss_bytes());
        }
    });
    let stats = guard.shutdown();
    let report = serde_json::json!({
        "records_per_second": RATE,
        "seconds": SECONDS,
        "queued_bytes_per_record": bytes_per_record,
        "baseline_rss_bytes": baseline_rss,
        "peak_rss_bytes": peak_rss,
        "queue_budget_bytes": QUEUE_BUDGET,
        "emitted": stats.emitted,
        "exported": stats.exported,
        "dropped": stats.dropped,
        "failed": stats.failed,
        // Still queued when the guard stopped waiting (the 100 ms shutdown
        // timeout); the stats count them as failed only once the worker
        // gives up on them.
        "still_queued_at_exit": stats
            .emitted
            .saturating_sub(stats.exported + stats.dropped + stats.failed + stats.rejected),
    });
    println!("{report:#}");
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/outage-memory.json");
    let _ = std::fs::write(path, report.to_string());
}
