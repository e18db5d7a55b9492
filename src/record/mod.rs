//! The one record type that every capture path fills and every sink encodes.
//!
//! A [`Record`] is a reusable buffer: strings are appended to one text arena
//! and attributes refer to them by range, so filling a record for the next
//! event reuses the capacity of the previous one and allocates nothing once
//! warmed up. Encoders read it through [`Record::key`] and [`Record::value`].

pub(crate) mod clock;
mod severity;
mod trace_context;
pub(crate) mod tree;
mod typed_error;

use std::fmt::{self, Write as _};

pub(crate) use self::severity::Severity;
pub(crate) use self::trace_context::Hex;
pub use self::trace_context::TraceContext;
pub use self::typed_error::TypedError;
pub(crate) use self::typed_error::{for_each_cause, CAUSES_LEFT_OUT};

/// Where an attribute key lives: most keys are `&'static str` field names,
/// the rest (from `log` key-values) are copied into the record's arena.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Key {
    Static(&'static str),
    Arena(TextRange),
}

/// A range of the record's text arena.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TextRange {
    start: u32,
    end: u32,
}

/// A typed attribute value as stored in the record.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Value {
    Int(i64),
    Double(f64),
    Bool(bool),
    Str(TextRange),
    StaticStr(&'static str),
    Bytes(TextRange),
    /// An integer beyond the `i64` range, as its decimal text: a string to
    /// encoders (OTLP integers are 64-bit), a number to the length limit,
    /// which must not cut it into another number.
    Numeral(TextRange),
    /// A map or a list, by index into the record's nested values.
    Nested(u32),
}

