//! OTLP protobuf encoding.
//!
//! Each record is encoded once, on the thread that logs, as an OTLP
//! `LogRecord` message framed with its scope name. The worker then only
//! groups frames by scope and wraps them into an `ExportLogsServiceRequest`
//! without re-encoding a record. Field numbers are those of
//! `opentelemetry/proto/logs/v1/logs.proto` and `common/v1/common.proto`;
//! the wire rules (keys, varints, fixed-width numbers) are `prost`'s, and
//! the tests decode the result with `opentelemetry-proto`'s types.

use prost::encoding::{
    bool as pb_bool, double, encode_key, encode_varint, encoded_len_varint, fixed32, fixed64,
    int64, key_len, uint32, WireType,
};

use crate::config::Resource;
use crate::record::{Record, ValueRef};

/// `LogRecord` field numbers.
mod log_record {
    pub(super) const TIME_UNIX_NANO: u32 = 1;
    pub(super) const SEVERITY_NUMBER: u32 = 2;
    pub(super) const SEVERITY_TEXT: u32 = 3;
    pub(super) const BODY: u32 = 5;
    pub(super) const ATTRIBUTES: u32 = 6;
    pub(super) const DROPPED_ATTRIBUTES_COUNT: u32 = 7;
    pub(super) const FLAGS: u32 = 8;
    pub(super) const TRACE_ID: u32 = 9;
    pub(super) const SPAN_ID: u32 = 10;
    pub(super) const OBSERVED_TIME_UNIX_NANO: u32 = 11;
    pub(super) const EVENT_NAME: u32 = 12;
}

/// `AnyValue` oneof field numbers.
mod any_value {
    pub(super) const STRING: u32 = 1;
    pub(super) const BOOL: u32 = 2;
    pub(super) const INT: u32 = 3;
    pub(super) const DOUBLE: u32 = 4;
    pub(super) const ARRAY: u32 = 5;
    pub(super) const KVLIST: u32 = 6;
    pub(super) const BYTES: u32 = 7;
    /// `ArrayValue.values` and `KeyValueList.values`.
    pub(super) const ITEMS: u32 = 1;
}

/// `KeyValue` field numbers.
mod key_value {
    pub(super) const KEY: u32 = 1;
    pub(super) const VALUE: u32 = 2;
}

/// Field numbers of the envelope messages.
mod envelope {
    /// `ExportLogsServiceRequest.resource_logs`.
    pub(super) const RESOURCE_LOGS: u32 = 1;
    /// `ResourceLogs.resource`, `.scope_logs`.
    pub(super) const RESOURCE: u32 = 1;
    pub(super) const SCOPE_LOGS: u32 = 2;
    /// `ScopeLogs.scope`, `.log_records`.
    pub(super) const SCOPE: u32 = 1;
    pub(super) const LOG_RECORDS: u32 = 2;
    /// `InstrumentationScope.name`; `Resource.attributes`.
    pub(super) const SCOPE_NAME: u32 = 1;
    pub(super) const RESOURCE_ATTRIBUTES: u32 = 1;
}

/// The size of a length-delimited field holding `len` bytes.
fn delimited_len(tag: u32, len: usize) -> usize {
    key_len(tag) + encoded_len_varint(len as u64) + len
}

fn write_delimited_header(tag: u32, len: usize, out: &mut Vec<u8>) {
    encode_key(tag, WireType::LengthDelimited, out);
    encode_varint(len as u64, out);
}

fn write_bytes_field(tag: u32, bytes: &[u8], out: &mut Vec<u8>) {
    write_delimited_header(tag, bytes.len(), out);
    out.extend_from_slice(bytes);
}

fn any_value_len(value: ValueRef<'_>) -> usize {
    match value {
        ValueRef::Nested(tree) => tree_any_value_len(tree),
        ValueRef::Str(s) => delimited_len(any_value::STRING, s.len()),
        ValueRef::Bool(b) => pb_bool::encoded_len(any_value::BOOL, &b),
        ValueRef::Int(i) => int64::encoded_len(any_value::INT, &i),
        ValueRef::Double(f) => double::encoded_len(any_value::DOUBLE, &f),
        ValueRef::Bytes(b) => delimited_len(any_value::BYTES, b.len()),
    }
}

