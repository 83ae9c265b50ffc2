//! The client's half of the handshake: the hello, the proof that answers
//! the hub's challenge, and the welcome that opens the session.

use super::state::{HELLO_MAX, Handshake, Inner, rest};
use crate::codec::{Auth, Challenge, ErrorCode, Frame, Framing, Hello, PROTOCOL_VERSION, Welcome};
use crate::session::auth;
use crate::session::event::{Event, Observer};
use crate::time::{Duration, Instant};

impl<'a, const SUBS: usize> Inner<'a, SUBS> {
    pub(super) fn on_challenge(&mut self, c: Challenge) {
        if c.version != PROTOCOL_VERSION {
            self.link
                .fail(ErrorCode::UnsupportedVersion, None, "memwire protocol 2");
            return;
        }
        let proof = auth::proof(self.config.secret, &c.nonce, &self.hello);
        self.handshake = Handshake::AuthDue(proof);
    }

    pub(super) fn on_welcome<O: Observer<'a> + ?Sized>(
        &mut self,
        w: Welcome<'_>,
        observer: &mut O,
    ) {
        self.handshake = Handshake::Open;
        self.link.deadline = None;
        self.link.agree(
            Duration::from_millis(u64::from(w.limits.keepalive_ms)),
            Duration::from_millis(u64::from(w.limits.timeout_ms)),
        );
        self.peer_max = usize::try_from(w.limits.max_frame).unwrap_or(usize::MAX);
        self.max_in_flight = usize::from(w.limits.max_in_flight.max(1));
        let connected = Event::Connected {
            session: w.session,
            limits: w.limits,
        };
        // The queue holds at least the connected event: it is the
        // first event of a session.
        let _ = self.events.push_back(connected);
        observer.regions(w.regions, w.complete);
    }

    /// Sends the hello or the proof when due; the handshake then waits for
    /// the hub's answer.
    pub(super) fn transmit_handshake(&mut self, now: Instant, buf: &mut [u8], used: &mut usize) {
        match self.handshake {
            Handshake::HelloDue => {
                let hello = Frame::Hello(Hello {
                    version: PROTOCOL_VERSION,
                    max_frame: self.config.max_frame,
                    client: self.config.name,
                    tenant: self.config.tenant,
                });
                let _ = self.hello.resize(HELLO_MAX, 0);
                match hello.encode(&mut self.hello) {
                    Ok(n) => self.hello.truncate(n),
                    Err(_) => {
                        self.hello.clear();
                        self.link
                            .fail(ErrorCode::Other, None, "client name or tenant not valid");
                        *used += self.link.write_controls(now, rest(buf, *used));
                        return;
                    }
                }
                if let Ok(n) = Framing::LengthPrefix.wrap(&self.hello, rest(buf, *used)) {
                    self.link.sent(now, n);
                    *used += n;
                    self.handshake = Handshake::AwaitChallenge;
                }
            }
            Handshake::AuthDue(proof) => {
                if self.link.put(now, buf, used, &Frame::Auth(Auth { proof })) {
                    self.handshake = Handshake::AwaitWelcome;
                }
            }
            Handshake::AwaitChallenge | Handshake::AwaitWelcome | Handshake::Open => {}
        }
    }
}
