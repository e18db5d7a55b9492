//! The direct path: a `tracing` event written straight into its one sink's
//! encoding.
//!
//! The general path stores every value of an event in the thread's
//! [`Record`], then encodes the record once per sink. When the pipeline has
//! a single JSON or OTLP sink and nothing needs the record as a whole, the
//! layer instead writes each value into the sink's encoding as the field
//! visitor receives it: the same bytes the general path writes (the tests
//! compare the two), without storing and copying every value first.
//!
//! Whatever this path does not handle takes the general path, decided before
//! any value is formatted, so that no `Debug` impl runs twice:
//! - per pipeline: more than one sink, the console sink, the SDK adapter,
//!   token redaction inside values, a value length limit;
//! - per callsite, decided once: a field name used twice, a field whose key
//!   is one the bridge writes (`code.*`, `thread.*`, `exception.*`), a
//!   `message` field that is not the first field;
//! - per event: an enclosing span with a field whose key is one the bridge
//!   writes, more attributes than the count limit could keep, an event
//!   logged while another is being captured on the same thread.
//!
//! Two cases are only found while visiting: a hand-built value set that
//! gives the `message` after other fields, and a value whose formatting
//! recorded on the span a field this path leaves to the general one. The
//! bytes are discarded and the event takes the general path, which formats
//! its values again.

use std::borrow::Cow;
use std::cell::RefCell;
use std::error::Error;
use std::fmt::{self, Write as _};
use std::ops::Range;
use std::sync::Arc;

use tracing::span::Id;
use tracing::{Event, Metadata, Subscriber};
use tracing_core::field::{Field, FieldSet, Visit};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::capture::redact::{is_masked, Redactor, REDACTED};
use crate::capture::runtime_lint::RuntimeLint;
use crate::capture::span::{self, DispatchRef, SpanSnapshot};
use crate::capture::visit::{exception_attributes, ExceptionValue, MESSAGE};
#[cfg(all(tracing_unstable, feature = "valuable"))]
use crate::capture::visit::{valuable_tree, ValuableTree};
use crate::capture::{
    add_common_attributes, is_bridge_key, with_thread_info, CaptureOptions, SourceFile,
};
#[cfg(feature = "otlp")]
use crate::export::FrameContext;
use crate::export::{
    EncodedAttributes, EncodedKey, Encoding, EventStream, FieldKeys, KnownSlot, LocalShard,
    Pipeline, Sink,
};
use crate::record::{
    clear_scratch, clear_scratch_text, clock, key_bit, Record, ScopeName, Severity, ValueRef,
};

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
    /// The spans entered on this thread, innermost last, with the pipeline
    /// (by id) whose layer saw them entered: the current span of an
    /// event without asking the registry, which would look the span up.
    static ENTERED: RefCell<Vec<Entered>> = const { RefCell::new(Vec::new()) };
}

/// One entry of [`ENTERED`].
#[derive(Clone, Copy)]
struct Entered {
    /// The pipeline (by id) and the span.
    key: (u64, u64),
    /// Whether the span was already entered when this entry was made. The
    /// registry does not make such an entry the current span (the span
    /// entered in between stays current), and neither may this.
    duplicate: bool,
}

/// Notes that the layer of `pipeline` saw span `id` entered on this thread.
pub(crate) fn entered(pipeline: &Pipeline, id: &Id) {
    let key = (pipeline.id(), id.into_u64());
    let _ = ENTERED.try_with(|entered| {
        if let Ok(mut entered) = entered.try_borrow_mut() {
            let duplicate = entered.iter().any(|entry| entry.key == key);
            entered.push(Entered { key, duplicate });
        }
    });
}

/// Notes that span `id` was exited: its last entry goes, wherever it is
/// (spans may be exited out of order, as the registry allows).
pub(crate) fn exited(pipeline: &Pipeline, id: &Id) {
    let key = (pipeline.id(), id.into_u64());
    let _ = ENTERED.try_with(|entered| {
        if let Ok(mut entered) = entered.try_borrow_mut() {
            if let Some(index) = entered.iter().rposition(|entry| entry.key == key) {
                entered.remove(index);
            }
        }
    });
}

/// The innermost span the layer of `pipeline` saw entered on this thread,
/// as the registry sees it: a span entered again does not become current.
#[inline]
fn current_span(pipeline: u64) -> Option<u64> {
    ENTERED
        .try_with(|entered| {
            let entered = entered.try_borrow().ok()?;
            entered
                .iter()
                .rev()
                .find(|entry| entry.key.0 == pipeline && !entry.duplicate)
                .map(|entry| entry.key.1)
        })
        .ok()
        .flatten()
}

/// The calling thread's buffers for the direct path, reused event after
/// event.
#[derive(Default)]
struct Scratch {
    /// The encoded record, copied into the sink's queue when complete.
    out: Vec<u8>,
    /// Formatted values (`Debug`, `Display`, integers beyond `i64`).
    text: String,
    keys: WrittenKeys,
    /// The trace context of an event outside any span, encoded.
    trace: Vec<u8>,
    /// The snapshots of the spans this thread logged in last.
    snapshots: Vec<CachedSnapshot>,
    /// This thread's `thread.*` attributes, per encoding, encoded once.
    thread: [Option<EncodedAttributes>; Encoding::COUNT],
    /// This thread's shard of the queue it wrote its last record to.
    shard: Option<LocalShard>,
}

/// How many span snapshots a thread keeps: enough for the tasks that an
/// async runtime's thread polls in turn, each logging in its own span. A
/// snapshot found here costs a few comparisons; one that is not is looked
/// up in the registry and the span's extensions: with 8 spans taking turns
/// and 4 kept, that made each event cost about a third more (the
/// `span_turns` bench).
const CACHED_SNAPSHOTS: usize = 16;

/// A span's snapshot as a thread keeps it.
struct CachedSnapshot {
    /// The pipeline (by id) whose encoding it is in.
    pipeline: u64,
    span: u64,
    snapshot: Arc<SpanSnapshot>,
}

/// The attribute keys a record has so far, for span fields to yield to.
#[derive(Default)]
struct WrittenKeys {
    keys: Vec<&'static str>,
    /// One bit per key hash, a cheap first test (as in [`Record`]).
    bloom: u64,
}

impl WrittenKeys {
    fn clear(&mut self) {
        self.keys.clear();
        self.bloom = 0;
    }

    fn insert(&mut self, key: &'static str) {
        self.bloom |= key_bit(key);
        self.keys.push(key);
    }

    fn contains(&self, key: &str) -> bool {
        self.bloom & key_bit(key) != 0 && self.keys.contains(&key)
    }
}

