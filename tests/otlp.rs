//! OTLP export against the in-process receiver: the same records as the
//! JSON lines, over every protocol, and the delivery rules under faults.

use std::time::{Duration, UNIX_EPOCH};

use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::AnyValue;
use otel_log_bridge::{Builder, Compression, Exporter, Protocol as ExportProtocol, Stats};
use serde_json::Value;
use tracing_subscriber::prelude::*;

use crate::support::raw_grpc::{RawAnswer, RawGrpcServer};
use crate::support::receiver::{tls_fixture, Protocol, ReceivedRecord, Receiver, Response};
use crate::support::SharedBuf;

const PATIENCE: Duration = Duration::from_secs(30);

fn exporter_protocol(protocol: Protocol) -> ExportProtocol {
    match protocol {
        Protocol::HttpProtobuf => ExportProtocol::HttpProtobuf,
        Protocol::HttpJson => ExportProtocol::HttpJson,
        Protocol::Grpc => ExportProtocol::Grpc,
    }
}

/// A builder exporting to `receiver` with `protocol`.
fn to_receiver(receiver: &Receiver, protocol: Protocol) -> Builder {
    let endpoint = match protocol {
        Protocol::Grpc => receiver.endpoint(),
        _ => format!("{}/v1/logs", receiver.endpoint()),
    };
    otel_log_bridge::builder()
        .with_service_name("otlp-test")
        .with_otlp_endpoint(endpoint)
        .with_otlp_protocol(exporter_protocol(protocol))
}

/// A pipeline exporting over gRPC to `server`.
fn to_raw_server(server: &RawGrpcServer) -> Builder {
    otel_log_bridge::builder()
        .with_otlp_endpoint(server.endpoint())
        .with_otlp_protocol(ExportProtocol::Grpc)
}

/// Runs `scenario` under a layer built from `builder`, then shuts the
/// pipeline down and returns its final counters.
fn run(builder: Builder, scenario: impl FnOnce()) -> Stats {
    let (layer, guard) = builder.layer().expect("valid configuration");
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), scenario);
    guard.shutdown()
}

fn scenario() {
    let span = tracing::info_span!("request", http.route = "/orders/{id}", tenant = "acme");
    let _entered = span.enter();
    tracing::info!(name: "order.placed", order_number = 42, total = 12.5, paid = true, note = "fast", "order placed");
    tracing::warn!(bytes = &b"\x01\x02"[..], big = u64::MAX, "odd values");
    tracing::error!(
        error = &std::io::Error::other("disk full") as &dyn std::error::Error,
        "failed"
    );
    tracing::info!(target: "other::scope", "another scope");
}

fn nanos(rfc3339: &Value) -> u64 {
    let time =
        humantime::parse_rfc3339(rfc3339.as_str().expect("timestamp string")).expect("RFC 3339");
    time.duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_nanos() as u64
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn json_of(value: &Option<AnyValue>) -> Value {
    match value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(Any::StringValue(s)) => Value::from(s.as_str()),
        Some(Any::IntValue(i)) => Value::from(*i),
        Some(Any::DoubleValue(f)) => Value::from(*f),
        Some(Any::BoolValue(b)) => Value::from(*b),
        Some(Any::BytesValue(b)) => {
            use base64::Engine as _;
            Value::from(base64::engine::general_purpose::STANDARD.encode(b))
        }
        None => Value::Null,
        other => panic!("unexpected value {other:?}"),
    }
}

/// Compares one received OTLP record with the JSON line of the same event.
fn assert_same_record(received: &ReceivedRecord, json: &Value) {
    let record = &received.record;
    assert_eq!(record.time_unix_nano, nanos(&json["timestamp"]));
    assert_eq!(
        record.observed_time_unix_nano,
        nanos(&json["observed_timestamp"])
    );
    assert_eq!(Value::from(record.severity_number), json["severity_number"]);
    assert_eq!(
        Value::from(record.severity_text.as_str()),
        json["severity_text"]
    );
    assert_eq!(json_of(&record.body), json["body"]);
    let attributes: serde_json::Map<String, Value> = record
        .attributes
        .iter()
        .map(|kv| (kv.key.clone(), json_of(&kv.value)))
        .collect();
    assert_eq!(attributes.len(), record.attributes.len(), "a key twice");
    assert_eq!(Value::Object(attributes), json["attributes"]);
    assert_eq!(record.dropped_attributes_count, 0);
    let resource: serde_json::Map<String, Value> = received
        .resource
        .as_ref()
        .expect("resource")
        .attributes
        .iter()
        .map(|kv| (kv.key.clone(), json_of(&kv.value)))
        .collect();
    assert_eq!(Value::Object(resource), json["resource"]);
    assert_eq!(
        received.resource.as_ref().unwrap().dropped_attributes_count,
        0
    );
    let scope = received.scope.as_ref().expect("scope");
    assert_eq!(Value::from(scope.name.as_str()), json["scope"]["name"]);
    let version = (!scope.version.is_empty()).then(|| Value::from(scope.version.as_str()));
    assert_eq!(version.unwrap_or(Value::Null), json["scope"]["version"]);
    assert!(scope.attributes.is_empty(), "{:?}", scope.attributes);
    assert_eq!(Value::from(hex(&record.trace_id)), json["trace_id"]);
    assert_eq!(Value::from(hex(&record.span_id)), json["span_id"]);
    // Every bit of `flags`: the bits above the trace flags are reserved
    // and must be zero.
    assert_eq!(
        Value::from(format!("{:02x}", record.flags)),
        json["trace_flags"]
    );
    let event_name =
        (!record.event_name.is_empty()).then(|| Value::from(record.event_name.as_str()));
    assert_eq!(event_name.unwrap_or(Value::Null), json["event_name"]);
}

/// The values of [`scenario`] that a JSON line cannot tell apart from
/// others (bytes from their base64 text, an integer beyond `i64` from a
/// string), checked in their OTLP types.
fn assert_scenario_values(received: &[ReceivedRecord]) {
    let attribute = |body: &str, key: &str| -> Option<Any> {
        let record = received
            .iter()
            .find(|r| json_of(&r.record.body) == body)
            .unwrap_or_else(|| panic!("no record {body:?}"));
        let value = record.record.attributes.iter().find(|kv| kv.key == key);
        value.and_then(|kv| kv.value.clone()?.value)
    };
    assert_eq!(
        attribute("order placed", "order_number"),
        Some(Any::IntValue(42))
    );
    assert_eq!(
        attribute("order placed", "total"),
        Some(Any::DoubleValue(12.5))
    );
    assert_eq!(
        attribute("order placed", "paid"),
        Some(Any::BoolValue(true))
    );
    assert_eq!(
        attribute("order placed", "note"),
        Some(Any::StringValue("fast".into()))
    );
    assert_eq!(
        attribute("odd values", "bytes"),
        Some(Any::BytesValue(vec![1, 2]))
    );
    assert_eq!(
        attribute("odd values", "big"),
        Some(Any::StringValue(u64::MAX.to_string()))
    );
    assert_eq!(
        attribute("failed", "exception.message"),
        Some(Any::StringValue("disk full".into()))
    );
    assert_eq!(attribute("failed", "error"), None);
}

