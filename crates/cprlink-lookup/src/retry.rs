//! When to try a request again, and how long to wait first.
//!
//! Owns the decisions (5xx, 429, timeouts and broken connections are retried; 400,
//! 401, 403 and TLS refusals never), exponential backoff with full jitter, and
//! `Retry-After` parsing. It does no I/O: the client sleeps and sends.
//! Datafordeler: 5xx, 429 and timeouts are transient; honour `Retry-After`.

use std::time::{Duration, SystemTime};

/// Backoff settings.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// The wait ceiling of the first retry; doubled per retry.
    pub base: Duration,
    /// The largest ceiling.
    pub cap: Duration,
    /// The longest `Retry-After` we honour; longer asks are cut to this.
    pub max_retry_after: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

impl Backoff {
    /// The wait before retry number `retry` (0 = the first retry): a uniform draw from
    /// `0..=min(cap, base * 2^retry)` ("full jitter"), or the server's `Retry-After`.
    /// `unit` is the draw, in `[0, 1]` (`fastrand::f64()`; not for secrets).
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>, unit: f64) -> Duration {
        if let Some(after) = retry_after {
            return after.min(self.max_retry_after);
        }
        let ceiling = self
            .base
            .saturating_mul(1u32 << retry.min(20))
            .min(self.cap);
        ceiling.mul_f64(unit.clamp(0.0, 1.0))
    }
}

/// Whether an HTTP status is worth another try.
pub fn status_is_transient(status: u16) -> bool {
    status == 429 || (500..=599).contains(&status)
}

/// `Retry-After`: delta-seconds or an HTTP date (RFC 9110 10.2.3). A date in the past
/// means "now". Garbage means "no advice".
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let when = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(when.timestamp()).ok()?);
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_statuses_are_retried() {
        for s in [429, 500, 502, 503, 504] {
            assert!(status_is_transient(s), "{s}");
        }
        for s in [200, 400, 401, 403, 404, 409] {
            assert!(!status_is_transient(s), "{s}");
        }
    }

    #[test]
    fn full_jitter_grows_and_is_capped() {
        let b = Backoff::default();
        assert_eq!(b.delay(0, None, 1.0), Duration::from_millis(100));
        assert_eq!(b.delay(3, None, 1.0), Duration::from_millis(800));
        assert_eq!(b.delay(10, None, 1.0), Duration::from_secs(8));
        assert_eq!(b.delay(31, None, 1.0), Duration::from_secs(8));
        assert_eq!(b.delay(3, None, 0.0), Duration::ZERO);
        assert_eq!(b.delay(3, None, 0.5), Duration::from_millis(400));
        // Retry-After wins, within reason.
        assert_eq!(
            b.delay(0, Some(Duration::from_secs(2)), 0.3),
            Duration::from_secs(2)
        );
        assert_eq!(
            b.delay(0, Some(Duration::from_secs(3600)), 0.3),
            Duration::from_secs(120)
        );
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }
}
