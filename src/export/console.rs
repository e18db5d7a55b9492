//! The human-readable console format, for development.
//!
//! ```text
//! 2026-11-25T15:42:44.123456789Z  INFO api::http: request handled user_id=42 path="/a" trace_id=… span_id=…
//! ```
//!
//! Control characters, line separators and direction marks anywhere are
//! escaped, and so is a backslash outside quotes, so one record stays one
//! line and reads as what it holds: no text can pass for an escape, and a
//! key that holds a space, `=` or `"` is quoted like a string value. The
//! body and the scope are not quoted, for reading's sake: a body such as
//! `ok user=admin` looks like a body followed by an attribute. Logs that a
//! program reads back belong in the `json` output, where nothing can pass
//! for anything else.

use std::fmt::Write as _;

use crate::export::json::write_value;
use crate::export::timestamp::write_rfc3339_nanos;
use crate::export::VecWriter;
use crate::record::{Record, ValueRef};

#[derive(Debug, Default)]
pub(crate) struct ConsoleEncoder;

impl ConsoleEncoder {
    pub(crate) fn encode(&self, record: &Record, out: &mut Vec<u8>) {
        write_rfc3339_nanos(out, record.time_unix_nano);
        let _ = write!(
            VecWriter(out),
            " {:>5} {}:",
            record.severity.text,
            Escaped(record.scope_name())
        );
        if let Some(name) = record.event_name {
            let _ = write!(VecWriter(out), " [{}]", Escaped(name));
        }
        if let Some(body) = record.body() {
            let _ = write!(VecWriter(out), " {}", Escaped(body));
        }
        for attribute in record.attributes() {
            let key = record.key(attribute.key);
            if key.contains([' ', '=', '"']) {
                out.push(b' ');
                write_quoted(out, ValueRef::Str(key));
                out.push(b'=');
            } else {
                let _ = write!(VecWriter(out), " {}=", Escaped(key));
            }
            match record.value(attribute.value) {
                // Strings are quoted JSON-style so spaces and `=` inside a
                // value cannot be mistaken for the next field.
                value @ (ValueRef::Str(_) | ValueRef::Bytes(_) | ValueRef::Nested(_)) => {
                    write_quoted(out, value);
                }
                ValueRef::Int(i) => {
                    let _ = write!(VecWriter(out), "{i}");
                }
                // `Debug` switches to an exponent for very large and very
                // small magnitudes, where `Display` writes hundreds of
                // digits.
                ValueRef::Double(f) => {
                    let _ = write!(VecWriter(out), "{f:?}");
                }
                ValueRef::Bool(b) => {
                    let _ = write!(VecWriter(out), "{b}");
                }
            }
        }
        if let Some(trace) = &record.trace {
            out.extend_from_slice(b" trace_id=");
            trace.trace_id_hex().write_to(out);
            out.extend_from_slice(b" span_id=");
            trace.span_id_hex().write_to(out);
        }
        out.push(b'\n');
    }
}

/// Writes a value JSON-style: control characters and line separators are
/// JSON escapes already; direction marks, which JSON leaves as they are,
/// become `\uXXXX` escapes too.
fn write_quoted(out: &mut Vec<u8>, value: ValueRef<'_>) {
    let start = out.len();
    write_value(out, value);
    // Every mark is outside ASCII: most values need no second look.
    if out[start..].is_ascii() {
        return;
    }
    let written = String::from_utf8_lossy(&out[start..]).into_owned();
    out.truncate(start);
    for ch in written.chars() {
        if crate::diag::acts_on_a_terminal(ch) {
            let mut units = [0; 2];
            for unit in ch.encode_utf16(&mut units) {
                let _ = write!(VecWriter(out), "\\u{unit:04x}");
            }
        } else {
            let mut bytes = [0; 4];
            out.extend_from_slice(ch.encode_utf8(&mut bytes).as_bytes());
        }
    }
}

/// Writes text with what a terminal would act on shown as escapes, and a
/// backslash doubled, so that no text passes for an escape.
struct Escaped<'a>(&'a str);

impl std::fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for ch in self.0.chars() {
            if crate::diag::acts_on_a_terminal(ch) || ch == '\\' {
                write!(f, "{}", ch.escape_default())?;
            } else {
                f.write_char(ch)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: the console escaped control characters and line
    /// separators only; a value with a right-to-left override made its
    /// line read as something else than it held.
    #[test]
    fn direction_marks_are_shown_as_escapes() {
        assert_eq!(
            Escaped("user\u{202e}nimda\u{2066}x\u{1b}").to_string(),
            "user\\u{202e}nimda\\u{2066}x\\u{1b}"
        );
    }

    /// Regression: a backslash was written as it was, so a text holding
    /// the characters of an escape read as the character escaped.
    #[test]
    fn a_backslash_is_doubled() {
        assert_ne!(
            Escaped("a\u{1b}").to_string(),
            Escaped("a\\u{1b}").to_string()
        );
        assert_eq!(Escaped("a\\b").to_string(), "a\\\\b");
    }

    /// Regression: direction marks inside a nested value, keys included,
    /// were written as they were.
    #[test]
    fn direction_marks_inside_nested_values_are_escaped() {
        use crate::record::{Key, OnDuplicate, ScopeName, Severity};
        let mut record = Record::default();
        record.reset(0, Severity::INFO, ScopeName::Static("app"));
        let nested = record.push_nested(serde_json::json!({"na\u{2066}me": ["x\u{202e}y"]}));
        record.set_attribute(Key::Static("nested"), nested, OnDuplicate::Replace);
        let mut out = Vec::new();
        ConsoleEncoder.encode(&record, &mut out);
        let line = String::from_utf8(out).expect("UTF-8");
        assert!(
            line.ends_with(&(r#" nested={"na\u2066me":["x\u202ey"]}"#.to_owned() + "\n")),
            "{line}"
        );
    }
}
