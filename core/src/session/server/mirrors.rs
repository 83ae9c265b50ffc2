//! The hub's subscriptions to regions its client publishes.
//!
//! Once the client is welcomed, the server subscribes to each region the
//! [`Hub`] says the client publishes, resuming from where the hub's copy
//! stands. Updates are checked and applied like a client's (the same
//! [`Follower`]), but written through [`Hub::apply_part`] into the hub's
//! copy, whose schema must be the client's.

use heapless::Deque;

use super::hub::Hub;
use crate::codec::{
    Ack, ErrorCode, Frame, Ranges, Resume, SchemaPart, Subscribe, Unsubscribe, Update,
};
use crate::schema::Name;
use crate::session::held::Part;
use crate::session::link::Link;
use crate::session::source::RegionId;
use crate::session::subscriber::{Fatal, Follower, Phase, SchemaOutcome, Sink};
use crate::time::Instant;

/// Ended subscriptions waiting to be reported.
const ENDED: usize = 4;

/// One region the client publishes, as the hub mirrors it. Its handle is
/// its slot index.
#[derive(Debug)]
struct Mirror {
    region: RegionId,
    name: Name,
    /// The data area's length, once the schema is checked.
    data_len: usize,
    follow: Follower,
    subscribe_due: bool,
    unsubscribe_due: bool,
}

/// Why the hub stopped mirroring a region its client publishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ended {
    pub(crate) region: RegionId,
    pub(crate) code: ErrorCode,
}

/// The hub's copy of a region, written through the hub.
struct HubCopy<'h, H: Hub + ?Sized> {
    hub: &'h mut H,
    region: RegionId,
    fingerprint: u64,
    data_len: usize,
}

impl<H: Hub + ?Sized> HubCopy<'_, H> {
    fn new(hub: &mut H, region: RegionId) -> Option<HubCopy<'_, H>> {
        let source = hub.source(region)?;
        let (fingerprint, data_len) = (source.schema.fingerprint(), source.data.len());
        Some(HubCopy {
            hub,
            region,
            fingerprint,
            data_len,
        })
    }
}

impl<H: Hub + ?Sized> Sink for HubCopy<'_, H> {
    fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    fn data_len(&self) -> usize {
        self.data_len
    }

    fn write(
        &mut self,
        ranges: &[(usize, &[u8])],
        instance: u64,
        generation: u64,
    ) -> Result<(), ()> {
        let held = Resume {
            instance,
            generation,
        };
        self.hub
            .apply_update(self.region, ranges, held)
            .map_err(|_| ())
    }

    fn write_part(&mut self, ranges: Ranges<'_>, part: Part) -> Result<(), ()> {
        self.hub
            .apply_part(self.region, ranges, part)
            .map_err(|_| ())
    }
}

/// The hub's subscriptions on one connection: `SUBS` at most.
#[derive(Debug)]
pub(crate) struct Mirrors<const SUBS: usize> {
    slots: [Option<Mirror>; SUBS],
    /// Slots filled when the session opened: handles below it are (or
    /// were) the hub's subscriptions.
    started: usize,
    ended: Deque<Ended, ENDED>,
    pub(crate) updates: u64,
    pub(crate) resyncs: u64,
}

impl<const SUBS: usize> Mirrors<SUBS> {
    pub(crate) fn new() -> Self {
        Mirrors {
            slots: core::array::from_fn(|_| None),
            started: 0,
            ended: Deque::new(),
            updates: 0,
            resyncs: 0,
        }
    }

    /// Subscribes to the regions `client` publishes, as many as there are
    /// slots; each resumes from the hub's copy.
    pub(crate) fn start<H: Hub + ?Sized>(&mut self, hub: &H, tenant: &str, client: &str) {
        let mut slots = self.slots.iter_mut().filter(|s| s.is_none());
        let started = &mut self.started;
        hub.published(tenant, client, &mut |region, name, resume| {
            let Some(slot) = slots.next() else {
                return false;
            };
            *started += 1;
            *slot = Some(Mirror {
                region,
                name,
                data_len: 0,
                follow: Follower::new(resume.map_or(0, |r| r.generation), resume),
                subscribe_due: true,
                unsubscribe_due: false,
            });
            true
        });
    }

    /// Whether the hub asked for frames of subscription `handle`: it
    /// subscribed with it, and sent the subscribe. A subscription it ended
    /// counts, for frames sent before the client read the unsubscribe.
    fn asked(&self, handle: u16) -> Result<(), Fatal> {
        let index = usize::from(handle);
        let sent = self
            .slots
            .get(index)
            .is_some_and(|s| s.as_ref().is_none_or(|m| !m.subscribe_due));
        if index < self.started && sent {
            Ok(())
        } else {
            Err(Fatal {
                code: ErrorCode::UnexpectedFrame,
                reason: "not a subscription of the hub",
            })
        }
    }

