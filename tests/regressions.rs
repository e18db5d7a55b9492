//! Regression tests, each named after the defect it pins down.

use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use tracing_subscriber::prelude::*;

use crate::support::capture_with_guard;

/// How long a scenario that used to hang may take before the test fails
/// instead of hanging the suite.
const HANG_GUARD: Duration = Duration::from_secs(30);

/// A value whose `Debug` impl logs, as user code sometimes does.
struct LogsWhenFormatted;

impl fmt::Debug for LogsWhenFormatted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        tracing::warn!("formatting a value");
        f.write_str("value")
    }
}

#[test]
fn span_record_with_a_debug_impl_that_logs_does_not_deadlock() {
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        let (records, _) = capture_with_guard(otel_log_bridge::builder(), |_| {
            let span = tracing::info_span!("request", value = tracing::field::Empty);
            let _entered = span.enter();
            span.record("value", tracing::field::debug(LogsWhenFormatted));
            tracing::info!("after the record");
        });
        let _ = done.send(records);
    });
    let records = finished
        .recv_timeout(HANG_GUARD)
        .expect("Span::record with a logging Debug impl must not hang");
    let bodies: Vec<_> = records.iter().map(|r| r["body"].clone()).collect();
    assert_eq!(bodies, ["formatting a value", "after the record"]);
    assert_eq!(records[1]["attributes"]["value"], "value");
}

#[test]
fn threads_that_logged_once_do_not_strand_the_byte_budget() {
    let (records, stats) = capture_with_guard(
        otel_log_bridge::builder().with_queue_budget(640 * 1024),
        |_| {
            let dispatch = tracing::dispatcher::get_default(Clone::clone);
            let padding = "x".repeat(400);
            for round in 0..2 {
                let threads: Vec<_> = (0..100)
                    .map(|worker| {
                        let dispatch = dispatch.clone();
                        let padding = padding.clone();
                        std::thread::spawn(move || {
                            tracing::dispatcher::with_default(&dispatch, || {
                                tracing::info!(round, worker, padding, "one record per thread");
                            });
                            // Stay alive while the others log, holding any
                            // credit this thread reserved.
                            std::thread::sleep(Duration::from_millis(50));
                        })
                    })
                    .collect();
                for thread in threads {
                    thread.join().expect("thread");
                }
            }
        },
    );
    assert_eq!((stats.exported, stats.dropped), (200, 0), "{stats:?}");
    assert_eq!(records.len(), 200);
}

/// A writer that breaks as told: it panics on its `panics_on`-th write,
/// or its flushes fail, as a full disk makes a `BufWriter<File>`'s fail.
#[derive(Default)]
struct BrokenWriter {
    writes: usize,
    panics_on: Option<usize>,
    flush_fails: bool,
    flush_panics: bool,
}

impl Write for BrokenWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.writes += 1;
        assert!(Some(self.writes) != self.panics_on, "a broken writer");
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        assert!(!self.flush_panics, "a broken flush");
        if self.flush_fails {
            return Err(std::io::Error::other("no space left on device"));
        }
        Ok(())
    }
}

#[test]
fn a_crashed_worker_fails_flushes_and_counts_what_it_loses() {
    let builder = otel_log_bridge::builder()
        .with_json_writer(BrokenWriter {
            panics_on: Some(2),
            ..BrokenWriter::default()
        })
        .with_shutdown_timeout(Duration::from_secs(5));
    let stats = crate::support::stats_after(builder, |guard| {
        tracing::info!("first");
        guard.flush().expect("the first write works");
        tracing::info!("second: the writer panics");
        // Regression: this was reported as a flush that ran out of time.
        match guard.flush() {
            Err(otel_log_bridge::FlushError::Failed(reason)) => {
                assert!(reason.contains("stopped unexpectedly"), "{reason}")
            }
            other => panic!("a dead worker cannot flush: {other:?}"),
        }
        tracing::info!("third: nobody can write it");
    });
    assert_eq!(stats.emitted, 3);
    assert_eq!(
        (stats.exported, stats.failed, stats.dropped),
        (1, 1, 1),
        "{stats:?}"
    );
    assert_eq!(stats.queued_bytes, 0, "no budget is left stranded");
}

