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
        .with_redacted_keys(["account"])
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
            account = "ada",
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
            attributes["account"].clone(),
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

/// Regression: with clones of one layer in two subscribers, an event in
/// the second took the span the thread had entered in the first, with its
/// fields and trace ids (the direct path keys spans by pipeline and span
/// id, and span ids repeat across registries).
#[test]
fn one_layer_in_two_subscribers_takes_no_span_from_the_other() {
    let out = SharedBuf::default();
    let (layer, guard) = otel_log_bridge::builder()
        .with_json_writer(out.clone())
        .layer()
        .expect("valid configuration");
    let first = tracing_subscriber::registry().with(layer.clone());
    let second = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(first, || {
        let span = tracing::info_span!("request", tenant = "alpha");
        let _entered = span.enter();
        tracing::info!("in the first");
        tracing::subscriber::with_default(second, || {
            tracing::info!("in the second");
            let span = tracing::info_span!("job", worker = 3);
            let _entered = span.enter();
            tracing::info!("in a span of the second");
        });
    });
    guard.flush().expect("flushed");
    let records = out.lines();
    let attributes = |index: usize| &records[index]["attributes"];
    assert_eq!(attributes(0)["tenant"], "alpha");
    assert!(attributes(1).get("tenant").is_none(), "{}", records[1]);
    assert!(records[1].get("trace_id").is_none(), "{}", records[1]);
    assert_eq!(attributes(2)["worker"], 3);
    assert!(attributes(2).get("tenant").is_none(), "{}", records[2]);
    assert_ne!(records[2]["trace_id"], records[0]["trace_id"]);
}

/// Regression: a span a per-layer filter hid from the first layer made its
/// child a trace root for that layer, and the context it worked out was the
/// one every layer's records carried, so one request was split in two.
#[test]
fn a_span_one_layer_does_not_see_is_still_the_parent_of_its_trace() {
    use tracing_subscriber::filter::filter_fn;

    let (first_out, second_out) = (SharedBuf::default(), SharedBuf::default());
    let (first, first_guard) = otel_log_bridge::builder()
        .with_json_writer(first_out.clone())
        .layer()
        .expect("valid configuration");
    let (second, second_guard) = otel_log_bridge::builder()
        .with_json_writer(second_out.clone())
        .layer()
        .expect("valid configuration");
    // The first layer sees only what happens under the "audit" target.
    let audit_only = filter_fn(|metadata| metadata.target() == "audit");
    let subscriber = tracing_subscriber::registry()
        .with(first.with_filter(audit_only))
        .with(second);
    tracing::subscriber::with_default(subscriber, || {
        let request = tracing::info_span!(target: "app", "request");
        let _request = request.enter();
        tracing::info!(target: "app", "in the request span");
        let audit = tracing::info_span!(target: "audit", "audit");
        let _audit = audit.enter();
        tracing::info!(target: "audit", "in the audit span");
    });
    first_guard.flush().expect("flushed");
    second_guard.flush().expect("flushed");
    let (first, second) = (first_out.lines(), second_out.lines());
    assert_eq!((first.len(), second.len()), (1, 2));
    // One trace: the request's, in both layers' records.
    assert_eq!(second[1]["trace_id"], second[0]["trace_id"]);
    assert_eq!(first[0]["trace_id"], second[0]["trace_id"]);
    assert_eq!(first[0]["span_id"], second[1]["span_id"]);
}

/// Regression: the `log` bridge asked a layer's filter about a record
/// without its source location, so a filter by module or file refused
/// every `log` record, which the same filter passes as `tracing` events or
/// as records `tracing-log` forwards.
#[test]
fn a_filter_by_module_sees_where_a_log_record_comes_from() {
    use log::Log as _;
    use tracing_subscriber::filter::filter_fn;

    let out = SharedBuf::default();
    let (layer, guard) = otel_log_bridge::builder()
        .with_json_writer(out.clone())
        .layer()
        .expect("valid configuration");
    let bridge = layer.log_bridge();
    let ours = filter_fn(|metadata| {
        metadata
            .module_path()
            .is_some_and(|module| !module.starts_with("hyper::"))
    });
    let subscriber = tracing_subscriber::registry().with(layer.with_filter(ours));
    tracing::subscriber::with_default(subscriber, || {
        for (module, body) in [("hyper::proto", "theirs"), ("billing::invoices", "ours")] {
            bridge.log(
                &log::Record::builder()
                    .level(log::Level::Info)
                    .target("app")
                    .module_path(Some(module))
                    .file(Some("src/invoices.rs"))
                    .line(Some(12))
                    .args(format_args!("{body}"))
                    .build(),
            );
        }
        // The question that clears the filter's answers after a record
        // goes by the location too: asked without it, the filter refused
        // it, and its answer hid the thread's next event, which the filter
        // passes.
        tracing::info!("after ours");
    });
    guard.flush().expect("flushed");
    let bodies: Vec<_> = out.lines().iter().map(|r| r["body"].clone()).collect();
    assert_eq!(bodies, ["ours", "after ours"]);
    assert_eq!(out.lines()[0]["attributes"]["code.line.number"], 12);
}

/// Regression: with clones of one layer in two subscribers, one of them
/// scoped, the second's records lost the `tracing-opentelemetry` ids: the
/// layer asked for the current dispatcher, which reads as none while a
/// subscriber dispatches.
#[cfg(feature = "tracing-opentelemetry")]
#[test]
fn one_layer_in_two_subscribers_keeps_the_opentelemetry_ids_in_each() {
    use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;

    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let out = SharedBuf::default();
    let (layer, guard) = otel_log_bridge::builder()
        .with_json_writer(out.clone())
        .layer()
        .expect("valid configuration");
    let with_tracer = |layer| {
        tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")))
            .with(layer)
    };
    let (first, second) = (with_tracer(layer.clone()), with_tracer(layer));
    let mut expected = Vec::new();
    tracing::subscriber::with_default(first, || {
        tracing::info!("in the first");
        tracing::subscriber::with_default(second, || {
            let span = tracing::info_span!("request");
            span.in_scope(|| tracing::info!("in a span of the second"));
            let context = span.context();
            expected.push(context.span().span_context().trace_id().to_string());
        });
    });
    drop(guard);
    let records = out.lines();
    assert_eq!(records[1]["trace_id"], expected[0].as_str());
}
