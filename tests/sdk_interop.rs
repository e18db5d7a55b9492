//! The layer inside an application's own `SdkLoggerProvider`: the SDK
//! records carry the same mapping as the JSON lines.

use opentelemetry::logs::{AnyValue, Severity};
use opentelemetry_sdk::logs::{InMemoryLogExporter, SdkLoggerProvider};
use serde_json::Value;
use tracing_subscriber::prelude::*;

use crate::support::SharedBuf;

fn json_of(value: &AnyValue) -> Value {
    match value {
        AnyValue::Int(i) => Value::from(*i),
        AnyValue::Double(f) => Value::from(*f),
        AnyValue::Boolean(b) => Value::from(*b),
        AnyValue::String(s) => Value::from(s.as_str()),
        other => panic!("unexpected value {other:?}"),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A layer whose only output is `provider`, and its guard.
fn into_provider_only(
    provider: SdkLoggerProvider,
) -> (otel_log_bridge::BridgeLayer, otel_log_bridge::Guard) {
    otel_log_bridge::builder()
        .with_logger_provider(provider)
        .with_exporters(Vec::<otel_log_bridge::Exporter>::new())
        .layer()
        .expect("valid configuration")
}

/// A fresh provider whose records the exporter keeps.
fn provider_keeping_records() -> (InMemoryLogExporter, SdkLoggerProvider) {
    let exporter = InMemoryLogExporter::default();
    let provider = SdkLoggerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    (exporter, provider)
}

/// A layer that emits into a fresh provider, whose records `exporter`
/// keeps, and as JSON lines into `out`.
fn into_provider_and_json(
    out: &SharedBuf,
) -> (
    otel_log_bridge::BridgeLayer,
    otel_log_bridge::Guard,
    InMemoryLogExporter,
    SdkLoggerProvider,
) {
    let (exporter, provider) = provider_keeping_records();
    let (layer, guard) = otel_log_bridge::builder()
        .with_logger_provider(provider.clone())
        .with_exporters([otel_log_bridge::Exporter::Json])
        .with_json_writer(out.clone())
        .layer()
        .expect("valid configuration");
    (layer, guard, exporter, provider)
}

#[test]
fn sdk_records_match_the_json_lines_field_by_field() {
    let out = SharedBuf::default();
    let (layer, guard, exporter, provider) = into_provider_and_json(&out);
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("request", http.route = "/a");
        let _entered = span.enter();
        tracing::warn!(name: "cache.miss", key = "k1", size = 42, ratio = 0.5, hit = false, "cache miss");
    });
    drop(guard);
    let lines = out.lines();
    let sdk = exporter.get_emitted_logs().expect("in-memory logs");
    assert_eq!((lines.len(), sdk.len()), (1, 1));
    let (json, record) = (&lines[0], &sdk[0].record);

    assert_eq!(record.severity_number(), Some(Severity::Warn));
    assert_eq!(
        Some(json["severity_text"].as_str().unwrap()),
        record.severity_text()
    );
    assert_eq!(record.event_name(), Some("cache.miss"));
    assert_eq!(
        record.target().map(|t| t.as_ref()),
        json["scope"]["name"].as_str()
    );
    assert_eq!(record.body().map(json_of), Some(json["body"].clone()));
    let nanos =
        |t: std::time::SystemTime| t.duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let json_time = humantime::parse_rfc3339(json["timestamp"].as_str().unwrap()).unwrap();
    assert_eq!(record.timestamp().map(nanos), Some(nanos(json_time)));
    assert_eq!(
        record.timestamp().map(nanos),
        record.observed_timestamp().map(nanos)
    );
    let trace = record.trace_context().expect("trace context");
    assert_eq!(hex(&trace.trace_id.to_bytes()), json["trace_id"]);
    assert_eq!(hex(&trace.span_id.to_bytes()), json["span_id"]);
    let flags = trace.trace_flags.expect("trace flags").to_u8();
    assert_eq!(format!("{flags:02x}"), json["trace_flags"]);
    let attributes: serde_json::Map<String, Value> = record
        .attributes_iter()
        .map(|(k, v)| (k.to_string(), json_of(v)))
        .collect();
    assert_eq!(
        attributes.len(),
        record.attributes_iter().count(),
        "a key twice"
    );
    assert_eq!(Value::Object(attributes), json["attributes"]);
    // The records come from the bridge's one logger; the target, which
    // OTLP exporters take as the scope's name, is the event's.
    assert_eq!(sdk[0].instrumentation.name(), "otel-log-bridge");
    let _ = provider.shutdown();
}

