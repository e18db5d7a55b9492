//! The durable spool: records a dead collector could not take survive a
//! `kill -9` (also in the middle of a stream of records) and are delivered
//! by the next run; a disk that fills up is reported and the records are
//! delivered from memory.

use std::io::BufRead as _;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;

use tracing_subscriber::prelude::*;

use crate::support::receiver::{Receiver, Response};
use crate::support::{
    child_command, dead_endpoint, is_child, run_child, spawn_child, temp_path, DeadEndpoint,
};

const SPOOL_DIR: &str = "OTEL_LOG_BRIDGE_TEST_SPOOL";
const ENDPOINT: &str = "OTEL_LOG_BRIDGE_TEST_ENDPOINT";
/// Which of its child processes a test runs: `writer` or `replayer`.
const ROLE: &str = "OTEL_LOG_BRIDGE_TEST_ROLE";
const RECORDS: u64 = 1000;

fn child_layer() -> (otel_log_bridge::BridgeLayer, otel_log_bridge::Guard) {
    let dir = std::env::var(SPOOL_DIR).expect("spool dir from the parent");
    let endpoint = std::env::var(ENDPOINT).expect("endpoint from the parent");
    otel_log_bridge::builder()
        .with_otlp_endpoint(endpoint)
        .with_spool_dir(dir)
        .with_shutdown_timeout(Duration::from_secs(20))
        .layer()
        .expect("valid configuration")
}

/// The role a test's child process plays.
fn role() -> String {
    std::env::var(ROLE).expect("a role from the parent")
}

/// The first run: the collector is down; everything is flushed into the
/// spool, then the process is killed without any shutdown.
fn write_and_wait_to_be_killed() {
    let (layer, guard) = child_layer();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        for i in 0..RECORDS {
            tracing::info!(i, "spooled while the collector is down");
        }
    });
    guard.flush().expect("flushed into the spool");
    println!("SPOOLED");
    // Waits for the parent's SIGKILL; a guard that is never dropped.
    std::thread::sleep(Duration::from_secs(120));
    drop(guard);
}

/// The second run: the collector is up; the spool is replayed.
fn replay_everything() {
    let (_layer, guard) = child_layer();
    let stats = guard.shutdown();
    assert_eq!(stats.exported, RECORDS, "{stats:?}");
}

#[test]
fn spooled_records_survive_kill_9_and_are_delivered_once_by_the_next_run() {
    const TEST: &str =
        "spool::spooled_records_survive_kill_9_and_are_delivered_once_by_the_next_run";
    if is_child() {
        match role().as_str() {
            "writer" => write_and_wait_to_be_killed(),
            _ => replay_everything(),
        }
        return;
    }
    let mut writer = start_writer("spool-kill", TEST);
    let stdout = writer.process.stdout.take().expect("piped stdout");
    let spooled = std::io::BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|line| line.contains("SPOOLED"));
    assert!(spooled, "the writer reported its flush");
    let seen = kill_and_replay(writer, TEST);
    assert_eq!(seen, (0..RECORDS).collect::<Vec<_>>(), "each record once");
}

#[test]
fn an_unusable_spool_directory_is_reported_and_export_goes_on() {
    if is_child() {
        let (layer, guard) = child_layer();
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
            tracing::info!("still exported");
        });
        let stats = guard.shutdown();
        assert_eq!(stats.exported, 1, "{stats:?}");
        return;
    }
    let file = temp_path("spool-not-a-dir");
    std::fs::write(&file, b"a file, not a directory").expect("file");
    let receiver = Receiver::http();
    let spool = file.join("spool");
    let output = run_child(
        "spool::an_unusable_spool_directory_is_reported_and_export_goes_on",
        &[
            (SPOOL_DIR, spool.to_str().expect("UTF-8 path")),
            (ENDPOINT, &format!("{}/v1/logs", receiver.endpoint())),
        ],
    );
    let _ = std::fs::remove_file(&file);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "the spool directory {} cannot be used",
            spool.display()
        )) && stderr.contains("continuing without a spool"),
        "{stderr}"
    );
    assert_eq!(receiver.records().len(), 1);
}

