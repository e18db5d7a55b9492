//! The panic hook: a FATAL record, flushed before the process unwinds or
//! aborts.

use std::backtrace::Backtrace;
use std::panic::PanicHookInfo;
use std::sync::{mpsc, Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::capture::span::{self, LayerKey};
use crate::capture::{
    add_common_attributes, is_suppressed, suppress_current_thread, with_scratch, CaptureOptions,
    SourceFile,
};
use crate::export::Pipeline;
use crate::record::{AttributeLimits, Key, OnDuplicate, Record, ScopeName, Severity, Value};

/// How long the panic hook waits for the panic record to be written or
/// exported, at the most.
const PANIC_FLUSH_TIMEOUT: Duration = Duration::from_millis(250);

/// How long the hook waits for the current span's context, read on another
/// thread (see [`add_current_span_context`]). Reading it takes microseconds;
/// the wait is this long only when the span stays locked.
const SPAN_READ_TIMEOUT: Duration = Duration::from_millis(500);

/// The instrumentation scope of panic records: a panic has no target.
const PANIC_SCOPE: &str = "panic";

thread_local! {
    /// Set on the thread that reads the current span for the hook (see
    /// [`add_current_span_context`]). That thread panics, as expected, when
    /// the span's fields were locked by the panicking thread and poisoned:
    /// its panic is not the program's, and is neither recorded nor passed
    /// on to the previous hook, which would print it or report it as a
    /// crash of its own.
    static READING_SPAN_FOR_HOOK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Installs a hook that records every panic, then calls the hook that was
/// installed before (by default, the one that prints the panic message).
///
/// The hook holds the pipeline weakly: after the guard shuts the pipeline
/// down it only forwards to the previous hook. A pipeline gets one hook:
/// later calls for it do nothing.
pub(crate) fn install_panic_hook(pipeline: &Arc<Pipeline>, options: CaptureOptions) {
    // The standard library panics when the hook is changed by a thread
    // that is panicking, and a panic during a panic aborts: a lazy `init`
    // reached from a `Drop` while unwinding must not end the process. The
    // pipeline's hook stays unclaimed, for a later call to install.
    if std::thread::panicking() {
        crate::diag::warn(format_args!(
            "the panic hook was not installed: this thread is panicking, and the hook cannot be changed then"
        ));
        return;
    }
    if !pipeline.claim_panic_hook() {
        return;
    }
    let pipeline = Arc::downgrade(pipeline);
    // Taking the hook and setting the next is not one step: two pipelines
    // installing theirs at once would each take the same hook, and one of
    // the two, and the hook before, would be lost.
    static INSTALLING: Mutex<()> = Mutex::new(());
    let _installing = INSTALLING.lock().unwrap_or_else(PoisonError::into_inner);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if READING_SPAN_FOR_HOOK.try_with(std::cell::Cell::get) == Ok(true)
            || span::otel::probing_context()
        {
            return;
        }
        if let Some(pipeline) = pipeline.upgrade() {
            // A panic on one of the crate's own workers must not wait for
            // that same worker to flush; a provider's repeated panic is
            // not recorded again (see `a_providers_repeated_panic`).
            if !is_suppressed()
                && pipeline.is_open()
                && !crate::export::a_providers_repeated_panic()
            {
                emit_panic(&pipeline, &options, info);
                // Bounded tighter than a guard's flush: a server that
                // catches panics must not stall a thread for seconds on
                // each one while the collector is unreachable.
                match pipeline.flush_within(PANIC_FLUSH_TIMEOUT) {
                    Ok(()) => {}
                    // The record may still go out if the process lives on
                    // (the guard's flush waits longer); if it aborts now,
                    // this says it was lost.
                    // The wait is the shorter of this bound and the
                    // guard's timeout, which the error says.
                    Err(crate::FlushError::Timeout(waited)) => crate::diag::warn(format_args!(
                        "the panic record was not written by every output within {} ms; where it was not, it is lost if the process ends now",
                        waited.as_millis()
                    )),
                    Err(error) => crate::diag::warn(format_args!(
                        "the panic record may not have been exported ({error})"
                    )),
                }
            }
        }
        previous(info);
    }));
}