/// Regression: a null `log` key-value (`None` captured with `:serde`)
/// became an empty string in the provider's record, a value never logged.
/// The SDK has no empty value: it is left out, as nulls inside maps and
/// lists are; the JSON line keeps its `null`.
#[test]
fn a_null_log_key_value_is_left_out_of_the_sdk_record() {
    let out = SharedBuf::default();
    let (layer, guard, exporter, provider) = into_provider_and_json(&out);
    let bridge = layer.log_bridge();
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        crate::support::with_log_target(bridge, || {
            log::info!(target: "app", parent:serde = None::<u64>, id = 7; "created");
        });
    });
    drop(guard);
    let lines = out.lines();
    assert_eq!(lines[0]["attributes"]["parent"], Value::Null);
    let sdk = exporter.get_emitted_logs().expect("in-memory logs");
    let keys: Vec<String> = sdk[0]
        .record
        .attributes_iter()
        .map(|(key, _)| key.to_string())
        .collect();
    assert!(keys.contains(&"id".to_owned()), "{keys:?}");
    assert!(!keys.contains(&"parent".to_owned()), "{keys:?}");
    let _ = provider.shutdown();
}

/// Counts the provider's flushes.
#[derive(Debug, Default)]
struct FlushCounter(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl opentelemetry_sdk::logs::LogProcessor for FlushCounter {
    fn emit(
        &self,
        _record: &mut opentelemetry_sdk::logs::SdkLogRecord,
        _scope: &opentelemetry::InstrumentationScope,
    ) {
    }

    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }
}

/// Regression: `Guard::shutdown` shut the pipeline down, then dropping the
/// guard did it again, waiting a second shutdown timeout for a collector
/// that hangs and flushing the provider twice.
#[test]
fn a_guard_shut_down_explicitly_does_not_shut_down_again_when_dropped() {
    let flushes = std::sync::Arc::default();
    let provider = SdkLoggerProvider::builder()
        .with_log_processor(FlushCounter(std::sync::Arc::clone(&flushes)))
        .build();
    let (_layer, guard) = otel_log_bridge::builder()
        .with_logger_provider(provider.clone())
        .layer()
        .expect("valid configuration");
    let _stats = guard.shutdown();
    assert_eq!(flushes.load(std::sync::atomic::Ordering::Relaxed), 1);
    let _ = provider.shutdown();
}

/// A processor whose flush waits until the test lets it go, and counts
/// the flushes started.
#[derive(Debug)]
struct FlushWaitsForTheTest {
    release: std::sync::Mutex<std::sync::mpsc::Receiver<()>>,
    started: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    /// Told each time a flush starts.
    entered: std::sync::Mutex<std::sync::mpsc::Sender<()>>,
}

impl opentelemetry_sdk::logs::LogProcessor for FlushWaitsForTheTest {
    fn emit(
        &self,
        _record: &mut opentelemetry_sdk::logs::SdkLogRecord,
        _scope: &opentelemetry::InstrumentationScope,
    ) {
    }

    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        self.started
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let _ = self
            .entered
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .send(());
        let release = self
            .release
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let _ = release.recv();
        Ok(())
    }
}