/// Regressions, each a writer that breaks in its own way, where records
/// were counted nowhere or as exported:
/// - the OTLP drains batch records across a cycle, so a worker that
///   crashed while sending a batch (an OTLP-JSON writer that panics) left
///   the batch's records counted nowhere;
/// - records written in a cycle whose flush panicked were counted nowhere;
/// - records were counted as exported once written into the writer's
///   buffer, before the flush that lost them.
#[test]
fn records_a_broken_writer_lost_count_as_failed() {
    let cases = [
        (
            "an OTLP-JSON writer that panics",
            otel_log_bridge::builder().with_otlp_json_writer(BrokenWriter {
                panics_on: Some(1),
                ..BrokenWriter::default()
            }),
        ),
        (
            "a flush that panics",
            otel_log_bridge::builder().with_json_writer(BrokenWriter {
                flush_panics: true,
                ..BrokenWriter::default()
            }),
        ),
        (
            "a flush that fails",
            otel_log_bridge::builder().with_json_writer(BrokenWriter {
                flush_fails: true,
                ..BrokenWriter::default()
            }),
        ),
    ];
    for (case, builder) in cases {
        let stats = crate::support::stats_after(builder, |guard| {
            tracing::info!("one");
            tracing::info!("two");
            let _ = guard.flush();
        });
        assert_eq!(
            (stats.emitted, stats.exported, stats.failed),
            (2, 0, 2),
            "{case}: {stats:?}"
        );
        assert_eq!(stats.queued_bytes, 0, "{case}: {stats:?}");
    }
}

/// A writer like a non-blocking pipe whose reader is slow: every other
/// write, and the first flush of each cycle, answers `WouldBlock`, and a
/// write that goes through takes at most 7 bytes.
#[derive(Clone, Default)]
struct NonBlockingPipe {
    written: Arc<Mutex<Vec<u8>>>,
    calls: usize,
    flush_blocked: bool,
}

impl Write for NonBlockingPipe {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.calls += 1;
        if self.calls % 2 == 1 {
            return Err(std::io::ErrorKind::WouldBlock.into());
        }
        let taken = buf.len().min(7);
        self.written
            .lock()
            .expect("lock")
            .extend_from_slice(&buf[..taken]);
        Ok(taken)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.flush_blocked = !self.flush_blocked;
        if self.flush_blocked {
            return Err(std::io::ErrorKind::WouldBlock.into());
        }
        Ok(())
    }
}

/// An output that would block (a non-blocking standard output, which a
/// parent process can leave behind) made every record of the chunk fail,
/// with a warning; it is now waited for, as a blocking one is.
#[test]
fn an_output_that_would_block_is_waited_for_not_failed() {
    let json = NonBlockingPipe::default();
    let otlp_json = NonBlockingPipe::default();
    let builder = otel_log_bridge::builder()
        .with_json_writer(json.clone())
        .with_otlp_json_writer(otlp_json.clone());
    let stats = crate::support::stats_after(builder, |guard| {
        for round in 0..3 {
            tracing::info!(round, "a line for a slow reader");
        }
        guard
            .flush()
            .expect("the writers take everything in the end");
    });
    // Two sinks, three records each.
    assert_eq!(
        (stats.emitted, stats.exported, stats.failed),
        (3, 6, 0),
        "{stats:?}"
    );
    let lines = crate::support::parse_lines(
        &String::from_utf8(json.written.lock().expect("lock").clone()).expect("UTF-8"),
    );
    let rounds: Vec<_> = lines
        .iter()
        .map(|line| line["attributes"]["round"].clone())
        .collect();
    assert_eq!(rounds, [0, 1, 2]);
    let requests =
        String::from_utf8(otlp_json.written.lock().expect("lock").clone()).expect("UTF-8");
    let records: usize = crate::support::parse_lines(&requests)
        .iter()
        .map(|request| {
            request["resourceLogs"][0]["scopeLogs"]
                .as_array()
                .map_or(0, |scopes| {
                    scopes
                        .iter()
                        .map(|scope| scope["logRecords"].as_array().map_or(0, Vec::len))
                        .sum()
                })
        })
        .sum();
    assert_eq!(records, 3, "{requests}");
}

