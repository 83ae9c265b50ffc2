//! memwire for Python: the native module `memwire._native`, which the
//! `memwire` package (`python-src/memwire/`) re-exports.
//!
//! Every class wraps the Rust API of `memwire-std`; nothing of the region
//! format, the seqlock or the protocol is done again here.
//!
//! - `region.rs`: `Region`, a shared region opened for
//!   reading; `writer.rs`: `Writer`, one held for
//!   writing; `reads.rs`: the reads both share.
//! - `watcher.rs`: change events, `Watcher` and
//!   `Change`, blocking or as an `asyncio` iterator
//!   (whose waiting is `memwire/_aio.py`).
//! - `client.rs`: `connect` and `Client`,
//!   on a tokio runtime of the binding's own; `mirror.rs`:
//!   `Mirror` and its change events.
//! - `value.rs`: Python values to and from a variable's bytes; `schema.rs`:
//!   schemas given as lists or dicts.
//! - `errors.rs`: the exception hierarchy and the mapping of Rust errors
//!   to it.
//!
//! Every call that can wait (a read behind a write in progress, a commit,
//! a wait for changes, a round trip to the hub) releases the GIL.

mod client;
mod errors;
mod mirror;
mod reads;
mod region;
mod schema;
mod value;
mod watcher;
mod writer;

use pyo3::prelude::*;

/// The native half of the `memwire` package.
#[pymodule]
#[pyo3(name = "_native")]
fn native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<region::Region>()?;
    m.add_class::<writer::Writer>()?;
    m.add_class::<watcher::Watcher>()?;
    m.add_class::<watcher::Change>()?;
    m.add_class::<client::Client>()?;
    m.add_class::<mirror::Mirror>()?;
    m.add_class::<mirror::MirrorChanges>()?;
    m.add_function(wrap_pyfunction!(client::connect, m)?)?;
    errors::register(m)?;
    Ok(())
}
