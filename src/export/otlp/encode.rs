//! OTLP protobuf encoding.
//!
//! Each record is encoded once, on the thread that logs, as an OTLP
//! `LogRecord` message framed with its scope name. The worker then only
//! groups frames by scope and wraps them into an `ExportLogsServiceRequest`
//! without re-encoding a record. Field numbers are those of
//! `opentelemetry/proto/logs/v1/logs.proto` and `common/v1/common.proto`;
//! the wire rules (keys, varints, fixed-width numbers) are `prost`'s, and
//! the tests decode the result with `opentelemetry-proto`'s types.

use std::fmt;

use prost::encoding::{encode_varint, encoded_len_varint, key_len, WireType};

use crate::config::Resource;
use crate::export::callsites::CallsiteTable;
use crate::export::otlp::MAX_REQUEST_BYTES;
use crate::export::stream::{EncodedKey, KEY_WINDOW};
use crate::export::{rewrite_text, write_debug};
use crate::record::{Record, TraceContext, ValueRef};

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
    put_key(tag, WireType::LengthDelimited, out);
    put_varint(len as u64, out);
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

#[inline(never)]
fn write_tree_any_value(tree: &serde_json::Value, out: &mut Vec<u8>) {
    match tree {
        serde_json::Value::Null => {}
        serde_json::Value::Number(n) if n.as_i64().is_none() && !n.is_f64() => {
            put_delimited(any_value::STRING, n.to_string().as_bytes(), out);
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
                put_delimited(key_value::KEY, key.as_bytes(), out);
                write_delimited_header(key_value::VALUE, tree_any_value_len(item), out);
                write_tree_any_value(item, out);
            }
        }
        scalar => {
            if let Some(value) = tree_scalar(scalar) {
                put_any_value(value, out);
            }
        }
    }
}

/// Appends `value` as a varint: the one-byte case inline, the rest through
/// `prost`. Lengths and tags in a record are nearly always one byte.
#[inline]
fn put_varint(value: u64, out: &mut Vec<u8>) {
    if value < 0x80 {
        out.push(value as u8);
    } else {
        encode_varint(value, out);
    }
}

/// Appends a field key; the same bytes as `prost`'s `encode_key`.
#[inline]
fn put_key(tag: u32, wire_type: WireType, out: &mut Vec<u8>) {
    put_varint(u64::from((tag << 3) | wire_type as u32), out);
}

fn put_delimited(tag: u32, bytes: &[u8], out: &mut Vec<u8>) {
    write_delimited_header(tag, bytes.len(), out);
    out.extend_from_slice(bytes);
}

/// The size of an `AnyValue`'s contents.
#[inline]
fn any_value_len(value: ValueRef<'_>) -> usize {
    match value {
        ValueRef::Str(s) => 1 + encoded_len_varint(s.len() as u64) + s.len(),
        ValueRef::Bytes(b) => 1 + encoded_len_varint(b.len() as u64) + b.len(),
        ValueRef::Int(i) => 1 + encoded_len_varint(i as u64),
        ValueRef::Double(_) => 9,
        ValueRef::Bool(_) => 2,
        ValueRef::Nested(tree) => tree_any_value_len(tree),
    }
}

#[inline(always)]
fn put_any_value(value: ValueRef<'_>, out: &mut Vec<u8>) {
    match value {
        ValueRef::Str(s) => put_delimited(any_value::STRING, s.as_bytes(), out),
        ValueRef::Bytes(b) => put_delimited(any_value::BYTES, b, out),
        ValueRef::Int(i) => {
            put_key(any_value::INT, WireType::Varint, out);
            put_varint(i as u64, out);
        }
        ValueRef::Double(f) => {
            put_key(any_value::DOUBLE, WireType::SixtyFourBit, out);
            out.extend_from_slice(&f.to_le_bytes());
        }
        ValueRef::Bool(b) => {
            put_key(any_value::BOOL, WireType::Varint, out);
            out.push(u8::from(b));
        }
        // Rare, and large: kept out of line.
        ValueRef::Nested(tree) => write_tree_any_value(tree, out),
    }
}

/// Appends one `KeyValue` as field `tag` (`LogRecord.attributes`,
/// `Resource.attributes`).
#[inline]
fn put_attribute(tag: u32, key: &str, value: ValueRef<'_>, out: &mut Vec<u8>) {
    let value_len = any_value_len(value);
    let key_value_len = 1
        + encoded_len_varint(key.len() as u64)
        + key.len()
        + 1
        + encoded_len_varint(value_len as u64)
        + value_len;
    if tag < 16 && key_value_len < 0x80 {
        // The usual attribute: every key and length is one byte, so the
        // framing goes out in two fixed-size copies.
        out.extend_from_slice(&[
            key_byte(tag, WireType::LengthDelimited),
            key_value_len as u8,
            key_byte(key_value::KEY, WireType::LengthDelimited),
            key.len() as u8,
        ]);
        out.extend_from_slice(key.as_bytes());
        match value {
            ValueRef::Str(s) => {
                out.extend_from_slice(&[
                    key_byte(key_value::VALUE, WireType::LengthDelimited),
                    value_len as u8,
                    key_byte(any_value::STRING, WireType::LengthDelimited),
                    s.len() as u8,
                ]);
                out.extend_from_slice(s.as_bytes());
            }
            ValueRef::Double(f) => {
                out.extend_from_slice(&[
                    key_byte(key_value::VALUE, WireType::LengthDelimited),
                    value_len as u8,
                    key_byte(any_value::DOUBLE, WireType::SixtyFourBit),
                ]);
                out.extend_from_slice(&f.to_le_bytes());
            }
            _ => {
                out.extend_from_slice(&[
                    key_byte(key_value::VALUE, WireType::LengthDelimited),
                    value_len as u8,
                ]);
                put_any_value(value, out);
            }
        }
        return;
    }
    put_key(tag, WireType::LengthDelimited, out);
    put_varint(key_value_len as u64, out);
    put_delimited(key_value::KEY, key.as_bytes(), out);
    put_key(key_value::VALUE, WireType::LengthDelimited, out);
    put_varint(value_len as u64, out);
    put_any_value(value, out);
}

