//! Into an application's own OpenTelemetry SDK pipeline: records become SDK
//! `LogRecord`s, with the same mapping, and go through the application's
//! processors and exporters.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::LocalKey;
use std::time::{Duration, Instant, UNIX_EPOCH};

use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _, Severity};
use opentelemetry::trace::{SpanId, TraceFlags, TraceId};
use opentelemetry::Key;
use opentelemetry_sdk::logs::{SdkLogger, SdkLoggerProvider};

use crate::diag;
use crate::export::Flushed;
use crate::record::{self, Record, ScopeName, ValueRef};

thread_local! {
    /// The sink (by address) whose provider this thread is inside the
    /// `emit` of, 0 when none: a record that comes meanwhile (from the
    /// panic hook, as a processor panics, or from a processor that logs) is
    /// not given to any provider. Not only to the one being emitted into:
    /// with two bridge layers, each with a provider whose processor logs,
    /// each provider's records would go into the other's, and back, without
    /// end.
    static INSIDE_A_PROVIDER: Cell<usize> = const { Cell::new(0) };
    /// Set while the panic hook emits its record of a panic, where a panic
    /// in a processor would abort the process.
    static REPORTING_A_PANIC: Cell<bool> = const { Cell::new(false) };
    /// Whether the provider this thread is inside the `emit` of (see
    /// [`INSIDE_A_PROVIDER`]) had panicked before.
    static INSIDE_A_PROVIDER_THAT_PANICKED: Cell<bool> = const { Cell::new(false) };
    /// Set while a record is emitted that may come while OpenTelemetry
    /// holds its context borrowed, as the summary of a storm of its
    /// warnings about that context does (see [`logged_inside_the_context`]).
    static INSIDE_THE_CONTEXT: Cell<bool> = const { Cell::new(false) };
}

/// Whether the panic now raised is a provider's again: raised inside the
/// `emit` of a provider that had panicked before. Its first panic is
/// recorded by the panic hook, as any; a repeated one, as a processor
/// with a bug raises on every record, is not, nor waited for: each
/// logging call would pay the hook's flush, and every output would get
/// a fatal record per log record. The records themselves count as failed.
pub(crate) fn a_providers_repeated_panic() -> bool {
    INSIDE_A_PROVIDER.with(Cell::get) != 0 && INSIDE_A_PROVIDER_THAT_PANICKED.with(Cell::get)
}

/// Runs `report`, the panic hook's emitting of its record: a provider that
/// has panicked once is not given that record (see [`SdkSink::emit`]).
pub(crate) fn reporting_a_panic(report: impl FnOnce()) {
    with_flag(&REPORTING_A_PANIC, report);
}

/// Runs `emit`, the emitting of a record that may come while OpenTelemetry
/// holds its context borrowed: the provider is not given that record (see
/// [`SdkSink::emit`]).
pub(crate) fn inside_the_api_context(emit: impl FnOnce()) {
    with_flag(&INSIDE_THE_CONTEXT, emit);
}

/// Runs `run` with this thread's `flag` set. It is cleared however `run`
/// ends: left set by a panic that the application catches, it would keep
/// the thread's later records from the provider.
fn with_flag(flag: &'static LocalKey<Cell<bool>>, run: impl FnOnce()) {
    struct Clear(&'static LocalKey<Cell<bool>>);
    impl Drop for Clear {
        fn drop(&mut self) {
            let _ = self.0.try_with(|flag| flag.set(false));
        }
    }
    let _ = flag.try_with(|flag| flag.set(true));
    let _clear = Clear(flag);
    run();
}

/// The name of the SDK logger the bridge emits through; the record's
/// target, set on each record, is what OTLP exporters use as the scope.
const LOGGER_NAME: &str = "otel-log-bridge";

/// Emits records into an `SdkLoggerProvider`.
#[derive(Debug)]
pub(crate) struct SdkSink {
    provider: SdkLoggerProvider,
    logger: SdkLogger,
    emitted: AtomicU64,
    declined: AtomicU64,
    /// Records a processor panicked on, or that came while the provider
    /// was emitting on the same thread.
    failed: AtomicU64,
    /// A processor panicked once: the panic hook's records no longer go to
    /// the provider (the records of destructors that run as a panic
    /// unwinds still do: a panic there is caught, as anywhere else).
    panicked: AtomicBool,
    flushes: Arc<Flushes>,
}

/// The provider's flushes, run one at a time on a thread of their own.
#[derive(Debug, Default)]
struct Flushes {
    state: Mutex<FlushState>,
    finished: Condvar,
}

impl Flushes {
    fn lock(&self) -> std::sync::MutexGuard<'_, FlushState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until `done` says so or `deadline` passes; `None` then.
    fn wait_until<'a>(
        &'a self,
        mut state: std::sync::MutexGuard<'a, FlushState>,
        deadline: Instant,
        done: impl Fn(&FlushState) -> bool,
    ) -> Option<std::sync::MutexGuard<'a, FlushState>> {
        while !done(&state) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            state = self
                .finished
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        Some(state)
    }
}

