//! What both ends of a connection share: liveness timers, the bounded queue
//! of control frames, closing, and counters.

use heapless::Deque;

use crate::codec::{ErrorCode, ErrorFrame, Frame, Framing};
use crate::time::{Duration, Instant};

/// Control frames waiting to be sent; a connection that would queue more
/// is misbehaving and is closed.
const CONTROL_CAP: usize = 8;

/// A frame with no borrowed payload, waiting to be sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Control {
    Error {
        code: ErrorCode,
        handle: Option<u16>,
        reason: &'static str,
    },
    Close,
    Ping(u64),
}

impl Control {
    fn frame(self) -> Frame<'static> {
        match self {
            Control::Error {
                code,
                handle,
                reason,
            } => Frame::Error(ErrorFrame {
                code,
                handle,
                reason,
            }),
            Control::Close => Frame::Close,
            Control::Ping(nonce) => Frame::Ping { nonce },
        }
    }
}

/// Where a connection stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Frames flow.
    Open,
    /// The last frames (an error, a close) are being sent; input is ignored.
    Closing,
    /// Done: the caller closes the stream.
    Closed,
}

/// Counters of one session, for logs and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Stats {
    /// Frames received.
    pub frames_in: u64,
    /// Frames sent.
    pub frames_out: u64,
    /// Bytes received (framing included).
    pub bytes_in: u64,
    /// Bytes sent (framing included).
    pub bytes_out: u64,
    /// Updates completed: applied to a mirror (client), or whose last part
    /// was sent (server).
    pub updates: u64,
    /// Resyncs: asked for by a mirror (client), or served (server).
    pub resyncs: u64,
}

/// Liveness, closing and counters of one connection.
#[derive(Clone, Debug)]
pub(crate) struct Link {
    pub(crate) phase: Phase,
    /// Why the connection closes: `None` for an orderly close.
    pub(crate) close_code: Option<ErrorCode>,
    controls: Deque<Control, CONTROL_CAP>,
    /// The nonce of the latest ping to answer: a peer that pings faster
    /// than it reads gets one pong, for its latest ping.
    pong_due: Option<u64>,
    keepalive: Duration,
    timeout: Duration,
    last_rx: Instant,
    last_tx: Instant,
    /// The handshake must finish by then (`None` once it has).
    pub(crate) deadline: Option<Instant>,
    pings: u64,
    /// The nonce of the latest ping not yet answered: a pong is expected
    /// for it or an earlier one.
    ping_unanswered: Option<u64>,
    pub(crate) stats: Stats,
}

impl Link {
    pub(crate) fn new(
        now: Instant,
        keepalive: Duration,
        timeout: Duration,
        handshake: Duration,
    ) -> Link {
        Link {
            phase: Phase::Open,
            close_code: None,
            controls: Deque::new(),
            pong_due: None,
            keepalive,
            timeout,
            last_rx: now,
            last_tx: now,
            deadline: Some(now + handshake),
            pings: 0,
            ping_unanswered: None,
            stats: Stats::default(),
        }
    }

    pub(crate) fn is_open(&self) -> bool {
        self.phase == Phase::Open
    }

    /// Takes the timers the peer's limits ask for: the shorter of each.
    pub(crate) fn agree(&mut self, keepalive: Duration, timeout: Duration) {
        self.keepalive = self.keepalive.min(keepalive);
        self.timeout = self.timeout.min(timeout);
    }

    /// Queues a control frame; a full queue closes the connection.
    pub(crate) fn push(&mut self, control: Control) {
        if self.controls.push_back(control).is_err() {
            self.fail(ErrorCode::LimitExceeded, None, "too many frames unanswered");
        }
    }

    /// Sends an error and closes. Whatever was queued is dropped: the error
    /// is what the peer needs to read.
    pub(crate) fn fail(&mut self, code: ErrorCode, handle: Option<u16>, reason: &'static str) {
        if !self.is_open() {
            return;
        }
        self.controls.clear();
        // The queue was just cleared: both fit.
        let _ = self.controls.push_back(Control::Error {
            code,
            handle,
            reason,
        });
        let _ = self.controls.push_back(Control::Close);
        self.close_code = Some(code);
        self.phase = Phase::Closing;
    }

    /// Closes in order: sends a close frame.
    pub(crate) fn close(&mut self) {
        if !self.is_open() {
            return;
        }
        self.controls.clear();
        let _ = self.controls.push_back(Control::Close);
        self.phase = Phase::Closing;
    }