#[test]
fn a_collector_that_keeps_refusing_is_reported_and_its_retries_counted_while_spooling() {
    if is_child() {
        let dir = std::env::var(SPOOL_DIR).expect("spool dir from the parent");
        let endpoint = std::env::var(ENDPOINT).expect("endpoint from the parent");
        let (layer, guard) = otel_log_bridge::builder()
            .with_otlp_endpoint(endpoint)
            .with_spool_dir(dir)
            // Replays are tried once per cycle: short cycles make the
            // backoff, not the schedule, set the pace.
            .with_otlp_schedule_delay(Duration::from_millis(20))
            .with_shutdown_timeout(Duration::from_millis(200))
            .layer()
            .expect("valid configuration");
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
            tracing::info!("spooled, never delivered");
        });
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while guard.stats().retries < 4 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let stats = guard.shutdown();
        assert!(stats.retries >= 4, "{stats:?}");
        return;
    }
    let dir = temp_path("spool-refused");
    let endpoint = dead_endpoint();
    let output = run_child(
        "spool::a_collector_that_keeps_refusing_is_reported_and_its_retries_counted_while_spooling",
        &[
            (SPOOL_DIR, dir.to_str().expect("UTF-8 path")),
            (ENDPOINT, endpoint.url()),
        ],
    );
    let _ = std::fs::remove_dir_all(&dir);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let warning = stderr
        .lines()
        .find(|line| line.contains("OTLP export failed 4 times in a row and is being retried"));
    assert!(
        warning.is_some_and(|line| line.contains("Connection refused")),
        "{stderr}"
    );
}

/// A writer child process, its spool directory, and the collector that is
/// down for it.
struct Writer {
    dir: std::path::PathBuf,
    process: std::process::Child,
    _collector: DeadEndpoint,
}

/// Starts the writer of test `test` with a fresh spool directory named
/// after `dir_name` and a collector that is down.
fn start_writer(dir_name: &str, test: &str) -> Writer {
    let dir = temp_path(dir_name);
    let _ = std::fs::remove_dir_all(&dir);
    let dir_text = dir.to_str().expect("UTF-8 path").to_owned();
    let collector = dead_endpoint();
    let process = spawn_child(
        test,
        &[
            (SPOOL_DIR, &dir_text),
            (ENDPOINT, collector.url()),
            (ROLE, "writer"),
        ],
    );
    Writer {
        dir,
        process,
        _collector: collector,
    }
}