/// Appends one `LogRecord.attributes` entry.
pub(crate) fn put_log_attribute(out: &mut Vec<u8>, key: &str, value: ValueRef<'_>) {
    put_attribute(log_record::ATTRIBUTES, key, value, out);
}

/// Appends a `KeyValue.key` field: the start of an attribute that
/// [`put_keyed_log_attribute`] finishes.
pub(crate) fn put_key_field(out: &mut Vec<u8>, key: &str) {
    put_delimited(key_value::KEY, key.as_bytes(), out);
}

/// Appends one `LogRecord.attributes` entry whose key field
/// [`put_key_field`] encoded as `key_field`.
#[inline(always)]
pub(crate) fn put_keyed_log_attribute(
    out: &mut Vec<u8>,
    key_field: EncodedKey<'_>,
    value: ValueRef<'_>,
) {
    let value_len = any_value_len(value);
    let key_value_len = key_field.len() + 2 + value_len;
    if key_value_len >= 0x80 {
        put_long_keyed_log_attribute(out, key_field, value);
        return;
    }
    if let Some(window) = key_field.window() {
        if put_short_attribute(out, window, key_field.len(), value_len, value) {
            return;
        }
    }
    out.extend_from_slice(&[
        key_byte(log_record::ATTRIBUTES, WireType::LengthDelimited),
        key_value_len as u8,
    ]);
    key_field.append_to(out);
    out.extend_from_slice(&[
        key_byte(key_value::VALUE, WireType::LengthDelimited),
        value_len as u8,
    ]);
    put_any_value(value, out);
}

/// [`put_keyed_log_attribute`] for an attribute whose lengths do not all fit
/// in one byte: the bytes [`put_log_attribute`] writes for it.
#[cold]
#[inline(never)]
fn put_long_keyed_log_attribute(out: &mut Vec<u8>, key_field: EncodedKey<'_>, value: ValueRef<'_>) {
    let value_len = any_value_len(value);
    let key_value_len = key_field.len() + 1 + encoded_len_varint(value_len as u64) + value_len;
    put_key(log_record::ATTRIBUTES, WireType::LengthDelimited, out);
    put_varint(key_value_len as u64, out);
    key_field.append_to(out);
    put_key(key_value::VALUE, WireType::LengthDelimited, out);
    put_varint(value_len as u64, out);
    put_any_value(value, out);
}

/// The most bytes a scalar `AnyValue` takes: its tag and a ten-byte varint.
const LONGEST_SCALAR: usize = 11;

/// The block a short attribute is written in: its two header bytes, the
/// key's window, the value's two header bytes and the longest scalar.
const SHORT_ATTRIBUTE_BLOCK: usize = 2 + KEY_WINDOW + 2 + LONGEST_SCALAR;

/// Appends an attribute whose key fits in a window and whose value is a
/// scalar or a string, all lengths in one byte, by writing a block of fixed
/// size in place and cutting it to the attribute's length; a string's bytes
/// follow. That is a few wide stores and single-byte ones, where writing
/// part after part checks the vector's room and reloads its length each
/// time, and copies the key with a call to `memcpy` (most of the cost of
/// an attribute, in a profile of the direct path). Returns `false`, having
/// written nothing, for any other value.
#[inline(always)]
fn put_short_attribute(
    out: &mut Vec<u8>,
    window: &[u8; KEY_WINDOW],
    key_len: usize,
    value_len: usize,
    value: ValueRef<'_>,
) -> bool {
    let text = match value {
        ValueRef::Str(text) => Some(text.as_bytes()),
        ValueRef::Bytes(bytes) => Some(bytes),
        ValueRef::Int(_) | ValueRef::Double(_) | ValueRef::Bool(_) => None,
        ValueRef::Nested(_) => return false,
    };
    let start = out.len();
    out.extend_from_slice(&[0; SHORT_ATTRIBUTE_BLOCK]);
    let written = out
        .get_mut(start..)
        .and_then(|tail| <&mut [u8; SHORT_ATTRIBUTE_BLOCK]>::try_from(tail).ok())
        .and_then(|block| fill_short_attribute(block, window, key_len, value_len, value));
    out.truncate(start + written.unwrap_or(0));
    if let (Some(_), Some(text)) = (written, text) {
        out.extend_from_slice(text);
    }
    written.is_some()
}

