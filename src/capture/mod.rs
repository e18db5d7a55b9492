//! Capture: where `tracing` events, `log` records and panics become
//! [`Record`]s.
//!
//! Every entry point fills the calling thread's scratch record and hands it
//! to the [`Pipeline`](crate::export::Pipeline), which encodes it once per
//! sink and queues the bytes.

mod direct;
mod layer;
mod log_bridge;
mod panic;
pub(crate) mod redact;
pub(crate) mod runtime_lint;
mod span;
pub(crate) mod storm;
mod visit;

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use crate::record::{OnDuplicate, Record, TextRange, ValueRef};

pub use self::layer::BridgeLayer;
pub use self::log_bridge::LogBridge;
pub(crate) use self::panic::install_panic_hook;
#[cfg(feature = "sdk")]
pub(crate) use self::span::otel::context_alive as opentelemetry_context_alive;

/// Makes `span` continue the trace of a remote caller, typically from an
/// incoming W3C `traceparent` header: records in the span (and its
/// children) carry `parent`'s trace id and flags, and the span gets a fresh
/// span id.
///
/// Call it right after creating the span, before anything is logged in it;
/// it returns `false` (and changes nothing) when the span's ids are already
/// fixed, or when the span is not tracked by a bridge layer on a
/// `Registry`.
/// With `tracing-opentelemetry`, use its `OpenTelemetrySpanExt::set_parent`
/// instead, so that the span's records and its OpenTelemetry span share
/// ids: a span given `continue_trace` keeps the ids this call fixed, even
/// where `tracing-opentelemetry` would give it others, while its children
/// that `tracing-opentelemetry` tracks carry the context it gives them, in
/// the trace of its own span, not `parent`'s.
///
/// ```
/// use otel_log_bridge::TraceContext;
///
/// let header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
/// let span = tracing::info_span!("request");
/// if let Some(parent) = TraceContext::from_traceparent(header) {
///     // No bridge layer is installed here, so the span is not tracked.
///     let continued = otel_log_bridge::continue_trace(&span, parent);
///     assert!(!continued);
/// }
/// ```
#[must_use = "`false` means that the span does not continue the caller's trace"]
pub fn continue_trace(span: &tracing::Span, parent: crate::record::TraceContext) -> bool {
    span::continue_trace(span, parent)
}

/// The trace context records logged in `span` carry, for passing the trace
/// on to the services it calls, typically as a W3C `traceparent` header.
///
/// `None` when no bridge layer on a `Registry` tracks the span or an
/// ancestor (the span is disabled, or the subscriber is another one).
/// Reading it fixes the span's ids, as logging in it does: call
/// [`continue_trace`] first when the span continues a caller's trace. With
/// `tracing-opentelemetry`'s layer, reading it (or logging in the span)
/// starts the span's OpenTelemetry span, so `OpenTelemetrySpanExt::set_parent`
/// must come before too: afterwards it fails with `AlreadyStarted`.
///
/// ```
/// let span = tracing::info_span!("call inventory");
/// if let Some(context) = otel_log_bridge::trace_context(&span) {
///     let traceparent = context.to_traceparent();
///     // request.header("traceparent", traceparent) …
///     # let _ = traceparent;
/// }
/// ```
pub fn trace_context(span: &tracing::Span) -> Option<crate::record::TraceContext> {
    span::span_trace_context(span)
}

/// Which enclosing-span fields are copied onto each record.
///
/// The default is [`SpanFields::all`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpanFields(SpanFieldsInner);

#[derive(Clone, Debug, PartialEq, Eq)]
enum SpanFieldsInner {
    None,
    All,
    Only(Vec<String>),
}

impl SpanFields {
    /// Copy no span fields; records still carry the span's trace context.
    pub fn none() -> SpanFields {
        SpanFields(SpanFieldsInner::None)
    }

    /// Copy every field of every enclosing span (the default), but for
    /// the fields that tell `tracing-opentelemetry` a span's name, kind and
    /// status (`otel.name`, `otel.kind`, `otel.status_code`,
    /// `otel.status_description`): they describe the span, not what its
    /// records say. [`SpanFields::only`] copies them when named.
    pub fn all() -> SpanFields {
        SpanFields(SpanFieldsInner::All)
    }

