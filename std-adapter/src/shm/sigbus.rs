//! Surviving a region file shrunk under its mappings.
//!
//! A load or store through a shared mapping of a file, at a page the file
//! no longer reaches, raises `SIGBUS`, whose default action kills the
//! process: any process allowed to write a region file could kill every
//! process mapping it with `truncate -s 0`. Regions are regular files, so
//! `memfd` seals (`F_SEAL_SHRINK`) cannot forbid the shrink; this module
//! survives it instead, as Wayland compositors do with the memory their
//! clients share with them (libwayland's `wl_shm_buffer_begin_access`).
//!
//! Every [`Mapping`](super::map::Mapping) registers its address range here
//! ([`Guard`]). A process-wide `SIGBUS` handler, installed with the first
//! registration, looks the faulting address up among the registered
//! ranges. Inside one, it marks that mapping truncated and maps anonymous
//! zero pages over the whole of it (`MAP_FIXED`, writable where the file's
//! pages were), then returns: the faulting
//! load or store runs again, on zeros, and completes. The handle that made
//! it checks the mark after every read and commit and reports
//! [`ShmError::Truncated`](super::ShmError::Truncated) instead of what it
//! copied. Outside every range, the fault is not ours: the handler gives it
//! to the handler installed before it (the Rust runtime's, or the default
//! action), so a real bug still crashes the process.
//!
//! A signal handler may not allocate or lock. The registered ranges are a
//! list of slots that are never freed, only reused: registering allocates
//! a slot when none is free, outside the handler; the handler only walks
//! the list with atomic loads. Each slot is a small seqlock, so a handler
//! that reads a slot while another thread reuses it never matches a range
//! half old and half new. A guard is dropped (the range unregistered)
//! before the pages are unmapped, so a range the handler finds is mapped.

use std::ptr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering, fence};

/// A slot's state word: the low bits say whether it is free, being
/// changed or active; the rest count its changes, so that a handler can
/// tell a slot it read twice from one reused in between.
const FREE: usize = 0;
const CHANGING: usize = 1;
const ACTIVE: usize = 2;
const STATUS: usize = 0b11;
const STEP: usize = 0b100;

/// One registered range.
struct Slot {
    state: AtomicUsize,
    start: AtomicUsize,
    len: AtomicUsize,
    /// How many bytes from the start are writable (a multiple of the page
    /// size, or `len`).
    writable: AtomicUsize,
    truncated: AtomicBool,
    /// The next slot of the list; set once, before the slot is published.
    next: AtomicPtr<Slot>,
}

/// Whether any mapping of this process was ever found truncated: set
/// before a mapping's own mark, never cleared. Reads look at it alone on
/// their fast path (one load of a word no store touches while all files
/// keep their length) and at their mapping's mark only once it is set.
static ANY_TRUNCATED: AtomicBool = AtomicBool::new(false);

/// Whether any mapping of this process may be truncated ([`ANY_TRUNCATED`]).
/// A relaxed load: a read calls it after the acquire fence that ends its
/// copy, so it is not satisfied before the copy's loads, and the handler
/// sets the flag before it maps the zeros a copy could see.
#[inline(always)]
pub(crate) fn any_truncated() -> bool {
    ANY_TRUNCATED.load(Ordering::Relaxed)
}

/// The head of the list of slots (slots are leaked, so every pointer in
/// the list stays valid for the life of the process).
static SLOTS: AtomicPtr<Slot> = AtomicPtr::new(ptr::null_mut());

/// The `SIGBUS` action that was installed before ours: what a fault
/// outside every registered range is given to.
static PREVIOUS: OnceLock<libc::sigaction> = OnceLock::new();

/// A registered range, unregistered on drop. Drop it before unmapping.
pub(crate) struct Guard {
    slot: &'static Slot,
}