/// A writer like a non-blocking pipe nobody reads: every write answers
/// `WouldBlock`. It says when it is dropped.
struct NeverDrained(Arc<std::sync::atomic::AtomicBool>);

impl Write for NeverDrained {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::ErrorKind::WouldBlock.into())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for NeverDrained {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Regression (of the first version of the wait above): an output that
/// never stopped answering `WouldBlock` was waited for without end, past
/// the shutdown deadline: its records were never counted, and the worker
/// never ended.
#[test]
fn an_output_that_would_block_for_ever_is_given_up_at_the_shutdown_deadline() {
    let dropped = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let builder = otel_log_bridge::builder()
        .with_json_writer(NeverDrained(Arc::clone(&dropped)))
        .with_shutdown_timeout(Duration::from_millis(100));
    crate::support::stats_after(builder, |_| tracing::info!("never read"));
    // The worker gives up before the deadline, counts the record as failed,
    // ends, and drops its writer: waited for, within a bound far above.
    let mut waited = Duration::ZERO;
    while !dropped.load(Ordering::SeqCst) {
        assert!(waited < HANG_GUARD, "the worker still waits for the output");
        std::thread::sleep(Duration::from_millis(10));
        waited += Duration::from_millis(10);
    }
}

/// A value that counts how often it is formatted.
struct CountsFormatting(Arc<AtomicUsize>);

impl CountsFormatting {
    fn count(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

impl fmt::Display for CountsFormatting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.count();
        f.write_str("shown")
    }
}

impl fmt::Debug for CountsFormatting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.count();
        f.write_str("debugged")
    }
}

#[test]
fn log_key_values_captured_as_display_or_debug_are_formatted_once() {
    let calls = Arc::new(AtomicUsize::new(0));
    let (records, _) = capture_with_guard(otel_log_bridge::builder(), |_| {
        let shown = CountsFormatting(Arc::clone(&calls));
        let debugged = CountsFormatting(Arc::clone(&calls));
        log::info!(shown:% = shown, debugged:? = debugged; "formatted values");
    });
    assert_eq!(records[0]["attributes"]["shown"], "shown");
    assert_eq!(records[0]["attributes"]["debugged"], "debugged");
    assert_eq!(
        calls.load(Ordering::Relaxed),
        2,
        "each value formatted once"
    );
}

/// Values were cut to the length limit before tokens were redacted: a
/// token cut short no longer looked like one, and its beginning was
/// exported. Cutting now comes last, after redaction.
#[test]
fn a_value_length_limit_does_not_let_a_cut_token_escape_redaction() {
    // A reply that carries a JSON Web Token, where a value was not
    // expected to hold one.
    let reply = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl";
    let (records, stats) = crate::support::capture_with_guard(
        otel_log_bridge::builder()
            .with_value_redaction(true)
            .with_attribute_value_length_limit(24),
        |_| {
            tracing::info!(reply, header = "Bearer abcdefgh12345", "signed in");
        },
    );
    assert_eq!(records[0]["attributes"]["reply"], "[REDACTED]");
    assert_eq!(records[0]["attributes"]["header"], "Bearer [REDACTED]");
    assert_eq!(stats.redacted, 2, "{stats:?}");
}