fn write_any_value(value: ValueRef<'_>, out: &mut Vec<u8>) {
    match value {
        ValueRef::Nested(tree) => write_tree_any_value(tree, out),
        ValueRef::Str(s) => write_bytes_field(any_value::STRING, s.as_bytes(), out),
        ValueRef::Bool(b) => pb_bool::encode(any_value::BOOL, &b, out),
        ValueRef::Int(i) => int64::encode(any_value::INT, &i, out),
        ValueRef::Double(f) => double::encode(any_value::DOUBLE, &f, out),
        ValueRef::Bytes(b) => write_bytes_field(any_value::BYTES, b, out),
    }
}

/// A scalar of a nested tree as the `AnyValue` it becomes; `None` for
/// `null` (an `AnyValue` with no value set) and for containers.
fn tree_scalar(tree: &serde_json::Value) -> Option<ValueRef<'_>> {
    match tree {
        serde_json::Value::Bool(b) => Some(ValueRef::Bool(*b)),
        serde_json::Value::Number(n) => Some(match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => ValueRef::Int(i),
            (None, Some(f)) if n.is_f64() => ValueRef::Double(f),
            // Integers beyond the i64 range never get here: the callers
            // write them as strings, as they do for flat values.
            _ => ValueRef::Str(""),
        }),
        serde_json::Value::String(s) => Some(ValueRef::Str(s)),
        _ => None,
    }
}

/// The encoded length of a tree as an `AnyValue` message's contents.
fn tree_any_value_len(tree: &serde_json::Value) -> usize {
    match tree {
        serde_json::Value::Null => 0,
        serde_json::Value::Number(n) if n.as_i64().is_none() && !n.is_f64() => {
            delimited_len(any_value::STRING, n.to_string().len())
        }
        serde_json::Value::Array(items) => delimited_len(any_value::ARRAY, array_len(items)),
        serde_json::Value::Object(entries) => delimited_len(any_value::KVLIST, kvlist_len(entries)),
        scalar => tree_scalar(scalar).map_or(0, any_value_len),
    }
}

fn array_len(items: &[serde_json::Value]) -> usize {
    items
        .iter()
        .map(|item| delimited_len(any_value::ITEMS, tree_any_value_len(item)))
        .sum()
}

fn kvlist_len(entries: &serde_json::Map<String, serde_json::Value>) -> usize {
    entries
        .iter()
        .map(|(key, item)| {
            let key_value = delimited_len(key_value::KEY, key.len())
                + delimited_len(key_value::VALUE, tree_any_value_len(item));
            delimited_len(any_value::ITEMS, key_value)
        })
        .sum()
}

fn write_tree_any_value(tree: &serde_json::Value, out: &mut Vec<u8>) {
    match tree {
        serde_json::Value::Null => {}
        serde_json::Value::Number(n) if n.as_i64().is_none() && !n.is_f64() => {
            write_bytes_field(any_value::STRING, n.to_string().as_bytes(), out);
        }
        serde_json::Value::Array(items) => {
            write_delimited_header(any_value::ARRAY, array_len(items), out);
            for item in items {
                write_delimited_header(any_value::ITEMS, tree_any_value_len(item), out);
                write_tree_any_value(item, out);
            }
        }
        serde_json::Value::Object(entries) => {
            write_delimited_header(any_value::KVLIST, kvlist_len(entries), out);
            for (key, item) in entries {
                let key_value = delimited_len(key_value::KEY, key.len())
                    + delimited_len(key_value::VALUE, tree_any_value_len(item));
                write_delimited_header(any_value::ITEMS, key_value, out);
                write_bytes_field(key_value::KEY, key.as_bytes(), out);
                write_delimited_header(key_value::VALUE, tree_any_value_len(item), out);
                write_tree_any_value(item, out);
            }
        }
        scalar => {
            if let Some(value) = tree_scalar(scalar) {
                write_any_value(value, out);
            }
        }
    }
}

fn key_value_len(key: &str, value: ValueRef<'_>) -> usize {
    delimited_len(key_value::KEY, key.len()) + delimited_len(key_value::VALUE, any_value_len(value))
}