impl Guard {
    /// Registers the `len` bytes at `start`, mapped from a file, of which
    /// the first `writable` bytes (whole pages, or all `len`) are mapped
    /// for writing, installing the handler on first use.
    pub(crate) fn new(start: *const u8, len: usize, writable: usize) -> Guard {
        install();
        let slot = claim();
        slot.start.store(start as usize, Ordering::Relaxed);
        slot.len.store(len, Ordering::Relaxed);
        slot.writable.store(writable, Ordering::Relaxed);
        slot.truncated.store(false, Ordering::Relaxed);
        let changing = slot.state.load(Ordering::Relaxed);
        slot.state
            .store((changing & !STATUS) + STEP + ACTIVE, Ordering::Release);
        Guard { slot }
    }

    /// Whether the file was found shrunk under the range: by a fault, after
    /// which the range holds zeros, or by [`mark_truncated`](Self::mark_truncated).
    #[inline]
    pub(crate) fn truncated(&self) -> bool {
        self.slot.truncated.load(Ordering::Acquire)
    }

    /// Marks the range truncated: its file was found shorter than the range
    /// (the pages it still reaches do not fault, but the data is gone).
    pub(crate) fn mark_truncated(&self) {
        ANY_TRUNCATED.store(true, Ordering::SeqCst);
        self.slot.truncated.store(true, Ordering::Release);
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let state = self.slot.state.load(Ordering::Relaxed);
        self.slot
            .state
            .store((state & !STATUS) + STEP + FREE, Ordering::Release);
    }
}

/// A free slot, now in the `CHANGING` state (a new one if none is free).
fn claim() -> &'static Slot {
    let mut at = SLOTS.load(Ordering::Acquire);
    // SAFETY: every pointer in the list comes from `Box::leak` below and
    // is never freed, so it is valid for `'static`.
    while let Some(slot) = unsafe { at.as_ref() } {
        let state = slot.state.load(Ordering::Relaxed);
        if state & STATUS == FREE
            && slot
                .state
                .compare_exchange(
                    state,
                    (state & !STATUS) + STEP + CHANGING,
                    Ordering::Acquire,
                    Ordering::Relaxed,
                )
                .is_ok()
        {
            // The seqlock's writer side: the new range is stored after
            // the state says `CHANGING`.
            fence(Ordering::Release);
            return slot;
        }
        at = slot.next.load(Ordering::Acquire);
    }
    let slot: &'static Slot = Box::leak(Box::new(Slot {
        state: AtomicUsize::new(CHANGING),
        start: AtomicUsize::new(0),
        len: AtomicUsize::new(0),
        writable: AtomicUsize::new(0),
        truncated: AtomicBool::new(false),
        next: AtomicPtr::new(ptr::null_mut()),
    }));
    let mut head = SLOTS.load(Ordering::Relaxed);
    loop {
        slot.next.store(head, Ordering::Relaxed);
        match SLOTS.compare_exchange_weak(
            head,
            ptr::from_ref(slot).cast_mut(),
            Ordering::Release,
            Ordering::Relaxed,
        ) {
            Ok(_) => return slot,
            Err(now) => head = now,
        }
    }
}

/// The active range holding `addr`: its start, length and how much of it
/// is writable, read consistently, and its slot.
fn find(addr: usize) -> Option<(&'static Slot, usize, usize, usize)> {
    let mut at = SLOTS.load(Ordering::Acquire);
    // SAFETY: as in `claim`: leaked slots, valid for `'static`.
    while let Some(slot) = unsafe { at.as_ref() } {
        let before = slot.state.load(Ordering::Acquire);
        if before & STATUS == ACTIVE {
            let start = slot.start.load(Ordering::Relaxed);
            let len = slot.len.load(Ordering::Relaxed);
            let writable = slot.writable.load(Ordering::Relaxed);
            fence(Ordering::Acquire);
            let after = slot.state.load(Ordering::Relaxed);
            if before == after && addr >= start && addr - start < len {
                return Some((slot, start, len, writable));
            }
        }
        at = slot.next.load(Ordering::Acquire);
    }
    None
}

