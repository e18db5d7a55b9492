//! A program (or a dependency) that only uses the `log` crate: its records,
//! key-values included, become typed OpenTelemetry log records.
//!
//! ```sh
//! cargo run --example log_only
//! ```

fn main() {
    let _guard = otel_log_bridge::init();

    log::info!(target: "billing", invoice = 1042, amount_cents = 1250, currency = "EUR"; "invoice issued");
    log::warn!(retries = 3, backoff_ms = 250.0; "payment provider slow");
    let error = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "provider hung up");
    log::error!(err:err = error; "payment failed");
}