/// Whether records of this callsite can take the direct path, as far as
/// its field names tell: no name used twice, none in a namespace the bridge
/// writes, none empty (a record leaves it out), and `message`, if present,
/// first.
pub(crate) fn callsite_streams(metadata: &Metadata<'_>) -> bool {
    let fields = metadata.fields();
    fields.iter().enumerate().all(|(index, field)| {
        let name = field.name();
        !name.is_empty()
            && !is_bridge_key(name)
            && (name != MESSAGE || index == 0)
            && !fields
                .iter()
                .take(index)
                .any(|earlier| earlier.name() == name)
    })
}

/// What the direct path keeps per callsite: each field's key, encoded once
/// in the layer's encoding, the union of the names' bits, which fields to
/// redact, the severity, and how many attributes its records have at most,
/// span fields aside.
#[derive(Debug)]
pub(crate) struct CallsiteFields {
    keys: FieldKeys,
    name_bloom: u64,
    redact_mask: u64,
    severity: Severity,
    most_attributes: usize,
    /// The callsite's slot in its sink's table of callsite parts.
    slot: KnownSlot,
}

impl CallsiteFields {
    /// The callsite's fields, when its field names allow the direct path
    /// (see [`callsite_streams`]), with their keys in `encoding`.
    pub(crate) fn new(
        metadata: &Metadata<'_>,
        redactor: &Redactor,
        encoding: Encoding,
    ) -> Option<CallsiteFields> {
        if !callsite_streams(metadata) {
            return None;
        }
        let names = || metadata.fields().iter().map(|field| field.name());
        Some(CallsiteFields {
            keys: FieldKeys::new(encoding, names()),
            name_bloom: names().fold(0, |bloom, name| bloom | key_bit(name)),
            redact_mask: redactor.compute_mask(metadata),
            severity: Severity::from_tracing(*metadata.level()),
            // An error field becomes up to three attributes; source
            // location and thread add up to six.
            most_attributes: metadata.fields().len() + 2 + 6,
            slot: KnownSlot::new(),
        })
    }
}

/// What the direct path needs from the layer for one event.
pub(crate) struct Direct<'a> {
    pub(crate) pipeline: &'a Pipeline,
    pub(crate) sink: &'a Sink,
    pub(crate) encoding: Encoding,
    pub(crate) options: &'a CaptureOptions,
    pub(crate) lint: &'a RuntimeLint,
    pub(crate) dispatch: DispatchRef<'a>,
    pub(crate) event_name: Option<&'static str>,
    pub(crate) fields: &'a CallsiteFields,
    /// Whether a record outside any span takes the context an application
    /// activated through the OpenTelemetry API (see
    /// [`span::otel::reads_api_context`]); decided once per callsite.
    pub(crate) reads_api_context: bool,
}

