//! Shared workloads for the benchmarks in `benches/benches/`.

pub mod entities;
pub mod paired;
pub mod paths;
pub mod updates;
pub mod workloads;