/// Kills the writer with SIGKILL, runs the replayer of test `test` on the
/// same spool against a collector that is up, and returns the `i` of every
/// record delivered, sorted; the spool directory is removed afterwards.
fn kill_and_replay(mut writer: Writer, test: &str) -> Vec<u64> {
    writer.process.kill().expect("SIGKILL");
    let _ = writer.process.wait();
    let dir = writer.dir.as_path();
    let receiver = Receiver::http();
    let endpoint = format!("{}/v1/logs", receiver.endpoint());
    let dir_text = dir.to_str().expect("UTF-8 path");
    let output = run_child(
        test,
        &[
            (SPOOL_DIR, dir_text),
            (ENDPOINT, &endpoint),
            (ROLE, "replayer"),
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The lock file stays, for the next process to lock.
    let left: Vec<_> = std::fs::read_dir(dir)
        .expect("spool dir")
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name() != ".lock")
        .collect();
    assert!(left.is_empty(), "replayed segments are deleted: {left:?}");
    let _ = std::fs::remove_dir_all(dir);
    delivered_sequence_numbers(&receiver)
}

/// The `i` attribute of every record the receiver accepted, sorted.
fn delivered_sequence_numbers(receiver: &Receiver) -> Vec<u64> {
    let mut seen: Vec<u64> = receiver
        .records()
        .iter()
        .map(|r| {
            r.record
                .attributes
                .iter()
                .find(|kv| kv.key == "i")
                .and_then(|kv| kv.value.as_ref())
                .and_then(|v| match v.value {
                    Some(AnyValue::IntValue(i)) => u64::try_from(i).ok(),
                    _ => None,
                })
                .expect("the i attribute")
        })
        .collect();
    seen.sort_unstable();
    seen
}

/// Logs continuously, at most about 20 000 records/s, from one thread while
/// the main thread flushes every 50 ms and reports, after each flush, how
/// many records had been logged before it began. The parent kills it
/// mid-stream.
fn log_until_killed() {
    let (layer, guard) = child_layer();
    let logged = Arc::new(AtomicU64::new(0));
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    let producer = {
        let logged = Arc::clone(&logged);
        std::thread::spawn(move || {
            tracing::dispatcher::with_default(&dispatch, || {
                // A bound, so that a child whose parent died ends by itself.
                for i in 0..2_000_000_u64 {
                    tracing::info!(i, "logged while the collector is down");
                    logged.store(i + 1, Ordering::SeqCst);
                    if i % 20 == 19 {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
            });
        })
    };
    loop {
        let before = logged.load(Ordering::SeqCst);
        guard.flush().expect("flushed into the spool");
        println!("FLUSHED {before}");
        std::thread::sleep(Duration::from_millis(50));
        if producer.is_finished() {
            break;
        }
    }
}

#[test]
fn a_kill_9_under_load_loses_nothing_flushed_and_duplicates_nothing() {
    const TEST: &str = "spool::a_kill_9_under_load_loses_nothing_flushed_and_duplicates_nothing";
    if is_child() {
        match role().as_str() {
            "writer" => log_until_killed(),
            _ => replay_what_survived(),
        }
        return;
    }
    let mut writer = start_writer("spool-kill-under-load", TEST);
    let stdout = writer.process.stdout.take().expect("piped stdout");
    // Killed after the fifth flush, while the producer is still logging.
    let flushed: Vec<u64> = std::io::BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .filter_map(|line| line.strip_prefix("FLUSHED ")?.parse().ok())
        .take(5)
        .collect();
    let last_flushed = *flushed.last().expect("the writer reported flushes");
    assert!(last_flushed > 0, "the writer logged before its flushes");
    let seen = kill_and_replay(writer, TEST);
    let mut unique = seen.clone();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "no record is delivered twice");
    // Everything logged before the last completed flush is delivered; what
    // came after it may or may not have reached the disk before the kill.
    assert!(
        seen.len() as u64 >= last_flushed
            && seen[..last_flushed as usize] == (0..last_flushed).collect::<Vec<_>>()[..],
        "records 0..{last_flushed} are all delivered (got {} records)",
        seen.len()
    );
}

/// The second run after a kill under load: replays whatever the spool
/// holds, and must fail nothing.
fn replay_what_survived() {
    let (_layer, guard) = child_layer();
    let stats = guard.shutdown();
    assert_eq!(stats.failed, 0, "{stats:?}");
    assert!(stats.exported > 0, "{stats:?}");
}

const FULL_DISK_RECORDS: u64 = 5000;

/// Logs more than the small disk the parent gives the spool can hold, with
/// the collector refusing everything until the parent sees the spool fail.
fn log_onto_a_small_disk() {
    let (layer, guard) = child_layer();
    let padding = "p".repeat(200);
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        for i in 0..FULL_DISK_RECORDS {
            tracing::info!(i, padding = padding.as_str(), "logged onto a small disk");
        }
    });
    let stats = guard.shutdown();
    println!(
        "EXPORTED {} FAILED {} DROPPED {}",
        stats.exported, stats.failed, stats.dropped
    );
}