/// Regression: the provider's flush took no timeout, so a guard's flush
/// (and the panic hook's 250 ms one) waited as long as the provider's
/// processors did.
#[test]
fn a_provider_that_does_not_finish_flushing_is_waited_for_only_the_timeout() {
    let (release, released) = std::sync::mpsc::channel();
    let started = std::sync::Arc::default();
    let (entered, flush_entered) = std::sync::mpsc::channel();
    let provider = SdkLoggerProvider::builder()
        .with_log_processor(FlushWaitsForTheTest {
            release: std::sync::Mutex::new(released),
            started: std::sync::Arc::clone(&started),
            entered: std::sync::Mutex::new(entered),
        })
        .build();
    let (_layer, guard) = otel_log_bridge::builder()
        .with_logger_provider(provider.clone())
        .with_shutdown_timeout(std::time::Duration::from_millis(100))
        .layer()
        .expect("valid configuration");
    // The processor cannot finish before this returns: only the timeout
    // can end the wait.
    assert!(guard.flush().is_err(), "timed out");
    // The first flush's thread may reach the provider only now, on a busy
    // machine.
    flush_entered
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("the first flush started");
    // A second flush waits for the first, still running, rather than start
    // another thread that would hang as well.
    assert!(guard.flush().is_err(), "timed out again");
    assert_eq!(started.load(std::sync::atomic::Ordering::Relaxed), 1);
    let _ = release.send(());
    let _ = release.send(());
    drop(guard);
    let _ = release.send(());
    let _ = provider.shutdown();
}

/// A processor whose first flush panics.
#[derive(Debug, Default)]
struct FirstFlushPanics(std::sync::atomic::AtomicBool);

impl opentelemetry_sdk::logs::LogProcessor for FirstFlushPanics {
    fn emit(
        &self,
        _record: &mut opentelemetry_sdk::logs::SdkLogRecord,
        _scope: &opentelemetry::InstrumentationScope,
    ) {
    }

    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        let first = !self.0.swap(true, std::sync::atomic::Ordering::Relaxed);
        assert!(!first, "a processor that panics");
        Ok(())
    }
}

/// Regression: the shutdown threw away how the logger provider's flush
/// ended, so a provider whose flush failed at shutdown lost its records
/// without a word.
#[test]
fn a_providers_failed_flush_at_shutdown_is_reported() {
    if crate::support::is_child() {
        if std::env::var("CASE").as_deref() == Ok("provider shut down first") {
            // As the OpenTelemetry examples end `main`: the provider first.
            let provider = SdkLoggerProvider::builder()
                .with_batch_exporter(InMemoryLogExporter::default())
                .build();
            let (layer, guard) = into_provider_only(provider.clone());
            tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
                tracing::info!("handed over");
            });
            provider.shutdown().expect("shut down");
            drop(guard);
            return;
        }
        let provider = SdkLoggerProvider::builder()
            .with_log_processor(FailingFlush(|| {
                opentelemetry_sdk::error::OTelSdkError::InternalFailure("exporter down".to_owned())
            }))
            .build();
        let (layer, guard) = into_provider_only(provider);
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
            tracing::info!("handed over");
        });
        drop(guard);
        return;
    }
    let output = crate::support::run_child(
        "sdk_interop::a_providers_failed_flush_at_shutdown_is_reported",
        &[],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("at shutdown, flushing the logger provider given to Builder::with_logger_provider failed"),
        "{stderr}"
    );
    assert!(stderr.contains("exporter down"), "{stderr}");
    // Regression (of the first version of this report): a provider the
    // application had shut down first, which flushed it, was reported as
    // a failed flush.
    let output = crate::support::run_child(
        "sdk_interop::a_providers_failed_flush_at_shutdown_is_reported",
        &[("CASE", "provider shut down first")],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        !stderr.contains("at shutdown, flushing the logger provider"),
        "{stderr}"
    );
}

/// Regression: a processor that panicked in its flush left the flush
/// marked running, so every later flush waited out its whole timeout.
#[test]
fn a_flush_that_panics_does_not_hold_up_the_next() {
    let provider = SdkLoggerProvider::builder()
        .with_log_processor(FirstFlushPanics::default())
        .build();
    let (_layer, guard) = otel_log_bridge::builder()
        .with_logger_provider(provider.clone())
        .layer()
        .expect("valid configuration");
    assert!(guard.flush().is_err(), "the first flush panicked");
    assert!(guard.flush().is_ok(), "the second one runs");
    let _ = provider.shutdown();
}

