//! The session's events: the welcome, mirror updates, subscriptions the hub
//! ended, and the answers to writes; and the end of the session.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};

use memwire::session::{Client as Session, Event, Handle};
use tokio::sync::oneshot;

use super::error::ClientError;
use super::session::{Connection, Slot};
use super::shared::Mirror;
use super::task::{Driver, End, RX, SUBS, Sub};

impl Driver {
    /// Takes every event the session has; returns whether a mirror was
    /// updated.
    pub(super) fn handle_events(
        &mut self,
        conn: &mut Connection<'_>,
        ready: &mut Option<oneshot::Sender<Result<(), ClientError>>>,
    ) -> bool {
        let mut delivered = false;
        while let Some(event) = conn.session.poll_event() {
            match event {
                Event::Connected { session: id, .. } => {
                    conn.connected = true;
                    tracing::debug!(session = id, "connected");
                    {
                        let mut status = self.status.lock().unwrap_or_else(PoisonError::into_inner);
                        status.connections += 1;
                        status.connected = true;
                        status.regions = std::mem::take(&mut conn.regions);
                    }
                    if let Some(ready) = ready.take() {
                        let _ = ready.send(Ok(()));
                    }
                    for (path, full, reply) in std::mem::take(&mut self.queued) {
                        self.describe(&mut conn.session, &mut conn.slots, path, full, reply);
                    }
                }
                Event::Updated {
                    handle,
                    generation,
                    resynced,
                } => {
                    tracing::trace!(target: "memwire::latency", step = "mirror updated");
                    self.updated(&conn.session, &mut conn.slots, handle, generation, resynced);
                    delivered = true;
                }
                Event::SchemaMismatch { handle } => {
                    self.ended(
                        &mut conn.slots,
                        handle,
                        ClientError::BadSchema("the region's schema changed".into()),
                    );
                }
                Event::Ended { handle, code } => {
                    self.ended(&mut conn.slots, handle, ClientError::Hub(code));
                }
                Event::WriteApplied {
                    request,
                    generation,
                } => {
                    if let Some(reply) = conn.writes.remove(&request) {
                        self.count_writes(|w| w.applied += 1);
                        let _ = reply.send(Ok(generation));
                    }
                }
                Event::WriteRefused { request, code } => {
                    if let Some(reply) = conn.writes.remove(&request) {
                        self.count_writes(|w| w.refused += 1);
                        let _ = reply.send(Err(ClientError::Hub(code)));
                    }
                }
                Event::Closed { code } => {
                    tracing::debug!(?code, "session closed");
                    conn.close_code = code;
                }
                _ => {}
            }
        }
        delivered
    }

    fn updated(
        &mut self,
        session: &Session<'_, SUBS, RX>,
        slots: &mut HashMap<u16, Slot>,
        handle: Handle,
        generation: u64,
        resynced: bool,
    ) {
        let resume = session.resume_point(handle);
        match slots.remove(&handle.0) {
            Some(Slot::Fresh { mirror, reply }) => {
                self.map_local(&mirror, resume);
                mirror.updated(generation, true);
                let index = self.subs.len();
                self.subs.push(Sub {
                    mirror: Arc::clone(&mirror),
                    resume,
                });
                slots.insert(handle.0, Slot::Live(index));
                let _ = reply.send(Ok(Mirror {
                    shared: mirror,
                    commands: self.commands.clone(),
                }));
            }
            Some(Slot::Live(index)) => {
                if let Some(sub) = self.subs.get_mut(index) {
                    sub.resume = resume;
                    sub.mirror.updated(generation, resynced);
                }
                slots.insert(handle.0, Slot::Live(index));
            }
            Some(other) => {
                slots.insert(handle.0, other);
            }
            None => {}
        }
    }

    fn ended(&mut self, slots: &mut HashMap<u16, Slot>, handle: Handle, error: ClientError) {
        match slots.remove(&handle.0) {
            Some(Slot::Describing { reply, .. } | Slot::Fresh { reply, .. }) => {
                let _ = reply.send(Err(error));
            }
            Some(Slot::Live(index)) => {
                if let Some(sub) = self.subs.get(index) {
                    tracing::warn!(region = %sub.mirror.path, %error, "subscription ended by the hub");
                    sub.mirror.ended.store(true, Ordering::Relaxed);
                }
            }
            None => {}
        }
    }
}

impl Connection<'_> {
    /// How the connection ended, once the session is closed.
    pub(super) fn closed(&self) -> Option<End> {
        if self.session.is_closed() {
            return Some(End::Lost(match self.close_code {
                Some(code) => ClientError::Refused(code),
                None => ClientError::Disconnected,
            }));
        }
        None
    }
}