/// Installs the handler once per process, keeping the action it replaces.
fn install() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        // SAFETY: `sigaction` is plain data; all zeros is a valid value
        // (no handler, empty mask, no flags) that the call below fills in.
        let mut previous: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let mut ours: libc::sigaction = unsafe { std::mem::zeroed() };
        ours.sa_sigaction = on_sigbus as *const () as libc::sighandler_t;
        // SA_ONSTACK: the runtime's handler we may chain to expects the
        // alternate stack it set up for stack overflows.
        ours.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        // Read the current action first, so that `PREVIOUS` is set before
        // ours can run.
        // SAFETY: a null new action only reads the current one into
        // `previous`, a valid, writable `sigaction`.
        let read = unsafe { libc::sigaction(libc::SIGBUS, ptr::null(), &mut previous) };
        if read != 0 {
            tracing::warn!(
                "reading the SIGBUS action failed; a truncated region file will kill this process"
            );
            return;
        }
        let _ = PREVIOUS.set(previous);
        // SAFETY: `ours` is a valid action whose handler has the
        // `SA_SIGINFO` signature and is async-signal-safe (see `on_sigbus`).
        let set = unsafe { libc::sigaction(libc::SIGBUS, &ours, ptr::null_mut()) };
        if set != 0 {
            tracing::warn!(
                "installing the SIGBUS handler failed; a truncated region file will kill this process"
            );
        }
    });
}