/// Passes on what its inner processor takes, for WARN and above only.
#[derive(Debug)]
struct WarnAndAbove(opentelemetry_sdk::logs::SimpleLogProcessor<InMemoryLogExporter>);

impl opentelemetry_sdk::logs::LogProcessor for WarnAndAbove {
    fn emit(
        &self,
        record: &mut opentelemetry_sdk::logs::SdkLogRecord,
        scope: &opentelemetry::InstrumentationScope,
    ) {
        self.0.emit(record, scope);
    }

    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.force_flush()
    }

    fn event_enabled(&self, level: Severity, _target: &str, _name: Option<&str>) -> bool {
        level >= Severity::Warn
    }
}

/// Regression: the provider's processors were never asked whether they
/// wanted a record (`Logger::event_enabled`), as the official bridge asks
/// them, so a processor that filters that way got every record anyway.
#[test]
fn records_the_providers_processors_decline_are_not_emitted_and_are_counted() {
    let exporter = InMemoryLogExporter::default();
    let provider = SdkLoggerProvider::builder()
        .with_log_processor(WarnAndAbove(
            opentelemetry_sdk::logs::SimpleLogProcessor::new(exporter.clone()),
        ))
        .build();
    let (layer, guard) = into_provider_only(provider.clone());
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        tracing::info!("declined");
        tracing::warn!("taken");
    });
    let stats = guard.shutdown();
    let sdk = exporter.get_emitted_logs().expect("in-memory logs");
    let bodies: Vec<_> = sdk.iter().map(|log| log.record.body().cloned()).collect();
    assert_eq!(bodies, vec![Some(AnyValue::String("taken".into()))]);
    assert_eq!((stats.emitted, stats.exported, stats.declined), (2, 1, 1));
}

/// A processor that runs its function on every record it is given, and
/// has nothing to flush.
#[derive(Debug)]
struct OnEveryRecord(fn());

impl opentelemetry_sdk::logs::LogProcessor for OnEveryRecord {
    fn emit(
        &self,
        _record: &mut opentelemetry_sdk::logs::SdkLogRecord,
        _scope: &opentelemetry::InstrumentationScope,
    ) {
        (self.0)();
    }

    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        Ok(())
    }
}

/// Regression: a processor's panic came out of the application's logging
/// call, and the panic hook's record of that panic went into the same
/// processor from inside the hook, where a second panic aborts the
/// process; so did the hook's record of a panic of the application's own,
/// once the processor had shown it panics.
#[test]
fn a_processor_that_panics_is_kept_from_the_logging_call_and_the_panic_hook() {
    if crate::support::is_child() {
        let provider = SdkLoggerProvider::builder()
            // A processor with a bug.
            .with_log_processor(OnEveryRecord(|| panic!("a processor's bug")))
            .build();
        let (layer, guard) = into_provider_only(provider);
        layer.install_panic_hook();
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
            tracing::info!("first");
            tracing::info!("second");
            let caught = std::panic::catch_unwind(|| panic!("the application's bug"));
            assert!(caught.is_err());
        });
        let stats = guard.shutdown();
        // Each event failed, and so did the panic hook's record of the
        // processor's first panic and of the application's, which were not
        // given to the panicking provider. Regression: the processor's
        // panic on the second event was recorded too, and waited for: a
        // processor that panics on every record made every logging call
        // pay the hook's flush, and every output get a fatal record for
        // each.
        assert_eq!(
            (stats.emitted, stats.exported, stats.failed),
            (4, 0, 4),
            "{stats:?}"
        );
        return;
    }
    let output = crate::support::run_child(
        "sdk_interop::a_processor_that_panics_is_kept_from_the_logging_call_and_the_panic_hook",
        &[],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("panicked while emitting a record; the record is counted as failed"),
        "{stderr}"
    );
}

/// A processor that panics on its first record, counting every record.
#[derive(Debug, Default)]
struct PanicsOnce(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl opentelemetry_sdk::logs::LogProcessor for PanicsOnce {
    fn emit(
        &self,
        _record: &mut opentelemetry_sdk::logs::SdkLogRecord,
        _scope: &opentelemetry::InstrumentationScope,
    ) {
        if self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            panic!("a processor's bug, once");
        }
    }

    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        Ok(())
    }
}

