//! The flat JSON-lines format: one self-contained object per record.
//!
//! ```json
//! {"timestamp":"2026-11-25T15:42:44.123456789Z","observed_timestamp":"…",
//!  "severity_text":"INFO","severity_number":9,"body":"request handled",
//!  "attributes":{"user_id":42},"resource":{"service.name":"api"},
//!  "scope":{"name":"api::http"},"trace_id":"…","span_id":"…","trace_flags":"01"}
//! ```
//!
//! Strings go through `serde_json`'s escaping, extended so that every Unicode
//! control character and the two Unicode line separators are escaped too: no
//! value can split a record across lines or forge another record.

use std::{fmt, io};

use base64::Engine as _;
use serde::Serializer as _;
use serde_json::ser::{CharEscape, CompactFormatter, Formatter};

use crate::config::Resource;
use crate::export::callsites::CallsiteTable;
use crate::export::stream::EncodedKey;
use crate::export::timestamp::{rfc3339_nanos, write_rfc3339_nanos, RFC3339_NANOS_LEN};
use crate::export::{rewrite_text, write_debug};
use crate::record::{Attribute, Record, TraceContext, ValueRef};

/// Encodes records as flat JSON lines; the resource object is rendered
/// once, and the parts a callsite's records share once per callsite.
#[derive(Debug)]
pub(crate) struct JsonEncoder {
    resource: Box<[u8]>,
    callsites: CallsiteTable<CallsiteParts>,
}

/// The rendered parts every record of a callsite shares.
#[derive(Debug)]
pub(crate) struct CallsiteParts {
    /// `"severity_text":"INFO","severity_number":9`
    severity: Box<[u8]>,
    /// The source location attributes, `"key":value` pairs joined by `,`.
    location: Box<[u8]>,
    /// `,"resource":{…},"scope":{"name":"the target"}`
    resource_and_scope: Box<[u8]>,
}

impl CallsiteParts {
    fn render(record: &Record, resource: &[u8]) -> CallsiteParts {
        let mut severity = Vec::new();
        write_severity(&mut severity, record);
        let mut location = Vec::new();
        let (start, end) = record.callsite_attributes.unwrap_or_default();
        let shared = record
            .attributes()
            .get(start as usize..end as usize)
            .unwrap_or_default();
        for (index, attribute) in shared.iter().enumerate() {
            if index > 0 {
                location.push(b',');
            }
            write_attribute(&mut location, record, attribute);
        }
        let mut resource_and_scope = Vec::new();
        write_resource_and_scope(&mut resource_and_scope, resource, record);
        CallsiteParts {
            severity: severity.into(),
            location: location.into(),
            resource_and_scope: resource_and_scope.into(),
        }
    }
}

fn write_severity(out: &mut Vec<u8>, record: &Record) {
    out.extend_from_slice(b"\"severity_text\":\"");
    out.extend_from_slice(record.severity.text.as_bytes());
    out.extend_from_slice(b"\",\"severity_number\":");
    write_i64(out, i64::from(record.severity.number));
}

/// Writes the attributes as `"key":value` pairs joined by `,`; the
/// callsite's shared ones, when `location` has them rendered, are copied
/// from it in their place.
fn write_attributes(out: &mut Vec<u8>, record: &Record, location: Option<&[u8]>) {
    let attributes = record.attributes();
    let (before, after) = match (location, record.callsite_attributes) {
        (Some(_), Some((start, end))) if start < end => (
            attributes.get(..start as usize).unwrap_or_default(),
            attributes.get(end as usize..).unwrap_or_default(),
        ),
        _ => (attributes, &[][..]),
    };
    let rendered = location.filter(|_| before.len() + after.len() < attributes.len());
    let mut first = true;
    let mut separate = |out: &mut Vec<u8>| {
        if !std::mem::replace(&mut first, false) {
            out.push(b',');
        }
    };
    for attribute in before {
        separate(out);
        write_attribute(out, record, attribute);
    }
    if let Some(rendered) = rendered {
        separate(out);
        out.extend_from_slice(rendered);
    }
    for attribute in after {
        separate(out);
        write_attribute(out, record, attribute);
    }
}

