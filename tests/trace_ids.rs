//! Correlation: native ids, and ids from `tracing-opentelemetry`.

use serde_json::Value;

use crate::support::capture;

fn ids(record: &Value) -> (Option<&str>, Option<&str>) {
    (record["trace_id"].as_str(), record["span_id"].as_str())
}

#[test]
fn native_ids_are_shared_within_a_request_and_not_across() {
    let records = capture(otel_log_bridge::builder(), || {
        for request in 0..2 {
            let span = tracing::info_span!("request", request);
            let _entered = span.enter();
            tracing::info!("start");
            tracing::info_span!("db").in_scope(|| tracing::info!("query"));
            tracing::info!("end");
        }
    });
    assert_eq!(records.len(), 6);
    let (first, second) = records.split_at(3);
    for request in [first, second] {
        let trace = ids(&request[0]).0.expect("trace id");
        assert!(request.iter().all(|r| ids(r).0 == Some(trace)));
        assert_eq!(ids(&request[0]).1, ids(&request[2]).1, "same span");
        assert_ne!(ids(&request[0]).1, ids(&request[1]).1, "child span");
    }
    assert_ne!(ids(&first[0]).0, ids(&second[0]).0);
}

#[test]
fn a_continued_trace_keeps_the_callers_trace_id_and_flags() {
    let header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let parent = otel_log_bridge::TraceContext::from_traceparent(header).expect("valid");
    let records = capture(otel_log_bridge::builder(), || {
        let span = tracing::info_span!("request");
        assert!(otel_log_bridge::continue_trace(&span, parent));
        span.in_scope(|| tracing::info!("handled"));
        assert!(
            !otel_log_bridge::continue_trace(&span, parent),
            "ids are fixed once used"
        );
    });
    assert_eq!(records[0]["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(records[0]["trace_flags"], "01");
    assert_ne!(records[0]["span_id"], "00f067aa0ba902b7");
}

#[test]
fn a_spans_trace_context_is_the_one_its_records_carry() {
    let header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let parent = otel_log_bridge::TraceContext::from_traceparent(header).expect("valid");
    let mut contexts = Vec::new();
    let records = capture(otel_log_bridge::builder(), || {
        let request = tracing::info_span!("request");
        assert!(otel_log_bridge::continue_trace(&request, parent));
        let call = tracing::info_span!(parent: &request, "call inventory");
        // Read before anything is logged: the ids are fixed from then on.
        contexts.push(otel_log_bridge::trace_context(&call).expect("tracked"));
        call.in_scope(|| tracing::info!("calling"));
        contexts.push(otel_log_bridge::trace_context(&request).expect("tracked"));
        request.in_scope(|| tracing::info!("done"));
        // Reading a fresh span's context fixes its ids, as logging would.
        let read_first = tracing::info_span!(parent: None, "read first");
        contexts.push(otel_log_bridge::trace_context(&read_first).expect("tracked"));
        assert!(!otel_log_bridge::continue_trace(&read_first, parent));
        read_first.in_scope(|| tracing::info!("own trace"));
    });
    assert_eq!(records.len(), 3);
    for (record, context) in records.iter().zip(&contexts) {
        let traceparent = context.to_traceparent();
        assert_eq!(
            traceparent,
            format!(
                "00-{}-{}-{}",
                record["trace_id"].as_str().expect("trace id"),
                record["span_id"].as_str().expect("span id"),
                record["trace_flags"].as_str().expect("flags"),
            )
        );
    }
    for context in &contexts[..2] {
        assert!(context
            .to_traceparent()
            .starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
    }
    assert_ne!(contexts[2].trace_id(), contexts[0].trace_id());
    assert_ne!(contexts[0].span_id(), contexts[1].span_id());
    // A span no bridge layer tracks has no context to give.
    assert_eq!(
        otel_log_bridge::trace_context(&tracing::info_span!("untracked")),
        None
    );
}

/// Regression: a `TraceContext` built by hand with all-zero ids was
/// continued, and records carried the invalid all-zero trace id. No such
/// context can be made now.
#[test]
fn a_trace_context_with_all_zero_ids_cannot_be_made() {
    use otel_log_bridge::TraceContext;

    assert_eq!(TraceContext::new([0; 16], [1; 8], 1), None);
    assert_eq!(TraceContext::new([1; 16], [0; 8], 1), None);
    assert_eq!(
        TraceContext::from_traceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
        None
    );
    let context = TraceContext::new([1; 16], [2; 8], 1).expect("valid ids");
    assert_eq!(
        (context.trace_id(), context.span_id(), context.flags()),
        ([1; 16], [2; 8], 1)
    );
}

/// Runs `scenario` in the subscriber `compose` builds around a bridge
/// layer (and with its `log` bridge), and returns the JSON lines written.
fn in_composed_subscriber(
    compose: impl FnOnce(otel_log_bridge::BridgeLayer) -> tracing::Dispatch,
    scenario: impl FnOnce(),
) -> Vec<serde_json::Value> {
    let out = crate::support::SharedBuf::default();
    let (layer, guard) = otel_log_bridge::builder()
        .with_json_writer(out.clone())
        .layer()
        .expect("valid");
    let bridge = layer.log_bridge();
    tracing::dispatcher::with_default(&compose(layer), || {
        crate::support::with_log_target(bridge, scenario);
    });
    drop(guard);
    out.lines()
}

/// A layer that wants every span, as a `fmt` layer at `debug` would.
struct WantsEverySpan;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for WantsEverySpan {}

/// Regression: a `log` record inside a span that a per-layer filter hides
/// from the bridge got a new random span id each time, the id of no span.
/// It now takes the nearest span the bridge sees, as events do.
#[test]
fn log_records_in_a_span_hidden_from_the_bridge_take_the_nearest_span_it_sees() {
    use tracing_subscriber::prelude::*;
    let compose = |layer: otel_log_bridge::BridgeLayer| {
        tracing_subscriber::registry()
            .with(WantsEverySpan)
            .with(layer.with_filter(tracing_subscriber::filter::LevelFilter::INFO))
            .into()
    };
    let records = in_composed_subscriber(compose, || {
        let outer = tracing::info_span!("outer");
        let _outer = outer.enter();
        tracing::info!("an event");
        let inner = tracing::debug_span!("inner");
        let _inner = inner.enter();
        log::info!("a");
        log::info!("b");
    });
    assert_eq!(records.len(), 3);
    let event = ids(&records[0]);
    assert!(event.1.is_some());
    for record in &records[1..] {
        assert_eq!(ids(record), event, "{record}");
    }
}

/// `trace_context` gives what records carry: for a span a per-layer filter
/// hides from the bridge, the nearest span the bridge sees; under a
/// subscriber without a bridge layer, nothing.
#[test]
fn trace_context_takes_the_nearest_span_the_bridge_sees() {
    use tracing_subscriber::prelude::*;
    let compose = |layer: otel_log_bridge::BridgeLayer| {
        tracing_subscriber::registry()
            .with(WantsEverySpan)
            .with(layer.with_filter(tracing_subscriber::filter::LevelFilter::INFO))
            .into()
    };
    let mut contexts = Vec::new();
    let records = in_composed_subscriber(compose, || {
        let outer = tracing::info_span!("outer");
        let _outer = outer.enter();
        tracing::info!("in outer");
        let inner = tracing::debug_span!("inner");
        contexts.push(otel_log_bridge::trace_context(&inner));
        contexts.push(otel_log_bridge::trace_context(&outer));
    });
    let outer = contexts[1].expect("outer is tracked");
    assert_eq!(
        contexts[0],
        Some(outer),
        "the hidden span gives its parent's"
    );
    let span_id: String = outer.span_id().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(ids(&records[0]).1, Some(span_id.as_str()));
    let without_bridge = tracing::subscriber::with_default(tracing_subscriber::registry(), || {
        otel_log_bridge::trace_context(&tracing::info_span!("no bridge"))
    });
    assert_eq!(without_bridge, None);
}

/// Counts the events a layer is given.
struct CountsEvents(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for CountsEvents {
    fn on_event(&self, _: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Regression: the `log` bridge asks the subscriber whether it wants a
/// record, and per-layer filters keep their answers for the thread's next
/// event, which was to consume them. A `log` record filtered out for
/// another layer then hid the next `tracing` event from that layer, and
/// one filtered out for the bridge's own layer hid the next event from it.
#[test]
fn a_log_record_filtered_out_for_a_layer_does_not_hide_the_next_event_from_it() {
    use tracing_subscriber::filter::LevelFilter;
    use tracing_subscriber::prelude::*;
    // Another layer, filtered at WARN.
    let counted = std::sync::Arc::default();
    let counter = CountsEvents(std::sync::Arc::clone(&counted));
    let compose = |layer: otel_log_bridge::BridgeLayer| {
        tracing_subscriber::registry()
            .with(counter.with_filter(LevelFilter::WARN))
            .with(layer)
            .into()
    };
    let records = in_composed_subscriber(compose, || {
        log::info!("not for the warn layer");
        tracing::error!("for both");
    });
    assert_eq!(counted.load(std::sync::atomic::Ordering::Relaxed), 1);
    assert_eq!(records.len(), 2);
    // The bridge's own layer, filtered at INFO.
    let compose = |layer: otel_log_bridge::BridgeLayer| {
        tracing_subscriber::registry()
            .with(WantsEverySpan)
            .with(layer.with_filter(LevelFilter::INFO))
            .into()
    };
    let records = in_composed_subscriber(compose, || {
        log::debug!("below the bridge's filter");
        tracing::info!("exported");
    });
    let bodies: Vec<_> = records.iter().map(|r| r["body"].clone()).collect();
    assert!(
        bodies.contains(&serde_json::json!("exported")),
        "{bodies:?}"
    );
}

/// Regression: the trace context of a span was resolved by recursing into
/// its parent's, once per ancestor not resolved yet, so the first record
/// in the innermost of a long chain of open spans overflowed the stack.
#[test]
fn the_first_record_under_a_deep_chain_of_spans_resolves_it_without_recursing() {
    const DEPTH: usize = 20_000;
    let records = capture(otel_log_bridge::builder(), || {
        let dispatch = tracing::dispatcher::get_default(tracing::Dispatch::clone);
        // A small stack, which one frame per ancestor would overflow many
        // times over.
        let chain = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    let mut spans = vec![tracing::info_span!("level")];
                    for _ in 1..DEPTH {
                        let parent = spans.last().and_then(tracing::Span::id);
                        spans.push(tracing::info_span!(parent: parent, "level"));
                    }
                    let innermost = spans.last().and_then(tracing::Span::id);
                    tracing::info!(parent: innermost, "innermost");
                    tracing::info!(parent: &spans[0], "outermost");
                    // Closed innermost first: closing the outermost span
                    // last of all would close the whole chain at once, by
                    // recursion in the registry.
                    while spans.pop().is_some() {}
                });
            })
            .expect("thread started");
        chain.join().expect("no overflow");
    });
    assert_eq!(records.len(), 2);
    let (innermost, outermost) = (ids(&records[0]), ids(&records[1]));
    assert!(innermost.0.is_some());
    assert_eq!(innermost.0, outermost.0, "one trace");
    assert_ne!(innermost.1, outermost.1);
}

/// Regression: a span that every bridge layer's filter hides kept no trace
/// context of its own, so each span under it that asked drew a new root
/// trace, and one request was split into as many traces as it had
/// children.
#[test]
fn spans_under_a_root_hidden_from_the_bridge_share_its_trace() {
    use tracing_subscriber::filter::filter_fn;
    use tracing_subscriber::prelude::*;
    let compose = |layer: otel_log_bridge::BridgeLayer| {
        tracing_subscriber::registry()
            .with(WantsEverySpan)
            .with(layer.with_filter(filter_fn(|metadata| metadata.target() == "app")))
            .into()
    };
    let records = in_composed_subscriber(compose, || {
        let request = tracing::info_span!(target: "http", "request");
        let _request = request.enter();
        let middle = tracing::info_span!(target: "http", "middleware");
        let _middle = middle.enter();
        tracing::info_span!(target: "app", "a").in_scope(|| tracing::info!(target: "app", "one"));
        tracing::info_span!(target: "app", "b").in_scope(|| tracing::info!(target: "app", "two"));
    });
    assert_eq!(records.len(), 2);
    let (first, second) = (ids(&records[0]), ids(&records[1]));
    assert!(first.0.is_some(), "{records:?}");
    assert_eq!(first.0, second.0, "one trace: {records:?}");
    assert_ne!(first.1, second.1, "two spans: {records:?}");
}

/// A registry where the bridge's own filter hides the spans and events of
/// target `hidden`, which another layer still wants.
fn hiding_target_hidden(layer: otel_log_bridge::BridgeLayer) -> tracing::Dispatch {
    use tracing_subscriber::filter::filter_fn;
    use tracing_subscriber::prelude::*;
    tracing_subscriber::registry()
        .with(WantsEverySpan)
        .with(layer.with_filter(filter_fn(|metadata| metadata.target() != "hidden")))
        .into()
}

/// Regression: an event whose explicit parent the bridge layer's filter
/// hides got no span context (or an unrelated OpenTelemetry one); it now
/// takes the nearest span the bridge sees, as an event in that span does.
#[test]
fn an_explicit_parent_hidden_from_the_bridge_gives_the_nearest_span_it_sees() {
    let records = in_composed_subscriber(hiding_target_hidden, || {
        let outer = tracing::info_span!("outer", k = 1);
        let _outer = outer.enter();
        let hidden = tracing::info_span!(target: "hidden", "hidden");
        hidden.in_scope(|| tracing::info!("contextual"));
        tracing::info!(parent: &hidden, "explicit");
    });
    assert_eq!(records.len(), 2);
    assert!(ids(&records[0]).1.is_some(), "{records:?}");
    assert_eq!(ids(&records[0]), ids(&records[1]), "{records:?}");
    assert_eq!(records[1]["attributes"]["k"], 1, "{records:?}");
}

/// Regression: an event whose explicit parent the bridge's filter hides,
/// with no span around it the bridge sees, took the trace of the span
/// current where it was logged, a request it had nothing to do with.
#[test]
fn an_explicit_parent_hidden_with_all_its_ancestors_keeps_its_own_trace() {
    let records = in_composed_subscriber(hiding_target_hidden, || {
        let job = tracing::info_span!(target: "hidden", parent: None, "background job");
        let request = tracing::info_span!("request");
        let _request = request.enter();
        tracing::info!("in the request");
        tracing::info!(parent: &job, "for the job");
        tracing::info!(parent: &job, "for the job again");
    });
    assert_eq!(records.len(), 3);
    let (request, job, again) = (ids(&records[0]), ids(&records[1]), ids(&records[2]));
    assert!(job.0.is_some(), "{records:?}");
    assert_ne!(job.0, request.0, "{records:?}");
    assert_eq!(job, again, "one trace for the hidden span: {records:?}");
}

/// Regression: the `log` bridge took the dispatcher's answer, which with
/// per-layer filters is `true` whenever any layer may want the record (a
/// registry with fewer than 64 filters says so for every question), so
/// every `log` record was exported whatever the bridge layer's own filter
/// said. Only a record the bridge's layer is asked about gets through.
#[test]
fn a_log_record_the_bridge_layers_own_filter_refuses_is_not_exported() {
    use tracing_subscriber::filter::{filter_fn, LevelFilter};
    use tracing_subscriber::prelude::*;
    let scenario = || {
        log::debug!("below the bridge's level");
        log::info!(target: "elsewhere", "outside the bridge's targets");
        log::info!("taken");
        tracing::info!("an event");
    };
    let only_the_bridge = |layer: otel_log_bridge::BridgeLayer| {
        tracing_subscriber::registry()
            .with(
                layer
                    .with_filter(LevelFilter::INFO)
                    .with_filter(filter_fn(|metadata| metadata.target() != "elsewhere")),
            )
            .into()
    };
    let beside_a_layer_that_wants_everything = |layer: otel_log_bridge::BridgeLayer| {
        tracing_subscriber::registry()
            .with(WantsEverySpan)
            .with(
                layer
                    .with_filter(LevelFilter::INFO)
                    .with_filter(filter_fn(|metadata| metadata.target() != "elsewhere")),
            )
            .into()
    };
    for compose in [only_the_bridge, beside_a_layer_that_wants_everything] {
        let records = in_composed_subscriber(compose, scenario);
        let bodies: Vec<_> = records.iter().map(|r| r["body"].clone()).collect();
        assert_eq!(bodies, ["taken", "an event"]);
    }
    // A global filter answers for the bridge as before.
    let globally_filtered = |layer: otel_log_bridge::BridgeLayer| {
        tracing_subscriber::registry()
            .with(LevelFilter::INFO)
            .with(layer)
            .into()
    };
    let records = in_composed_subscriber(globally_filtered, scenario);
    let bodies: Vec<_> = records.iter().map(|r| r["body"].clone()).collect();
    assert_eq!(
        bodies,
        ["outside the bridge's targets", "taken", "an event"]
    );
}

#[cfg(feature = "tracing-opentelemetry")]
mod with_tracing_opentelemetry {
    use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    use tracing_subscriber::prelude::*;

    use crate::support::SharedBuf;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn records_carry_the_otel_span_ids_also_for_an_explicit_parent() {
        let provider = SdkTracerProvider::builder().build();
        let out = SharedBuf::default();
        let (layer, guard) = otel_log_bridge::builder()
            .with_json_writer(out.clone())
            .layer()
            .expect("valid");
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")))
            .with(layer);
        let mut expected = Vec::new();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("request");
            span.in_scope(|| tracing::info!("contextual"));
            let detached = tracing::info_span!(parent: None, "not entered");
            tracing::info!(parent: &detached, "explicit parent");
            for span in [&span, &detached] {
                let cx = span.context();
                let otel_span = cx.span();
                let sc = otel_span.span_context();
                expected.push((
                    hex(&sc.trace_id().to_bytes()),
                    hex(&sc.span_id().to_bytes()),
                    sc.is_sampled(),
                ));
            }
        });
        drop(guard);
        let records = out.lines();
        assert_eq!(records.len(), 2);
        for (record, (trace_id, span_id, sampled)) in records.iter().zip(&expected) {
            assert_eq!(record["trace_id"], trace_id.as_str());
            assert_eq!(record["span_id"], span_id.as_str());
            assert!(*sampled);
            assert_eq!(record["trace_flags"], "01");
        }
        assert_ne!(expected[0].0, expected[1].0);
    }

    /// Regression: `tracing-opentelemetry` makes an entered span's context
    /// the current OpenTelemetry context, and an event given
    /// `parent: None` took its trace from there.
    #[test]
    fn an_event_without_a_parent_carries_no_trace_inside_a_span() {
        // One sink takes the direct path; a second sink the record path.
        for record_path in [false, true] {
            let provider = SdkTracerProvider::builder().build();
            let out = SharedBuf::default();
            let mut builder = otel_log_bridge::builder().with_json_writer(out.clone());
            if record_path {
                builder = builder.with_console_writer(std::io::sink());
            }
            let (layer, guard) = builder.layer().expect("valid");
            let subscriber = tracing_subscriber::registry()
                .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")))
                .with(layer);
            tracing::subscriber::with_default(subscriber, || {
                tracing::info_span!("request").in_scope(|| {
                    tracing::info!("contextual");
                    tracing::info!(parent: None, "detached");
                });
            });
            drop(guard);
            let records = out.lines();
            assert_eq!(records.len(), 2, "record path: {record_path}");
            assert!(
                records[0].get("trace_id").is_some(),
                "record path: {record_path}"
            );
            assert_eq!(
                records[1].get("trace_id"),
                None,
                "record path: {record_path}"
            );
        }
    }
}

