//! The wall clock that records are stamped with.
//!
//! Reading the system clock costs about 25 ns in a virtual machine, a sixth
//! of a whole event on the direct path; the CPU's cycle counter costs about
//! 7 ns. Once the counter is calibrated against the system's monotonic clock
//! (by `quanta`, on a thread of its own, so that neither `init` nor a
//! logging thread waits for it), each thread reads the system clock once as
//! an anchor and stamps its records with the anchor plus the counter's time
//! since then. A thread takes a new anchor every [`REANCHOR_NANOS`], so a
//! change of the system clock (a step, or the rate adjustment of NTP) shows
//! within that time, and the counter's error against the system clock stays
//! within a few microseconds.
//!
//! Until calibration is done, and where the counter is not usable (`quanta`
//! then reads the monotonic clock, at about the system clock's cost), the
//! behaviour is the same: the time is the system clock's, or an anchor plus
//! a monotonic duration.
//!
//! Calibration is checked before it is used: the counter must measure
//! [`CHECK_INTERVAL`] of the system clock within [`MAX_RATE_ERROR`], else
//! (a calibration cut short by a busy machine) records keep the system
//! clock. A thread's stamps never go back by less than [`MAX_SMOOTHED`]:
//! the small step a new anchor can make is absorbed, while a real change of
//! the system clock is followed.