/// Regression: once a processor had panicked, every record logged while
/// any thread unwound (a destructor's "rolling back") was kept from the
/// provider for the rest of the process, not only the panic hook's own.
#[test]
fn records_of_destructors_during_a_panic_still_reach_a_provider_that_panicked_once() {
    const TEST: &str = "sdk_interop::records_of_destructors_during_a_panic_still_reach_a_provider_that_panicked_once";
    if crate::support::is_child() {
        struct RollsBack;
        impl Drop for RollsBack {
            fn drop(&mut self) {
                tracing::warn!("rolling back");
            }
        }
        let records = std::sync::Arc::default();
        let provider = SdkLoggerProvider::builder()
            .with_log_processor(PanicsOnce(std::sync::Arc::clone(&records)))
            .build();
        let (layer, guard) = into_provider_only(provider);
        layer.install_panic_hook();
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
            tracing::info!("the processor panics on this one");
            let caught = std::panic::catch_unwind(|| {
                let _transaction = RollsBack;
                panic!("the application's bug");
            });
            assert!(caught.is_err());
        });
        let stats = guard.shutdown();
        // The first record and the panic hook's records of both panics
        // failed; the destructor's reached the processor, its second.
        assert_eq!((stats.emitted, stats.failed), (4, 3), "{stats:?}");
        assert_eq!(records.load(std::sync::atomic::Ordering::SeqCst), 2);
        return;
    }
    let output = crate::support::run_child(TEST, &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
}

/// Regression: with two bridge layers, each with a provider whose
/// processor logs, a record one processor logged went into the other
/// provider, whose processor logged one that went into the first, without
/// end, until the stack overflowed. Records logged inside any provider now
/// go to none.
#[test]
fn two_providers_whose_processors_log_do_not_feed_each_other() {
    const TEST: &str = "sdk_interop::two_providers_whose_processors_log_do_not_feed_each_other";
    if crate::support::is_child() {
        let layer_with_provider = || {
            let exporter = InMemoryLogExporter::default();
            let provider = SdkLoggerProvider::builder()
                // Logs as it is given each record, as a processor whose
                // exporter's client logs on the logging thread does.
                .with_log_processor(OnEveryRecord(|| tracing::warn!("a processor's own record")))
                .with_simple_exporter(exporter.clone())
                .build();
            let (layer, guard) = into_provider_only(provider);
            (layer, guard, exporter)
        };
        let (first_layer, first_guard, first_exporter) = layer_with_provider();
        let (second_layer, second_guard, second_exporter) = layer_with_provider();
        let subscriber = tracing_subscriber::registry()
            .with(first_layer)
            .with(second_layer);
        // Global, as `init` makes it: `tracing` hands an event logged
        // inside a scoped subscriber's callback to no subscriber.
        tracing::subscriber::set_global_default(subscriber).expect("the child's only subscriber");
        tracing::info!("the application's");
        for (guard, exporter) in [
            (first_guard, first_exporter),
            (second_guard, second_exporter),
        ] {
            let stats = guard.shutdown();
            let sdk = exporter.get_emitted_logs().expect("in-memory logs");
            let bodies: Vec<_> = sdk.iter().map(|log| log.record.body().cloned()).collect();
            assert_eq!(bodies, [Some(AnyValue::String("the application's".into()))]);
            // The two processors' records, each seen by both layers while
            // inside a provider.
            assert_eq!(
                (stats.emitted, stats.exported, stats.failed),
                (3, 1, 2),
                "{stats:?}"
            );
        }
        return;
    }
    let output = crate::support::run_child(TEST, &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
}

/// A processor with a bug: it panics on every record while it holds the
/// lock its flush takes too.
#[derive(Debug, Default)]
struct PanicsHoldingItsLock(std::sync::Mutex<()>);

impl opentelemetry_sdk::logs::LogProcessor for PanicsHoldingItsLock {
    fn emit(
        &self,
        _record: &mut opentelemetry_sdk::logs::SdkLogRecord,
        _scope: &opentelemetry::InstrumentationScope,
    ) {
        let _held = self.0.lock();
        panic!("a processor's bug, with its lock held");
    }

    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        let _held = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(())
    }
}