fn emit_panic(pipeline: &Pipeline, options: &CaptureOptions, info: &PanicHookInfo<'_>) {
    with_scratch(|record| {
        record.set_limits(options.limits);
        record.reset(
            crate::record::clock::now_unix_nanos(),
            Severity::FATAL,
            ScopeName::Static(PANIC_SCOPE),
        );
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("Box<dyn Any>");
        record.set_body_text(message);
        record.set_attribute(
            Key::Static("exception.type"),
            Value::StaticStr("panic"),
            OnDuplicate::Replace,
        );
        record.set_str("exception.message", message, OnDuplicate::Replace);
        if let Some(style) = backtrace_style() {
            let backtrace = Backtrace::force_capture();
            let text = match style {
                BacktraceStyle::Short => record.push_fmt(format_args!("{backtrace}")),
                BacktraceStyle::Full => record.push_fmt(format_args!("{backtrace:#}")),
            };
            record.set_attribute(
                Key::Static("exception.stacktrace"),
                Value::Str(text),
                OnDuplicate::Replace,
            );
        }
        add_current_span_context(record, LayerKey::of(pipeline), options);
        let location = info.location();
        if options.code_attributes {
            if let Some(location) = location {
                let column = Value::Int(i64::from(location.column()));
                record.set_attribute(Key::Static("code.column.number"), column, OnDuplicate::Keep);
                if options.duplicate_legacy_code_attributes {
                    record.set_attribute(Key::Static("code.column"), column, OnDuplicate::Keep);
                }
            }
        }
        add_common_attributes(
            record,
            options,
            location.map(|l| SourceFile::Borrowed(l.file())),
            location.map(|l| l.line()),
        );
        pipeline.redactor().redact_values(record);
        #[cfg(feature = "sdk")]
        crate::export::reporting_a_panic(|| pipeline.emit(record));
        #[cfg(not(feature = "sdk"))]
        pipeline.emit(record);
    });
}

/// How much of a backtrace the standard library's panic hook shows.
enum BacktraceStyle {
    Short,
    Full,
}

/// Whether a panic's record carries a backtrace, and in which form: as
/// the standard library's panic hook decides, from `RUST_BACKTRACE` (`0`
/// or unset: none; `full`: every frame; anything else: the short form),
/// so that the record holds what stderr shows. `RUST_LIB_BACKTRACE`, which
/// `Backtrace::capture` would let decide, is for backtraces that libraries
/// capture, not for panics.
fn backtrace_style() -> Option<BacktraceStyle> {
    match std::env::var_os("RUST_BACKTRACE")? {
        value if value == "0" => None,
        value if value == "full" => Some(BacktraceStyle::Full),
        _ => Some(BacktraceStyle::Short),
    }
}

/// Adds the trace context and fields of the current span, read on another
/// thread within [`SPAN_READ_TIMEOUT`]. This thread may hold the span's
/// fields locked: another layer may be formatting a value recorded on the
/// span under that lock (the `fmt` layer does), and that value's `Debug`
/// impl may be what panicked. Read here, they would be waited for for ever.
/// The other thread waits instead, and the record goes without them.
fn add_current_span_context(record: &mut Record, key: LayerKey, options: &CaptureOptions) {
    // The current span is per thread: it is looked up here, which takes no
    // span's lock, and only its fields are read over there.
    let current = tracing::dispatcher::get_default(|dispatch| {
        let id = dispatch.current_span().id()?.clone();
        Some((dispatch.clone(), id))
    });
    let Some((dispatch, id)) = current else {
        record.trace = span::otel::current_context();
        return;
    };
    let fields = !options.span_fields.is_none();
    // The panic record applies its own limit when the fields are merged.
    let limits = AttributeLimits {
        count: usize::MAX,
        ..options.limits
    };
    let (sender, receiver) = mpsc::sync_channel(1);
    let reader = std::thread::Builder::new()
        .name("otel-log-bridge-panic".into())
        .spawn(move || {
            // If the span's lock is released by a panic, reading it panics
            // here: that must not make a record of its own, nor be
            // reported as a panic.
            suppress_current_thread();
            READING_SPAN_FOR_HOOK.with(|reading| reading.set(true));
            let mut found = Record::default();
            found.set_limits(limits);
            let seen = span::add_nearest_span_context(&mut found, &dispatch, &id, key, fields);
            let _ = sender.send(seen.then_some(found));
        });
    let found = match reader {
        Ok(_) => match receiver.recv_timeout(SPAN_READ_TIMEOUT) {
            Ok(found) => found,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                crate::diag::warn(format_args!(
                    "the panic record carries no span context: the current span could not be read within {} ms (its fields were locked while a value recorded on it was being formatted, which may be what panicked)",
                    SPAN_READ_TIMEOUT.as_millis()
                ));
                None
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                crate::diag::warn(format_args!(
                    "the panic record carries no span context: reading the current span failed (a panic while its fields were locked leaves them unreadable)"
                ));
                None
            }
        },
        Err(error) => {
            crate::diag::warn(format_args!(
                "the panic record carries no span context: no thread could be started to read it ({error})"
            ));
            None
        }
    };
    match found {
        Some(found) => {
            record.trace = found.trace;
            for attribute in found.attributes() {
                // Span field names are static; nothing else is in `found`.
                if let Key::Static(name) = attribute.key {
                    if !record.has_key(name) {
                        record.set_copied(name, &found, attribute.value, OnDuplicate::Keep);
                    }
                }
            }
        }
        // No span the layer saw, or none could be read: as for a record
        // outside any span.
        None => record.trace = span::otel::current_context(),
    }
}
