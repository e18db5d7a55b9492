//! One golden fixture per mapping rule (`fixtures/mapping/*.jsonl`).
//!
//! Values that differ from run to run (times, ids, pid, host, line numbers)
//! are checked for shape and replaced by placeholders before comparing.
//! Run with `OTEL_LOG_BRIDGE_BLESS=1` to rewrite the fixtures after an
//! intended change, and review the diff.

use std::collections::HashMap;
use std::error::Error;
use std::fmt;
use std::path::PathBuf;

use otel_log_bridge::{SpanFields, TypedError};
use serde_json::{json, Value};

use crate::support::capture;

fn builder() -> otel_log_bridge::Builder {
    otel_log_bridge::builder()
        .with_service_name("mapping-test")
        .with_resource_attribute("deployment.environment.name", "test")
}

/// Replaces the run-dependent parts of records with placeholders, after
/// checking their shape.
pub fn normalize(records: Vec<Value>) -> Vec<Value> {
    let mut traces: HashMap<String, usize> = HashMap::new();
    let mut spans: HashMap<String, usize> = HashMap::new();
    records
        .into_iter()
        .map(|mut record| {
            let object = record.as_object_mut().expect("record is an object");
            let timestamp = object["timestamp"].as_str().expect("timestamp").to_owned();
            assert_rfc3339_nanos(&timestamp);
            assert_eq!(object["observed_timestamp"], json!(timestamp));
            object.insert("timestamp".into(), json!("<timestamp>"));
            object.insert("observed_timestamp".into(), json!("<timestamp>"));
            if let Some(trace_id) = object.get("trace_id").and_then(Value::as_str) {
                assert_hex(trace_id, 32);
                let next = traces.len() + 1;
                let n = *traces.entry(trace_id.to_owned()).or_insert(next);
                object.insert("trace_id".into(), json!(format!("<trace-{n}>")));
            }
            if let Some(span_id) = object.get("span_id").and_then(Value::as_str) {
                assert_hex(span_id, 16);
                let next = spans.len() + 1;
                let n = *spans.entry(span_id.to_owned()).or_insert(next);
                object.insert("span_id".into(), json!(format!("<span-{n}>")));
            }
            if let Some(attributes) = object.get_mut("attributes").and_then(Value::as_object_mut) {
                for (key, shape) in [
                    ("thread.id", "integer"),
                    ("thread.name", "string"),
                    ("code.line.number", "integer"),
                ] {
                    if let Some(value) = attributes.get_mut(key) {
                        let ok = match shape {
                            "integer" => value.is_i64(),
                            _ => value.is_string(),
                        };
                        assert!(ok, "{key} should be a {shape}: {value}");
                        *value = json!(format!("<{key}>"));
                    }
                }
            }
            let resource = object["resource"].as_object_mut().expect("resource");
            assert!(resource["process.pid"].is_i64());
            for key in ["process.pid", "host.name", "telemetry.sdk.version"] {
                if resource.contains_key(key) {
                    resource.insert(key.into(), json!(format!("<{key}>")));
                }
            }
            record
        })
        .collect()
}

fn assert_rfc3339_nanos(timestamp: &str) {
    let bytes = timestamp.as_bytes();
    assert_eq!(
        bytes.len(),
        30,
        "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ: {timestamp}"
    );
    assert!(timestamp.ends_with('Z') && bytes[10] == b'T' && bytes[19] == b'.');
    assert!(
        !timestamp.starts_with("1970"),
        "a real time, never 0: {timestamp}"
    );
}

fn assert_hex(id: &str, len: usize) {
    assert_eq!(id.len(), len, "{id}");
    assert!(id
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    assert!(id.bytes().any(|b| b != b'0'), "all-zero id");
}

/// Compares normalized records with `fixtures/mapping/<name>.jsonl`.
pub fn check_golden(name: &str, records: Vec<Value>) {
    let records = normalize(records);
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "fixtures", "mapping"]
        .iter()
        .collect::<PathBuf>()
        .join(format!("{name}.jsonl"));
    let rendered: String = records
        .iter()
        .map(|r| serde_json::to_string(r).expect("serializable") + "\n")
        .collect();
    if std::env::var_os("OTEL_LOG_BRIDGE_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().expect("dir")).expect("fixture dir");
        std::fs::write(&path, rendered).expect("fixture written");
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with OTEL_LOG_BRIDGE_BLESS=1)", path.display()));
    let expected = crate::support::parse_lines(&expected);
    assert_eq!(
        records.len(),
        expected.len(),
        "record count differs from {}:\n{rendered}",
        path.display()
    );
    for (index, (got, want)) in records.iter().zip(&expected).enumerate() {
        assert_eq!(
            got,
            want,
            "record {index} differs from {}\n got: {got}\nwant: {want}",
            path.display()
        );
    }
}

#[test]
fn severity() {
    let records = capture(builder(), || {
        tracing::trace!("t");
        tracing::debug!("d");
        tracing::info!("i");
        tracing::warn!("w");
        tracing::error!("e");
        log::trace!("lt");
        log::debug!("ld");
        log::info!("li");
        log::warn!("lw");
        log::error!("le");
    });
    check_golden("severity", records);
}

