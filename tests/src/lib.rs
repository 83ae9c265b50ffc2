//! End-to-end tests of memwire live in `tests/tests/`; this library holds
//! what they share.