fn same_records_as_json_lines(protocol: Protocol, compression: Compression) {
    let receiver = Receiver::for_protocol(protocol);
    let out = SharedBuf::default();
    let builder = to_receiver(&receiver, protocol)
        .with_otlp_compression(compression)
        .with_exporters([Exporter::Otlp, Exporter::Json])
        .with_json_writer(out.clone());
    let stats = run(builder, scenario);
    let lines = out.lines();
    assert_eq!(lines.len(), 4);
    assert_eq!(
        (stats.exported, stats.failed, stats.dropped),
        (8, 0, 0),
        "{stats:?}"
    );
    let received = receiver.records();
    assert_eq!(received.len(), 4);
    // Requests group records by scope, so match them up by body: two
    // records may have the same time.
    for json in &lines {
        let same_body: Vec<_> = received
            .iter()
            .filter(|r| json_of(&r.record.body) == json["body"])
            .collect();
        assert_eq!(same_body.len(), 1, "{json}");
        assert_same_record(same_body[0], json);
    }
    assert_scenario_values(&received);
    assert!(receiver
        .content_types()
        .iter()
        .all(|ct| ct.starts_with(protocol.content_type())));
    let expected_encoding = (compression == Compression::Gzip).then(|| "gzip".to_owned());
    assert!(receiver
        .content_encodings()
        .iter()
        .all(|e| *e == expected_encoding));
}

#[test]
fn http_protobuf_records_equal_the_json_lines() {
    same_records_as_json_lines(Protocol::HttpProtobuf, Compression::None);
}

#[test]
fn http_protobuf_gzip_records_equal_the_json_lines() {
    same_records_as_json_lines(Protocol::HttpProtobuf, Compression::Gzip);
}

#[test]
fn http_json_records_equal_the_json_lines() {
    same_records_as_json_lines(Protocol::HttpJson, Compression::Gzip);
}

#[test]
fn grpc_records_equal_the_json_lines() {
    same_records_as_json_lines(Protocol::Grpc, Compression::Gzip);
}

#[test]
fn tls_files_are_not_read_for_a_plain_http_collector() {
    // A certificate variable left over from another environment (or set
    // for another signal's exporter) serves secure connections only; it
    // must not stop export over `http://`.
    if crate::support::is_child() {
        let (layer, guard) = otel_log_bridge::builder()
            .with_json_writer(std::io::sink())
            .with_exporters([Exporter::Otlp])
            .layer()
            .expect("a warning, not an error");
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), ten_events);
        let stats = guard.shutdown();
        assert_eq!((stats.exported, stats.failed), (10, 0));
        return;
    }
    let receiver = Receiver::http();
    let output = crate::support::run_child(
        "otlp::tls_files_are_not_read_for_a_plain_http_collector",
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver.endpoint()),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/nonexistent/ca.pem"),
            (
                "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
                "/nonexistent/client.pem",
            ),
            ("OTEL_EXPORTER_OTLP_CLIENT_KEY", "/nonexistent/client.key"),
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("OTEL_EXPORTER_OTLP_CERTIFICATE is set, but the endpoint"),
        "{stderr}"
    );
    assert_eq!(receiver.records().len(), 10);
    // Given in code, the files ask for TLS the endpoint does not have.
    let error = to_receiver(&receiver, Protocol::HttpProtobuf)
        .with_otlp_certificate("/nonexistent/ca.pem")
        .layer()
        .err()
        .map(|error| error.to_string());
    assert!(
        error
            .as_deref()
            .is_some_and(|error| error.contains("the logs are sent unencrypted")),
        "{error:?}"
    );
}

fn ten_events() {
    for i in 0..10 {
        tracing::info!(i, "event");
    }
}

#[test]
fn a_collector_that_is_down_at_first_loses_nothing() {
    for protocol in [Protocol::HttpProtobuf, Protocol::Grpc] {
        let receiver = match protocol {
            Protocol::Grpc => Receiver::grpc_later(Duration::from_secs(2)),
            _ => Receiver::http_later(Duration::from_secs(2)),
        };
        let builder = to_receiver(&receiver, protocol).with_shutdown_timeout(PATIENCE);
        let stats = run(builder, || {
            for i in 0..1000 {
                tracing::info!(i, "while the collector is down");
            }
        });
        assert_eq!(
            (stats.exported, stats.failed, stats.dropped),
            (1000, 0, 0),
            "{protocol:?} {stats:?}"
        );
        assert!(stats.retries > 0, "{stats:?}");
        assert_eq!(receiver.records().len(), 1000);
    }
}

/// A collector that leaves the first request unanswered for a minute (and
/// answers the ones after it), and a pipeline exporting to it with these
/// timeouts.
fn hung_collector(
    protocol: Protocol,
    otlp_timeout: Duration,
    shutdown_timeout: Duration,
) -> (Receiver, Builder) {
    let receiver = Receiver::for_protocol(protocol);
    receiver.respond_with([Response::Stall(Duration::from_secs(60))]);
    let builder = to_receiver(&receiver, protocol)
        .with_otlp_timeout(otlp_timeout)
        .with_shutdown_timeout(shutdown_timeout);
    (receiver, builder)
}

#[test]
fn a_collector_that_never_answers_is_timed_out_and_retried() {
    for protocol in [Protocol::HttpProtobuf, Protocol::Grpc] {
        // Long enough that the answered retry never times out on a busy
        // machine (a second attempt would deliver its records twice).
        let (receiver, builder) = hung_collector(protocol, Duration::from_secs(2), PATIENCE);
        let stats = run(builder, ten_events);
        assert_eq!(
            (stats.exported, stats.failed, stats.dropped),
            (10, 0, 0),
            "{protocol:?} {stats:?}"
        );
        assert!(stats.retries >= 1, "{protocol:?} {stats:?}");
        assert!(receiver.attempts() >= 2, "{protocol:?}");
        assert_eq!(receiver.records().len(), 10, "{protocol:?}");
    }
}

/// The child side of
/// `a_collector_that_keeps_refusing_is_reported_while_export_is_retried`:
/// one record, kept until its batch has failed four times.
fn log_until_retried_four_times() {
    let guard = otel_log_bridge::builder()
        .with_shutdown_timeout(Duration::from_millis(200))
        .init();
    tracing::info!("never delivered");
    let deadline = std::time::Instant::now() + PATIENCE;
    while guard.stats().retries < 4 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let stats = guard.shutdown();
    assert!(stats.retries >= 4, "{stats:?}");
}