#[test]
fn body() {
    let user = "ada";
    let records = capture(builder(), || {
        tracing::info!("static message");
        // The mapping of an interpolated message is what is tested here.
        // otel-log-lint: allow(OLB001)
        tracing::info!("hello {user}, {} + {} = {}", 1, 2, 1 + 2);
        tracing::info!(answer = 42);
        tracing::info!(message = "explicit message field", extra = true);
        // otel-log-lint: allow(OLB001)
        log::info!("log {user} {}", 7);
    });
    check_golden("body", records);
}

#[test]
fn typed_attributes() {
    let records = capture(builder(), || {
        tracing::info!(
            int = -7_i64,
            small_u64 = 7_u64,
            big_u64 = u64::MAX,
            small_i128 = -3_i128,
            big_i128 = i128::MIN,
            big_u128 = u128::MAX,
            float = 1.25,
            nan = f64::NAN,
            inf = f64::INFINITY,
            neg_inf = f64::NEG_INFINITY,
            yes = true,
            text = "plain",
            bytes = &b"\x00\x01\xfe"[..],
            display = %"shown with Display",
            debug = ?Some("debug"),
            "typed"
        );
    });
    check_golden("typed_attributes", records);
}

#[derive(Debug)]
struct Outer(Inner);
#[derive(Debug)]
struct Inner;

impl fmt::Display for Outer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("outer failed")
    }
}
impl fmt::Display for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("inner cause")
    }
}
impl Error for Outer {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.0)
    }
}
impl Error for Inner {}

#[test]
fn exceptions() {
    let records = capture(builder(), || {
        let plain = Inner;
        let chained = Outer(Inner);
        tracing::error!(error = &plain as &dyn Error, "no source");
        tracing::error!(error = &chained as &dyn Error, "with a source chain");
        tracing::error!(error = &TypedError::new(&chained) as &dyn Error, "typed");
        tracing::error!(
            first = &plain as &dyn Error,
            second = &chained as &dyn Error,
            "two errors"
        );
        let io = std::io::Error::other("disk full");
        log::error!(err:err = io; "from log");
    });
    check_golden("exceptions", records);
}

#[test]
fn event_name() {
    let records = capture(builder(), || {
        tracing::info!(name: "user.login", "explicit name");
        tracing::info!("generated name is not copied");
        tracing::event!(name: "evt.level", tracing::Level::WARN, "event! with a name");
    });
    check_golden("event_name", records);
}

#[test]
fn scope() {
    let records = capture(builder(), || {
        tracing::info!("default target is the module path");
        tracing::info!(target: "billing", "explicit target");
        log::info!(target: "legacy::module", "log target");
    });
    check_golden("scope", records);
}

#[test]
fn code_and_thread_attributes() {
    let on = capture(builder(), || tracing::info!("with code and thread"));
    let off = capture(
        builder()
            .with_code_attributes(false)
            .with_thread_attributes(false),
        || tracing::info!("without"),
    );
    check_golden("code_and_thread", on.into_iter().chain(off).collect());
}

#[test]
fn span_fields() {
    let all = capture(builder(), || {
        let root = tracing::info_span!(
            "root",
            tenant = "acme",
            shared = "root",
            late = tracing::field::Empty
        );
        let _root = root.enter();
        let leaf = tracing::info_span!("leaf", shared = "leaf", depth = 2);
        let _leaf = leaf.enter();
        tracing::info!(shared = "event", "event wins, then the nearest span");
        root.record("late", "recorded later");
        tracing::info!("after Span::record");
    });
    let none = capture(builder().with_span_fields(SpanFields::none()), || {
        let span = tracing::info_span!("s", tenant = "acme");
        let _span = span.enter();
        tracing::info!("no span fields, still a trace context");
    });
    let only = capture(
        builder().with_span_fields(SpanFields::only(["tenant"])),
        || {
            let span = tracing::info_span!("s", tenant = "acme", other = 1);
            let _span = span.enter();
            tracing::info!("allow-listed span fields");
        },
    );
    check_golden(
        "span_fields",
        all.into_iter().chain(none).chain(only).collect(),
    );
}

/// Regression: the fields that tell `tracing-opentelemetry` a span's name,
/// kind and status were copied onto every record of the span, as if the
/// records said them.
#[test]
fn span_fields_that_direct_tracing_opentelemetry_are_not_copied_unless_named() {
    let in_span = || {
        let span = tracing::info_span!(
            "GET /users",
            otel.name = "GET /users",
            otel.kind = "server",
            otel.status_code = "ERROR",
            otel.status_description = "boom",
            tenant = "acme"
        );
        let _span = span.enter();
        tracing::info!("handled");
    };
    let all = capture(builder(), in_span);
    let attributes = all[0]["attributes"].as_object().expect("attributes");
    assert_eq!(attributes["tenant"], "acme");
    assert!(
        attributes.keys().all(|key| !key.starts_with("otel.")),
        "{attributes:?}"
    );
    let named = capture(
        builder().with_span_fields(SpanFields::only(["otel.kind"])),
        in_span,
    );
    let attributes = named[0]["attributes"].as_object().expect("attributes");
    assert_eq!(attributes["otel.kind"], "server");
    assert!(!attributes.contains_key("tenant"), "{attributes:?}");
}

