//! Refused logins: the per-source throttle of failed authentication
//! ([`Throttle`]) and the operator's log of refusals, held to a few lines
//! a second ([`RefusalLog`]).
//!
//! The throttle keeps, for at most `auth_sources` sources, how many logins
//! failed and when the source may next be answered. A connection from a
//! source with failures waits for its turn before the hub starts its
//! handshake; each turn books the next one a delay later, doubling with
//! every failure from `auth_delay` up to `auth_delay_max`. So parallel
//! connections from one source are answered one per delay, and a source
//! costs the hub at most its waiting connections, which `max_connections`
//! bounds. The wait comes before the outcome is known, so a throttled
//! source waits for a success too: answering a right proof at once would
//! tell an attacker each wrong one by its silence.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::config::Limits;
use super::peer::Source;

/// How long a source that has stopped failing is remembered after its
/// last booked turn.
pub(crate) const FORGET: Duration = Duration::from_secs(60);

/// Refused logins logged per second; the rest are counted and the count
/// given with the next line logged.
pub(crate) const LOG_PER_SECOND: u32 = 10;

/// When a new connection from a source may be answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Turn {
    /// At once.
    Now,
    /// After this long.
    After(Duration),
    /// Not within `auth_delay_max`: the connection is refused.
    Refused,
}

/// The failures of one source.
#[derive(Clone, Copy, Debug)]
struct Record {
    source: Source,
    failures: u32,
    /// The earliest time the source is answered next.
    next: Instant,
}

/// Recent failed logins by source, in a table of fixed capacity.
#[derive(Debug)]
pub(crate) struct Throttle {
    delay: Duration,
    max: Duration,
    capacity: usize,
    /// The oldest failure first; a source moves to the back when it fails.
    records: Mutex<Vec<Record>>,
}

impl Throttle {
    /// A throttle with the limits' `auth_*` settings; a zero `auth_delay`
    /// turns it off.
    pub(crate) fn new(limits: &Limits) -> Throttle {
        Throttle {
            delay: limits.auth_delay,
            max: limits.auth_delay_max,
            capacity: limits.auth_sources,
            records: Mutex::new(Vec::new()),
        }
    }

    /// The delay after `failures` failures.
    fn backoff(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(30);
        self.delay.saturating_mul(1 << doublings).min(self.max)
    }

    /// A new connection from `source` at `now`: when to answer it. A turn
    /// is booked, so the next connection from the source waits longer.
    pub(crate) fn turn(&self, source: Source, now: Instant) -> Turn {
        if self.delay.is_zero() {
            return Turn::Now;
        }
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        records.retain(|r| now < r.next + FORGET);
        let Some(record) = records.iter_mut().find(|r| r.source == source) else {
            return Turn::Now;
        };
        let at = record.next.max(now);
        let wait = at - now;
        if wait > self.max {
            return Turn::Refused;
        }
        record.next = at + self.backoff(record.failures);
        if wait.is_zero() {
            Turn::Now
        } else {
            Turn::After(wait)
        }
    }

    /// A login from `source` failed at `now`.
    pub(crate) fn failed(&self, source: Source, now: Instant) {
        if self.delay.is_zero() {
            return;
        }
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        let mut record = match records.iter().position(|r| r.source == source) {
            Some(i) => records.remove(i),
            None => Record {
                source,
                failures: 0,
                next: now,
            },
        };
        record.failures = record.failures.saturating_add(1);
        record.next = record.next.max(now + self.backoff(record.failures));
        if records.len() >= self.capacity {
            records.remove(0);
        }
        records.push(record);
    }
}

/// The operator's log of refused logins, held to [`LOG_PER_SECOND`] lines
/// a second so that a flood of wrong proofs cannot fill it.
#[derive(Debug)]
pub(crate) struct RefusalLog {
    window: Mutex<Window>,
}

#[derive(Debug)]
struct Window {
    start: Instant,
    lines: u32,
    /// Refusals not logged since the last line.
    suppressed: u64,
}