/// The `SIGBUS` handler. Async-signal-safe: atomic loads and stores,
/// `mmap` and `sigaction` (both async-signal-safe system calls), no
/// allocation, no lock.
extern "C" fn on_sigbus(
    signal: libc::c_int,
    info: *mut libc::siginfo_t,
    context: *mut libc::c_void,
) {
    // SAFETY: the kernel passes a valid `siginfo_t` to an `SA_SIGINFO`
    // handler, alive for the handler's run.
    let info_ref = unsafe { &*info };
    // SAFETY: for `SIGBUS` the kernel fills `si_addr` with the faulting
    // address, which is what this union field is read as.
    let addr = unsafe { info_ref.si_addr() } as usize;
    if let Some((slot, start, len, writable)) = find(addr) {
        // Marked before the zeros appear: a thread of this process that
        // reads the zeros sees the mark when it checks after its copy.
        ANY_TRUNCATED.store(true, Ordering::SeqCst);
        slot.truncated.store(true, Ordering::SeqCst);
        // The writable part keeps its permission, so that a store the
        // mapping allowed (a reader's to its header) does not fault again;
        // it is mapped first, as it is what other threads store to.
        let parts = [
            (start, writable.min(len), libc::PROT_READ | libc::PROT_WRITE),
            (
                start + writable,
                len.saturating_sub(writable),
                libc::PROT_READ,
            ),
        ];
        let mut mapped = true;
        for (at, part, protection) in parts {
            if part == 0 {
                continue;
            }
            // SAFETY: `at..at + part` lies within `start..start + len`, a
            // registered mapping, which its guard keeps mapped (it is
            // unregistered before it is unmapped), and `at` is page-aligned
            // (`writable` is whole pages), so `MAP_FIXED` replaces only
            // our own pages. Private anonymous pages hold zeros; the owner
            // unmaps them as it would have the file's.
            let done = unsafe {
                libc::mmap(
                    at as *mut libc::c_void,
                    part,
                    protection,
                    libc::MAP_FIXED | libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            mapped &= done != libc::MAP_FAILED;
        }
        if mapped {
            return;
        }
    }
    chain(signal, info, context);
}

/// Gives a fault that is not ours to the action installed before ours; the
/// default action (or an ignored `SIGBUS`, which the kernel does not allow
/// for a fault) is restored, so that the faulting instruction, run again on
/// return, ends the process as it would have without us.
fn chain(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    let Some(previous) = PREVIOUS.get() else {
        restore_default(signal);
        return;
    };
    let handler = previous.sa_sigaction;
    if handler == libc::SIG_DFL || handler == libc::SIG_IGN {
        restore_default(signal);
    } else if previous.sa_flags & libc::SA_SIGINFO != 0 {
        type Action = extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void);
        // SAFETY: with `SA_SIGINFO` the previous action's handler has the
        // three-argument signature.
        let action = unsafe { std::mem::transmute::<libc::sighandler_t, Action>(handler) };
        action(signal, info, context);
    } else {
        type Handler = extern "C" fn(libc::c_int);
        // SAFETY: without `SA_SIGINFO` the previous action's handler has
        // the one-argument signature.
        let action = unsafe { std::mem::transmute::<libc::sighandler_t, Handler>(handler) };
        action(signal);
    }
}

fn restore_default(signal: libc::c_int) {
    // SAFETY: all zeros is a valid `sigaction`; `SIG_DFL` is 0.
    let mut default: libc::sigaction = unsafe { std::mem::zeroed() };
    default.sa_sigaction = libc::SIG_DFL;
    // SAFETY: `default` is a valid action (the default one).
    let _ = unsafe { libc::sigaction(signal, &default, ptr::null_mut()) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shm::map::{Access, Mapping};
    use memwire::sync::Ordering as Order;
    use std::io::Write;

    /// A new, empty file `region` in a directory of its own (the
    /// directory goes when the test ends).
    fn new_file() -> (tempfile::TempDir, std::fs::File) {
        let dir = tempfile::tempdir().unwrap();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(dir.path().join("region"))
            .unwrap();
        (dir, file)
    }

    /// A file mapped, then truncated: loads through the words, which would
    /// raise `SIGBUS`, read zeros, and the mapping is marked truncated.
    #[test]
    fn a_load_past_the_end_of_a_truncated_file_reads_zeros_and_marks_it() {
        let (dir, mut file) = new_file();
        let path = dir.path().join("region");
        let len = 4 * 4096;
        file.write_all(&vec![0xA5; len]).unwrap();
        let mapping = Mapping::new(&file, len as u64, Access::Write, &path).unwrap();
        let words = mapping.words();
        assert_eq!(words[len / 4 - 1].load(Order::Relaxed), 0xA5A5_A5A5);
        assert!(!mapping.truncated());

        file.set_len(4096).unwrap();
        // The first page is still in the file; the last one is not.
        assert_eq!(words[0].load(Order::Relaxed), 0xA5A5_A5A5);
        assert_eq!(words[len / 4 - 1].load(Order::Relaxed), 0);
        assert!(mapping.truncated());
        // The whole range is zeros now, and stores complete.
        assert_eq!(words[0].load(Order::Relaxed), 0);
        words[len / 4 - 1].store(7, Order::Relaxed);
        drop(mapping);
    }

    /// A store faults too, and completes on the zero pages.
    #[test]
    fn a_store_past_the_end_of_a_truncated_file_completes() {
        let (dir, file) = new_file();
        let path = dir.path().join("region");
        let len = 2 * 4096;
        file.set_len(len as u64).unwrap();
        let mapping = Mapping::new(&file, len as u64, Access::Write, &path).unwrap();
        file.set_len(0).unwrap();
        mapping.words()[len / 4 - 1].store(9, Order::Relaxed);
        assert!(mapping.truncated());
    }

    /// A reader's mapping, whose header page alone is writable: after the
    /// file is cut, a store to the header (a pause request) still
    /// completes, on the zeros mapped with the header's permission.
    #[test]
    fn a_readers_header_stays_writable_after_a_truncation() {
        let (dir, file) = new_file();
        let path = dir.path().join("region");
        let len = 4 * 4096;
        file.set_len(len as u64).unwrap();
        let mapping = Mapping::new(&file, len as u64, Access::Header, &path).unwrap();
        let pause = &mapping.words()[37];
        assert_eq!(
            pause.compare_exchange(0, 5, Order::AcqRel, Order::Relaxed),
            Ok(0)
        );
        file.set_len(0).unwrap();
        assert_eq!(mapping.words()[len / 4 - 1].load(Order::Relaxed), 0);
        assert!(mapping.truncated());
        assert_eq!(
            pause.compare_exchange(0, 6, Order::AcqRel, Order::Relaxed),
            Ok(0)
        );
    }

    /// A slot freed by a dropped mapping is reused, and a range no longer
    /// registered is not found.
    #[test]
    fn an_unregistered_range_is_not_found() {
        let bytes = [0u8; 64];
        let start = bytes.as_ptr();
        let guard = Guard::new(start, bytes.len(), 0);
        assert!(find(start as usize + 10).is_some());
        assert!(find(start as usize + 64).is_none());
        drop(guard);
        assert!(find(start as usize + 10).is_none());
    }
}
