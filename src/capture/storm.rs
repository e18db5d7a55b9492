//! Storm control: a token bucket per callsite. Events over the rate are
//! suppressed and counted, and a summary record says how many were
//! suppressed and over how long, with the callsite's location (unless code
//! attributes are off), so nothing disappears silently. A callsite's
//! summary comes at most once per [`SUMMARY_INTERVAL`]: when the callsite
//! is let through again; when its storm has ended (nothing suppressed for
//! [`SUMMARY_INTERVAL`]) and another event or `log` record comes (other
//! than OpenTelemetry's own, see [`may_come_inside_the_api_context`]), the
//! buckets being looked through at most once per [`SUMMARY_INTERVAL`]
//! (so within about twice that after the storm's last event); and at
//! shutdown.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use tracing_core::Metadata;

use crate::capture::{add_common_attributes, with_scratch, CaptureOptions, SourceFile};
use crate::export::{severity_range, Pipeline, SEVERITY_RANGES};
use crate::record::{Key, OnDuplicate, ScopeName, Severity, Value};

/// A per-callsite rate limit: `per_second` events on average, bursts of up
/// to `burst`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    per_second: f64,
    burst: f64,
}

impl RateLimit {
    /// At most `per_second` events per second from each callsite, with
    /// bursts of up to `burst` events. Either below 1 counts as 1: a limit
    /// of zero would silence a callsite for good, which turning it off with
    /// a filter says more plainly.
    pub fn per_callsite(per_second: u32, burst: u32) -> RateLimit {
        RateLimit {
            per_second: f64::from(per_second.max(1)),
            burst: f64::from(burst.max(1)),
        }
    }

    /// Parses `OTEL_LOG_BRIDGE_RATE_LIMIT`: `<per second>` or
    /// `<per second>,<burst>` (the burst defaults to the rate).
    pub(crate) fn parse(value: &str) -> Option<RateLimit> {
        // A number too large reads as the largest, as the other number
        // variables' do.
        let number = |part: &str| {
            crate::config::env::whole_number(part).map(|n| u32::try_from(n).unwrap_or(u32::MAX))
        };
        let mut parts = value.split(',').map(str::trim);
        let per_second = number(parts.next()?)?;
        let burst = match parts.next() {
            Some(burst) => number(burst)?,
            None => per_second,
        };
        // A zero rate or burst is refused rather than read as 1, as code's
        // `per_callsite` does: the variable's value is reported instead.
        if parts.next().is_some() || per_second == 0 || burst == 0 {
            return None;
        }
        Some(RateLimit::per_callsite(per_second, burst))
    }
}

/// The event name of summary records.
pub(crate) const SUMMARY_EVENT_NAME: &str = "otel_log_bridge.suppressed";

/// Whether an event of `target` may be one OpenTelemetry logs while it
/// holds its context borrowed: no summary is given for it then, as a
/// logger provider given to the bridge would read that context (see
/// `export::sdk`).
pub(crate) fn may_come_inside_the_api_context(target: &str) -> bool {
    target.starts_with("opentelemetry")
}

/// How many callsites are limited.
const SLOTS: usize = 1024;
/// How many slots a callsite tries, from the one its address picks, before
/// it goes unlimited: two callsites never share a bucket, since one would
/// spend the other's budget and its summary would name the wrong callsite.
/// A bucket whose callsite is quiet (full again, nothing suppressed) is
/// as good as a new one, and is taken over.
const PROBES: usize = 8;

/// How often a callsite's summary comes at most: in a lasting storm, every
/// event let through would otherwise bring one, doubling what the limit
/// lets out.
const SUMMARY_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug)]
struct Bucket {
    callsite: Option<&'static Metadata<'static>>,
    tokens: f64,
    refilled: Instant,
    suppressed: u64,
    suppressed_since: Instant,
    /// When the last of `suppressed` was.
    last_suppressed: Instant,
    /// When the last summary was given, if one was.
    summarized: Option<Instant>,
}

