//! Into an application's own OpenTelemetry SDK pipeline: records become SDK
//! `LogRecord`s, with the same mapping, and go through the application's
//! processors and exporters.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, UNIX_EPOCH};

use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _, Severity};
use opentelemetry::trace::{SpanId, TraceFlags, TraceId};
use opentelemetry::Key;
use opentelemetry_sdk::logs::{SdkLogger, SdkLoggerProvider};

use crate::record::{self, Record, ScopeName, ValueRef};

/// The name of the SDK logger the bridge emits through; the record's
/// target, set on each record, is what OTLP exporters use as the scope.
const LOGGER_NAME: &str = "otel-log-bridge";

/// Emits records into an `SdkLoggerProvider`.
#[derive(Debug)]
pub(crate) struct SdkSink {
    provider: SdkLoggerProvider,
    logger: SdkLogger,
    emitted: AtomicU64,
}

impl SdkSink {
    pub(crate) fn new(provider: SdkLoggerProvider) -> SdkSink {
        let logger = provider.logger(LOGGER_NAME);
        SdkSink {
            provider,
            logger,
            emitted: AtomicU64::new(0),
        }
    }

    pub(crate) fn emitted(&self) -> u64 {
        self.emitted.load(Ordering::Relaxed)
    }

    pub(crate) fn emit(&self, record: &Record) {
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
            sdk.add_attribute(key, any_value(record.value(attribute.value)));
        }
        if let Some(trace) = &record.trace {
            sdk.set_trace_context(
                TraceId::from_bytes(trace.trace_id),
                SpanId::from_bytes(trace.span_id),
                Some(TraceFlags::new(trace.flags)),
            );
        }
        self.logger.emit(sdk);
        self.emitted.fetch_add(1, Ordering::Relaxed);
    }

    /// Flushes the provider, waiting at most until `deadline`. The SDK's
    /// flush takes no timeout (a `BatchLogProcessor` waits up to its own,
    /// 5 s by default, and another processor may wait for ever), so it runs
    /// on a thread of its own, left to finish in the background when the
    /// deadline passes first.
    pub(crate) fn flush_until(&self, deadline: Instant) -> bool {
        let provider = self.provider.clone();
        let (done, finished) = std::sync::mpsc::sync_channel(1);
        let spawned = std::thread::Builder::new()
            .name("otel-log-bridge-sdk-flush".to_owned())
            .spawn(move || {
                crate::capture::suppress_current_thread();
                let _ = done.send(provider.force_flush().is_ok());
            });
        if spawned.is_err() {
            return self.provider.force_flush().is_ok();
        }
        finished
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or(false)
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

fn any_value(value: ValueRef<'_>) -> AnyValue {
    match value {
        ValueRef::Int(i) => AnyValue::Int(i),
        ValueRef::Double(f) => AnyValue::Double(f),
        ValueRef::Bool(b) => AnyValue::Boolean(b),
        ValueRef::Str(s) => AnyValue::String(s.to_owned().into()),
        ValueRef::Bytes(b) => AnyValue::Bytes(Box::new(b.to_vec())),
        ValueRef::Nested(tree) => tree_value(tree).unwrap_or(AnyValue::String("".into())),
    }
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