fn write_attribute(out: &mut Vec<u8>, record: &Record, attribute: &Attribute) {
    write_key_value(
        out,
        record.key(attribute.key),
        record.value(attribute.value),
    );
}

/// Writes one attribute as `"key":value`.
pub(crate) fn write_key_value(out: &mut Vec<u8>, key: &str, value: ValueRef<'_>) {
    write_key(out, key);
    write_value(out, value);
}

/// Writes the start of an attribute, `"key":`.
pub(crate) fn write_key(out: &mut Vec<u8>, key: &str) {
    write_str(out, key);
    out.push(b':');
}

fn write_resource_and_scope(out: &mut Vec<u8>, resource: &[u8], record: &Record) {
    out.extend_from_slice(b",\"resource\":");
    out.extend_from_slice(resource);
    out.extend_from_slice(b",\"scope\":{\"name\":");
    write_str(out, record.scope_name());
    out.push(b'}');
}

impl JsonEncoder {
    pub(crate) fn new(resource: &Resource) -> JsonEncoder {
        let mut rendered = Vec::new();
        rendered.push(b'{');
        for (index, (key, value)) in resource.attributes().iter().enumerate() {
            if index > 0 {
                rendered.push(b',');
            }
            write_str(&mut rendered, key);
            rendered.push(b':');
            write_value(&mut rendered, value.as_value_ref());
        }
        rendered.push(b'}');
        JsonEncoder {
            resource: rendered.into_boxed_slice(),
            callsites: CallsiteTable::default(),
        }
    }

    pub(crate) fn encode(&self, record: &Record, out: &mut Vec<u8>) {
        write_timestamps(out, record.time_unix_nano, record.observed_time_unix_nano);
        let shared = self
            .callsites
            .slot_for(record, |record| {
                CallsiteParts::render(record, &self.resource)
            })
            .map(|(_, parts)| parts);
        match shared {
            Some(parts) => out.extend_from_slice(&parts.severity),
            None => write_severity(out, record),
        }
        if let Some(body) = record.body() {
            write_body(out, body);
        }
        if !record.attributes().is_empty() {
            out.extend_from_slice(ATTRIBUTES_OPEN);
            write_attributes(out, record, shared.map(|parts| &*parts.location));
            out.push(b'}');
        }
        if record.dropped_attributes > 0 {
            out.extend_from_slice(b",\"dropped_attributes_count\":");
            write_i64(out, i64::from(record.dropped_attributes));
        }
        match shared {
            Some(parts) => out.extend_from_slice(&parts.resource_and_scope),
            None => write_resource_and_scope(out, &self.resource, record),
        }
        write_trailer(out, record.trace.as_ref(), record.event_name);
    }

    /// Starts a record written straight from an event (see
    /// `capture::direct`): the timestamps and the callsite's severity.
    /// `template` renders the callsite's shared parts on its first record;
    /// `None` when another callsite holds the slot, and nothing is written
    /// then.
    pub(crate) fn stream(
        &self,
        out: &mut Vec<u8>,
        time_unix_nano: u64,
        callsite: usize,
        template: impl FnOnce() -> Record,
    ) -> Option<JsonStream<'_>> {
        let (_, parts) = self.callsites.get_or_render(callsite, || {
            CallsiteParts::render(&template(), &self.resource)
        })?;
        write_timestamps(out, time_unix_nano, time_unix_nano);
        out.extend_from_slice(&parts.severity);
        Some(JsonStream {
            parts,
            attributes: false,
        })
    }
}

const ATTRIBUTES_OPEN: &[u8] = b",\"attributes\":{";