/// Writes a short attribute into `block` (a string's or bytes' value up to
/// its length only); returns how many bytes it takes there.
#[inline(always)]
fn fill_short_attribute(
    block: &mut [u8; SHORT_ATTRIBUTE_BLOCK],
    window: &[u8; KEY_WINDOW],
    key_len: usize,
    value_len: usize,
    value: ValueRef<'_>,
) -> Option<usize> {
    let key_len = key_len.min(KEY_WINDOW);
    block[0] = key_byte(log_record::ATTRIBUTES, WireType::LengthDelimited);
    block[1] = (key_len + 2 + value_len) as u8;
    block[2..2 + KEY_WINDOW].copy_from_slice(window);
    let value_block = block.get_mut(2 + key_len..)?;
    let (header, scalar) = value_block.split_first_chunk_mut::<3>()?;
    *header = [
        key_byte(key_value::VALUE, WireType::LengthDelimited),
        value_len as u8,
        0,
    ];
    let scalar_len = match value {
        ValueRef::Int(i) => {
            header[2] = key_byte(any_value::INT, WireType::Varint);
            put_varint_into(scalar, i as u64)
        }
        ValueRef::Double(f) => {
            header[2] = key_byte(any_value::DOUBLE, WireType::SixtyFourBit);
            scalar.get_mut(..8)?.copy_from_slice(&f.to_le_bytes());
            8
        }
        ValueRef::Bool(b) => {
            header[2] = key_byte(any_value::BOOL, WireType::Varint);
            *scalar.first_mut()? = u8::from(b);
            1
        }
        ValueRef::Str(text) => {
            header[2] = key_byte(any_value::STRING, WireType::LengthDelimited);
            *scalar.first_mut()? = text.len() as u8;
            1
        }
        ValueRef::Bytes(bytes) => {
            header[2] = key_byte(any_value::BYTES, WireType::LengthDelimited);
            *scalar.first_mut()? = bytes.len() as u8;
            1
        }
        ValueRef::Nested(_) => return None,
    };
    Some(2 + key_len + 3 + scalar_len)
}

/// Writes `value` as a varint at the start of `bytes`; returns its length.
#[inline(always)]
fn put_varint_into(bytes: &mut [u8], mut value: u64) -> usize {
    let mut len = 0;
    for byte in bytes.iter_mut() {
        len += 1;
        if value < 0x80 {
            *byte = value as u8;
            break;
        }
        *byte = (value as u8 & 0x7f) | 0x80;
        value >>= 7;
    }
    len
}

/// Appends the body, formatting `value` with `Debug` straight into `out`
/// behind one-byte lengths; a text too long for them is moved to `scratch`
/// and written again with full lengths.
pub(crate) fn put_debug_body(out: &mut Vec<u8>, value: &dyn fmt::Debug, scratch: &mut String) {
    let at = out.len();
    out.extend_from_slice(&[
        key_byte(log_record::BODY, WireType::LengthDelimited),
        0,
        key_byte(any_value::STRING, WireType::LengthDelimited),
        0,
    ]);
    let start = write_debug(out, value);
    let len = out.len() - start;
    if len + 2 < 0x80 {
        patch_byte(out, at + 1, len + 2);
        patch_byte(out, at + 3, len);
        return;
    }
    rewrite_text(out, at, start, scratch, |out, text| put_body(text, out));
}

/// Appends one `LogRecord.attributes` entry whose key field
/// [`put_key_field`] encoded as `key_field`, its string value formatted
/// with `Debug` as in [`put_debug_body`].
pub(crate) fn put_debug_attribute(
    out: &mut Vec<u8>,
    key_field: EncodedKey<'_>,
    value: &dyn fmt::Debug,
    scratch: &mut String,
) {
    let at = out.len();
    out.extend_from_slice(&[
        key_byte(log_record::ATTRIBUTES, WireType::LengthDelimited),
        0,
    ]);
    key_field.append_to(out);
    out.extend_from_slice(&[
        key_byte(key_value::VALUE, WireType::LengthDelimited),
        0,
        key_byte(any_value::STRING, WireType::LengthDelimited),
        0,
    ]);
    let start = write_debug(out, value);
    let len = out.len() - start;
    let key_value_len = key_field.len() + 2 + 2 + len;
    if key_value_len < 0x80 {
        patch_byte(out, at + 1, key_value_len);
        patch_byte(out, start - 3, len + 2);
        patch_byte(out, start - 1, len);
        return;
    }
    rewrite_text(out, at, start, scratch, |out, text| {
        put_keyed_log_attribute(out, key_field, ValueRef::Str(text));
    });
}

fn patch_byte(out: &mut [u8], at: usize, value: usize) {
    if let Some(byte) = out.get_mut(at) {
        *byte = value as u8;
    }
}

/// A field key that fits in one byte (field numbers below 16).
const fn key_byte(tag: u32, wire_type: WireType) -> u8 {
    ((tag << 3) | wire_type as u32) as u8
}

/// What the records of one callsite share, encoded once. A queued frame
/// refers to these by slot instead of carrying them, which makes frames
/// smaller and cheaper to write; the worker appends `fields` when it builds
/// a request. A `LogRecord`'s fields may come in any order and its
/// attributes may be split, so the result decodes to the same record.
#[derive(Debug)]
pub(crate) struct CallsiteParts {
    scope: Box<[u8]>,
    fields: Box<[u8]>,
}

/// The per-callsite table of an OTLP sink, shared by its encoder (which
/// fills it) and its worker (which reads it).
pub(crate) type OtlpCallsites = CallsiteTable<CallsiteParts>;

fn callsite_parts(record: &Record) -> CallsiteParts {
    CallsiteParts {
        scope: record.scope_name().as_bytes().into(),
        fields: encode_callsite_fields(record).into(),
    }
}