/// Ends a flush thread's flush, on return or unwind.
struct FinishFlush {
    flushes: Arc<Flushes>,
    /// Why the flush failed; it panicked until it says otherwise.
    failure: Option<String>,
    /// Whether it failed because the application had shut the provider
    /// down.
    provider_shut_down: bool,
}

impl Drop for FinishFlush {
    fn drop(&mut self) {
        let mut state = self.flushes.lock();
        state.running = false;
        state.finished += 1;
        state.provider_shut_down |= self.provider_shut_down;
        match self.failure.take() {
            Some(failure) => state.failure = Some(failure),
            None => state.succeeded = state.finished,
        }
        drop(state);
        self.flushes.finished.notify_all();
    }
}

#[derive(Debug, Default)]
struct FlushState {
    /// Whether a flush is running.
    running: bool,
    /// How many flushes have finished.
    finished: u64,
    /// The number of the last flush that succeeded (0 for none).
    succeeded: u64,
    /// Why the last one to fail failed.
    failure: Option<String>,
    /// Whether a flush found the provider shut down by the application.
    provider_shut_down: bool,
}

impl FlushState {
    /// The outcome for a caller whose flush was number `target`, once it
    /// finished. A later flush may have finished before the caller looked:
    /// it covers the caller's records too, so any success from `target` on
    /// counts, and the caller is not told of a later flush's failure when
    /// its own succeeded.
    fn outcome(&self, target: u64) -> Flushed {
        match &self.failure {
            Some(failure) if self.succeeded < target => Flushed::Failed(failure.clone()),
            _ => Flushed::Done,
        }
    }
}

/// Whether `record` may be one the `opentelemetry` crate logs about its
/// context while it holds that context borrowed (`Context.AttachFailed`,
/// when too many contexts are attached): the SDK's logger reads the
/// context before anything else, which panics then, and the panic hook,
/// reading it again, would abort the process. Those come as `tracing`
/// events named `Context.*`, and as `log` records without a name when
/// `tracing` forwards its events to `log` (its `log-always` feature): any
/// record of that target without a name may be one. So may the summary of
/// a storm of them, given before the event the rate limit lets through
/// (see [`inside_the_api_context`]).
fn logged_inside_the_context(record: &Record) -> bool {
    INSIDE_THE_CONTEXT.with(Cell::get)
        || record.scope_name() == "opentelemetry"
            && record
                .event_name
                .is_none_or(|name| name.starts_with("Context."))
}

impl SdkSink {
    pub(crate) fn new(provider: SdkLoggerProvider) -> SdkSink {
        let logger = provider.logger(LOGGER_NAME);
        SdkSink {
            provider,
            logger,
            emitted: AtomicU64::new(0),
            declined: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            panicked: AtomicBool::new(false),
            flushes: Arc::default(),
        }
    }

    /// What tells this sink apart in [`INSIDE_A_PROVIDER`]: its address,
    /// never 0.
    fn address(&self) -> usize {
        std::ptr::from_ref(self) as usize
    }

    /// Records handed to the provider. Read with `Acquire`, as the other
    /// outcomes are (see `Pipeline::stats`).
    pub(crate) fn emitted(&self) -> u64 {
        self.emitted.load(Ordering::Acquire)
    }

    /// Records the provider declined (see [`SdkSink::emit`]).
    pub(crate) fn declined(&self) -> u64 {
        self.declined.load(Ordering::Acquire)
    }