impl Direct<'_> {
    /// Writes `event` straight into the sink and queues it. Returns `false`
    /// when the event must take the general path instead; nothing was
    /// queued then.
    pub(crate) fn capture<S>(&self, event: &Event<'_>, ctx: &Context<'_, S>) -> bool
    where
        S: Subscriber + for<'l> LookupSpan<'l>,
    {
        SCRATCH
            .try_with(|scratch| match scratch.try_borrow_mut() {
                Ok(mut scratch) => self.write(&mut scratch, event, ctx),
                // An event logged while another is being captured (from a
                // `Debug` impl) takes the general path.
                Err(_) => false,
            })
            .unwrap_or(false)
    }

    /// The snapshot of the span `event` is in, from this thread's cache when
    /// it is there and current, else from the span (and then cached).
    fn span_snapshot<'c, S>(
        &self,
        cache: &'c mut Vec<CachedSnapshot>,
        event: &Event<'_>,
        ctx: &Context<'_, S>,
    ) -> Option<Cow<'c, Arc<SpanSnapshot>>>
    where
        S: Subscriber + for<'l> LookupSpan<'l>,
    {
        let pipeline = self.pipeline.id();
        // The span the event would be in, without looking it up: the
        // current span, or the explicit parent.
        let expected = if event.is_root() {
            None
        } else if event.is_contextual() {
            current_span(pipeline)
        } else {
            event.parent().map(Id::into_u64)
        };
        if let Some(id) = expected {
            // The newest entries first: the span of the last event is the
            // likeliest.
            let hit = cache.iter().rposition(|cached| {
                cached.pipeline == pipeline && cached.span == id && cached.snapshot.is_current()
            });
            if let Some(index) = hit {
                return cache
                    .get(index)
                    .map(|cached| Cow::Borrowed(&cached.snapshot));
            }
        }
        self.look_up_span_snapshot(cache, event, ctx, expected)
    }

    /// [`Direct::span_snapshot`] when the cache does not have it: the
    /// snapshot of the span the registry finds, cached when it is the
    /// `expected` one.
    #[inline]
    fn look_up_span_snapshot<'c, S>(
        &self,
        cache: &'c mut Vec<CachedSnapshot>,
        event: &Event<'_>,
        ctx: &Context<'_, S>,
        expected: Option<u64>,
    ) -> Option<Cow<'c, Arc<SpanSnapshot>>>
    where
        S: Subscriber + for<'l> LookupSpan<'l>,
    {
        let pipeline = self.pipeline.id();
        let span = ctx.event_span(event)?;
        let copy_fields = !self.options.span_fields.is_none();
        let key = span::LayerKey::of(self.pipeline);
        let snapshot = span::snapshot(&span, key, self.dispatch, self.encoding, copy_fields);
        let id = span.id().into_u64();
        if expected != Some(id) || !snapshot.is_tracked() {
            // A per-layer filter made the event's span an ancestor of the
            // expected one: correct, but not what the cache is keyed by.
            // A snapshot of a span the layer does not track is never
            // current: caching it would only push others out.
            return Some(Cow::Owned(snapshot));
        }
        // The oldest entry goes. Out-of-date entries are not looked for:
        // no lookup takes them, and with more spans taking turns than the
        // cache holds, checking every entry on every event cost more than
        // the rest of the miss (a profile of `span_turns`).
        if cache.len() >= CACHED_SNAPSHOTS {
            cache.remove(0);
        }
        cache.push(CachedSnapshot {
            pipeline,
            span: id,
            snapshot,
        });
        cache.last().map(|cached| Cow::Borrowed(&cached.snapshot))
    }

    fn write<S>(&self, scratch: &mut Scratch, event: &Event<'_>, ctx: &Context<'_, S>) -> bool
    where
        S: Subscriber + for<'l> LookupSpan<'l>,
    {
        let metadata = event.metadata();
        let Scratch {
            out,
            text,
            keys,
            trace,
            thread,
            snapshots,
            shard,
        } = scratch;
        clear_scratch(trace);
        let span = self.span_snapshot(snapshots, event, ctx);
        let (bridge_keys, span_fields) = match &span {
            Some(snapshot) => (snapshot.bridge_keys, snapshot.fields.len()),
            // An explicit parent the layer's filter hides: the record
            // path finds the nearest span the layer sees.
            None if event.parent().is_some() => return false,
            None => {
                // As on the record path: none for `parent: None`.
                let context =
                    (!event.is_root() && self.reads_api_context).then(span::otel::current_context);
                if let Some(context) = context.flatten() {
                    self.encoding.write_trace(&context, trace);
                }
                (false, 0)
            }
        };
        if bridge_keys || self.fields.most_attributes + span_fields > self.options.limits.count {
            return false;
        }
        clear_scratch(out);
        clear_scratch_text(text);
        keys.clear();
        let time = clock::now_unix_nanos();
        let callsite = std::ptr::from_ref(metadata) as usize;
        let template = || callsite_template(metadata, callsite, self.options, self.event_name);
        let Some(mut stream) = self
            .sink
            .stream(out, time, callsite, &self.fields.slot, template)
        else {
            return false;
        };
        let redactor = self.pipeline.redactor();
        let mut visitor = DirectVisitor {
            stream: &mut stream,
            out,
            text,
            keys,
            field_keys: &self.fields.keys,
            written: 0,
            redactor,
            redact_mask: self.fields.redact_mask,
            redacted: 0,
            has_exception: false,
            keep_body: self.lint.enabled(),
            body: None,
            attributes: false,
            has_body: false,
            out_of_order: false,
        };
        event.record(&mut visitor);
        let DirectVisitor {
            redacted,
            body,
            out_of_order,
            written,
            ..
        } = visitor;
        if out_of_order {
            return false;
        }
        // A value's formatting may have recorded a field on the span; the
        // general path, which reads the span after the visit, has it, so
        // the snapshot is read again. It may now hold what the direct path
        // leaves to the general one; that path then visits the event
        // again, as for a value set found out of order.
        let span = match span {
            Some(snapshot) if !snapshot.fields_unchanged() => {
                drop(snapshot);
                let fresh = self.span_snapshot(snapshots, event, ctx);
                let unfit = fresh.as_ref().is_none_or(|snapshot| {
                    snapshot.bridge_keys
                        || self.fields.most_attributes + snapshot.fields.len()
                            > self.options.limits.count
                });
                if unfit {
                    return false;
                }
                fresh
            }
            span => span,
        };
        redactor.count(redacted);
        let mut thread_attributes: &[u8] = &[];
        if self.options.thread_attributes {
            let encoded = &mut thread[self.encoding.index()];
            if encoded.is_none() {
                *encoded = with_thread_info(|info| {
                    EncodedAttributes::new(self.encoding, info.attributes())
                });
            }
            if let Some(encoded) = encoded {
                thread_attributes = encoded.bytes();
            }
        }
        // The record's context, when the sink can leave it to the queue to
        // share between the records that have the same: its id, the span
        // fields and the trace fields (the thread's attributes go with
        // them).
        let mut shared_context: Option<(u64, &[u8], &[u8])> = None;
        if let Some(snapshot) = &span {
            let record_keys = RecordKeys {
                others: keys,
                event_fields: metadata.fields(),
                written,
                name_bloom: self.fields.name_bloom,
            };
            if stream.shares_context() && snapshot.fields.key_bloom() & record_keys.bloom() == 0 {
                shared_context = Some((snapshot.id, snapshot.fields.bytes(), &snapshot.trace));
            } else {
                write_span_fields(&mut stream, out, &record_keys, &snapshot.fields);
            }
        } else if stream.shares_context() && trace.is_empty() && !thread_attributes.is_empty() {
            shared_context = Some((THREAD_ALONE, &[], &[]));
        }
        stream.callsite_attributes(out);
        if self.lint.enabled() {
            let body = body.and_then(|range| text.get(range));
            self.lint.check_body(metadata, body);
        }
        let severity_number = self.fields.severity.number;
        match (shared_context, stream) {
            #[cfg(feature = "otlp")]
            (Some((id, span_fields, trace)), EventStream::Otlp(stream)) => {
                stream.finish_in_context(out, time);
                self.pipeline.emit_encoded_in_context(
                    self.sink,
                    shard,
                    severity_number,
                    metadata.target(),
                    out,
                    FrameContext {
                        id,
                        parts: [span_fields, thread_attributes, trace],
                    },
                );
            }
            (_, mut stream) => {
                stream.encoded_attributes(out, thread_attributes);
                let trace = span.as_ref().map_or(&trace[..], |snapshot| &snapshot.trace);
                stream.finish(out, trace, time, self.event_name);
                self.pipeline.emit_encoded(
                    self.sink,
                    shard,
                    severity_number,
                    metadata.target(),
                    out,
                );
            }
        }
        #[cfg(test)]
        TAKEN.with(|taken| taken.set(taken.get() + 1));
        true
    }
}

/// The context id of records outside any span (and any OpenTelemetry
/// context), whose context is their thread's attributes alone: a queue
/// shard belongs to one thread, so that is the same for all such records
/// of a chunk. Span snapshots number their ids up from 1 and never reach
/// it.
const THREAD_ALONE: u64 = u64::MAX;

/// The keys a record has so far: the event's fields that were written (by
/// field index), and the others.
struct RecordKeys<'a> {
    others: &'a WrittenKeys,
    event_fields: &'static FieldSet,
    /// Which of the event's fields were written, by index (below 64; the
    /// rest are in `others`).
    written: u64,
    /// The union of the event's field names' bits.
    name_bloom: u64,
}

impl RecordKeys<'_> {
    fn bloom(&self) -> u64 {
        self.name_bloom | self.others.bloom
    }

    fn contains(&self, key: &str) -> bool {
        if self.others.contains(key) {
            return true;
        }
        self.name_bloom & key_bit(key) != 0
            && self.event_fields.iter().any(|field| {
                field.index() < 64
                    && self.written & (1 << field.index()) != 0
                    && field.name() == key
            })
    }
}

/// Writes the spans' fields, except those whose key the record already has
/// from the event (the snapshot has each key once, nearest span first).
fn write_span_fields(
    stream: &mut EventStream<'_>,
    out: &mut Vec<u8>,
    keys: &RecordKeys<'_>,
    fields: &EncodedAttributes,
) {
    if fields.key_bloom() & keys.bloom() == 0 {
        // No key in common: all of them, in one copy.
        stream.encoded_attributes(out, fields.bytes());
        return;
    }
    for (key, bytes) in fields.each() {
        if !keys.contains(key) {
            stream.encoded_attributes(out, bytes);
        }
    }
}

/// A record with what every record of the callsite shares, from which a
/// sink renders its per-callsite parts exactly as it would from the
/// callsite's first record on the general path.
fn callsite_template(
    metadata: &'static Metadata<'static>,
    callsite: usize,
    options: &CaptureOptions,
    event_name: Option<&'static str>,
) -> Record {
    let mut record = Record::default();
    record.set_limits(options.limits);
    record.reset(
        0,
        Severity::from_tracing(*metadata.level()),
        ScopeName::Static(metadata.target()),
    );
    record.event_name = event_name;
    record.callsite = Some(callsite);
    add_common_attributes(
        &mut record,
        options,
        metadata.file().map(SourceFile::Static),
        metadata.line(),
    );
    record
}