    /// The peer closed (with an error without a handle, or a close frame):
    /// nothing more is sent.
    pub(crate) fn closed_by_peer(&mut self, code: Option<ErrorCode>) {
        if self.phase == Phase::Closed {
            return;
        }
        self.controls.clear();
        self.close_code = code;
        self.phase = Phase::Closed;
    }

    /// Counts a received frame and notes that the peer is alive.
    pub(crate) fn received(&mut self, now: Instant, len: usize) {
        self.last_rx = now;
        self.stats.frames_in += 1;
        self.stats.bytes_in += (len + Framing::LengthPrefix.overhead(len)) as u64;
    }

    /// Counts a sent frame of `len` bytes (framing included).
    // Kept out of line: the firmware's flash budget (it is called wherever
    // a kind of frame is sent; inlined at each, it cost about 70 bytes).
    #[inline(never)]
    pub(crate) fn sent(&mut self, now: Instant, len: usize) {
        self.last_tx = now;
        self.stats.frames_out += 1;
        self.stats.bytes_out += len as u64;
    }

    /// Encodes `frame` into `buf` after `*used` bytes and counts it; false
    /// when it does not fit.
    pub(crate) fn put(
        &mut self,
        now: Instant,
        buf: &mut [u8],
        used: &mut usize,
        frame: &Frame<'_>,
    ) -> bool {
        let out = buf.get_mut(*used..).unwrap_or(&mut []);
        match Framing::LengthPrefix.encode(frame, out) {
            Ok(n) => {
                *used += n;
                self.sent(now, n);
                true
            }
            Err(_) => false,
        }
    }

    /// Answers a ping.
    pub(crate) fn on_ping(&mut self, nonce: u64) {
        if self.is_open() {
            self.pong_due = Some(nonce);
        }
    }

    /// Takes a pong: one for a ping this side sent and has had no answer
    /// to since is expected; any other is a protocol error and fails.
    pub(crate) fn on_pong(&mut self, nonce: u64) {
        match self.ping_unanswered {
            Some(latest) if (1..=latest).contains(&nonce) => {
                if nonce == latest {
                    self.ping_unanswered = None;
                }
            }
            _ => self.fail(ErrorCode::UnexpectedFrame, None, "pong without a ping"),
        }
    }

    /// Writes queued control frames into `buf` and returns the bytes used.
    /// Once closing and drained, the connection is closed.
    pub(crate) fn write_controls(&mut self, now: Instant, buf: &mut [u8]) -> usize {
        let mut used = 0;
        if let Some(nonce) = self.pong_due.filter(|_| self.is_open()) {
            match Framing::LengthPrefix.encode(&Frame::Pong { nonce }, buf) {
                Ok(n) => {
                    self.pong_due = None;
                    self.sent(now, n);
                    used = n;
                }
                Err(_) => return 0,
            }
        }
        while let Some(&control) = self.controls.front() {
            let Some(rest) = buf.get_mut(used..) else {
                break;
            };
            match Framing::LengthPrefix.encode(&control.frame(), rest) {
                Ok(n) => {
                    self.controls.pop_front();
                    self.sent(now, n);
                    used += n;
                }
                // It will fit an empty buffer of the documented size.
                Err(_) if used > 0 => break,
                Err(_) => {
                    self.controls.pop_front();
                }
            }
        }
        if self.phase == Phase::Closing && self.controls.is_empty() {
            self.phase = Phase::Closed;
        }
        used
    }

    /// The next instant a timer fires.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        if self.phase == Phase::Closed {
            return None;
        }
        let mut next = self.last_rx + self.timeout;
        if let Some(deadline) = self.deadline {
            next = next.min(deadline);
        } else if self.is_open() {
            next = next.min(self.last_tx + self.keepalive);
        }
        Some(next)
    }

    /// Fires the timers due at `now`.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        if !self.is_open() {
            return;
        }
        if self.deadline.is_some_and(|d| now >= d) {
            self.fail(
                ErrorCode::HandshakeTimeout,
                None,
                "handshake not finished in time",
            );
        } else if now >= self.last_rx + self.timeout {
            self.fail(ErrorCode::Timeout, None, "nothing heard from the peer");
        } else if self.deadline.is_none()
            && now >= self.last_tx + self.keepalive
            && !self.controls.iter().any(|c| matches!(c, Control::Ping(_)))
        {
            self.pings += 1;
            self.ping_unanswered = Some(self.pings);
            self.push(Control::Ping(self.pings));
            // The ping is as good as sent: do not ask again until it is.
            self.last_tx = now;
        }
    }
}
