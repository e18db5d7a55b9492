//! Pipeline counters, readable at any time through [`Guard::stats`](crate::Guard::stats).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// A snapshot of the pipeline's counters.
///
/// With one destination, every emitted record ends up exactly once in
/// `exported`, `dropped`, `failed`, `rejected` or, for a logger provider,
/// `declined` (or is still queued, which shows in `queued_bytes`). With
/// several (say `json,console`, or an output beside
/// [`Builder::with_logger_provider`](crate::Builder)'s provider) each record
/// is counted once per destination in those counters.
/// With a spool (`Builder::with_spool_dir`), a record written to disk
/// leaves the balance until it is replayed, and then counts in the
/// `exported`, `failed` or `rejected` of the process that delivers it,
/// which may be a later run; one evicted from the spool counts in
/// `spool_evicted` of the process that evicts it. So with a spool, records
/// of an earlier run can make those counters add up to more than
/// `emitted`.
///
/// The counters are read one after another, not at one instant, what
/// became of records before how many were emitted: while records flow,
/// `emitted` can be a little ahead of the others, never behind them, so
/// that with one destination and no spool, `emitted` minus the others
/// (declined aside) is what is still on its way.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Stats {
    /// Records the bridge produced from events, `log` records and panics,
    /// and the summaries of events the rate limit suppressed.
    pub emitted: u64,
    /// Records written or accepted by the destination (for
    /// `Builder::with_logger_provider`:
    /// handed to the provider, whose processors decide what happens next).
    pub exported: u64,
    /// Records dropped because the queue was full (its byte budget,
    /// `Builder::with_queue_budget`, or a record bound,
    /// `OTEL_BLRP_MAX_QUEUE_SIZE` or `Builder::with_otlp_max_queue_size`)
    /// or was closed as they came (by the shutdown while they were on their
    /// way to it, or once the output's worker stopped). Events and `log`
    /// records that come once the shutdown has begun are not taken at all,
    /// and not counted here or anywhere: the bridge is done.
    pub dropped: u64,
    /// Records the destination could not take: a write error, a
    /// non-retryable export failure, a record too large for any request,
    /// records a shutdown gave up retrying, or records a worker held when
    /// it crashed; for a logger provider, records one of its processors
    /// panicked on, records logged on a thread while it was inside a
    /// logger provider (a processor that logs, or a processor's panic), and
    /// records logged while a thread ends, once OpenTelemetry's context on
    /// it may be gone.
    pub failed: u64,
    /// Records the destination received but rejected (OTLP partial success).
    pub rejected: u64,
    /// Bytes currently held by the queues against their budget, requests
    /// being exported included: records a shutdown stopped waiting for
    /// are counted here.
    pub queued_bytes: u64,
    /// Export attempts that were retried (collector unreachable, 429, 503,
    /// …); with a spool, a request put back on disk for a later attempt
    /// counts when it is put back, whether or not this process makes
    /// that attempt.
    pub retries: u64,
    /// Values replaced by `[REDACTED]`: because their key names a secret,
    /// tokens found inside bodies and values
    /// ([`Builder::with_value_redaction`](crate::Builder::with_value_redaction)),
    /// and `:serde` values of `log` records and `valuable` fields withheld
    /// because their serialization failed.
    pub redacted: u64,
    /// Events not recorded because their callsite exceeded the rate limit
    /// ([`Builder::with_rate_limit`](crate::Builder::with_rate_limit)); a
    /// summary record reports them.
    pub suppressed: u64,
    /// Spooled records evicted because the spool directory reached its
    /// size budget (feature `spool`).
    pub spool_evicted: u64,
    /// Records the spool directory holds now, waiting to be replayed:
    /// spooled by this run, or left by an earlier one (feature `spool`).
    /// Set at the end of each export cycle, so a
    /// [`Guard::flush`](crate::Guard::flush) brings it up to date.
    pub spooled: u64,
    /// What those records take on disk, in whole 4 KiB blocks as the spool
    /// budget counts them.
    pub spooled_bytes: u64,
    /// Records the logger provider given to
    /// `Builder::with_logger_provider` (feature `sdk`) declined: none of its
    /// processors was enabled for them (`Logger::event_enabled`), as the
    /// official bridge asks before it emits.
    pub declined: u64,
    /// `emitted`, by severity: the log volume.
    pub by_severity: SeverityCounts,
    /// `emitted`, by target (the instrumentation scope) and severity, when
    /// [`Builder::with_target_metrics`](crate::Builder::with_target_metrics)
    /// turned it on; sorted by target. At most 2000 targets are counted by
    /// name; the records of further targets count under `[other targets]`.
    pub by_target: Vec<(String, SeverityCounts)>,
    /// How long OTLP export requests to a collector took, successful or
    /// not (writing OTLP-JSON lines sends none).
    pub export_latency: LatencyHistogram,
}

