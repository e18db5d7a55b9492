//! The bridge inside an application's existing OpenTelemetry SDK pipeline:
//! records keep this crate's mapping (timestamps, typed attributes, span
//! fields, exceptions) and go through the application's own processors and
//! exporters.
//!
//! ```sh
//! cargo run --example sdk_interop --features sdk
//! ```

use opentelemetry_sdk::logs::{BatchLogProcessor, InMemoryLogExporter, SdkLoggerProvider};
use tracing_subscriber::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The application's own pipeline; an OTLP exporter would go here. The
    // bridge hands records to the provider on the thread that logs, so a
    // batch processor keeps the export off that thread.
    let exporter = InMemoryLogExporter::default();
    let provider = SdkLoggerProvider::builder()
        .with_log_processor(BatchLogProcessor::builder(exporter.clone()).build())
        .build();

    let (layer, guard) = otel_log_bridge::builder()
        .with_logger_provider(provider.clone())
        .layer()?;
    let log_bridge = layer.log_bridge();
    // `set_global_default`, not `tracing_subscriber`'s `init()`, which
    // would also set a `log` logger of its own and leave no room for the
    // bridge's.
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new("info"))
        .with(layer);
    tracing::subscriber::set_global_default(subscriber)?;
    log::set_boxed_logger(Box::new(log_bridge))?;
    log::set_max_level(log::LevelFilter::Info);

    let span = tracing::info_span!("checkout", cart.items = 3);
    span.in_scope(|| tracing::info!(total_cents = 4_200, "order placed"));
    log::info!(retries = 0; "payment captured");

    // The guard's flush reaches the provider's processors too.
    guard.flush()?;
    for log in exporter.get_emitted_logs()? {
        println!(
            "{:?} {:?} {:?}",
            log.record.severity_text(),
            log.record.body(),
            log.record.attributes_iter().collect::<Vec<_>>()
        );
    }
    drop(guard);
    provider.shutdown()?;
    Ok(())
}
