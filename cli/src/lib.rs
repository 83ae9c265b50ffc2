//! The library half of the `memwire` tool: the forms in which the tool
//! shows and reads values.
//!
//! - [`value`]: a variable's value as text and as JSON, what `memwire get`,
//!   `set`, `watch` and `dump` print and accept.
//!
//! The commands are the `memwire` binary of this package (`src/main.rs`,
//! one file per command under `src/cmd/`); `docs/cli.md` is the user's
//! guide. Install it with `cargo install --path cli`.

pub mod value;