/// Writes `{"timestamp":"…","observed_timestamp":"…",`, as one block of
/// fixed size when the two times are the same (as they are for every
/// record written straight from an event).
fn write_timestamps(out: &mut Vec<u8>, time: u64, observed: u64) {
    const OPEN: &[u8] = b"{\"timestamp\":\"";
    const BETWEEN: &[u8] = b"\",\"observed_timestamp\":\"";
    const CLOSE: &[u8] = b"\",";
    const STAMP: usize = RFC3339_NANOS_LEN;
    const BLOCK: usize = OPEN.len() + STAMP + BETWEEN.len() + STAMP + CLOSE.len();
    if observed != time {
        out.extend_from_slice(OPEN);
        write_rfc3339_nanos(out, time);
        out.extend_from_slice(BETWEEN);
        write_rfc3339_nanos(out, observed);
        out.extend_from_slice(CLOSE);
        return;
    }
    let stamp = rfc3339_nanos(time);
    let mut block = [0u8; BLOCK];
    let mut at = 0;
    for part in [OPEN, &stamp, BETWEEN, &stamp, CLOSE] {
        block[at..at + part.len()].copy_from_slice(part);
        at += part.len();
    }
    out.extend_from_slice(&block);
}

fn write_body(out: &mut Vec<u8>, body: &str) {
    out.extend_from_slice(b",\"body\":");
    write_str(out, body);
}

/// Writes the trace context, the event name and the end of the line.
fn write_trailer(out: &mut Vec<u8>, trace: Option<&TraceContext>, event_name: Option<&str>) {
    if let Some(trace) = trace {
        write_trace(out, trace);
    }
    write_end(out, event_name);
}

/// Writes `,"trace_id":"…","span_id":"…","trace_flags":"…"`.
pub(crate) fn write_trace(out: &mut Vec<u8>, trace: &TraceContext) {
    out.extend_from_slice(b",\"trace_id\":\"");
    trace.trace_id_hex().write_to(out);
    out.extend_from_slice(b"\",\"span_id\":\"");
    trace.span_id_hex().write_to(out);
    out.extend_from_slice(b"\",\"trace_flags\":\"");
    crate::record::Hex(&[trace.flags]).write_to(out);
    out.push(b'"');
}

/// Writes the event name and the end of the line.
fn write_end(out: &mut Vec<u8>, event_name: Option<&str>) {
    if let Some(name) = event_name {
        out.extend_from_slice(b",\"event_name\":");
        write_str(out, name);
    }
    out.extend_from_slice(b"}\n");
}

/// A JSON line being written straight from an event, part by part, in the
/// order and with the bytes [`JsonEncoder::encode`] writes for the same
/// record.
#[derive(Debug)]
pub(crate) struct JsonStream<'e> {
    parts: &'e CallsiteParts,
    /// Whether the attributes object is open.
    attributes: bool,
}

impl JsonStream<'_> {
    /// Writes the body; only before any attribute.
    pub(crate) fn body(&mut self, out: &mut Vec<u8>, body: &str) {
        write_body(out, body);
    }

    pub(crate) fn attribute(&mut self, out: &mut Vec<u8>, key: &str, value: ValueRef<'_>) {
        self.separate(out);
        write_key_value(out, key, value);
    }

    /// Writes an attribute whose `"key":` [`write_key`] rendered.
    #[inline(always)]
    pub(crate) fn keyed_attribute(
        &mut self,
        out: &mut Vec<u8>,
        key: EncodedKey<'_>,
        value: ValueRef<'_>,
    ) {
        self.separate(out);
        key.append_to(out);
        write_value(out, value);
    }

    pub(crate) fn debug_body(
        &mut self,
        out: &mut Vec<u8>,
        value: &dyn fmt::Debug,
        scratch: &mut String,
    ) {
        out.extend_from_slice(b",\"body\":");
        write_debug_str(out, value, scratch);
    }

    pub(crate) fn debug_attribute(
        &mut self,
        out: &mut Vec<u8>,
        key: EncodedKey<'_>,
        value: &dyn fmt::Debug,
        scratch: &mut String,
    ) {
        self.separate(out);
        key.append_to(out);
        write_debug_str(out, value, scratch);
    }

    /// Writes `"key":value` pairs rendered by [`write_key_value`], joined by
    /// commas.
    pub(crate) fn encoded_attributes(&mut self, out: &mut Vec<u8>, pairs: &[u8]) {
        if !pairs.is_empty() {
            self.separate(out);
            out.extend_from_slice(pairs);
        }
    }

    /// Writes the callsite's source location attributes.
    pub(crate) fn callsite_attributes(&mut self, out: &mut Vec<u8>) {
        if !self.parts.location.is_empty() {
            self.separate(out);
            out.extend_from_slice(&self.parts.location);
        }
    }

    fn separate(&mut self, out: &mut Vec<u8>) {
        if std::mem::replace(&mut self.attributes, true) {
            out.push(b',');
        } else {
            out.extend_from_slice(ATTRIBUTES_OPEN);
        }
    }

    /// Ends the line; `trace` is the trace context as [`write_trace`]
    /// writes it, or empty.
    pub(crate) fn finish(self, out: &mut Vec<u8>, trace: &[u8], event_name: Option<&str>) {
        if self.attributes {
            out.push(b'}');
        }
        out.extend_from_slice(&self.parts.resource_and_scope);
        out.extend_from_slice(trace);
        write_end(out, event_name);
    }
}

