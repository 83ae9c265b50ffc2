//! The change shapes of the range comparison (`benches/benches/workloads.rs`,
//! issue 23): seven workloads, each a data area and a seeded tick that
//! changes it as a real publisher would. Every run with the same seed makes
//! the same bytes, so the bytes per tick they cost are exact figures.
//!
//! | [`Shape`] | data area | a tick |
//! | --- | --- | --- |
//! | `Scalars` | 1,000 `f64` | 50 of them (5%) move by less than 0.01 |
//! | `Robot` | 50 variables, 838 bytes | 16 `u32` counters +1, a timestamp, 2 of 4 poses, 6 of 64 joints (position and velocity), the battery; a status byte every 8 ticks |
//! | `Counter` | one `u64` | +1 |
//! | `OneByte` | 1 MiB | one byte somewhere |
//! | `Half` | 10,000 `u32` | 5,000 of them take new values |
//! | `Sorted` | 4,096 sorted `i32` | one value inserted in order, the largest dropped |
//! | `Entities` | [`Entities`] | 1% of 10,000 positions move |
//!
//! ```
//! use memwire_benches::workloads::{Shape, Workload};
//!
//! let mut w = Workload::new(Shape::Counter, 1);
//! let before = w.data().to_vec();
//! w.tick();
//! assert_eq!(w.data().len(), 8);
//! assert_ne!(w.data(), &before[..]);
//! ```

use crate::entities::Entities;

/// Which change shape a [`Workload`] makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// 1,000 `f64` scalars, 5% change slightly per tick.
    Scalars,
    /// A robot's state: counters, a timestamp, poses and joints.
    Robot,
    /// One `u64` counter.
    Counter,
    /// One byte changing in a 1 MiB region.
    OneByte,
    /// 10,000 `u32`, half of them changing per tick.
    Half,
    /// 4,096 sorted `i32`, one insertion per tick (a shift).
    Sorted,
    /// The entity workload of `entities.rs`.
    Entities,
}

impl Shape {
    /// Every shape, in the order of the report.
    pub const ALL: [Shape; 7] = [
        Shape::Scalars,
        Shape::Robot,
        Shape::Counter,
        Shape::OneByte,
        Shape::Half,
        Shape::Sorted,
        Shape::Entities,
    ];

    /// The shape as the report names it.
    pub fn name(self) -> &'static str {
        match self {
            Shape::Scalars => "1,000 f64 scalars, 5% change slightly",
            Shape::Robot => "robot state, 50 mixed variables",
            Shape::Counter => "one u64 counter",
            Shape::OneByte => "one byte in a 1 MiB region",
            Shape::Half => "10,000 u32, half change",
            Shape::Sorted => "4,096 sorted i32, one insertion",
            Shape::Entities => "entities, 1% of 10,000 move",
        }
    }
}

/// Robot layout: 16 `u32` counters, then a `u64` timestamp, 4 poses of 7
/// `f64` (position and quaternion), 64 `f32` joint positions, 64 `f32`
/// joint velocities, an `f32` battery voltage and 26 status bytes.
mod robot {
    pub(super) const COUNTERS: usize = 0;
    pub(super) const STAMP: usize = COUNTERS + 16 * 4;
    pub(super) const POSES: usize = STAMP + 8;
    pub(super) const POSE_LEN: usize = 7 * 8;
    pub(super) const JOINTS: usize = POSES + 4 * POSE_LEN;
    pub(super) const VELOCITIES: usize = JOINTS + 64 * 4;
    pub(super) const BATTERY: usize = VELOCITIES + 64 * 4;
    pub(super) const STATUS: usize = BATTERY + 4;
    pub(super) const LEN: usize = STATUS + 26;
}

/// One workload: its data area and the generator of its ticks.
#[derive(Clone, Debug)]
pub struct Workload {
    shape: Shape,
    data: Vec<u8>,
    entities: Option<Entities>,
    rng: u64,
    ticks: u64,
}

impl Workload {
    /// The workload of `shape`, its first values drawn from `seed`.
    pub fn new(shape: Shape, seed: u64) -> Workload {
        let mut w = Workload {
            shape,
            data: Vec::new(),
            entities: None,
            rng: seed,
            ticks: 0,
        };
        w.data = match shape {
            Shape::Scalars => (0..1000)
                .flat_map(|_| (w.unit() * 200.0 - 100.0).to_le_bytes())
                .collect(),
            Shape::Robot => {
                let mut data = vec![0u8; robot::LEN];
                for i in robot::POSES / 8..robot::JOINTS / 8 {
                    put(&mut data, 8 * i, &(w.unit() * 4.0 - 2.0).to_le_bytes());
                }
                for i in robot::JOINTS / 4..robot::BATTERY / 4 {
                    put(
                        &mut data,
                        4 * i,
                        &((w.unit() * 6.0 - 3.0) as f32).to_le_bytes(),
                    );
                }
                put(&mut data, robot::BATTERY, &48.0f32.to_le_bytes());
                data
            }
            Shape::Counter => vec![0u8; 8],
            Shape::OneByte => vec![0u8; 1 << 20],
            Shape::Half => (0..10_000)
                .flat_map(|_| (w.next() as u32).to_le_bytes())
                .collect(),
            Shape::Sorted => {
                let mut values: Vec<i32> = (0..4096).map(|_| w.next() as i32).collect();
                values.sort_unstable();
                values.iter().flat_map(|v| v.to_le_bytes()).collect()
            }
            Shape::Entities => {
                let world = Entities::new(seed);
                let data = world.data().to_vec();
                w.entities = Some(world);
                data
            }
        };
        w
    }

