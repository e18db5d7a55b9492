//! Tests that install global state (`init`) or read the environment, each
//! in a child process of its own.

use std::path::Path;

use crate::support::{is_child, parse_lines, run_child, spawn_child, temp_path};

/// The env var naming the file a child writes its JSON lines to.
const OUT: &str = "OTEL_LOG_BRIDGE_TEST_OUT";

fn child_builder() -> otel_log_bridge::Builder {
    let path = std::env::var(OUT).expect("output path from the parent");
    let file = std::fs::File::create(path).expect("output file");
    otel_log_bridge::builder().with_json_writer(file)
}

fn read_records(path: &Path) -> Vec<serde_json::Value> {
    parse_lines(&std::fs::read_to_string(path).unwrap_or_default())
}

fn run(test: &str, envs: &[(&str, &str)]) -> (std::process::Output, Vec<serde_json::Value>) {
    let path = temp_path(test);
    let path_text = path.to_str().expect("UTF-8 path").to_owned();
    let mut all = vec![(OUT, path_text.as_str())];
    all.extend_from_slice(envs);
    let output = run_child(&format!("process::{test}"), &all);
    let records = read_records(&path);
    let _ = std::fs::remove_file(&path);
    (output, records)
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn panic_is_recorded_as_fatal_before_the_process_exits() {
    if is_child() {
        let _guard = child_builder().init();
        let span = tracing::info_span!("request", user.id = 7);
        let _entered = span.enter();
        tracing::info!("before the panic");
        // The default hook then prints the message and the test fails, as
        // an unwinding panic in `main` would end a program.
        panic!("boom: {}", 42);
    }
    // Regression: `RUST_LIB_BACKTRACE=0` left the record without the
    // backtrace that `RUST_BACKTRACE=1` shows on stderr.
    let (output, records) = run(
        "panic_is_recorded_as_fatal_before_the_process_exits",
        &[("RUST_BACKTRACE", "1"), ("RUST_LIB_BACKTRACE", "0")],
    );
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("boom: 42"),
        "previous hook still runs"
    );
    assert_eq!(records.len(), 2, "{records:?}");
    let fatal = &records[1];
    assert_eq!(fatal["severity_number"], 21);
    assert_eq!(fatal["severity_text"], "FATAL");
    assert_eq!(fatal["body"], "boom: 42");
    assert_eq!(fatal["scope"]["name"], "panic");
    let attributes = &fatal["attributes"];
    assert_eq!(attributes["exception.type"], "panic");
    assert_eq!(attributes["exception.message"], "boom: 42");
    assert_eq!(attributes["code.file.path"], "tests/process.rs");
    assert!(attributes["code.line.number"].is_i64());
    assert!(attributes["code.column.number"].is_i64());
    assert!(attributes["exception.stacktrace"]
        .as_str()
        .is_some_and(|s| s.contains("panic_is_recorded")));
    assert_eq!(attributes["user.id"], 7, "span fields");
    assert_eq!(fatal["trace_id"], records[0]["trace_id"], "same trace");
}

/// Regression: the panic record copied an integer span field beyond 64
/// bits as text, which the length limit cut into another number; every
/// other record keeps it whole.
#[test]
fn a_panic_record_keeps_a_wide_integer_span_field_whole() {
    if is_child() {
        let _guard = child_builder().with_attribute_value_length_limit(5).init();
        let span = tracing::info_span!("job", job.id = u128::MAX);
        let _entered = span.enter();
        let caught = std::panic::catch_unwind(|| panic!("boom"));
        assert!(caught.is_err());
        return;
    }
    let (output, records) = run("a_panic_record_keeps_a_wide_integer_span_field_whole", &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["body"], "boom");
    assert_eq!(
        records[0]["attributes"]["job.id"],
        u128::MAX.to_string().as_str()
    );
}

/// Regression: with a global subscriber, a field that a value's formatting
/// recorded on the event's span was in the record when a console output
/// sent the event down the general path, which reads the span after the
/// fields, and missing when the JSON output alone wrote it directly.
#[test]
fn a_span_field_recorded_while_the_event_is_formatted_is_in_its_record() {
    struct RecordsOnTheSpan;
    impl std::fmt::Display for RecordsOnTheSpan {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            tracing::Span::current().record("user.name", "alice");
            f.write_str("tag")
        }
    }
    const WITH_CONSOLE: &str = "OTEL_LOG_BRIDGE_TEST_WITH_CONSOLE";
    if is_child() {
        let mut builder = child_builder().with_runtime_lint(false);
        if std::env::var_os(WITH_CONSOLE).is_some() {
            builder = builder.with_console_writer(std::io::sink());
        }
        let _guard = builder.init();
        let span = tracing::info_span!("request", user.name = tracing::field::Empty);
        let _entered = span.enter();
        tracing::info!(tag = %RecordsOnTheSpan, "formatted");
        return;
    }
    for envs in [&[][..], &[(WITH_CONSOLE, "1")][..]] {
        let (output, records) = run(
            "a_span_field_recorded_while_the_event_is_formatted_is_in_its_record",
            envs,
        );
        assert!(output.status.success(), "{}", stderr(&output));
        assert_eq!(records.len(), 1, "{records:?}");
        assert_eq!(records[0]["attributes"]["tag"], "tag");
        assert_eq!(records[0]["attributes"]["user.name"], "alice", "{envs:?}");
    }
}

#[test]
fn a_composed_subscriber_records_each_panic_once_after_installing_its_hook() {
    use tracing_subscriber::prelude::*;

    if is_child() {
        let (layer, _guard) = child_builder().layer().expect("valid configuration");
        layer.install_panic_hook();
        // A second call must not record each panic twice.
        layer.install_panic_hook();
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))
            .expect("first subscriber");
        let span = tracing::info_span!("job", job.id = 3);
        let _entered = span.enter();
        tracing::info!("before the panic");
        panic!("composed: {}", 7);
    }
    let (output, records) = run(
        "a_composed_subscriber_records_each_panic_once_after_installing_its_hook",
        &[],
    );
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("composed: 7"),
        "previous hook still runs"
    );
    assert_eq!(records.len(), 2, "{records:?}");
    let fatal = &records[1];
    assert_eq!(fatal["severity_text"], "FATAL");
    assert_eq!(fatal["body"], "composed: 7");
    assert_eq!(fatal["attributes"]["exception.type"], "panic");
    assert_eq!(fatal["attributes"]["job.id"], 3, "span fields");
    assert_eq!(fatal["trace_id"], records[0]["trace_id"], "same trace");
}

/// A writer whose writes never return, as on a hung file system.
struct HungWriter;