/// Writes a typed value: numbers and booleans as JSON numbers and booleans,
/// non-finite floats as the strings `"NaN"`, `"Infinity"`, `"-Infinity"`
/// (JSON has no literal for them), and bytes as standard base64.
#[inline(always)]
pub(crate) fn write_value(out: &mut Vec<u8>, value: ValueRef<'_>) {
    match value {
        ValueRef::Int(i) => write_i64(out, i),
        ValueRef::Double(f) if f.is_nan() => out.extend_from_slice(b"\"NaN\""),
        ValueRef::Double(f) if f.is_infinite() && f > 0.0 => {
            out.extend_from_slice(b"\"Infinity\"");
        }
        ValueRef::Double(f) if f.is_infinite() => out.extend_from_slice(b"\"-Infinity\""),
        ValueRef::Double(f) => {
            let _ = CompactFormatter.write_f64(out, f);
        }
        ValueRef::Bool(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
        ValueRef::Str(s) => write_str(out, s),
        ValueRef::Nested(tree) => write_tree(out, tree),
        ValueRef::Bytes(bytes) => {
            out.push(b'"');
            let start = out.len();
            let len = base64::encoded_len(bytes.len(), true).unwrap_or(0);
            out.resize(start + len, 0);
            let written = base64::engine::general_purpose::STANDARD
                .encode_slice(bytes, &mut out[start..])
                .unwrap_or(0);
            out.truncate(start + written);
            out.push(b'"');
        }
    }
}

/// Writes a map or list as nested JSON, strings escaped like every other.
fn write_tree(out: &mut Vec<u8>, tree: &serde_json::Value) {
    match tree {
        serde_json::Value::Null => out.extend_from_slice(b"null"),
        serde_json::Value::Bool(b) => write_value(out, ValueRef::Bool(*b)),
        // An integer beyond `i64` is a string, as it is outside maps and
        // lists: most JSON readers would round it as a number. So is a
        // number `serde_json` holds as text (`arbitrary_precision`) that is
        // no `i64` and no `f64` (`1e400`), which they would reject.
        serde_json::Value::Number(n) if n.as_i64().is_none() && !n.is_f64() => {
            write_str(out, &n.to_string());
        }
        serde_json::Value::Number(n) => out.extend_from_slice(n.to_string().as_bytes()),
        serde_json::Value::String(s) => write_str(out, s),
        serde_json::Value::Array(items) => {
            out.push(b'[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_tree(out, item);
            }
            out.push(b']');
        }
        serde_json::Value::Object(entries) => {
            out.push(b'{');
            for (index, (key, item)) in entries.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_str(out, key);
                out.push(b':');
                write_tree(out, item);
            }
            out.push(b'}');
        }
    }
}

fn write_i64(out: &mut Vec<u8>, value: i64) {
    let _ = CompactFormatter.write_i64(out, value);
}

/// Writes `value`'s `Debug` text as a JSON string, formatted in place and
/// only moved to `scratch` (and back, escaped) when it needs escaping.
fn write_debug_str(out: &mut Vec<u8>, value: &dyn fmt::Debug, scratch: &mut String) {
    out.push(b'"');
    let start = write_debug(out, value);
    if is_plain_ascii(out.get(start..).unwrap_or_default()) {
        out.push(b'"');
        return;
    }
    rewrite_text(out, start - 1, start, scratch, write_str);
}