    fn slot(&mut self, handle: u16) -> Option<&mut Mirror> {
        self.slots
            .get_mut(usize::from(handle))?
            .as_mut()
            .filter(|m| !m.subscribe_due && !m.unsubscribe_due)
    }

    /// The client ended the subscription `handle` (an error with that
    /// handle).
    pub(crate) fn on_error(&mut self, handle: u16, code: ErrorCode) {
        if let Some(slot) = self.slots.get_mut(usize::from(handle)) {
            if let Some(m) = slot.take() {
                self.finish(&m, code);
            }
        }
    }

    fn finish(&mut self, m: &Mirror, code: ErrorCode) {
        self.updates += m.follow.updates;
        self.resyncs += m.follow.resyncs;
        let _ = self.ended.push_back(Ended {
            region: m.region,
            code,
        });
    }

    /// Takes a schema part; a part for no subscription the hub asked for
    /// is fatal.
    pub(crate) fn on_schema<H: Hub + ?Sized>(
        &mut self,
        part: &SchemaPart<'_>,
        hub: &mut H,
    ) -> Result<(), Fatal> {
        self.asked(part.handle)?;
        let Some(m) = self.slot(part.handle) else {
            return Ok(());
        };
        let region = m.region;
        let outcome = match HubCopy::new(hub, region) {
            Some(copy) => {
                m.data_len = copy.data_len;
                m.follow.on_schema(part, &copy)
            }
            None => SchemaOutcome::Mismatch,
        };
        if outcome == SchemaOutcome::Mismatch {
            m.unsubscribe_due = true;
            let _ = self.ended.push_back(Ended {
                region,
                code: ErrorCode::SchemaMismatch,
            });
        }
        Ok(())
    }

    /// Takes an update part; one for no subscription the hub asked for,
    /// or one its copy cannot take, is fatal.
    pub(crate) fn on_update<H: Hub + ?Sized>(
        &mut self,
        update: &Update<'_>,
        hub: &mut H,
    ) -> Result<(), Fatal> {
        self.asked(update.handle)?;
        let Some(m) = self.slot(update.handle) else {
            return Ok(());
        };
        if m.follow.phase != Phase::Live {
            return Ok(());
        }
        let Some(mut copy) = HubCopy::new(hub, m.region) else {
            return Err(Fatal {
                code: ErrorCode::Other,
                reason: "the hub's copy is gone",
            });
        };
        m.follow.on_update(update, &mut copy)
    }

    /// The handle of the live subscription to `region` and its data area's
    /// length: what a write to the client's region needs.
    pub(crate) fn live(&self, region: RegionId) -> Option<(u16, usize)> {
        self.slots.iter().enumerate().find_map(|(index, slot)| {
            let m = slot.as_ref()?;
            let live = m.region == region
                && m.follow.phase == Phase::Live
                && !m.subscribe_due
                && !m.unsubscribe_due;
            live.then_some((u16::try_from(index).ok()?, m.data_len))
        })
    }

    /// The next mirror that ended, for the hub's events.
    pub(crate) fn poll_ended(&mut self) -> Option<Ended> {
        self.ended.pop_front()
    }

    /// Writes due subscribes, acks and unsubscribes into `buf` after
    /// `*used` bytes; stops when `buf` is full.
    pub(crate) fn transmit(
        &mut self,
        now: Instant,
        buf: &mut [u8],
        used: &mut usize,
        link: &mut Link,
    ) {
        for (index, slot) in self.slots.iter_mut().enumerate() {
            let Some(m) = slot else {
                continue;
            };
            let handle = u16::try_from(index).unwrap_or(u16::MAX);
            loop {
                let frame = if m.subscribe_due {
                    Frame::Subscribe(Subscribe {
                        handle,
                        path: m.name.as_str(),
                        resume: m.follow.resume,
                        variables: false,
                        full: false,
                    })
                } else if m.unsubscribe_due {
                    Frame::Unsubscribe(Unsubscribe { handle })
                } else if let Some(generation) = m.follow.ack_due {
                    Frame::Ack(Ack { handle, generation })
                } else {
                    break;
                };
                if !link.put(now, buf, used, &frame) {
                    return;
                }
                if m.subscribe_due {
                    m.subscribe_due = false;
                } else if m.unsubscribe_due {
                    self.updates += m.follow.updates;
                    self.resyncs += m.follow.resyncs;
                    *slot = None;
                    break;
                } else {
                    m.follow.ack_due = None;
                }
            }
        }
    }

    /// Updates applied and resyncs asked for, over every subscription.
    pub(crate) fn counters(&self) -> (u64, u64) {
        self.slots
            .iter()
            .flatten()
            .fold((self.updates, self.resyncs), |(u, r), m| {
                (u + m.follow.updates, r + m.follow.resyncs)
            })
    }
}