/// A value as the visitor has it: borrowed from the event, or formatted
/// into the scratch text.
enum Piece<'v> {
    Value(ValueRef<'v>),
    Text(Range<usize>),
}

/// Writes a field's attribute, with its key as [`FieldKeys`] encoded it
/// when it did.
#[inline(always)]
fn write_field(
    stream: &mut EventStream<'_>,
    out: &mut Vec<u8>,
    field: &Field,
    encoded_key: Option<EncodedKey<'_>>,
    value: ValueRef<'_>,
) {
    match encoded_key {
        Some(encoded_key) => stream.keyed_attribute(out, encoded_key, value),
        None => stream.attribute(out, field.name(), value),
    }
}

/// Visits an event's fields straight into a sink's encoding, with the
/// mapping rules of the general path's `EventVisitor`.
struct DirectVisitor<'a, 'e> {
    stream: &'a mut EventStream<'e>,
    out: &'a mut Vec<u8>,
    text: &'a mut String,
    /// The keys written other than the event's fields'.
    keys: &'a mut WrittenKeys,
    field_keys: &'a FieldKeys,
    /// Which of the event's fields were written, by index (below 64).
    written: u64,
    redactor: &'a Redactor,
    redact_mask: u64,
    redacted: u64,
    has_exception: bool,
    /// Whether the body must be kept in `text` for the runtime lint.
    keep_body: bool,
    body: Option<Range<usize>>,
    /// Whether an attribute was written; the body must come before any.
    attributes: bool,
    /// Whether the body was written; a second one takes the general path.
    has_body: bool,
    out_of_order: bool,
}

impl<'a> DirectVisitor<'a, '_> {
    fn is_redacted(&self, field: &Field) -> bool {
        is_masked(self.redact_mask, field, self.redactor.settings())
    }

    /// Writes a field's attribute, redacted when its name asks for it.
    #[inline(always)]
    fn set(&mut self, field: &Field, value: Piece<'_>) {
        // Out of line, so that the value's type stays known to the
        // compiler here: a redacted value, a string, merged into the
        // common path made every typed field test its type again while
        // it was written (a profile of the direct path).
        if self.is_redacted(field) {
            self.set_redacted(field);
            return;
        }
        let encoded_key = self.note_written(field);
        let value = match value {
            Piece::Value(value) => value,
            Piece::Text(range) => ValueRef::Str(self.text.get(range).unwrap_or_default()),
        };
        write_field(self.stream, self.out, field, encoded_key, value);
    }

    #[cold]
    #[inline(never)]
    fn set_redacted(&mut self, field: &Field) {
        self.redacted += 1;
        let encoded_key = self.note_written(field);
        write_field(
            self.stream,
            self.out,
            field,
            encoded_key,
            ValueRef::Str(REDACTED),
        );
    }

    /// Notes that `field` is written; returns its encoded key. A field
    /// given twice (a hand-built value set may) would be written twice: the
    /// event takes the general path, which keeps one.
    #[inline(always)]
    fn note_written(&mut self, field: &Field) -> Option<EncodedKey<'a>> {
        let index = field.index();
        if index < 64 {
            let bit = 1 << index;
            self.out_of_order |= self.written & bit != 0;
            self.written |= bit;
        } else {
            self.out_of_order |= self.keys.contains(field.name());
            self.keys.insert(field.name());
        }
        self.attributes = true;
        self.field_keys.get(index)
    }

    /// Writes an attribute that is not one of the event's fields.
    fn attribute(&mut self, key: &'static str, value: Piece<'_>) {
        let value = match value {
            Piece::Value(value) => value,
            Piece::Text(range) => ValueRef::Str(self.text.get(range).unwrap_or_default()),
        };
        self.keys.insert(key);
        self.attributes = true;
        self.stream.attribute(self.out, key, value);
    }

    /// A text field: `message` becomes the body, anything else an
    /// attribute. Inlined so that the value is not passed through memory:
    /// reading it back in one wide load, right after the caller wrote its
    /// parts one by one, stalled the thread (a profile of the direct path).
    #[inline(always)]
    fn set_text(&mut self, field: &Field, value: Piece<'_>) {
        if field.name() != MESSAGE {
            self.set(field, value);
            return;
        }
        if self.attributes || self.has_body {
            self.out_of_order = true;
            return;
        }
        self.has_body = true;
        let range = match value {
            Piece::Text(range) => range,
            Piece::Value(ValueRef::Str(body)) if !self.keep_body => {
                self.stream.body(self.out, body);
                return;
            }
            Piece::Value(value) => {
                let start = self.text.len();
                if let ValueRef::Str(body) = value {
                    self.text.push_str(body);
                }
                start..self.text.len()
            }
        };
        self.stream
            .body(self.out, self.text.get(range.clone()).unwrap_or_default());
        self.body = Some(range);
    }

    /// The `message` field, given as a `Debug` value.
    fn debug_body(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.attributes || self.has_body {
            // Not formatted: the event takes the general path.
            self.out_of_order = true;
        } else if self.keep_body {
            // The text is needed again, for the runtime lint.
            let text = self.format(format_args!("{value:?}"));
            self.set_text(field, text);
        } else {
            // Formatted straight into the encoding.
            self.has_body = true;
            self.stream.debug_body(self.out, value, self.text);
        }
    }

    fn format(&mut self, args: fmt::Arguments<'_>) -> Piece<'static> {
        let start = self.text.len();
        // Writing into a `String` only fails when a `Display` impl returns
        // an error; what it wrote before failing is kept, as on the
        // general path.
        let _ = self.text.write_fmt(args);
        Piece::Text(start..self.text.len())
    }

    #[inline(always)]
    fn set_integer(&mut self, field: &Field, value: impl TryInto<i64> + fmt::Display + Copy) {
        match value.try_into() {
            Ok(int) => self.set(field, Piece::Value(ValueRef::Int(int))),
            // OTLP integers are signed 64-bit; the rest become strings.
            Err(_) => self.set_formatted(field, value),
        }
    }

    #[cold]
    #[inline(never)]
    fn set_formatted(&mut self, field: &Field, value: impl fmt::Display) {
        let text = self.format(format_args!("{value}"));
        self.set(field, text);
    }
}