/// The `LogRecord` fields every record of `record`'s callsite shares:
/// severity, event name and the callsite attributes.
fn encode_callsite_fields(record: &Record) -> Vec<u8> {
    let mut out = Vec::new();
    put_severity(record, &mut out);
    if let Some(name) = record.event_name {
        put_delimited(log_record::EVENT_NAME, name.as_bytes(), &mut out);
    }
    let attributes = record.attributes();
    if let Some((start, end)) = record.callsite_attributes {
        for attribute in attributes
            .get(start as usize..end as usize)
            .unwrap_or_default()
        {
            put_attribute(
                log_record::ATTRIBUTES,
                record.key(attribute.key),
                record.value(attribute.value),
                &mut out,
            );
        }
    }
    out
}

fn put_severity(record: &Record, out: &mut Vec<u8>) {
    put_key(log_record::SEVERITY_NUMBER, WireType::Varint, out);
    put_varint(u64::from(record.severity.number), out);
    put_delimited(
        log_record::SEVERITY_TEXT,
        record.severity.text.as_bytes(),
        out,
    );
}

/// Appends one queue frame: a reference to the callsite's shared parts in
/// `callsites` (a little-endian `u32`, the slot plus one) or `0` followed
/// by the scope name (varint length first), then the `LogRecord` fields of
/// this record (a little-endian `u32` length first, patched once they are
/// written, so the record is encoded in one pass).
///
/// A chunk may also hold context entries (see [`push_frame_in_context`]):
/// [`CONTEXT_ENTRY`], a little-endian `u32` length and `LogRecord` fields
/// that the frames after it whose length has [`IN_CONTEXT`] set share.
pub(crate) fn encode_frame(record: &Record, callsites: &OtlpCallsites, out: &mut Vec<u8>) {
    let slot = callsites
        .slot_for(record, callsite_parts)
        .map(|(slot, _)| slot);
    let length_at = match slot {
        Some(slot) => put_frame_head(out, slot, record.time_unix_nano),
        None => {
            out.extend_from_slice(&0u32.to_le_bytes());
            let scope = record.scope_name().as_bytes();
            put_varint(scope.len() as u64, out);
            out.extend_from_slice(scope);
            let length_at = out.len();
            out.extend_from_slice(&[0; 4]);
            put_time(log_record::TIME_UNIX_NANO, record.time_unix_nano, out);
            put_severity(record, out);
            length_at
        }
    };
    if let Some(body) = record.body() {
        put_body(body, out);
    }
    let shared = match (slot, record.callsite_attributes) {
        (Some(_), Some((start, end))) => start as usize..end as usize,
        _ => 0..0,
    };
    for (index, attribute) in record.attributes().iter().enumerate() {
        if !shared.contains(&index) {
            put_attribute(
                log_record::ATTRIBUTES,
                record.key(attribute.key),
                record.value(attribute.value),
                out,
            );
        }
    }
    if record.dropped_attributes > 0 {
        put_key(log_record::DROPPED_ATTRIBUTES_COUNT, WireType::Varint, out);
        put_varint(u64::from(record.dropped_attributes), out);
    }
    put_frame_tail(record.trace.as_ref(), record.observed_time_unix_nano, out);
    if slot.is_none() {
        if let Some(name) = record.event_name {
            put_delimited(log_record::EVENT_NAME, name.as_bytes(), out);
        }
    }
    patch_length(length_at, out, 0);
}

/// Writes the start of a frame that refers to callsite `slot`, and the
/// record's time; returns where the record length goes.
#[inline]
fn put_frame_head(out: &mut Vec<u8>, slot: u32, time_unix_nano: u64) -> usize {
    // One copy of a block of fixed size: part by part, each copy checks
    // the vector's room and reloads its length.
    let mut head = [0; 4 + 4 + TIME_FIELD];
    let (reference, rest) = head.split_at_mut(4);
    reference.copy_from_slice(&(slot + 1).to_le_bytes());
    if let Some(time) = rest.get_mut(4..) {
        time.copy_from_slice(&time_field(log_record::TIME_UNIX_NANO, time_unix_nano));
    }
    let length_at = out.len() + 4;
    out.extend_from_slice(&head);
    length_at
}

/// The size of a time field: its key and eight bytes.
const TIME_FIELD: usize = 9;

/// A `LogRecord` time field (`tag` is below 16, as the time fields' are).
#[inline]
fn time_field(tag: u32, unix_nano: u64) -> [u8; TIME_FIELD] {
    let mut field = [0; TIME_FIELD];
    field[0] = key_byte(tag, WireType::SixtyFourBit);
    if let Some(time) = field.get_mut(1..) {
        time.copy_from_slice(&unix_nano.to_le_bytes());
    }
    field
}

#[inline]
fn put_time(tag: u32, unix_nano: u64, out: &mut Vec<u8>) {
    out.extend_from_slice(&time_field(tag, unix_nano));
}

fn put_body(body: &str, out: &mut Vec<u8>) {
    let value = ValueRef::Str(body);
    put_key(log_record::BODY, WireType::LengthDelimited, out);
    put_varint(any_value_len(value) as u64, out);
    put_any_value(value, out);
}

