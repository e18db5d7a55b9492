//! Field visitors: `tracing` fields into a record's typed attributes.

use std::error::Error;
use std::fmt;
use std::ops::Range;

use tracing_core::field::{Field, Visit};

#[cfg(all(tracing_unstable, feature = "valuable"))]
use crate::capture::redact::WITHHELD;
use crate::capture::redact::{is_masked, RedactionSettings, REDACTED};
#[cfg(all(tracing_unstable, feature = "valuable"))]
use crate::record::tree::{Tree, Unserializable, TOO_DEEP};
use crate::record::TypedError;
use crate::record::{
    format_lossy, i128_value, u128_value, unsigned_value, Key, OnDuplicate, Record, TextRange,
    Value, ValueRef,
};

/// The field whose value becomes the record's body.
pub(crate) const MESSAGE: &str = "message";

/// Visits an event's fields into a record: `message` becomes the body,
/// everything else a typed attribute, and the first error field becomes the
/// `exception.*` attributes.
pub(crate) struct EventVisitor<'r> {
    pub(crate) record: &'r mut Record,
    /// The fields to redact, by index (see `redact`).
    pub(crate) redact_mask: u64,
    /// What decides for fields beyond the mask's 64.
    pub(crate) redaction: &'r RedactionSettings,
    /// How many values were redacted.
    pub(crate) redacted: u64,
    /// For a `log` record that `tracing-log` forwarded as an event (see
    /// [`is_forwarded_log`]): where its `log.*` fields go instead of the
    /// attributes.
    pub(crate) forwarded_log: Option<ForwardedLog>,
}

/// The name `tracing-log` gives the events it makes from `log` records.
const FORWARDED_LOG_NAME: &str = "log event";

/// Whether events of this callsite are `log` records that `tracing-log`
/// (`LogTracer`, which `tracing_subscriber`'s `init()` installs) forwarded.
/// One such callsite serves every record of a level: the record's own
/// target, file and line are in its `log.*` fields, not in the metadata.
pub(crate) fn is_forwarded_log(metadata: &tracing_core::Metadata<'_>) -> bool {
    metadata.name() == FORWARDED_LOG_NAME && metadata.fields().field("log.target").is_some()
}

/// The `log.*` fields of a forwarded `log` record: its target, which names
/// the scope, and its source location, which becomes the `code.*`
/// attributes, as for records the `log` bridge receives itself.
#[derive(Debug, Default)]
pub(crate) struct ForwardedLog {
    pub(crate) target: Option<TextRange>,
    pub(crate) file: Option<TextRange>,
    pub(crate) line: Option<u32>,
}

impl EventVisitor<'_> {
    /// Keeps a forwarded record's `log.*` field in [`ForwardedLog`];
    /// returns whether it did. `log.module_path` is dropped: the `log`
    /// bridge does not export it either.
    fn keep_forwarded(&mut self, field: &Field, value: Value) -> bool {
        let Some(forwarded) = &mut self.forwarded_log else {
            return false;
        };
        match (field.name(), value) {
            ("log.target", Value::Str(text)) => forwarded.target = Some(text),
            ("log.file", Value::Str(text)) => forwarded.file = Some(text),
            ("log.line", Value::Int(line)) => forwarded.line = u32::try_from(line).ok(),
            ("log.module_path", _) => {}
            _ => return false,
        }
        true
    }

    fn set(&mut self, field: &Field, value: Value) {
        if self.keep_forwarded(field, value) {
            return;
        }
        let value = if is_masked(self.redact_mask, field, self.redaction) {
            self.redacted += 1;
            Value::StaticStr(REDACTED)
        } else {
            value
        };
        self.record
            .set_attribute(Key::Static(field.name()), value, OnDuplicate::Replace);
    }

    fn set_text(&mut self, field: &Field, text: TextRange) {
        if field.name() == MESSAGE {
            self.record.body = Some(text);
        } else {
            self.set(field, Value::Str(text));
        }
    }
}

