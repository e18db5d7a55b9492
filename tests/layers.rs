//! Bridge layers composed with others: several on one registry, each with
//! its own settings and output.

use serde_json::Value;
use tracing_subscriber::prelude::*;

use crate::support::SharedBuf;

/// Regression: a second bridge layer on the same registry panicked when
/// the first span was created (both stored their span data as the same
/// registry extension).
#[test]
fn two_bridge_layers_on_one_registry_keep_their_own_span_fields() {
    let (first_out, second_out) = (SharedBuf::default(), SharedBuf::default());
    let (first, first_guard) = otel_log_bridge::builder()
        .with_redacted_keys(["user"])
        .with_json_writer(first_out.clone())
        .layer()
        .expect("valid configuration");
    let (second, second_guard) = otel_log_bridge::builder()
        .with_redacted_keys(["tenant"])
        .with_json_writer(second_out.clone())
        .with_console_writer(std::io::sink())
        .layer()
        .expect("valid configuration");
    let subscriber = tracing_subscriber::registry().with(first).with(second);
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!(
            "request",
            tenant = "acme",
            user = "ada",
            step = tracing::field::Empty
        );
        let _entered = span.enter();
        span.record("step", 2);
        tracing::info!("handled");
    });
    first_guard.flush().expect("flushed");
    second_guard.flush().expect("flushed");
    let (first, second) = (&first_out.lines()[0], &second_out.lines()[0]);
    let fields = |record: &Value| {
        let attributes = &record["attributes"];
        (
            attributes["tenant"].clone(),
            attributes["user"].clone(),
            attributes["step"].clone(),
        )
    };
    assert_eq!(
        fields(first),
        ("acme".into(), "[REDACTED]".into(), 2.into())
    );
    assert_eq!(
        fields(second),
        ("[REDACTED]".into(), "ada".into(), 2.into())
    );
    // One span, one trace context, whichever layer writes it.
    assert_eq!(first["trace_id"], second["trace_id"]);
    assert_eq!(first["span_id"], second["span_id"]);
    assert!(first["trace_id"].is_string());
}
