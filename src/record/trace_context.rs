//! W3C trace context carried by a record: ids, flags, and their text forms.

use std::fmt;

/// The W3C trace context a log record is correlated with.
///
/// Records emitted inside a span carry the span's context; see the crate
/// documentation for where the ids come from. Neither id is ever all zeros,
/// which W3C Trace Context forbids: every way of making one checks.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceContext {
    pub(crate) trace_id: [u8; 16],
    pub(crate) span_id: [u8; 8],
    pub(crate) flags: u8,
}

impl TraceContext {
    /// The W3C "sampled" flag.
    pub const SAMPLED: u8 = 0x01;

    /// A context with these ids and flags; `None` when either id is all
    /// zeros.
    ///
    /// ```
    /// use otel_log_bridge::TraceContext;
    ///
    /// let context = TraceContext::new([0xab; 16], [0xcd; 8], TraceContext::SAMPLED);
    /// assert!(context.is_some_and(|context| context.is_sampled()));
    /// assert_eq!(TraceContext::new([0; 16], [0xcd; 8], 0), None);
    /// ```
    pub fn new(trace_id: [u8; 16], span_id: [u8; 8], flags: u8) -> Option<TraceContext> {
        (trace_id != [0; 16] && span_id != [0; 8]).then_some(TraceContext {
            trace_id,
            span_id,
            flags,
        })
    }

    /// The 16-byte trace id.
    pub fn trace_id(&self) -> [u8; 16] {
        self.trace_id
    }

    /// The 8-byte span id.
    pub fn span_id(&self) -> [u8; 8] {
        self.span_id
    }

    /// The W3C trace flags; bit 0 is "sampled".
    pub fn flags(&self) -> u8 {
        self.flags
    }

    /// A fresh root context with random, valid ids and no flags set.
    pub fn new_root() -> TraceContext {
        TraceContext {
            trace_id: random_nonzero_u128().to_be_bytes(),
            span_id: random_nonzero_u64().to_be_bytes(),
            flags: 0,
        }
    }

    /// A child of `self`: same trace id and flags, a fresh span id.
    pub fn new_child(&self) -> TraceContext {
        TraceContext {
            trace_id: self.trace_id,
            span_id: random_nonzero_u64().to_be_bytes(),
            flags: self.flags,
        }
    }

    /// Whether the "sampled" flag is set.
    pub fn is_sampled(&self) -> bool {
        self.flags & Self::SAMPLED != 0
    }

    /// Parses a W3C `traceparent` header value (`00-<trace>-<span>-<flags>`).
    ///
    /// Returns `None` for anything the W3C Trace Context specification says
    /// to ignore: a wrong length or version `ff`, non-hex digits, upper-case
    /// hex, or all-zero ids. Future versions are read by their first four
    /// fields, as the specification asks.
    pub fn from_traceparent(header: &str) -> Option<TraceContext> {
        let header = header.trim();
        let mut parts = header.splitn(5, '-');
        let version = parts.next()?;
        let trace = parts.next()?;
        let span = parts.next()?;
        let flags = parts.next()?;
        let rest = parts.next();
        if version.len() != 2 || !is_lower_hex(version) || version == "ff" {
            return None;
        }
        if version == "00" && rest.is_some() {
            return None;
        }
        if trace.len() != 32 || span.len() != 16 || flags.len() != 2 {
            return None;
        }
        if !(is_lower_hex(trace) && is_lower_hex(span) && is_lower_hex(flags)) {
            return None;
        }
        let trace_id = u128::from_str_radix(trace, 16).ok()?;
        let span_id = u64::from_str_radix(span, 16).ok()?;
        let flags = u8::from_str_radix(flags, 16).ok()?;
        if trace_id == 0 || span_id == 0 {
            return None;
        }
        Some(TraceContext {
            trace_id: trace_id.to_be_bytes(),
            span_id: span_id.to_be_bytes(),
            flags,
        })
    }

    /// Renders the version-00 `traceparent` header value for this context.
    pub fn to_traceparent(&self) -> String {
        format!(
            "00-{}-{}-{:02x}",
            Hex(&self.trace_id),
            Hex(&self.span_id),
            self.flags
        )
    }

    /// Writes the trace id as 32 lower-case hex digits.
    pub(crate) fn trace_id_hex(&self) -> Hex<'_> {
        Hex(&self.trace_id)
    }

    /// Writes the span id as 16 lower-case hex digits.
    pub(crate) fn span_id_hex(&self) -> Hex<'_> {
        Hex(&self.span_id)
    }
}

impl fmt::Debug for TraceContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TraceContext")
            .field("trace_id", &format_args!("{}", Hex(&self.trace_id)))
            .field("span_id", &format_args!("{}", Hex(&self.span_id)))
            .field("flags", &format_args!("{:02x}", self.flags))
            .finish()
    }
}

/// Lower-case hex rendering of a byte string.
pub(crate) struct Hex<'a>(pub(crate) &'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl Hex<'_> {
    /// Appends the hex digits to `out` without going through `fmt`.
    pub(crate) fn write_to(&self, out: &mut Vec<u8>) {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        // Digits are gathered on the stack and appended in one copy: a
        // trace id is 32 of them, and pushing each costs a capacity check.
        for bytes in self.0.chunks(16) {
            let mut digits = [0u8; 32];
            for (pair, byte) in digits.chunks_exact_mut(2).zip(bytes) {
                pair[0] = DIGITS[(byte >> 4) as usize];
                pair[1] = DIGITS[(byte & 0x0f) as usize];
            }
            out.extend_from_slice(&digits[..bytes.len() * 2]);
        }
    }
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn random_nonzero_u128() -> u128 {
    loop {
        let id = fastrand::u128(..);
        if id != 0 {
            return id;
        }
    }
}

fn random_nonzero_u64() -> u64 {
    loop {
        let id = fastrand::u64(..);
        if id != 0 {
            return id;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_digits_match_the_formatter_at_every_length() {
        let bytes: Vec<u8> = (0..40u8).map(|i| i.wrapping_mul(37)).collect();
        for len in 0..bytes.len() {
            let mut out = Vec::new();
            Hex(&bytes[..len]).write_to(&mut out);
            let expected: String = bytes[..len].iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(String::from_utf8(out).expect("ASCII"), expected);
        }
    }

    #[test]
    fn traceparent_round_trips() {
        let header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let cx = TraceContext::from_traceparent(header).expect("valid header");
        assert!(cx.is_sampled());
        assert_eq!(cx.to_traceparent(), header);
    }

    #[test]
    fn invalid_traceparents_are_ignored() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
        ] {
            assert_eq!(TraceContext::from_traceparent(bad), None, "{bad:?}");
        }
        // A future version may append fields after the flags.
        assert!(TraceContext::from_traceparent(
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-later"
        )
        .is_some());
    }

    #[test]
    fn children_share_the_trace_and_not_the_span() {
        let root = TraceContext::new_root();
        let child = root.new_child();
        assert_eq!(root.trace_id, child.trace_id);
        assert_ne!(root.span_id, child.span_id);
        assert_ne!(root.trace_id, TraceContext::new_root().trace_id);
    }
}