/// The Logs Data Model's six severity ranges (1–4, …, 21–24).
pub(crate) const SEVERITY_RANGES: usize = 6;

/// The severity range of a severity number, as an index.
pub(crate) fn severity_range(severity_number: u8) -> usize {
    usize::from(severity_number.saturating_sub(1) / 4).min(SEVERITY_RANGES - 1)
}

/// Records emitted per severity range of the Logs Data Model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SeverityCounts {
    /// Severity numbers 1–4.
    pub trace: u64,
    /// Severity numbers 5–8.
    pub debug: u64,
    /// Severity numbers 9–12.
    pub info: u64,
    /// Severity numbers 13–16.
    pub warn: u64,
    /// Severity numbers 17–20.
    pub error: u64,
    /// Severity numbers 21–24 (panics).
    pub fatal: u64,
}

impl SeverityCounts {
    /// Adds counts given by severity range, in severity order.
    pub(crate) fn add(&mut self, ranges: [u64; SEVERITY_RANGES]) {
        let [trace, debug, info, warn, error, fatal] = ranges;
        self.trace += trace;
        self.debug += debug;
        self.info += info;
        self.warn += warn;
        self.error += error;
        self.fatal += fatal;
    }

    /// Pairs of severity text and count, in severity order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> {
        [
            ("TRACE", self.trace),
            ("DEBUG", self.debug),
            ("INFO", self.info),
            ("WARN", self.warn),
            ("ERROR", self.error),
            ("FATAL", self.fatal),
        ]
        .into_iter()
    }
}

/// Upper bounds, in seconds, of the export latency buckets.
pub(crate) const LATENCY_BOUNDS: [f64; 10] =
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

/// A histogram of export request durations with fixed buckets.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct LatencyHistogram {
    /// Private, so that the buckets can change without breaking callers;
    /// read through [`LatencyHistogram::counts`].
    counts: [u64; 11],
    /// The sum of all durations, in seconds.
    pub sum_seconds: f64,
}

impl LatencyHistogram {
    /// The buckets' upper bounds in seconds (the last bucket is unbounded).
    pub fn bounds() -> &'static [f64] {
        &LATENCY_BOUNDS
    }

    /// Requests per bucket: bucket `i` counts durations up to
    /// `LatencyHistogram::bounds()[i]` and above the previous bound; the
    /// last one counts everything slower than the last bound.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// How many requests were measured.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// Collects export latencies; only a sink's worker writes it.
#[derive(Debug, Default)]
pub(crate) struct LatencyRecorder {
    counts: [AtomicU64; 11],
    sum_micros: AtomicU64,
}

impl LatencyRecorder {
    #[cfg(feature = "otlp")]
    pub(crate) fn record(&self, seconds: f64) {
        let bucket = LATENCY_BOUNDS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(LATENCY_BOUNDS.len());
        self.counts[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
    }

    pub(crate) fn add_to(&self, histogram: &mut LatencyHistogram) {
        for (total, count) in histogram.counts.iter_mut().zip(&self.counts) {
            *total += count.load(Ordering::Relaxed);
        }
        histogram.sum_seconds += self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
    }
}

/// How many targets each of the [`TargetCounters`]' eight shards counts by
/// name, so at most 2000 in all, as the OpenTelemetry SDK's default
/// cardinality limit. A `log` target can be made at run time (from a
/// tenant's or a file's name), and each name kept is memory and a metric
/// series for as long as the process lives.
const TARGETS_PER_SHARD: usize = 250;

/// The target under which records of targets past [`TARGETS_PER_SHARD`]
/// are counted. The brackets keep it apart from Rust module paths.
pub(crate) const OTHER_TARGETS: &str = "[other targets]";

/// Emitted records per target and severity range. Opt-in, because it costs
/// a hash and an uncontended lock per record: the targets are only known
/// per record.
#[derive(Debug, Default)]
pub(crate) struct TargetCounters {
    /// Shared names, so that a snapshot copies a shard without allocating
    /// under its lock, which the logging threads take.
    shards: [std::sync::Mutex<std::collections::HashMap<Arc<str>, [u64; SEVERITY_RANGES]>>; 8],
}

impl TargetCounters {
    pub(crate) fn increment(&self, target: &str, severity_number: u8) {
        use std::hash::{BuildHasher as _, BuildHasherDefault, DefaultHasher};
        let shard = BuildHasherDefault::<DefaultHasher>::default().hash_one(target) as usize % 8;
        let range = severity_range(severity_number);
        let mut counts = self.shards[shard]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match counts.get_mut(target) {
            Some(by_range) => by_range[range] += 1,
            None => {
                let target = if counts.len() < TARGETS_PER_SHARD {
                    target
                } else {
                    OTHER_TARGETS
                };
                counts.entry(target.into()).or_insert([0; SEVERITY_RANGES])[range] += 1;
            }
        }
    }