/// Runs `test` in a child process whose environment points OTLP export
/// at `receiver` over `protocol`; checks that it succeeded and returns what
/// it wrote on stderr.
fn child_stderr(test: &str, receiver: &Receiver, protocol: Protocol) -> String {
    let output = crate::support::run_child(
        test,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver.endpoint()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol.env_value()),
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{protocol:?}: {stderr}");
    stderr
}

/// Regression: the first failure said was the only one ever said: a
/// request refused for what it held hid a refusal of every request that
/// began later (an expired token).
#[test]
fn a_failure_with_another_cause_is_reported_after_the_first() {
    if crate::support::is_child() {
        let guard = otel_log_bridge::builder()
            .with_shutdown_timeout(PATIENCE)
            .init();
        tracing::info!("refused as malformed");
        let _ = guard.flush();
        tracing::info!("refused for its credentials");
        let stats = guard.shutdown();
        assert_eq!(stats.failed, 2, "{stats:?}");
        return;
    }
    let receiver = Receiver::http();
    receiver.respond_with([
        Response::Status {
            code: 400,
            retry_after: None,
        },
        Response::Status {
            code: 401,
            retry_after: None,
        },
    ]);
    let stderr = child_stderr(
        "otlp::a_failure_with_another_cause_is_reported_after_the_first",
        &receiver,
        Protocol::HttpProtobuf,
    );
    assert!(stderr.contains("not retryable: HTTP 400"), "{stderr}");
    assert!(stderr.contains("not retryable: HTTP 401"), "{stderr}");
}

#[test]
fn a_collector_that_keeps_refusing_is_reported_while_export_is_retried() {
    if crate::support::is_child() {
        log_until_retried_four_times();
        return;
    }
    for protocol in [Protocol::HttpProtobuf, Protocol::Grpc] {
        // Listens only long after the test is over: connections are
        // refused.
        let receiver = match protocol {
            Protocol::Grpc => Receiver::grpc_later(Duration::from_secs(3600)),
            _ => Receiver::http_later(Duration::from_secs(3600)),
        };
        let stderr = child_stderr(
            "otlp::a_collector_that_keeps_refusing_is_reported_while_export_is_retried",
            &receiver,
            protocol,
        );
        // Said while retrying, before shutdown gives up, with the cause.
        let lines: Vec<&str> = stderr.lines().collect();
        let retrying = lines.iter().position(|line| {
            line.contains("OTLP export failed 4 times in a row and is being retried")
        });
        let gave_up = lines
            .iter()
            .position(|line| line.contains("gave up exporting 1 records at shutdown"));
        assert!(
            matches!((retrying, gave_up), (Some(r), Some(g)) if r < g),
            "{protocol:?}: {stderr}"
        );
        let warning = retrying
            .and_then(|at| lines.get(at))
            .copied()
            .unwrap_or_default();
        assert!(
            warning.contains("Connection refused"),
            "{protocol:?}: {warning}"
        );
    }
}

/// Regression: drops were reported only when a worker cycle ended, and a
/// cycle retrying a batch for a collector that is down does not end until
/// it is back: the queue overflowed in silence for the whole outage.
#[test]
fn records_dropped_during_an_outage_are_reported_while_it_lasts() {
    if crate::support::is_child() {
        let guard = otel_log_bridge::builder()
            .with_queue_budget(32 * 1024)
            .with_shutdown_timeout(Duration::from_millis(200))
            .init();
        for i in 0..2000_u64 {
            tracing::info!(i, "more than the queue holds");
        }
        let deadline = std::time::Instant::now() + PATIENCE;
        while guard.stats().retries < 2 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let stats = guard.shutdown();
        assert!(stats.dropped > 0 && stats.retries >= 2, "{stats:?}");
        return;
    }
    let receiver = Receiver::http_later(Duration::from_secs(3600));
    let output = crate::support::run_child(
        "otlp::records_dropped_during_an_outage_are_reported_while_it_lasts",
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver.endpoint())],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    let dropping = lines
        .iter()
        .position(|line| line.contains("queue is full or closed"));
    let gave_up = lines
        .iter()
        .position(|line| line.contains("gave up exporting"));
    assert!(
        matches!((dropping, gave_up), (Some(d), Some(g)) if d < g),
        "{stderr}"
    );
}

#[test]
fn a_request_the_collector_drops_without_an_answer_is_retried() {
    for protocol in [Protocol::HttpProtobuf, Protocol::Grpc] {
        let receiver = Receiver::for_protocol(protocol);
        receiver.respond_with([Response::Disconnect]);
        let builder = to_receiver(&receiver, protocol).with_shutdown_timeout(PATIENCE);
        let stats = run(builder, ten_events);
        assert_eq!(
            (stats.exported, stats.failed, stats.dropped),
            (10, 0, 0),
            "{protocol:?} {stats:?}"
        );
        assert_eq!(receiver.records().len(), 10, "{protocol:?}");
    }
}

#[test]
fn records_in_flight_to_a_hung_collector_at_shutdown_count_as_queued() {
    for protocol in [Protocol::HttpProtobuf, Protocol::Grpc] {
        // The shutdown stops waiting long before the request times out.
        let (receiver, builder) = hung_collector(
            protocol,
            Duration::from_secs(30),
            Duration::from_millis(500),
        );
        let (layer, guard) = builder.layer().expect("valid configuration");
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), ten_events);
        assert!(receiver.wait_for_attempts(1, PATIENCE), "{protocol:?}");
        let stats = guard.shutdown();
        assert_eq!(
            (stats.emitted, stats.exported, stats.failed, stats.dropped),
            (10, 0, 0, 0),
            "{protocol:?} {stats:?}"
        );
        assert!(stats.queued_bytes > 0, "{protocol:?} {stats:?}");
    }
}

/// Regression: a shutdown that stopped waiting for an output (its
/// collector held the request past the shutdown timeout) said nothing: a
/// program ending as usual, with `let _guard = init()`, lost the records
/// on their way without a word.
#[test]
fn an_output_that_does_not_finish_by_the_shutdown_timeout_is_reported() {
    const TEST: &str = "otlp::an_output_that_does_not_finish_by_the_shutdown_timeout_is_reported";
    if crate::support::is_child() {
        let guard = otel_log_bridge::builder()
            .with_otlp_timeout(Duration::from_secs(30))
            .with_shutdown_timeout(Duration::from_millis(300))
            .init();
        ten_events();
        // Times out: the collector holds the request.
        assert!(guard.flush().is_err());
        drop(guard);
        return;
    }
    for protocol in [Protocol::HttpProtobuf, Protocol::Grpc] {
        let receiver = Receiver::for_protocol(protocol);
        receiver.respond_with([Response::Stall(Duration::from_secs(60))]);
        let stderr = child_stderr(TEST, &receiver, protocol);
        assert!(
            stderr.contains(
                "at shutdown, the otlp output did not finish within the shutdown timeout of 300ms"
            ),
            "{protocol:?}: {stderr}"
        );
    }
}

