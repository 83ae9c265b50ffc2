#!/usr/bin/env bash
# Runs the core's diff tests (portable and NEON paths) for aarch64 under
# user-mode QEMU. Installs the emulator, the cross linker and the Rust target
# when they are missing.
set -euo pipefail

cd "$(dirname "$0")/.."

TARGET=aarch64-unknown-linux-gnu

if ! command -v qemu-aarch64 >/dev/null || ! command -v aarch64-linux-gnu-gcc >/dev/null \
    || [ ! -d /usr/aarch64-linux-gnu/lib ]; then
    sudo_cmd=""
    if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
    $sudo_cmd apt-get update
    $sudo_cmd apt-get install -y qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross
fi

if ! rustup target list --installed | grep -qx "$TARGET"; then
    rustup target add "$TARGET"
fi

export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu"

# Without and with `std`: compile-time NEON, then run-time detection.
# Both passes run the same NEON kernel, so the multi-MiB regions (minutes
# under emulation) are checked once, in the second.
cargo test -p memwire --lib --target "$TARGET" diff -- --skip large_regions_match_the_reference
cargo test -p memwire --lib --target "$TARGET" --features std diff
