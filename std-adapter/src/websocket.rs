//! WebSocket as a byte stream: each binary message carries one frame body
//! (the bare framing of `spec/wire-format.md` §3.3), and [`bridge`] turns
//! the messages into the length-prefixed stream the sessions read and
//! write (§3.1), so that the hub's connection task and the client's task
//! run over WebSocket exactly as over TCP.
//!
//! A task per connection (`pump`) moves the bytes: each message received
//! becomes its length prefix and its body, each whole frame the session
//! writes becomes one binary message. The two sides meet in a
//! `tokio::io::duplex` pipe of one frame's size, so a peer that stops
//! reading stops the pipe, and the session's own outbound bound (the hub's
//! slow-consumer policy) applies unchanged.
//!
//! What the peer sends that is no frame ends the connection with a close
//! code and a reason it can read (`Refusal`): a text message (1003), a
//! message over the largest frame (1009; tungstenite reassembles a
//! fragmented message within that bound and refuses it past it), pings
//! faster than the ping budget (1008), a broken WebSocket frame (1002).
//! tungstenite answers pings itself with one pending pong, the latest, and
//! its write buffer is bounded, so pings cannot grow a queue either.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

/// The longest length prefix (a `u32` varint).
const PREFIX: usize = 5;
/// Pings a peer may send in a burst…
const PING_BURST: u32 = 16;
/// …and then per second.
const PINGS_PER_SECOND: u32 = 4;
/// How long the close message may take to leave.
const CLOSE_WAIT: Duration = Duration::from_secs(1);
/// The bytes read from the session's side at once.
const CHUNK: usize = 16 * 1024;
/// The longest reason a close frame carries (RFC 6455: 123 bytes).
const REASON_MAX: usize = 123;

/// tungstenite's settings for a connection whose frames are at most
/// `max_frame` bytes: messages (reassembled from their fragments) no
/// larger; read and write buffers of a frame or less, not its 128 KiB
/// defaults, so that an idle connection holds little.
pub(crate) fn config(max_frame: usize) -> WebSocketConfig {
    let buffer = max_frame.min(CHUNK);
    WebSocketConfig::default()
        .read_buffer_size(buffer)
        .write_buffer_size(buffer)
        .max_write_buffer_size(2 * (max_frame + PREFIX) + 2 * buffer)
        .max_message_size(Some(max_frame))
        .max_frame_size(Some(max_frame))
}

/// The length-prefixed byte stream over `ws`, whose messages are at most
/// `max_frame` bytes; a task of its own moves the bytes until either side
/// ends. Must run inside a tokio runtime.
pub(crate) fn bridge<S>(ws: WebSocketStream<S>, max_frame: usize) -> DuplexStream
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (near, far) = tokio::io::duplex(max_frame + PREFIX);
    tokio::spawn(pump(ws, far, max_frame));
    near
}

/// Why the WebSocket side ends a connection, as its close frame says.
struct Refusal {
    code: CloseCode,
    reason: String,
}

impl Refusal {
    fn new(code: CloseCode, reason: impl Into<String>) -> Refusal {
        let mut reason: String = reason.into();
        if reason.len() > REASON_MAX {
            let mut cut = REASON_MAX;
            while !reason.is_char_boundary(cut) {
                cut -= 1;
            }
            reason.truncate(cut);
        }
        Refusal { code, reason }
    }

    fn frame(self) -> CloseFrame {
        CloseFrame {
            code: self.code,
            reason: self.reason.into(),
        }
    }
}

async fn pump<S>(ws: WebSocketStream<S>, pipe: DuplexStream, max_frame: usize)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sink, mut messages) = ws.split();
    let (mut from_session, mut to_session) = tokio::io::split(pipe);
    let refusal = tokio::select! {
        r = receive(&mut messages, &mut to_session, max_frame) => r,
        r = send(&mut from_session, &mut sink) => r,
    };
    // The session reads the end of the stream now, whatever the peer does.
    let _ = to_session.shutdown().await;
    drop((from_session, to_session));
    let close = match refusal {
        Some(refusal) => {
            tracing::info!(code = %refusal.code, reason = %refusal.reason, "WebSocket closed");
            Some(refusal.frame())
        }
        None => Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        }),
    };
    let _ = tokio::time::timeout(CLOSE_WAIT, async {
        sink.send(Message::Close(close))
            .await
            .map_err(std::io::Error::other)?;
        // What the peer sent after the message that ended it (the rest of
        // an oversize one) is read and dropped: closing a socket with
        // unread bytes resets it, and the peer could lose the close
        // message before reading it.
        let Ok(ws) = sink.reunite(messages) else {
            return Ok(());
        };
        let mut stream = ws.into_inner();
        stream.shutdown().await?;
        let mut drained = [0u8; 4096];
        while stream.read(&mut drained).await? > 0 {}
        Ok::<(), std::io::Error>(())
    })
    .await;
}