/// A `log` record that `tracing-log` forwarded as an event (what
/// `tracing_subscriber`'s `init()` sets up) was exported as an Event named
/// "log event", under the scope "log", with its target, file and line as
/// `log.*` attributes and no `code.*` ones. It now maps as the `log`
/// bridge maps the same record.
#[test]
fn a_log_record_forwarded_by_tracing_log_maps_like_one_the_log_bridge_receives() {
    let record = |target: &'static str, line: u32, message: &'static str| (target, line, message);
    let sent = [
        record("app::db", 42, "connected"),
        record("app::http", 7, "listening"),
    ];
    let records = crate::support::capture(otel_log_bridge::builder(), || {
        for (target, line, message) in sent {
            let args = format_args!("{message}");
            let log_record = log::Record::builder()
                .level(log::Level::Warn)
                .target(target)
                .file(Some("src/app.rs"))
                .line(Some(line))
                .module_path(Some("app"))
                .args(args)
                .build();
            tracing_log::format_trace(&log_record).expect("forwarded");
            log::logger().log(&log_record);
        }
    });
    assert_eq!(records.len(), 4, "{records:#?}");
    let comparable = |record: &serde_json::Value| {
        let mut record = record.clone();
        let object = record.as_object_mut().expect("a record");
        for varying in ["timestamp", "observed_timestamp"] {
            object.remove(varying);
        }
        record
    };
    for pair in records.chunks(2) {
        assert_eq!(comparable(&pair[0]), comparable(&pair[1]), "{pair:#?}");
        assert!(pair[0].get("event_name").is_none(), "{pair:#?}");
    }
    assert_eq!(records[2]["attributes"]["code.line.number"], 7);
}

/// Every `log` record that `tracing-log` forwards at a level shares one
/// callsite, so the per-callsite rate limit counted them as one: a second
/// record from elsewhere in the program was suppressed. They are not
/// limited now, as records the `log` bridge receives are not.
#[test]
fn forwarded_log_records_of_one_level_are_not_rate_limited_as_one_callsite() {
    let builder =
        otel_log_bridge::builder().with_rate_limit(otel_log_bridge::RateLimit::per_callsite(1, 1));
    let records = crate::support::capture(builder, || {
        for target in ["app::db", "app::http", "app::cache"] {
            let log_record = log::Record::builder()
                .level(log::Level::Info)
                .target(target)
                .args(format_args!("ready"))
                .build();
            tracing_log::format_trace(&log_record).expect("forwarded");
        }
    });
    let scopes: Vec<_> = records.iter().map(|r| r["scope"]["name"].clone()).collect();
    assert_eq!(scopes, ["app::db", "app::http", "app::cache"]);
}

/// A `log` key-value that is null (`None` captured with `:serde`) was
/// exported as the text "None"; the data model keeps it as an empty value.
#[test]
fn a_null_log_key_value_is_an_empty_value_not_the_text_none() {
    let records = crate::support::capture(otel_log_bridge::builder(), || {
        log::info!(parent:serde = None::<u64>; "created");
    });
    let attributes = records[0]["attributes"].as_object().expect("attributes");
    assert_eq!(attributes.get("parent"), Some(&serde_json::Value::Null));
}