/// Runs `child` with `dir` on a 512 KiB tmpfs in a mount namespace of its
/// own. Where mount namespaces, or mounting in them, are not available (a
/// container's security profile may allow the one and refuse the other),
/// a 64 KiB file size limit stands in: either way the spool's writes fail
/// partway with a real error from the kernel.
fn on_a_small_disk(child: &Command, dir: &std::path::Path) -> Command {
    const SCRIPT: &str = r#"dir=$1; shift
if unshare --mount sh -c 'mount -t tmpfs -o size=4k olb-spool-probe "$0"' "$dir" 2>/dev/null; then
  exec unshare --mount sh -c 'mount -t tmpfs -o size=512k,mode=0700 olb-spool-test "$0" && exec "$@"' "$dir" "$@"
else
  trap '' XFSZ
  exec prlimit --fsize=65536 -- "$@"
fi"#;
    let mut command = Command::new("sh");
    command
        .args(["-c", SCRIPT, "sh"])
        .arg(dir)
        .arg(child.get_program())
        .args(child.get_args());
    for (name, value) in child.get_envs() {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    command
}

#[test]
fn a_full_disk_is_reported_and_the_records_are_delivered_from_memory() {
    if is_child() {
        log_onto_a_small_disk();
        return;
    }
    let dir = temp_path("spool-full-disk");
    std::fs::create_dir_all(&dir).expect("spool dir");
    let dir_text = dir.to_str().expect("UTF-8 path").to_owned();
    let receiver = Receiver::http();
    receiver.respond_with(std::iter::repeat_n(
        Response::Status {
            code: 503,
            retry_after: None,
        },
        1_000_000,
    ));
    let endpoint = format!("{}/v1/logs", receiver.endpoint());
    let child = child_command(
        "spool::a_full_disk_is_reported_and_the_records_are_delivered_from_memory",
        &[(SPOOL_DIR, &dir_text), (ENDPOINT, &endpoint)],
    );
    let mut writer = on_a_small_disk(&child, &dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the writer starts");
    let mut stderr = std::io::BufReader::new(writer.stderr.take().expect("piped stderr")).lines();
    let report = stderr
        .by_ref()
        .map_while(Result::ok)
        .find(|line| line.contains("writing to the spool failed"));
    // The collector comes back once the spool has failed.
    receiver.recover();
    let rest_of_stderr =
        std::thread::spawn(move || stderr.map_while(Result::ok).collect::<Vec<_>>().join("\n"));
    let output = writer.wait_with_output().expect("the writer ends");
    let rest_of_stderr = rest_of_stderr.join().expect("stderr reader");
    let report =
        report.unwrap_or_else(|| panic!("no spool failure was reported: {rest_of_stderr}"));
    assert!(
        report.contains("No space left on device") || report.contains("File too large"),
        "the report names the cause: {report}"
    );
    assert!(report.contains("in-memory"), "{report}");
    assert!(output.status.success(), "{rest_of_stderr}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(&format!("EXPORTED {FULL_DISK_RECORDS} FAILED 0 DROPPED 0")),
        "{stdout}"
    );
    // What was spooled before the disk filled up and what stayed in memory
    // after it are both delivered, each once.
    assert_eq!(
        delivered_sequence_numbers(&receiver),
        (0..FULL_DISK_RECORDS).collect::<Vec<_>>()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `Stats` tell what the spool holds: the records of a request the
/// collector refused, until the replay delivers them.
#[test]
fn stats_tell_what_the_spool_holds_until_it_is_replayed() {
    if is_child() {
        return;
    }
    let receiver = Receiver::http();
    receiver.respond_with([Response::Status {
        code: 503,
        retry_after: None,
    }]);
    let dir = temp_path("spool-held");
    let _ = std::fs::remove_dir_all(&dir);
    let (layer, guard) = otel_log_bridge::builder()
        .with_otlp_endpoint(format!("{}/v1/logs", receiver.endpoint()))
        .with_spool_dir(&dir)
        .layer()
        .expect("valid configuration");
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        for i in 0..10 {
            tracing::info!(i, "held in the spool");
        }
    });
    guard.flush().expect("flushed into the spool");
    let held = guard.stats();
    assert_eq!((held.spooled, held.spooled_bytes), (10, 4096), "{held:?}");
    // The replay waits out the backoff after the refusal; a flush after
    // it replays the spool.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while guard.stats().spooled > 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        guard.flush().expect("flushed");
    }
    let stats = guard.shutdown();
    assert_eq!(
        (stats.spooled, stats.spooled_bytes, stats.exported),
        (0, 0, 10),
        "{stats:?}"
    );
    assert_eq!(receiver.records().len(), 10);
    let _ = std::fs::remove_dir_all(&dir);
}