/// Regression: without a `tracing-opentelemetry` layer, a `tracing` span
/// made inside a span the application started through the OpenTelemetry
/// API drew a trace of its own, though records outside `tracing` spans
/// took the API span's.
#[cfg(feature = "tracing-opentelemetry")]
#[test]
fn a_span_made_in_an_api_spans_scope_continues_its_trace() {
    use opentelemetry::trace::{TraceContextExt as _, Tracer as _, TracerProvider as _};

    let tracers = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let mut api = None;
    let records = capture(otel_log_bridge::builder(), || {
        api = Some(tracers.tracer("api").in_span("api", |cx| {
            tracing::info_span!("inner").in_scope(|| tracing::info!("in a tracing span"));
            tracing::info_span!(parent: None, "detached")
                .in_scope(|| tracing::info!("in a root of its own"));
            cx.span().span_context().clone()
        }));
    });
    let api = api.expect("the API span ran");
    let (inner, detached) = (ids(&records[0]), ids(&records[1]));
    assert_eq!(inner.0, Some(api.trace_id().to_string().as_str()));
    assert_ne!(inner.1, Some(api.span_id().to_string().as_str()));
    assert!(detached.0.is_some());
    assert_ne!(detached.0, inner.0, "parent: None starts a trace");
}

/// Regression: a `log` record of OpenTelemetry's own targets (which
/// `tracing` forwards to `log` with its `log-always` feature) read the
/// context of OpenTelemetry's API outside any span, as `tracing` events of
/// those targets do not: OpenTelemetry logs some while it holds that
/// context borrowed, and reading it then panics.
#[cfg(feature = "tracing-opentelemetry")]
#[test]
fn opentelemetrys_own_records_do_not_read_its_api_context_on_either_path() {
    use opentelemetry::trace::{Tracer as _, TracerProvider as _};

    let tracers = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let records = capture(otel_log_bridge::builder(), || {
        tracers.tracer("api").in_span("api", |_| {
            log::warn!(target: "opentelemetry_sdk", "its own");
            tracing::warn!(target: "opentelemetry_sdk", "its own");
            log::warn!(target: "app", "the application's");
            tracing::warn!(target: "app", "the application's");
        });
    });
    assert_eq!(records.len(), 4, "{records:?}");
    for record in &records[..2] {
        assert_eq!(ids(record), (None, None), "{record}");
    }
    for record in &records[2..] {
        assert!(ids(record).0.is_some(), "{record}");
    }
}