impl Bucket {
    /// Whether the bucket holds nothing a new owner would notice: full of
    /// tokens again, and no suppressed event to report.
    fn is_quiet(&self, limit: RateLimit, now: Instant) -> bool {
        let elapsed = now.duration_since(self.refilled).as_secs_f64();
        self.suppressed == 0 && self.tokens + elapsed * limit.per_second >= limit.burst
    }
}

/// Which thread gives a summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Emitter {
    /// The thread of the event the callsite let through after a storm.
    Callsite,
    /// Another thread, which may never have logged at the callsite (one
    /// that logs elsewhere after the storm ended, or that shuts the
    /// pipeline down): the summary names no thread.
    Other,
}

/// The buckets of one pipeline.
#[derive(Debug)]
pub(crate) struct StormControl {
    limit: RateLimit,
    /// For the summaries' location and thread attributes.
    options: CaptureOptions,
    buckets: Box<[Mutex<Bucket>]>,
    /// Events suppressed, by severity range.
    suppressed: [AtomicU64; SEVERITY_RANGES],
    /// Set when the summaries were given at shutdown: no event is
    /// suppressed after, as none could be reported.
    summarized_for_good: AtomicBool,
    /// How many buckets hold suppressed events not summarized yet, changed
    /// under the bucket's lock: while it is zero, an event pays one load
    /// for [`StormControl::summarize_ended`]; while it is not, one thread
    /// a second locks every bucket in turn.
    pending: AtomicUsize,
    /// When the buckets are next looked through for storms that ended, in
    /// nanoseconds since `created`.
    next_sweep: AtomicU64,
    created: Instant,
}

/// What to do with one event.
pub(crate) enum Verdict {
    Emit,
    /// Emit, after a summary of these suppressed events.
    EmitAfterSummary(Suppressed),
    Suppress,
}

/// Events a callsite's bucket suppressed, for a summary.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Suppressed {
    count: u64,
    /// When the first of them was.
    first: Instant,
    /// When the last of them was: a summary given long after (at shutdown,
    /// or when a quiet callsite logs again) spans the storm, not the wait.
    last: Instant,
}

impl StormControl {
    pub(crate) fn new(limit: RateLimit, options: CaptureOptions) -> StormControl {
        StormControl::with_slots(limit, options, SLOTS)
    }

    fn with_slots(limit: RateLimit, options: CaptureOptions, slots: usize) -> StormControl {
        let now = Instant::now();
        StormControl {
            limit,
            options,
            buckets: (0..slots)
                .map(|_| {
                    Mutex::new(Bucket {
                        callsite: None,
                        tokens: limit.burst,
                        refilled: now,
                        suppressed: 0,
                        suppressed_since: now,
                        last_suppressed: now,
                        summarized: None,
                    })
                })
                .collect(),
            suppressed: Default::default(),
            summarized_for_good: AtomicBool::new(false),
            pending: AtomicUsize::new(0),
            next_sweep: AtomicU64::new(0),
            created: now,
        }
    }

    /// Events suppressed so far.
    pub(crate) fn suppressed(&self) -> u64 {
        self.suppressed
            .iter()
            .map(|count| count.load(Ordering::Relaxed))
            .sum()
    }

    /// Events suppressed so far, by severity range, in severity order.
    #[cfg(feature = "metrics")]
    pub(crate) fn suppressed_by_severity(&self) -> [u64; SEVERITY_RANGES] {
        self.suppressed
            .each_ref()
            .map(|count| count.load(Ordering::Relaxed))
    }

    pub(crate) fn check(&self, metadata: &'static Metadata<'static>) -> Verdict {
        self.check_at(metadata, Instant::now())
    }