/// A writer whose closing takes until it is told to go on (a file on a hung
/// file system), or ten seconds.
struct SlowToClose {
    go_on: std::sync::mpsc::Receiver<()>,
    closed: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl std::io::Write for SlowToClose {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for SlowToClose {
    fn drop(&mut self) {
        let _ = self.go_on.recv_timeout(Duration::from_secs(10));
        self.closed.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Regression: the worker said it had exited before its output was
/// dropped, and the guard joins an exited worker without a deadline, so a
/// shutdown waited for a slow close (or a gRPC runtime's host name
/// lookups) past its timeout.
#[test]
fn shutdown_does_not_wait_past_its_timeout_for_an_output_to_close() {
    let (go_on, waiting) = std::sync::mpsc::channel();
    let closed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = SlowToClose {
        go_on: waiting,
        closed: std::sync::Arc::clone(&closed),
    };
    let builder = otel_log_bridge::builder()
        .with_json_writer(writer)
        .with_shutdown_timeout(Duration::from_millis(100));
    let stats = crate::support::stats_after(builder, |guard| {
        tracing::info!("one");
        guard.flush().expect("written");
    });
    assert_eq!(stats.exported, 1);
    assert!(
        !closed.load(std::sync::atomic::Ordering::SeqCst),
        "the shutdown waited for the output to close"
    );
    let _ = go_on.send(());
}

/// Regression: writing OTLP-JSON lines counted in `export_latency`, which
/// says how long requests to a collector took, so a file's writes were
/// mixed into the collector's latency.
#[test]
fn otlp_json_lines_writes_are_not_counted_as_export_latency() {
    let (layer, guard) = otel_log_bridge::builder()
        .with_otlp_json_writer(std::io::sink())
        .layer()
        .expect("valid configuration");
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        tracing::info!("written as an OTLP-JSON line");
    });
    guard.flush().expect("flushed");
    let stats = guard.stats();
    assert_eq!(stats.exported, 1, "{stats:?}");
    assert_eq!(stats.export_latency.count(), 0, "{stats:?}");
}

/// Regression: a `log` key-value or a `tracing` field with an empty key
/// became an attribute with an empty key, which the OpenTelemetry common
/// specification does not allow; it is left out and counted as dropped,
/// the rest kept. A span field with an empty name is left out too.
#[test]
fn an_empty_key_is_dropped_and_counted() {
    let records = crate::support::capture(otel_log_bridge::builder(), || {
        // otel-log-lint: allow(OLB004)
        log::info!("" = 1, kept = 2; "an empty log key");
        // otel-log-lint: allow(OLB004)
        let span = tracing::info_span!("request", "" = 3, route = "/");
        let _entered = span.enter();
        // otel-log-lint: allow(OLB004)
        tracing::info!("" = 1, kept = 2, "an empty field name");
    });
    assert_eq!(records.len(), 2);
    for record in &records {
        let attributes = &record["attributes"];
        assert_eq!(attributes.get(""), None, "{attributes}");
        assert_eq!(attributes["kept"], 2);
        assert_eq!(record["dropped_attributes_count"], 1, "{record}");
    }
    assert_eq!(records[1]["attributes"]["route"], "/");
}

/// A writer whose first write waits until the test lets it go on: an
/// output stuck on a pipe nobody reads.
struct StuckWriter(Mutex<mpsc::Receiver<()>>);

impl Write for StuckWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = self.0.lock().map(|go_on| go_on.recv());
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Regression: a pipeline flushed and shut down its outputs one after the
/// other, so an output that was stuck used up the whole deadline and the
/// next one was only asked once it had passed: its records were neither
/// flushed nor delivered at shutdown, although nothing held it up.
#[test]
fn a_stuck_output_does_not_cost_the_others_their_flush_or_shutdown() {
    let receiver = crate::support::receiver::Receiver::http();
    let (go_on, wait) = mpsc::channel();
    let (layer, guard) = otel_log_bridge::builder()
        .with_json_writer(StuckWriter(Mutex::new(wait)))
        .with_otlp_endpoint(format!("{}/v1/logs", receiver.endpoint()))
        // Only a flush or the shutdown sends.
        .with_otlp_schedule_delay(Duration::from_secs(3600))
        .with_shutdown_timeout(Duration::from_secs(1))
        .layer()
        .expect("valid configuration");
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    tracing::dispatcher::with_default(&dispatch, || tracing::info!("flushed"));
    assert!(guard.flush().is_err(), "the stuck output cannot flush");
    assert_eq!(
        receiver.records().len(),
        1,
        "the collector's output flushed"
    );
    tracing::dispatcher::with_default(&dispatch, || tracing::info!("delivered at shutdown"));
    let stats = guard.shutdown();
    assert_eq!(receiver.records().len(), 2);
    assert_eq!(stats.exported, 2, "{stats:?}");
    drop(go_on);
}

/// Regression: `stats()` read how many records were emitted before what
/// became of them, so a record emitted and dropped in between was seen
/// dropped but not emitted, and `emitted - dropped` could wrap.
#[test]
fn stats_never_show_more_records_settled_than_emitted() {
    let builder = otel_log_bridge::builder()
        .with_json_writer(std::io::sink())
        // A small queue, so that records are dropped all along.
        .with_queue_budget(4096);
    let stats = settled_never_ahead_of_emitted(builder);
    assert!(stats.dropped > 0, "the queue was full at times: {stats:?}");
    assert_eq!(stats.emitted, stats.exported + stats.dropped, "{stats:?}");
}

/// As [`stats_never_show_more_records_settled_than_emitted`], with an
/// application's logger provider as the destination.
#[cfg(feature = "sdk")]
#[test]
fn stats_with_a_logger_provider_never_show_more_records_settled_than_emitted() {
    let provider = opentelemetry_sdk::logs::SdkLoggerProvider::builder()
        .with_simple_exporter(opentelemetry_sdk::logs::InMemoryLogExporter::default())
        .build();
    let stats = settled_never_ahead_of_emitted(
        otel_log_bridge::builder().with_logger_provider(provider.clone()),
    );
    assert_eq!(stats.emitted, stats.exported, "{stats:?}");
    let _ = provider.shutdown();
}

/// Logs 200 000 events on another thread while asserting that no snapshot
/// of the stats shows more records settled than emitted; returns the
/// stats at shutdown.
fn settled_never_ahead_of_emitted(builder: otel_log_bridge::Builder) -> otel_log_bridge::Stats {
    let (layer, guard) = builder.layer().expect("valid configuration");
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let producer = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            tracing::dispatcher::with_default(&dispatch, || {
                for i in 0..200_000 {
                    tracing::info!(i, "one of many");
                }
            });
            done.store(true, Ordering::SeqCst);
        })
    };
    let mut snapshots = 0;
    while !done.load(Ordering::SeqCst) || snapshots == 0 {
        let stats = guard.stats();
        let settled =
            stats.exported + stats.dropped + stats.failed + stats.rejected + stats.declined;
        assert!(stats.emitted >= settled, "{stats:?}");
        snapshots += 1;
    }
    producer.join().expect("no panic");
    guard.shutdown()
}

