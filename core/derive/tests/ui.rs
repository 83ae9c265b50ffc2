//! Compile-fail cases: each `ui/*.rs` must fail with the errors in its
//! `.stderr` file. Regenerate those with `TRYBUILD=overwrite` after a
//! toolchain or message change, and read the diff.

#[test]
fn compile_fail() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