/// Regression: a worker that had just found records started a new cycle
/// every millisecond, so under a steady trickle each request carried a
/// millisecond's worth of records instead of a batch that fills up to the
/// batch size or the schedule delay (1 s by default).
#[test]
fn a_steady_trickle_of_records_is_batched() {
    let receiver = Receiver::http();
    // A schedule delay no trickle outlasts, however slow the machine: the
    // only request for the trickle is then the flush's.
    let builder = to_receiver(&receiver, Protocol::HttpProtobuf)
        .with_otlp_schedule_delay(Duration::from_secs(3600))
        .with_shutdown_timeout(PATIENCE);
    let (layer, guard) = builder.layer().expect("valid configuration");
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        tracing::info!("first");
        // The worker has found records: it is in its busy state now.
        guard.flush().expect("flushed");
        assert_eq!(receiver.requests().len(), 1);
        // More than one record per millisecond, for a few dozen
        // milliseconds: far below the batch size and the schedule delay.
        for i in 0..200 {
            std::thread::sleep(Duration::from_micros(200));
            tracing::info!(i, "trickle");
        }
        guard.flush().expect("flushed");
    });
    // The regression sent one request per record.
    assert_eq!(receiver.requests().len() - 1, 1);
    assert_eq!(receiver.records().len(), 201);
    let _ = guard.shutdown();
}

/// Regression: a non-finite float inside a newtype (`log`'s `:serde`) was
/// exported as a string, where the same float as a plain value is a double;
/// a text that reads `NaN` stays a string.
#[test]
fn a_non_finite_float_in_a_newtype_is_a_double() {
    #[derive(serde::Serialize)]
    struct Ratio(f64);
    let receiver = Receiver::http();
    let (layer, guard) = to_receiver(&receiver, Protocol::HttpProtobuf)
        .layer()
        .expect("valid configuration");
    let bridge = layer.log_bridge();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        crate::support::with_log_target(bridge, || {
            log::info!(
                plain = f64::NAN,
                wrapped:serde = Ratio(f64::NAN),
                falling:serde = Ratio(f64::NEG_INFINITY),
                text:% = "NaN";
                "ratios"
            );
        });
    });
    let _ = guard.shutdown();
    let records = receiver.records();
    assert_eq!(records.len(), 1);
    let attribute = |key: &str| {
        records[0]
            .record
            .attributes
            .iter()
            .find(|pair| pair.key == key)
            .and_then(|pair| pair.value.clone())
            .and_then(|value| value.value)
    };
    for key in ["plain", "wrapped"] {
        assert!(
            matches!(attribute(key), Some(Any::DoubleValue(f)) if f.is_nan()),
            "{key}: {:?}",
            attribute(key)
        );
    }
    assert_eq!(
        attribute("falling"),
        Some(Any::DoubleValue(f64::NEG_INFINITY))
    );
    assert_eq!(attribute("text"), Some(Any::StringValue("NaN".to_owned())));
}

/// Regression: OTLP/JSON batches were cut at 4 MiB of protobuf, like
/// protobuf ones, but their JSON is several times larger: six times for
/// text of control characters. A large batch passed the 20 MiB the
/// collector's OTLP/HTTP receiver takes by default, which refuses such a
/// request whole (`413`), and every record in it was lost.
#[test]
fn otlp_json_requests_stay_far_below_the_collectors_body_limit() {
    const EVENTS: usize = 2000;
    const COLLECTOR_BODY_LIMIT: usize = 20 * 1024 * 1024;
    let receiver = Receiver::http();
    let builder = to_receiver(&receiver, Protocol::HttpJson)
        .with_otlp_batch_size(EVENTS as u64)
        .with_shutdown_timeout(PATIENCE);
    // 4 MiB of protobuf in all, and six times as much JSON.
    let body = |index: usize| format!("{index:04}{}", "\u{1}".repeat(2044));
    let stats = run(builder, || {
        for index in 0..EVENTS {
            tracing::info!("{}", body(index));
        }
    });
    assert_eq!(
        (stats.exported, stats.failed),
        (EVENTS as u64, 0),
        "{stats:?}"
    );
    let lengths: Vec<usize> = receiver
        .headers()
        .iter()
        .map(|headers| {
            headers
                .get("content-length")
                .and_then(|length| length.to_str().ok()?.parse().ok())
                .expect("a Content-Length")
        })
        .collect();
    assert!(
        lengths
            .iter()
            .all(|&length| length < COLLECTOR_BODY_LIMIT / 2),
        "request bodies of {lengths:?} bytes"
    );
    let bodies: Vec<String> = receiver
        .records()
        .iter()
        .map(
            |record| match record.record.body.as_ref().and_then(|b| b.value.clone()) {
                Some(Any::StringValue(text)) => text,
                other => panic!("{other:?}"),
            },
        )
        .collect();
    assert!(
        bodies == (0..EVENTS).map(body).collect::<Vec<_>>(),
        "records lost or reordered"
    );
}

#[test]
fn http_503_with_retry_after_is_retried_and_delivered() {
    let receiver = Receiver::http();
    receiver.respond_with([Response::Status {
        code: 503,
        retry_after: Some("1".into()),
    }]);
    let stats = run(to_receiver(&receiver, Protocol::HttpProtobuf), ten_events);
    assert_eq!(
        (stats.exported, stats.failed, stats.retries),
        (10, 0, 1),
        "{stats:?}"
    );
    assert_eq!(receiver.attempts(), 2);
    assert_eq!(receiver.records().len(), 10);
}

#[test]
fn http_429_and_502_and_504_are_retried() {
    let receiver = Receiver::http();
    receiver.respond_with([429, 502, 504].map(|code| Response::Status {
        code,
        retry_after: None,
    }));
    let stats = run(to_receiver(&receiver, Protocol::HttpProtobuf), ten_events);
    assert_eq!((stats.exported, stats.retries), (10, 3), "{stats:?}");
}

#[test]
fn http_400_is_not_retried_and_counts_as_failed() {
    let receiver = Receiver::http();
    receiver.respond_with([Response::Status {
        code: 400,
        retry_after: None,
    }]);
    let stats = run(to_receiver(&receiver, Protocol::HttpProtobuf), ten_events);
    assert_eq!(
        (stats.exported, stats.failed, stats.retries),
        (0, 10, 0),
        "{stats:?}"
    );
    assert_eq!(receiver.attempts(), 1);
}

#[test]
fn partial_success_counts_rejected_records_without_retrying() {
    for protocol in Protocol::ALL {
        let receiver = Receiver::for_protocol(protocol);
        receiver.respond_with([Response::PartialSuccess {
            rejected: 3,
            message: "three too old".into(),
        }]);
        let stats = run(to_receiver(&receiver, protocol), ten_events);
        assert_eq!(
            (stats.exported, stats.rejected, stats.retries),
            (7, 3, 0),
            "{protocol:?} {stats:?}"
        );
        assert_eq!(receiver.attempts(), 1);
    }
}