    /// Copy only the span fields with these names.
    ///
    /// ```
    /// let fields = otel_log_bridge::SpanFields::only(["http.route", "user.id"]);
    /// # let _ = fields;
    /// ```
    pub fn only<I, S>(names: I) -> SpanFields
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        SpanFields(SpanFieldsInner::Only(
            names.into_iter().map(Into::into).collect(),
        ))
    }

    pub(crate) fn is_none(&self) -> bool {
        self.0 == SpanFieldsInner::None
    }

    pub(crate) fn allows(&self, name: &str) -> bool {
        match &self.0 {
            SpanFieldsInner::None => false,
            SpanFieldsInner::All => !SPAN_DIRECTIVES.contains(&name),
            SpanFieldsInner::Only(names) => names.iter().any(|allowed| allowed == name),
        }
    }
}

/// The span fields `tracing-opentelemetry` reads as its span's name, kind
/// and status rather than as attributes.
const SPAN_DIRECTIVES: [&str; 4] = [
    "otel.name",
    "otel.kind",
    "otel.status_code",
    "otel.status_description",
];

impl Default for SpanFields {
    fn default() -> Self {
        SpanFields::all()
    }
}

/// What the capture side adds to each record besides the event itself.
#[derive(Clone, Debug)]
pub(crate) struct CaptureOptions {
    pub(crate) span_fields: SpanFields,
    pub(crate) code_attributes: bool,
    pub(crate) thread_attributes: bool,
    /// `OTEL_SEMCONV_STABILITY_OPT_IN=code/dup`: also write the deprecated
    /// `code.filepath`, `code.lineno` and `code.column` names.
    pub(crate) duplicate_legacy_code_attributes: bool,
    pub(crate) limits: crate::record::AttributeLimits,
    pub(crate) redaction: redact::RedactionSettings,
    pub(crate) lint: runtime_lint::LintSettings,
}

impl Default for CaptureOptions {
    fn default() -> Self {
        CaptureOptions {
            span_fields: SpanFields::all(),
            code_attributes: true,
            thread_attributes: true,
            duplicate_legacy_code_attributes: false,
            limits: crate::record::AttributeLimits::default(),
            redaction: redact::RedactionSettings::default(),
            lint: runtime_lint::LintSettings::default(),
        }
    }
}

thread_local! {
    /// Set on the crate's own worker threads: whatever they log (the HTTP
    /// stack, the OTel SDK, this crate) must never be exported, or an export
    /// would produce records that need exporting.
    static SUPPRESSED: Cell<bool> = const { Cell::new(false) };
    static SCRATCH: RefCell<Record> = RefCell::new(Record::default());
    static THREAD: ThreadInfo = ThreadInfo::current();
    /// `THREAD`'s id and name again, in a thread-local without a
    /// destructor, which stays readable while the thread ends: from other
    /// thread-locals' destructors, where `THREAD` may be gone, and after
    /// them (in `atexit` handlers), where the standard library's own record
    /// of the thread is gone too, and asking it panics.
    static KEPT_THREAD: Cell<Option<KeptThread>> = const { Cell::new(None) };
}

/// The longest thread name [`KEPT_THREAD`] keeps, in bytes; a longer one
/// is cut on a character boundary.
const KEPT_NAME_BYTES: usize = 64;

/// A thread's id and name, in a form that needs no destructor.
#[derive(Clone, Copy)]
struct KeptThread {
    id: i64,
    name: Option<([u8; KEPT_NAME_BYTES], usize)>,
}

impl KeptThread {
    fn new(info: &ThreadInfo) -> KeptThread {
        let name = info.name.as_deref().map(|name| {
            let mut len = name.len().min(KEPT_NAME_BYTES);
            while !name.is_char_boundary(len) {
                len -= 1;
            }
            let mut bytes = [0; KEPT_NAME_BYTES];
            bytes[..len].copy_from_slice(&name.as_bytes()[..len]);
            (bytes, len)
        });
        KeptThread { id: info.id, name }
    }

    fn info(&self) -> ThreadInfo {
        ThreadInfo {
            id: self.id,
            name: self
                .name
                .map(|(bytes, len)| Arc::from(String::from_utf8_lossy(&bytes[..len]).as_ref())),
        }
    }
}

/// Marks the current thread as one whose events are never captured.
pub(crate) fn suppress_current_thread() {
    SUPPRESSED.with(|flag| flag.set(true));
}