    /// The shape this workload makes.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// The data area as it is now.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Changes the data area as one tick of the workload does.
    pub fn tick(&mut self) {
        self.ticks += 1;
        match self.shape {
            Shape::Scalars => {
                for i in self.distinct(1000, 50) {
                    let x = self.f64_at(8 * i) + (self.unit() - 0.5) * 0.01;
                    put(&mut self.data, 8 * i, &x.to_le_bytes());
                }
            }
            Shape::Robot => self.robot_tick(),
            Shape::Counter => {
                let n = self.u64_at(0) + 1;
                put(&mut self.data, 0, &n.to_le_bytes());
            }
            Shape::OneByte => {
                let at = self.below(self.data.len());
                let flip = 1 + self.below(255) as u8;
                if let Some(b) = self.data.get_mut(at) {
                    *b ^= flip;
                }
            }
            Shape::Half => {
                for i in self.distinct(10_000, 5_000) {
                    let v = self.next() as u32;
                    put(&mut self.data, 4 * i, &v.to_le_bytes());
                }
            }
            Shape::Sorted => {
                let mut values: Vec<i32> = self
                    .data
                    .chunks_exact(4)
                    .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
                let v = self.next() as i32;
                let at = values.partition_point(|&x| x < v);
                values.insert(at, v);
                values.pop();
                self.data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            }
            Shape::Entities => {
                if let Some(world) = self.entities.as_mut() {
                    world.tick();
                    self.data.copy_from_slice(world.data());
                }
            }
        }
    }

    fn robot_tick(&mut self) {
        use robot::*;
        for i in 0..16 {
            let at = COUNTERS + 4 * i;
            let n = self.u32_at(at).wrapping_add(1);
            put(&mut self.data, at, &n.to_le_bytes());
        }
        // 100 Hz in nanoseconds.
        let stamp = self.u64_at(STAMP) + 10_000_000;
        put(&mut self.data, STAMP, &stamp.to_le_bytes());
        for pose in self.distinct(4, 2) {
            for k in 0..7 {
                let at = POSES + POSE_LEN * pose + 8 * k;
                let x = self.f64_at(at) + (self.unit() - 0.5) * 0.002;
                put(&mut self.data, at, &x.to_le_bytes());
            }
        }
        for joint in self.distinct(64, 6) {
            for base in [JOINTS, VELOCITIES] {
                let at = base + 4 * joint;
                let x = self.f32_at(at) + ((self.unit() - 0.5) * 0.02) as f32;
                put(&mut self.data, at, &x.to_le_bytes());
            }
        }
        let volts = self.f32_at(BATTERY) - 0.0001;
        put(&mut self.data, BATTERY, &volts.to_le_bytes());
        if self.ticks.is_multiple_of(8) {
            let at = STATUS + self.below(26);
            if let Some(b) = self.data.get_mut(at) {
                *b ^= 1;
            }
        }
    }

    /// `count` distinct indices below `n`, in ascending order.
    fn distinct(&mut self, n: usize, count: usize) -> Vec<usize> {
        let mut all: Vec<usize> = (0..n).collect();
        for i in 0..count {
            let j = i + self.below(n - i);
            all.swap(i, j);
        }
        all.truncate(count);
        all.sort_unstable();
        all
    }

    fn f64_at(&self, at: usize) -> f64 {
        f64::from_le_bytes(self.bytes(at))
    }

    fn u64_at(&self, at: usize) -> u64 {
        u64::from_le_bytes(self.bytes(at))
    }

    fn f32_at(&self, at: usize) -> f32 {
        f32::from_le_bytes(self.bytes(at))
    }

    fn u32_at(&self, at: usize) -> u32 {
        u32::from_le_bytes(self.bytes(at))
    }

    fn bytes<const N: usize>(&self, at: usize) -> [u8; N] {
        let mut out = [0u8; N];
        out.copy_from_slice(&self.data[at..at + N]);
        out
    }

    /// splitmix64.
    fn next(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn put(data: &mut [u8], at: usize, bytes: &[u8]) {
    data[at..at + bytes.len()].copy_from_slice(bytes);
}
