//! Shared workloads for the benchmarks in `benches/benches/`.

pub mod entities;
pub mod paired;
pub mod updates;
