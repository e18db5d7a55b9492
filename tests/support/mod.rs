//! Shared helpers: capture a pipeline's JSON output in memory, route `log`
//! records to a per-test bridge, and re-run this test binary as a child
//! process for tests that install global state.

// The suite's modules that use some of these helpers (OTLP over gRPC and
// TLS, the spool) are built with their features only; a build with fewer
// features leaves those helpers unused, which is no defect.
#![cfg_attr(not(all(feature = "grpc", feature = "spool")), allow(dead_code))]

use std::cell::RefCell;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex, Once};

use otel_log_bridge::{Builder, Guard, LogBridge};
use serde_json::Value;
use tracing_subscriber::prelude::*;

/// A writer the test keeps a handle to.
#[derive(Clone, Default)]
pub struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl SharedBuf {
    pub fn contents(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).expect("output is UTF-8")
    }

    pub fn lines(&self) -> Vec<Value> {
        parse_lines(&self.contents())
    }
}

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Parses JSON lines, failing on any line that is not one JSON object.
pub fn parse_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|line| {
            let value: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line:?}"));
            assert!(value.is_object(), "not an object: {line}");
            value
        })
        .collect()
}

thread_local! {
    static LOG_TARGET: RefCell<Option<LogBridge>> = const { RefCell::new(None) };
}

/// The process-wide logger of this test binary: forwards to the bridge of
/// the test running on the current thread, so tests can use `log` macros
/// side by side.
struct LogRouter;

impl log::Log for LogRouter {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        LOG_TARGET.with(|t| t.borrow().as_ref().is_some_and(|b| b.enabled(metadata)))
    }

    fn log(&self, record: &log::Record<'_>) {
        LOG_TARGET.with(|t| {
            if let Some(bridge) = t.borrow().as_ref() {
                log::Log::log(bridge, record);
            }
        });
    }

    fn flush(&self) {}
}

fn install_log_router() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        log::set_boxed_logger(Box::new(LogRouter)).expect("no other logger in tests");
        log::set_max_level(log::LevelFilter::Trace);
    });
}

/// Runs `scenario` with a bridge built from `builder` as the thread's
/// default subscriber (and `log` target), then drops the guard and returns
/// the JSON lines written.
pub fn capture(builder: Builder, scenario: impl FnOnce()) -> Vec<Value> {
    capture_with_guard(builder, |_| scenario()).0
}

/// Builders of the same JSON output, each named after the capture path
/// its events take: with the JSON sink alone, events are written straight
/// into its encoding (the direct path); a second sink beside it makes them
/// go through the record (the general path).
pub fn builders_for_both_paths() -> [(&'static str, otel_log_bridge::Builder); 2] {
    [
        ("direct", otel_log_bridge::builder()),
        (
            "record",
            otel_log_bridge::builder().with_console_writer(std::io::sink()),
        ),
    ]
}

/// Like [`capture`], and also hands the guard to the scenario and returns
/// the stats read after the guard's final flush.
pub fn capture_with_guard(
    builder: Builder,
    scenario: impl FnOnce(&Guard),
) -> (Vec<Value>, otel_log_bridge::Stats) {
    let out = SharedBuf::default();
    let (layer, guard) = builder
        .with_json_writer(out.clone())
        .layer()
        .expect("valid configuration");
    let bridge = layer.log_bridge();
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        with_log_target(bridge, || scenario(&guard));
    });
    guard.flush().expect("flushed in time");
    let stats = guard.stats();
    drop(guard);
    (out.lines(), stats)
}

/// Sends this thread's `log` records to `bridge` while `scenario` runs.
pub fn with_log_target<T>(bridge: LogBridge, scenario: impl FnOnce() -> T) -> T {
    install_log_router();
    LOG_TARGET.with(|t| *t.borrow_mut() = Some(bridge));
    let result = scenario();
    LOG_TARGET.with(|t| *t.borrow_mut() = None);
    result
}

/// The environment variable that tells a re-run test binary which test
/// scenario to run as the child.
const CHILD_ENV: &str = "OTEL_LOG_BRIDGE_TEST_CHILD";

/// `true` in the child process started by [`run_child`].
pub fn is_child() -> bool {
    std::env::var_os(CHILD_ENV).is_some()
}

/// Re-runs this test binary with only the test `name` (its path inside the
/// binary, e.g. `process::panic_is_recorded`), with `envs` set. The child
/// sees [`is_child`] return `true`.
pub fn run_child(name: &str, envs: &[(&str, &str)]) -> Output {
    child_command(name, envs)
        .output()
        .expect("child test process runs")
}

/// Like [`run_child`], but returns the running child with its stdout piped,
/// for tests that watch it or kill it.
pub fn spawn_child(name: &str, envs: &[(&str, &str)]) -> std::process::Child {
    child_command(name, envs)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("child test process starts")
}

/// The command [`run_child`] and [`spawn_child`] run, for tests that start
/// the child through a wrapper.
pub fn child_command(name: &str, envs: &[(&str, &str)]) -> Command {
    let exe = std::env::current_exe().expect("test binary path");
    let mut command = Command::new(exe);
    command
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1");
    // The child sees only the configuration the test gives it, proxies
    // included.
    for (var, _) in std::env::vars_os() {
        let name = var.to_string_lossy();
        let proxy = ["ALL_PROXY", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY"]
            .iter()
            .any(|proxy| name.eq_ignore_ascii_case(proxy));
        if name.starts_with("OTEL_") || name == "RUST_LOG" || name == "RUST_BACKTRACE" || proxy {
            command.env_remove(&var);
        }
    }
    command.envs(envs.iter().copied());
    command
}

/// An OTLP/HTTP endpoint nothing listens on, as when the collector is
/// down: its port is held, unlistened, for as long as this lives, so that
/// no receiver of another test can take it meanwhile.
pub struct DeadEndpoint {
    url: String,
    _port: socket2::Socket,
}

impl DeadEndpoint {
    pub fn url(&self) -> &str {
        &self.url
    }
}

pub fn dead_endpoint() -> DeadEndpoint {
    let port = receiver::reserve_port();
    let address = port
        .local_addr()
        .ok()
        .and_then(|address| address.as_socket())
        .expect("bound address");
    DeadEndpoint {
        url: format!("http://{address}/v1/logs"),
        _port: port,
    }
}

/// A fresh path in the target directory's temp area.
pub fn temp_path(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    dir.join(format!("{name}-{}", std::process::id()))
}
pub mod alloc;
#[cfg(feature = "grpc")]
pub mod raw_grpc;
pub mod receiver;
pub mod tunnel;

/// Runs `scenario` under a layer built by `builder`, then shuts the guard
/// down and returns the final counters.
pub fn stats_after(builder: Builder, scenario: impl FnOnce(&Guard)) -> otel_log_bridge::Stats {
    let (layer, guard) = builder.layer().expect("valid configuration");
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || scenario(&guard));
    guard.shutdown()
}