    /// Records that did not reach the provider (see [`SdkSink::emit`]).
    pub(crate) fn failed(&self) -> u64 {
        self.failed.load(Ordering::Acquire)
    }

    /// Emits `record` (see [`SdkSink::emit_unguarded`]). A processor's
    /// panic is caught, so that it does not come out of the application's
    /// logging call, and the record counts as failed. Records that would
    /// make a panic in a processor abort the process are not emitted, and
    /// count as failed too:
    /// - one that comes while this thread is inside a provider's `emit`
    ///   (this one's or another bridge layer's): the panic hook's record as
    ///   a processor panics (a panic inside the hook aborts), or one a
    ///   processor logs (which would loop);
    /// - the panic hook's records, once a processor has panicked;
    /// - OpenTelemetry's own records about its context (see
    ///   [`logged_inside_the_context`]);
    /// - records logged while the thread ends, once OpenTelemetry's context
    ///   on it may be gone (see [`SdkSink::emit_unguarded`]).
    pub(crate) fn emit(&self, record: &Record) {
        if logged_inside_the_context(record) {
            self.failed.fetch_add(1, Ordering::Release);
            // Said once without formatting it again for each record: these
            // come on the logging thread.
            static SAID: AtomicBool = AtomicBool::new(false);
            if SAID.swap(true, Ordering::Relaxed) {
                return;
            }
            diag::warn(format_args!(
                "OpenTelemetry's records about its own context (event names `Context.*`, its `log` records, which have no name, and the rate limit's summary given just before such a record) are not handed to the logger provider given to Builder::with_logger_provider, which would read that context while OpenTelemetry holds it: they count as failed there, and reach the other outputs"
            ));
            return;
        }
        if INSIDE_A_PROVIDER.with(Cell::get) != 0
            || (REPORTING_A_PANIC.with(Cell::get) && self.panicked.load(Ordering::Relaxed))
        {
            self.failed.fetch_add(1, Ordering::Release);
            return;
        }
        // Set and reset around a call that cannot unwind: the reset is
        // never skipped.
        INSIDE_A_PROVIDER.with(|inside| inside.set(self.address()));
        INSIDE_A_PROVIDER_THAT_PANICKED
            .with(|panicked| panicked.set(self.panicked.load(Ordering::Relaxed)));
        let outcome = catch_unwind(AssertUnwindSafe(|| self.emit_unguarded(record)));
        INSIDE_A_PROVIDER.with(|inside| inside.set(0));
        if outcome.is_err() {
            self.panicked.store(true, Ordering::Relaxed);
            self.failed.fetch_add(1, Ordering::Release);
            diag::error(format_args!(
                "the logger provider given to Builder::with_logger_provider panicked while emitting a record; the record is counted as failed"
            ));
        }
    }