impl Visit for DirectVisitor<'_, '_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.set(field, Piece::Value(ValueRef::Double(value)));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.set(field, Piece::Value(ValueRef::Int(value)));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.set_integer(field, value);
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        self.set_integer(field, value);
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        self.set_integer(field, value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.set(field, Piece::Value(ValueRef::Bool(value)));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.set_text(field, Piece::Value(ValueRef::Str(value)));
    }

    fn record_bytes(&mut self, field: &Field, value: &[u8]) {
        self.set(field, Piece::Value(ValueRef::Bytes(value)));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn Error + 'static)) {
        if self.is_redacted(field) {
            // A secret-named error field must not leak through the
            // exception attributes either.
            self.set(field, Piece::Value(ValueRef::Str(REDACTED)));
        } else if self.has_exception {
            // A second error field keeps its own key.
            let text = self.format(format_args!("{value}"));
            self.set(field, text);
        } else {
            self.has_exception = true;
            for (key, value) in exception_attributes(value, self.text).into_iter().flatten() {
                let value = match value {
                    ExceptionValue::Static(text) => Piece::Value(ValueRef::Str(text)),
                    ExceptionValue::Text(range) => Piece::Text(range),
                };
                self.attribute(key, value);
            }
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == MESSAGE {
            self.debug_body(field, value);
            return;
        }
        // A secret-named field is not formatted at all, as on the general
        // path.
        if self.is_redacted(field) {
            self.set_redacted(field);
        } else if let Some(encoded_key) = self.note_written(field) {
            // A field given twice takes the general path, which formats
            // the value itself: not here too.
            if !self.out_of_order {
                self.stream
                    .debug_attribute(self.out, encoded_key, value, self.text);
            }
        } else {
            let text = self.format(format_args!("{value:?}"));
            self.set(field, text);
        }
    }

    #[cfg(all(tracing_unstable, feature = "valuable"))]
    fn record_value(&mut self, field: &Field, value: valuable::Value<'_>) {
        // As on the general path: maps, lists and structs keep their
        // structure, secret-named keys inside them redacted; anything else
        // is recorded as its `Debug` text. A field redacted whole is not
        // converted, nor its inside redacted and counted.
        if self.is_redacted(field) {
            self.set(field, Piece::Value(ValueRef::Str(REDACTED)));
            return;
        }
        let settings = self.redactor.settings();
        match valuable_tree(value, settings, &mut self.redacted) {
            ValuableTree::Tree(tree) => self.set(field, Piece::Value(ValueRef::Nested(&tree))),
            ValuableTree::Text => self.record_debug(field, &value),
            ValuableTree::Marker(text) => self.set(field, Piece::Value(ValueRef::Str(text))),
        }
    }
}

