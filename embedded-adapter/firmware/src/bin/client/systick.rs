//! embassy-time's driver on the Cortex-M SysTick: a 1 kHz tick
//! (embassy-time's `tick-hz-1_000`), counted in 64 bits, and one timer
//! queue that the tick interrupt drains.
//!
//! Any Cortex-M has a SysTick, so this runs on the QEMU `mps2-an386`
//! board, which has no timer embassy supports. A real device would use
//! its HAL's driver: a free-running timer with a compare interrupt lets
//! the core sleep until the next deadline instead of waking every
//! millisecond.

use core::cell::{Cell, RefCell};
use core::task::Waker;

use cortex_m::peripheral::SYST;
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::exception;
use critical_section::{CriticalSection, Mutex};
use embassy_time_driver::Driver;
use embassy_time_queue_utils::Queue;

/// The board's CPU clock, which the SysTick counts (QEMU's `mps2-an386`
/// runs its Cortex-M4 at 25 MHz).
const CPU_HZ: u32 = 25_000_000;

/// The SysTick reload value for one tick.
const RELOAD: u32 = CPU_HZ / embassy_time_driver::TICK_HZ as u32 - 1;

/// Ticks since [`start`], the queued timers and the tick at which the
/// queue next needs draining.
struct SysTickDriver {
    ticks: Mutex<Cell<u64>>,
    alarm: Mutex<Cell<u64>>,
    queue: Mutex<RefCell<Queue>>,
}

impl SysTickDriver {
    /// Wakes the timers due at `now` and returns when the next one is.
    fn drain(&self, cs: CriticalSection<'_>, now: u64) {
        let next = self.queue.borrow_ref_mut(cs).next_expiration(now);
        self.alarm.borrow(cs).set(next);
    }

    /// One tick: advances the clock and wakes the timers that are due.
    fn tick(&self) {
        critical_section::with(|cs| {
            let ticks = self.ticks.borrow(cs);
            let now = ticks.get() + 1;
            ticks.set(now);
            if now >= self.alarm.borrow(cs).get() {
                self.drain(cs, now);
            }
        });
    }
}

impl Driver for SysTickDriver {
    fn now(&self) -> u64 {
        critical_section::with(|cs| self.ticks.borrow(cs).get())
    }

    fn schedule_wake(&self, at: u64, waker: &Waker) {
        critical_section::with(|cs| {
            if self.queue.borrow_ref_mut(cs).schedule_wake(at, waker) {
                // The new timer may be the earliest; a timer already due
                // is woken here rather than a tick late.
                self.drain(cs, self.ticks.borrow(cs).get());
            }
        });
    }
}

embassy_time_driver::time_driver_impl!(static DRIVER: SysTickDriver = SysTickDriver {
    ticks: Mutex::new(Cell::new(0)),
    alarm: Mutex::new(Cell::new(u64::MAX)),
    queue: Mutex::new(RefCell::new(Queue::new())),
});

/// Starts the tick: the SysTick counts the CPU clock and interrupts once
/// per embassy-time tick.
pub(crate) fn start(mut syst: SYST) {
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(RELOAD);
    syst.clear_current();
    syst.enable_interrupt();
    syst.enable_counter();
}

#[exception]
fn SysTick() {
    DRIVER.tick();
}