    /// Emits `record`, unless none of the provider's processors is enabled
    /// for it: they are asked first, as the official bridge asks them, so
    /// that a processor that filters by severity or target filters these
    /// records too.
    ///
    /// Not when OpenTelemetry's context on this thread may be gone (a
    /// record logged from a thread-local's destructor, once the bridge's
    /// marker of that context, which goes before it, is gone): the SDK's
    /// logger reads it, first thing, to tell whether telemetry is
    /// suppressed, and would panic. The record counts as failed, and
    /// reaches the other outputs.
    fn emit_unguarded(&self, record: &Record) {
        if !crate::capture::opentelemetry_context_alive() {
            self.failed.fetch_add(1, Ordering::Release);
            diag::warn(format_args!(
                "records logged while a thread ends, once OpenTelemetry's context on that thread may be gone, are not handed to the logger provider given to Builder::with_logger_provider, whose logger reads that context: they count as failed there, and reach the other outputs"
            ));
            return;
        }
        let enabled = self.logger.event_enabled(
            severity(record.severity),
            record.scope_name(),
            record.event_name,
        );
        if !enabled {
            self.declined.fetch_add(1, Ordering::Release);
            return;
        }
        let mut sdk = self.logger.create_log_record();
        sdk.set_timestamp(UNIX_EPOCH + Duration::from_nanos(record.time_unix_nano));
        sdk.set_observed_timestamp(
            UNIX_EPOCH + Duration::from_nanos(record.observed_time_unix_nano),
        );
        sdk.set_severity_number(severity(record.severity));
        sdk.set_severity_text(record.severity.text);
        match record.scope {
            ScopeName::Static(target) => sdk.set_target(target),
            ScopeName::Arena(_) => sdk.set_target(record.scope_name().to_owned()),
        }
        if let Some(name) = record.event_name {
            sdk.set_event_name(name);
        }
        if let Some(body) = record.body() {
            sdk.set_body(AnyValue::String(body.to_owned().into()));
        }
        for attribute in record.attributes() {
            let key = match attribute.key {
                record::Key::Static(key) => Key::from_static_str(key),
                record::Key::Arena(_) => Key::new(record.key(attribute.key).to_owned()),
            };
            // The SDK has no empty value: a null (`None` captured with
            // `:serde`) is left out, as nulls inside maps and lists are,
            // rather than become a string that was never logged.
            if let Some(value) = any_value(record.value(attribute.value)) {
                sdk.add_attribute(key, value);
            }
        }
        if let Some(trace) = &record.trace {
            sdk.set_trace_context(
                TraceId::from_bytes(trace.trace_id),
                SpanId::from_bytes(trace.span_id),
                Some(TraceFlags::new(trace.flags)),
            );
        }
        if record.detached {
            // The SDK gives a record without a trace the current context's
            // span, which `tracing-opentelemetry` keeps set while a span is
            // entered: an event given `parent: None` is emitted outside
            // it, as the crate's own outputs write it. Other records
            // without a trace keep the context, which the application may
            // have set through the OpenTelemetry API.
            let _outside = opentelemetry::Context::new().attach();
            self.logger.emit(sdk);
        } else {
            self.logger.emit(sdk);
        }
        self.emitted.fetch_add(1, Ordering::Release);
    }

    /// Whether a flush found the provider shut down by the application:
    /// its own shutdown flushed it then.
    pub(crate) fn provider_shut_down(&self) -> bool {
        self.flushes.lock().provider_shut_down
    }

    /// Flushes the provider, waiting at most until `deadline`. The SDK's
    /// flush takes no timeout (a `BatchLogProcessor` waits up to its own,
    /// 5 s by default, and another processor may wait for ever), so it runs
    /// on a thread of its own, left to finish in the background when the
    /// deadline passes first. One flush runs at a time: a flush asked for
    /// while one runs waits for it, then starts its own, so that it covers
    /// the records emitted before it was asked for, and a processor that
    /// never finishes holds one thread, not one per call.
    ///
    /// A flush asked for on a thread inside this provider's `emit` (the
    /// panic hook's, as a processor panics, or one a processor asks for
    /// through `log::logger().flush()`) leaves the provider alone, and
    /// says so: its processors would wait for locks this very thread holds
    /// until the deadline.
    pub(crate) fn flush_until(&self, deadline: Instant) -> Flushed {
        if INSIDE_A_PROVIDER.with(Cell::get) == self.address() {
            return Flushed::Failed(
                "the logger provider was not flushed: the flush was asked for on a thread inside its emit, whose locks it would wait for".to_owned(),
            );
        }
        let state = self.flushes.lock();
        let Some(mut state) = self
            .flushes
            .wait_until(state, deadline, |state| !state.running)
        else {
            return Flushed::TimedOut;
        };
        let target = state.finished + 1;
        state.running = true;
        drop(state);
        let provider = self.provider.clone();
        let flushes = Arc::clone(&self.flushes);
        let spawned = std::thread::Builder::new()
            .name("otel-log-bridge-sdk-flush".to_owned())
            .spawn(move || {
                crate::capture::suppress_current_thread();
                // Marks the flush finished even when a processor panics,
                // so that later flushes are not left waiting for it.
                let mut finish = FinishFlush {
                    flushes,
                    failure: Some("the logger provider's flush panicked".to_owned()),
                    provider_shut_down: false,
                };
                let flushed = provider.force_flush();
                finish.provider_shut_down = match &flushed {
                    Err(opentelemetry_sdk::error::OTelSdkError::AlreadyShutdown) => true,
                    // The provider gathers its processors' outcomes into
                    // one text (`errs: [Err(AlreadyShutdown), …]`): shut
                    // down when every error in it says so.
                    Err(opentelemetry_sdk::error::OTelSdkError::InternalFailure(text)) => {
                        let shut_down = text.matches("Err(AlreadyShutdown)").count();
                        shut_down > 0 && shut_down == text.matches("Err(").count()
                    }
                    _ => false,
                };
                finish.failure = flushed
                    .err()
                    .map(|error| format!("the logger provider's flush failed: {error}"));
            });
        let mut state = self.flushes.lock();
        if let Err(error) = spawned {
            // Without a thread the flush could not be bounded. A caller
            // waiting for this one to end may start its own.
            state.running = false;
            drop(state);
            self.flushes.finished.notify_all();
            return Flushed::Failed(format!(
                "no thread for the logger provider's flush: {error}"
            ));
        }
        match self
            .flushes
            .wait_until(state, deadline, |state| state.finished >= target)
        {
            None => Flushed::TimedOut,
            Some(state) => state.outcome(target),
        }
    }
}

