//! The library half of the `memwire` tool: the forms in which the tool
//! shows and reads values.
//!
//! - [`value`]: a variable's value as text and as JSON, what `memwire get`,
//!   `set`, `watch` and `dump` print and accept.
//! - [`recording`]: the MCAP files of `memwire record`, `replay` and
//!   `export` (`docs/recording.md`).
//!
//! A library rather than a module of the binary: the value forms keep their
//! example run as a doctest, and their whole interface, including the JSON
//! reader ([`value::from_json`]) that the tests check the writer against.
//!
//! The commands are the `memwire` binary of this package (`src/main.rs`,
//! one file per command under `src/cmd/`); `docs/cli.md` is the user's
//! guide. Install it with `cargo install --locked --path cli`.

pub mod recording;
pub mod value;
