//! The durable spool: records a dead collector could not take survive a
//! `kill -9` and are delivered by the next run.

use std::io::BufRead as _;
use std::time::Duration;

use tracing_subscriber::prelude::*;

use crate::support::receiver::Receiver;
use crate::support::{is_child, run_child, spawn_child, temp_path};

const SPOOL_DIR: &str = "OTEL_LOG_BRIDGE_TEST_SPOOL";
const ENDPOINT: &str = "OTEL_LOG_BRIDGE_TEST_ENDPOINT";
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

/// The first run: the collector is down; everything is flushed into the
/// spool, then the process is killed without any shutdown.
#[test]
fn spool_writer_is_killed_after_flushing() {
    if !is_child() {
        return;
    }
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
#[test]
fn spool_replayer_delivers_what_was_spooled() {
    if !is_child() {
        return;
    }
    let (_layer, guard) = child_layer();
    let stats = guard.shutdown();
    assert_eq!(stats.exported, RECORDS, "{stats:?}");
}

#[test]
fn spooled_records_survive_kill_9_and_are_delivered_once_by_the_next_run() {
    if is_child() {
        return;
    }
    let dir = temp_path("spool-kill");
    let _ = std::fs::remove_dir_all(&dir);
    let dir_text = dir.to_str().expect("UTF-8 path").to_owned();
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port");
    let dead_endpoint = format!("http://{dead}/v1/logs");
    let mut writer = spawn_child(
        "spool::spool_writer_is_killed_after_flushing",
        &[(SPOOL_DIR, &dir_text), (ENDPOINT, &dead_endpoint)],
    );
    let stdout = writer.stdout.take().expect("piped stdout");
    let spooled = std::io::BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|line| line.contains("SPOOLED"));
    writer.kill().expect("SIGKILL");
    let _ = writer.wait();
    assert!(spooled, "the writer reported its flush");

    let receiver = Receiver::http();
    let endpoint = format!("{}/v1/logs", receiver.endpoint());
    let output = run_child(
        "spool::spool_replayer_delivers_what_was_spooled",
        &[(SPOOL_DIR, &dir_text), (ENDPOINT, &endpoint)],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
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
                    Some(opentelemetry_proto::tonic::common::v1::any_value::Value::IntValue(i)) => {
                        u64::try_from(i).ok()
                    }
                    _ => None,
                })
                .expect("the i attribute")
        })
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..RECORDS).collect::<Vec<_>>(), "each record once");
    let left: Vec<_> = std::fs::read_dir(&dir)
        .expect("spool dir")
        .filter_map(Result::ok)
        .collect();
    assert!(left.is_empty(), "delivered segments are deleted: {left:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unusable_spool_directory_is_reported_and_export_goes_on() {
    if is_child() {
        return;
    }
    let file = temp_path("spool-not-a-dir");
    std::fs::write(&file, b"a file, not a directory").expect("file");
    let receiver = Receiver::http();
    let (layer, guard) = otel_log_bridge::builder()
        .with_otlp_endpoint(format!("{}/v1/logs", receiver.endpoint()))
        .with_spool_dir(file.join("spool"))
        .layer()
        .expect("an unusable spool is not an init error");
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        tracing::info!("still exported");
    });
    let stats = guard.shutdown();
    assert_eq!(stats.exported, 1, "{stats:?}");
    let _ = std::fs::remove_file(&file);
}