/// Regression: a warning on a request the collector took whole was said
/// as "rejected 0 of 10 records", and it was the only partial success
/// ever said: the rejections that came later, and why, were not.
#[test]
fn a_warning_from_the_collector_does_not_hide_a_later_rejection() {
    if crate::support::is_child() {
        let guard = otel_log_bridge::builder()
            .with_shutdown_timeout(PATIENCE)
            .init();
        tracing::info!("taken, with a warning");
        let _ = guard.flush();
        tracing::info!("rejected");
        let stats = guard.shutdown();
        assert_eq!((stats.exported, stats.rejected), (1, 1), "{stats:?}");
        return;
    }
    for protocol in Protocol::ALL {
        let receiver = Receiver::for_protocol(protocol);
        receiver.respond_with([
            Response::PartialSuccess {
                rejected: 0,
                message: "field deprecated".into(),
            },
            Response::PartialSuccess {
                rejected: 1,
                message: "timestamp too old".into(),
            },
        ]);
        let stderr = child_stderr(
            "otlp::a_warning_from_the_collector_does_not_hide_a_later_rejection",
            &receiver,
            protocol,
        );
        assert!(
            stderr.contains("the collector took all 1 records, with a warning: field deprecated"),
            "{protocol:?}: {stderr}"
        );
        assert!(
            stderr.contains("the collector rejected 1 of 1 records (timestamp too old)"),
            "{protocol:?}: {stderr}"
        );
    }
}

/// Regression: a web server that is no collector (a wrong path behind a
/// proxy) answering 200 with a page had every record counted as exported,
/// and nothing was said; nor when the answer was too large to read.
#[test]
fn a_200_answer_that_is_not_an_otlp_response_is_reported() {
    if crate::support::is_child() {
        let guard = otel_log_bridge::builder().init();
        tracing::info!("to a web page");
        let stats = guard.shutdown();
        assert_eq!((stats.exported, stats.failed), (1, 0), "{stats:?}");
        return;
    }
    // A small page is read and found to be no OTLP response; a large one
    // is not read beyond the bound.
    let cases = [
        (
            48,
            "answered HTTP 200 with a body that is not an OTLP response (Content-Type: text/html)",
        ),
        (
            2 << 20,
            "answered HTTP 200 with a response that could not be read, or larger than the 1048576 bytes read",
        ),
    ];
    for protocol in [Protocol::HttpProtobuf, Protocol::HttpJson] {
        for (bytes, said) in cases {
            let receiver = Receiver::for_protocol(protocol);
            receiver.respond_with([Response::Page { bytes }]);
            let stderr = child_stderr(
                "otlp::a_200_answer_that_is_not_an_otlp_response_is_reported",
                &receiver,
                protocol,
            );
            assert!(stderr.contains(said), "{protocol:?} {bytes}: {stderr}");
            assert_eq!(receiver.attempts(), 1, "{protocol:?}");
        }
    }
}

/// Regression: a partial success with a negative rejected count, which no
/// collector means, passed for a full success without a word over
/// OTLP/HTTP protobuf and gRPC (OTLP/HTTP JSON already reported it).
#[test]
fn a_partial_success_with_a_negative_count_is_reported() {
    if crate::support::is_child() {
        let guard = otel_log_bridge::builder().init();
        tracing::info!("to a receiver that counts wrong");
        let stats = guard.shutdown();
        assert_eq!(
            (stats.exported, stats.rejected, stats.failed),
            (1, 0, 0),
            "{stats:?}"
        );
        return;
    }
    for (protocol, said) in [
        (
            Protocol::HttpProtobuf,
            "with a body that is not an OTLP response",
        ),
        (
            Protocol::HttpJson,
            "with a body that is not an OTLP response",
        ),
        (
            Protocol::Grpc,
            "answered with a partial success whose rejected count is negative",
        ),
    ] {
        let receiver = Receiver::for_protocol(protocol);
        receiver.respond_with([Response::PartialSuccess {
            rejected: -1,
            message: String::new(),
        }]);
        let stderr = child_stderr(
            "otlp::a_partial_success_with_a_negative_count_is_reported",
            &receiver,
            protocol,
        );
        assert!(stderr.contains(said), "{protocol:?}: {stderr}");
        assert_eq!(receiver.attempts(), 1, "{protocol:?}");
    }
}

/// Regression: a gRPC answer larger than the client reads made `tonic`
/// fail the call with `OUT_OF_RANGE`, which the retry table retries, so a
/// request the collector had processed was sent again and again. The
/// receiver here compresses its answer, which `tonic` refuses with
/// `RESOURCE_EXHAUSTED` instead, a refusal the records were counted as
/// failed for.
#[test]
fn a_grpc_answer_too_large_to_read_is_not_retried() {
    let receiver = Receiver::grpc();
    receiver.respond_with([Response::PartialSuccess {
        rejected: 1,
        message: "x".repeat(5 << 20),
    }]);
    let stats = run(to_receiver(&receiver, Protocol::Grpc), ten_events);
    assert_eq!(
        (stats.exported, stats.failed, stats.retries),
        (10, 0, 0),
        "{stats:?}"
    );
    assert_eq!(receiver.attempts(), 1);
}

/// Regression: a `tonic` server refusing a request larger than it reads
/// says what a `tonic` client says of an answer larger than it reads, and
/// the refused records were counted as exported. The server's refusal
/// names its limit, and the size the request arrived with, which is not
/// the request's when it was compressed: a server limit of 1 MiB, the
/// client's own, was still taken for the client's refusal.
#[test]
fn a_grpc_server_refusing_a_request_too_large_is_not_taken_for_a_large_answer() {
    for message in [
        "Error, decoded message length too large: found 5000000 bytes, the limit is: 4194304 bytes",
        "Error, decoded message length too large: found 1500000 bytes, the limit is: 1048576 bytes",
    ] {
        let receiver = Receiver::grpc();
        receiver.respond_with([Response::GrpcText {
            code: tonic::Code::OutOfRange,
            message: message.into(),
        }]);
        let stats = run(to_receiver(&receiver, Protocol::Grpc), ten_events);
        // `OUT_OF_RANGE` is retried, and the receiver then takes the
        // request.
        assert_eq!(
            (stats.exported, stats.failed, stats.retries),
            (10, 0, 1),
            "{message}: {stats:?}"
        );
        assert_eq!(receiver.attempts(), 2, "{message}");
    }
}