pub(crate) fn is_suppressed() -> bool {
    // During thread teardown the flag may already be gone; capturing then is
    // harmless because such a thread is never one of the crate's workers.
    SUPPRESSED.try_with(Cell::get).unwrap_or(false)
}

/// Runs `f` with the thread's scratch record.
///
/// An event emitted while another is being captured (say, from a field's
/// `Debug` impl) or from a thread-local destructor finds the record in use
/// or gone and gets a fresh one, so nothing is lost and no borrow can fail.
pub(crate) fn with_scratch<R>(f: impl FnOnce(&mut Record) -> R) -> R {
    // Borrowed in place rather than moved out of a `Cell` and back: a
    // record is a few hundred bytes, and this runs for every event.
    if SCRATCH.try_with(|_| ()).is_ok() {
        return SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
            Ok(mut record) => f(&mut record),
            // Logging from inside an event's capture (a `Debug` impl that
            // logs) gets a record of its own.
            Err(_) => f(&mut Record::default()),
        });
    }
    // The thread is being torn down.
    f(&mut Record::default())
}

/// The calling thread's name and numeric id, computed once per thread.
pub(crate) struct ThreadInfo {
    pub(crate) id: i64,
    pub(crate) name: Option<Arc<str>>,
}

/// Runs `f` with the calling thread's name and id. While the thread ends
/// (a thread-local's destructor that logs), once the cached ones are gone,
/// with those [`KEPT_THREAD`] kept, which `THREAD` sets as it is made; so
/// `None` does not come in practice. (A thread's very first record, logged
/// after the standard library dropped its own record of the thread, in an
/// `atexit` handler of a main thread that never logged, makes `THREAD`,
/// whose asking the standard library then panics.)
pub(crate) fn with_thread_info<R>(f: impl FnOnce(&ThreadInfo) -> R) -> Option<R> {
    let mut f = Some(f);
    if let Ok(Some(result)) = THREAD.try_with(|thread| f.take().map(|f| f(thread))) {
        return Some(result);
    }
    let kept = KEPT_THREAD.try_with(Cell::get).ok().flatten()?;
    f.map(|f| f(&kept.info()))
}

impl ThreadInfo {
    /// The `thread.*` attributes: the id, and the name when the thread has
    /// one.
    pub(crate) fn attributes(&self) -> impl Iterator<Item = (&'static str, ValueRef<'_>)> {
        let name = self
            .name
            .as_deref()
            .map(|name| ("thread.name", ValueRef::Str(name)));
        [Some(("thread.id", ValueRef::Int(self.id))), name]
            .into_iter()
            .flatten()
    }

    fn current() -> ThreadInfo {
        let thread = std::thread::current();
        let info = ThreadInfo {
            id: thread_number(thread.id()),
            name: thread.name().map(Arc::from),
        };
        let _ = KEPT_THREAD.try_with(|kept| kept.set(Some(KeptThread::new(&info))));
        info
    }
}

/// Rust does not expose a thread id's number on stable; its `Debug` form is
/// `ThreadId(N)`, which is read once per thread.
fn thread_number(id: std::thread::ThreadId) -> i64 {
    let text = format!("{id:?}");
    text.trim_start_matches("ThreadId(")
        .trim_end_matches(')')
        .parse()
        .unwrap_or(0)
}

/// Whether `key` is in a namespace whose keys the bridge writes itself
/// (source location, thread, exception).
pub(crate) fn is_bridge_key(key: &str) -> bool {
    key.starts_with("code.") || key.starts_with("thread.") || key.starts_with("exception.")
}