    /// [`StormControl::check`] at time `now`.
    fn check_at(&self, metadata: &'static Metadata<'static>, now: Instant) -> Verdict {
        // Metadata is at least 8-byte aligned: the low bits carry nothing.
        let start = (metadata as *const Metadata<'static> as usize) >> 3;
        let slots = (0..PROBES).filter_map(|probe| {
            self.buckets
                .get(start.wrapping_add(probe) % self.buckets.len().max(1))
        });
        // The callsite's own bucket, wherever it is among its slots; else
        // the first free or quiet one, taken over.
        let mut spare = None;
        for slot in slots {
            let mut bucket = slot.lock().unwrap_or_else(PoisonError::into_inner);
            match bucket.callsite {
                Some(owner) if std::ptr::eq(owner, metadata) => {
                    return self.take_token(&mut bucket, metadata, now);
                }
                Some(_) if !bucket.is_quiet(self.limit, now) => {}
                _ => {
                    spare.get_or_insert(slot);
                }
            }
        }
        let Some(bucket) = spare else {
            return Verdict::Emit;
        };
        let mut bucket = bucket.lock().unwrap_or_else(PoisonError::into_inner);
        // Another callsite may have taken it since it was looked at.
        if bucket.callsite.is_some_and(|owner| {
            !std::ptr::eq(owner, metadata) && !bucket.is_quiet(self.limit, now)
        }) {
            return Verdict::Emit;
        }
        if bucket
            .callsite
            .is_none_or(|owner| !std::ptr::eq(owner, metadata))
        {
            *bucket = Bucket {
                callsite: Some(metadata),
                tokens: self.limit.burst,
                refilled: now,
                suppressed: 0,
                suppressed_since: now,
                last_suppressed: now,
                summarized: None,
            };
        }
        self.take_token(&mut bucket, metadata, now)
    }

    /// Takes a token from `bucket`, which the caller holds locked, for an
    /// event of `metadata`'s callsite.
    fn take_token(
        &self,
        bucket: &mut Bucket,
        metadata: &'static Metadata<'static>,
        now: Instant,
    ) -> Verdict {
        // Read under the bucket's lock, which the last summaries take in
        // turn after setting it: an event either counts before its bucket
        // is summarized, or is let through.
        if self.summarized_for_good.load(Ordering::SeqCst) {
            return Verdict::Emit;
        }
        // A thread that read the time before it waited for this lock may
        // come with a time before the bucket's last refill. The bucket's
        // time must not go back with it: the time in between would be
        // refilled again by the next event.
        let now = now.max(bucket.refilled);
        let elapsed = now.duration_since(bucket.refilled).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.limit.per_second).min(self.limit.burst);
        bucket.refilled = now;
        if bucket.tokens < 1.0 {
            if bucket.suppressed == 0 {
                bucket.suppressed_since = now;
                self.pending.fetch_add(1, Ordering::Relaxed);
            }
            bucket.suppressed += 1;
            bucket.last_suppressed = now;
            let range = severity_range(Severity::from_tracing(*metadata.level()).number);
            if let Some(count) = self.suppressed.get(range) {
                count.fetch_add(1, Ordering::Relaxed);
            }
            return Verdict::Suppress;
        }
        bucket.tokens -= 1.0;
        let summary_due = bucket
            .summarized
            .is_none_or(|last| now.duration_since(last) >= SUMMARY_INTERVAL);
        if bucket.suppressed == 0 || !summary_due {
            return Verdict::Emit;
        }
        Verdict::EmitAfterSummary(self.take_suppressed(bucket, now))
    }

    /// Takes `bucket`'s suppressed events, which it holds, for a summary
    /// given at `now`; the caller holds the bucket locked.
    fn take_suppressed(&self, bucket: &mut Bucket, now: Instant) -> Suppressed {
        self.pending.fetch_sub(1, Ordering::Relaxed);
        bucket.summarized = Some(now);
        Suppressed {
            count: std::mem::take(&mut bucket.suppressed),
            first: bucket.suppressed_since,
            last: bucket.last_suppressed,
        }
    }