/// Installs the panic hook of its layer when dropped.
struct InstallsHookOnDrop(otel_log_bridge::BridgeLayer);

impl Drop for InstallsHookOnDrop {
    fn drop(&mut self) {
        self.0.install_panic_hook();
    }
}

/// Regression: installing the panic hook from a thread that was panicking
/// (a lazy `init` reached from a `Drop` while unwinding) aborted the whole
/// process, since the standard library refuses to change the hook then.
#[test]
fn installing_the_panic_hook_while_panicking_does_not_abort() {
    let (layer, _guard) = otel_log_bridge::builder()
        .with_json_writer(std::io::sink())
        .layer()
        .expect("valid configuration");
    let unwound = std::thread::spawn(move || {
        let _installs = InstallsHookOnDrop(layer);
        panic!("unwinding");
    })
    .join();
    assert!(
        unwound.is_err(),
        "the thread panicked, and the process lives"
    );
}

/// Regression: OpenTelemetry logs some events (a context stack that
/// overflows, a guard dropped out of order) while it holds its context
/// borrowed; reading that context for such an event, outside any span,
/// panicked inside the application's `attach`.
#[cfg(feature = "tracing-opentelemetry")]
#[test]
fn opentelemetrys_own_events_do_not_read_its_borrowed_context() {
    // One output takes the direct path, two the record path.
    for outputs in [1, 2] {
        let records = std::thread::spawn(move || {
            let mut builder = otel_log_bridge::builder();
            if outputs == 2 {
                builder = builder.with_console_writer(std::io::sink());
            }
            crate::support::capture(builder, || {
                // The stack holds 65 534 contexts; the next attach
                // overflows it and says so.
                for _ in 0..u16::MAX {
                    std::mem::forget(opentelemetry::Context::current().attach());
                }
            })
        })
        .join()
        .expect("attaching does not panic");
        assert!(
            records
                .iter()
                .any(|record| record["event_name"] == "Context.AttachFailed"),
            "{outputs} outputs: {records:?}"
        );
    }
}
