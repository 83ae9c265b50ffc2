//! memwire on microcontrollers.
//!
//! This crate will hold the embassy-net client. For now it re-exports the
//! core, which builds for `thumbv6m-none-eabi`, `thumbv7em-none-eabihf` and
//! `riscv32imac-unknown-none-elf` with no heap.
#![no_std]

pub use memwire as core;
