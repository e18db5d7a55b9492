//! The per-event path allocates (almost) never once warmed up: the record
//! is reused per thread and the encoded bytes go into a reused buffer.

use tracing_subscriber::prelude::*;

use crate::support::alloc::allocations_during;
use crate::support::SharedBuf;

const WARM_UP: u64 = 10_000;
const EVENTS: u64 = 100_000;
/// The bound the performance targets set: at most one allocation every
/// five events, amortised.
const MAX_PER_EVENT: f64 = 0.2;

#[inline(never)]
fn request_handled(user_id: i64, path: &str, status: u16, latency_ms: f64) {
    tracing::info!(
        user.id = user_id,
        path,
        status,
        latency_ms,
        "request handled"
    );
}

fn allocations_per_event(builder: otel_log_bridge::Builder) -> f64 {
    let (layer, guard) = builder.layer().expect("valid configuration");
    let subscriber = tracing_subscriber::registry().with(layer);
    let allocations = tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("request", http.route = "/users/{id}", tenant = "acme");
        let _entered = span.enter();
        for i in 0..WARM_UP as i64 {
            request_handled(i, "/api/users", 200, 3.25);
        }
        allocations_during(|| {
            for i in 0..EVENTS as i64 {
                request_handled(i, "/api/users", 200, 3.25);
            }
        })
    });
    let stats = guard.shutdown();
    assert_eq!(stats.emitted, WARM_UP + EVENTS);
    allocations as f64 / EVENTS as f64
}

#[test]
fn json_lines_allocate_at_most_once_every_five_events() {
    let per_event =
        allocations_per_event(otel_log_bridge::builder().with_json_writer(SharedBuf::default()));
    assert!(
        per_event <= MAX_PER_EVENT,
        "{per_event} allocations per event"
    );
}

#[cfg(feature = "grpc")]
#[test]
fn otlp_export_in_a_span_allocates_at_most_once_every_five_events() {
    let receiver = crate::support::receiver::Receiver::http();
    let per_event = allocations_per_event(
        otel_log_bridge::builder().with_otlp_endpoint(format!("{}/v1/logs", receiver.endpoint())),
    );
    assert!(
        per_event <= MAX_PER_EVENT,
        "{per_event} allocations per event"
    );
}

#[test]
fn the_counting_allocator_sees_this_threads_allocations() {
    let counted = allocations_during(|| {
        std::hint::black_box(Vec::<u8>::with_capacity(10));
    });
    assert_eq!(counted, 1);
}