impl Visit for EventVisitor<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.set(field, Value::Double(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.set(field, Value::Int(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        let value = unsigned_value(self.record, value);
        self.set(field, value);
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        let value = i128_value(self.record, value);
        self.set(field, value);
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        let value = u128_value(self.record, value);
        self.set(field, value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.set(field, Value::Bool(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        let text = self.record.push_text(value);
        self.set_text(field, text);
    }

    fn record_bytes(&mut self, field: &Field, value: &[u8]) {
        let bytes = self.record.push_bytes(value);
        self.set(field, Value::Bytes(bytes));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn Error + 'static)) {
        if is_masked(self.redact_mask, field, self.redaction) {
            // A secret-named error field must not leak through the
            // exception attributes either.
            self.set(field, Value::StaticStr(REDACTED));
        } else if self.record.has_exception {
            // The exception attributes describe one error; a second error
            // field keeps its own key rather than overwriting the first.
            let text = self.record.push_fmt(format_args!("{value}"));
            self.set(field, Value::Str(text));
        } else {
            record_exception(self.record, value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // A secret-named field is not formatted at all: its `Debug` or
        // `Display` impl is the program's code, which may copy or log the
        // secret elsewhere, and the text would be thrown away.
        if field.name() != MESSAGE && is_masked(self.redact_mask, field, self.redaction) {
            self.set(field, Value::StaticStr(REDACTED));
            return;
        }
        let text = self.record.push_debug(value);
        self.set_text(field, text);
    }

    #[cfg(all(tracing_unstable, feature = "valuable"))]
    fn record_value(&mut self, field: &Field, value: valuable::Value<'_>) {
        // Maps, lists and structs keep their structure (kvlist / array
        // values); anything else is recorded as its `Debug` text, as
        // `tracing` would. A field redacted whole is not converted: the
        // redaction of maps and lists, which runs on every tree the record
        // holds, would count the secrets inside it too.
        if is_masked(self.redact_mask, field, self.redaction) {
            self.set(field, Value::StaticStr(REDACTED));
            return;
        }
        match valuable_tree(value, self.redaction, &mut self.redacted) {
            ValuableTree::Tree(tree) => {
                let nested = self.record.push_nested(tree);
                self.set(field, nested);
            }
            ValuableTree::Text => self.record_debug(field, &value),
            ValuableTree::Marker(text) => self.set(field, Value::StaticStr(text)),
        }
    }
}

/// What a `valuable` value is recorded as.
#[cfg(all(tracing_unstable, feature = "valuable"))]
pub(crate) enum ValuableTree {
    /// A map, a list or a struct, with the secret-named keys inside it
    /// redacted (and counted).
    Tree(serde_json::Value),
    /// Anything else: its `Debug` text, as `tracing` records it.
    Text,
    /// A value whose serialization failed, kept as a fixed text instead of
    /// its `Debug` text: [`WITHHELD`](crate::capture::redact::WITHHELD)
    /// while redaction is on (counted), since that text would show its
    /// secret-named parts in clear; [`TOO_DEEP`] when it nests too deep
    /// for its `Debug` text to be made safely.
    Marker(&'static str),
}

/// Converts a `valuable` value (see [`ValuableTree`]), counting what it
/// redacts in `redacted`.
#[cfg(all(tracing_unstable, feature = "valuable"))]
pub(crate) fn valuable_tree(
    value: valuable::Value<'_>,
    redaction: &RedactionSettings,
    redacted: &mut u64,
) -> ValuableTree {
    let tree = crate::record::tree::to_tree(&valuable_serde::Serializable::new(value), |tree| {
        *redacted += redaction.redact_tree(tree);
    });
    match tree {
        Ok(Tree::Value(tree @ (serde_json::Value::Array(_) | serde_json::Value::Object(_)))) => {
            ValuableTree::Tree(tree)
        }
        Ok(_) => ValuableTree::Text,
        // A value inside failed (a path that is no UTF-8, an error of a
        // hand-written impl), before the keys could be redacted.
        Err(_) if redaction.is_active() => {
            *redacted += 1;
            ValuableTree::Marker(WITHHELD)
        }
        Err(Unserializable::TooDeepToFormat) => ValuableTree::Marker(TOO_DEEP),
        Err(Unserializable::Formattable) => ValuableTree::Text,
    }
}

/// A value of an `exception.*` attribute: static, or the range of the text
/// it was formatted into.
pub(crate) enum ExceptionValue {
    Static(&'static str),
    Text(Range<usize>),
}

/// The attributes an error maps to, in this order: `exception.type` (only
/// when a [`TypedError`] captured it), `exception.message`, and
/// `exception.stacktrace` (its `source()` chain, one "caused by" line per
/// source, when it has one). Texts are formatted onto the end of `text`.
pub(crate) fn exception_attributes(
    error: &(dyn Error + 'static),
    text: &mut String,
) -> [Option<(&'static str, ExceptionValue)>; 3] {
    use std::fmt::Write as _;
    // Writing into a `String` only fails when a `Display` impl returns an
    // error; what it wrote before failing is kept.
    let typed = error.downcast_ref::<TypedError>();
    let type_name = typed
        .and_then(TypedError::type_name)
        .map(|name| ("exception.type", ExceptionValue::Static(name)));
    let message_start = text.len();
    let _ = write!(text, "{error}");
    let message = Some((
        "exception.message",
        ExceptionValue::Text(message_start..text.len()),
    ));
    let has_causes = match typed {
        Some(typed) => !typed.causes().is_empty(),
        None => error.source().is_some(),
    };
    if !has_causes {
        return [type_name, message, None];
    }
    // The stack trace starts with the message again, copied rather than
    // formatted twice: a `Display` impl is the program's code, which may be
    // costly, count its calls, or say something else the second time.
    let start = text.len();
    text.extend_from_within(message_start..start);
    match typed {
        Some(typed) => {
            for cause in typed.causes() {
                let _ = write!(text, "\ncaused by: {cause}");
            }
        }
        None => crate::record::for_each_cause(error.source(), |cause| {
            let _ = match cause {
                Some(cause) => write!(text, "\ncaused by: {cause}"),
                None => write!(text, "\ncaused by: {}", crate::record::CAUSES_LEFT_OUT),
            };
        }),
    }
    let stacktrace = (
        "exception.stacktrace",
        ExceptionValue::Text(start..text.len()),
    );
    [type_name, message, Some(stacktrace)]
}

/// Maps an error to its `exception.*` attributes (see
/// [`exception_attributes`]).
pub(crate) fn record_exception(record: &mut Record, error: &(dyn Error + 'static)) {
    record.has_exception = true;
    for (key, value) in exception_attributes(error, record.text_mut())
        .into_iter()
        .flatten()
    {
        let value = match value {
            ExceptionValue::Static(text) => Value::StaticStr(text),
            ExceptionValue::Text(range) => Value::Str(record.text_range(range)),
        };
        // A field the program named `exception.*` itself wins, whichever
        // order the fields come in: fields given after the error replace
        // these, so fields given before it are kept.
        record.set_attribute(Key::Static(key), value, OnDuplicate::Keep);
    }
}

/// A span field value, owned because spans outlive the call that set it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum OwnedValue {
    Int(i64),
    Double(f64),
    Bool(bool),
    Str(Box<str>),
    /// An integer beyond the `i64` range, as its decimal text (see
    /// [`Value::Numeral`]).
    Numeral(Box<str>),
    Bytes(Box<[u8]>),
    /// A map or list, from a `valuable` field.
    #[cfg(all(tracing_unstable, feature = "valuable"))]
    Nested(Box<serde_json::Value>),
}

impl OwnedValue {
    /// The value as encoders read it.
    pub(crate) fn as_value_ref(&self) -> ValueRef<'_> {
        match self {
            OwnedValue::Int(i) => ValueRef::Int(*i),
            OwnedValue::Double(f) => ValueRef::Double(*f),
            OwnedValue::Bool(b) => ValueRef::Bool(*b),
            OwnedValue::Str(s) | OwnedValue::Numeral(s) => ValueRef::Str(s),
            OwnedValue::Bytes(b) => ValueRef::Bytes(b),
            #[cfg(all(tracing_unstable, feature = "valuable"))]
            OwnedValue::Nested(tree) => ValueRef::Nested(tree),
        }
    }
}

/// Collects span fields, replacing a value when `Span::record` sets it again.
pub(crate) struct SpanFieldVisitor<'a> {
    pub(crate) fields: &'a mut Vec<(&'static str, OwnedValue)>,
    pub(crate) filter: &'a crate::capture::SpanFields,
    pub(crate) redaction: &'a RedactionSettings,
    /// How many values were redacted.
    pub(crate) redacted: u64,
}

impl SpanFieldVisitor<'_> {
    /// Keeps the field's value, made by `value` only when the field is kept
    /// and not redacted: as for events, a secret-named field, or one the
    /// span-field list leaves out, is never formatted, which would run the
    /// program's code over a value nobody reads.
    fn set(&mut self, field: &Field, value: impl FnOnce() -> OwnedValue) {
        let name = field.name();
        // An empty name would be an empty attribute key, which no record
        // may carry.
        if name.is_empty() || !self.filter.allows(name) {
            return;
        }
        let value = if self.redaction.is_sensitive(name) {
            self.redacted += 1;
            OwnedValue::Str(REDACTED.into())
        } else {
            value()
        };
        match self.fields.iter_mut().find(|(key, _)| *key == name) {
            Some(slot) => slot.1 = value,
            None => self.fields.push((name, value)),
        }
    }

    fn set_unsigned(&mut self, field: &Field, value: impl fmt::Display + TryInto<i64> + Copy) {
        self.set(field, || match value.try_into() {
            Ok(i) => OwnedValue::Int(i),
            Err(_) => OwnedValue::Numeral(value.to_string().into()),
        });
    }
}

impl Visit for SpanFieldVisitor<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.set(field, || OwnedValue::Double(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.set(field, || OwnedValue::Int(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.set_unsigned(field, value);
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        self.set_unsigned(field, value);
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        self.set_unsigned(field, value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.set(field, || OwnedValue::Bool(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.set(field, || OwnedValue::Str(value.into()));
    }

    fn record_bytes(&mut self, field: &Field, value: &[u8]) {
        self.set(field, || OwnedValue::Bytes(value.into()));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn Error + 'static)) {
        self.set(field, || {
            OwnedValue::Str(format_lossy(format_args!("{value}")).into())
        });
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.set(field, || {
            OwnedValue::Str(format_lossy(format_args!("{value:?}")).into())
        });
    }

    /// As for events: maps, lists and structs keep their structure, with
    /// secret-named keys inside them redacted; anything else is its `Debug`
    /// text.
    #[cfg(all(tracing_unstable, feature = "valuable"))]
    fn record_value(&mut self, field: &Field, value: valuable::Value<'_>) {
        // A field that is not kept, or is redacted whole, is not converted
        // (nor its inside redacted and counted).
        let name = field.name();
        if !self.filter.allows(name) || self.redaction.is_sensitive(name) {
            self.set(field, || OwnedValue::Str(REDACTED.into()));
            return;
        }
        match valuable_tree(value, self.redaction, &mut self.redacted) {
            ValuableTree::Tree(tree) => self.set(field, || OwnedValue::Nested(Box::new(tree))),
            ValuableTree::Text => self.record_debug(field, &value),
            ValuableTree::Marker(text) => self.set(field, || OwnedValue::Str(text.into())),
        }
    }
}
