//! Retry timing: exponential backoff with jitter, and `Retry-After`.

use std::time::{Duration, SystemTime};

/// The first retry waits about this long.
const INITIAL: Duration = Duration::from_millis(100);
/// Backoff never waits longer than this between attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// A server-requested delay is honoured up to this long.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Exponential backoff with jitter, as the OTLP exporter specification
/// requires, restarting for every batch. The jitter is "equal jitter": a
/// random delay between half the ceiling and the ceiling.
#[derive(Debug, Default)]
pub(crate) struct Backoff {
    attempt: u32,
}

impl Backoff {
    /// How many delays it has given: the failed attempts of this batch.
    pub(crate) fn attempts(&self) -> u32 {
        self.attempt
    }

    /// The delay before the next attempt: a random delay between half an
    /// exponentially growing ceiling and the ceiling, or the server's
    /// `Retry-After` (capped) when that is longer.
    pub(crate) fn next_delay(&mut self, server_delay: Option<Duration>) -> Duration {
        self.attempt = self.attempt.saturating_add(1);
        let ceiling = INITIAL
            .saturating_mul(1u32 << self.attempt.min(16).saturating_sub(1))
            .min(MAX_BACKOFF);
        // Jitter over the upper half of the ceiling only: a retry storm
        // spreads out, and no retry comes almost immediately, as full
        // jitter (from zero) would sometimes make it.
        let half = ceiling / 2;
        let backoff = half + half.mul_f64(fastrand::f64());
        // A server's delay is the least to wait. Only the least: a
        // `Retry-After: 0` (or a date in the past) that a collector sends
        // again and again must not make its clients retry in step, at one
        // fixed pace, without backing off.
        server_delay.map_or(backoff, |delay| delay.min(MAX_RETRY_AFTER).max(backoff))
    }
}

/// Parses an HTTP `Retry-After` value: delay-seconds or an HTTP date.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|byte| byte.is_ascii_digit()) {
        // More seconds than a u64 holds is the longest wait there is, not
        // a value to ignore (which would retry almost at once).
        return Some(Duration::from_secs(
            value.parse::<u64>().unwrap_or(u64::MAX),
        ));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        let mut backoff = Backoff::default();
        let delays: Vec<_> = (0..10).map(|_| backoff.next_delay(None)).collect();
        assert!(delays[0] >= Duration::from_millis(50) && delays[0] <= INITIAL);
        assert!(delays[3] >= Duration::from_millis(400) && delays[3] <= Duration::from_millis(800));
        assert!(delays.iter().all(|d| *d <= MAX_BACKOFF));
        assert!(delays[9] >= MAX_BACKOFF / 2);
    }

    #[test]
    fn server_delays_are_waited_at_least_and_are_capped() {
        let mut backoff = Backoff::default();
        assert_eq!(
            backoff.next_delay(Some(Duration::from_secs(1))),
            Duration::from_secs(1)
        );
        assert_eq!(
            backoff.next_delay(Some(Duration::from_secs(3600))),
            MAX_RETRY_AFTER
        );
    }

    /// Regression: `Retry-After: 0` (or a past date) always waited exactly
    /// 100 ms, so a collector that kept answering so got its clients'
    /// retries in step, ten a second, for as long as it lasted.
    #[test]
    fn a_server_delay_of_zero_still_backs_off_with_jitter() {
        let mut backoff = Backoff::default();
        let delays: Vec<_> = (0..10)
            .map(|_| backoff.next_delay(Some(Duration::ZERO)))
            .collect();
        assert!(
            delays[0] >= INITIAL / 2 && delays[0] <= INITIAL,
            "{delays:?}"
        );
        assert!(delays[9] >= MAX_BACKOFF / 2, "{delays:?}");
        let mut distinct = delays.clone();
        distinct.dedup();
        assert!(distinct.len() > 1, "{delays:?}");
    }

    #[test]
    fn retry_after_takes_seconds_or_dates() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").expect("date");
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
        // Regression: a value too large for a u64 was ignored, and the
        // retry came after the first backoff, 50 to 100 ms later.
        assert_eq!(
            parse_retry_after("99999999999999999999", now),
            Some(Duration::from_secs(u64::MAX))
        );
    }
}
