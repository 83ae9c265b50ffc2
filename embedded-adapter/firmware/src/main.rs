//! The core's self tests on a Cortex-M4: region layout and checked views,
//! the seqlock, the portable diff, codec round trips, and a client and a
//! server exchanging a handshake and updates in memory.
//!
//! Built for the QEMU `mps2-an386` board; every check prints a line through
//! semihosting and the firmware exits with `EXIT_SUCCESS` when all passed,
//! `EXIT_FAILURE` otherwise (a panic exits with failure too). No heap: every
//! buffer is a `static` or on the stack.
#![no_std]
#![no_main]

mod codec;
mod diff;
mod layout;
mod schema;
mod seqlock;
mod session;

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use panic_semihosting as _;

/// Counts the checks and prints one line for each.
pub(crate) struct Report {
    passed: u32,
    failed: u32,
}

impl Report {
    /// Records check `name`: passed when `ok`.
    pub(crate) fn check(&mut self, name: &str, ok: bool) {
        if ok {
            self.passed += 1;
            hprintln!("ok   {}", name);
        } else {
            self.failed += 1;
            hprintln!("FAIL {}", name);
        }
    }

    /// Prints a section title.
    pub(crate) fn section(&self, name: &str) {
        hprintln!("-- {}", name);
    }
}

#[entry]
fn main() -> ! {
    let mut report = Report {
        passed: 0,
        failed: 0,
    };
    hprintln!(
        "memwire self tests on {}",
        "thumbv7em-none-eabihf (mps2-an386)"
    );
    layout::run(&mut report);
    seqlock::run(&mut report);
    diff::run(&mut report);
    codec::run(&mut report);
    session::run(&mut report);
    hprintln!("{} passed, {} failed", report.passed, report.failed);
    if report.failed == 0 && report.passed > 0 {
        debug::exit(debug::EXIT_SUCCESS);
    } else {
        debug::exit(debug::EXIT_FAILURE);
    }
    // Only reached when no debugger or emulator answers semihosting.
    loop {
        cortex_m::asm::wfi();
    }
}