#[test]
fn duplicate_keys() {
    let records = capture(builder(), || {
        let span = tracing::info_span!("s", key = "span");
        let _span = span.enter();
        // Duplicates and reserved keys are what this test is about.
        // otel-log-lint: allow(OLB012)
        tracing::info!(key = 1, key = 2, "later duplicate replaces earlier");
        // otel-log-lint: allow(OLB003)
        tracing::info!(
            code.file.path = "user value",
            "user fields beat bridge attributes"
        );
        // Also the exception's attributes, whichever order the fields are
        // given in.
        let error = Inner;
        // otel-log-lint: allow(OLB003)
        tracing::error!(
            exception.message = "the program's own",
            error = &error as &dyn Error,
            "user field before the error"
        );
        // otel-log-lint: allow(OLB003)
        tracing::error!(
            error = &error as &dyn Error,
            exception.message = "the program's own",
            "user field after the error"
        );
    });
    check_golden("duplicate_keys", records);
}

/// `log` key-values follow the same rules as `tracing` fields: a later
/// duplicate replaces an earlier one, an error's key becomes the
/// `exception.*` attributes, with its `source()` chain as the stack trace
/// and the type a `TypedError` names.
#[test]
fn log_duplicate_keys_and_typed_errors_map_as_tracing_fields_do() {
    let records = capture(builder(), || {
        let error = otel_log_bridge::TypedError::new(&Outer(Inner));
        // Duplicates are what this test is about.
        // otel-log-lint: allow(OLB012)
        log::error!(key = 1, key = 2, error:err = error; "failed");
    });
    let attributes = &records[0]["attributes"];
    assert_eq!(attributes["key"], 2, "{attributes}");
    assert!(attributes.get("error").is_none(), "{attributes}");
    assert_eq!(attributes["exception.message"], "outer failed");
    assert!(
        attributes["exception.type"]
            .as_str()
            .is_some_and(|name| name.ends_with("Outer")),
        "{attributes}"
    );
    assert!(
        attributes["exception.stacktrace"]
            .as_str()
            .is_some_and(|trace| trace.contains("inner cause")),
        "{attributes}"
    );
}

#[test]
fn trace_context() {
    let records = capture(builder(), || {
        tracing::info!("outside any span: no trace context");
        let request = tracing::info_span!("request");
        let _request = request.enter();
        tracing::info!("in the request span");
        let child = tracing::info_span!("child");
        child.in_scope(|| tracing::info!("in a child span: same trace, new span"));
        let detached = tracing::info_span!(parent: None, "other request");
        tracing::info!(parent: &detached, "explicit parent: another trace");
    });
    check_golden("trace_context", records);
}

#[test]
fn log_key_values() {
    let records = capture(builder(), || {
        log::info!(
            count = 3,
            ratio = 0.5,
            ok = true,
            name = "ada",
            big = u64::MAX,
            letter = 'x',
            shown:% = "display",
            dbg:? = vec![1, 2];
            "log key-values"
        );
    });
    check_golden("log_key_values", records);
}

/// Regression: a `log` key given as a raw identifier kept its `r#`
/// (`r#type`), where `tracing` names the same field `type`.
#[test]
fn a_raw_identifier_key_is_named_without_its_prefix() {
    let records = capture(builder(), || {
        log::info!(r#type = "user"; "from log");
        tracing::info!(r#type = "user", "from tracing");
    });
    assert_eq!(records.len(), 2);
    for record in &records {
        assert_eq!(record["attributes"]["type"], "user", "{record}");
        assert!(record["attributes"].get("r#type").is_none(), "{record}");
    }
}

/// A `message` field given a number is kept as a typed attribute of that
/// name, as the mapping table says, and the record has no body.
#[test]
fn a_message_field_given_a_number_is_an_attribute() {
    let records = capture(builder(), || tracing::info!(message = 42_i64));
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["attributes"]["message"], 42, "{}", records[0]);
    assert!(records[0]["body"].is_null(), "{}", records[0]);
}

/// The legacy code attributes, asked for, come beside the current ones on
/// both capture paths, for `tracing` events and `log` records alike.
#[test]
fn legacy_code_attributes_repeat_the_source_location_under_their_old_keys() {
    for (path, builder) in crate::support::builders_for_both_paths() {
        let records = capture(builder.with_legacy_code_attributes(true), || {
            tracing::info!(attempt = 1_i64, "from tracing");
            log::info!("from log");
        });
        assert_eq!(records.len(), 2, "{path}");
        for record in &records {
            let attributes = &record["attributes"];
            assert_eq!(attributes["code.file.path"], "tests/mapping.rs", "{path}");
            assert_eq!(
                attributes["code.filepath"], attributes["code.file.path"],
                "{path}"
            );
            assert!(attributes["code.line.number"].is_u64(), "{path}: {record}");
            assert_eq!(
                attributes["code.lineno"], attributes["code.line.number"],
                "{path}"
            );
        }
    }
}
