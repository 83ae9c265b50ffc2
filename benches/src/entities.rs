//! The entity workload used across the project's benchmarks: a game world of
//! 10,000 entities, each a `Position{x, y, z: f32}` and a
//! `Velocity{x, y, z: f32}`, where 1% of the entities move every tick.
//!
//! The data area is 240,000 bytes: entity `i` has the variables `e{i}.pos`
//! at offset `24 i` and `e{i}.vel` at `24 i + 12`, both `F32 × 3`, so there
//! are 20,000 variables. A tick moves [`MOVED_PER_TICK`] distinct entities
//! (chosen by a seeded generator, so every run is the same): each moved
//! position gets its velocity added, and all three of its floats change.
//!
//! ```
//! use memwire_benches::entities::{DATA_LEN, Entities, MOVED_PER_TICK};
//!
//! let mut world = Entities::new(1);
//! let before = world.data().to_vec();
//! let moved = world.tick().to_vec();
//! assert_eq!(moved.len(), MOVED_PER_TICK);
//! assert_eq!(world.data().len(), DATA_LEN);
//! assert_ne!(world.data(), &before[..]);
//! ```

use memwire::schema::{Kind, Name, Schema, VarId, Variable, name_index};

/// Entities in the world.
pub const ENTITIES: usize = 10_000;
/// Bytes per entity: position then velocity, three `f32` each.
pub const ENTITY_LEN: usize = 24;
/// The size of the data area.
pub const DATA_LEN: usize = ENTITIES * ENTITY_LEN;
/// Entities whose position changes per tick (1%).
pub const MOVED_PER_TICK: usize = ENTITIES / 100;

/// The world: its schema, its data area and the generator of its ticks.
#[derive(Clone, Debug)]
pub struct Entities {
    vars: Vec<Variable>,
    by_name: Vec<u32>,
    data: Vec<u8>,
    /// Entity indices; a tick draws its movers from the front.
    order: Vec<u32>,
    moved: Vec<VarId>,
    rng: u64,
}

impl Entities {
    /// A world with positions and (nonzero) velocities drawn from `seed`.
    pub fn new(seed: u64) -> Entities {
        let mut vars = Vec::with_capacity(2 * ENTITIES);
        for i in 0..ENTITIES {
            for (k, field) in ["pos", "vel"].into_iter().enumerate() {
                let name = Name::new(&format!("e{i}.{field}")).expect("short ASCII name");
                let offset = u32::try_from(ENTITY_LEN * i + 12 * k).expect("fits u32");
                vars.push(Variable::new(name, Kind::F32, 3, offset));
            }
        }
        let mut by_name = vec![0; vars.len()];
        name_index(&vars, &mut by_name).expect("unique names");
        let mut world = Entities {
            vars,
            by_name,
            data: vec![0; DATA_LEN],
            order: (0..ENTITIES as u32).collect(),
            moved: Vec::with_capacity(MOVED_PER_TICK),
            rng: seed,
        };
        for i in 0..ENTITIES {
            let pos = [(); 3].map(|()| world.unit() * 1000.0);
            // Speeds of 0.5 to 2 units per tick in either direction.
            let vel = [(); 3].map(|()| {
                let v = world.unit();
                v.signum() * (0.5 + 1.5 * v.abs())
            });
            world.set(i, 0, pos);
            world.set(i, 1, vel);
        }
        world
    }

