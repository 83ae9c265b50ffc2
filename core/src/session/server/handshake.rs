//! The hub's half of the handshake: the hello, the challenge, the proof
//! checked against the client's secret, and the welcome that opens the
//! session.

use heapless::{String, Vec};

use super::hub::Hub;
use super::state::{Handshake, Inner};
use crate::codec::{Auth, Challenge, ErrorCode, Frame, PROTOCOL_VERSION, peek_hello_version};
use crate::schema::Name;
use crate::session::{AuthFailure, ServerEvent, auth};
use crate::time::Instant;

impl<const SUBS: usize> Inner<SUBS> {
    pub(super) fn on_hello(&mut self, body: &[u8]) {
        if peek_hello_version(body).is_some_and(|v| v != PROTOCOL_VERSION) {
            self.link
                .fail(ErrorCode::UnsupportedVersion, None, "memwire protocol 1");
            return;
        }
        let hello = match Frame::decode(body) {
            Ok(Frame::Hello(hello)) => hello,
            Ok(_) => {
                self.link
                    .fail(ErrorCode::UnexpectedFrame, None, "expected a hello");
                return;
            }
            Err(_) => {
                self.link
                    .fail(ErrorCode::Malformed, None, "frame did not decode");
                return;
            }
        };
        let (Ok(hello_bytes), Ok(client), Ok(tenant)) = (
            Vec::from_slice(body),
            String::try_from(hello.client),
            Name::new(hello.tenant),
        ) else {
            self.link.fail(ErrorCode::Malformed, None, "hello too long");
            return;
        };
        // A name goes into the hub's logs and rights: it must say something,
        // and nothing that would move a terminal's cursor.
        if client.is_empty() || client.chars().any(char::is_control) {
            self.link
                .fail(ErrorCode::Malformed, None, "client name not valid");
            return;
        }
        self.hello = hello_bytes;
        self.client = client;
        self.tenant = Some(tenant);
        // Frames both ways stay within the smaller of the two maxima, so a
        // client cannot make the hub's transmit buffer grow.
        self.peer_max =
            usize::try_from(hello.max_frame.min(self.config.max_frame)).unwrap_or(usize::MAX);
        self.handshake = Handshake::ChallengeDue;
    }

    pub(super) fn on_auth<H: Hub + ?Sized>(&mut self, a: &Auth, hub: &H) {
        let secret = hub.secret(self.tenant(), &self.client);
        // Unknown clients cost the same check as known ones.
        let ok = auth::verify(
            secret.unwrap_or(&[0; 32]),
            &self.nonce,
            &self.hello,
            &a.proof,
        ) & secret.is_some();
        if ok {
            self.handshake = Handshake::WelcomeDue;
            self.link.deadline = None;
            self.authenticated_due = true;
        } else {
            let reason = if secret.is_some() {
                AuthFailure::WrongProof
            } else if hub.knows_tenant(self.tenant()) {
                AuthFailure::UnknownClient
            } else {
                AuthFailure::UnknownTenant
            };
            // Nothing else is queued before the welcome, so this fits.
            let _ = self.events.push_back(ServerEvent::AuthFailed { reason });
            self.link
                .fail(ErrorCode::AuthFailed, None, "authentication failed");
        }
    }

    /// Sends the challenge or the welcome when due; the welcome opens the
    /// session and starts mirroring the regions the client publishes.
    pub(super) fn transmit_handshake<H: Hub + ?Sized>(
        &mut self,
        now: Instant,
        buf: &mut [u8],
        used: &mut usize,
        hub: &H,
    ) {
        match self.handshake {
            Handshake::ChallengeDue => {
                let challenge = Frame::Challenge(Challenge {
                    version: PROTOCOL_VERSION,
                    nonce: self.nonce,
                });
                if self.link.put(now, buf, used, &challenge) {
                    self.handshake = Handshake::AwaitAuth;
                }
            }
            Handshake::WelcomeDue => {
                if self.put_welcome(now, buf, used, hub) {
                    self.handshake = Handshake::Open;
                    let tenant = self.tenant.as_ref().map_or("", Name::as_str);
                    self.mirrors.start(hub, tenant, &self.client);
                }
            }
            Handshake::AwaitHello | Handshake::AwaitAuth | Handshake::Open => {}
        }
    }
}
