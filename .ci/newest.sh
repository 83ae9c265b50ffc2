#!/usr/bin/env bash
# The workspace against the newest dependency versions its manifests allow,
# as a user's `cargo add memwire-std` resolves them: a scratch copy of the
# workspace (the files git knows, committed or not), `cargo update` there,
# then `cargo check` of every target with warnings as errors. The
# repository's own Cargo.lock is left as it is.
#
# A check, not a build: it finds what the newest versions break or
# deprecate, and takes a fraction of a build's time in a warm cache.
set -euo pipefail
cd "$(dirname "$0")/.."

# The scratch copy's builds, kept between runs like the others.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target/newest}"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' file; do
        # Files deleted in the work tree but still in the index.
        if [ -e "$file" ]; then printf '%s\0' "$file"; fi
    done |
    tar --null --files-from=- -cf - | tar -xf - -C "$scratch"

cd "$scratch"
# Prints each version that moves ("Updating rustls v0.23.46 -> v0.23.x").
cargo update
RUSTFLAGS="-D warnings" cargo check --workspace --all-targets
