//! Ships logs to an OpenTelemetry Collector over OTLP/HTTP.
//!
//! ```sh
//! OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 cargo run --example otlp
//! ```
//!
//! Setting an OTLP endpoint makes `otlp` the default exporter; protocol,
//! headers, compression and batching come from the usual `OTEL_*`
//! variables. The guard's stats say what was delivered.

fn main() {
    let guard = otel_log_bridge::builder()
        .with_service_name("otlp-example")
        .init();

    for order in 0..10 {
        let span = tracing::info_span!("order", order.id = order);
        let _entered = span.enter();
        tracing::info!(items = 3, total_cents = 1250, "order placed");
        log::info!(channel = "email"; "receipt sent");
    }

    // Flushes (waiting at most the shutdown timeout) and stops the export.
    let stats = guard.shutdown();
    eprintln!(
        "emitted {}, exported {}, dropped {}, failed {}",
        stats.emitted, stats.exported, stats.dropped, stats.failed
    );
}