impl std::io::Write for HungWriter {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        loop {
            std::thread::park();
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Regression: the panic hook said it had waited 250 ms for the panic
/// record whatever it waited, though a shorter shutdown timeout bounds
/// its wait too.
#[test]
fn the_panic_hooks_warning_names_the_wait_it_made() {
    if is_child() {
        let guard = otel_log_bridge::builder()
            .with_json_writer(HungWriter)
            .with_shutdown_timeout(std::time::Duration::from_millis(40))
            .init();
        let caught = std::panic::catch_unwind(|| panic!("while the output hangs"));
        assert!(caught.is_err());
        // The guard would wait for the hung output again.
        std::mem::forget(guard);
        return;
    }
    let output = run_child(
        "process::the_panic_hooks_warning_names_the_wait_it_made",
        &[],
    );
    let stderr = stderr(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("the panic record was not written by every output within 40 ms"),
        "{stderr}"
    );
}

/// A value whose `Debug` impl panics.
struct PanicsWhenFormatted;

impl std::fmt::Debug for PanicsWhenFormatted {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        panic!("formatting fails")
    }
}

/// Regression: a panic raised while another layer held the current span's
/// fields locked (the `fmt` layer formats a recorded value under that lock)
/// hung the process: the hook waited for the lock its own thread held.
#[test]
fn a_panic_while_another_layer_holds_the_span_locked_does_not_hang_the_hook() {
    use tracing_subscriber::prelude::*;

    if is_child() {
        let (layer, guard) = child_builder().layer().expect("valid configuration");
        layer.install_panic_hook();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_subscriber::fmt::layer().with_writer(std::io::sink))
            .with(layer);
        tracing::subscriber::set_global_default(subscriber).expect("first subscriber");
        let span = tracing::info_span!("job", job.id = 3, detail = tracing::field::Empty);
        {
            let _entered = span.enter();
            tracing::info!("before the panic");
            let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                span.record("detail", tracing::field::debug(PanicsWhenFormatted));
            }));
            assert!(caught.is_err());
        }
        // The registry poisons a span whose fields were locked during a
        // panic, and panics on any later use of them, closing included.
        std::mem::forget(span);
        tracing::info!("after the panic");
        drop(guard);
        return;
    }
    let path = temp_path("a_panic_while_another_layer_holds_the_span_locked");
    let mut child = spawn_child(
        "process::a_panic_while_another_layer_holds_the_span_locked_does_not_hang_the_hook",
        &[(OUT, path.to_str().expect("UTF-8 path"))],
    );
    // Waiting for ever would hang the suite instead of failing it.
    let mut waited = std::time::Duration::ZERO;
    let status = loop {
        if let Some(status) = child.try_wait().expect("child status") {
            break status;
        }
        if waited > std::time::Duration::from_secs(60) {
            let _ = child.kill();
            panic!("the panic hook hung");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        waited += std::time::Duration::from_millis(50);
    };
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        std::io::Read::read_to_string(&mut pipe, &mut stderr).expect("child stderr");
    }
    let records = read_records(&path);
    let _ = std::fs::remove_file(&path);
    assert!(status.success(), "{status}: {stderr}");
    assert!(
        stderr.contains("the panic record carries no span context"),
        "{stderr}"
    );
    let bodies: Vec<_> = records.iter().map(|record| &record["body"]).collect();
    assert_eq!(
        bodies,
        ["before the panic", "formatting fails", "after the panic"],
        "{records:?}"
    );
    let fatal = &records[1];
    assert_eq!(fatal["severity_text"], "FATAL");
    assert_eq!(fatal["attributes"]["exception.message"], "formatting fails");
    // Regression: the thread that reads the span for the hook panics on
    // the poisoned span once the lock is released; that panic, expected,
    // went on to the previous hook, which printed a second panic (and a
    // crash reporter would have reported one).
    assert!(!stderr.contains("otel-log-bridge-panic"), "{stderr}");
}

#[test]
fn init_fails_clearly_when_a_subscriber_is_already_set() {
    if is_child() {
        tracing::subscriber::set_global_default(tracing_subscriber::registry())
            .expect("first subscriber");
        let error = child_builder().try_init().expect_err("second subscriber");
        eprintln!("ERROR: {error}");
        assert!(matches!(
            error,
            otel_log_bridge::InitError::SubscriberAlreadySet
        ));
        return;
    }
    let (output, _) = run("init_fails_clearly_when_a_subscriber_is_already_set", &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("ERROR: a global tracing subscriber is already set"));
}

/// Regression: after any scoped subscriber (`with_default`, as a program
/// may use while it loads its configuration), `try_init` said a global
/// subscriber was already set, and `init` panicked.
#[test]
fn init_works_after_a_scoped_subscriber() {
    if is_child() {
        tracing::subscriber::with_default(tracing_subscriber::registry(), || {
            tracing::info!("while loading the configuration");
        });
        let guard = child_builder()
            .try_init()
            .expect("no global subscriber yet");
        tracing::info!("installed");
        drop(guard);
        return;
    }
    let (output, records) = run("init_works_after_a_scoped_subscriber", &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(records.len(), 1, "{}", stderr(&output));
    assert_eq!(records[0]["body"], "installed");
}

#[test]
fn init_fails_clearly_when_a_logger_is_already_set() {
    if is_child() {
        struct Other;
        impl log::Log for Other {
            fn enabled(&self, _: &log::Metadata<'_>) -> bool {
                false
            }
            fn log(&self, _: &log::Record<'_>) {}
            fn flush(&self) {}
        }
        log::set_boxed_logger(Box::new(Other)).expect("first logger");
        let error = child_builder().try_init().expect_err("second logger");
        eprintln!("ERROR: {error}");
        assert!(matches!(
            error,
            otel_log_bridge::InitError::LoggerAlreadySet
        ));
        // Nothing stays installed, so another subscriber can still be set.
        assert!(!tracing::dispatcher::has_been_set());
        return;
    }
    let (output, _) = run("init_fails_clearly_when_a_logger_is_already_set", &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("ERROR: a global log logger is already set"));
}

/// Regression: a `log` record more verbose than any subscriber takes (a
/// dependency's `debug!` under an `info` filter, with `log`'s maximum at
/// `Trace` as a composed subscriber sets it) asked every layer, twice, on
/// each call.
#[test]
fn a_log_record_more_verbose_than_any_subscriber_takes_asks_no_layer() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tracing_subscriber::layer::{Context, Layer};
    use tracing_subscriber::prelude::*;

    static ASKED: AtomicUsize = AtomicUsize::new(0);
    struct CountingQuestions;
    impl<S: tracing::Subscriber> Layer<S> for CountingQuestions {
        fn enabled(&self, _: &tracing::Metadata<'_>, _: Context<'_, S>) -> bool {
            ASKED.fetch_add(1, Ordering::SeqCst);
            true
        }
    }
    if is_child() {
        let (layer, guard) = child_builder().layer().expect("valid configuration");
        let bridge = layer.log_bridge();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_subscriber::filter::LevelFilter::INFO)
            .with(layer)
            .with(CountingQuestions);
        tracing::subscriber::set_global_default(subscriber).expect("no other subscriber");
        log::set_boxed_logger(Box::new(bridge)).expect("no other logger");
        log::set_max_level(log::LevelFilter::Trace);
        let before = ASKED.load(Ordering::SeqCst);
        log::debug!("more verbose than the filter");
        assert_eq!(ASKED.load(Ordering::SeqCst), before);
        log::info!("taken");
        assert!(ASKED.load(Ordering::SeqCst) > before);
        drop(guard);
        return;
    }
    let (output, records) = run(
        "a_log_record_more_verbose_than_any_subscriber_takes_asks_no_layer",
        &[],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let bodies: Vec<_> = records.iter().map(|r| r["body"].clone()).collect();
    assert_eq!(bodies, ["taken"]);
}

/// `init` caps `log`'s own maximum at the filter's, so that a `log`
/// record the filter turns off is never formatted: neither its message's
/// arguments nor its values.
#[test]
fn a_log_record_the_filter_turns_off_is_not_formatted() {
    use std::sync::atomic::{AtomicUsize, Ordering};

    static FORMATTED: AtomicUsize = AtomicUsize::new(0);
    struct Counted;
    impl std::fmt::Display for Counted {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            FORMATTED.fetch_add(1, Ordering::SeqCst);
            f.write_str("counted")
        }
    }
    if is_child() {
        let guard = child_builder().init();
        assert_eq!(log::max_level(), log::LevelFilter::Info);
        // The message's arguments are what this test counts.
        // otel-log-lint: allow(OLB001)
        log::debug!(value:% = Counted; "filtered out: {}", Counted);
        assert_eq!(FORMATTED.load(Ordering::SeqCst), 0);
        // otel-log-lint: allow(OLB001)
        log::info!(value:% = Counted; "kept: {}", Counted);
        assert_eq!(FORMATTED.load(Ordering::SeqCst), 2);
        drop(guard);
        return;
    }
    let (output, records) = run(
        "a_log_record_the_filter_turns_off_is_not_formatted",
        &[("RUST_LOG", "info")],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["body"], "kept: counted");
}