/// Writes `s` as a JSON string with every control character escaped.
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    // Most keys and values are plain printable ASCII, which JSON takes as
    // is; checking that is several times cheaper than escaping byte by byte.
    if is_plain_ascii(s.as_bytes()) {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
        return;
    }
    let mut serializer = serde_json::Serializer::with_formatter(&mut *out, LineSafeFormatter);
    // Writing to a `Vec` cannot fail.
    let _ = serializer.serialize_str(s);
}

/// Whether every byte is printable ASCII other than `"` and `\\`, i.e. the
/// string needs no escaping at all. Checks eight bytes at a time (see
/// [`is_plain_word`]).
fn is_plain_ascii(bytes: &[u8]) -> bool {
    let word_at = |at: usize| {
        let mut word = [0u8; 8];
        word.copy_from_slice(&bytes[at..at + 8]);
        u64::from_le_bytes(word)
    };
    if bytes.len() < 8 {
        // Padded with spaces (plain) to a word.
        let word = bytes
            .iter()
            .rev()
            .fold(u64::from_le_bytes([b' '; 8]), |word, &byte| {
                (word << 8) | u64::from(byte)
            });
        return is_plain_word(word);
    }
    let whole = bytes.len() / 8 * 8;
    (0..whole).step_by(8).all(|at| is_plain_word(word_at(at)))
        // The last bytes as the last eight, some of them checked again:
        // one more word rather than byte by byte.
        && is_plain_word(word_at(bytes.len() - 8))
}

/// Whether none of eight bytes needs escaping, with the classic "has a
/// byte below n / equal to c" word tricks.
#[inline(always)]
fn is_plain_word(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let has_zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let non_ascii = word & HIGHS;
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
    let quote = has_zero_byte(word ^ (ONES * u64::from(b'"')));
    let backslash = has_zero_byte(word ^ (ONES * u64::from(b'\\')));
    let delete = has_zero_byte(word ^ (ONES * 0x7f));
    non_ascii | control | quote | backslash | delete == 0
}

/// `serde_json`'s compact formatter, plus escapes for the characters it
/// leaves raw that still break line-oriented readers or terminals: DEL, the
/// C1 controls (U+0080–U+009F), U+2028/U+2029, and the marks that change
/// the direction text is shown in (U+061C, U+200E, U+200F, U+202A–U+202E,
/// U+2066–U+2069), with which a value could make a line read as something
/// else than it holds. OTLP-JSON lines are written with it too.
pub(crate) struct LineSafeFormatter;

