//! The human-readable console format, for development.
//!
//! ```text
//! 2026-11-25T15:42:44.123456789Z  INFO api::http: request handled user_id=42 path="/a" trace_id=… span_id=…
//! ```
//!
//! Control characters, line separators and direction marks in any value are
//! escaped, so one record stays one line and reads as what it holds.

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
            let _ = write!(VecWriter(out), " {}=", Escaped(record.key(attribute.key)));
            match record.value(attribute.value) {
                // Strings are quoted JSON-style so spaces and `=` inside a
                // value cannot be mistaken for the next field.
                value @ (ValueRef::Str(_) | ValueRef::Bytes(_) | ValueRef::Nested(_)) => {
                    write_value(out, value);
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

/// Writes text with what a terminal would act on shown as escapes.
struct Escaped<'a>(&'a str);

impl std::fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for ch in self.0.chars() {
            if crate::diag::acts_on_a_terminal(ch) {
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
}