    /// The schema: `e{i}.pos` is `VarId(2 i)`, `e{i}.vel` is `VarId(2 i + 1)`.
    pub fn schema(&self) -> Schema<'_> {
        Schema::new_checked(&self.vars, &self.by_name).expect("valid by construction")
    }

    /// The data area.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The position variable of `entity`.
    pub fn position(entity: usize) -> VarId {
        VarId(u32::try_from(2 * entity).expect("fits u32"))
    }

    /// The velocity variable of `entity`.
    pub fn velocity(entity: usize) -> VarId {
        VarId(u32::try_from(2 * entity + 1).expect("fits u32"))
    }

    /// Moves [`MOVED_PER_TICK`] distinct entities one step and returns their
    /// position variables in ascending order.
    pub fn tick(&mut self) -> &[VarId] {
        // A partial Fisher-Yates shuffle draws distinct entities.
        for k in 0..MOVED_PER_TICK {
            let j = k + (self.next() % (ENTITIES - k) as u64) as usize;
            self.order.swap(k, j);
        }
        let mut movers: Vec<usize> = self.order[..MOVED_PER_TICK]
            .iter()
            .map(|&e| e as usize)
            .collect();
        movers.sort_unstable();
        self.moved.clear();
        for e in movers {
            let pos = self.get(e, 0);
            let vel = self.get(e, 1);
            let mut next = [0f32; 3];
            for a in 0..3 {
                next[a] = pos[a] + vel[a];
                // Keep the world bounded: wrap to the other side.
                if next[a].abs() > 1000.0 {
                    next[a] = -next[a].signum() * 999.0;
                }
            }
            self.set(e, 0, next);
            self.moved.push(Self::position(e));
        }
        &self.moved
    }

    /// The position variables moved by the last [`tick`](Self::tick).
    pub fn moved(&self) -> &[VarId] {
        &self.moved
    }

    fn get(&self, entity: usize, field: usize) -> [f32; 3] {
        let at = ENTITY_LEN * entity + 12 * field;
        [0, 1, 2].map(|k| {
            let b = &self.data[at + 4 * k..at + 4 * k + 4];
            f32::from_le_bytes([b[0], b[1], b[2], b[3]])
        })
    }

    fn set(&mut self, entity: usize, field: usize, value: [f32; 3]) {
        let at = ENTITY_LEN * entity + 12 * field;
        for (k, v) in value.into_iter().enumerate() {
            self.data[at + 4 * k..at + 4 * k + 4].copy_from_slice(&v.to_le_bytes());
        }
    }

    fn next(&mut self) -> u64 {
        // splitmix64
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [-1, 1).
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}

#[cfg(test)]
mod tests {
    use memwire::diff::{ByteRange, Differ, Path, touched};

    use super::*;

    #[test]
    fn every_path_reports_exactly_the_moved_positions() {
        let mut world = Entities::new(7);
        assert_eq!(world.schema().len(), 2 * ENTITIES);
        assert_eq!(world.schema().data_len() as usize, DATA_LEN);
        let mut shadows: Vec<Vec<u8>> = Path::available().map(|_| world.data().to_vec()).collect();
        let mut out = [ByteRange::default(); 4 * MOVED_PER_TICK];
        for _ in 0..20 {
            let moved = world.tick().to_vec();
            assert_eq!(moved.len(), MOVED_PER_TICK);
            assert!(moved.windows(2).all(|w| w[0] < w[1]));
            for (path, shadow) in Path::available().zip(&mut shadows) {
                let d = Differ::new().with_path(path).unwrap();
                let n = d.update(world.data(), shadow, &mut out, None).unwrap();
                let ids: Vec<VarId> = touched(world.schema(), &out[..n]).collect();
                assert_eq!(ids, moved, "{path}");
                assert_eq!(&shadow[..], world.data());
            }
        }
    }

    #[test]
    fn the_fast_path_agrees_with_the_full_scan() {
        let mut world = Entities::new(3);
        let mut full = world.data().to_vec();
        let mut fast = full.clone();
        let mut out_full = [ByteRange::default(); 4 * MOVED_PER_TICK];
        let mut out_fast = out_full;
        let d = Differ::new();
        for _ in 0..5 {
            world.tick();
            let n = d
                .update(world.data(), &mut full, &mut out_full, None)
                .unwrap();
            let m = d
                .update_moved(
                    world.data(),
                    &mut fast,
                    world.schema(),
                    world.moved().iter().copied(),
                    &mut out_fast,
                    None,
                )
                .unwrap();
            assert_eq!(out_full[..n], out_fast[..m]);
            assert_eq!(full, fast);
        }
    }
}