/// Writes the trace context and the observed time.
fn put_frame_tail(trace: Option<&TraceContext>, observed_time_unix_nano: u64, out: &mut Vec<u8>) {
    if let Some(trace) = trace {
        put_trace(trace, out);
    }
    put_time(
        log_record::OBSERVED_TIME_UNIX_NANO,
        observed_time_unix_nano,
        out,
    );
}

/// Writes the `flags`, `trace_id` and `span_id` fields.
pub(crate) fn put_trace(trace: &TraceContext, out: &mut Vec<u8>) {
    put_key(log_record::FLAGS, WireType::ThirtyTwoBit, out);
    out.extend_from_slice(&u32::from(trace.flags).to_le_bytes());
    put_delimited(log_record::TRACE_ID, &trace.trace_id, out);
    put_delimited(log_record::SPAN_ID, &trace.span_id, out);
}

/// Where a frame's head would give a callsite slot, this marks a context
/// entry instead: `LogRecord` fields that the frames after it in the chunk
/// share, up to the next entry.
const CONTEXT_ENTRY: u32 = u32::MAX;

/// Set in a frame's record length: the chunk's current context entry
/// belongs to the record too.
const IN_CONTEXT: u32 = 1 << 31;

/// A frame's record length for a record larger than any request may be: its
/// bytes are left out of the queue, and its size (a little-endian `u64`)
/// follows, for the worker to count it as failed and say why.
const LEFT_OUT: u32 = IN_CONTEXT - 1;

/// Writes the length of the record that starts after `length_at`, with
/// `flags` set in it; a record over [`MAX_REQUEST_BYTES`], which no
/// request can carry, is replaced by its size ([`LEFT_OUT`]), so that the
/// queue does not hold it and every length fits below [`IN_CONTEXT`].
fn patch_length(length_at: usize, out: &mut Vec<u8>, flags: u32) {
    let length = out.len().saturating_sub(length_at + 4);
    let word = match u32::try_from(length) {
        Ok(length) if (length as usize) <= MAX_REQUEST_BYTES => length,
        _ => {
            out.truncate(length_at + 4);
            out.extend_from_slice(&(length as u64).to_le_bytes());
            LEFT_OUT
        }
    };
    if let Some(slot) = out.get_mut(length_at..length_at + 4) {
        slot.copy_from_slice(&(word | flags).to_le_bytes());
    }
}

/// A record's context as a queue chunk shares it between records: the
/// `LogRecord` fields of its span (attributes, thread attributes, trace
/// fields), in parts, and what identifies them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FrameContext<'a> {
    /// Never 0, and never the same for other fields.
    pub(crate) id: u64,
    pub(crate) parts: [&'a [u8]; 3],
}

/// Appends `frame` (written by an [`OtlpStream`] and ended with
/// [`OtlpStream::finish_in_context`]) to a queue chunk, with its context;
/// `note` says which context the chunk's last entry holds. A context
/// already there is referred to, not copied again: the records of one span
/// on one thread carry its fields, the thread's attributes and the trace
/// ids in one entry per chunk.
#[inline]
pub(crate) fn push_frame_in_context(
    out: &mut Vec<u8>,
    note: &mut u64,
    frame: &[u8],
    context: FrameContext<'_>,
) {
    if *note != context.id {
        let len: usize = context.parts.iter().map(|part| part.len()).sum();
        out.extend_from_slice(&CONTEXT_ENTRY.to_le_bytes());
        out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_le_bytes());
        for part in context.parts {
            out.extend_from_slice(part);
        }
        *note = context.id;
    }
    out.extend_from_slice(frame);
}

/// A frame being written straight from an event (see `capture::direct`),
/// part by part, with the bytes [`encode_frame`] writes for the same record.
#[derive(Debug)]
pub(crate) struct OtlpStream {
    length_at: usize,
}

/// Starts a frame written straight from an event: the callsite reference
/// and the time. `template` renders the callsite's shared parts on its
/// first record; `None` when another callsite holds the slot, and nothing
/// is written then.
pub(crate) fn stream_frame(
    callsites: &OtlpCallsites,
    out: &mut Vec<u8>,
    time_unix_nano: u64,
    callsite: usize,
    template: impl FnOnce() -> Record,
) -> Option<(OtlpStream, u32)> {
    let (slot, _) = callsites.get_or_render(callsite, || callsite_parts(&template()))?;
    Some((stream_frame_in_slot(out, time_unix_nano, slot), slot))
}

/// [`stream_frame`] for a callsite whose slot it gave before.
#[inline]
pub(crate) fn stream_frame_in_slot(
    out: &mut Vec<u8>,
    time_unix_nano: u64,
    slot: u32,
) -> OtlpStream {
    OtlpStream {
        length_at: put_frame_head(out, slot, time_unix_nano),
    }
}

impl OtlpStream {
    pub(crate) fn body(&mut self, out: &mut Vec<u8>, body: &str) {
        put_body(body, out);
    }

    pub(crate) fn attribute(&mut self, out: &mut Vec<u8>, key: &str, value: ValueRef<'_>) {
        put_log_attribute(out, key, value);
    }

    /// Ends the frame; `trace` is the trace context as [`put_trace`]
    /// writes it, or empty.
    #[inline]
    pub(crate) fn finish(self, out: &mut Vec<u8>, trace: &[u8], time_unix_nano: u64) {
        out.extend_from_slice(trace);
        put_time(log_record::OBSERVED_TIME_UNIX_NANO, time_unix_nano, out);
        patch_length(self.length_at, out, 0);
    }