/// A typed attribute value as encoders see it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum ValueRef<'a> {
    Int(i64),
    Double(f64),
    Bool(bool),
    Str(&'a str),
    Bytes(&'a [u8]),
    /// A map or a list (OTLP `kvlistValue` / `arrayValue`), in its `serde`
    /// data model form.
    Nested(&'a serde_json::Value),
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Attribute {
    pub(crate) key: Key,
    pub(crate) value: Value,
}

/// The instrumentation scope name: a `tracing` target is static, a `log`
/// target may not be.
#[derive(Clone, Copy, Debug)]
pub(crate) enum ScopeName {
    Static(&'static str),
    Arena(TextRange),
}

/// One OpenTelemetry log record, reused from event to event.
#[derive(Debug)]
pub(crate) struct Record {
    pub(crate) time_unix_nano: u64,
    pub(crate) observed_time_unix_nano: u64,
    pub(crate) severity: Severity,
    pub(crate) body: Option<TextRange>,
    pub(crate) scope: ScopeName,
    pub(crate) event_name: Option<&'static str>,
    pub(crate) trace: Option<TraceContext>,
    /// The `tracing` callsite the record came from, by the address of its
    /// metadata: what sinks key per-callsite caches on.
    pub(crate) callsite: Option<usize>,
    /// The attributes, by index, whose keys and values are the same for
    /// every record of the callsite (the source location), when all of them
    /// were added: a sink may encode them once per callsite.
    pub(crate) callsite_attributes: Option<(u32, u32)>,
    attributes: Vec<Attribute>,
    /// One bit per key hash: a cheap first test before comparing keys, so
    /// that de-duplicating stays linear in the usual case.
    key_bloom: u64,
    text: String,
    bytes: Vec<u8>,
    /// Maps and lists; rare, so kept as owned trees rather than in the
    /// arenas.
    nested: Vec<serde_json::Value>,
    /// Set while the first error field of the event has been mapped to
    /// `exception.*`; later error fields keep their own keys.
    pub(crate) has_exception: bool,
    /// Set for an event given `parent: None`: it asked for no trace, even
    /// one an OpenTelemetry context would give it.
    pub(crate) detached: bool,
    /// Attributes not kept because of the count limit.
    pub(crate) dropped_attributes: u32,
    /// The keys of those attributes: a later attribute with one of them
    /// would have been a duplicate, not one more attribute, and is not
    /// counted again. At most [`DROPPED_KEYS_KEPT`] are kept, so that a
    /// record with a great many keys over the limit costs no more per key
    /// than one with a few; beyond them, a repeated key counts again.
    dropped_keys: Vec<Key>,
    /// One bit per dropped key's hash, a cheap first test.
    dropped_bloom: u64,
    limits: AttributeLimits,
}

/// The SDK's attribute limits (`OTEL_LOGRECORD_ATTRIBUTE_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AttributeLimits {
    /// At most this many attributes per record (default 128).
    pub(crate) count: usize,
    /// String values are cut to this many characters, byte values to this
    /// many bytes (default: no limit).
    pub(crate) value_length: Option<usize>,
}

impl Default for AttributeLimits {
    fn default() -> Self {
        AttributeLimits {
            count: 128,
            value_length: None,
        }
    }
}

impl Default for Record {
    fn default() -> Self {
        Record {
            time_unix_nano: 0,
            observed_time_unix_nano: 0,
            severity: Severity::INFO,
            body: None,
            scope: ScopeName::Static(""),
            event_name: None,
            trace: None,
            callsite: None,
            callsite_attributes: None,
            attributes: Vec::with_capacity(16),
            key_bloom: 0,
            text: String::with_capacity(256),
            bytes: Vec::new(),
            nested: Vec::new(),
            has_exception: false,
            detached: false,
            dropped_attributes: 0,
            dropped_keys: Vec::new(),
            dropped_bloom: 0,
            limits: AttributeLimits::default(),
        }
    }
}

/// Whether a new attribute replaces one with the same key or yields to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OnDuplicate {
    /// A later field of the same event replaces an earlier one.
    Replace,
    /// Span fields yield to event fields and to spans nearer the event.
    Keep,
}

impl Record {
    /// Clears the record for the next event, keeping every buffer's capacity.
    /// Applies `limits` to the attributes set from now on.
    pub(crate) fn set_limits(&mut self, limits: AttributeLimits) {
        self.limits = limits;
    }

    pub(crate) fn reset(&mut self, now: u64, severity: Severity, scope: ScopeName) {
        self.time_unix_nano = now;
        self.observed_time_unix_nano = now;
        self.severity = severity;
        self.body = None;
        self.scope = scope;
        self.event_name = None;
        self.trace = None;
        self.callsite = None;
        self.callsite_attributes = None;
        clear_scratch(&mut self.attributes);
        self.key_bloom = 0;
        clear_scratch_text(&mut self.text);
        clear_scratch(&mut self.bytes);
        clear_scratch(&mut self.nested);
        self.has_exception = false;
        self.detached = false;
        self.dropped_attributes = 0;
        self.dropped_keys.clear();
        self.dropped_bloom = 0;
    }

    pub(crate) fn attributes(&self) -> &[Attribute] {
        &self.attributes
    }

    pub(crate) fn text(&self, range: TextRange) -> &str {
        // The ranges are only ever produced by this type from char
        // boundaries of `text`, so the lookup cannot fail; the fallback keeps
        // "never panics" true even if that changed.
        self.text
            .get(range.start as usize..range.end as usize)
            .unwrap_or_default()
    }

    pub(crate) fn key(&self, key: Key) -> &str {
        match key {
            Key::Static(s) => s,
            Key::Arena(range) => self.text(range),
        }
    }

    pub(crate) fn scope_name(&self) -> &str {
        match self.scope {
            ScopeName::Static(s) => s,
            ScopeName::Arena(range) => self.text(range),
        }
    }

    pub(crate) fn body(&self) -> Option<&str> {
        self.body.map(|range| self.text(range))
    }

    pub(crate) fn value(&self, value: Value) -> ValueRef<'_> {
        match value {
            Value::Int(i) => ValueRef::Int(i),
            Value::Double(f) => ValueRef::Double(f),
            Value::Bool(b) => ValueRef::Bool(b),
            Value::Str(range) | Value::Numeral(range) => ValueRef::Str(self.text(range)),
            Value::StaticStr(s) => ValueRef::Str(s),
            Value::Bytes(range) => ValueRef::Bytes(
                self.bytes
                    .get(range.start as usize..range.end as usize)
                    .unwrap_or_default(),
            ),
            Value::Nested(index) => match self.nested.get(index as usize) {
                Some(tree) => ValueRef::Nested(tree),
                None => ValueRef::Str(""),
            },
        }
    }

    /// Appends `s` to the arena and returns its range.
    pub(crate) fn push_text(&mut self, s: &str) -> TextRange {
        let start = self.text.len();
        self.text.push_str(s);
        self.range_from(start)
    }

    /// Formats `args` into the arena and returns the range written.
    pub(crate) fn push_fmt(&mut self, args: fmt::Arguments<'_>) -> TextRange {
        let start = self.text.len();
        // Writing into a `String` only fails when a `Display` impl returns an
        // error; whatever it wrote before failing is kept, as `format!`
        // would not be able to do.
        let _ = self.text.write_fmt(args);
        self.range_from(start)
    }

    /// Formats `value` with `Debug` into the arena.
    pub(crate) fn push_debug(&mut self, value: &dyn fmt::Debug) -> TextRange {
        self.push_fmt(format_args!("{value:?}"))
    }

    /// Gives direct access to the arena for multi-part strings; the caller
    /// turns what it wrote into a range with [`Record::text_range`].
    pub(crate) fn text_mut(&mut self) -> &mut String {
        &mut self.text
    }

    /// The arena range `range`, as written through [`Record::text_mut`].
    pub(crate) fn text_range(&self, range: std::ops::Range<usize>) -> TextRange {
        TextRange {
            start: clamp_u32(range.start),
            end: clamp_u32(range.end),
        }
    }

    pub(crate) fn range_from(&self, start: usize) -> TextRange {
        TextRange {
            start: clamp_u32(start),
            end: clamp_u32(self.text.len()),
        }
    }

    pub(crate) fn push_bytes(&mut self, b: &[u8]) -> TextRange {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(b);
        TextRange {
            start: clamp_u32(start),
            end: clamp_u32(self.bytes.len()),
        }
    }

    /// The record's maps and lists, for rewriting in place (redaction).
    pub(crate) fn nested_mut(&mut self) -> &mut [serde_json::Value] {
        &mut self.nested
    }

    /// Keeps a map or list and returns the value that refers to it.
    pub(crate) fn push_nested(&mut self, tree: serde_json::Value) -> Value {
        self.nested.push(tree);
        Value::Nested(clamp_u32(self.nested.len() - 1))
    }

    pub(crate) fn set_body_text(&mut self, s: &str) {
        self.body = Some(self.push_text(s));
    }

    /// Whether an attribute named `key` would be dropped for the count
    /// limit: the record is full and holds none of that name. Its value
    /// need not be made then.
    pub(crate) fn is_full_without(&self, key: &str) -> bool {
        self.attributes.len() >= self.limits.count
            && (self.key_bloom & key_bit(key) == 0
                || !self
                    .attributes
                    .iter()
                    .any(|attribute| self.key(attribute.key) == key))
    }

    /// Counts an attribute named `key` as dropped for the count limit, as
    /// [`Record::set_attribute`] would on a full record (see
    /// [`Record::is_full_without`]), without its value; the key is copied
    /// only when it is one of those remembered.
    pub(crate) fn drop_attribute(&mut self, key: &str) {
        if key.is_empty() {
            self.dropped_attributes = self.dropped_attributes.saturating_add(1);
            return;
        }
        if self.was_dropped(key) {
            return;
        }
        if self.dropped_keys.len() < DROPPED_KEYS_KEPT {
            let kept = Key::Arena(self.push_text(key));
            self.dropped_keys.push(kept);
            self.dropped_bloom |= key_bit(key);
        }
        self.dropped_attributes = self.dropped_attributes.saturating_add(1);
    }

    /// Whether an attribute named `key` was dropped already, as far as the
    /// remembered keys tell.
    fn was_dropped(&self, key: &str) -> bool {
        self.dropped_bloom & key_bit(key) != 0
            && self
                .dropped_keys
                .iter()
                .any(|dropped| self.key(*dropped) == key)
    }

    /// Adds an attribute, resolving a duplicate key as `on_duplicate` says.
    /// Returns whether the key was new and kept (not a duplicate, not over
    /// the count limit, not empty).
    pub(crate) fn set_attribute(
        &mut self,
        key: Key,
        value: Value,
        on_duplicate: OnDuplicate,
    ) -> bool {
        // The OpenTelemetry common specification does not allow an empty
        // attribute key (`tracing`'s `"" = 1`, `log`'s too): it is left
        // out, and counted as dropped.
        if self.key(key).is_empty() {
            self.dropped_attributes = self.dropped_attributes.saturating_add(1);
            return false;
        }
        let bit = key_bit(self.key(key));
        if self.key_bloom & bit != 0 {
            let wanted = self.key(key);
            let existing = self
                .attributes
                .iter()
                .position(|attr| self.key(attr.key) == wanted);
            if let Some(index) = existing {
                if on_duplicate == OnDuplicate::Replace {
                    self.attributes[index].value = value;
                }
                return false;
            }
        }
        if self.attributes.len() >= self.limits.count {
            if !self.was_dropped(self.key(key)) {
                if self.dropped_keys.len() < DROPPED_KEYS_KEPT {
                    self.dropped_keys.push(key);
                    self.dropped_bloom |= bit;
                }
                self.dropped_attributes = self.dropped_attributes.saturating_add(1);
            }
            return false;
        }
        self.key_bloom |= bit;
        self.attributes.push(Attribute { key, value });
        true
    }

    /// Cuts every attribute value to the length limit, strings inside maps
    /// and lists included. It runs once the record is complete, after
    /// redaction: a token cut short first would no longer be recognised as
    /// one, and its beginning would be exported.
    pub(crate) fn limit_value_lengths(&mut self) {
        let Some(limit) = self.limits.value_length else {
            return;
        };
        for index in 0..self.attributes.len() {
            let value = self.limit_length(self.attributes[index].value);
            self.attributes[index].value = value;
        }
        for tree in &mut self.nested {
            limit_tree_lengths(tree, limit);
        }
    }

    /// Cuts a string value to the length limit in characters (on a
    /// character boundary) and a byte value to the limit in bytes.
    fn limit_length(&self, value: Value) -> Value {
        let Some(limit) = self.limits.value_length else {
            return value;
        };
        match value {
            Value::Str(range) => {
                let text = self.text(range);
                match text.char_indices().nth(limit) {
                    Some((cut, _)) => Value::Str(TextRange {
                        start: range.start,
                        end: range.start + clamp_u32(cut),
                    }),
                    None => value,
                }
            }
            Value::StaticStr(text) => match text.char_indices().nth(limit) {
                Some((cut, _)) => Value::StaticStr(&text[..cut]),
                None => value,
            },
            Value::Bytes(range) if (range.end - range.start) as usize > limit => {
                Value::Bytes(TextRange {
                    start: range.start,
                    end: range.start + clamp_u32(limit),
                })
            }
            other => other,
        }
    }

    /// Adds an attribute whose key is static, copying a borrowed value into
    /// the record. Returns what [`Record::set_attribute`] returns.
    pub(crate) fn set_ref(
        &mut self,
        key: &'static str,
        value: ValueRef<'_>,
        on_duplicate: OnDuplicate,
    ) -> bool {
        let value = match value {
            ValueRef::Int(i) => Value::Int(i),
            ValueRef::Double(f) => Value::Double(f),
            ValueRef::Bool(b) => Value::Bool(b),
            ValueRef::Str(text) => Value::Str(self.push_text(text)),
            ValueRef::Bytes(bytes) => Value::Bytes(self.push_bytes(bytes)),
            ValueRef::Nested(tree) => self.push_nested(tree.clone()),
        };
        self.set_attribute(Key::Static(key), value, on_duplicate)
    }

    /// Adds an attribute of the record `from` under a static key, keeping
    /// its kind: a numeral stays one, which the length limit does not cut
    /// into another number. Returns what [`Record::set_attribute`] returns.
    pub(crate) fn set_copied(
        &mut self,
        key: &'static str,
        from: &Record,
        value: Value,
        on_duplicate: OnDuplicate,
    ) -> bool {
        match value {
            Value::Numeral(range) => {
                let numeral = Value::Numeral(self.push_text(from.text(range)));
                self.set_attribute(Key::Static(key), numeral, on_duplicate)
            }
            value => self.set_ref(key, from.value(value), on_duplicate),
        }
    }

    /// Adds a string attribute whose key is static.
    /// Returns what [`Record::set_attribute`] returns.
    pub(crate) fn set_str(
        &mut self,
        key: &'static str,
        value: &str,
        on_duplicate: OnDuplicate,
    ) -> bool {
        let range = self.push_text(value);
        self.set_attribute(Key::Static(key), Value::Str(range), on_duplicate)
    }

    /// Replaces the body and the string values for which `rewrite` returns
    /// a new text; returns how many were replaced.
    pub(crate) fn rewrite_strings(
        &mut self,
        mut rewrite: impl FnMut(&str) -> Option<String>,
    ) -> u64 {
        let mut replaced = 0;
        if let Some(new) = self.body().and_then(&mut rewrite) {
            self.body = Some(self.push_text(&new));
            replaced += 1;
        }
        for index in 0..self.attributes.len() {
            let new = match self.attributes[index].value {
                Value::Str(range) => rewrite(self.text(range)),
                Value::StaticStr(text) => rewrite(text),
                _ => None,
            };
            if let Some(new) = new {
                self.attributes[index].value = Value::Str(self.push_text(&new));
                replaced += 1;
            }
        }
        replaced
    }

    pub(crate) fn has_key(&self, wanted: &str) -> bool {
        self.key_bloom & key_bit(wanted) != 0
            && self
                .attributes
                .iter()
                .any(|attr| self.key(attr.key) == wanted)
    }
}

/// How many keys dropped at the count limit a record remembers.
const DROPPED_KEYS_KEPT: usize = 64;

/// How much memory a per-thread scratch buffer keeps from one record to
/// the next once it gives memory back: enough for any usual record, so
/// that it is reused as it is, while a thread that once logged a huge value
/// does not keep that value's size for as long as it lives.
pub(crate) const SCRATCH_KEPT_BYTES: usize = 64 * 1024;

/// How large a scratch buffer may grow before it gives memory back, as a
/// multiple of [`SCRATCH_KEPT_BYTES`]: records a little larger than that,
/// logged one after another, must not each pay for shrinking the buffer
/// and growing it again.
const SCRATCH_SLACK: usize = 4;

/// Empties a scratch buffer, giving back its memory down to
/// [`SCRATCH_KEPT_BYTES`] once it holds more than [`SCRATCH_SLACK`] times
/// that.
pub(crate) fn clear_scratch<T>(buffer: &mut Vec<T>) {
    buffer.clear();
    let kept = SCRATCH_KEPT_BYTES / std::mem::size_of::<T>().max(1);
    if buffer.capacity() > SCRATCH_SLACK * kept {
        buffer.shrink_to(kept);
    }
}

/// [`clear_scratch`] for text.
pub(crate) fn clear_scratch_text(text: &mut String) {
    text.clear();
    if text.capacity() > SCRATCH_SLACK * SCRATCH_KEPT_BYTES {
        text.shrink_to(SCRATCH_KEPT_BYTES);
    }
}

/// `args` formatted. A `Display` or `Debug` impl that returns an error
/// keeps what it wrote before failing, where `format!` and `to_string`
/// would panic.
pub(crate) fn format_lossy(args: fmt::Arguments<'_>) -> String {
    let mut text = String::new();
    let _ = text.write_fmt(args);
    text
}

fn clamp_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Picks one of 64 bits from the key's length and its first and last bytes,
/// which separates the short, distinct keys of a typical event well.
pub(crate) fn key_bit(key: &str) -> u64 {
    let bytes = key.as_bytes();
    let first = bytes.first().copied().unwrap_or(0) as u64;
    let last = bytes.last().copied().unwrap_or(0) as u64;
    let mix = (bytes.len() as u64)
        .wrapping_mul(31)
        .wrapping_add(first.wrapping_mul(7))
        .wrapping_add(last);
    1u64 << (mix % 64)
}

/// Stores a `u64` as an OTLP integer when it fits in `i64`, else as a string,
/// since OTLP integers are signed 64-bit.
pub(crate) fn unsigned_value(record: &mut Record, value: u64) -> Value {
    match i64::try_from(value) {
        Ok(i) => Value::Int(i),
        Err(_) => Value::Numeral(record.push_fmt(format_args!("{value}"))),
    }
}

pub(crate) fn i128_value(record: &mut Record, value: i128) -> Value {
    match i64::try_from(value) {
        Ok(i) => Value::Int(i),
        Err(_) => Value::Numeral(record.push_fmt(format_args!("{value}"))),
    }
}

pub(crate) fn u128_value(record: &mut Record, value: u128) -> Value {
    match i64::try_from(value) {
        Ok(i) => Value::Int(i),
        Err(_) => Value::Numeral(record.push_fmt(format_args!("{value}"))),
    }
}

/// Cuts the strings of a map or list to `limit` characters, at every depth,
/// as the attribute limits ask of nested values. A number is never cut:
/// inside a tree, integers beyond 64 bits and non-finite floats are
/// strings (see `tree`), so a string that is exactly such a number's text
/// is left whole, where cutting it would make another number. Those texts
/// are at most 40 characters, which bounds what the limit lets through.
fn limit_tree_lengths(tree: &mut serde_json::Value, limit: usize) {
    match tree {
        serde_json::Value::String(text) if is_number_text(text) => {}
        serde_json::Value::String(text) => {
            if let Some((cut, _)) = text.char_indices().nth(limit) {
                text.truncate(cut);
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                limit_tree_lengths(item, limit);
            }
        }
        serde_json::Value::Object(entries) => {
            for (_, value) in entries.iter_mut() {
                limit_tree_lengths(value, limit);
            }
        }
        _ => {}
    }
}

/// Whether `text` is how a tree writes a number that JSON cannot hold: an
/// integer of up to 128 bits, `NaN`, `Infinity` or `-Infinity`.
pub(crate) fn is_number_text(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    tree::non_finite_double(text).is_some()
        || (!digits.is_empty()
            && digits.len() <= 39
            && digits.bytes().all(|byte| byte.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: the thread's scratch record kept the size of the
    /// largest record it ever held, for as long as the thread lived.
    #[test]
    fn a_reset_gives_back_what_a_huge_record_took() {
        let mut record = Record::default();
        let huge = "h".repeat(8 * SCRATCH_KEPT_BYTES);
        let text = record.push_text(&huge);
        record.set_attribute(Key::Static("huge"), Value::Str(text), OnDuplicate::Replace);
        // Many trees, each value of its own.
        for index in 0..100_000 {
            record.push_nested(serde_json::Value::from(index));
        }
        record.reset(0, Severity::INFO, ScopeName::Static("scope"));
        assert!(record.text.capacity() <= SCRATCH_KEPT_BYTES);
        let nested = record.nested.capacity() * std::mem::size_of::<serde_json::Value>();
        assert!(nested <= SCRATCH_KEPT_BYTES, "{nested}");
    }

    #[test]
    fn later_duplicate_replaces_and_kept_duplicate_yields() {
        let mut record = Record::default();
        record.set_attribute(Key::Static("a"), Value::Int(1), OnDuplicate::Replace);
        record.set_attribute(Key::Static("a"), Value::Int(2), OnDuplicate::Replace);
        record.set_attribute(Key::Static("a"), Value::Int(3), OnDuplicate::Keep);
        assert_eq!(record.attributes().len(), 1);
        assert_eq!(record.value(record.attributes()[0].value), ValueRef::Int(2));
    }

    #[test]
    fn limits_drop_extra_attributes_and_cut_values_on_char_boundaries() {
        let mut record = Record::default();
        record.set_limits(AttributeLimits {
            count: 2,
            value_length: Some(3),
        });
        record.set_str("a", "héllo", OnDuplicate::Replace);
        record.set_attribute(
            Key::Static("b"),
            Value::StaticStr("wörld"),
            OnDuplicate::Replace,
        );
        record.set_attribute(Key::Static("c"), Value::Int(1), OnDuplicate::Replace);
        // A duplicate of a kept key still replaces it at the limit.
        record.set_attribute(Key::Static("a"), Value::Int(7), OnDuplicate::Replace);
        // Regression: a dropped key given again (by an outer span, say) was
        // counted again, though it would have been a duplicate.
        record.set_attribute(Key::Static("c"), Value::Int(2), OnDuplicate::Keep);
        record.limit_value_lengths();
        assert_eq!(record.dropped_attributes, 1);
        let values: Vec<_> = record
            .attributes()
            .iter()
            .map(|a| record.value(a.value))
            .collect();
        assert_eq!(values, vec![ValueRef::Int(7), ValueRef::Str("wör")]);
        let mut record = Record::default();
        record.set_limits(AttributeLimits {
            count: 10,
            value_length: Some(3),
        });
        record.set_str("s", "héllo", OnDuplicate::Replace);
        let bytes = record.push_bytes(&[1, 2, 3, 4]);
        record.set_attribute(Key::Static("b"), Value::Bytes(bytes), OnDuplicate::Replace);
        let nested =
            record.push_nested(serde_json::json!({"k": ["abcdef", {"n": "wörld"}], "i": 12345}));
        record.set_attribute(Key::Static("n"), nested, OnDuplicate::Replace);
        record.limit_value_lengths();
        assert_eq!(
            record.value(record.attributes()[0].value),
            ValueRef::Str("hél")
        );
        assert_eq!(
            record.value(record.attributes()[2].value),
            ValueRef::Nested(&serde_json::json!({"k": ["abc", {"n": "wör"}], "i": 12345}))
        );
        assert_eq!(
            record.value(record.attributes()[1].value),
            ValueRef::Bytes(&[1, 2, 3])
        );
    }

    #[test]
    fn arena_keys_compare_by_content() {
        let mut record = Record::default();
        let key = record.push_text("user.id");
        record.set_attribute(Key::Arena(key), Value::Int(1), OnDuplicate::Replace);
        record.set_attribute(Key::Static("user.id"), Value::Int(2), OnDuplicate::Keep);
        assert_eq!(record.attributes().len(), 1);
        assert!(record.has_key("user.id"));
        assert!(!record.has_key("user"));
    }

    #[test]
    fn integers_beyond_i64_become_strings() {
        let mut record = Record::default();
        let v = unsigned_value(&mut record, u64::MAX);
        assert_eq!(record.value(v), ValueRef::Str("18446744073709551615"));
        let v = i128_value(&mut record, -5);
        assert_eq!(record.value(v), ValueRef::Int(-5));
        let v = u128_value(&mut record, u128::MAX);
        assert_eq!(
            record.value(v),
            ValueRef::Str("340282366920938463463374607431768211455")
        );
    }
}