    /// Gives the summaries of storms that ended: callsites that suppressed
    /// events and then went quiet would otherwise keep them until they
    /// log again, which may be hours later, or until shutdown. Called for
    /// every event the layer takes and every record the `log` bridge
    /// takes, of `target`, after the event's own callsite had its summary
    /// (which then names the event's thread); it looks through the buckets
    /// at most once per [`SUMMARY_INTERVAL`], and only while some hold
    /// suppressed events.
    pub(crate) fn summarize_ended(&self, pipeline: &Pipeline, target: &str) {
        if self.pending.load(Ordering::Relaxed) == 0 || may_come_inside_the_api_context(target) {
            return;
        }
        for (callsite, suppressed) in self.take_ended(Instant::now()) {
            self.emit_summary(pipeline, callsite, suppressed, Emitter::Other);
        }
    }

    /// Takes the suppressed events of the callsites whose storm ended by
    /// `now` and whose summary is due, unless another thread looked
    /// through the buckets less than [`SUMMARY_INTERVAL`] ago.
    fn take_ended(&self, now: Instant) -> Vec<(&'static Metadata<'static>, Suppressed)> {
        let nanos = |duration: Duration| u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        let elapsed = nanos(now.saturating_duration_since(self.created));
        let due = self.next_sweep.load(Ordering::Relaxed);
        let next = elapsed.saturating_add(nanos(SUMMARY_INTERVAL));
        if elapsed < due
            || self
                .next_sweep
                .compare_exchange(due, next, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return Vec::new();
        }
        let mut ended = Vec::new();
        for bucket in self.buckets.iter() {
            let mut bucket = bucket.lock().unwrap_or_else(PoisonError::into_inner);
            let quiet_since = now.saturating_duration_since(bucket.last_suppressed);
            let summary_due = bucket
                .summarized
                .is_none_or(|last| now.saturating_duration_since(last) >= SUMMARY_INTERVAL);
            // Checked under the bucket's lock, as in `take_token`: the
            // last summaries may have taken this bucket's events already.
            if self.summarized_for_good.load(Ordering::SeqCst) {
                break;
            }
            if let (Some(callsite), true) = (
                bucket.callsite,
                bucket.suppressed > 0 && quiet_since >= SUMMARY_INTERVAL && summary_due,
            ) {
                ended.push((callsite, self.take_suppressed(&mut bucket, now)));
            }
        }
        ended
    }

    /// Emits the summaries still pending, at shutdown. Events that other
    /// threads log meanwhile and after are let through: suppressed, they
    /// would be counted in `Stats::suppressed` without a summary.
    pub(crate) fn flush_summaries(&self, pipeline: &Pipeline) {
        self.summarized_for_good.store(true, Ordering::SeqCst);
        for bucket in self.buckets.iter() {
            let mut bucket = bucket.lock().unwrap_or_else(PoisonError::into_inner);
            if let (Some(callsite), true) = (bucket.callsite, bucket.suppressed > 0) {
                let suppressed = self.take_suppressed(&mut bucket, Instant::now());
                drop(bucket);
                self.emit_summary(pipeline, callsite, suppressed, Emitter::Other);
            }
        }
    }
}

impl Suppressed {
    /// From the first suppressed event to the last.
    fn seconds(self) -> f64 {
        self.last
            .saturating_duration_since(self.first)
            .as_secs_f64()
    }
}