/// Regression: the panic hook flushed the provider whose processor was
/// panicking on that thread, and the flush waited for the lock the
/// panicking processor held until the hook's deadline ran out, on every
/// such panic.
#[test]
fn the_panic_hook_does_not_flush_a_provider_panicking_on_its_thread() {
    const TEST: &str =
        "sdk_interop::the_panic_hook_does_not_flush_a_provider_panicking_on_its_thread";
    if crate::support::is_child() {
        let provider = SdkLoggerProvider::builder()
            .with_log_processor(PanicsHoldingItsLock::default())
            .build();
        let out = SharedBuf::default();
        let (layer, guard) = otel_log_bridge::builder()
            .with_logger_provider(provider)
            .with_exporters([otel_log_bridge::Exporter::Json])
            .with_json_writer(out.clone())
            .layer()
            .expect("valid configuration");
        layer.install_panic_hook();
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
            tracing::info!("given to the processor");
        });
        drop(guard);
        let bodies: Vec<Value> = out
            .lines()
            .iter()
            .map(|record| record["body"].clone())
            .collect();
        assert_eq!(
            bodies,
            [
                "given to the processor",
                "a processor's bug, with its lock held"
            ]
        );
        return;
    }
    let output = crate::support::run_child(TEST, &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("panicked while emitting a record"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("was not written by every output within"),
        "{stderr}"
    );
    assert!(
        stderr.contains("the logger provider was not flushed: the flush was asked for on a thread inside its emit"),
        "{stderr}"
    );
}

/// A processor whose flushes fail with the error `error` makes: at once,
/// as a batch processor's do when its exporter fails, or having run out
/// of time, as they do when it hangs past their own flush timeout.
#[derive(Debug)]
struct FailingFlush(fn() -> opentelemetry_sdk::error::OTelSdkError);

impl opentelemetry_sdk::logs::LogProcessor for FailingFlush {
    fn emit(
        &self,
        _record: &mut opentelemetry_sdk::logs::SdkLogRecord,
        _scope: &opentelemetry::InstrumentationScope,
    ) {
    }

    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        Err((self.0)())
    }
}

