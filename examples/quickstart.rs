//! One `init()` call, existing macros unchanged: every `tracing` event and
//! `log` record comes out as an OpenTelemetry log record, one JSON object
//! per line on stdout. No collector needed.
//!
//! ```sh
//! cargo run --example quickstart
//! ```

use std::error::Error;
use std::fmt;

use otel_log_bridge::TypedError;

/// An error with a cause, to show how a `source()` chain is recorded.
#[derive(Debug)]
struct QueryFailed {
    cause: std::io::Error,
}

impl fmt::Display for QueryFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("query failed")
    }
}

impl Error for QueryFailed {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.cause)
    }
}

fn main() {
    let _guard = otel_log_bridge::builder()
        .with_service_name("quickstart")
        .init();

    tracing::info!(name: "app.started", version = env!("CARGO_PKG_VERSION"), "service started");

    let request = tracing::info_span!("request", http.route = "/users/{id}", user.id = 42);
    let _request = request.enter();
    let query = tracing::info_span!("db.query", db.system = "postgresql");
    let _query = query.enter();

    // Fields of each kind `tracing` records; the enclosing spans' fields and
    // trace ids are added to each record.
    tracing::info!(
        rows = 3_i64,
        bytes = 1024_u64,
        latency_ms = 12.5,
        cached = false,
        table = "users",
        peer = %"10.0.0.7:5432",
        options = ?["read_only"],
        checksum = &b"\x01\x02"[..],
        "query done"
    );

    // The `log` crate's key-values arrive as typed attributes too.
    log::warn!(attempt = 2, backoff_ms = 250; "retrying connection");

    let error = QueryFailed {
        cause: std::io::Error::new(std::io::ErrorKind::TimedOut, "connection timed out"),
    };
    tracing::error!(error = &error as &dyn Error, "request failed");
    tracing::error!(
        error = &TypedError::new(&error) as &dyn Error,
        "request failed, with the error's type"
    );
}
