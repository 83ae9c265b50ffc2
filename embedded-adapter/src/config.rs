//! How the runner reaches the hub, and how long it waits between attempts.

use embassy_net::IpEndpoint;
use embassy_time::Duration;

/// Where the hub is, who the device is, and the runner's timings.
#[derive(Clone, Copy, Debug)]
pub struct Config<'a> {
    /// The hub's TCP address.
    pub hub: IpEndpoint,
    /// The device's client name within the tenant (at most 64 bytes); it
    /// also spreads the reconnect delays of a fleet (see [`Backoff`]).
    pub name: &'a str,
    /// The tenant to authenticate for.
    pub tenant: &'a str,
    /// The client's secret key within the tenant.
    pub secret: &'a [u8],
    /// The first reconnect delay, and the delay after a session that was
    /// welcomed by the hub.
    pub backoff_min: Duration,
    /// The longest reconnect delay.
    pub backoff_max: Duration,
    /// How long a TCP connect may take.
    pub connect_timeout: Duration,
    /// Ping the hub after this long without sending (the hub's keep-alive
    /// is used when shorter).
    pub keepalive: Duration,
    /// Close the session after this long without hearing from the hub (the
    /// hub's timeout is used when shorter).
    pub timeout: Duration,
    /// Close the session when the hub has not welcomed the device by then.
    pub handshake: Duration,
    /// How often the published regions are scanned for local writes
    /// ([`Handle::notify`](crate::Handle::notify) scans at once).
    pub scan_interval: Duration,
}

impl<'a> Config<'a> {
    /// A configuration with the defaults: reconnect after 250 ms, doubling
    /// up to 30 s; a 10 s connect timeout and handshake deadline; a ping
    /// after 5 s of silence and a 15 s dead-hub timeout; published regions
    /// scanned every 100 ms.
    pub const fn new(hub: IpEndpoint, name: &'a str, tenant: &'a str, secret: &'a [u8]) -> Self {
        Config {
            hub,
            name,
            tenant,
            secret,
            backoff_min: Duration::from_millis(250),
            backoff_max: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            keepalive: Duration::from_secs(5),
            timeout: Duration::from_secs(15),
            handshake: Duration::from_secs(10),
            scan_interval: Duration::from_millis(100),
        }
    }
}

/// Reconnect delays: exponential, between a minimum and a maximum, with a
/// deterministic jitter.
///
/// The `n`-th delay after a failure is drawn from `[d/2, d]` where
/// `d = min(min · 2ⁿ, max)`. The point in that range comes from a hash of
/// the device's name, the attempt number and the clock tick at which the
/// delay is chosen: no random number generator is needed, a device's
/// delays are reproducible for a given clock, and devices with different
/// names that lose the hub at the same moment do not all come back at the
/// same moment.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    seed: u32,
    attempt: u32,
}

impl Backoff {
    /// Delays from `min` to `max`, spread by `name`.
    pub fn new(min: Duration, max: Duration, name: &str) -> Backoff {
        Backoff {
            min,
            max: if max < min { min } else { max },
            seed: fnv1a(name.as_bytes(), 0x811c_9dc5),
            attempt: 0,
        }
    }

    /// Starts over from the minimum: the last session was welcomed.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// The delay before the next attempt, chosen at clock tick `now`.
    pub fn next(&mut self, now: u64) -> Duration {
        let ceiling = self
            .min
            .as_ticks()
            .checked_shl(self.attempt.min(32))
            .unwrap_or(u64::MAX)
            .clamp(self.min.as_ticks(), self.max.as_ticks());
        self.attempt = self.attempt.saturating_add(1);
        let half = ceiling / 2;
        let mix = fnv1a(
            &now.to_le_bytes(),
            fnv1a(&self.attempt.to_le_bytes(), self.seed),
        );
        let spread = (ceiling - half).max(1);
        Duration::from_ticks(half + u64::from(mix) % spread)
    }
}

/// 32-bit FNV-1a of `bytes` from `state`.
fn fnv1a(bytes: &[u8], state: u32) -> u32 {
    bytes
        .iter()
        .fold(state, |h, &b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_to_the_maximum_within_half_to_whole() {
        let min = Duration::from_millis(100);
        let max = Duration::from_millis(1_000);
        let mut backoff = Backoff::new(min, max, "device-1");
        let ceilings = [100u64, 200, 400, 800, 1_000, 1_000, 1_000];
        for (n, ceiling) in ceilings.iter().enumerate() {
            let delay = backoff.next(12_345 + n as u64).as_millis();
            assert!(
                delay >= ceiling / 2 && delay <= *ceiling,
                "attempt {n}: {delay} ms not in [{}, {ceiling}]",
                ceiling / 2
            );
        }
        backoff.reset();
        assert!(backoff.next(7).as_millis() <= 100);
    }

    #[test]
    fn names_spread_delays_chosen_at_the_same_tick() {
        let min = Duration::from_secs(8);
        let max = Duration::from_secs(8);
        let delays: [u64; 4] =
            ["a", "b", "c", "d"].map(|name| Backoff::new(min, max, name).next(1_000).as_ticks());
        let distinct = delays
            .iter()
            .enumerate()
            .all(|(i, d)| !delays[..i].contains(d));
        assert!(distinct, "{delays:?}");
    }

    #[test]
    fn a_maximum_below_the_minimum_is_the_minimum() {
        let mut backoff = Backoff::new(Duration::from_secs(2), Duration::from_secs(1), "x");
        let delay = backoff.next(0);
        assert!(delay >= Duration::from_secs(1) && delay <= Duration::from_secs(2));
    }
}