fn severity(severity: record::Severity) -> Severity {
    match severity.number {
        1 => Severity::Trace,
        5 => Severity::Debug,
        9 => Severity::Info,
        13 => Severity::Warn,
        17 => Severity::Error,
        _ => Severity::Fatal,
    }
}

/// An attribute's value as an SDK value; `None` for a null.
fn any_value(value: ValueRef<'_>) -> Option<AnyValue> {
    Some(match value {
        ValueRef::Int(i) => AnyValue::Int(i),
        ValueRef::Double(f) => AnyValue::Double(f),
        ValueRef::Bool(b) => AnyValue::Boolean(b),
        ValueRef::Str(s) => AnyValue::String(s.to_owned().into()),
        ValueRef::Bytes(b) => AnyValue::Bytes(Box::new(b.to_vec())),
        ValueRef::Nested(tree) => return tree_value(tree),
    })
}

/// A nested tree as an SDK value; `null`s are left out of maps and lists,
/// as the SDK has no null value.
fn tree_value(tree: &serde_json::Value) -> Option<AnyValue> {
    Some(match tree {
        serde_json::Value::Null => return None,
        serde_json::Value::Bool(b) => AnyValue::Boolean(*b),
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => AnyValue::Int(i),
            (None, Some(f)) if n.is_f64() => AnyValue::Double(f),
            _ => AnyValue::String(n.to_string().into()),
        },
        serde_json::Value::String(s) => AnyValue::String(s.clone().into()),
        serde_json::Value::Array(items) => {
            AnyValue::ListAny(Box::new(items.iter().filter_map(tree_value).collect()))
        }
        serde_json::Value::Object(entries) => AnyValue::Map(Box::new(
            entries
                .iter()
                .filter_map(|(key, item)| Some((Key::new(key.clone()), tree_value(item)?)))
                .collect(),
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: a flag set around an emit stayed set when the emit
    /// panicked and the application caught it, keeping every later record
    /// of the thread from the provider.
    #[test]
    fn a_panic_while_a_flag_is_set_leaves_it_cleared() {
        let caught = std::panic::catch_unwind(|| inside_the_api_context(|| panic!("in an emit")));
        assert!(caught.is_err());
        assert!(!INSIDE_THE_CONTEXT.with(Cell::get));
        let caught = std::panic::catch_unwind(|| reporting_a_panic(|| panic!("in a report")));
        assert!(caught.is_err());
        assert!(!REPORTING_A_PANIC.with(Cell::get));
    }

    /// Regression: a caller read the outcome of whichever flush finished
    /// last, so a flush that succeeded was reported as failed when a later
    /// one failed before its caller looked.
    #[test]
    fn a_flush_reports_its_own_outcome_or_a_later_success() {
        let state = FlushState {
            running: false,
            finished: 2,
            succeeded: 1,
            failure: Some("the second failed".to_owned()),
            provider_shut_down: false,
        };
        assert!(matches!(state.outcome(1), Flushed::Done));
        assert!(
            matches!(state.outcome(2), Flushed::Failed(reason) if reason == "the second failed")
        );
        let later_success = FlushState {
            running: false,
            finished: 2,
            succeeded: 2,
            failure: Some("the first failed".to_owned()),
            provider_shut_down: false,
        };
        assert!(matches!(later_success.outcome(1), Flushed::Done));
    }
}
