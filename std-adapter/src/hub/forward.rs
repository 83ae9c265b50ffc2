//! Writes to a region a client publishes, forwarded to that client.
//!
//! The region's bytes are the publishing client's: a write another client
//! makes to the hub's copy is checked by the writer's session as usual,
//! then taken aside ([`Hub::defer_write`](memwire::session::Hub::defer_write))
//! and handed to the publisher's connection, which sends it to its client
//! with [`Server::write`](memwire::session::Server::write). Once the client
//! has applied it and the hub's copy holds the client's generation that
//! includes it, the writer is answered with the copy's generation: a writer
//! that then waits for that generation sees its write. A refusal is passed
//! on; a publisher that is not connected, or that goes away before
//! answering, makes the write fail with `Busy`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use memwire::codec::ErrorCode;
use memwire::session::{RegionId, Server};
use tokio::sync::mpsc;

use super::region::Served;
use super::unavailable::UNAVAILABLE;

/// Writes waiting for a publisher's connection to take them.
pub(crate) const QUEUE: usize = 64;

/// A write's answer, on its way to the writer's connection.
pub(crate) type Answer = (u32, Result<u64, ErrorCode>);

/// Where a forwarded write is answered: the writer's connection, by its
/// request id. Dropped unanswered, it answers `Busy`.
#[derive(Debug)]
pub(crate) struct Reply {
    to: mpsc::UnboundedSender<Answer>,
    request: u32,
    done: bool,
}

impl Reply {
    pub(crate) fn new(to: mpsc::UnboundedSender<Answer>, request: u32) -> Reply {
        Reply {
            to,
            request,
            done: false,
        }
    }

    pub(crate) fn send(mut self, outcome: Result<u64, ErrorCode>) {
        self.done = true;
        let _ = self.to.send((self.request, outcome));
    }

    /// The write was not forwarded: the writer's session answers it.
    pub(crate) fn disarm(mut self) {
        self.done = true;
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.to.send((self.request, Err(ErrorCode::Busy)));
        }
    }
}

/// A checked write to region `region` (an index into the hub's regions).
#[derive(Debug)]
pub(crate) struct Forward {
    pub(crate) region: usize,
    pub(crate) ranges: Vec<(usize, Vec<u8>)>,
    pub(crate) reply: Reply,
}

/// The connections of publishing clients, by the regions they publish.
#[derive(Debug, Default)]
pub(crate) struct Publishers {
    by_region: Mutex<HashMap<usize, mpsc::Sender<Forward>>>,
}

impl Publishers {
    /// A publisher's connection takes the writes to `regions` from now on.
    pub(crate) fn register(&self, regions: &[usize], to: &mpsc::Sender<Forward>) {
        let mut map = self
            .by_region
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for &region in regions {
            map.insert(region, to.clone());
        }
    }

    /// The connection holding `to` ended.
    pub(crate) fn unregister(&self, to: &mpsc::Sender<Forward>) {
        let mut map = self
            .by_region
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        map.retain(|_, sender| !sender.same_channel(to));
    }

    /// Whether a connection or a bridge takes the writes to `region`.
    pub(crate) fn takes(&self, region: usize) -> bool {
        self.by_region
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&region)
            .is_some_and(|sender| !sender.is_closed())
    }

    /// Hands `forward` to the connection of its region's publisher; gives it
    /// back when none is connected or its queue is full.
    pub(crate) fn forward(&self, forward: Forward) -> Result<(), Forward> {
        let map = self
            .by_region
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match map.get(&forward.region) {
            Some(sender) => sender.try_send(forward).map_err(|e| match e {
                mpsc::error::TrySendError::Full(f) | mpsc::error::TrySendError::Closed(f) => f,
            }),
            None => Err(forward),
        }
    }
}

/// A publisher connection's forwarded writes: sent to its client and not
/// yet answered, then applied and waiting for the copy to hold them.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    sent: HashMap<u32, (usize, Reply)>,
    /// (region, the client's generation that holds the write, reply).
    holding: Vec<(usize, u64, Reply)>,
}

impl Outbox {
    /// Sends `forward` to the client.
    pub(crate) fn send<const S: usize, const R: usize>(
        &mut self,
        server: &mut Server<S, R>,
        forward: Forward,
    ) {
        let ranges: Vec<(usize, &[u8])> = forward
            .ranges
            .iter()
            .map(|(offset, bytes)| (*offset, bytes.as_slice()))
            .collect();
        let region = u32::try_from(forward.region).unwrap_or(u32::MAX);
        match server.write(RegionId(region), &ranges) {
            Ok(request) => {
                self.sent.insert(request, (forward.region, forward.reply));
            }
            Err(e) => {
                tracing::debug!(error = %e, "forwarded write not sent");
                // Dropping the reply answers `Busy`.
            }
        }
    }

    /// The client applied write `request` at its `generation`.
    pub(crate) fn applied(&mut self, request: u32, generation: u64) {
        if let Some((region, reply)) = self.sent.remove(&request) {
            self.holding.push((region, generation, reply));
        }
    }

    /// The client refused write `request`.
    pub(crate) fn refused(&mut self, request: u32, code: ErrorCode) {
        if let Some((_, reply)) = self.sent.remove(&request) {
            reply.send(Err(code));
        }
    }

    /// Answers the writes the hub's copy now holds, with the copy's
    /// generation.
    pub(crate) fn settle(&mut self, regions: &[Arc<Served>]) {
        if self.holding.is_empty() {
            return;
        }
        let mut waiting = Vec::with_capacity(self.holding.len());
        for (region, generation, reply) in self.holding.drain(..) {
            let Some(served) = regions.get(region) else {
                continue;
            };
            if served.held().is_some_and(|h| h.generation >= generation) {
                reply.send(served.published().map(|p| p.generation).ok_or(UNAVAILABLE));
            } else {
                waiting.push((region, generation, reply));
            }
        }
        self.holding = waiting;
    }
}