/// Messages from the peer, written to the session as length-prefixed
/// frames; returns when the peer closes (`None`) or is refused.
async fn receive<M, W>(messages: &mut M, to_session: &mut W, max_frame: usize) -> Option<Refusal>
where
    M: futures_util::Stream<Item = Result<Message, WsError>> + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut pings = PingBudget::new(Instant::now());
    let mut framed = Vec::new();
    loop {
        let message = match messages.next().await? {
            Ok(message) => message,
            Err(WsError::Capacity(e)) => {
                return Some(Refusal::new(
                    CloseCode::Size,
                    format!("message over the largest frame, {max_frame} bytes ({e})"),
                ));
            }
            Err(WsError::Protocol(e)) => {
                return Some(Refusal::new(CloseCode::Protocol, e.to_string()));
            }
            Err(e) => {
                tracing::debug!(error = %e, "WebSocket read failed");
                return None;
            }
        };
        match message {
            Message::Binary(body) => {
                // An empty message goes through as a zero length, which
                // the session refuses as any stream's (Malformed).
                framed.clear();
                push_prefix(&mut framed, body.len());
                framed.extend_from_slice(&body);
                to_session.write_all(&framed).await.ok()?;
            }
            Message::Text(_) => {
                return Some(Refusal::new(
                    CloseCode::Unsupported,
                    "text message: memwire frames travel as binary messages",
                ));
            }
            Message::Ping(_) => {
                if !pings.take(Instant::now()) {
                    return Some(Refusal::new(CloseCode::Policy, "too many pings"));
                }
            }
            Message::Close(_) => return None,
            Message::Pong(_) | Message::Frame(_) => {}
        }
    }
}

/// Frames from the session, sent one per binary message; returns when the
/// session ends its stream (`None`) or the peer's socket fails.
async fn send<R, K>(from_session: &mut R, sink: &mut K) -> Option<Refusal>
where
    R: AsyncRead + Unpin,
    K: futures_util::Sink<Message, Error = WsError> + Unpin,
{
    let mut pending = Vec::new();
    let mut chunk = vec![0u8; CHUNK];
    loop {
        let n = match from_session.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => n,
        };
        pending.extend_from_slice(chunk.get(..n).unwrap_or(&[]));
        let mut at = 0;
        while let Some((prefix, len)) = read_prefix(pending.get(at..).unwrap_or(&[])) {
            let Some(body) = pending.get(at + prefix..at + prefix + len) else {
                break;
            };
            if let Err(e) = sink.feed(Message::binary(body.to_vec())).await {
                tracing::debug!(error = %e, "WebSocket write failed");
                return None;
            }
            at += prefix + len;
        }
        pending.drain(..at);
        if let Err(e) = sink.flush().await {
            tracing::debug!(error = %e, "WebSocket write failed");
            return None;
        }
    }
}

/// Appends `len` as an unsigned LEB128 varint.
fn push_prefix(out: &mut Vec<u8>, mut len: usize) {
    while len >= 0x80 {
        out.push((len as u8 & 0x7f) | 0x80);
        len >>= 7;
    }
    out.push(len as u8);
}

/// The length prefix at the start of `bytes`: its size and the length it
/// gives; `None` until it is whole. The session writes only minimal
/// prefixes of at most five bytes.
fn read_prefix(bytes: &[u8]) -> Option<(usize, usize)> {
    let mut len = 0usize;
    for (i, &byte) in bytes.iter().take(PREFIX).enumerate() {
        len |= usize::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((i + 1, len));
        }
    }
    None
}

/// A token bucket of pings: [`PING_BURST`] at once, then
/// [`PINGS_PER_SECOND`].
struct PingBudget {
    tokens: u32,
    since: Instant,
}

impl PingBudget {
    fn new(now: Instant) -> PingBudget {
        PingBudget {
            tokens: PING_BURST,
            since: now,
        }
    }

    /// Whether a ping at `now` is within the budget.
    fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.since);
        let earned = elapsed.as_millis() * u128::from(PINGS_PER_SECOND) / 1000;
        if earned > 0 {
            let earned = u32::try_from(earned).unwrap_or(u32::MAX);
            self.tokens = self.tokens.saturating_add(earned).min(PING_BURST);
            self.since = now;
        }
        if self.tokens == 0 {
            return false;
        }
        self.tokens -= 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_round_trip() {
        for len in [1usize, 127, 128, 16_383, 16_384, 65_536, u32::MAX as usize] {
            let mut out = Vec::new();
            push_prefix(&mut out, len);
            assert_eq!(read_prefix(&out), Some((out.len(), len)));
            assert_eq!(read_prefix(&out[..out.len() - 1]), None);
        }
    }

    #[test]
    fn ping_budget_refills() {
        let start = Instant::now();
        let mut budget = PingBudget::new(start);
        for _ in 0..PING_BURST {
            assert!(budget.take(start));
        }
        assert!(!budget.take(start));
        assert!(budget.take(start + Duration::from_millis(250)));
        assert!(!budget.take(start + Duration::from_millis(250)));
    }

    #[test]
    fn reasons_fit_a_close_frame() {
        let refusal = Refusal::new(CloseCode::Policy, "é".repeat(100));
        assert!(refusal.reason.len() <= REASON_MAX);
    }
}
