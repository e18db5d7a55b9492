//! The panic hook: a FATAL record, flushed before the process unwinds or
//! aborts.

use std::backtrace::{Backtrace, BacktraceStatus};
use std::panic::PanicHookInfo;
use std::sync::Arc;

use crate::capture::{add_common_attributes, is_suppressed, span, with_scratch, CaptureOptions};
use crate::export::Pipeline;
use crate::record::{Key, OnDuplicate, ScopeName, Severity, Value};

/// How long the panic hook waits for the panic record to be written or
/// exported, at the most.
const PANIC_FLUSH_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(250);

/// The instrumentation scope of panic records: a panic has no target.
const PANIC_SCOPE: &str = "panic";

/// Installs a hook that records every panic, then calls the hook that was
/// installed before (by default, the one that prints the panic message).
///
/// The hook holds the pipeline weakly: after the guard shuts the pipeline
/// down it only forwards to the previous hook. A pipeline gets one hook:
/// later calls for it do nothing.
pub(crate) fn install_panic_hook(pipeline: &Arc<Pipeline>, options: CaptureOptions) {
    if !pipeline.claim_panic_hook() {
        return;
    }
    let pipeline = Arc::downgrade(pipeline);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if let Some(pipeline) = pipeline.upgrade() {
            // A panic on one of the crate's own workers must not wait for
            // that same worker to flush.
            if !is_suppressed() && pipeline.is_open() {
                emit_panic(&pipeline, &options, info);
                // Bounded tighter than a guard's flush: a server that
                // catches panics must not stall a thread for seconds on
                // each one while the collector is unreachable.
                match pipeline.flush_within(PANIC_FLUSH_TIMEOUT) {
                    Ok(()) => {}
                    // The record may still go out if the process lives on
                    // (the guard's flush waits longer); if it aborts now,
                    // this says it was lost.
                    Err(crate::FlushError::Timeout(_)) => crate::diag::warn(format_args!(
                        "the panic record was not exported within {} ms; it is lost if the process ends now",
                        PANIC_FLUSH_TIMEOUT.as_millis()
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
        let backtrace = Backtrace::capture();
        if backtrace.status() == BacktraceStatus::Captured {
            let text = record.push_fmt(format_args!("{backtrace}"));
            record.set_attribute(
                Key::Static("exception.stacktrace"),
                Value::Str(text),
                OnDuplicate::Replace,
            );
        }
        span::add_current_span(record, span::LayerKey::of(pipeline), options);
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
            location.map(|l| l.file()),
            location.map(|l| l.line()),
        );
        pipeline.redactor().redact_values(record);
        pipeline.emit(record);
    });
}
