#!/usr/bin/env bash
# The core's self tests as firmware on an emulated Cortex-M4 (QEMU
# mps2-an386, semihosting): builds embedded-adapter/firmware in release, runs
# it, fails unless every check passed, and prints its section sizes beside
# those of a baseline firmware without memwire built in the same run.
# Then the device firmware (bin `client`: the embassy-net client publishing
# a 1 KiB region): runs it until its runner tries the hub, with and without
# defmt (the defmt run's output decoded by defmt-print), prints its sizes
# against issue 7's footprint targets (64 KiB of flash, 24 KiB of static
# RAM), and fails if it misses one.
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

release="$CARGO_TARGET_DIR/$TARGET/release"

# Runs a firmware under QEMU; fails the script unless it exits with 0.
run() {
    local what=$1 elf=$2 status=0
    timeout 120 qemu-system-arm -cpu cortex-m4 -machine mps2-an386 -nographic \
        -semihosting-config enable=on,target=native -kernel "$elf" || status=$?
    if [ "$status" -ne 0 ]; then
        echo "$what failed (exit status $status)" >&2
        exit "$status"
    fi
}

run "firmware self tests" "$elf"
# The device exits with 0 once its memwire runner has sent a TCP SYN to
# the hub over the stand-in network driver.
run "client firmware" "$release/client"

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
sections "$release/baseline"
echo "-- client: embassy-net client, 1 KiB published region (bytes)"
sections "$release/client"
cp "$release/client" "$release/client-plain"

# The same device logging through defmt; built over the plain one, so it
# is measured after it. Its semihosting output is defmt frames: the run
# pipes them through defmt-print and fails unless the decoded text has the
# runner's "connecting" line and the one the firmware prints when the
# runner's SYN reaches the hub.
# defmt-print 1.x decodes the wire format of defmt 1.x (Cargo.lock).
if ! command -v defmt-print >/dev/null; then
    # Its own temporary target dir, not the firmware's.
    env -u CARGO_TARGET_DIR cargo install --locked defmt-print --version '^1'
fi
# defmt's compile-time filter: the runner's messages (debug and up) and the
# other crates' warnings.
(cd "$FIRMWARE" && DEFMT_LOG=warn,memwire_embassy=debug \
    cargo build --release --locked --bin client --features defmt)
decoded="$release/client-defmt.log"
# pipefail: a failed QEMU run or decode fails the script.
run "client firmware (defmt)" "$release/client" | defmt-print -e "$release/client" | tee "$decoded"
# The runner's own log line, through defmt, then the firmware's.
for expected in "DEBUG memwire: connecting to 192.168.7.1:7878" \
    "client: the memwire runner sent its TCP SYN to the hub"; do
    if ! grep -qxF "$expected" "$decoded"; then
        echo "client firmware (defmt): the decoded output lacks \"$expected\"" >&2
        exit 1
    fi
done
echo "-- client with defmt (bytes)"
sections "$release/client"

# Issue 7's footprint targets, on the plain device build: at most 64 KiB
# of flash and 24 KiB of static RAM (there is no heap: no allocator is
# linked).
read -r flash ram < <("$size" -A "$release/client-plain" | awk '
    $1 ~ /^\.(vector_table|text|rodata|data)$/ { flash += $2 }
    $1 ~ /^\.(data|bss|uninit)$/ { ram += $2 }
    END { print flash + 0, ram + 0 }')
echo "client firmware: flash $flash B (target $((64 * 1024)) B), static RAM $ram B (target $((24 * 1024)) B)"
fail=0
if [ "$flash" -gt $((64 * 1024)) ]; then
    echo "client firmware: flash $flash B exceeds the 64 KiB target" >&2
    fail=1
fi
if [ "$ram" -gt $((24 * 1024)) ]; then
    echo "client firmware: static RAM $ram B exceeds the 24 KiB target" >&2
    fail=1
fi
exit "$fail"