#[cfg(test)]
thread_local! {
    /// How many events this thread wrote through the direct path.
    static TAKEN: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::prelude::*;

    use super::*;
    use crate::record::TypedError;

    #[derive(Clone, Default)]
    struct SharedBuf(Arc<Mutex<Vec<u8>>>);

    impl Write for SharedBuf {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl SharedBuf {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    #[derive(Debug)]
    struct Outer(std::io::Error);

    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("request failed")
        }
    }

    impl Error for Outer {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.0)
        }
    }

    /// How many spans take turns in [`log_everything`]: more than a thread
    /// keeps snapshots of.
    const TURNS: usize = CACHED_SNAPSHOTS + 2;

    /// How many events [`log_everything`] logs.
    const EVENTS: usize = 31 + 2 * TURNS;

    /// How many of them take the general path.
    const GENERAL_PATH_EVENTS: usize = 4;

    /// Events that exercise every mapping rule the direct path implements,
    /// and every reason it has to leave an event to the general path.
    fn log_everything() {
        let outer = tracing::info_span!("outer", route = "/users/{id}", depth = 0_u64);
        let _outer = outer.enter();
        let inner = tracing::info_span!("inner", depth = 1_u64, user.id = 7_i64, ok = true);
        let _inner = inner.enter();
        tracing::info!(
            user.id = 42_i64,
            path = "/api",
            status = 200_u16,
            latency_ms = 3.25,
            "request handled"
        );
        tracing::info!(
            big = u64::MAX,
            wide = -5_i128,
            huge = u128::MAX,
            nan = f64::NAN,
            "integers"
        );
        tracing::warn!(text = "line\nbreak \"quoted\" \u{2028} é", debug = ?vec![1, 2], shown = %"display", "escapes");
        let io = std::io::Error::other("disk full");
        let error = Outer(io);
        tracing::error!(
            error = &error as &(dyn Error + 'static),
            second = &error as &(dyn Error + 'static),
            "two errors"
        );
        let typed = TypedError::new(&error);
        tracing::error!(cause = &typed as &(dyn Error + 'static), "typed");
        tracing::info!(password = "hunter2", api_key = 5_i64, "secrets");
        // Keys that just fit in the block short attributes are written in,
        // and just do not, with the longest integers; a string value just
        // short enough for one-byte lengths, and one too long for them.
        tracing::info!(
            key_with_thirty_characters_abc = i64::MIN,
            key_with_thirty_one_characters_ = -1_i64,
            key_with_thirty_characters_xyz = true,
            text = "t".repeat(80).as_str(),
            long_text = "u".repeat(200).as_str(),
            key_with_thirty_one_characters_and_a_long_text = "v".repeat(200).as_str(),
            "key lengths"
        );
        tracing::info!(name: "user.signed_in", account = 1_i64, "named");
        tracing::info!(only = 1_i64);
        // A field without a value leaves its key to the span's field.
        tracing::info!(user.id = tracing::field::Empty, "empty field");
        tracing::info!(bytes = &b"\x00\x01"[..], "bytes");
        tracing::info!(value = ?Some("x"), "debug value");
        // Formatted in place, then escaped, or given longer lengths.
        // otel-log-lint: allow(OLB001)
        tracing::info!(quoted = ?"needs \"escaping\"", long = ?"x".repeat(300), "héllo {}", 1);
        tracing::info!("{}", "y".repeat(200));
        tracing::info!(display = %"plain", "{:?}", "a\u{7}bell");
        // Each of these takes the general path.
        tracing::info!(a = 1_i64, message = "message last");
        // otel-log-lint: allow(OLB003)
        tracing::info!(code.line.number = 1_i64, "a bridge key");
        // otel-log-lint: allow(OLB012)
        tracing::info!(dup = 1_i64, dup = 2_i64, "a name used twice");
        let reserved = tracing::info_span!("reserved", thread.name = "mine");
        reserved.in_scope(|| tracing::info!("in a span with a bridge key"));
        // Fields recorded later, on the span and on an ancestor, reach the
        // events after them.
        inner.record("ok", false);
        tracing::info!("after the span's own field changed");
        outer.record("route", "/changed");
        tracing::info!("after an ancestor's field changed");
        drop(_inner);
        drop(_outer);
        tracing::info!(outside = true, "outside any span");
        tracing::info!(outside = true, "outside any span again");
        // More spans taking turns on one thread than a thread keeps.
        let turns: Vec<_> = (0..TURNS as i64)
            .map(|turn| tracing::info_span!("turn", turn))
            .collect();
        for round in 0..2_i64 {
            for span in &turns {
                span.in_scope(|| tracing::info!(round, "taking turns"));
            }
        }
        tracing::info!(parent: &turns[2], "explicit parent");
        tracing::info!("outside any span after the turns");
        // A span that closed, then a new one (which may reuse its id).
        let first = tracing::info_span!("first", first = 1_i64);
        first.in_scope(|| tracing::info!("in the first span"));
        drop(first);
        let second = tracing::info_span!("second", second = 2_i64);
        second.in_scope(|| tracing::info!("in the second span"));
        // Spans exited out of order, and one entered twice.
        let a = tracing::info_span!("a", a = 1_i64);
        let b = tracing::info_span!("b", b = 2_i64);
        let in_a = a.enter();
        let in_b = b.enter();
        drop(in_a);
        tracing::info!("after a was exited before b");
        drop(in_b);
        let once = a.enter();
        let twice = a.enter();
        drop(twice);
        tracing::info!("in a entered twice and exited once");
        drop(once);
        // Re-entered inside another span: the registry takes the second
        // entry as a duplicate, so the current span stays b.
        let in_a = a.enter();
        tracing::info!("in a, cached");
        let in_b = b.enter();
        a.in_scope(|| tracing::info!("in a again, inside b"));
        drop(in_b);
        drop(in_a);
    }

    /// Runs `log` through a layer built by `configure` and returns what the
    /// JSON or OTLP-JSON writer got, and how many events took the direct
    /// path.
    fn run_with(
        configure: impl FnOnce(crate::Builder, SharedBuf) -> crate::Builder,
        log: impl FnOnce(),
    ) -> (String, u64) {
        let buf = SharedBuf::default();
        let builder = crate::builder().with_runtime_lint(false);
        let (layer, guard) = configure(builder, buf.clone()).layer().unwrap();
        let before = TAKEN.with(std::cell::Cell::get);
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, log);
        let taken = TAKEN.with(std::cell::Cell::get) - before;
        drop(guard);
        (buf.text(), taken)
    }

    /// What the same events became on each path, and how many took the
    /// direct one.
    struct BothPaths {
        direct: String,
        taken: u64,
        general: String,
        general_taken: u64,
    }

    /// Runs `log` through a pipeline with the one output `output` adds
    /// (the direct path), then with a console output beside it, which
    /// sends every event through the general path.
    fn both_paths(
        output: fn(crate::Builder, SharedBuf) -> crate::Builder,
        log: impl Fn(),
    ) -> BothPaths {
        let (direct, taken) = run_with(output, &log);
        let (general, general_taken) = run_with(
            |builder, buf| output(builder, buf).with_console_writer(std::io::sink()),
            &log,
        );
        BothPaths {
            direct,
            taken,
            general,
            general_taken,
        }
    }

    fn json(builder: crate::Builder, buf: SharedBuf) -> crate::Builder {
        builder.with_json_writer(buf)
    }

    #[cfg(feature = "otlp")]
    fn otlp_json(builder: crate::Builder, buf: SharedBuf) -> crate::Builder {
        builder.with_otlp_json_writer(buf)
    }

    /// Replaces what differs from run to run (times, ids) with zeros.
    fn mask(text: &str, keys: &[&str]) -> String {
        let mut text = text.to_owned();
        for key in keys {
            let pattern = format!("\"{key}\":\"");
            let mut from = 0;
            while let Some(at) = text[from..].find(&pattern) {
                let start = from + at + pattern.len();
                let end = start + text[start..].find('"').unwrap();
                text.replace_range(start..end, &"0".repeat(end - start));
                from = end;
            }
        }
        text
    }

    const VARYING_JSON: &[&str] = &["timestamp", "observed_timestamp", "trace_id", "span_id"];

    #[test]
    fn json_lines_written_directly_equal_the_general_paths_byte_for_byte() {
        let BothPaths {
            direct,
            taken,
            general,
            general_taken,
        } = both_paths(json, log_everything);
        assert_eq!(general_taken, 0);
        assert_eq!(taken as usize, EVENTS - GENERAL_PATH_EVENTS);
        assert_eq!(direct.lines().count(), EVENTS);
        assert!(direct.contains(r#""body":"after the span's own field changed","attributes":{"depth":1,"user.id":7,"ok":false,"route":"/users/{id}","#));
        assert!(direct.contains(r#""body":"after an ancestor's field changed","attributes":{"depth":1,"user.id":7,"ok":false,"route":"/changed","#));
        assert!(direct.contains(r#""body":"in the second span","attributes":{"second":2,"#));
        assert!(direct.contains(r#""body":"empty field","attributes":{"depth":1,"user.id":7,"#));
        assert_eq!(mask(&direct, VARYING_JSON), mask(&general, VARYING_JSON));
    }

    #[cfg(feature = "otlp")]
    const VARYING_OTLP: &[&str] = &["timeUnixNano", "observedTimeUnixNano", "traceId", "spanId"];

    /// The scope and record of every log record in OTLP-JSON lines, with
    /// what varies from run to run masked.
    #[cfg(feature = "otlp")]
    fn otlp_records(text: &str) -> Vec<serde_json::Value> {
        let masked = mask(text, VARYING_OTLP);
        let mut records = Vec::new();
        for line in masked.lines() {
            let request: serde_json::Value = serde_json::from_str(line).unwrap();
            for resource in request["resourceLogs"].as_array().unwrap() {
                for scope in resource["scopeLogs"].as_array().unwrap() {
                    for record in scope["logRecords"].as_array().unwrap() {
                        records.push(serde_json::json!([scope["scope"], record]));
                    }
                }
            }
        }
        records
    }

    #[cfg(feature = "otlp")]
    #[test]
    fn otlp_frames_written_directly_decode_to_the_general_paths_records() {
        let BothPaths {
            direct,
            taken,
            general,
            general_taken,
        } = both_paths(otlp_json, log_everything);
        assert_eq!(taken as usize, EVENTS - GENERAL_PATH_EVENTS);
        assert_eq!(general_taken, 0);
        let (direct, general) = (otlp_records(&direct), otlp_records(&general));
        assert_eq!(direct.len(), EVENTS);
        assert_eq!(direct, general);
    }

    /// However many spans take turns on a thread, it keeps the snapshots of
    /// its last [`CACHED_SNAPSHOTS`] only.
    #[test]
    fn a_thread_keeps_no_more_span_snapshots_than_its_bound() {
        let (_, taken) = run_with(json, log_everything);
        assert_eq!(taken as usize, EVENTS - GENERAL_PATH_EVENTS);
        let kept = SCRATCH.with(|scratch| scratch.borrow().snapshots.len());
        assert_eq!(kept, CACHED_SNAPSHOTS);
    }

    /// Regression: the buffers a thread writes its records into kept the
    /// size of the largest record it ever logged, for as long as it lived.
    #[test]
    fn a_huge_record_leaves_the_threads_buffers_no_larger_than_a_usual_one() {
        let huge = "h".repeat(8 * crate::record::SCRATCH_KEPT_BYTES);
        // A `Display` value goes straight into `out`; an error's message is
        // formatted into `text` first.
        let error = std::io::Error::other(huge.clone());
        let (_, taken) = run_with(json, || {
            tracing::info!(value = %huge, error = &error as &dyn Error, "huge");
            tracing::info!(value = "small", "small");
        });
        assert_eq!(taken, 2);
        let (out, text) = SCRATCH.with(|scratch| {
            let scratch = scratch.borrow();
            (scratch.out.capacity(), scratch.text.capacity())
        });
        assert!(out <= crate::record::SCRATCH_KEPT_BYTES, "{out}");
        assert!(text <= crate::record::SCRATCH_KEPT_BYTES, "{text}");
    }

    /// A callsite made at run time, as a bridge from another logging
    /// system makes one: any fields, in any number.
    struct HandMade {
        metadata: std::sync::OnceLock<&'static Metadata<'static>>,
    }

    impl tracing_core::Callsite for HandMade {
        fn set_interest(&self, _: tracing_core::Interest) {}

        fn metadata(&self) -> &Metadata<'_> {
            self.metadata.get().expect("set before registering")
        }
    }

    /// Registers a callsite with fields `names` with the current
    /// dispatcher and returns its metadata.
    fn hand_made_callsite(names: Vec<&'static str>) -> &'static Metadata<'static> {
        let callsite: &'static HandMade = Box::leak(Box::new(HandMade {
            metadata: std::sync::OnceLock::new(),
        }));
        let names: &'static [&'static str] = Box::leak(names.into_boxed_slice());
        let metadata: &'static Metadata<'static> = Box::leak(Box::new(Metadata::new(
            "hand made",
            "hand_made",
            tracing::Level::INFO,
            None,
            None,
            None,
            tracing_core::field::FieldSet::new(names, tracing_core::callsite::Identifier(callsite)),
            tracing_core::metadata::Kind::EVENT,
        )));
        let _ = callsite.metadata.set(metadata);
        tracing_core::callsite::register(callsite);
        metadata
    }

    /// Regression: a value set that gives a field twice (the `tracing`
    /// macros never do, a hand-built one may) had it written twice on the
    /// direct path: a JSON object with a repeated key, and two OTLP
    /// attributes with one key, which the data model forbids.
    #[test]
    fn a_field_given_twice_is_written_once_on_either_path() {
        let log = || {
            let metadata = hand_made_callsite(vec!["message", "a"]);
            let fields = metadata.fields();
            let (message, a) = (fields.field("message").unwrap(), fields.field("a").unwrap());
            let values: [(&Field, Option<&dyn tracing::Value>); 4] = [
                (&message, Some(&"first" as &dyn tracing::Value)),
                (&message, Some(&"second" as &dyn tracing::Value)),
                (&a, Some(&1_i64 as &dyn tracing::Value)),
                (&a, Some(&2_i64 as &dyn tracing::Value)),
            ];
            tracing_core::Event::dispatch(metadata, &fields.value_set(&values));
        };
        let BothPaths {
            direct, general, ..
        } = both_paths(json, log);
        assert_eq!(direct.matches("\"a\":").count(), 1, "{direct}");
        assert_eq!(direct.matches("\"body\":").count(), 1, "{direct}");
        assert_eq!(mask(&direct, VARYING_JSON), mask(&general, VARYING_JSON));
    }

    /// Regression: redaction decided by a bit per field index, wrapping
    /// past 64, so the 65th field of a hand-built field set was never
    /// redacted (and the 1st's bit decided for it).
    #[test]
    fn a_secret_beyond_the_64th_field_is_redacted_on_either_path() {
        let log = || {
            let mut names: Vec<&'static str> = (0..64)
                .map(|i| &*Box::leak(format!("f{i}").into_boxed_str()))
                .collect();
            names.push("password");
            let metadata = hand_made_callsite(names);
            let fields = metadata.fields();
            let password = fields.field("password").unwrap();
            let values: [(&Field, Option<&dyn tracing::Value>); 1] =
                [(&password, Some(&"hunter2" as &dyn tracing::Value))];
            tracing_core::Event::dispatch(metadata, &fields.value_set(&values));
        };
        let BothPaths {
            direct, general, ..
        } = both_paths(json, log);
        for output in [&direct, &general] {
            assert!(output.contains("\"password\":\"[REDACTED]\""), "{output}");
            assert!(!output.contains("hunter2"), "{output}");
        }
    }

    /// Regression: a length limit no value can reach (`usize::MAX`) sent
    /// every event through the general path, which then scanned each
    /// string against it.
    #[test]
    fn a_length_limit_no_value_can_reach_keeps_the_direct_path() {
        let (_, taken) = run_with(
            |builder, buf| json(builder, buf).with_attribute_value_length_limit(usize::MAX),
            log_everything,
        );
        assert_eq!(taken as usize, EVENTS - GENERAL_PATH_EVENTS);
    }

    /// Counts how often it is formatted, as `Debug` or `Display`.
    #[derive(Clone, Default)]
    struct Counted(Arc<std::sync::atomic::AtomicUsize>);

    impl Counted {
        fn times(&self) -> usize {
            self.0.load(std::sync::atomic::Ordering::Relaxed)
        }

        fn write(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            f.write_str("counted")
        }
    }

    impl fmt::Debug for Counted {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            self.write(f)
        }
    }

    impl fmt::Display for Counted {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            self.write(f)
        }
    }

    /// An error with a source, whose message counts how often it is
    /// formatted.
    #[derive(Debug)]
    struct CountedError(Counted, std::io::Error);

    impl fmt::Display for CountedError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            fmt::Display::fmt(&self.0, f)
        }
    }

    impl Error for CountedError {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.1)
        }
    }

    /// Regression: a secret-named field captured with `?` or `%` was
    /// formatted, running the program's code over the secret, and only
    /// then replaced by the redaction marker.
    #[test]
    fn a_secret_named_field_is_not_formatted_on_either_path() {
        let counted = Counted::default();
        let BothPaths {
            direct, general, ..
        } = both_paths(json, || {
            // otel-log-lint: allow(OLB005)
            tracing::info!(password = ?counted, api_key = %counted, "secrets");
        });
        assert_eq!(counted.times(), 0);
        for output in [&direct, &general] {
            assert!(
                output.contains(r#""password":"[REDACTED]","api_key":"[REDACTED]""#),
                "{output}"
            );
        }
    }

    /// Regression: a span field that was redacted, or that the span-field
    /// list left out, was formatted all the same, and only then replaced
    /// or dropped.
    #[test]
    fn a_span_field_that_is_redacted_or_not_kept_is_not_formatted() {
        let counted = Counted::default();
        let run = |builder: crate::Builder| {
            let (layer, guard) = builder
                .with_json_writer(std::io::sink())
                .layer()
                .expect("valid configuration");
            let subscriber = tracing_subscriber::registry().with(layer);
            tracing::subscriber::with_default(subscriber, || {
                let span =
                    // otel-log-lint: allow(OLB005)
                    tracing::info_span!("login", password = ?counted, note = tracing::field::Empty);
                span.record("note", tracing::field::display(&counted));
                span.in_scope(|| tracing::info!("in the span"));
            });
            drop(guard);
        };
        run(crate::builder().with_span_fields(crate::SpanFields::only(["user.id"])));
        assert_eq!(counted.times(), 0, "no field kept");
        run(crate::builder());
        assert_eq!(counted.times(), 1, "only the kept field that is no secret");
    }

    /// Regression: an error with a source was formatted twice, once for
    /// its message and again for the first line of its stack trace.
    #[test]
    fn an_errors_message_is_formatted_once_on_either_path() {
        let counted = Counted::default();
        let error = CountedError(counted.clone(), std::io::Error::other("disk full"));
        let BothPaths {
            direct,
            taken,
            general,
            general_taken,
        } = both_paths(json, || {
            tracing::error!(error = &error as &(dyn Error + 'static), "failed");
        });
        assert_eq!((taken, general_taken), (1, 0));
        assert_eq!(counted.times(), 2, "once on each path");
        for output in [&direct, &general] {
            assert!(
                output.contains(
                    r#""exception.message":"counted","exception.stacktrace":"counted\ncaused by: disk full""#
                ),
                "{output}"
            );
        }
    }

    /// A string from characters that need escaping, multi-byte and
    /// invisible ones among plain ASCII, sometimes long enough to need a
    /// longer length prefix.
    fn random_text(rng: &mut fastrand::Rng) -> String {
        const SPECIAL: &[char] = &[
            '"', '\\', '\n', '\u{0}', '\u{7f}', '\u{85}', '\u{2028}', 'é', '💥', '{', '%',
        ];
        let len = if rng.u8(..) < 40 {
            rng.usize(100..400)
        } else {
            rng.usize(0..24)
        };
        (0..len)
            .map(|_| match rng.u8(..4) {
                0 => SPECIAL[rng.usize(..SPECIAL.len())],
                _ => rng.alphanumeric(),
            })
            .collect()
    }

    fn random_float(rng: &mut fastrand::Rng) -> f64 {
        match rng.u8(..8) {
            0 => f64::NAN,
            1 => f64::INFINITY,
            2 => f64::NEG_INFINITY,
            3 => -0.0,
            4 => f64::from_bits(rng.u64(..)),
            _ => rng.f64() * 10f64.powi(rng.i32(-8..20)),
        }
    }

    /// Events with random values, the same for the same seed.
    fn log_random(seed: u64) {
        let mut rng = fastrand::Rng::with_seed(seed);
        let span = tracing::info_span!(
            "request",
            route = random_text(&mut rng),
            tries = rng.u64(..)
        );
        let _entered = span.enter();
        for _ in 0..200 {
            let text = random_text(&mut rng);
            let shown_text = random_text(&mut rng);
            let bytes: Vec<u8> = (0..rng.usize(..300)).map(|_| rng.u8(..)).collect();
            let message = random_text(&mut rng);
            tracing::info!(
                text = text.as_str(),
                debugged = ?shown_text,
                shown = %shown_text,
                unsigned = rng.u64(..),
                signed = rng.i64(..),
                wide = rng.i128(..),
                float = random_float(&mut rng),
                flag = rng.bool(),
                bytes = bytes.as_slice(),
                "{message}"
            );
        }
    }

    #[test]
    fn random_values_encode_the_same_on_both_paths() {
        for seed in 0..5 {
            let json_lines = both_paths(json, || log_random(seed));
            assert_eq!((json_lines.taken, json_lines.general_taken), (200, 0));
            assert_eq!(
                mask(&json_lines.direct, VARYING_JSON),
                mask(&json_lines.general, VARYING_JSON),
                "seed {seed}"
            );
            #[cfg(feature = "otlp")]
            {
                let frames = both_paths(otlp_json, || log_random(seed));
                assert_eq!((frames.taken, frames.general_taken), (200, 0));
                assert_eq!(
                    otlp_records(&frames.direct),
                    otlp_records(&frames.general),
                    "seed {seed}"
                );
            }
        }
    }

    #[test]
    fn a_span_filtered_out_for_the_layer_is_skipped_on_both_paths() {
        use tracing_subscriber::filter::filter_fn;
        let log = || {
            let visible = tracing::info_span!("visible", shown = 1_i64);
            let _visible = visible.enter();
            let hidden = tracing::info_span!("hidden", secret_field = 2_i64);
            let _hidden = hidden.enter();
            for _ in 0..3 {
                tracing::info!("inside the hidden span");
            }
        };
        let run = |configure: &dyn Fn(SharedBuf) -> crate::Builder| {
            let buf = SharedBuf::default();
            let (layer, guard) = configure(buf.clone()).layer().unwrap();
            let layer = layer.with_filter(filter_fn(|metadata| metadata.name() != "hidden"));
            let before = TAKEN.with(std::cell::Cell::get);
            tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), log);
            let taken = TAKEN.with(std::cell::Cell::get) - before;
            drop(guard);
            (buf.text(), taken)
        };
        let builder = || crate::builder().with_runtime_lint(false);
        let (direct, taken) = run(&|buf| builder().with_json_writer(buf));
        let (general, _) = run(&|buf| {
            builder()
                .with_json_writer(buf)
                .with_console_writer(std::io::sink())
        });
        assert_eq!(taken, 3);
        assert_eq!(direct.lines().count(), 3);
        assert!(direct.contains(r#""attributes":{"shown":1,"#));
        assert!(!direct.contains("secret_field"));
        assert_eq!(mask(&direct, VARYING_JSON), mask(&general, VARYING_JSON));
    }

    #[test]
    fn callsites_with_repeated_bridge_or_late_message_fields_do_not_stream() {
        fn streams(log: impl FnOnce()) -> bool {
            let seen = Arc::new(Mutex::new(None));
            let layer = CallsiteProbe(Arc::clone(&seen));
            tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), log);
            let seen = *seen.lock().unwrap();
            seen.unwrap()
        }
        assert!(streams(|| tracing::info!(a = 1, b = 2, "message first")));
        assert!(streams(|| tracing::info!(a = 1)));
        assert!(!streams(|| tracing::info!(a = 1, message = "late")));
        // otel-log-lint: allow(OLB012)
        assert!(!streams(|| tracing::info!(a = 1, a = 2)));
        assert!(!streams(|| tracing::info!(thread.id = 1, "bridge key")));
        // otel-log-lint: allow(OLB003)
        let exception_key = || tracing::info!(exception.message = "x", "bridge key");
        assert!(!streams(exception_key));
    }

    struct CallsiteProbe(Arc<Mutex<Option<bool>>>);

    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for CallsiteProbe {
        fn on_event(&self, event: &Event<'_>, _ctx: tracing_subscriber::layer::Context<'_, S>) {
            *self.0.lock().unwrap() = Some(callsite_streams(event.metadata()));
        }
    }
}