impl StormControl {
    /// The record that reports suppressed events: WARN, in the callsite's
    /// scope, with its location, `otel_log_bridge.suppressed.count` and
    /// `…seconds`, and the thread when it is one that logs at the callsite.
    pub(crate) fn emit_summary(
        &self,
        pipeline: &Pipeline,
        callsite: &'static Metadata<'static>,
        suppressed: Suppressed,
        emitter: Emitter,
    ) {
        let unthreaded_options;
        let options = match emitter {
            Emitter::Callsite => &self.options,
            Emitter::Other => {
                unthreaded_options = CaptureOptions {
                    thread_attributes: false,
                    ..self.options.clone()
                };
                &unthreaded_options
            }
        };
        let seconds = suppressed.seconds();
        let Suppressed { count, .. } = suppressed;
        with_scratch(|record| {
            record.set_limits(options.limits);
            record.reset(
                crate::record::clock::now_unix_nanos(),
                Severity::WARN,
                ScopeName::Static(callsite.target()),
            );
            let body = record.push_fmt(format_args!(
                "{count} events from this callsite suppressed over {seconds:.1} s"
            ));
            record.body = Some(body);
            record.event_name = Some(SUMMARY_EVENT_NAME);
            // Written while some event is captured, but about none of them:
            // no output gives it that event's trace.
            record.detached = true;
            record.set_attribute(
                Key::Static("otel_log_bridge.suppressed.count"),
                Value::Int(i64::try_from(count).unwrap_or(i64::MAX)),
                OnDuplicate::Replace,
            );
            record.set_attribute(
                Key::Static("otel_log_bridge.suppressed.seconds"),
                Value::Double(seconds),
                OnDuplicate::Replace,
            );
            add_common_attributes(
                record,
                options,
                callsite.file().map(SourceFile::Static),
                callsite.line(),
            );
            // Given before the event let through, the summary of a storm of
            // OpenTelemetry's warnings about its context comes where that
            // warning does: while OpenTelemetry holds the context borrowed.
            #[cfg(feature = "sdk")]
            if emitter == Emitter::Callsite
                && may_come_inside_the_api_context(callsite.target())
                && callsite.name().starts_with("Context.")
            {
                crate::export::inside_the_api_context(|| pipeline.emit(record));
                return;
            }
            pipeline.emit(record);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: a rate of zero refilled nothing, so after its burst a
    /// callsite stayed silent for as long as the process ran.
    #[test]
    fn a_zero_rate_limit_counts_as_one() {
        assert_eq!(RateLimit::per_callsite(0, 0), RateLimit::per_callsite(1, 1));
    }

    #[test]
    fn rate_limits_parse_from_the_environment_form() {
        assert_eq!(
            RateLimit::parse("100"),
            Some(RateLimit::per_callsite(100, 100))
        );
        assert_eq!(
            RateLimit::parse(" 10 , 50 "),
            Some(RateLimit::per_callsite(10, 50))
        );
        // Regression: a number too large was refused where the other
        // number variables read it as the largest.
        assert_eq!(
            RateLimit::parse("99999999999, 5"),
            Some(RateLimit::per_callsite(u32::MAX, 5))
        );
        for bad in ["", "0", "ten", "1,2,3", "-5", "100,0"] {
            assert_eq!(RateLimit::parse(bad), None, "{bad:?}");
        }
    }

    /// The metadata of two different callsites.
    fn two_callsites() -> [&'static Metadata<'static>; 2] {
        use tracing_subscriber::layer::{Context, SubscriberExt as _};
        struct Keep(std::sync::Arc<Mutex<Vec<&'static Metadata<'static>>>>);
        impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Keep {
            fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
                self.0.lock().unwrap().push(event.metadata());
            }
        }
        let kept = std::sync::Arc::default();
        let subscriber = tracing_subscriber::registry().with(Keep(std::sync::Arc::clone(&kept)));
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("first");
            tracing::info!("second");
        });
        let kept = kept.lock().unwrap();
        [kept[0], kept[1]]
    }

    /// Regression: callsites whose addresses picked the same slot shared
    /// its bucket, so one's flood suppressed the other.
    #[test]
    fn callsites_that_pick_the_same_slot_have_buckets_of_their_own() {
        let [first, second] = two_callsites();
        // With two slots, at least one of the callsites' first picks is
        // the other's too, or both are free: either way each gets its own.
        let storm =
            StormControl::with_slots(RateLimit::per_callsite(1, 1), CaptureOptions::default(), 2);
        assert!(matches!(storm.check(first), Verdict::Emit));
        assert!(matches!(storm.check(first), Verdict::Suppress));
        assert!(matches!(storm.check(second), Verdict::Emit));
        assert!(matches!(storm.check(second), Verdict::Suppress));
        // A single slot, held by the first: the second goes unlimited
        // rather than spend the first's budget.
        let storm =
            StormControl::with_slots(RateLimit::per_callsite(1, 1), CaptureOptions::default(), 1);
        assert!(matches!(storm.check(first), Verdict::Emit));
        for _ in 0..3 {
            assert!(matches!(storm.check(second), Verdict::Emit));
        }
        assert_eq!(storm.suppressed(), 0);
    }