    pub(crate) fn snapshot(&self) -> Vec<(String, SeverityCounts)> {
        // Sorted by target; each shard that overflowed has its own count
        // of other targets, which add up here.
        let mut all = std::collections::BTreeMap::<String, SeverityCounts>::new();
        // Room for a whole shard, made before its lock is taken: the
        // logging threads wait for that lock, so under it the counts are
        // only copied, and the names and the map are made after.
        let mut copied = Vec::with_capacity(TARGETS_PER_SHARD + 1);
        for shard in &self.shards {
            copied.extend(
                shard
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .iter()
                    .map(|(target, ranges)| (Arc::clone(target), *ranges)),
            );
            for (target, ranges) in copied.drain(..) {
                all.entry(target.to_string()).or_default().add(ranges);
            }
        }
        all.into_iter().collect()
    }
}

/// Emitted records per severity range, striped per thread.
#[derive(Debug, Default)]
pub(crate) struct SeverityCounters {
    ranges: [StripedCounter; SEVERITY_RANGES],
}

impl SeverityCounters {
    pub(crate) fn increment(&self, severity_number: u8) {
        let range = severity_range(severity_number);
        self.ranges[range].increment();
    }

    pub(crate) fn snapshot(&self) -> SeverityCounts {
        let [trace, debug, info, warn, error, fatal] = &self.ranges;
        SeverityCounts {
            trace: trace.sum(),
            debug: debug.sum(),
            info: info.sum(),
            warn: warn.sum(),
            error: error.sum(),
            fatal: fatal.sum(),
        }
    }
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

impl Stats {
    /// Every non-zero count of [`Stats::by_target`], as (target, severity
    /// text, count).
    pub fn target_counts(&self) -> impl Iterator<Item = (&str, &'static str, u64)> {
        self.by_target.iter().flat_map(|(target, counts)| {
            counts
                .iter()
                .filter(|(_, count)| *count > 0)
                .map(move |(severity, count)| (target.as_str(), severity, count))
        })
    }

