//! The footprint baseline: the same runtime, semihosting output and panic
//! handler as the self tests, and no memwire. Prints one line and exits.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use panic_semihosting as _;

#[entry]
fn main() -> ! {
    // Formatted at run time, as the self tests print their lines.
    let (what, count) = core::hint::black_box(("checks", 0u32));
    hprintln!("baseline: {} {}", count, what);
    debug::exit(debug::EXIT_SUCCESS);
    loop {
        cortex_m::asm::wfi();
    }
}