impl Formatter for LineSafeFormatter {
    fn write_string_fragment<W>(&mut self, writer: &mut W, fragment: &str) -> io::Result<()>
    where
        W: ?Sized + io::Write,
    {
        // The first byte of each character to escape: DEL, the C1
        // controls (0xc2), U+061C (0xd8), and the marks and separators
        // from U+200E on (0xe2).
        if !fragment
            .bytes()
            .any(|b| matches!(b, 0x7f | 0xc2 | 0xd8 | 0xe2))
        {
            return writer.write_all(fragment.as_bytes());
        }
        let mut start = 0;
        for (index, ch) in fragment.char_indices() {
            if crate::diag::acts_on_a_terminal(ch) {
                writer.write_all(&fragment.as_bytes()[start..index])?;
                write!(writer, "\\u{:04x}", u32::from(ch))?;
                start = index + ch.len_utf8();
            }
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }

    fn write_char_escape<W>(&mut self, writer: &mut W, char_escape: CharEscape) -> io::Result<()>
    where
        W: ?Sized + io::Write,
    {
        CompactFormatter.write_char_escape(writer, char_escape)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Key, OnDuplicate, ScopeName, Severity, Value};

    /// A record as logged from a callsite: a field, then the source
    /// location (shared by the callsite's records), then the thread.
    fn from_callsite(callsite: Option<usize>, user: i64) -> Record {
        let mut record = Record::default();
        record.reset(0, Severity::WARN, ScopeName::Static("app"));
        record.callsite = callsite;
        record.set_body_text("body");
        record.set_attribute(Key::Static("user"), Value::Int(user), OnDuplicate::Replace);
        record.set_str("code.file.path", "src/a.rs", OnDuplicate::Keep);
        record.set_attribute(
            Key::Static("code.line.number"),
            Value::Int(3),
            OnDuplicate::Keep,
        );
        record.callsite_attributes = Some((1, 3));
        record.set_attribute(Key::Static("thread.id"), Value::Int(1), OnDuplicate::Keep);
        record
    }

    #[test]
    fn lines_rendered_from_the_callsite_cache_equal_lines_rendered_in_full() {
        let encoder = JsonEncoder::new(&Resource::default());
        for user in [1, 2] {
            let mut cached = Vec::new();
            encoder.encode(&from_callsite(Some(0x4000), user), &mut cached);
            let mut full = Vec::new();
            encoder.encode(&from_callsite(None, user), &mut full);
            assert_eq!(
                String::from_utf8_lossy(&cached),
                String::from_utf8_lossy(&full)
            );
        }
    }

    fn encoded(s: &str) -> String {
        let mut out = Vec::new();
        write_str(&mut out, s);
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(encoded("a\nb"), r#""a\nb""#);
        assert_eq!(encoded("\u{1b}[31m"), r#""\u001b[31m""#);
        assert_eq!(encoded("x\u{7f}y\u{85}z"), r#""x\u007fy\u0085z""#);
        assert_eq!(encoded("\u{2028}\u{2029}"), r#""\u2028\u2029""#);
        assert_eq!(encoded("é—ü"), "\"é—ü\"");
        assert_eq!(
            encoded("user\u{202e}nimda\u{2066}x\u{61c}\u{200f}"),
            r#""user\u202enimda\u2066x\u061c\u200f""#
        );
        let round_trip: String =
            serde_json::from_str(&encoded("x\u{7f}\u{9f}\u{2028}\"\\\u{0}")).expect("valid JSON");
        assert_eq!(round_trip, "x\u{7f}\u{9f}\u{2028}\"\\\u{0}");
    }

    #[test]
    fn plain_ascii_takes_the_fast_path_and_the_rest_does_not() {
        assert!(is_plain_ascii(b"user.id request handled /api/users?x=1"));
        for special in [
            "a\"b",
            "a\\b",
            "tab\there",
            "del\u{7f}",
            "é",
            &"x".repeat(40)[..39],
        ] {
            let expected = !special
                .bytes()
                .any(|b| !(0x20..0x7f).contains(&b) || b == b'"' || b == b'\\');
            assert_eq!(is_plain_ascii(special.as_bytes()), expected, "{special:?}");
        }
        assert_eq!(
            encoded(&format!("{}\n", "y".repeat(33))),
            format!("\"{}\\n\"", "y".repeat(33))
        );
    }

    #[test]
    fn a_byte_needing_escape_is_found_at_any_position_of_any_length() {
        for len in 0..=25 {
            assert!(is_plain_ascii("p".repeat(len).as_bytes()), "{len}");
            for at in 0..len {
                for special in [b'"', b'\\', b'\n', 0x7f, 0xc3, 0x00] {
                    let mut bytes = vec![b'p'; len];
                    bytes[at] = special;
                    assert!(!is_plain_ascii(&bytes), "{special:#x} at {at} of {len}");
                }
            }
        }
    }

    #[test]
    fn non_finite_floats_become_strings() {
        for (value, expected) in [
            (f64::NAN, "\"NaN\""),
            (f64::INFINITY, "\"Infinity\""),
            (f64::NEG_INFINITY, "\"-Infinity\""),
            (1.5, "1.5"),
        ] {
            let mut out = Vec::new();
            write_value(&mut out, ValueRef::Double(value));
            assert_eq!(out, expected.as_bytes());
        }
    }

    #[test]
    fn bytes_are_base64() {
        let mut out = Vec::new();
        write_value(&mut out, ValueRef::Bytes(&[0, 1, 2, 255]));
        assert_eq!(out, b"\"AAEC/w==\"");
    }
}