#[test]
fn init_routes_tracing_and_log_with_the_env_filter() {
    if is_child() {
        let guard = child_builder().init();
        tracing::debug!("filtered out by RUST_LOG");
        tracing::info!(target: "app", "kept");
        log::info!(target: "app", key = 1; "kept from log");
        log::info!(target: "noisy", "filtered out by RUST_LOG");
        tracing::warn!(target: "noisy", "kept: warn passes");
        drop(guard);
        tracing::info!(target: "app", "after the guard: dropped, no panic");
        return;
    }
    let (output, records) = run(
        "init_routes_tracing_and_log_with_the_env_filter",
        &[("RUST_LOG", "info,noisy=warn")],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let bodies: Vec<_> = records.iter().map(|r| r["body"].clone()).collect();
    assert_eq!(bodies, ["kept", "kept from log", "kept: warn passes"]);
    assert_eq!(records[1]["attributes"]["key"], 1);
}

#[test]
fn an_unknown_exporter_name_is_reported_and_the_known_ones_are_used() {
    if is_child() {
        let guard = otel_log_bridge::try_init().expect("a warning, not an error");
        tracing::info!("kept");
        drop(guard);
        return;
    }
    let (output, _) = run(
        "an_unknown_exporter_name_is_reported_and_the_known_ones_are_used",
        &[("OTEL_LOGS_EXPORTER", "json,stdoutt,none")],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains(
        "otel-log-bridge: warning: OTEL_LOGS_EXPORTER: ignoring unknown exporter \"stdoutt\" (accepted: otlp, otlp/stdout, json, console, none)"
    ));
    // Regression: "none" beside exporters was dropped without a word.
    assert!(stderr(&output).contains(
        "otel-log-bridge: warning: OTEL_LOGS_EXPORTER=\"json,stdoutt,none\" names \"none\" beside other exporters; ignoring \"none\""
    ));
    // The test harness's own output shares the child's stdout, and the
    // record may follow its "test … " on the same line.
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines = stdout
        .lines()
        .filter_map(|line| line.find("{\"timestamp\"").map(|start| &line[start..]));
    let records = parse_lines(&lines.collect::<Vec<_>>().join("\n"));
    assert_eq!(records.len(), 1, "the json exporter wrote the record");
    assert_eq!(records[0]["body"], "kept");
}

/// Regression: settings that had no effect were taken without a word: an
/// `OTEL_LOGS_EXPORTER` that the outputs given in code override, TLS files
/// from the variables with an endpoint without TLS, an endpoint given in
/// code without the path a collector listens on, a spool budget without a
/// spool, and a runtime lint rule turned on for a lint that is off.
#[test]
fn settings_that_take_no_effect_are_reported() {
    if is_child() {
        let builder = otel_log_bridge::builder()
            .with_json_writer(std::io::sink())
            .with_otlp_endpoint("http://127.0.0.1:9")
            .with_runtime_lint(false)
            .with_lint_rule(otel_log_bridge::lint::Rule::MissingEventName, true)
            .with_code_attributes(false)
            .with_legacy_code_attributes(true)
            .with_shutdown_timeout(std::time::Duration::from_millis(10));
        #[cfg(feature = "spool")]
        let builder = builder.with_spool_budget(1 << 20);
        let (_layer, guard) = builder.layer().expect("warnings, not errors");
        drop(guard);
        return;
    }
    let output = run_child(
        "process::settings_that_take_no_effect_are_reported",
        &[
            ("OTEL_LOGS_EXPORTER", "none"),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/etc/collector-ca.pem"),
        ],
    );
    let stderr = stderr(&output);
    assert!(output.status.success(), "{stderr}");
    let mut expected = vec![
        "OTEL_LOGS_EXPORTER=\"none\" is not used: the program chooses its outputs in code (a writer, an OTLP endpoint or a logger provider given to the Builder): json, otlp",
        "OTEL_EXPORTER_OTLP_CERTIFICATE is set, but the endpoint http://127.0.0.1:9 is not https://, so the file is not used and the logs are sent unencrypted",
        "Builder::with_otlp_endpoint is used as the full URL, and http://127.0.0.1:9 has no path: requests go to /, not to the collector's /v1/logs; give the full URL (http://127.0.0.1:9/v1/logs)",
        "Builder::with_lint_rule(OLB009, true) is not used: Builder::with_runtime_lint(false) turns the runtime lint off",
        "Builder::with_legacy_code_attributes(true) is not used: Builder::with_code_attributes(false) turns the source location off",
    ];
    if cfg!(feature = "spool") {
        expected.push("Builder::with_spool_budget is not used: no spool directory is given");
    }
    for said in expected {
        assert!(stderr.contains(said), "{said}\n{stderr}");
    }
}

/// Regression: the path of a gRPC endpoint (a gateway that routes by a
/// path prefix) was dropped without a word.
#[cfg(feature = "grpc")]
#[test]
fn a_grpc_endpoints_path_is_reported_as_not_used() {
    if is_child() {
        for endpoint in ["http://127.0.0.1:9/otel-grpc", "http://127.0.0.1:9/"] {
            let (_layer, guard) = otel_log_bridge::builder()
                .with_otlp_endpoint(endpoint)
                .with_otlp_protocol(otel_log_bridge::Protocol::Grpc)
                .with_shutdown_timeout(std::time::Duration::from_millis(10))
                .layer()
                .expect("a warning, not an error");
            drop(guard);
        }
        return;
    }
    let output = run_child(
        "process::a_grpc_endpoints_path_is_reported_as_not_used",
        &[],
    );
    let stderr = stderr(&output);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(
        stderr.matches("of the gRPC endpoint").count(),
        1,
        "{stderr}"
    );
    assert!(
        stderr.contains("Builder::with_otlp_endpoint: the path \"/otel-grpc\" of the gRPC endpoint http://127.0.0.1:9/otel-grpc is not used"),
        "{stderr}"
    );
}

/// Regression (of the first version of the report above): a platform
/// that sets `OTEL_LOGS_EXPORTER=otlp` for every service, and
/// `OTEL_SEMCONV_STABILITY_OPT_IN=code/dup`, made a service that chooses
/// the same output in code, or turns the source location off, warn on
/// every start.
#[test]
fn variables_that_agree_with_the_code_are_not_reported() {
    if is_child() {
        let (_layer, guard) = otel_log_bridge::builder()
            .with_otlp_endpoint("http://127.0.0.1:9/v1/logs")
            .with_code_attributes(false)
            .with_shutdown_timeout(std::time::Duration::from_millis(10))
            .layer()
            .expect("valid configuration");
        drop(guard);
        return;
    }
    let output = run_child(
        "process::variables_that_agree_with_the_code_are_not_reported",
        &[
            ("OTEL_LOGS_EXPORTER", "otlp"),
            ("OTEL_SEMCONV_STABILITY_OPT_IN", "code/dup"),
        ],
    );
    let stderr = stderr(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(!stderr.contains("is not used"), "{stderr}");
}

/// Regression: a configuration that failed left its diagnostics level
/// set, so a failed `try_init` with `with_diagnostics(OFF)` silenced the
/// pipeline already running: its worker's warnings went unsaid.
#[test]
fn a_failed_configuration_leaves_the_diagnostics_level_as_it_was() {
    use tracing_subscriber::prelude::*;

    if is_child() {
        // A queue too small for any record: each is dropped, and the
        // worker says so.
        let (layer, guard) = otel_log_bridge::builder()
            .with_json_writer(std::io::sink())
            .with_queue_budget(1)
            .layer()
            .expect("valid configuration");
        for failed in [
            otel_log_bridge::builder()
                .with_diagnostics(tracing::level_filters::LevelFilter::OFF)
                .with_resource_attribute("", "no key")
                .layer()
                .err(),
            otel_log_bridge::builder()
                .with_diagnostics(tracing::level_filters::LevelFilter::OFF)
                .with_resource_attribute("", "no key")
                .try_init()
                .err(),
        ] {
            assert!(failed.is_some());
        }
        let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
        tracing::dispatcher::with_default(&dispatch, || tracing::info!("dropped"));
        drop(guard);
        return;
    }
    let output = run_child(
        "process::a_failed_configuration_leaves_the_diagnostics_level_as_it_was",
        &[],
    );
    let stderr = stderr(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("queue is full or closed; records are being dropped"),
        "{stderr}"
    );
}

/// Regression: a guard dropped at once (`let (layer, _) = …`) shut the
/// pipeline down before its first record, and every event vanished
/// without a word; a pipeline that exported and was shut down as the
/// program ended says nothing of the events its other threads log after.
#[test]
fn events_after_a_guard_dropped_at_once_are_reported_as_discarded() {
    use tracing_subscriber::prelude::*;

    if is_child() {
        match std::env::var("CASE").as_deref() {
            Ok("log records after a guard dropped at once") => {
                let (layer, _) = otel_log_bridge::builder()
                    .with_json_writer(std::io::sink())
                    .layer()
                    .expect("valid configuration");
                let bridge = layer.log_bridge();
                let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
                tracing::dispatcher::with_default(&dispatch, || {
                    log::Log::log(
                        &bridge,
                        &log::Record::builder()
                            .args(format_args!("lost"))
                            .level(log::Level::Info)
                            .build(),
                    );
                });
            }
            Ok("dropped at once") => {
                let (layer, _) = otel_log_bridge::builder()
                    .with_json_writer(std::io::sink())
                    .layer()
                    .expect("valid configuration");
                let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
                tracing::dispatcher::with_default(&dispatch, || {
                    tracing::info!("lost");
                    tracing::info!("lost too");
                });
            }
            Ok("disabled") => {
                let (layer, _) = otel_log_bridge::builder()
                    .with_disabled(true)
                    .layer()
                    .expect("valid configuration");
                let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
                tracing::dispatcher::with_default(&dispatch, || tracing::info!("off anyway"));
            }
            _ => {
                let (layer, guard) = otel_log_bridge::builder()
                    .with_json_writer(std::io::sink())
                    .layer()
                    .expect("valid configuration");
                let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
                tracing::dispatcher::with_default(&dispatch, || {
                    tracing::info!("exported");
                    drop(guard);
                    tracing::info!("logged while the program ends");
                });
            }
        }
        return;
    }
    let test = "process::events_after_a_guard_dropped_at_once_are_reported_as_discarded";
    for case in [
        "dropped at once",
        "log records after a guard dropped at once",
    ] {
        let at_once = run_child(test, &[("CASE", case)]);
        let said = stderr(&at_once);
        assert!(at_once.status.success(), "{case}: {said}");
        assert_eq!(
            said.matches(
                "events are discarded: this pipeline was shut down before a subscriber took its layer"
            )
            .count(),
            1,
            "{case}: {said}"
        );
    }
    // Regression (of the first version of this note): a pipeline with no
    // outputs, or one in use when it was shut down, was said to discard
    // events as well.
    for case in ["shut down at the end", "disabled"] {
        let quiet = run_child(test, &[("CASE", case)]);
        let said = stderr(&quiet);
        assert!(quiet.status.success(), "{case}: {said}");
        assert!(!said.contains("events are discarded"), "{case}: {said}");
    }
}

/// Regression: `init` set `log`'s maximum level even when it left `log`
/// to another logger, which then lost its debug records.
#[test]
fn a_logger_kept_with_the_log_bridge_off_keeps_its_level() {
    if is_child() {
        log::set_max_level(log::LevelFilter::Debug);
        let _guard = child_builder().with_log_bridge(false).init();
        assert_eq!(log::max_level(), log::LevelFilter::Debug);
        return;
    }
    let (output, _) = run("a_logger_kept_with_the_log_bridge_off_keeps_its_level", &[]);
    assert!(output.status.success(), "{}", stderr(&output));
}

#[test]
fn init_panics_with_the_error_text() {
    if is_child() {
        let _guard = otel_log_bridge::builder()
            .with_env_filter("info,[[bad")
            .init();
        return;
    }
    let (output, _) = run("init_panics_with_the_error_text", &[]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("otel-log-bridge: invalid Builder::with_env_filter: "));
}

#[test]
fn a_filter_the_layer_cannot_use_is_reported() {
    if is_child() {
        let (_layer, _guard) = child_builder()
            .with_env_filter("debug")
            .layer()
            .expect("valid configuration");
        return;
    }
    let (output, _) = run("a_filter_the_layer_cannot_use_is_reported", &[]);
    assert!(output.status.success());
    assert!(
        stderr(&output).contains(
            "Builder::with_env_filter(\"debug\") is not used by Builder::layer(): add the filter to your subscriber"
        ),
        "{}",
        stderr(&output)
    );
    // Regression: the warning came before the diagnostics level was
    // applied, so OTEL_LOG_LEVEL=none did not silence it.
    let (output, _) = run(
        "a_filter_the_layer_cannot_use_is_reported",
        &[("OTEL_LOG_LEVEL", "none")],
    );
    assert!(output.status.success());
    assert_eq!(stderr(&output), "");
}

/// A child's run for the tests of its resource: one record, written
/// before the guard's shutdown returns.
fn init_and_log_hello() {
    let guard = child_builder().init();
    tracing::info!("hello");
    drop(guard);
}

#[test]
fn malformed_resource_attributes_are_reported_once_and_ignored_entirely() {
    if is_child() {
        init_and_log_hello();
        return;
    }
    let (output, records) = run(
        "malformed_resource_attributes_are_reported_once_and_ignored_entirely",
        &[
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "team=core,oops,region=eu%2Dwest",
            ),
            ("OTEL_SERVICE_NAME", "from-env"),
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let stderr = stderr(&output);
    assert_eq!(
        stderr
            .matches(
                "OTEL_RESOURCE_ATTRIBUTES: the pair \"oops\" is malformed because it has no '=', \
                 so the whole variable is ignored"
            )
            .count(),
        1,
        "{stderr}"
    );
    let resource = &records[0]["resource"];
    assert!(resource.get("team").is_none(), "{resource}");
    assert!(resource.get("region").is_none(), "{resource}");
    assert_eq!(resource["service.name"], "from-env");
    assert_eq!(resource["telemetry.sdk.name"], "otel-log-bridge");
}

/// Regression: a key given twice in `OTEL_RESOURCE_ATTRIBUTES` (after
/// percent-decoding and trimming, `%20team` is `team`) kept its last value
/// without a word, though one of the two was likely meant for another key.
#[test]
fn a_resource_attribute_given_twice_is_reported_and_its_last_value_used() {
    if is_child() {
        init_and_log_hello();
        return;
    }
    let (output, records) = run(
        "a_resource_attribute_given_twice_is_reported_and_its_last_value_used",
        &[(
            "OTEL_RESOURCE_ATTRIBUTES",
            "team=core,region=eu,%20team=platform,team=edge,zone=a,service.name=svc,service.name=%20",
        )],
    );
    let stderr = stderr(&output);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(
        stderr
            .matches("OTEL_RESOURCE_ATTRIBUTES: the key \"team\" is given more than once; only its last value counts")
            .count(),
        1,
        "{stderr}"
    );
    // A blank `service.name` is ignored before repeats are looked for: the
    // first one stands, and is no repeat.
    assert!(stderr.contains("`service.name` is blank"), "{stderr}");
    assert!(
        !stderr.contains("\"service.name\" is given more than once"),
        "{stderr}"
    );
    let resource = &records[0]["resource"];
    assert_eq!(resource["team"], "edge", "{resource}");
    assert_eq!(resource["region"], "eu", "{resource}");
    assert_eq!(resource["zone"], "a", "{resource}");
    assert_eq!(resource["service.name"], "svc", "{resource}");
}

/// Regression: malformed limits were reported as "using the next setting"
/// even where only the default came next.
#[test]
fn malformed_settings_are_reported_with_what_applies_instead() {
    if is_child() {
        let guard = child_builder().init();
        tracing::info!(a = 1, b = 2, "hello");
        drop(guard);
        return;
    }
    let (output, records) = run(
        "malformed_settings_are_reported_with_what_applies_instead",
        &[
            ("OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT", "many"),
            ("OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT", "long"),
            ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "wide"),
            ("OTEL_LOG_LEVEL", "verbose"),
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let stderr = stderr(&output);
    for expected in [
        "OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT=\"many\" is not valid (accepted: a whole number); \
         using the default, 128",
        // The generic variable is malformed too: the default applies.
        "OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT=\"long\" is not valid (accepted: a whole \
         number); using the default, no limit",
        "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT=\"wide\" is not valid (accepted: a whole number); \
         using the default, no limit",
        "OTEL_LOG_LEVEL=\"verbose\" is not valid (accepted: none, error, warn, info, debug); \
         using the default, info",
    ] {
        assert!(stderr.contains(expected), "{expected}\n{stderr}");
    }
    assert_eq!(records[0]["attributes"]["b"], 2, "{records:?}");
}

#[test]
fn invalid_rust_log_falls_back_to_info_with_a_warning() {
    if is_child() {
        let guard = child_builder().init();
        tracing::debug!("not at info");
        tracing::info!("at info");
        drop(guard);
        return;
    }
    let (output, records) = run(
        "invalid_rust_log_falls_back_to_info_with_a_warning",
        &[("RUST_LOG", "info,[[bad")],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("RUST_LOG=\"info,[[bad\" is not valid"));
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["body"], "at info");
}

#[test]
fn sdk_disabled_writes_nothing() {
    if is_child() {
        let guard = child_builder().init();
        tracing::info!("not written");
        log::info!("not written");
        assert_eq!(guard.stats().emitted, 0);
        return;
    }
    let (output, records) = run(
        "sdk_disabled_writes_nothing",
        &[("OTEL_SDK_DISABLED", "true")],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(records.is_empty());
}

#[test]
fn the_runtime_lint_reports_each_callsite_problem_once_on_stderr() {
    if is_child() {
        let guard = child_builder()
            .with_runtime_lint(true)
            .with_lint_rule(otel_log_bridge::lint::Rule::MissingEventName, true)
            .with_code_attributes(false)
            .with_legacy_code_attributes(true)
            .init();
        for user in ["ada", "grace", "ada"] {
            // Deliberately bad: the runtime lint must report these.
            // otel-log-lint: allow(OLB001, OLB004)
            tracing::info!(password = "hunter2", userId = 7, "user {user} signed in");
            tracing::info!(user.id = user, "constant message");
        }
        tracing::warn!(name: "payment.declined", "named warning");
        tracing::warn!("unnamed warning");
        // A new dispatcher makes `tracing` register every callsite again
        // with every dispatcher: nothing may be reported twice for that.
        drop(tracing::Dispatch::new(tracing_subscriber::registry()));
        let stats = guard.shutdown();
        assert_eq!(stats.exported, 8, "the lint never drops records: {stats:?}");
        return;
    }
    let (output, records) = run(
        "the_runtime_lint_reports_each_callsite_problem_once_on_stderr",
        &[],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    // Each once: the secret key, the camelCase key, the interpolated
    // message, and the unnamed warning only.
    assert_eq!(
        runtime_lint_findings(&stderr(&output)),
        [("OLB001", 1), ("OLB004", 1), ("OLB005", 1), ("OLB009", 1)]
    );
    assert_eq!(records.len(), 8);
    assert!(records
        .iter()
        .all(|r| !r["body"].as_str().unwrap_or("").contains("OLB")));
}

/// How many runtime lint findings a child wrote on stderr, by rule; each
/// must point into this file.
fn runtime_lint_findings(stderr: &str) -> Vec<(&str, usize)> {
    let mut counts = std::collections::BTreeMap::new();
    for line in stderr.lines() {
        let Some(finding) = line.strip_prefix("otel-log-bridge: lint: ") else {
            continue;
        };
        assert!(finding.contains("tests/process.rs:"), "{stderr}");
        let rule = finding.split_whitespace().next().unwrap_or_default();
        *counts.entry(rule).or_insert(0) += 1;
    }
    counts.into_iter().collect()
}

/// Regression: the runtime lint never saw `log` records, though it is
/// documented to check the `log` bridge's keys too.
#[test]
fn the_runtime_lint_reports_each_log_call_problem_once_on_stderr() {
    if is_child() {
        let guard = child_builder().with_runtime_lint(true).init();
        for user in ["ada", "grace", "ada"] {
            // Deliberately bad: the runtime lint must report these.
            // otel-log-lint: allow(OLB001, OLB003, OLB004, OLB005)
            log::info!(password = "hunter2", userId = 7, message = "hi"; "user {user} signed in");
            log::info!(account = user; "constant message");
        }
        // Regression: records without a source position were all compared
        // as one call of their target, so these two read as one message
        // with values formatted into it.
        for body in ["request started", "request finished"] {
            log::logger().log(
                &log::Record::builder()
                    .args(format_args!("{body}"))
                    .level(log::Level::Info)
                    .target("hand_built")
                    .build(),
            );
        }
        // Regression: two calls on one line (or in one `macro_rules!`
        // expansion) share their source position, and their constant
        // messages read as one message with values formatted into it.
        macro_rules! outcome {
            ($ok:expr) => {
                if $ok {
                    log::info!("request succeeded")
                } else {
                    log::info!("request failed")
                }
            };
        }
        for ok in [true, false] {
            outcome!(ok);
        }
        let stats = guard.shutdown();
        assert_eq!(
            stats.exported, 10,
            "the lint never drops records: {stats:?}"
        );
        return;
    }
    let (output, records) = run(
        "the_runtime_lint_reports_each_log_call_problem_once_on_stderr",
        &[],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    // Regression: `message` among `log` key-values (OLB003) was only
    // reported by the source linter.
    assert_eq!(
        runtime_lint_findings(&stderr(&output)),
        [("OLB001", 1), ("OLB003", 1), ("OLB004", 1), ("OLB005", 1)]
    );
    assert_eq!(records.len(), 10);
}

/// Regression: with a zero shutdown timeout, every shutdown warned that
/// the output had not finished and its records were lost, though nothing
/// was left and the output went on writing while the process ran.
#[test]
fn a_zero_shutdown_timeout_gives_no_warning_about_a_wait_not_asked_for() {
    const TEST: &str = "a_zero_shutdown_timeout_gives_no_warning_about_a_wait_not_asked_for";
    if is_child() {
        let guard = child_builder()
            .with_shutdown_timeout(std::time::Duration::ZERO)
            .init();
        for i in 0..3 {
            tracing::info!(i, "before the shutdown");
        }
        drop(guard);
        // The worker's last cycle still writes them.
        let path = std::env::var(OUT).expect("output path from the parent");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while read_records(Path::new(&path)).len() < 3 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        return;
    }
    let (output, records) = run(TEST, &[]);
    let stderr = stderr(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(!stderr.contains("did not finish"), "{stderr}");
    assert_eq!(records.len(), 3);
}

/// Regression: the warning that an output did not finish by the shutdown
/// timeout was written from the thread shutting down, and the output that
/// did not finish (the console, writing to a stderr nobody reads) held
/// stderr's lock: the program never ended.
#[test]
fn a_shutdown_ends_though_stderr_is_a_pipe_nobody_reads() {
    const TEST: &str = "process::a_shutdown_ends_though_stderr_is_a_pipe_nobody_reads";
    if is_child() {
        let guard = otel_log_bridge::builder()
            .with_shutdown_timeout(std::time::Duration::from_millis(300))
            .init();
        // Far more than a pipe holds: the console's worker ends up stuck
        // writing to stderr.
        let padding = "x".repeat(200);
        for i in 0..5_000 {
            tracing::info!(i, padding = padding.as_str(), "to the console");
        }
        drop(guard);
        println!("SHUT DOWN");
        return;
    }
    let mut child = spawn_child(TEST, &[("OTEL_LOGS_EXPORTER", "console")]);
    let stdout = child.stdout.take().expect("piped stdout");
    let (lines, read) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead as _;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = lines.send(line);
        }
    });
    // The child's stderr stays unread, its pipe full.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut shut_down = false;
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        match read.recv_timeout(left) {
            Ok(line) if line.contains("SHUT DOWN") => {
                shut_down = true;
                break;
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(shut_down, "the shutdown did not end");
}

#[test]
fn an_unreadable_certificate_file_is_an_init_error() {
    if is_child() {
        let error = otel_log_bridge::try_init().expect_err("missing certificate");
        eprintln!("ERROR: {error}");
        assert!(!tracing::dispatcher::has_been_set(), "nothing installed");
        return;
    }
    let (output, _) = run(
        "an_unreadable_certificate_file_is_an_init_error",
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://127.0.0.1:4318"),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/nonexistent/ca.pem"),
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output)
            .contains("ERROR: invalid OTEL_EXPORTER_OTLP_CERTIFICATE: reading /nonexistent/ca.pem"),
        "{}",
        stderr(&output)
    );
}

/// Regression: `OTEL_EXPORTER_OTLP_INSECURE` was read, and a malformed
/// value reported, with the HTTP protocols too, and for a gRPC endpoint
/// whose own scheme decides, none of which use it.
#[cfg(feature = "grpc")]
#[test]
fn the_insecure_variable_is_read_only_for_a_grpc_endpoint_without_a_scheme() {
    if is_child() {
        let guard = otel_log_bridge::try_init().expect("valid settings");
        drop(guard);
        return;
    }
    let warning = "OTEL_EXPORTER_OTLP_INSECURE=\"maybe\" is not valid";
    // Nothing listens there; nothing is logged either.
    for (protocol, endpoint, read) in [
        ("http/protobuf", "http://127.0.0.1:9", false),
        ("http/json", "http://127.0.0.1:9", false),
        ("grpc", "http://127.0.0.1:9", false),
        ("grpc", "127.0.0.1:9", true),
    ] {
        let (output, _) = run(
            "the_insecure_variable_is_read_only_for_a_grpc_endpoint_without_a_scheme",
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
                ("OTEL_EXPORTER_OTLP_INSECURE", "maybe"),
            ],
        );
        assert!(output.status.success(), "{}", stderr(&output));
        assert_eq!(
            stderr(&output).contains(warning),
            read,
            "{protocol} {endpoint}: {}",
            stderr(&output)
        );
    }
}

/// Regression: a layer inside `Option` (as `.with(enabled.then(|| layer))`
/// builds it) is never told its dispatcher, and its records lost the
/// `tracing-opentelemetry` ids for native ones.
#[cfg(feature = "tracing-opentelemetry")]
#[test]
fn a_layer_inside_an_option_keeps_the_opentelemetry_ids() {
    use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    use tracing_subscriber::prelude::*;

    if is_child() {
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let (layer, guard) = child_builder().layer().expect("valid configuration");
        tracing::subscriber::set_global_default(
            tracing_subscriber::registry()
                .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")))
                .with(Some(layer)),
        )
        .expect("the first global subscriber");
        let span = tracing::info_span!("request");
        span.in_scope(|| tracing::info!("in the span"));
        let context = span.context();
        eprintln!("TRACE {}", context.span().span_context().trace_id());
        drop(guard);
        return;
    }
    let (output, records) = run("a_layer_inside_an_option_keeps_the_opentelemetry_ids", &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let expected = stderr(&output)
        .lines()
        .find_map(|line| line.strip_prefix("TRACE ").map(str::to_owned))
        .expect("the span's trace id");
    assert_eq!(records.len(), 1, "{}", stderr(&output));
    assert_eq!(records[0]["trace_id"], expected.as_str());
}

/// Regression: under a scoped subscriber, a layer inside `Option`, which
/// cannot ask for its dispatcher there, lost the `tracing-opentelemetry`
/// ids without a word; it is said once, on stderr.
#[cfg(feature = "tracing-opentelemetry")]
#[test]
fn a_layer_inside_an_option_under_a_scoped_subscriber_says_what_it_loses() {
    use tracing_subscriber::prelude::*;

    const TEST: &str = "a_layer_inside_an_option_under_a_scoped_subscriber_says_what_it_loses";
    if is_child() {
        use opentelemetry::trace::TracerProvider as _;

        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let (layer, guard) = child_builder().layer().expect("valid configuration");
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")))
            .with(Some(layer));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("request");
            span.in_scope(|| {
                tracing::info!("first");
                tracing::info!("second");
            });
        });
        drop(guard);
        return;
    }
    let (output, records) = run(TEST, &[]);
    let stderr = stderr(&output);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(records.len(), 2, "{stderr}");
    let warning = "a bridge layer inside `Option` or `Vec` is not told its subscriber";
    assert_eq!(stderr.matches(warning).count(), 1, "{stderr}");
}

/// Regression: records logged from a thread-local's destructor, once the
/// thread's cached name and id were gone, had no `thread.*` attributes;
/// and once OpenTelemetry's thread-local context was gone, reading it for
/// a record outside any span panicked, and the process aborted.
#[test]
fn records_logged_while_a_thread_ends_keep_its_name_and_id() {
    struct LogsWhenDropped;

    impl Drop for LogsWhenDropped {
        fn drop(&mut self) {
            tracing::info!("tracing, from a destructor");
            log::info!("log, from a destructor");
        }
    }

    thread_local! {
        static LOGS_WHEN_DROPPED: LogsWhenDropped = const { LogsWhenDropped };
    }

    if is_child() {
        let guard = child_builder().init();
        let worker = std::thread::Builder::new()
            .name("worker".to_owned())
            .spawn(|| {
                // Made before the bridge's own thread-locals, so dropped
                // after them: thread-locals are dropped in reverse order.
                LOGS_WHEN_DROPPED.with(|_| {});
                // Only inside a span, and OpenTelemetry's own context read
                // after: the records logged while the thread ends, outside
                // any span, come after that context is gone.
                tracing::info_span!("work").in_scope(|| tracing::info!("while running"));
                let _ = opentelemetry::Context::current();
            })
            .expect("a thread");
        worker.join().expect("no panic");
        drop(guard);
        return;
    }
    let (output, records) = run(
        "records_logged_while_a_thread_ends_keep_its_name_and_id",
        &[],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let bodies: Vec<&str> = records.iter().filter_map(|r| r["body"].as_str()).collect();
    assert_eq!(
        bodies,
        [
            "while running",
            "tracing, from a destructor",
            "log, from a destructor"
        ]
    );
    for record in &records {
        let attributes = &record["attributes"];
        assert_eq!(attributes["thread.name"], "worker", "{record}");
        assert_eq!(
            attributes["thread.id"],
            records[0]["attributes"]["thread.id"]
        );
    }
}

/// Attaches one OpenTelemetry context more than its stack holds (which
/// makes `opentelemetry` warn while it holds the context borrowed), logs
/// one record, and says on stderr how many records failed.
#[cfg(feature = "sdk")]
fn attach_one_context_too_many_then_log(guard: &otel_log_bridge::Guard) {
    let mut attached: Vec<_> = (0..u16::MAX)
        .map(|_| opentelemetry::Context::new().attach())
        .collect();
    while let Some(context) = attached.pop() {
        drop(context);
    }
    tracing::info!("still running");
    eprintln!("failed: {}", guard.stats().failed);
}

/// Regression: `opentelemetry` logs a warning about its context while it
/// holds that context borrowed (here, one context too many attached). The
/// SDK adapter handed it to the logger provider, whose logger reads the
/// context first thing: it panicked, and the panic hook, reading the
/// context again, aborted the process.
#[cfg(feature = "sdk")]
#[test]
fn opentelemetry_warning_about_its_context_does_not_abort_with_a_logger_provider() {
    const TEST: &str =
        "opentelemetry_warning_about_its_context_does_not_abort_with_a_logger_provider";
    if is_child() {
        let provider = opentelemetry_sdk::logs::SdkLoggerProvider::builder()
            .with_simple_exporter(opentelemetry_sdk::logs::InMemoryLogExporter::default())
            .build();
        let guard = child_builder().with_logger_provider(provider).init();
        attach_one_context_too_many_then_log(&guard);
        return;
    }
    let (output, records) = run(TEST, &[]);
    let stderr = stderr(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("OpenTelemetry's records about its own context"),
        "{stderr}"
    );
    assert!(stderr.contains("failed: 1"), "{stderr}");
    // The other outputs still have the warning.
    assert_eq!(records.len(), 2, "{records:?}");
    assert_eq!(records[0]["event_name"], "Context.AttachFailed");
    assert_eq!(records[1]["body"], "still running");
}

/// Regression: with a rate limit, the summary of a storm that had ended
/// elsewhere was given before the next event, which may be OpenTelemetry's
/// warning about its context, logged while it holds that context borrowed.
/// Handed to the logger provider then, the summary made its logger read the
/// context: it panicked, and the panic hook, reading it again, aborted the
/// process.
#[cfg(feature = "sdk")]
#[test]
fn a_storms_summary_is_not_given_inside_opentelemetrys_borrowed_context() {
    const TEST: &str = "a_storms_summary_is_not_given_inside_opentelemetrys_borrowed_context";
    if is_child() {
        let exporter = opentelemetry_sdk::logs::InMemoryLogExporter::default();
        let provider = opentelemetry_sdk::logs::SdkLoggerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let guard = child_builder()
            .with_logger_provider(provider)
            .with_rate_limit(otel_log_bridge::RateLimit::per_callsite(1, 1))
            .init();
        for attempt in 0..3 {
            tracing::warn!(attempt, "disk almost full");
        }
        // The storm is over once its callsite has suppressed nothing for a
        // second; the next event then gives its summary.
        std::thread::sleep(std::time::Duration::from_millis(1_100));
        attach_one_context_too_many_then_log(&guard);
        let summaries = exporter
            .get_emitted_logs()
            .expect("the exporter's records")
            .iter()
            .filter(|log| log.record.event_name() == Some("otel_log_bridge.suppressed"))
            .count();
        eprintln!("summaries in the provider: {summaries}");
        return;
    }
    let (output, records) = run(TEST, &[]);
    let stderr = stderr(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    // Only OpenTelemetry's warning is kept from the provider; the summary
    // reaches it, given before the next event of the application.
    assert!(stderr.contains("failed: 1"), "{stderr}");
    assert!(stderr.contains("summaries in the provider: 1"), "{stderr}");
    let names: Vec<_> = records
        .iter()
        .map(|record| record["event_name"].as_str().unwrap_or(""))
        .collect();
    let bodies: Vec<_> = records
        .iter()
        .map(|record| record["body"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        names,
        ["", "Context.AttachFailed", "otel_log_bridge.suppressed", ""],
        "{bodies:?}"
    );
    assert_eq!(bodies[3], "still running");
}

/// Regression: the summary of a storm of OpenTelemetry's warnings about its
/// context, given before the next one the rate limit lets through, came
/// while OpenTelemetry held that context borrowed: handed to the logger
/// provider, it made the logger read the context, and the process aborted.
#[cfg(feature = "sdk")]
#[test]
fn the_summary_of_opentelemetrys_own_storm_is_kept_from_the_logger_provider() {
    const TEST: &str = "the_summary_of_opentelemetrys_own_storm_is_kept_from_the_logger_provider";
    if is_child() {
        let provider = opentelemetry_sdk::logs::SdkLoggerProvider::builder()
            .with_simple_exporter(opentelemetry_sdk::logs::InMemoryLogExporter::default())
            .build();
        let guard = child_builder()
            .with_logger_provider(provider)
            .with_rate_limit(otel_log_bridge::RateLimit::per_callsite(1, 1))
            .init();
        // The stack full: each attach fails, with a warning.
        let mut attached: Vec<_> = (0..u16::MAX)
            .map(|_| opentelemetry::Context::new().attach())
            .collect();
        for _ in 0..2 {
            drop(opentelemetry::Context::new().attach());
        }
        std::thread::sleep(std::time::Duration::from_millis(1_100));
        drop(opentelemetry::Context::new().attach());
        while let Some(context) = attached.pop() {
            drop(context);
        }
        tracing::info!("still running");
        eprintln!("failed: {}", guard.stats().failed);
        return;
    }
    let (output, records) = run(TEST, &[]);
    let stderr = stderr(&output);
    assert!(output.status.success(), "{stderr}");
    // The two warnings let through and the summary between them.
    assert!(stderr.contains("failed: 3"), "{stderr}");
    let names: Vec<_> = records
        .iter()
        .map(|record| record["event_name"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        names,
        [
            "Context.AttachFailed",
            "otel_log_bridge.suppressed",
            "Context.AttachFailed",
            ""
        ],
    );
    assert_eq!(
        records[1]["attributes"]["otel_log_bridge.suppressed.count"],
        2
    );
}

/// Forwards OpenTelemetry's warning about an overflowing context stack to
/// `log` as it comes, inside the context's borrow, as `tracing`'s
/// `log-always` feature does: the record carries no event name there.
#[cfg(feature = "sdk")]
struct ForwardsContextWarningsToLog;

#[cfg(feature = "sdk")]
impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for ForwardsContextWarningsToLog {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if event.metadata().name() == "Context.AttachFailed" {
            log::warn!(target: "opentelemetry", "name=\"Context.AttachFailed\"");
        }
    }
}

/// Regression: the same warning forwarded to `log` carries no event name,
/// so the check kept for it let it through to the logger provider, whose
/// logger read the borrowed context: the panic hook, reading it again,
/// aborted the process.
#[cfg(feature = "sdk")]
#[test]
fn opentelemetry_warning_about_its_context_forwarded_to_log_does_not_abort() {
    use tracing_subscriber::layer::SubscriberExt as _;

    const TEST: &str = "opentelemetry_warning_about_its_context_forwarded_to_log_does_not_abort";
    if is_child() {
        let provider = opentelemetry_sdk::logs::SdkLoggerProvider::builder()
            .with_simple_exporter(opentelemetry_sdk::logs::InMemoryLogExporter::default())
            .build();
        let (layer, guard) = child_builder()
            .with_logger_provider(provider)
            .layer()
            .expect("a layer");
        log::set_boxed_logger(Box::new(layer.log_bridge())).expect("the only logger");
        log::set_max_level(log::LevelFilter::Trace);
        let subscriber = tracing_subscriber::registry()
            .with(layer)
            .with(ForwardsContextWarningsToLog);
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
        attach_one_context_too_many_then_log(&guard);
        return;
    }
    let (output, records) = run(TEST, &[]);
    let stderr = stderr(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("failed: 2"), "{stderr}");
    // The other outputs still have both.
    let bodies: Vec<_> = records.iter().map(|record| &record["body"]).collect();
    assert_eq!(records.len(), 3, "{records:?}");
    assert_eq!(records[0]["event_name"], "Context.AttachFailed");
    assert_eq!(bodies[1], "name=\"Context.AttachFailed\"");
    assert_eq!(bodies[2], "still running");
}

/// Logs a record when a thread's copy of it is dropped, as the thread ends.
#[cfg(feature = "sdk")]
struct LogsWhenDropped;

#[cfg(feature = "sdk")]
impl Drop for LogsWhenDropped {
    fn drop(&mut self) {
        tracing::info!("from a thread-local's destructor");
    }
}

/// Regression: a record logged from a thread-local's destructor, once
/// OpenTelemetry's context on that thread was gone, was handed to the
/// logger provider, whose logger reads that context: it panicked, the
/// panic hook added a FATAL record of a panic the application never had,
/// and the provider's later panics went unrecorded.
#[cfg(feature = "sdk")]
#[test]
fn a_record_logged_as_its_thread_ends_is_kept_from_the_logger_provider() {
    const TEST: &str = "a_record_logged_as_its_thread_ends_is_kept_from_the_logger_provider";
    if is_child() {
        thread_local! {
            static LOGS_WHEN_DROPPED: LogsWhenDropped = const { LogsWhenDropped };
        }
        let exporter = opentelemetry_sdk::logs::InMemoryLogExporter::default();
        let provider = opentelemetry_sdk::logs::SdkLoggerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let guard = child_builder().with_logger_provider(provider).init();
        std::thread::spawn(|| {
            // Made before OpenTelemetry's context is, by the record below,
            // so dropped after it: thread-locals are dropped in the
            // reverse order they were made.
            LOGS_WHEN_DROPPED.with(|_| ());
            tracing::info!("while the thread runs");
        })
        .join()
        .expect("the thread ends without panicking");
        tracing::info!("after the thread ended");
        let stats = guard.shutdown();
        let provider_bodies: Vec<String> = exporter
            .get_emitted_logs()
            .expect("in-memory logs")
            .iter()
            .map(|log| format!("{:?}", log.record.body()))
            .collect();
        eprintln!("failed: {}; provider: {provider_bodies:?}", stats.failed);
        return;
    }
    let (output, records) = run(TEST, &[]);
    let stderr = stderr(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            r#"failed: 1; provider: ["Some(String(Owned(\"while the thread runs\")))", "Some(String(Owned(\"after the thread ended\")))"]"#
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("once OpenTelemetry's context on that thread may be gone"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    let bodies: Vec<&serde_json::Value> = records.iter().map(|record| &record["body"]).collect();
    assert_eq!(
        bodies,
        [
            "while the thread runs",
            "from a thread-local's destructor",
            "after the thread ended"
        ],
        "no record of a panic: {records:?}"
    );
}

/// Regression: a thread whose first record through the bridge was logged
/// from a thread-local's destructor, after OpenTelemetry's context on it
/// was gone, made the bridge read that context to mark it: the panic came
/// out of a destructor, which aborts the process.
#[cfg(feature = "sdk")]
#[test]
fn a_first_record_logged_as_its_thread_ends_does_not_abort() {
    const TEST: &str = "a_first_record_logged_as_its_thread_ends_does_not_abort";
    if is_child() {
        thread_local! {
            static LOGS_WHEN_DROPPED: LogsWhenDropped = const { LogsWhenDropped };
        }
        let provider = opentelemetry_sdk::logs::SdkLoggerProvider::builder()
            .with_simple_exporter(opentelemetry_sdk::logs::InMemoryLogExporter::default())
            .build();
        let guard = child_builder().with_logger_provider(provider).init();
        std::thread::spawn(|| {
            LOGS_WHEN_DROPPED.with(|_| ());
            // OpenTelemetry's context, made after the thread-local above,
            // is dropped before it; nothing is logged through the bridge
            // meanwhile.
            drop(opentelemetry::Context::current());
        })
        .join()
        .expect("the thread ends without panicking");
        let stats = guard.shutdown();
        eprintln!("failed: {}", stats.failed);
        return;
    }
    let (output, records) = run(TEST, &[]);
    let stderr = stderr(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("failed: 1"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let bodies: Vec<&serde_json::Value> = records.iter().map(|record| &record["body"]).collect();
    assert_eq!(bodies, ["from a thread-local's destructor"], "{records:?}");
}

/// A JSON writer that asks the `log` logger to flush, as a writer or an
/// exporter of a library that logs through `log` may, on the thread that
/// writes: the sink's export worker.
struct FlushingWriter(std::fs::File);

impl std::io::Write for FlushingWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        log::logger().flush();
        std::io::Write::write(&mut self.0, bytes)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::Write::flush(&mut self.0)
    }
}

/// Regression: `log::logger().flush()` called on an export worker waited
/// for that very worker's cycle, holding it for the whole shutdown
/// timeout, so that the guard's flush timed out.
#[test]
fn a_log_flush_on_an_export_worker_does_not_wait_for_itself() {
    if is_child() {
        let path = std::env::var(OUT).expect("output path from the parent");
        let file = std::fs::File::create(path).expect("output file");
        let guard = otel_log_bridge::builder()
            .with_json_writer(FlushingWriter(file))
            .with_shutdown_timeout(std::time::Duration::from_secs(2))
            .init();
        tracing::info!("written by a writer that flushes the log logger");
        let flushed = guard.flush();
        assert!(flushed.is_ok(), "{flushed:?}");
        return;
    }
    let (output, records) = run(
        "a_log_flush_on_an_export_worker_does_not_wait_for_itself",
        &[],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(records.len(), 1, "{records:?}");
}

/// A panic raised while an event is being captured (a field's `Debug`
/// impl) runs the bridge's panic hook in the middle of that capture: the
/// hook's record, and the records after it, come out whole.
#[test]
fn a_panic_inside_an_events_capture_is_recorded_and_logging_goes_on() {
    if is_child() {
        let builder = match std::env::var("CAPTURE_PATH").as_deref() {
            Ok("record") => child_builder().with_console_writer(std::io::sink()),
            _ => child_builder(),
        };
        let guard = builder.init();
        let span = tracing::info_span!("request", id = 7);
        let _entered = span.enter();
        let caught = std::panic::catch_unwind(|| {
            tracing::info!(before = 1, broken = ?PanicsWhenFormatted, "lost");
        });
        assert!(caught.is_err());
        let caught = std::panic::catch_unwind(|| {
            log::info!(broken:? = PanicsWhenFormatted; "lost too");
        });
        assert!(caught.is_err());
        tracing::info!(after = 2, "kept");
        log::info!(after = 3; "kept too");
        drop(guard);
        return;
    }
    for path in ["direct", "record"] {
        let (output, records) = run(
            "a_panic_inside_an_events_capture_is_recorded_and_logging_goes_on",
            &[("CAPTURE_PATH", path)],
        );
        assert!(output.status.success(), "{path} path: {}", stderr(&output));
        let bodies: Vec<&str> = records.iter().filter_map(|r| r["body"].as_str()).collect();
        assert_eq!(
            bodies,
            ["formatting fails", "formatting fails", "kept", "kept too"],
            "{path} path"
        );
        for record in &records {
            assert_eq!(record["attributes"]["id"], 7, "{path} path: {record}");
        }
        assert_eq!(records[0]["severity_text"], "FATAL", "{path} path");
    }
}

/// `Builder::with_panic_hook(false)` leaves the panic hook alone: a panic
/// makes no record, and the standard hook still reports it.
#[test]
fn without_the_panic_hook_a_panic_makes_no_record() {
    const TEST: &str = "without_the_panic_hook_a_panic_makes_no_record";
    if is_child() {
        let _guard = child_builder().with_panic_hook(false).init();
        let caught = std::panic::catch_unwind(|| panic!("caught by the test"));
        assert!(caught.is_err());
        tracing::info!("after the panic");
        return;
    }
    let (output, records) = run(TEST, &[]);
    let stderr = stderr(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("caught by the test"), "{stderr}");
    let bodies: Vec<_> = records.iter().map(|record| &record["body"]).collect();
    assert_eq!(bodies, ["after the panic"]);
}

/// `Builder::without_rate_limit` wins over `OTEL_LOG_BRIDGE_RATE_LIMIT`.
#[test]
fn code_without_a_rate_limit_beats_the_variable() {
    const TEST: &str = "code_without_a_rate_limit_beats_the_variable";
    if is_child() {
        let _guard = child_builder().without_rate_limit().init();
        for i in 0..5 {
            tracing::info!(i, "not limited");
        }
        return;
    }
    let (output, records) = run(TEST, &[("OTEL_LOG_BRIDGE_RATE_LIMIT", "1,1")]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(records.len(), 5, "{records:?}");
}

/// Regression: on a non-blocking standard output, the JSON worker's write
/// of a chunk that the output took in part released the stream between
/// its attempts, and a line the program printed meanwhile landed inside a
/// record's line, so that neither it nor the record could be read.
#[cfg(unix)]
#[test]
fn a_line_printed_while_a_record_waits_for_a_non_blocking_stdout_does_not_split_it() {
    use std::io::Write;
    use std::sync::atomic::{AtomicBool, Ordering};

    const TEST: &str =
        "a_line_printed_while_a_record_waits_for_a_non_blocking_stdout_does_not_split_it";
    const RECORDS: usize = 600;
    if is_child() {
        // The test harness has printed the test's name without ending the
        // line.
        println!();
        // Standard output by default, or given as a writer.
        let builder = otel_log_bridge::builder();
        let guard = if std::env::var_os("GIVEN_AS_A_WRITER").is_some() {
            builder.with_json_writer(std::io::stdout()).init()
        } else {
            builder.init()
        };
        let done = std::sync::Arc::new(AtomicBool::new(false));
        // A program printing whole lines of its own, as one does on a
        // non-blocking output: trying again while it would block.
        let printer = {
            let done = std::sync::Arc::clone(&done);
            std::thread::spawn(move || {
                let mut printed = 0;
                while !done.load(Ordering::Acquire) {
                    let line = format!("PLAIN {printed}\n");
                    let mut stdout = std::io::stdout().lock();
                    let mut rest = line.as_bytes();
                    while !rest.is_empty() {
                        match stdout.write(rest) {
                            Ok(n) => rest = &rest[n..],
                            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                                std::thread::sleep(std::time::Duration::from_micros(100));
                            }
                            Err(error) => panic!("printing failed: {error}"),
                        }
                    }
                    drop(stdout);
                    printed += 1;
                    std::thread::sleep(std::time::Duration::from_micros(50));
                }
            })
        };
        let padding = "x".repeat(4000);
        for i in 0..RECORDS {
            tracing::info!(i, padding, "a long record");
        }
        guard.flush().expect("the records are written");
        done.store(true, Ordering::Release);
        printer.join().expect("the printer");
        // Standard output may not take the test harness's last lines, and
        // fail the child, on a full non-blocking output: standard error
        // says the test itself went through.
        eprintln!("CHILD DONE");
        return;
    }
    for envs in [&[][..], &[("GIVEN_AS_A_WRITER", "1")][..]] {
        read_a_child_that_prints_beside_its_records(TEST, envs, RECORDS);
    }
}

#[cfg(unix)]
fn read_a_child_that_prints_beside_its_records(
    test: &str,
    envs: &[(&str, &str)],
    expected_records: usize,
) {
    use std::io::Read;

    // A socket rather than a pipe, so that its end can be made
    // non-blocking without `fcntl`; the flag is the open file's, which the
    // child's standard output shares.
    let (mut ours, theirs) = std::os::unix::net::UnixStream::pair().expect("a socket pair");
    theirs.set_nonblocking(true).expect("a non-blocking end");
    let mut command = crate::support::child_command(&format!("process::{test}"), envs);
    command
        .stdout(std::process::Stdio::from(std::os::fd::OwnedFd::from(
            theirs,
        )))
        .stderr(std::process::Stdio::piped());
    let child = command.spawn().expect("the child starts");
    // The command holds the child's end until dropped; reading ends when
    // the child's is the only one left, and it exits.
    drop(command);
    // Read slowly, so that the output is often full and takes chunks in
    // part.
    let mut out = Vec::new();
    let mut buffer = [0; 4096];
    loop {
        match ours.read(&mut buffer).expect("reading the child's output") {
            0 => break,
            n => out.extend_from_slice(&buffer[..n]),
        }
        std::thread::sleep(std::time::Duration::from_micros(200));
    }
    let output = child.wait_with_output().expect("the child ends");
    let text = String::from_utf8_lossy(&out);
    let mut records = 0;
    for line in text.lines() {
        if line.starts_with('{') {
            let record: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|error| panic!("a record's line was split ({error}): {line:.200}"));
            assert_eq!(record["body"], "a long record");
            records += 1;
        } else if line.contains("PLAIN") {
            let number = line.strip_prefix("PLAIN ").unwrap_or_default();
            assert!(
                !number.is_empty() && number.bytes().all(|byte| byte.is_ascii_digit()),
                "a printed line was split: {line:.200}"
            );
        } else {
            // The test harness's own lines.
            assert!(!line.contains("a long record"), "{line:.200}");
        }
    }
    let stderr = stderr(&output);
    assert!(stderr.contains("CHILD DONE"), "{envs:?}: {stderr}");
    assert_eq!(records, expected_records, "{envs:?}: {stderr}");
}
