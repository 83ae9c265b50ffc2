//! The entity world as tx2-link 0.1.1 sees it: a `WorldSnapshot` of every
//! entity with a `Position` and a `Velocity` component, each a structured
//! map of `x`, `y`, `z` as `F32` fields. tx2-link's API takes a whole
//! snapshot per tick, so building one is part of what its user does.
//!
//! Shared by `benches/benches/entities.rs` and `benches/tests/entities.rs`
//! (tx2-link is a dev-dependency, so this cannot live in the library).

use std::collections::HashMap;

use memwire_benches::entities::{ENTITIES, ENTITY_LEN, Entities};
use tx2_link::protocol::{ComponentData, FieldValue};
use tx2_link::{
    BinarySerializer, Delta, DeltaCompressor, SerializedComponent, SerializedEntity, WorldSnapshot,
};

/// The three `f32`s at `at` in the data area.
fn vector(data: &[u8], at: usize) -> [f32; 3] {
    [0, 1, 2].map(|k| {
        let b = &data[at + 4 * k..at + 4 * k + 4];
        f32::from_le_bytes([b[0], b[1], b[2], b[3]])
    })
}

fn component(id: &str, [x, y, z]: [f32; 3]) -> SerializedComponent {
    let fields = HashMap::from([
        ("x".to_owned(), FieldValue::F32(x)),
        ("y".to_owned(), FieldValue::F32(y)),
        ("z".to_owned(), FieldValue::F32(z)),
    ]);
    SerializedComponent {
        id: id.to_owned(),
        data: ComponentData::Structured(fields),
    }
}

/// The snapshot of `world` at `tick`.
pub(crate) fn snapshot(world: &Entities, tick: u64) -> WorldSnapshot {
    let data = world.data();
    let entities = (0..ENTITIES)
        .map(|i| SerializedEntity {
            id: u32::try_from(i).expect("fits u32"),
            components: vec![
                component("Position", vector(data, ENTITY_LEN * i)),
                component("Velocity", vector(data, ENTITY_LEN * i + 12)),
            ],
        })
        .collect();
    WorldSnapshot {
        entities,
        timestamp: tick as f64,
        version: "1.0.0".to_owned(),
    }
}

/// A tx2-link sender: its delta compressor and its MessagePack serializer.
pub(crate) struct Tx2Sender {
    compressor: DeltaCompressor,
    serializer: BinarySerializer,
    tick: u64,
}

impl Tx2Sender {
    /// A sender that has made the initial full delta of `world` (the full
    /// sync), with field-level deltas on (`DeltaCompressor::new()`) or off.
    /// Returns it and the size of that full sync.
    pub(crate) fn new(world: &Entities, field_deltas: bool) -> (Tx2Sender, usize) {
        let mut sender = Tx2Sender {
            compressor: DeltaCompressor::with_field_compression(field_deltas),
            serializer: BinarySerializer::messagepack(),
            tick: 0,
        };
        let full = sender.delta(snapshot(world, 0)).1.as_ref().len();
        (sender, full)
    }

    /// The next tick's snapshot of `world`.
    pub(crate) fn snapshot(&mut self, world: &Entities) -> WorldSnapshot {
        self.tick += 1;
        snapshot(world, self.tick)
    }

    /// The delta from the previous snapshot to `snapshot` and its
    /// MessagePack encoding: the bytes tx2-link sends.
    pub(crate) fn delta(&mut self, snapshot: WorldSnapshot) -> (Delta, impl AsRef<[u8]> + use<>) {
        let delta = self.compressor.create_delta(snapshot);
        let bytes = self
            .serializer
            .serialize_delta(&delta)
            .expect("MessagePack encodes a delta");
        (delta, bytes)
    }

    /// Decodes what [`delta`](Self::delta) sent.
    pub(crate) fn decode(&self, bytes: &[u8]) -> Delta {
        self.serializer
            .deserialize_delta(bytes)
            .expect("tx2-link decodes its own delta")
    }
}