    /// Ends a frame whose span fields, thread attributes and trace fields
    /// are left to a context entry ([`push_frame_in_context`]).
    #[inline]
    pub(crate) fn finish_in_context(self, out: &mut Vec<u8>, time_unix_nano: u64) {
        put_time(log_record::OBSERVED_TIME_UNIX_NANO, time_unix_nano, out);
        patch_length(self.length_at, out, IN_CONTEXT);
    }
}

/// One frame read back from the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Frame<'a> {
    /// The callsite slot whose shared parts it refers to, if it does.
    pub(crate) slot: Option<u32>,
    pub(crate) scope: &'a [u8],
    /// This record's own `LogRecord` fields.
    pub(crate) record: &'a [u8],
    /// The fields it shares with the records of its context entry.
    pub(crate) context: &'a [u8],
    /// The fields it shares with its callsite's other records.
    pub(crate) shared: &'a [u8],
    /// The size of a record too large for any request, whose bytes were
    /// left out of the queue.
    pub(crate) left_out: Option<u64>,
}

impl Frame<'_> {
    /// The size of the whole `LogRecord` message.
    pub(crate) fn len(&self) -> usize {
        self.record.len() + self.context.len() + self.shared.len()
    }
}

/// Reads the frames of a queue chunk. Frames are only ever written whole by
/// [`encode_frame`]; should a chunk still end mid-frame, the rest of it is
/// skipped rather than misread.
pub(crate) fn frames<'a>(
    mut chunk: &'a [u8],
    callsites: &'a OtlpCallsites,
) -> impl Iterator<Item = Frame<'a>> {
    // The chunk's current context entry.
    let mut context: &[u8] = &[];
    std::iter::from_fn(move || {
        let mut head = take_u32(&mut chunk)?;
        while head == CONTEXT_ENTRY {
            let length = usize::try_from(take_u32(&mut chunk)?).ok()?;
            context = take(&mut chunk, length)?;
            head = take_u32(&mut chunk)?;
        }
        let slot = head.checked_sub(1);
        let (scope, shared) = match slot {
            None => (take_delimited(&mut chunk)?, &[][..]),
            Some(slot) => callsites
                .get(slot)
                .map(|parts| (&*parts.scope, &*parts.fields))?,
        };
        let length = take_u32(&mut chunk)?;
        let (record, left_out) = if length & !IN_CONTEXT == LEFT_OUT {
            let size = take(&mut chunk, 8)?;
            (&[][..], Some(u64::from_le_bytes(size.try_into().ok()?)))
        } else {
            let record = take(&mut chunk, usize::try_from(length & !IN_CONTEXT).ok()?)?;
            (record, None)
        };
        Some(Frame {
            slot,
            scope,
            record,
            context: if length & IN_CONTEXT != 0 {
                context
            } else {
                &[]
            },
            shared,
            left_out,
        })
    })
}

fn take<'a>(chunk: &mut &'a [u8], len: usize) -> Option<&'a [u8]> {
    if len > chunk.len() {
        *chunk = &[];
        return None;
    }
    let (value, rest) = chunk.split_at(len);
    *chunk = rest;
    Some(value)
}

fn take_u32(chunk: &mut &[u8]) -> Option<u32> {
    let bytes = take(chunk, 4)?;
    Some(u32::from_le_bytes(bytes.try_into().ok()?))
}

fn take_delimited<'a>(chunk: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = prost::encoding::decode_varint(chunk).ok()?;
    take(chunk, usize::try_from(len).ok()?)
}

/// Encodes the resource once, as the `Resource` message every request
/// carries.
pub(crate) fn encode_resource(resource: &Resource) -> Vec<u8> {
    let mut out = Vec::new();
    for (key, value) in resource.attributes() {
        put_attribute(
            envelope::RESOURCE_ATTRIBUTES,
            key,
            value.as_value_ref(),
            &mut out,
        );
    }
    out
}

/// The size of a `ScopeLogs` message: its scope's name and its records'
/// `log_records` fields.
fn scope_logs_len(name_len: usize, log_records_len: usize) -> usize {
    let scope_message = delimited_len(envelope::SCOPE_NAME, name_len);
    delimited_len(envelope::SCOPE, scope_message) + log_records_len
}

