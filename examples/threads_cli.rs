//! A plain multi-threaded program, no async runtime, shipping its logs over
//! OTLP/HTTP. Run a collector (or any OTLP receiver) on port 4318, then:
//!
//! ```sh
//! OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 cargo run --example threads_cli
//! ```
//!
//! Without an endpoint it prints JSON lines instead.

use std::thread;

fn main() {
    let guard = otel_log_bridge::builder()
        .with_service_name("threads-cli")
        .init();

    let workers: Vec<_> = (0..4)
        .map(|worker| {
            thread::Builder::new()
                .name(format!("worker-{worker}"))
                .spawn(move || {
                    let span = tracing::info_span!("batch", worker);
                    let _entered = span.enter();
                    for item in 0..25 {
                        // Shown with RUST_LOG=debug; the default is info.
                        tracing::debug!(item, "processing");
                        if item % 10 == 0 {
                            tracing::info!(item, "checkpoint");
                        }
                    }
                })
                .expect("spawn a worker thread")
        })
        .collect();
    for worker in workers {
        worker.join().expect("worker finished");
    }

    tracing::info!(workers = 4, "all batches done");
    let stats = guard.shutdown();
    eprintln!(
        "emitted {}, exported {}, dropped {}, failed {}",
        stats.emitted, stats.exported, stats.dropped, stats.failed
    );
}