/// A record's source file, as [`add_common_attributes`] takes it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum SourceFile<'a> {
    /// A `tracing` callsite's file, referred to rather than copied.
    Static(&'static str),
    /// A file borrowed for the call (a `log` record's, a panic's), copied
    /// into the record.
    Borrowed(&'a str),
    /// A file already in the record's text (a `log` record that
    /// `tracing-log` forwarded), used where it is: copying it out of the
    /// record to add it back would allocate for every such record.
    InRecord(TextRange),
}

/// Adds the attributes every capture path shares: source location and
/// thread. Bridge-owned keys yield to a field of the same name, so a user's
/// explicit value is never overwritten.
pub(crate) fn add_common_attributes(
    record: &mut Record,
    options: &CaptureOptions,
    file: Option<SourceFile<'_>>,
    line: Option<u32>,
) {
    use crate::record::{Key, Value};
    let before = record.attributes().len();
    // Whether every code attribute asked for was added: none yielded to a
    // field of the same key or fell to the count limit.
    let mut all_added = true;
    if options.code_attributes {
        if let Some(file) = file {
            let file = match file {
                SourceFile::Static(file) => Value::StaticStr(file),
                SourceFile::Borrowed(file) => Value::Str(record.push_text(file)),
                SourceFile::InRecord(range) => Value::Str(range),
            };
            all_added &=
                record.set_attribute(Key::Static("code.file.path"), file, OnDuplicate::Keep);
            if options.duplicate_legacy_code_attributes {
                all_added &=
                    record.set_attribute(Key::Static("code.filepath"), file, OnDuplicate::Keep);
            }
        }
        if let Some(line) = line {
            let line = Value::Int(i64::from(line));
            all_added &=
                record.set_attribute(Key::Static("code.line.number"), line, OnDuplicate::Keep);
            if options.duplicate_legacy_code_attributes {
                all_added &=
                    record.set_attribute(Key::Static("code.lineno"), line, OnDuplicate::Keep);
            }
        }
    }
    if record.callsite.is_some() && all_added {
        // Then they are the same for every record of this callsite.
        let after = record.attributes().len();
        record.callsite_attributes = u32::try_from(before).ok().zip(u32::try_from(after).ok());
    }
    if options.thread_attributes {
        with_thread_info(|thread| {
            for (key, value) in thread.attributes() {
                record.set_ref(key, value, OnDuplicate::Keep);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A thread's name is kept for its last records whole when short, and
    /// cut on a character boundary when long.
    #[test]
    fn a_kept_thread_name_is_cut_on_a_character_boundary() {
        let info = |name: &str| ThreadInfo {
            id: 7,
            name: Some(Arc::from(name)),
        };
        let short = KeptThread::new(&info("worker")).info();
        assert_eq!((short.id, short.name.as_deref()), (7, Some("worker")));
        // Three bytes each: 64 bytes fall inside the 22nd.
        let long = "€".repeat(40);
        let kept = KeptThread::new(&info(&long)).info();
        assert_eq!(kept.name.as_deref(), Some("€".repeat(21).as_str()));
    }

    #[test]
    fn code_attributes_are_shared_per_callsite_only_when_all_were_added() {
        use crate::record::{Key, Value};
        let options = CaptureOptions::default();
        let mut record = Record::default();
        record.callsite = Some(0x1000);
        add_common_attributes(
            &mut record,
            &options,
            Some(SourceFile::Static("src/a.rs")),
            Some(3),
        );
        assert_eq!(record.callsite_attributes, Some((0, 2)));

        // A field that took one of the keys makes the record encode in full.
        let mut record = Record::default();
        record.callsite = Some(0x1000);
        record.set_attribute(
            Key::Static("code.line.number"),
            Value::Int(7),
            OnDuplicate::Replace,
        );
        add_common_attributes(
            &mut record,
            &options,
            Some(SourceFile::Static("src/a.rs")),
            Some(3),
        );
        assert_eq!(record.callsite_attributes, None);

        // Records without a callsite (`log`, panics) never share.
        let mut record = Record::default();
        add_common_attributes(
            &mut record,
            &options,
            Some(SourceFile::Static("src/a.rs")),
            Some(3),
        );
        assert_eq!(record.callsite_attributes, None);
    }

    #[test]
    fn nested_scratch_use_gets_a_fresh_record() {
        let outer_len = with_scratch(|outer| {
            outer.set_body_text("outer");
            let inner = with_scratch(|inner| {
                assert_eq!(inner.body(), None);
                inner.set_body_text("inner");
                inner.body().map(str::len)
            });
            assert_eq!(inner, Some(5));
            outer.body().map(str::len)
        });
        assert_eq!(outer_len, Some(5));
    }

    #[test]
    fn thread_numbers_are_read_from_the_debug_form() {
        assert!(thread_number(std::thread::current().id()) > 0);
    }

    #[test]
    fn allow_list_matches_exact_names() {
        let fields = SpanFields::only(["a.b"]);
        assert!(fields.allows("a.b"));
        assert!(!fields.allows("a"));
        assert!(!SpanFields::none().allows("a.b"));
    }
}
