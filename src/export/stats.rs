//! Pipeline counters, readable at any time through [`Guard::stats`](crate::Guard::stats).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// A snapshot of the pipeline's counters.
///
/// With one sink, every emitted record ends up exactly once in `exported`,
/// `dropped`, `failed` or `rejected` (or is still queued). With several
/// sinks (say `json,console`) each record is counted once per sink in those
/// four counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Records the bridge produced from events, `log` records and panics.
    pub emitted: u64,
    /// Records written or accepted by the destination.
    pub exported: u64,
    /// Records dropped because the queue's byte budget was full or the
    /// pipeline had already shut down.
    pub dropped: u64,
    /// Records the destination could not take (a write error, or a
    /// non-retryable export failure).
    pub failed: u64,
    /// Records the destination received but rejected (OTLP partial success).
    pub rejected: u64,
    /// Bytes currently held by the queues against their budget.
    pub queued_bytes: u64,
    /// Export attempts that were retried (collector unreachable, 429, 503, …).
    pub retries: u64,
}

/// A counter that many threads increment without sharing a cache line:
/// each thread adds to one of several stripes, and reading sums them.
#[derive(Debug, Default)]
pub(crate) struct StripedCounter {
    stripes: [Stripe; STRIPES],
}

const STRIPES: usize = 8;

#[derive(Debug, Default)]
#[repr(align(128))]
struct Stripe(AtomicU64);

thread_local! {
    /// Threads take stripes in turn, so up to `STRIPES` threads never share one.
    static STRIPE_INDEX: usize = {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES
    };
}

impl StripedCounter {
    pub(crate) fn increment(&self) {
        let index = STRIPE_INDEX.try_with(|index| *index).unwrap_or(0);
        self.stripes[index].0.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn sum(&self) -> u64 {
        self.stripes
            .iter()
            .map(|stripe| stripe.0.load(Ordering::Relaxed))
            .sum()
    }
}