fn write_key_value(tag: u32, key: &str, value: ValueRef<'_>, out: &mut Vec<u8>) {
    write_delimited_header(tag, key_value_len(key, value), out);
    write_bytes_field(key_value::KEY, key.as_bytes(), out);
    write_delimited_header(key_value::VALUE, any_value_len(value), out);
    write_any_value(value, out);
}

/// The encoded size of `record` as a `LogRecord` message.
fn log_record_len(record: &Record) -> usize {
    let mut len = fixed64::encoded_len(log_record::TIME_UNIX_NANO, &record.time_unix_nano)
        + fixed64::encoded_len(
            log_record::OBSERVED_TIME_UNIX_NANO,
            &record.observed_time_unix_nano,
        )
        + uint32::encoded_len(
            log_record::SEVERITY_NUMBER,
            &u32::from(record.severity.number),
        )
        + delimited_len(log_record::SEVERITY_TEXT, record.severity.text.len());
    if let Some(body) = record.body() {
        len += delimited_len(log_record::BODY, any_value_len(ValueRef::Str(body)));
    }
    for attribute in record.attributes() {
        let key = record.key(attribute.key);
        let value = record.value(attribute.value);
        len += delimited_len(log_record::ATTRIBUTES, key_value_len(key, value));
    }
    if record.dropped_attributes > 0 {
        len += uint32::encoded_len(
            log_record::DROPPED_ATTRIBUTES_COUNT,
            &record.dropped_attributes,
        );
    }
    if let Some(trace) = &record.trace {
        len += fixed32::encoded_len(log_record::FLAGS, &u32::from(trace.flags))
            + delimited_len(log_record::TRACE_ID, trace.trace_id.len())
            + delimited_len(log_record::SPAN_ID, trace.span_id.len());
    }
    if let Some(name) = record.event_name {
        len += delimited_len(log_record::EVENT_NAME, name.len());
    }
    len
}

/// Appends one queue frame: the scope name, then the `LogRecord` message,
/// each prefixed with its length as a varint.
pub(crate) fn encode_frame(record: &Record, out: &mut Vec<u8>) {
    let scope = record.scope_name().as_bytes();
    encode_varint(scope.len() as u64, out);
    out.extend_from_slice(scope);
    let len = log_record_len(record);
    encode_varint(len as u64, out);
    out.reserve(len);
    fixed64::encode(log_record::TIME_UNIX_NANO, &record.time_unix_nano, out);
    uint32::encode(
        log_record::SEVERITY_NUMBER,
        &u32::from(record.severity.number),
        out,
    );
    write_bytes_field(
        log_record::SEVERITY_TEXT,
        record.severity.text.as_bytes(),
        out,
    );
    if let Some(body) = record.body() {
        let value = ValueRef::Str(body);
        write_delimited_header(log_record::BODY, any_value_len(value), out);
        write_any_value(value, out);
    }
    for attribute in record.attributes() {
        let key = record.key(attribute.key);
        let value = record.value(attribute.value);
        write_key_value(log_record::ATTRIBUTES, key, value, out);
    }
    if record.dropped_attributes > 0 {
        uint32::encode(
            log_record::DROPPED_ATTRIBUTES_COUNT,
            &record.dropped_attributes,
            out,
        );
    }
    if let Some(trace) = &record.trace {
        fixed32::encode(log_record::FLAGS, &u32::from(trace.flags), out);
        write_bytes_field(log_record::TRACE_ID, &trace.trace_id, out);
        write_bytes_field(log_record::SPAN_ID, &trace.span_id, out);
    }
    fixed64::encode(
        log_record::OBSERVED_TIME_UNIX_NANO,
        &record.observed_time_unix_nano,
        out,
    );
    if let Some(name) = record.event_name {
        write_bytes_field(log_record::EVENT_NAME, name.as_bytes(), out);
    }
}

/// One frame read back from the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Frame<'a> {
    pub(crate) scope: &'a [u8],
    pub(crate) record: &'a [u8],
}

/// Reads the frames of a queue chunk. Frames are only ever written whole by
/// [`encode_frame`]; should a chunk still end mid-frame, the rest of it is
/// skipped rather than misread.
pub(crate) fn frames(mut chunk: &[u8]) -> impl Iterator<Item = Frame<'_>> {
    std::iter::from_fn(move || {
        let scope = take_delimited(&mut chunk)?;
        let record = take_delimited(&mut chunk)?;
        Some(Frame { scope, record })
    })
}