    /// The burst passes at once, and then as many events as the rate
    /// refills in the time that went by.
    #[test]
    fn the_burst_passes_then_the_refill_rate() {
        let [callsite, _] = two_callsites();
        let storm = StormControl::new(
            RateLimit::per_callsite(1000, 100),
            CaptureOptions::default(),
        );
        let started = Instant::now();
        let passed_at = |millis, tries| {
            let at = started + Duration::from_millis(millis);
            (0..tries)
                .filter(|_| {
                    matches!(
                        storm.check_at(callsite, at),
                        Verdict::Emit | Verdict::EmitAfterSummary(_)
                    )
                })
                .count()
        };
        assert_eq!(passed_at(0, 1000), 100);
        // 10 ms at 1000 a second: 10 more.
        assert_eq!(passed_at(10, 1000), 10);
        // A long pause refills the burst, and no more.
        assert_eq!(passed_at(10_000, 1000), 100);
    }

    /// Regression: a summary's seconds ran to when it was given, so a
    /// storm of half a second, summarised when its callsite next logged
    /// an hour later (or at shutdown), read as an hour long.
    #[test]
    fn a_summary_spans_the_suppressed_events_not_the_wait_after_them() {
        let [callsite, _] = two_callsites();
        let storm = StormControl::new(RateLimit::per_callsite(1, 1), CaptureOptions::default());
        let started = Instant::now();
        let at = |millis| started + Duration::from_millis(millis);
        assert!(matches!(storm.check_at(callsite, at(0)), Verdict::Emit));
        for millis in [100, 300, 600] {
            assert!(matches!(
                storm.check_at(callsite, at(millis)),
                Verdict::Suppress
            ));
        }
        match storm.check_at(callsite, at(3_600_000)) {
            Verdict::EmitAfterSummary(suppressed) => {
                assert_eq!(suppressed.count, 3);
                assert!((suppressed.seconds() - 0.5).abs() < 1e-9, "{suppressed:?}");
            }
            _ => panic!("no summary"),
        }
    }

    /// Regression: a callsite that suppressed events and then went quiet
    /// kept them until it logged again, which could be hours later, or
    /// until shutdown.
    #[test]
    fn an_ended_storm_is_summarized_once_it_has_been_quiet_a_while() {
        let [callsite, _] = two_callsites();
        let storm = StormControl::new(RateLimit::per_callsite(1, 1), CaptureOptions::default());
        let at = |millis| storm.created + Duration::from_millis(millis);
        assert!(matches!(storm.check_at(callsite, at(0)), Verdict::Emit));
        for millis in [100, 200, 300] {
            assert!(matches!(
                storm.check_at(callsite, at(millis)),
                Verdict::Suppress
            ));
        }
        // Its last suppressed event is too recent for the storm to be over.
        assert!(storm.take_ended(at(900)).is_empty());
        // The buckets were looked through less than a second ago.
        assert!(storm.take_ended(at(1_400)).is_empty());
        let ended = storm.take_ended(at(1_900));
        let [(ended_callsite, suppressed)] = ended[..] else {
            panic!("{ended:?}");
        };
        assert!(std::ptr::eq(ended_callsite, callsite));
        assert_eq!(suppressed.count, 3);
        assert!((suppressed.seconds() - 0.2).abs() < 1e-9, "{suppressed:?}");
        assert_eq!(storm.pending.load(Ordering::Relaxed), 0);
        // Summarized once: not again when the callsite next logs, nor later.
        assert!(matches!(storm.check_at(callsite, at(5_000)), Verdict::Emit));
        assert!(storm.take_ended(at(10_000)).is_empty());
    }