    /// Renders the counters in the Prometheus text exposition format
    /// (version 0.0.4), ready to serve on a `/metrics` endpoint:
    ///
    /// ```
    /// let (_layer, guard) = otel_log_bridge::builder()
    ///     .with_json_writer(std::io::sink())
    ///     .layer()?;
    /// let body = guard.stats().to_prometheus();
    /// assert!(body.contains("# TYPE otel_log_bridge_records_emitted_total counter"));
    /// # Ok::<(), otel_log_bridge::InitError>(())
    /// ```
    ///
    /// Counters end in `_total`; `otel_log_bridge_queue_bytes` is a gauge;
    /// `otel_log_bridge_export_duration_seconds` is a histogram.
    pub fn to_prometheus(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, samples: &[(&str, u64)]| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            for (labels, value) in samples {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        let by_severity: Vec<(String, u64)> = self
            .by_severity
            .iter()
            .map(|(severity, count)| (format!("{{severity=\"{severity}\"}}"), count))
            .collect();
        let by_severity: Vec<(&str, u64)> = by_severity
            .iter()
            .map(|(labels, count)| (labels.as_str(), *count))
            .collect();
        counter(
            "otel_log_bridge_records_emitted_total",
            "Log records the bridge produced, by severity.",
            &by_severity,
        );
        let by_target: Vec<(String, u64)> = self
            .target_counts()
            .map(|(target, severity, count)| {
                let target = escape_label(target);
                (
                    format!("{{target=\"{target}\",severity=\"{severity}\"}}"),
                    count,
                )
            })
            .collect();
        if !by_target.is_empty() {
            let by_target: Vec<(&str, u64)> = by_target
                .iter()
                .map(|(labels, count)| (labels.as_str(), *count))
                .collect();
            counter(
                "otel_log_bridge_records_by_target_total",
                "Log records the bridge produced, by target and severity.",
                &by_target,
            );
        }
        let unlabelled = [
            (
                "otel_log_bridge_records_exported_total",
                "Log records written or accepted by their destination.",
                self.exported,
            ),
            (
                "otel_log_bridge_records_dropped_total",
                "Log records dropped because a queue was full, or closed by a shutdown or a stopped worker.",
                self.dropped,
            ),
            (
                "otel_log_bridge_records_failed_total",
                "Log records their destination could not take.",
                self.failed,
            ),
            (
                "otel_log_bridge_records_rejected_total",
                "Log records the collector rejected (OTLP partial success).",
                self.rejected,
            ),
            (
                "otel_log_bridge_export_retries_total",
                "Export attempts that were retried.",
                self.retries,
            ),
            (
                "otel_log_bridge_attributes_redacted_total",
                "Values redacted: attribute values whose key names a secret, tokens found in bodies and values, and values withheld because their serialization failed.",
                self.redacted,
            ),
            (
                "otel_log_bridge_events_suppressed_total",
                "Events not recorded because their callsite exceeded the rate limit.",
                self.suppressed,
            ),
            (
                "otel_log_bridge_spool_records_evicted_total",
                "Spooled records evicted because the spool reached its size budget.",
                self.spool_evicted,
            ),
            (
                "otel_log_bridge_records_declined_total",
                "Log records the logger provider's processors declined.",
                self.declined,
            ),
        ];
        for (name, help, value) in unlabelled {
            counter(name, help, &[("", value)]);
        }
        let gauges = [
            (
                "otel_log_bridge_queue_bytes",
                "Bytes held by the export queues.",
                self.queued_bytes,
            ),
            (
                "otel_log_bridge_spool_records",
                "Log records the spool holds, waiting to be replayed.",
                self.spooled,
            ),
            (
                "otel_log_bridge_spool_bytes",
                "Bytes the spooled records take on disk.",
                self.spooled_bytes,
            ),
        ];
        for (name, help, value) in gauges {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        }
        let name = "otel_log_bridge_export_duration_seconds";
        let _ = writeln!(out, "# HELP {name} Duration of OTLP export requests.");
        let _ = writeln!(out, "# TYPE {name} histogram");
        let mut cumulative = 0;
        for (bound, count) in LATENCY_BOUNDS.iter().zip(&self.export_latency.counts) {
            cumulative += count;
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let total = self.export_latency.count();
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {total}");
        let _ = writeln!(out, "{name}_sum {}", self.export_latency.sum_seconds);
        let _ = writeln!(out, "{name}_count {total}");
        out
    }
}

/// Escapes a Prometheus label value: backslash, double quote and newline.
fn escape_label(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for ch in value.chars() {
        match ch {
            '\\' => escaped.push_str("\\\\"),
            '"' => escaped.push_str("\\\""),
            '\n' => escaped.push_str("\\n"),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: every target a record named was kept and counted by
    /// name, so `log` targets made at run time grew the map, and the
    /// metric series, for as long as the process lived.
    #[test]
    fn targets_past_the_limit_are_counted_together() {
        let counters = TargetCounters::default();
        let targets = 8 * TARGETS_PER_SHARD + 1000;
        for target in 0..targets {
            counters.increment(&format!("tenant-{target}"), 9);
        }
        counters.increment("tenant-0", 17);
        let snapshot = counters.snapshot();
        assert!(
            snapshot.len() <= 8 * TARGETS_PER_SHARD + 1,
            "{}",
            snapshot.len()
        );
        let (named, others): (Vec<_>, Vec<_>) = snapshot
            .iter()
            .partition(|(target, _)| target != OTHER_TARGETS);
        assert_eq!(others.len(), 1, "one count of other targets");
        let info: u64 = snapshot.iter().map(|(_, counts)| counts.info).sum();
        assert_eq!(info, targets as u64, "no record uncounted");
        assert!(others[0].1.info >= 1000);
        // A target counted by name goes on being counted by name.
        let first = named.iter().find(|(target, _)| target == "tenant-0");
        assert_eq!(first.map(|(_, counts)| counts.error), Some(1));
    }
}
