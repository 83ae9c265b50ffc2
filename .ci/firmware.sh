#!/usr/bin/env bash
# The core's self tests as firmware on an emulated Cortex-M4 (QEMU
# mps2-an386, semihosting): builds embedded-adapter/firmware in release, runs
# it, fails unless every check passed, and prints its section sizes beside
# those of a baseline firmware without memwire built in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET=thumbv7em-none-eabihf
FIRMWARE=embedded-adapter/firmware
# The firmware is its own workspace; keep its build beside the others.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target/firmware}"

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
if ! command -v qemu-system-arm >/dev/null; then
    $sudo apt-get update
    $sudo apt-get install -y --no-install-recommends qemu-system-arm
fi
rustup target add "$TARGET"

(cd "$FIRMWARE" && cargo build --release --locked)
elf="$CARGO_TARGET_DIR/$TARGET/release/memwire-firmware"

status=0
timeout 120 qemu-system-arm -cpu cortex-m4 -machine mps2-an386 -nographic \
    -semihosting-config enable=on,target=native -kernel "$elf" || status=$?
if [ "$status" -ne 0 ]; then
    echo "firmware self tests failed (exit status $status)" >&2
    exit "$status"
fi

size=arm-none-eabi-size
if ! command -v "$size" >/dev/null; then
    # Host binutils read any 32-bit little-endian ELF.
    size=size
fi
if ! command -v "$size" >/dev/null; then
    $sudo apt-get update
    $sudo apt-get install -y --no-install-recommends binutils-arm-none-eabi
    size=arm-none-eabi-size
fi

# Prints the sections that take flash or static RAM, and their sums.
sections() {
    "$size" -A "$1" | awk '
        $1 ~ /^\.(vector_table|text|rodata|data|bss|uninit)$/ {
            size[$1] = $2
            printf "%-14s %8d\n", $1, $2
        }
        END {
            flash = size[".vector_table"] + size[".text"] + size[".rodata"] + size[".data"]
            ram = size[".data"] + size[".bss"] + size[".uninit"]
            printf "flash          %8d (%.1f KiB)\n", flash, flash / 1024
            printf "static RAM     %8d (%.1f KiB)\n", ram, ram / 1024
        }'
}

echo "-- self-test firmware sections (bytes)"
sections "$elf"
echo "-- baseline: the same runtime without memwire (bytes)"
sections "$CARGO_TARGET_DIR/$TARGET/release/baseline"
