//! Storm control: a callsite over its rate limit is suppressed, counted,
//! and summarised, and the counts add up exactly.

use otel_log_bridge::RateLimit;

use crate::support::capture_with_guard;

#[inline(never)]
fn noisy(i: u64) {
    tracing::warn!(i, "disk almost full");
}

/// Runs `log` on a thread named `storming`, under the calling thread's
/// dispatcher.
fn on_the_storming_thread(log: impl FnOnce() + Send + 'static) {
    let dispatch = tracing::dispatcher::get_default(Clone::clone);
    std::thread::Builder::new()
        .name("storming".to_owned())
        .spawn(move || tracing::dispatcher::with_default(&dispatch, log))
        .expect("a thread")
        .join()
        .expect("no panic");
}

#[test]
fn a_million_event_storm_obeys_the_limit_and_every_event_is_accounted_for() {
    const EVENTS: u64 = 1_000_000;
    let (records, stats) = capture_with_guard(
        otel_log_bridge::builder().with_rate_limit(RateLimit::per_callsite(1000, 100)),
        |_| {
            for i in 0..EVENTS {
                noisy(i);
            }
            tracing::info!("a quiet callsite is not limited");
        },
    );
    let (summaries, events): (Vec<_>, Vec<_>) = records
        .iter()
        .partition(|r| r["event_name"] == "otel_log_bridge.suppressed");
    let noisy_events = events
        .iter()
        .filter(|r| r["body"] == "disk almost full")
        .count() as u64;
    let summarised: u64 = summaries
        .iter()
        .map(|r| {
            r["attributes"]["otel_log_bridge.suppressed.count"]
                .as_u64()
                .expect("count")
        })
        .sum();
    // The bucket's burst passes; how many more its refill lets through
    // depends on the run's speed (the unit tests of `capture::storm` check
    // the refill against a clock of their own).
    assert!(noisy_events >= 100, "{noisy_events}");
    assert_eq!(
        noisy_events + summarised,
        EVENTS,
        "every event is accounted for"
    );
    assert_eq!(stats.suppressed, summarised);
    assert!(!summaries.is_empty());
    let summary = summaries.last().expect("a summary");
    assert_eq!(summary["severity_text"], "WARN");
    assert_eq!(summary["attributes"]["code.file.path"], "tests/storm.rs");
    assert!(summary["attributes"]["otel_log_bridge.suppressed.seconds"].is_f64());
    assert!(events
        .iter()
        .any(|r| r["body"] == "a quiet callsite is not limited"));
}

/// Regression: a summary given at shutdown carried the thread that shut
/// down (`main`, say) as if it had logged the storm.
#[test]
fn a_summary_given_at_shutdown_names_no_thread() {
    let (records, stats) = capture_with_guard(
        otel_log_bridge::builder().with_rate_limit(RateLimit::per_callsite(1, 1)),
        |_| {
            on_the_storming_thread(|| {
                for i in 0..3 {
                    noisy(i);
                }
            });
        },
    );
    assert_eq!(stats.suppressed, 2);
    let summary = records
        .iter()
        .find(|r| r["event_name"] == "otel_log_bridge.suppressed")
        .expect("the summary at shutdown");
    assert_eq!(summary["attributes"]["otel_log_bridge.suppressed.count"], 2);
    assert_eq!(summary["attributes"]["code.file.path"], "tests/storm.rs");
    assert_eq!(summary["attributes"].get("thread.name"), None, "{summary}");
    assert_eq!(summary["attributes"].get("thread.id"), None, "{summary}");
}

/// Regression: the summary of a storm that had ended came only when its
/// callsite logged again, or at shutdown, however long after.
#[test]
fn an_ended_storm_is_summarized_when_another_callsite_logs() {
    let (records, stats) = capture_with_guard(
        otel_log_bridge::builder().with_rate_limit(RateLimit::per_callsite(1, 1)),
        |_| {
            for i in 0..3 {
                noisy(i);
            }
            // A storm is over once its callsite has suppressed nothing for
            // a second.
            std::thread::sleep(std::time::Duration::from_millis(1_100));
            tracing::info!("another callsite");
        },
    );
    assert_eq!(stats.suppressed, 2);
    let bodies: Vec<&str> = records
        .iter()
        .map(|r| r["body"].as_str().unwrap_or_default())
        .collect();
    let summary = records
        .iter()
        .position(|r| r["event_name"] == "otel_log_bridge.suppressed")
        .expect("a summary");
    let other = bodies
        .iter()
        .position(|body| *body == "another callsite")
        .expect("the other event");
    assert!(summary < other, "{bodies:?}");
    assert_eq!(
        records[summary]["attributes"]["otel_log_bridge.suppressed.count"],
        2
    );
    assert_eq!(records[summary]["attributes"].get("thread.name"), None);
}

/// Regression: a callsite whose storm had ended gave its summary to the
/// look through ended storms that its own next event made first, which
/// names no thread, instead of with the thread of the event let through.
#[test]
fn a_callsite_logging_again_after_its_storm_gives_the_summary_with_its_thread() {
    let (records, _) = capture_with_guard(
        otel_log_bridge::builder().with_rate_limit(RateLimit::per_callsite(1, 1)),
        |_| {
            on_the_storming_thread(|| {
                for i in 0..3 {
                    noisy(i);
                }
                std::thread::sleep(std::time::Duration::from_millis(1_100));
                noisy(3);
            });
        },
    );
    let summary = records
        .iter()
        .find(|r| r["event_name"] == "otel_log_bridge.suppressed")
        .expect("a summary");
    assert_eq!(summary["attributes"]["otel_log_bridge.suppressed.count"], 2);
    assert_eq!(
        summary["attributes"]["thread.name"], "storming",
        "{summary}"
    );
}