fn take_delimited<'a>(chunk: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = prost::encoding::decode_varint(chunk).ok()?;
    let len = usize::try_from(len).ok()?;
    if len > chunk.len() {
        *chunk = &[];
        return None;
    }
    let (value, rest) = chunk.split_at(len);
    *chunk = rest;
    Some(value)
}

/// Encodes the resource once, as the `Resource` message every request
/// carries.
pub(crate) fn encode_resource(resource: &Resource) -> Vec<u8> {
    let mut out = Vec::new();
    for (key, value) in resource.attributes() {
        write_key_value(
            envelope::RESOURCE_ATTRIBUTES,
            key,
            value.as_value_ref(),
            &mut out,
        );
    }
    out
}

/// Records of one export request, grouped by scope, already framed as
/// `ScopeLogs.log_records` fields.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    scopes: Vec<ScopeRecords>,
    records: u64,
    encoded_len: usize,
}

#[derive(Debug, Default)]
struct ScopeRecords {
    name: Vec<u8>,
    log_records: Vec<u8>,
    count: u64,
}

impl Batch {
    pub(crate) fn records(&self) -> u64 {
        self.records
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// The size of the records' own bytes: what the request size cap is
    /// checked against before adding another.
    pub(crate) fn encoded_len(&self) -> usize {
        self.encoded_len
    }

    pub(crate) fn push(&mut self, frame: Frame<'_>) {
        let index = match self
            .scopes
            .iter()
            .position(|scope| scope.name == frame.scope)
        {
            Some(index) => index,
            None => {
                self.scopes.push(ScopeRecords {
                    name: frame.scope.to_vec(),
                    ..ScopeRecords::default()
                });
                self.scopes.len() - 1
            }
        };
        let scope = &mut self.scopes[index];
        let before = scope.log_records.len();
        write_bytes_field(envelope::LOG_RECORDS, frame.record, &mut scope.log_records);
        scope.count += 1;
        self.records += 1;
        self.encoded_len += scope.log_records.len() - before;
    }

    /// Forgets the records, keeping the buffers for the next batch.
    pub(crate) fn clear(&mut self) {
        // Scopes that had no record in this batch are forgotten, so that
        // many short-lived (`log`) targets do not accumulate buffers.
        self.scopes.retain(|scope| scope.count > 0);
        for scope in &mut self.scopes {
            scope.log_records.clear();
            scope.log_records.shrink_to(64 * 1024);
            scope.count = 0;
        }
        self.records = 0;
        self.encoded_len = 0;
    }

    /// Writes the `ExportLogsServiceRequest` for this batch into `out`.
    pub(crate) fn encode_request(&self, resource: &[u8], out: &mut Vec<u8>) {
        out.clear();
        let scope_logs_len = |scope: &ScopeRecords| {
            let scope_message = delimited_len(envelope::SCOPE_NAME, scope.name.len());
            delimited_len(envelope::SCOPE, scope_message) + scope.log_records.len()
        };
        let scopes = || self.scopes.iter().filter(|scope| scope.count > 0);
        let resource_logs_len = delimited_len(envelope::RESOURCE, resource.len())
            + scopes()
                .map(|scope| delimited_len(envelope::SCOPE_LOGS, scope_logs_len(scope)))
                .sum::<usize>();
        out.reserve(delimited_len(envelope::RESOURCE_LOGS, resource_logs_len));
        write_delimited_header(envelope::RESOURCE_LOGS, resource_logs_len, out);
        write_bytes_field(envelope::RESOURCE, resource, out);
        for scope in scopes() {
            write_delimited_header(envelope::SCOPE_LOGS, scope_logs_len(scope), out);
            let scope_message = delimited_len(envelope::SCOPE_NAME, scope.name.len());
            write_delimited_header(envelope::SCOPE, scope_message, out);
            write_bytes_field(envelope::SCOPE_NAME, &scope.name, out);
            out.extend_from_slice(&scope.log_records);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
    use prost::Message as _;

    use super::*;
    use crate::config::AttributeValue;
    use crate::record::{Key, OnDuplicate, ScopeName, Severity, TraceContext, Value};

    fn sample(scope: &'static str, body: &str) -> Record {
        let mut record = Record::default();
        record.reset(
            UNIX_EPOCH + Duration::from_nanos(1_700_000_000_123_456_789),
            Severity::WARN,
            ScopeName::Static(scope),
        );
        record.set_body_text(body);
        record.event_name = Some("evt");
        record.trace = Some(TraceContext {
            trace_id: [1; 16],
            span_id: [2; 8],
            flags: 1,
        });
        record.set_attribute(Key::Static("i"), Value::Int(-5), OnDuplicate::Replace);
        record.set_attribute(Key::Static("f"), Value::Double(0.5), OnDuplicate::Replace);
        record.set_attribute(Key::Static("b"), Value::Bool(false), OnDuplicate::Replace);
        record.set_str("s", "text", OnDuplicate::Replace);
        let bytes = record.push_bytes(&[0, 255]);
        record.set_attribute(
            Key::Static("bytes"),
            Value::Bytes(bytes),
            OnDuplicate::Replace,
        );
        record
    }

    #[test]
    fn requests_decode_with_the_official_types() {
        let mut chunk = Vec::new();
        encode_frame(&sample("a", "first"), &mut chunk);
        encode_frame(&sample("b", "second"), &mut chunk);
        encode_frame(&sample("a", "third"), &mut chunk);
        let mut batch = Batch::default();
        for frame in frames(&chunk) {
            batch.push(frame);
        }
        assert_eq!(batch.records(), 3);
        let mut resource = Resource::default();
        resource.set("service.name", AttributeValue::from("svc"));
        let mut request = Vec::new();
        batch.encode_request(&encode_resource(&resource), &mut request);

        let decoded = ExportLogsServiceRequest::decode(request.as_slice()).expect("valid protobuf");
        let resource_logs = &decoded.resource_logs[0];
        let resource = resource_logs.resource.as_ref().expect("resource");
        assert_eq!(resource.attributes[0].key, "service.name");
        let scopes: Vec<_> = resource_logs
            .scope_logs
            .iter()
            .map(|s| {
                let name = s.scope.as_ref().map(|scope| scope.name.clone());
                let bodies: Vec<_> = s
                    .log_records
                    .iter()
                    .map(|r| match r.body.as_ref().and_then(|b| b.value.clone()) {
                        Some(Any::StringValue(s)) => s,
                        other => panic!("unexpected body {other:?}"),
                    })
                    .collect();
                (name, bodies)
            })
            .collect();
        assert_eq!(
            scopes,
            vec![
                (
                    Some("a".to_owned()),
                    vec!["first".to_owned(), "third".to_owned()]
                ),
                (Some("b".to_owned()), vec!["second".to_owned()]),
            ]
        );
        let record = &resource_logs.scope_logs[0].log_records[0];
        assert_eq!(record.time_unix_nano, 1_700_000_000_123_456_789);
        assert_eq!(record.observed_time_unix_nano, 1_700_000_000_123_456_789);
        assert_eq!(record.severity_number, 13);
        assert_eq!(record.severity_text, "WARN");
        assert_eq!(record.trace_id, vec![1; 16]);
        assert_eq!(record.span_id, vec![2; 8]);
        assert_eq!(record.flags, 1);
        assert_eq!(record.event_name, "evt");
        let attributes: Vec<_> = record
            .attributes
            .iter()
            .map(|kv| {
                (
                    kv.key.as_str(),
                    kv.value.as_ref().and_then(|v| v.value.clone()),
                )
            })
            .collect();
        assert_eq!(
            attributes,
            vec![
                ("i", Some(Any::IntValue(-5))),
                ("f", Some(Any::DoubleValue(0.5))),
                ("b", Some(Any::BoolValue(false))),
                ("s", Some(Any::StringValue("text".into()))),
                ("bytes", Some(Any::BytesValue(vec![0, 255]))),
            ]
        );
    }

    #[test]
    fn a_truncated_chunk_yields_only_whole_frames() {
        let mut chunk = Vec::new();
        encode_frame(&sample("a", "whole"), &mut chunk);
        let whole = chunk.len();
        encode_frame(&sample("a", "cut"), &mut chunk);
        chunk.truncate(whole + 5);
        assert_eq!(frames(&chunk).count(), 1);
    }
}