/// Regression: `tonic` panics on an answer whose status details are not
/// base64; the panic stopped the export worker, and every later record
/// was dropped for as long as the process lived. And it turns a status
/// whose message is not UTF-8 (a proxy cut it mid-character) into
/// `UNKNOWN`: an `UNAVAILABLE` was taken for a final refusal and its
/// records lost. Both are read as the status they are, in the headers of
/// an answer without a message and in the trailers of one with.
#[test]
fn a_grpc_status_with_malformed_details_or_message_is_read_as_its_code() {
    for malformed in [
        ("grpc-status-details-bin", "*"),
        ("grpc-message", "cut%E2%82"),
    ] {
        for answer in [
            RawAnswer::TrailersOnly(vec![("grpc-status", "14"), malformed]),
            RawAnswer::Trailers(vec![("grpc-status", "14"), malformed]),
        ] {
            let server = RawGrpcServer::start([answer]);
            let stats = run(to_raw_server(&server), ten_events);
            assert_eq!(
                (stats.exported, stats.failed, stats.retries),
                (10, 0, 1),
                "{malformed:?} {stats:?}"
            );
            assert_eq!(
                (server.attempts(), server.accepted_records()),
                (2, 10),
                "{malformed:?}"
            );
        }
    }
}

/// Regression: a connection lost after the answer's headers (the
/// collector's process ended mid-answer) came as an HTTP/2 error with no
/// I/O error among its sources, and the batch was counted as failed
/// instead of being sent again.
#[test]
fn a_grpc_connection_lost_after_the_answers_headers_is_retried() {
    let server = RawGrpcServer::start([RawAnswer::HeadersThenHangUp]);
    let stats = run(to_raw_server(&server), ten_events);
    assert_eq!(
        (stats.exported, stats.failed, stats.retries),
        (10, 0, 1),
        "{stats:?}"
    );
    assert_eq!((server.attempts(), server.accepted_records()), (2, 10));
}

/// Regression: over gRPC with gzip, a collector (`grpc-go`) answers in
/// gzip without being asked, and `tonic`, not told to accept gzip, took
/// every such answer for a failure: every batch the collector took was
/// counted as failed and, with a spool, kept for a replay that failed
/// again.
#[test]
fn a_grpc_answer_compressed_as_the_request_was_is_read() {
    let server = RawGrpcServer::start([]);
    let stats = run(
        to_raw_server(&server).with_otlp_compression(Compression::Gzip),
        ten_events,
    );
    assert_eq!(
        (stats.exported, stats.failed, stats.retries),
        (10, 0, 0),
        "{stats:?}"
    );
    assert_eq!((server.attempts(), server.accepted_records()), (1, 10));
}

#[test]
fn grpc_follows_the_retry_table() {
    let cases = [
        (tonic::Code::Cancelled, None, true),
        (tonic::Code::DeadlineExceeded, None, true),
        (tonic::Code::Aborted, None, true),
        (tonic::Code::OutOfRange, None, true),
        (tonic::Code::Unavailable, None, true),
        (tonic::Code::DataLoss, None, true),
        (
            tonic::Code::ResourceExhausted,
            Some(Duration::from_millis(100)),
            true,
        ),
        (tonic::Code::ResourceExhausted, None, false),
        (tonic::Code::InvalidArgument, None, false),
        (tonic::Code::Unknown, None, false),
        (tonic::Code::Internal, None, false),
        (tonic::Code::Unauthenticated, None, false),
        (tonic::Code::PermissionDenied, None, false),
    ];
    for (code, retry_after, retried) in cases {
        let receiver = Receiver::grpc();
        receiver.respond_with([Response::Grpc { code, retry_after }]);
        let stats = run(to_receiver(&receiver, Protocol::Grpc), ten_events);
        if retried {
            assert_eq!(
                (stats.exported, stats.retries),
                (10, 1),
                "{code:?} {stats:?}"
            );
            assert_eq!(receiver.attempts(), 2, "{code:?}");
        } else {
            assert_eq!((stats.failed, stats.retries), (10, 0), "{code:?} {stats:?}");
            assert_eq!(receiver.attempts(), 1, "{code:?}");
        }
    }
}

#[test]
fn guard_returns_when_the_collector_never_comes_up() {
    let collector = crate::support::dead_endpoint();
    let builder = otel_log_bridge::builder()
        .with_otlp_endpoint(collector.url())
        .with_shutdown_timeout(Duration::from_millis(500));
    let stats = run(builder, ten_events);
    assert_eq!(
        (stats.exported, stats.failed, stats.dropped),
        (0, 10, 0),
        "{stats:?}"
    );
}

#[test]
fn a_burst_of_200k_events_is_delivered_without_drops_at_default_settings() {
    const EVENTS: u64 = 200_000;
    let receiver = Receiver::http();
    let builder = to_receiver(&receiver, Protocol::HttpProtobuf).with_shutdown_timeout(PATIENCE);
    let stats = run(builder, || {
        for i in 0..EVENTS {
            tracing::info!(
                user.id = i,
                path = "/api/users",
                status = 200_u16,
                latency_ms = 3.25,
                "request handled"
            );
        }
    });
    assert_eq!(
        (stats.emitted, stats.exported, stats.dropped, stats.failed),
        (EVENTS, EVENTS, 0, 0),
        "{stats:?}"
    );
    assert_eq!(receiver.records().len() as u64, EVENTS);
}

#[test]
fn exporting_works_inside_tokio_runtimes() {
    for protocol in [Protocol::HttpProtobuf, Protocol::Grpc] {
        for multi_thread in [false, true] {
            let receiver = Receiver::for_protocol(protocol);
            let runtime = if multi_thread {
                tokio::runtime::Builder::new_multi_thread()
                    .enable_all()
                    .build()
            } else {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
            }
            .expect("runtime");
            let stats = runtime.block_on(async {
                let (layer, guard) = to_receiver(&receiver, protocol).layer().expect("valid");
                let subscriber = tracing_subscriber::registry().with(layer);
                let _default = tracing::subscriber::set_default(subscriber);
                tokio::task::yield_now().await;
                ten_events();
                guard.shutdown()
            });
            assert_eq!(
                stats.exported, 10,
                "{protocol:?} multi_thread={multi_thread} {stats:?}"
            );
        }
    }
}

/// Regression: a gRPC configuration error found after the transport had
/// built its runtime dropped that runtime on the caller's thread, which
/// panics inside an application's tokio runtime ("Cannot drop a runtime in
/// a context where blocking is not allowed") instead of returning the error.
#[test]
fn a_grpc_configuration_error_inside_a_tokio_runtime_is_an_error_not_a_panic() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let result = runtime.block_on(async {
        otel_log_bridge::builder()
            .with_otlp_endpoint("https://127.0.0.1:4317")
            .with_otlp_protocol(otel_log_bridge::Protocol::Grpc)
            .with_otlp_certificate("/nonexistent/ca.pem")
            .layer()
            .map(drop)
    });
    match result {
        Err(otel_log_bridge::InitError::InvalidConfig { setting, .. }) => {
            assert!(setting.contains("certificate"), "{setting}")
        }
        other => panic!("expected a configuration error: {other:?}"),
    }
}

/// The scopes of the crate's own transport stack: none of them may ever be
/// exported, whatever the filter says.
const TRANSPORT_TARGETS: [&str; 9] = [
    "hyper",
    "h2",
    "tonic",
    "tower",
    "ureq",
    "rustls",
    "reqwest",
    "opentelemetry",
    "otel_log_bridge",
];

