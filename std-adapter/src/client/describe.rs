//! Describing: a subscription by name asks the hub for the region's
//! variable table, and the mirror is made from it once it has arrived whole
//! (within limits a hub cannot push this client past). The observer also
//! lends each subscription its room for the parts of an update, so that a
//! mirror takes every update as one commit.

use std::collections::HashMap;
use std::sync::Arc;

use elsa::sync::FrozenVec;
use memwire::Region;
use memwire::codec::{RegionList, SchemaPart};
use memwire::session::{Client as Session, Handle, HeldParts, Observer};
use tokio::sync::oneshot;

use super::applied::TappedParts;
use super::error::ClientError;
use super::memory::{MirrorCell, MirrorShared};
use super::session::Slot;
use super::shared::Mirror;
use super::task::{Driver, RX, SUBS};
use crate::schema::OwnedSchema;

/// The most variables a described region may have.
pub(crate) const TABLE_MAX: u32 = 1 << 20;
/// The largest data area a described region may have (1 GiB).
pub(crate) const MIRROR_MAX: u32 = 1 << 30;

impl Driver {
    pub(super) fn describe(
        &mut self,
        session: &mut Session<'_, SUBS, RX>,
        slots: &mut HashMap<u16, Slot>,
        path: String,
        full: bool,
        reply: oneshot::Sender<Result<Mirror, ClientError>>,
    ) {
        match session.subscribe_described(&path) {
            Ok(handle) => {
                if full || self.options.always_full {
                    session.always_full(handle);
                }
                slots.insert(
                    handle.0,
                    Slot::Describing {
                        path,
                        full,
                        vars: Vec::new(),
                        reply,
                    },
                );
            }
            Err(_) => {
                let _ = reply.send(Err(ClientError::BadPath(path)));
            }
        }
    }
}

/// Receives what a connection's session shows of its input: variable
/// tables and the welcome's region list.
pub(super) struct Observe<'m, 's> {
    pub(super) mirrors: &'m FrozenVec<Arc<MirrorShared>>,
    pub(super) slots: &'s mut HashMap<u16, Slot>,
    pub(super) regions: &'s mut Vec<(String, u64)>,
    /// Each subscription's parts of the update in progress.
    pub(super) parts: &'s mut HashMap<u16, TappedParts>,
}

impl<'m> Observer<'m> for Observe<'m, '_> {
    fn schema_part(&mut self, handle: Handle, part: &SchemaPart<'_>) -> Option<Region<'m>> {
        let Some(Slot::Describing { vars, .. }) = self.slots.get_mut(&handle.0) else {
            return None;
        };
        if part.count > TABLE_MAX || part.data_len > MIRROR_MAX {
            // A hub cannot make the client hold more than these.
            if let Some(Slot::Describing { reply, .. }) = self.slots.remove(&handle.0) {
                let _ = reply.send(Err(ClientError::BadSchema(format!(
                    "{} variables and {} bytes: more than this client mirrors ({TABLE_MAX} variables, {MIRROR_MAX} bytes)",
                    part.count, part.data_len
                ))));
            }
            return None;
        }
        if part.first == 0 {
            vars.clear();
        }
        vars.extend(part.variables.iter());
        if usize::try_from(part.count).ok() != Some(vars.len()) {
            return None;
        }
        let Some(Slot::Describing {
            path,
            full,
            vars,
            reply,
        }) = self.slots.remove(&handle.0)
        else {
            return None;
        };
        let cell = OwnedSchema::from_placed(vars)
            .map_err(|e| e.to_string())
            .and_then(|schema| MirrorCell::build(schema, part.instance).map_err(|e| e.to_string()));
        match cell {
            Ok(cell) => {
                let mirror = Arc::new(MirrorShared::new(path, full, cell));
                let parts = TappedParts::new(Arc::clone(&mirror.taps), false);
                self.parts.insert(handle.0, parts);
                self.mirrors.push(Arc::clone(&mirror));
                let region = self.mirrors.get(self.mirrors.len() - 1)?.cell.region();
                self.slots.insert(handle.0, Slot::Fresh { mirror, reply });
                Some(region)
            }
            Err(message) => {
                let _ = reply.send(Err(ClientError::BadSchema(message)));
                None
            }
        }
    }

    fn regions(&mut self, list: RegionList<'_>, _complete: bool) {
        self.regions.clear();
        for info in list.iter() {
            self.regions
                .push((info.name.as_str().to_owned(), info.instance));
        }
    }

    fn held_parts(&mut self, handle: Handle) -> Option<&mut dyn HeldParts> {
        Some(self.parts.entry(handle.0).or_default())
    }
}

#[cfg(test)]
mod tests {
    use memwire::codec::VarTable;

    use super::*;

    fn part(count: u32, data_len: u32) -> SchemaPart<'static> {
        SchemaPart {
            handle: 0,
            instance: 1,
            fingerprint: 0,
            data_len,
            count,
            first: 0,
            variables: VarTable::EMPTY,
        }
    }

    /// A task's state with subscription 0 waiting for its variable table,
    /// and the receiver of that subscription's answer.
    struct Describing {
        mirrors: elsa::sync::FrozenVec<Arc<MirrorShared>>,
        slots: HashMap<u16, Slot>,
        regions: Vec<(String, u64)>,
        parts: HashMap<u16, TappedParts>,
        answer: oneshot::Receiver<Result<Mirror, ClientError>>,
    }

    impl Describing {
        fn new() -> Self {
            let (reply, answer) = oneshot::channel();
            let slot = Slot::Describing {
                path: "t/r".into(),
                full: false,
                vars: Vec::new(),
                reply,
            };
            Describing {
                mirrors: elsa::sync::FrozenVec::new(),
                slots: HashMap::from([(0, slot)]),
                regions: Vec::new(),
                parts: HashMap::new(),
                answer,
            }
        }

        fn observe(&mut self) -> Observe<'_, '_> {
            Observe {
                mirrors: &self.mirrors,
                slots: &mut self.slots,
                regions: &mut self.regions,
                parts: &mut self.parts,
            }
        }
    }

    #[test]
    fn a_described_region_past_the_limits_is_refused_without_allocating() {
        for (count, data_len) in [
            (TABLE_MAX + 1, 8),
            (1, MIRROR_MAX + 1),
            (u32::MAX, u32::MAX),
        ] {
            let mut state = Describing::new();
            assert!(
                state
                    .observe()
                    .schema_part(Handle(0), &part(count, data_len))
                    .is_none()
            );
            assert!(state.slots.is_empty());
            assert!(matches!(
                state.answer.try_recv(),
                Ok(Err(ClientError::BadSchema(_)))
            ));
            assert_eq!(state.mirrors.len(), 0);
        }
    }

    #[test]
    fn a_described_region_within_the_limits_waits_for_its_table() {
        let mut state = Describing::new();
        assert!(
            state
                .observe()
                .schema_part(Handle(0), &part(3, 64))
                .is_none()
        );
        assert!(matches!(state.slots.get(&0), Some(Slot::Describing { .. })));
        assert!(state.answer.try_recv().is_err());
    }
}