use std::cell::Cell;
use std::sync::{Once, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long a thread uses one anchor: short enough that a rate adjustment of
/// the system clock (NTP slews by at most 500 ppm) moves records by at most
/// 50 µs, long enough that re-reading the system clock costs nothing
/// measurable.
pub(crate) const REANCHOR_NANOS: u64 = 100_000_000;

/// How long the background thread compares the calibrated counter with
/// the system clock before records use it.
const CHECK_INTERVAL: Duration = Duration::from_millis(20);

/// How far, relatively, the counter may run from the system clock: 0.05%
/// is at most 50 µs over one anchor's lifetime.
const MAX_RATE_ERROR: f64 = 5e-4;

/// Steps back smaller than this keep the thread's last time instead.
const MAX_SMOOTHED: u64 = 1_000_000;

/// How long the counter may advance between the two readings around a
/// system clock reading for them to make an anchor (longer: the thread
/// was preempted in between, and the anchor would be off by as much).
const MAX_ANCHOR_SPREAD: u64 = 20_000;

/// The calibrated counter, once calibration is done and checked.
static COUNTER: OnceLock<quanta::Clock> = OnceLock::new();

/// A system time and the counter's reading at that time.
#[derive(Clone, Copy)]
struct Anchor {
    counter: u64,
    unix_nanos: u64,
}

/// A thread's clock state.
#[derive(Clone, Copy)]
struct ThreadClock {
    /// `unix_nanos == 0` until the first anchor.
    anchor: Anchor,
    /// The last time this thread returned.
    last: u64,
}

thread_local! {
    static THREAD_CLOCK: Cell<ThreadClock> = const {
        Cell::new(ThreadClock {
            anchor: Anchor {
                counter: 0,
                unix_nanos: 0,
            },
            last: 0,
        })
    };
}

/// Starts calibrating the counter on a thread of its own, once per process.
/// Records are stamped from the system clock until it is done; should the
/// thread not start, they stay so.
pub(crate) fn calibrate_in_background() {
    static STARTED: Once = Once::new();
    STARTED.call_once(|| {
        let _ = std::thread::Builder::new()
            .name("otel-log-bridge-clock".to_owned())
            .spawn(calibrate);
    });
}

/// Calibrates the counter and, when it agrees with the system clock, lets
/// records use it.
fn calibrate() {
    let counter = quanta::Clock::new();
    if agrees_with_system_clock(&counter) {
        let _ = COUNTER.set(counter);
    }
}

/// Nanoseconds since the Unix epoch, now.
#[inline]
pub(crate) fn now_unix_nanos() -> u64 {
    match COUNTER.get() {
        Some(counter) => THREAD_CLOCK
            .try_with(|clock| counted(counter, clock))
            // The thread is being torn down.
            .unwrap_or_else(|_| system_unix_nanos()),
        None => system_unix_nanos(),
    }
}

#[inline]
fn counted(counter: &quanta::Clock, clock: &Cell<ThreadClock>) -> u64 {
    let reading = counter.raw();
    let mut state = clock.get();
    let Anchor {
        counter: anchor_reading,
        unix_nanos,
    } = state.anchor;
    // A reading before the anchor (counters of different cores that are
    // not quite in step) takes a new anchor rather than going back in time.
    let elapsed = (unix_nanos != 0 && reading >= anchor_reading)
        .then(|| counter.delta_as_nanos(anchor_reading, reading))
        .filter(|&elapsed| elapsed < REANCHOR_NANOS);
    let now = match elapsed {
        Some(elapsed) => unix_nanos.saturating_add(elapsed),
        None => {
            state.anchor = new_anchor(counter);
            state.anchor.unix_nanos
        }
    };
    let now = without_small_steps_back(now, state.last);
    state.last = now;
    clock.set(state);
    now
}

/// `now`, or `last` when `now` is less than [`MAX_SMOOTHED`] before it.
fn without_small_steps_back(now: u64, last: u64) -> u64 {
    if now < last && last - now < MAX_SMOOTHED {
        last
    } else {
        now
    }
}

/// The system time and the counter's reading at that time: the midpoint of
/// two readings around the system clock's, taken again when the thread was
/// preempted in between (a few tries, then the last one is kept).
#[cold]
fn new_anchor(counter: &quanta::Clock) -> Anchor {
    let mut anchor = Anchor {
        counter: 0,
        unix_nanos: 0,
    };
    for _ in 0..3 {
        let before = counter.raw();
        let unix_nanos = system_unix_nanos();
        let after = counter.raw();
        anchor = Anchor {
            counter: before + (after.saturating_sub(before)) / 2,
            unix_nanos,
        };
        if counter.delta_as_nanos(before, after) <= MAX_ANCHOR_SPREAD {
            break;
        }
    }
    anchor
}

/// Whether the counter measures [`CHECK_INTERVAL`] of the system clock
/// within [`MAX_RATE_ERROR`].
fn agrees_with_system_clock(counter: &quanta::Clock) -> bool {
    let first = new_anchor(counter);
    std::thread::sleep(CHECK_INTERVAL);
    let second = new_anchor(counter);
    let Some(system) = second.unix_nanos.checked_sub(first.unix_nanos) else {
        // The system clock went back meanwhile: nothing to compare.
        return false;
    };
    let counted = counter.delta_as_nanos(first.counter, second.counter);
    (counted as f64 - system as f64).abs() <= system as f64 * MAX_RATE_ERROR
}

/// The system clock, in nanoseconds since the Unix epoch.
pub(crate) fn system_unix_nanos() -> u64 {
    unix_nanos(SystemTime::now())
}

pub(crate) fn unix_nanos(time: SystemTime) -> u64 {
    match time.duration_since(UNIX_EPOCH) {
        // Seconds and nanoseconds apart: a `u128` of nanoseconds would cost
        // a 128-bit division per record.
        Ok(since) => since
            .as_secs()
            .saturating_mul(1_000_000_000)
            .saturating_add(u64::from(since.subsec_nanos())),
        // A clock before 1970 is a broken clock; 1 ns keeps "never 0" true.
        Err(_) => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh_thread_clock() -> Cell<ThreadClock> {
        Cell::new(ThreadClock {
            anchor: Anchor {
                counter: 0,
                unix_nanos: 0,
            },
            last: 0,
        })
    }

    /// The calibrated counter's time stays with the system clock's: every
    /// reading lies between the system times read around it, give or take
    /// what a calibration error can add up to within one anchor's lifetime.
    #[test]
    fn counter_time_agrees_with_the_system_clock() {
        let counter = quanta::Clock::new();
        let clock = fresh_thread_clock();
        // 1 ms: far above what calibration (10 ns over its own run) and
        // NTP's rate adjustment allow over 100 ms.
        let tolerance = 1_000_000;
        for _ in 0..10_000 {
            let before = system_unix_nanos();
            let counted = counted(&counter, &clock);
            let after = system_unix_nanos();
            assert!(
                before.saturating_sub(tolerance) <= counted && counted <= after + tolerance,
                "{before} <= {counted} <= {after}"
            );
        }
    }

    #[test]
    fn a_thread_stamps_its_anchor_plus_the_counters_time_and_anchors_again() {
        let (counter, control) = quanta::Clock::mock();
        let clock = fresh_thread_clock();
        let before = system_unix_nanos();
        let anchored = counted(&counter, &clock);
        assert!(before <= anchored && anchored <= system_unix_nanos());
        control.increment(5_000);
        assert_eq!(counted(&counter, &clock), anchored + 5_000);
        control.increment(REANCHOR_NANOS);
        // A new anchor: the system clock again (which has not moved 100 ms
        // meanwhile), never before the last time.
        let before = system_unix_nanos();
        let reanchored = counted(&counter, &clock);
        let after = system_unix_nanos();
        assert!(reanchored >= anchored + 5_000, "{reanchored}");
        assert!(reanchored <= after.max(anchored + 5_000), "{reanchored}");
        assert!(reanchored >= before || reanchored == anchored + 5_000);
    }

    /// Regression: a calibration cut short (its thread held off for the
    /// whole calibration time) leaves a counter that runs at the wrong
    /// rate; such a counter is never used.
    #[test]
    fn a_counter_that_disagrees_with_the_system_clock_is_not_used() {
        let (stopped, _control) = quanta::Clock::mock();
        assert!(!agrees_with_system_clock(&stopped));
    }

    #[test]
    fn small_steps_back_are_absorbed_and_real_ones_followed() {
        let last = 1_700_000_000_000_000_000;
        // A new anchor a few microseconds behind the last time.
        assert_eq!(without_small_steps_back(last - 5_000, last), last);
        // The system clock set back by a second.
        let set_back = last - 1_000_000_000;
        assert_eq!(without_small_steps_back(set_back, last), set_back);
        assert_eq!(without_small_steps_back(last + 1, last), last + 1);
    }
}