/// Regression: a provider whose flush failed at once was reported as a
/// flush that ran out of time.
#[test]
fn a_provider_whose_flush_fails_is_reported_as_failed_not_as_a_timeout() {
    let provider = SdkLoggerProvider::builder()
        .with_log_processor(FailingFlush(|| {
            opentelemetry_sdk::error::OTelSdkError::InternalFailure("exporter down".to_owned())
        }))
        .build();
    let (_layer, guard) = into_provider_only(provider);
    match guard.flush() {
        Err(otel_log_bridge::FlushError::Failed(reason)) => {
            assert!(reason.contains("exporter down"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

/// A provider whose processors' own flush ran out of time failed to flush
/// by its own limit, which the guard's wait does not lengthen: the text
/// says so, where a `FlushError::Timeout` would name the guard's wait.
#[test]
fn a_provider_whose_own_flush_times_out_says_so_in_the_failure() {
    let provider = SdkLoggerProvider::builder()
        .with_log_processor(FailingFlush(|| {
            opentelemetry_sdk::error::OTelSdkError::Timeout(std::time::Duration::from_secs(5))
        }))
        .build();
    let (_layer, guard) = into_provider_only(provider);
    match guard.flush() {
        Err(otel_log_bridge::FlushError::Failed(reason)) => {
            assert!(reason.contains("Timeout(5s)"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

/// Regression: an event given `parent: None` carries no trace in the
/// crate's outputs, but the SDK gave its record the trace of the span
/// `tracing-opentelemetry` had made current.
#[test]
fn an_event_given_no_parent_carries_no_trace_into_the_provider_either() {
    use opentelemetry::trace::{Tracer as _, TracerProvider as _};

    let (exporter, provider) = provider_keeping_records();
    let tracers = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let tracer = tracers.tracer("test");
    let (layer, guard) = into_provider_only(provider.clone());
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(tracer))
        .with(layer);
    let spans = tracing::subscriber::with_default(subscriber, || {
        use opentelemetry::trace::TraceContextExt as _;
        use tracing_opentelemetry::OpenTelemetrySpanExt as _;
        let request = {
            let span = tracing::info_span!("request").entered();
            tracing::info!(parent: None, "detached");
            tracing::info!("attached");
            span.context().span().span_context().clone()
        };
        // A span the application made through the OpenTelemetry API still
        // gives its trace to a record outside any `tracing` span.
        let api = tracers.tracer("api").in_span("api", |cx| {
            tracing::info!("in an API span");
            cx.span().span_context().clone()
        });
        [request, api]
    });
    drop(guard);
    let logs = exporter.get_emitted_logs().expect("in-memory logs");
    let ids: Vec<Option<(String, String)>> = logs
        .iter()
        .map(|log| {
            log.record.trace_context().map(|trace| {
                (
                    hex(&trace.trace_id.to_bytes()),
                    hex(&trace.span_id.to_bytes()),
                )
            })
        })
        .collect();
    // The ids of the spans the traces hold, not ids of the bridge's own.
    let expected: Vec<Option<(String, String)>> = std::iter::once(None)
        .chain(spans.iter().map(|span| {
            Some((
                hex(&span.trace_id().to_bytes()),
                hex(&span.span_id().to_bytes()),
            ))
        }))
        .collect();
    assert_eq!(ids, expected);
}

/// Events logged where OpenTelemetry suppresses telemetry (the SDK's
/// batch processor's thread, where its exporter runs) reach the bridge's
/// outputs like any event, and the provider declines them, so they do not
/// go back into it. (A client's threads of its own do not suppress
/// telemetry: `with_logger_provider`'s docs say to filter them.)
#[test]
fn events_where_opentelemetry_suppresses_telemetry_do_not_loop_into_the_provider() {
    let (exporter, provider) = provider_keeping_records();
    let (records, stats) = crate::support::capture_with_guard(
        otel_log_bridge::builder().with_logger_provider(provider.clone()),
        |_| {
            tracing::info!("kept");
            let _suppressed = opentelemetry::Context::enter_telemetry_suppressed_scope();
            tracing::info!("from inside an exporter");
        },
    );
    let bodies: Vec<&Value> = records.iter().map(|record| &record["body"]).collect();
    assert_eq!(bodies, ["kept", "from inside an exporter"]);
    assert_eq!((stats.emitted, stats.declined), (2, 1), "{stats:?}");
    assert_eq!(exporter.get_emitted_logs().expect("logs").len(), 1);
}

/// Only the summary of OpenTelemetry's warnings about its context, which
/// may come while OpenTelemetry holds that context borrowed, is kept from
/// the provider: the summary of a storm of its other events reaches it.
#[test]
fn the_summary_of_a_storm_of_opentelemetrys_other_events_reaches_the_provider() {
    use tracing_subscriber::layer::SubscriberExt as _;

    let (exporter, provider) = provider_keeping_records();
    let (layer, guard) = otel_log_bridge::builder()
        .with_logger_provider(provider.clone())
        .with_exporters(Vec::<otel_log_bridge::Exporter>::new())
        .with_rate_limit(otel_log_bridge::RateLimit::per_callsite(1, 1))
        .layer()
        .expect("valid configuration");
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        for _ in 0..3 {
            tracing::warn!(name: "MeterProvider.GlobalGetFailed", target: "opentelemetry", "no meter provider");
        }
    });
    drop(guard);
    let summaries: Vec<_> = exporter
        .get_emitted_logs()
        .expect("the exporter's records")
        .into_iter()
        .filter(|log| log.record.event_name() == Some("otel_log_bridge.suppressed"))
        .collect();
    assert_eq!(summaries.len(), 1);
}
