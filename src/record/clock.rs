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

use std::cell::Cell;
use std::sync::{Once, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

/// How long a thread uses one anchor: short enough that a rate adjustment of
/// the system clock (NTP slews by at most 500 ppm) moves records by at most
/// 50 µs, long enough that re-reading the system clock costs nothing
/// measurable.
pub(crate) const REANCHOR_NANOS: u64 = 100_000_000;

/// The calibrated counter, once calibration is done.
static COUNTER: OnceLock<quanta::Clock> = OnceLock::new();

/// A system time and the counter's reading at that time.
#[derive(Clone, Copy)]
struct Anchor {
    counter: u64,
    unix_nanos: u64,
}

thread_local! {
    /// This thread's anchor; `unix_nanos == 0` until the first one.
    static ANCHOR: Cell<Anchor> = const {
        Cell::new(Anchor {
            counter: 0,
            unix_nanos: 0,
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
            .spawn(|| {
                COUNTER.get_or_init(quanta::Clock::new);
            });
    });
}

/// Nanoseconds since the Unix epoch, now.
#[inline]
pub(crate) fn now_unix_nanos() -> u64 {
    match COUNTER.get() {
        Some(counter) => ANCHOR
            .try_with(|anchor| anchored(counter, anchor))
            // The thread is being torn down.
            .unwrap_or_else(|_| system_unix_nanos()),
        None => system_unix_nanos(),
    }
}

#[inline]
fn anchored(counter: &quanta::Clock, anchor: &Cell<Anchor>) -> u64 {
    let reading = counter.raw();
    let Anchor {
        counter: anchor_reading,
        unix_nanos,
    } = anchor.get();
    // A reading before the anchor (counters of different cores that are
    // not quite in step) takes a new anchor rather than going back in time.
    if unix_nanos != 0 && reading >= anchor_reading {
        let elapsed = counter.delta_as_nanos(anchor_reading, reading);
        if elapsed < REANCHOR_NANOS {
            return unix_nanos.saturating_add(elapsed);
        }
    }
    reanchor(counter, anchor)
}

#[cold]
fn reanchor(counter: &quanta::Clock, anchor: &Cell<Anchor>) -> u64 {
    let unix_nanos = system_unix_nanos();
    anchor.set(Anchor {
        counter: counter.raw(),
        unix_nanos,
    });
    unix_nanos
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

    /// The counter's time stays with the system clock's: every reading lies
    /// between the system times read around it, give or take what a
    /// calibration error can add up to within one anchor's lifetime.
    #[test]
    fn counter_time_agrees_with_the_system_clock() {
        COUNTER.get_or_init(quanta::Clock::new);
        // 1 ms: four orders of magnitude above what calibration (10 ns over
        // its own run) and NTP's rate adjustment allow over 100 ms.
        let tolerance = 1_000_000;
        for _ in 0..10_000 {
            let before = system_unix_nanos();
            let counted = now_unix_nanos();
            let after = system_unix_nanos();
            assert!(
                before.saturating_sub(tolerance) <= counted && counted <= after + tolerance,
                "{before} <= {counted} <= {after}"
            );
        }
    }

    #[test]
    fn a_thread_takes_its_first_anchor_from_the_system_clock() {
        COUNTER.get_or_init(quanta::Clock::new);
        let (before, first, after) = std::thread::spawn(|| {
            let before = system_unix_nanos();
            let first = now_unix_nanos();
            (before, first, system_unix_nanos())
        })
        .join()
        .expect("thread");
        assert!(
            before <= first && first <= after,
            "{before} <= {first} <= {after}"
        );
    }
}
