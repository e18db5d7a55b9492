//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`): each
//! takes arbitrary bytes, drives one encoder or parser with them, and
//! panics when a property does not hold. Not part of the stable API.

use crate::config::{AttributeValue, Resource};
use crate::export::JsonEncoder;
use crate::record::{Key, OnDuplicate, Record, ScopeName, Severity, Value};

/// Splits fuzz input into a body and key-value pairs: fields are separated
/// by `0xff` bytes (invalid in UTF-8, so never inside a field), the first
/// is the body, the rest alternate key and value; a value's first byte
/// picks its type.
fn record_from(data: &[u8]) -> (Record, String, Vec<(String, AttributeValue)>) {
    let mut fields = data.split(|b| *b == 0xff);
    let body = String::from_utf8_lossy(fields.next().unwrap_or_default()).into_owned();
    let mut pairs: Vec<(String, AttributeValue)> = Vec::new();
    while let (Some(key), Some(value)) = (fields.next(), fields.next()) {
        let key = String::from_utf8_lossy(key).into_owned();
        let value = match value.split_first() {
            Some((0, rest)) => AttributeValue::Int(i64::from_le_bytes(eight(rest))),
            Some((1, rest)) => AttributeValue::Double(f64::from_le_bytes(eight(rest))),
            Some((2, rest)) => AttributeValue::Bool(rest.first().is_some_and(|b| b & 1 == 1)),
            _ => AttributeValue::String(String::from_utf8_lossy(value).into_owned()),
        };
        // A record leaves an empty key out, as the specification asks.
        if key.is_empty() {
            continue;
        }
        // Later duplicates replace earlier ones, as in the bridge.
        pairs.retain(|(existing, _)| *existing != key);
        pairs.push((key, value));
    }
    let mut record = Record::default();
    // The encoders are under test here, not the attribute count limit.
    record.set_limits(crate::record::AttributeLimits {
        count: usize::MAX,
        value_length: None,
    });
    record.reset(
        1_700_000_000_000_000_000,
        Severity::INFO,
        ScopeName::Static("fuzz"),
    );
    record.set_body_text(&body);
    for (key, value) in &pairs {
        let key = Key::Arena(record.push_text(key));
        let value = match value {
            AttributeValue::String(s) => Value::Str(record.push_text(s)),
            AttributeValue::Int(i) => Value::Int(*i),
            AttributeValue::Double(f) => Value::Double(*f),
            AttributeValue::Bool(b) => Value::Bool(*b),
        };
        record.set_attribute(key, value, OnDuplicate::Replace);
    }
    // The second half of the attributes stands for a callsite's source
    // location, so the encoders' per-callsite paths are fuzzed too.
    let count = u32::try_from(pairs.len()).unwrap_or(u32::MAX);
    record.callsite = Some(0x1000);
    record.callsite_attributes = Some((count / 2, count));
    (record, body, pairs)
}

fn eight(bytes: &[u8]) -> [u8; 8] {
    let mut out = [0; 8];
    for (slot, byte) in out.iter_mut().zip(bytes) {
        *slot = *byte;
    }
    out
}

fn expected_json(value: &AttributeValue) -> serde_json::Value {
    match value {
        AttributeValue::Int(i) => serde_json::Value::from(*i),
        AttributeValue::Double(f) if f.is_nan() => "NaN".into(),
        AttributeValue::Double(f) if f.is_infinite() && *f > 0.0 => "Infinity".into(),
        AttributeValue::Double(f) if f.is_infinite() => "-Infinity".into(),
        AttributeValue::Double(f) => serde_json::Value::from(*f),
        AttributeValue::Bool(b) => serde_json::Value::from(*b),
        AttributeValue::String(s) => serde_json::Value::from(s.as_str()),
    }
}

