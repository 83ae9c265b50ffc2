//! A server's limits and timers.

use crate::time::Duration;

/// Rate limits on what a client sends (GCRA, per connection). A client
/// that exceeds one gets [`ErrorCode::RateLimited`] and is closed: a byte
/// stream cannot drop frames and stay in step.
///
/// [`ErrorCode::RateLimited`]: crate::codec::ErrorCode::RateLimited
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RateConfig {
    /// Frames per second.
    pub frames: u32,
    /// Frames allowed in a burst.
    pub frame_burst: u32,
    /// Bytes of frame bodies per second.
    pub bytes: u32,
    /// Bytes allowed in a burst.
    pub byte_burst: u32,
}

impl RateConfig {
    /// 1 000 frames per second with bursts of 500; 1 MiB per second with
    /// bursts of 256 KiB. A mirror sends acks and writes only, far below.
    pub const DEFAULT: RateConfig = RateConfig {
        frames: 1_000,
        frame_burst: 500,
        bytes: 1 << 20,
        byte_burst: 256 << 10,
    };
}

/// A server's limits and timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ServerConfig {
    /// The session id sent in the welcome, for logs.
    pub session: u64,
    /// The largest frame body taken (capped at the receive buffer `RX`).
    pub max_frame: u32,
    /// Updates unacknowledged per subscription (1 to 8).
    pub max_in_flight: u16,
    /// Ping when nothing was sent for this long.
    pub keepalive: Duration,
    /// Close when nothing was heard for this long.
    pub timeout: Duration,
    /// Close when the client has not authenticated by then.
    pub handshake: Duration,
    /// Limits on what the client sends.
    pub rate: RateConfig,
}

impl ServerConfig {
    /// The defaults: frames as large as the receive buffer, 2 updates in
    /// flight, a ping after 5 s of silence, a 15 s dead-peer timeout, a 10 s
    /// handshake deadline, [`RateConfig::DEFAULT`].
    pub const fn new(session: u64) -> ServerConfig {
        ServerConfig {
            session,
            max_frame: u32::MAX,
            max_in_flight: 2,
            keepalive: Duration::from_secs(5),
            timeout: Duration::from_secs(15),
            handshake: Duration::from_secs(10),
            rate: RateConfig::DEFAULT,
        }
    }
}