impl RefusalLog {
    pub(crate) fn new() -> RefusalLog {
        RefusalLog {
            window: Mutex::new(Window {
                start: Instant::now(),
                lines: 0,
                suppressed: 0,
            }),
        }
    }

    /// A refusal at `now`: `Some` with the number of refusals not logged
    /// since the last line when this one may be logged, else `None` (it
    /// is counted).
    pub(crate) fn line(&self, now: Instant) -> Option<u64> {
        let mut w = self.window.lock().unwrap_or_else(PoisonError::into_inner);
        if now.saturating_duration_since(w.start) >= Duration::from_secs(1) {
            w.start = now;
            w.lines = 0;
        }
        if w.lines < LOG_PER_SECOND {
            w.lines += 1;
            Some(std::mem::take(&mut w.suppressed))
        } else {
            w.suppressed += 1;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    fn throttle(capacity: usize) -> Throttle {
        Throttle::new(&Limits {
            auth_delay: Duration::from_millis(100),
            auth_delay_max: Duration::from_millis(1000),
            auth_sources: capacity,
            ..Limits::default()
        })
    }

    fn ip(last: u8) -> Source {
        Source::Ip(IpAddr::V4(Ipv4Addr::new(192, 0, 2, last)))
    }

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn failures_double_the_wait_up_to_the_maximum() {
        let t = throttle(8);
        let now = Instant::now();
        assert_eq!(t.turn(ip(1), now), Turn::Now);
        t.failed(ip(1), now);
        assert_eq!(t.turn(ip(1), now), Turn::After(100 * MS));
        t.failed(ip(1), now + 100 * MS);
        // Two failures: 200 ms after the last.
        assert_eq!(t.turn(ip(1), now + 100 * MS), Turn::After(200 * MS));
        for _ in 0..10 {
            t.failed(ip(2), now);
        }
        assert_eq!(t.turn(ip(2), now), Turn::After(1000 * MS));
        // Other sources are not delayed.
        assert_eq!(t.turn(ip(3), now), Turn::Now);
    }

    #[test]
    fn parallel_connections_take_turns_and_past_the_maximum_are_refused() {
        let t = throttle(8);
        let now = Instant::now();
        t.failed(ip(1), now);
        t.failed(ip(1), now);
        // 200 ms, then one turn each 200 ms.
        let turns: Vec<Turn> = (0..6).map(|_| t.turn(ip(1), now)).collect();
        assert_eq!(
            turns,
            [
                Turn::After(200 * MS),
                Turn::After(400 * MS),
                Turn::After(600 * MS),
                Turn::After(800 * MS),
                Turn::After(1000 * MS),
                Turn::Refused,
            ]
        );
    }

    #[test]
    fn the_table_is_bounded_and_forgets_the_oldest_and_the_quiet() {
        let t = throttle(2);
        let now = Instant::now();
        t.failed(ip(1), now);
        t.failed(ip(2), now);
        t.failed(ip(3), now);
        assert_eq!(t.turn(ip(1), now), Turn::Now, "the oldest was evicted");
        assert_ne!(t.turn(ip(3), now), Turn::Now);
        assert_eq!(t.turn(ip(2), now + FORGET + 2000 * MS), Turn::Now);
    }

    #[test]
    fn a_zero_delay_turns_the_throttle_off() {
        let t = Throttle::new(&Limits {
            auth_delay: Duration::ZERO,
            ..Limits::default()
        });
        let now = Instant::now();
        t.failed(ip(1), now);
        assert_eq!(t.turn(ip(1), now), Turn::Now);
    }

    #[test]
    fn the_log_takes_a_few_lines_a_second_and_counts_the_rest() {
        let log = RefusalLog::new();
        let now = Instant::now();
        for _ in 0..LOG_PER_SECOND {
            assert_eq!(log.line(now), Some(0));
        }
        assert_eq!(log.line(now), None);
        assert_eq!(log.line(now), None);
        assert_eq!(log.line(now + 1000 * MS), Some(2));
    }
}
