//! RFC 3339 timestamps with nanoseconds, cheap enough for every record.

use std::cell::Cell;
use std::io::Write as _;
use std::time::{Duration, UNIX_EPOCH};

/// `YYYY-MM-DDTHH:MM:SS`, the part of a timestamp that changes once a second.
const SECONDS_LEN: usize = 19;

thread_local! {
    /// The last second formatted on this thread: records arrive many per
    /// second, so the calendar arithmetic runs about once a second.
    static LAST_SECOND: Cell<(u64, [u8; SECONDS_LEN])> = const { Cell::new((u64::MAX, [0; SECONDS_LEN])) };
}

/// The length of `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`.
pub(crate) const RFC3339_NANOS_LEN: usize = SECONDS_LEN + 11;

/// Appends `unix_nanos` as `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ` (UTC).
pub(crate) fn write_rfc3339_nanos(out: &mut Vec<u8>, unix_nanos: u64) {
    out.extend_from_slice(&rfc3339_nanos(unix_nanos));
}

/// `unix_nanos` as `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ` (UTC), in an array of
/// fixed size: a caller copies it with a few moves, where a slice of a
/// length only known at run time is a call to `memcpy`.
#[inline]
pub(crate) fn rfc3339_nanos(unix_nanos: u64) -> [u8; RFC3339_NANOS_LEN] {
    let seconds = unix_nanos / 1_000_000_000;
    let nanos = (unix_nanos % 1_000_000_000) as u32;
    let prefix = LAST_SECOND
        .try_with(|cache| {
            let (cached_second, cached_prefix) = cache.get();
            if cached_second == seconds {
                return cached_prefix;
            }
            let prefix = format_seconds(seconds);
            cache.set((seconds, prefix));
            prefix
        })
        .unwrap_or_else(|_| format_seconds(seconds));
    // The fraction's digits are written two at a time: half the divisions
    // of one at a time.
    let mut stamp = [0u8; RFC3339_NANOS_LEN];
    let (whole, fraction) = stamp.split_at_mut(SECONDS_LEN);
    whole.copy_from_slice(&prefix);
    fraction.copy_from_slice(b".000000000Z");
    let mut rest = nanos;
    for at in [8, 6, 4, 2] {
        let pair = (rest % 100) as usize * 2;
        fraction[at..at + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
        rest /= 100;
    }
    fraction[1] = b'0' + rest as u8;
    stamp
}

/// `00` to `99`, two bytes each.
const DIGIT_PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

fn format_seconds(seconds: u64) -> [u8; SECONDS_LEN] {
    let time = UNIX_EPOCH + Duration::from_secs(seconds);
    // humantime writes `YYYY-MM-DDTHH:MM:SSZ`; the `Z` does not fit and is
    // dropped, since the nanoseconds go before it.
    let mut prefix = [0u8; SECONDS_LEN];
    let mut cursor = &mut prefix[..];
    let _ = write!(cursor, "{}", humantime::format_rfc3339_seconds(time));
    prefix
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format(unix_nanos: u64) -> String {
        let mut out = Vec::new();
        write_rfc3339_nanos(&mut out, unix_nanos);
        String::from_utf8(out).expect("ASCII")
    }

    #[test]
    fn formats_nanoseconds_in_utc() {
        assert_eq!(format(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            format(1_544_712_660_300_000_007),
            "2018-12-13T14:51:00.300000007Z"
        );
        // Same second again: served from the cache with new nanoseconds.
        assert_eq!(
            format(1_544_712_660_999_999_999),
            "2018-12-13T14:51:00.999999999Z"
        );
    }

    #[test]
    fn parses_back_with_humantime() {
        let nanos = 1_764_000_000_123_456_789;
        let parsed = humantime::parse_rfc3339(&format(nanos)).expect("valid RFC 3339");
        assert_eq!(
            parsed
                .duration_since(UNIX_EPOCH)
                .expect("after epoch")
                .as_nanos(),
            u128::from(nanos)
        );
    }
}