    /// Regression: a thread that read the time before waiting for the
    /// bucket's lock set the bucket's time back, so the next event was
    /// refilled for the same interval twice and the limit let more through.
    #[test]
    fn an_event_timed_before_the_last_refill_does_not_refill_twice() {
        let [callsite, _] = two_callsites();
        // One token a second, one at most.
        let storm = StormControl::new(RateLimit::per_callsite(1, 1), CaptureOptions::default());
        let started = Instant::now();
        let at = |millis| started + Duration::from_millis(millis);
        assert!(matches!(storm.check_at(callsite, at(0)), Verdict::Emit));
        // 900 ms later, 0.9 of a token: suppressed.
        assert!(matches!(
            storm.check_at(callsite, at(900)),
            Verdict::Suppress
        ));
        // A thread that read the time at 100 ms gets the lock only now.
        assert!(matches!(
            storm.check_at(callsite, at(100)),
            Verdict::Suppress
        ));
        // At 950 ms the bucket holds 0.95 of a token. Had its time been
        // set back to 100 ms, it would count 0.85 more and let this through.
        assert!(matches!(
            storm.check_at(callsite, at(950)),
            Verdict::Suppress
        ));
    }

    /// Regression: in a lasting storm every event let through came with a
    /// summary, doubling what the limit let out.
    #[test]
    fn a_lasting_storm_gives_a_summary_a_second_not_one_per_event_let_through() {
        let [callsite, _] = two_callsites();
        let storm = StormControl::new(
            RateLimit::per_callsite(10_000, 1),
            CaptureOptions::default(),
        );
        // An event every 20 µs for 4 s: five times what the limit lets out.
        let started = Instant::now();
        let (mut admitted, mut summaries, mut summarized) = (0, 0, 0);
        for event in 0..200_000 {
            let now = started + Duration::from_micros(20 * event);
            match storm.check_at(callsite, now) {
                Verdict::Emit => admitted += 1,
                Verdict::EmitAfterSummary(suppressed) => {
                    admitted += 1;
                    summaries += 1;
                    summarized += suppressed.count;
                }
                Verdict::Suppress => {}
            }
        }
        assert!(
            (39_990..=40_000).contains(&admitted),
            "{admitted} events let through in 4 s at 10 000 a second"
        );
        // The first when the storm began, then one a second.
        assert_eq!(summaries, 4);
        let pending: u64 = storm
            .buckets
            .iter()
            .map(|bucket| bucket.lock().unwrap().suppressed)
            .sum();
        assert_eq!(summarized + pending, storm.suppressed());
    }

    /// Regression: an event another thread logged while the summaries were
    /// given at shutdown could still be suppressed, after its bucket had
    /// been summarized: `Stats::suppressed` then counted events that no
    /// summary reported.
    #[test]
    fn no_event_is_suppressed_once_the_last_summaries_are_given() {
        let [callsite, _] = two_callsites();
        let storm = StormControl::new(RateLimit::per_callsite(1, 1), CaptureOptions::default());
        assert!(matches!(storm.check(callsite), Verdict::Emit));
        assert!(matches!(storm.check(callsite), Verdict::Suppress));
        let pipeline = Pipeline::new(Vec::new(), Duration::from_secs(1));
        storm.flush_summaries(&pipeline);
        assert!(matches!(storm.check(callsite), Verdict::Emit));
        assert_eq!(storm.suppressed(), 1);
        assert_eq!(pipeline.stats().emitted, 1, "the summary");
    }

    /// Regression: a callsite kept its bucket for good, so once the table
    /// was full of callsites that had logged once, a storm went unlimited.
    #[test]
    fn a_quiet_callsites_bucket_is_taken_over() {
        let [quiet, storming] = two_callsites();
        let storm = StormControl::with_slots(
            RateLimit::per_callsite(1000, 1),
            CaptureOptions::default(),
            1,
        );
        let start = Instant::now();
        assert!(matches!(storm.check_at(quiet, start), Verdict::Emit));
        // A millisecond refills the quiet callsite's one token.
        let later = start + Duration::from_millis(5);
        assert!(matches!(storm.check_at(storming, later), Verdict::Emit));
        assert!(matches!(storm.check_at(storming, later), Verdict::Suppress));
        assert_eq!(storm.suppressed(), 1);
    }
}
