//! Rate limiting with the generic cell rate algorithm (GCRA).
//!
//! A limiter allows `rate` units per `period` with bursts of up to `burst`
//! units, and keeps one instant of state: the theoretical arrival time (TAT)
//! of the next unit. A request of `n` units at `now` conforms when
//! `TAT + n × T - burst × T <= now`, with `T = period / rate`; it then moves
//! the TAT on by `n × T`. Memory is constant and nothing queues.

use crate::time::{Duration, Instant};

/// A GCRA limiter: `rate` units per `period`, bursts of `burst` units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RateLimit {
    /// Microseconds per unit (`T`), at least 1 (so even a huge rate is bounded).
    interval: u64,
    /// Microseconds of credit a burst may use (`burst × T`).
    tolerance: u64,
    /// The theoretical arrival time of the next unit.
    tat: Instant,
}

impl RateLimit {
    /// A limiter of `rate` units per `period` with bursts of `burst` units.
    /// A `rate` of zero allows nothing at all.
    pub fn new(rate: u32, period: Duration, burst: u32) -> RateLimit {
        let period = u64::try_from(period.as_micros()).unwrap_or(u64::MAX);
        if rate == 0 {
            return RateLimit {
                interval: u64::MAX,
                tolerance: 0,
                tat: Instant::ZERO,
            };
        }
        let interval = (period / u64::from(rate)).max(1);
        RateLimit {
            interval,
            tolerance: interval.saturating_mul(u64::from(burst)),
            tat: Instant::ZERO,
        }
    }

    /// Takes `units` at `now` if they conform; otherwise takes nothing and
    /// returns the earliest instant at which they would.
    pub fn check(&mut self, now: Instant, units: u32) -> Result<(), Instant> {
        let tat = self.tat.max(now);
        let cost = self.interval.saturating_mul(u64::from(units));
        let new_tat = tat.as_micros().saturating_add(cost);
        let allowed_at = new_tat.saturating_sub(self.tolerance);
        if allowed_at <= now.as_micros() {
            self.tat = Instant::from_micros(new_tat);
            Ok(())
        } else {
            Err(Instant::from_micros(allowed_at))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_steady_rate() {
        // 10 per second, bursts of 5.
        let mut r = RateLimit::new(10, Duration::from_secs(1), 5);
        let t0 = Instant::from_millis(1_000);
        for _ in 0..5 {
            assert_eq!(r.check(t0, 1), Ok(()));
        }
        assert_eq!(r.check(t0, 1), Err(Instant::from_millis(1_100)));
        assert_eq!(
            r.check(Instant::from_millis(1_099), 1),
            Err(Instant::from_millis(1_100))
        );
        assert_eq!(r.check(Instant::from_millis(1_100), 1), Ok(()));
        // A long idle period refills only up to the burst.
        let later = Instant::from_millis(60_000);
        for _ in 0..5 {
            assert_eq!(r.check(later, 1), Ok(()));
        }
        assert!(r.check(later, 1).is_err());
    }

    #[test]
    fn large_requests_and_zero_rate() {
        let mut bytes = RateLimit::new(1_000, Duration::from_secs(1), 1_000);
        let t = Instant::from_millis(10);
        assert_eq!(bytes.check(t, 1_001), Err(Instant::from_millis(11)));
        assert_eq!(bytes.check(t, 1_000), Ok(()));
        let mut none = RateLimit::new(0, Duration::from_secs(1), 10);
        assert!(none.check(Instant::ZERO, 1).is_err());
        assert!(
            none.check(Instant::from_millis(u64::MAX / 1000), 1)
                .is_err()
        );
    }
}