/// The JSON encoder: one line, parsing back to the same body and values.
pub fn check_json_line(data: &[u8]) {
    let (record, body, pairs) = record_from(data);
    let mut out = Vec::new();
    JsonEncoder::new(&Resource::default()).encode(&record, &mut out);
    assert_eq!(out.last(), Some(&b'\n'), "a line ends the record");
    assert_eq!(
        out.iter().filter(|b| **b == b'\n').count(),
        1,
        "exactly one line"
    );
    let line: serde_json::Value = serde_json::from_slice(&out).expect("valid JSON");
    assert_eq!(line["body"], serde_json::Value::from(body));
    for (key, value) in &pairs {
        assert_eq!(
            line["attributes"][key.as_str()],
            expected_json(value),
            "{key:?}"
        );
    }
}

/// The OTLP encoder: the request decodes with `opentelemetry-proto` to the
/// same body and values.
#[cfg(feature = "otlp")]
pub fn check_otlp_request(data: &[u8]) {
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
    use prost::Message as _;

    use crate::export::otlp::encode::{encode_frame, frames, Batch};
    use crate::export::otlp::OtlpCallsites;

    let (record, body, pairs) = record_from(data);
    let mut chunk = Vec::new();
    let callsites = OtlpCallsites::default();
    encode_frame(&record, &callsites, &mut chunk);
    let mut batch = Batch::default();
    for frame in frames(&chunk, &callsites) {
        batch.push(frame);
    }
    let mut request = Vec::new();
    batch.encode_request(&[], &mut request);
    let decoded = ExportLogsServiceRequest::decode(request.as_slice()).expect("valid protobuf");
    let log = &decoded.resource_logs[0].scope_logs[0].log_records[0];
    let got_body = log.body.as_ref().and_then(|b| b.value.clone());
    assert_eq!(got_body, Some(Any::StringValue(body)));
    for (key, value) in &pairs {
        let got = log
            .attributes
            .iter()
            .find(|kv| &kv.key == key)
            .and_then(|kv| kv.value.as_ref())
            .and_then(|v| v.value.clone());
        let same = match (value, &got) {
            (AttributeValue::Int(i), Some(Any::IntValue(g))) => i == g,
            (AttributeValue::Double(f), Some(Any::DoubleValue(g))) => f.to_bits() == g.to_bits(),
            (AttributeValue::Bool(b), Some(Any::BoolValue(g))) => b == g,
            (AttributeValue::String(s), Some(Any::StringValue(g))) => s == g,
            _ => false,
        };
        assert!(same, "{key:?}: sent {value:?}, got {got:?}");
    }
}

/// The `key=value,…` parser of `OTEL_RESOURCE_ATTRIBUTES` and the OTLP
/// headers variables, and the W3C `traceparent` parser: no input panics,
/// and a parsed `traceparent` renders back to itself.
pub fn check_parsers(data: &[u8]) {
    // Malformed pairs are reported, and each distinct report is remembered:
    // silence them, or millions of inputs would fill that memory.
    crate::diag::set_level(crate::diag::DiagLevel::None);
    let text = String::from_utf8_lossy(data);
    for (key, _) in crate::config::parse_resource_attributes(&text) {
        assert!(!key.is_empty() && key == key.trim());
    }
    if let Some(context) = crate::TraceContext::from_traceparent(&text) {
        let rendered = context.to_traceparent();
        assert_eq!(
            crate::TraceContext::from_traceparent(&rendered),
            Some(context)
        );
    }
}

/// The source linter: no input panics it. The linter turns a panic of its
/// own into an "internal error" finding rather than unwinding, so that is
/// what is checked.
#[cfg(feature = "lint")]
pub fn check_lint(data: &[u8]) {
    let source = String::from_utf8_lossy(data);
    for diagnostic in crate::lint::check_source("fuzz.rs", &source) {
        assert!(
            !(diagnostic.rule == crate::lint::Rule::UnparsableFile
                && diagnostic.message.contains("internal error")),
            "the linter failed: {}",
            diagnostic.message
        );
    }
}
