//! Logging macros that go to defmt (feature `defmt`), to the `log` facade
//! (feature `log`), or nowhere: embassy's `fmt.rs` pattern, so the crate
//! names one set of macros whatever the firmware logs with.
//!
//! Format strings use only what both back ends accept (`{}` and `{:?}`),
//! and every argument implements `Display`/`Debug` and `defmt::Format`.
#![allow(unused_macros)]

#[cfg(all(feature = "defmt", feature = "log"))]
compile_error!("memwire-embassy: enable at most one of the `defmt` and `log` features");

macro_rules! log_to {
    ($level:ident, $s:literal $(, $x:expr)* $(,)?) => {{
        #[cfg(feature = "defmt")]
        ::defmt::$level!($s $(, $x)*);
        #[cfg(feature = "log")]
        ::log::$level!($s $(, $x)*);
        #[cfg(not(any(feature = "defmt", feature = "log")))]
        {
            // Evaluated for their side effects only, as the back ends do.
            $( let _ = &$x; )*
        }
    }};
}

macro_rules! trace {
    ($($t:tt)*) => { log_to!(trace, $($t)*) };
}

macro_rules! debug {
    ($($t:tt)*) => { log_to!(debug, $($t)*) };
}

macro_rules! info {
    ($($t:tt)*) => { log_to!(info, $($t)*) };
}

macro_rules! warn {
    ($($t:tt)*) => { log_to!(warn, $($t)*) };
}

macro_rules! error {
    ($($t:tt)*) => { log_to!(error, $($t)*) };
}