/// Records of one export request, grouped by scope, already framed as
/// `ScopeLogs.log_records` fields.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    scopes: Vec<ScopeRecords>,
    records: u64,
    /// The callsite slot of the last frame pushed, and its scope's index:
    /// a callsite's scope never changes, so consecutive frames of a
    /// callsite find their scope without comparing names.
    last_slot: Option<(u32, usize)>,
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

    pub(crate) fn push(&mut self, frame: Frame<'_>) {
        let known = self
            .last_slot
            .filter(|(slot, _)| frame.slot == Some(*slot))
            .map(|(_, index)| index);
        let index = match known.or_else(|| {
            self.scopes
                .iter()
                .position(|scope| scope.name == frame.scope)
        }) {
            Some(index) => index,
            None => {
                self.scopes.push(ScopeRecords {
                    name: frame.scope.to_vec(),
                    ..ScopeRecords::default()
                });
                self.scopes.len() - 1
            }
        };
        self.last_slot = frame.slot.map(|slot| (slot, index));
        let scope = &mut self.scopes[index];
        write_delimited_header(envelope::LOG_RECORDS, frame.len(), &mut scope.log_records);
        scope.log_records.extend_from_slice(frame.record);
        scope.log_records.extend_from_slice(frame.context);
        scope.log_records.extend_from_slice(frame.shared);
        scope.count += 1;
        self.records += 1;
    }

    /// Forgets the records, keeping the buffers for the next batch.
    pub(crate) fn clear(&mut self) {
        // Scopes that had no record in this batch are forgotten, so that
        // many short-lived (`log`) targets do not accumulate buffers.
        self.scopes.retain(|scope| scope.count > 0);
        // The scopes' indexes change.
        self.last_slot = None;
        for scope in &mut self.scopes {
            scope.log_records.clear();
            // A full default batch (512 records of a few hundred bytes)
            // fits, so the buffer is not shrunk and grown again for every
            // batch; what a burst of large records left is given back.
            scope.log_records.shrink_to(1024 * 1024);
            scope.count = 0;
        }
        self.records = 0;
    }

    /// The size of the request [`Batch::encode_request`] would write.
    pub(crate) fn request_len(&self, resource_len: usize) -> usize {
        delimited_len(
            envelope::RESOURCE_LOGS,
            self.resource_logs_len(resource_len),
        )
    }

    /// The most a frame adds to the request: its `log_records` field, and
    /// the framing of a scope of its own, as if its scope were new.
    pub(crate) fn growth_for(frame: &Frame<'_>) -> usize {
        const LONGEST_VARINT: usize = 10;
        delimited_len(envelope::LOG_RECORDS, frame.len())
            + scope_logs_len(frame.scope.len(), 0)
            + 2 * LONGEST_VARINT
    }

    fn resource_logs_len(&self, resource_len: usize) -> usize {
        delimited_len(envelope::RESOURCE, resource_len)
            + self
                .scopes
                .iter()
                .filter(|scope| scope.count > 0)
                .map(|scope| {
                    let len = scope_logs_len(scope.name.len(), scope.log_records.len());
                    delimited_len(envelope::SCOPE_LOGS, len)
                })
                .sum::<usize>()
    }

    /// Writes the `ExportLogsServiceRequest` for this batch into `out`.
    pub(crate) fn encode_request(&self, resource: &[u8], out: &mut Vec<u8>) {
        out.clear();
        let scopes = || self.scopes.iter().filter(|scope| scope.count > 0);
        let resource_logs_len = self.resource_logs_len(resource.len());
        out.reserve(delimited_len(envelope::RESOURCE_LOGS, resource_logs_len));
        write_delimited_header(envelope::RESOURCE_LOGS, resource_logs_len, out);
        put_delimited(envelope::RESOURCE, resource, out);
        for scope in scopes() {
            let len = scope_logs_len(scope.name.len(), scope.log_records.len());
            write_delimited_header(envelope::SCOPE_LOGS, len, out);
            let scope_message = delimited_len(envelope::SCOPE_NAME, scope.name.len());
            write_delimited_header(envelope::SCOPE, scope_message, out);
            put_delimited(envelope::SCOPE_NAME, &scope.name, out);
            out.extend_from_slice(&scope.log_records);
        }
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
    use opentelemetry_proto::tonic::logs::v1::LogRecord;
    use prost::Message as _;

    use super::*;
    use crate::config::AttributeValue;
    use crate::record::{Key, OnDuplicate, ScopeName, Severity, TraceContext, Value};

    fn sample(scope: &'static str, body: &str) -> Record {
        let mut record = Record::default();
        record.reset(
            1_700_000_000_123_456_789,
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
        let callsites = OtlpCallsites::default();
        encode_frame(&sample("a", "first"), &callsites, &mut chunk);
        encode_frame(&sample("b", "second"), &callsites, &mut chunk);
        encode_frame(&sample("a", "third"), &callsites, &mut chunk);
        let mut batch = Batch::default();
        for frame in frames(&chunk, &callsites) {
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

    /// Regression: a batch matched a frame to the scope of the last frame
    /// of the same callsite by index, and kept that index across `clear`,
    /// which forgets scopes and shifts the others' indexes.
    #[test]
    fn a_cleared_batch_does_not_match_a_callsite_to_a_shifted_scope() {
        let callsites = OtlpCallsites::default();
        let mut batch = Batch::default();
        let push = |batch: &mut Batch, scope: &'static str, callsite: usize| {
            let mut chunk = Vec::new();
            encode_frame(
                &from_scoped_callsite(scope, callsite, scope),
                &callsites,
                &mut chunk,
            );
            for frame in frames(&chunk, &callsites) {
                assert!(frame.slot.is_some(), "the frame refers to its callsite");
                batch.push(frame);
            }
        };
        for (scope, callsite) in [("a", 0x1000), ("b", 0x2000), ("c", 0x3000)] {
            push(&mut batch, scope, callsite);
        }
        batch.clear();
        // "a" has no record in this batch: the next clear forgets it, and
        // "b" and "c" move up one place.
        push(&mut batch, "c", 0x3000);
        push(&mut batch, "b", 0x2000);
        batch.clear();
        push(&mut batch, "b", 0x2000);
        let mut request = Vec::new();
        batch.encode_request(&encode_resource(&Resource::default()), &mut request);
        let decoded = ExportLogsServiceRequest::decode(request.as_slice()).expect("valid protobuf");
        let scopes: Vec<_> = decoded.resource_logs[0]
            .scope_logs
            .iter()
            .map(|scope_logs| {
                let name = scope_logs.scope.as_ref().map(|scope| scope.name.clone());
                (name, scope_logs.log_records.len())
            })
            .collect();
        assert_eq!(scopes, vec![(Some("b".to_owned()), 1)]);
    }

    #[test]
    fn a_truncated_chunk_yields_only_whole_frames() {
        let mut chunk = Vec::new();
        let callsites = OtlpCallsites::default();
        encode_frame(&sample("a", "whole"), &callsites, &mut chunk);
        let whole = chunk.len();
        encode_frame(&sample("a", "cut"), &callsites, &mut chunk);
        chunk.truncate(whole + 5);
        assert_eq!(frames(&chunk, &callsites).count(), 1);
    }

    /// `sample` as if logged from a callsite, with a source location.
    fn from_callsite(callsite: usize, body: &str) -> Record {
        from_scoped_callsite("a", callsite, body)
    }

    /// [`from_callsite`] for a callsite of scope `scope`.
    fn from_scoped_callsite(scope: &'static str, callsite: usize, body: &str) -> Record {
        let mut record = sample(scope, body);
        record.callsite = Some(callsite);
        let before = record.attributes().len() as u32;
        record.set_str("code.file.path", "src/lib.rs", OnDuplicate::Keep);
        record.set_attribute(
            Key::Static("code.line.number"),
            Value::Int(7),
            OnDuplicate::Keep,
        );
        record.callsite_attributes = Some((before, before + 2));
        record.set_attribute(Key::Static("thread.id"), Value::Int(3), OnDuplicate::Keep);
        record
    }

    fn decode_one(chunk: &[u8], callsites: &OtlpCallsites) -> (String, LogRecord) {
        let mut batch = Batch::default();
        for frame in frames(chunk, callsites) {
            batch.push(frame);
        }
        let mut request = Vec::new();
        batch.encode_request(&[], &mut request);
        let mut decoded =
            ExportLogsServiceRequest::decode(request.as_slice()).expect("valid protobuf");
        let mut scope_logs = decoded.resource_logs.remove(0).scope_logs.remove(0);
        let scope = scope_logs.scope.map(|s| s.name).unwrap_or_default();
        (scope, scope_logs.log_records.remove(0))
    }

    fn sorted_attributes(record: &LogRecord) -> Vec<(String, Option<Any>)> {
        let mut attributes: Vec<_> = record
            .attributes
            .iter()
            .map(|kv| {
                (
                    kv.key.clone(),
                    kv.value.as_ref().and_then(|v| v.value.clone()),
                )
            })
            .collect();
        attributes.sort_by(|a, b| a.0.cmp(&b.0));
        attributes
    }

    #[test]
    fn callsite_parts_shared_through_the_table_decode_to_the_same_record() {
        let shared = OtlpCallsites::default();
        let mut first = Vec::new();
        encode_frame(&from_callsite(0x1000, "first"), &shared, &mut first);
        let mut second = Vec::new();
        encode_frame(&from_callsite(0x1000, "second"), &shared, &mut second);
        // Without a callsite, everything travels in the frame.
        let mut inline_record = from_callsite(0x1000, "second");
        inline_record.callsite = None;
        let mut inline = Vec::new();
        encode_frame(&inline_record, &shared, &mut inline);
        assert!(
            second.len() + 30 < inline.len(),
            "{} vs {}",
            second.len(),
            inline.len()
        );
        let (scope, via_table) = decode_one(&second, &shared);
        let (inline_scope, inline) = decode_one(&inline, &shared);
        assert_eq!(scope, inline_scope);
        assert_eq!(sorted_attributes(&via_table), sorted_attributes(&inline));
        let without_attributes = |mut record: LogRecord| {
            record.attributes.clear();
            record
        };
        assert_eq!(without_attributes(via_table), without_attributes(inline));
    }

    #[test]
    fn a_callsite_whose_slot_is_taken_is_encoded_in_full() {
        let shared = OtlpCallsites::default();
        let mut chunk = Vec::new();
        encode_frame(&from_callsite(0x1000, "owner"), &shared, &mut chunk);
        // The same slot (the table has 4096), another callsite.
        let other = 0x1000 + (4096 << 3);
        let mut collided = Vec::new();
        encode_frame(&from_callsite(other, "other"), &shared, &mut collided);
        assert_eq!(&collided[..4], &[0, 0, 0, 0], "no slot reference");
        let (scope, record) = decode_one(&collided, &shared);
        assert_eq!(scope, "a");
        assert!(record
            .attributes
            .iter()
            .any(|kv| kv.key == "code.file.path"));
    }

    #[test]
    fn keys_are_the_bytes_prost_writes() {
        for tag in 1..16 {
            for wire_type in [WireType::Varint, WireType::LengthDelimited] {
                let mut theirs = Vec::new();
                prost::encoding::encode_key(tag, wire_type, &mut theirs);
                assert_eq!(vec![key_byte(tag, wire_type)], theirs);
            }
        }
        for tag in [1, 2, 6, 12, 15, 16, 300] {
            for wire_type in [
                WireType::Varint,
                WireType::SixtyFourBit,
                WireType::LengthDelimited,
                WireType::ThirtyTwoBit,
            ] {
                let mut ours = Vec::new();
                put_key(tag, wire_type, &mut ours);
                let mut theirs = Vec::new();
                prost::encoding::encode_key(tag, wire_type, &mut theirs);
                assert_eq!(ours, theirs);
            }
        }
    }
}
