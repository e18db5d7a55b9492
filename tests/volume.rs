//! Volume: nothing is lost between the events and the lines.

use crate::support::capture_with_guard;

#[test]
fn hundred_thousand_events_make_exactly_as_many_lines() {
    const EVENTS: u64 = 100_000;
    let (records, stats) = capture_with_guard(otel_log_bridge::builder(), |_| {
        for i in 0..EVENTS {
            tracing::info!(i, "event");
        }
    });
    assert_eq!(records.len() as u64, EVENTS);
    for (expected, record) in records.iter().enumerate() {
        assert_eq!(record["attributes"]["i"], expected as u64);
    }
    assert_eq!(stats.emitted, EVENTS);
    assert_eq!(stats.exported, EVENTS);
    assert_eq!(stats.dropped, 0);
    assert_eq!(stats.failed, 0);
}

#[test]
fn several_threads_lose_nothing() {
    const THREADS: u64 = 4;
    const EVENTS: u64 = 10_000;
    let (records, stats) = capture_with_guard(otel_log_bridge::builder(), |_| {
        let dispatch = tracing::dispatcher::get_default(Clone::clone);
        let threads: Vec<_> = (0..THREADS)
            .map(|worker| {
                let dispatch = dispatch.clone();
                std::thread::spawn(move || {
                    tracing::dispatcher::with_default(&dispatch, || {
                        for i in 0..EVENTS {
                            tracing::info!(worker, i, "event");
                        }
                    })
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("producer thread");
        }
    });
    assert_eq!(records.len() as u64, THREADS * EVENTS);
    assert_eq!(
        (stats.emitted, stats.exported),
        (THREADS * EVENTS, THREADS * EVENTS)
    );
    for worker in 0..THREADS {
        let seen: Vec<u64> = records
            .iter()
            .filter(|r| r["attributes"]["worker"] == worker)
            .map(|r| r["attributes"]["i"].as_u64().expect("i"))
            .collect();
        assert_eq!(seen, (0..EVENTS).collect::<Vec<_>>(), "in order per thread");
    }
}

#[test]
fn a_full_queue_drops_and_counts_instead_of_blocking() {
    let (records, stats) =
        capture_with_guard(otel_log_bridge::builder().with_queue_budget(4096), |_| {
            for i in 0..10_000 {
                tracing::info!(i, "event with some padding to fill the budget quickly");
            }
        });
    assert!(stats.dropped > 0, "{stats:?}");
    assert_eq!(stats.emitted, 10_000);
    assert_eq!(stats.exported + stats.dropped, 10_000, "{stats:?}");
    assert_eq!(records.len() as u64, stats.exported);
}