/// Regression: with a proxy in the environment and no `NO_PROXY` entry for
/// it, a collector on this machine was sent to through the proxy, which
/// cannot reach it, and every record failed.
#[test]
fn a_collector_on_this_machine_is_reached_around_the_proxy() {
    if crate::support::is_child() {
        let guard = otel_log_bridge::init();
        for i in 0..10 {
            tracing::info!(target: "app", i, "around the proxy");
        }
        let stats = guard.shutdown();
        assert_eq!((stats.emitted, stats.exported), (10, 10), "{stats:?}");
        return;
    }
    let receiver = Receiver::for_protocol(Protocol::HttpProtobuf);
    let endpoint = receiver.endpoint();
    // A proxy nothing answers at.
    let dead = crate::support::dead_endpoint();
    let proxy = dead.url().trim_end_matches("/v1/logs");
    let output = crate::support::run_child(
        "otlp::a_collector_on_this_machine_is_reached_around_the_proxy",
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("HTTPS_PROXY", proxy),
            ("HTTP_PROXY", proxy),
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(receiver.records().len(), 10);
}

/// Requests to a collector elsewhere go through the proxy that
/// `HTTP_PROXY` names: a tunnel to the test receiver, for a collector whose
/// name does not resolve, so that a record the receiver gets went through
/// it.
#[test]
fn records_for_a_collector_elsewhere_go_through_the_proxy() {
    if crate::support::is_child() {
        let guard = otel_log_bridge::init();
        for i in 0..10 {
            tracing::info!(target: "app", i, "through the proxy");
        }
        let stats = guard.shutdown();
        assert_eq!((stats.emitted, stats.exported), (10, 10), "{stats:?}");
        return;
    }
    let receiver = Receiver::for_protocol(Protocol::HttpProtobuf);
    let address = receiver
        .endpoint()
        .trim_start_matches("http://")
        .parse()
        .expect("the receiver's address");
    let proxy = crate::support::tunnel::Tunnel::to(address);
    let output = crate::support::run_child(
        "otlp::records_for_a_collector_elsewhere_go_through_the_proxy",
        &[
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "http://collector.invalid:4318",
            ),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("HTTP_PROXY", &proxy.url()),
            // Matched as the HTTP client alone would match it (a prefix),
            // this entry would send the requests around the proxy.
            ("NO_PROXY", "collector.inv*"),
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(receiver.records().len(), 10);
    let targets = proxy.targets();
    assert!(!targets.is_empty());
    assert!(
        targets
            .iter()
            .all(|target| target == "collector.invalid:4318"),
        "{targets:?}"
    );
}

#[test]
fn init_from_the_environment_at_trace_level_exports_no_transport_records() {
    if crate::support::is_child() {
        let guard = otel_log_bridge::init();
        for i in 0..50 {
            tracing::info!(target: "app", i, "application event");
            log::info!(target: "app", i; "application log record");
        }
        let stats = guard.shutdown();
        assert_eq!((stats.emitted, stats.exported), (100, 100), "{stats:?}");
        return;
    }
    for protocol in [Protocol::HttpProtobuf, Protocol::HttpJson, Protocol::Grpc] {
        let receiver = Receiver::for_protocol(protocol);
        let endpoint = receiver.endpoint();
        let output = crate::support::run_child(
            "otlp::init_from_the_environment_at_trace_level_exports_no_transport_records",
            &[
                ("RUST_LOG", "trace"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol.env_value()),
                (
                    "OTEL_EXPORTER_OTLP_HEADERS",
                    "x-tenant=acme%20corp,x-team=a,x-team=b,Authorization: Basic dXNlcjpwYXNzd29yZA==",
                ),
                ("OTEL_SERVICE_NAME", "from-env"),
            ],
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{protocol:?}: {stderr}");
        // Regression: a header written the HTTP way, with a `=` in its
        // credential, was reported with the credential as part of its name.
        assert!(
            stderr.contains(r#"skipped the header "Authorization…""#)
                && !stderr.contains("dXNlcjpwYXNz"),
            "{protocol:?}: {stderr}"
        );
        let records = receiver.records();
        assert_eq!(records.len(), 100, "{protocol:?}");
        for record in &records {
            let scope = &record.scope.as_ref().expect("scope").name;
            assert_eq!(scope, "app", "{protocol:?}: a record from {scope}");
            assert!(!TRANSPORT_TARGETS.iter().any(|t| scope.starts_with(t)));
        }
        let service = records[0]
            .resource
            .as_ref()
            .expect("resource")
            .attributes
            .iter()
            .find(|kv| kv.key == "service.name")
            .map(|kv| json_of(&kv.value));
        assert_eq!(service, Some(Value::from("from-env")));
        assert!(receiver
            .headers()
            .iter()
            .all(|headers| headers.get("x-tenant").is_some_and(|v| v == "acme corp")));
        // Regression: a name given twice went out with both values over
        // HTTP, and with the last one only over gRPC.
        assert!(
            receiver
                .headers()
                .iter()
                .all(|headers| headers.get_all("x-team").iter().eq(["a", "b"].iter())),
            "{protocol:?}: {:?}",
            receiver.headers()[0]
        );
        // Over gRPC, the collector is told the time left of the 10 s the
        // exporter waits by default (and a little more), so that it stops
        // working on a request the exporter gave up on.
        if protocol == Protocol::Grpc {
            for headers in receiver.headers() {
                let deadline = headers.get("grpc-timeout").map(|value| value.to_str());
                let micros = match deadline {
                    Some(Ok(value)) => value.strip_suffix('u').and_then(|n| n.parse::<u64>().ok()),
                    _ => None,
                };
                assert!(
                    micros.is_some_and(|micros| micros <= 10_050_000 && micros > 1_000_000),
                    "{deadline:?}"
                );
            }
        }
        // Regression: over gRPC, only `tonic` was named; over HTTP, the
        // language was left out.
        let user_agent = format!(
            "OTel-OTLP-Exporter-Rust-otel-log-bridge/{}",
            env!("CARGO_PKG_VERSION")
        );
        assert!(
            receiver.headers().iter().all(|headers| headers
                .get("user-agent")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with(&user_agent))),
            "{protocol:?}: {:?}",
            receiver.headers()[0].get("user-agent")
        );
    }
}

#[test]
fn otlp_json_lines_decode_to_the_records_exported_over_otlp() {
    use opentelemetry_proto::tonic::logs::v1::LogsData;

    let receiver = Receiver::http();
    let out = SharedBuf::default();
    let builder = to_receiver(&receiver, Protocol::HttpProtobuf)
        .with_exporters([Exporter::Otlp, Exporter::OtlpJson])
        .with_otlp_json_writer(out.clone());
    let stats = run(builder, scenario);
    assert_eq!((stats.exported, stats.failed), (8, 0), "{stats:?}");
    let mut from_lines = Vec::new();
    for line in out.contents().lines() {
        let data: LogsData = serde_json::from_str(line).expect("each line is one LogsData");
        // The OTLP/JSON rules: hex ids, integer enums, int64 as strings.
        let raw: Value = serde_json::from_str(line).expect("JSON");
        let first = &raw["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0];
        assert!(first["timeUnixNano"].is_string(), "{first}");
        assert!(first["severityNumber"].is_u64(), "{first}");
        for resource_logs in data.resource_logs {
            for scope_logs in resource_logs.scope_logs {
                for record in scope_logs.log_records {
                    from_lines.push(ReceivedRecord {
                        resource: resource_logs.resource.clone(),
                        scope: scope_logs.scope.clone(),
                        record,
                    });
                }
            }
        }
    }
    let mut over_the_wire = receiver.records();
    // Requests group records by scope; two records may have the same time.
    let order = |r: &ReceivedRecord| (r.record.time_unix_nano, format!("{:?}", r.record.body));
    from_lines.sort_by_key(order);
    over_the_wire.sort_by_key(order);
    assert_eq!(from_lines.len(), 4);
    assert_eq!(from_lines, over_the_wire);
}

/// The child side of the TLS tests: two records, exported with the
/// `OTEL_EXPORTER_OTLP_*` variables the parent set, and the stats that
/// `expected_exported` says to expect.
fn log_two_records_over_tls(expected_exported: u64) {
    // Records that are to arrive get all the time a busy machine may take
    // for a handshake (the shutdown ends as soon as they are delivered);
    // those that cannot, a short wait.
    let shutdown_timeout = if expected_exported > 0 {
        PATIENCE
    } else {
        Duration::from_millis(500)
    };
    let guard = otel_log_bridge::builder()
        .with_shutdown_timeout(shutdown_timeout)
        .init();
    tracing::info!(target: "app", attempt = 1_i64, "over tls");
    log::warn!(target: "app", attempt = 2; "over tls too");
    if expected_exported == 0 {
        // An attempt has failed, and said why, before shutdown starts: on a
        // busy machine the first handshake can outlast the shutdown timeout.
        let deadline = std::time::Instant::now() + PATIENCE;
        while guard.stats().retries == 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let stats = guard.shutdown();
    assert_eq!(
        (stats.emitted, stats.exported),
        (2, expected_exported),
        "{stats:?}"
    );
}

/// The protocols TLS is tested with: OTLP/HTTP (one client for both
/// encodings) and OTLP/gRPC.
const TLS_PROTOCOLS: [Protocol; 2] = [Protocol::HttpProtobuf, Protocol::Grpc];

#[test]
fn records_reach_a_collector_over_tls_with_the_configured_authority_and_client_certificate() {
    if crate::support::is_child() {
        log_two_records_over_tls(2);
        return;
    }
    for protocol in TLS_PROTOCOLS {
        let receiver = Receiver::for_protocol_over_tls(protocol, true);
        let output = crate::support::run_child(
            "otlp::records_reach_a_collector_over_tls_with_the_configured_authority_and_client_certificate",
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver.endpoint()),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol.env_value()),
                ("OTEL_EXPORTER_OTLP_CERTIFICATE", &tls_fixture("ca.pem")),
                ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", &tls_fixture("client.pem")),
                ("OTEL_EXPORTER_OTLP_CLIENT_KEY", &tls_fixture("client.key")),
            ],
        );
        assert!(
            output.status.success(),
            "{protocol:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let records = receiver.records();
        let received: Vec<_> = records
            .iter()
            .map(|received| {
                let body = json_of(&received.record.body);
                let attempt = received
                    .record
                    .attributes
                    .iter()
                    .find(|kv| kv.key == "attempt")
                    .map(|kv| json_of(&kv.value));
                (body, attempt)
            })
            .collect();
        assert_eq!(
            received,
            [
                (Value::from("over tls"), Some(Value::from(1))),
                (Value::from("over tls too"), Some(Value::from(2))),
            ],
            "{protocol:?}"
        );
    }
}

/// A TLS setup in which the handshake fails.
struct TlsFailure<'a> {
    case: &'static str,
    /// Whether the collector asks for a client certificate.
    client_certificate: bool,
    envs: &'a [(&'a str, &'a str)],
    /// What the exporter's report on stderr says, when the reason does not
    /// depend on timing.
    reported: Option<&'a str>,
}

#[test]
fn a_collector_over_tls_gets_nothing_when_either_side_cannot_be_verified() {
    if crate::support::is_child() {
        log_two_records_over_tls(0);
        return;
    }
    let ca = tls_fixture("ca.pem");
    let cases = [
        // The platform's roots do not know the test authority.
        TlsFailure {
            case: "no authority configured",
            client_certificate: false,
            envs: &[],
            reported: Some("invalid peer certificate: UnknownIssuer"),
        },
        // The collector asks for a client certificate and gets none. It
        // sends an alert and closes the connection; what the client meets
        // first (the alert, the connection closed, reset or broken, an
        // early end of file) depends on how fast each side is, so only
        // the report itself is certain.
        TlsFailure {
            case: "no client certificate",
            client_certificate: true,
            envs: &[("OTEL_EXPORTER_OTLP_CERTIFICATE", &ca)],
            reported: None,
        },
    ];
    for protocol in TLS_PROTOCOLS {
        for TlsFailure {
            case,
            client_certificate,
            envs,
            reported,
        } in &cases
        {
            let receiver = Receiver::for_protocol_over_tls(protocol, *client_certificate);
            let endpoint = receiver.endpoint();
            // At the debug level, every failed attempt is reported with its
            // reason: a client's later attempts may fail for reasons of its
            // own (a connection closed after the alert).
            let mut all = vec![
                ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol.env_value()),
                ("OTEL_LOG_LEVEL", "debug"),
            ];
            all.extend_from_slice(envs);
            let output = crate::support::run_child(
                "otlp::a_collector_over_tls_gets_nothing_when_either_side_cannot_be_verified",
                &all,
            );
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(output.status.success(), "{protocol:?}, {case}: {stderr}");
            assert_eq!(
                receiver.attempts(),
                0,
                "{protocol:?}, {case}: no request got through"
            );
            // A reason is given; whether the last attempt was still under
            // way when shutdown stopped waiting (then no "gave up" follows)
            // depends on the machine's load.
            assert!(
                stderr.contains("OTLP export will be retried: "),
                "{protocol:?}, {case}: {stderr}"
            );
            match reported {
                Some(reason) => assert!(stderr.contains(reason), "{protocol:?}, {case}: {stderr}"),
                // The configured authority was trusted: the server's
                // certificate is not what failed.
                None => assert!(
                    !stderr.contains("invalid peer certificate"),
                    "{protocol:?}, {case}: {stderr}"
                ),
            }
        }
    }
}
