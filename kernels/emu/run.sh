#!/usr/bin/env bash
# Compiles kernels/*.cu with g++ against a CPU emulation of CUDA (cuda_emu.h)
# and runs every kernel on awkward sizes against reference loops. Needs g++ ≥ 11
# (C++20 <barrier>); no GPU, no CUDA. Catches indexing, bounds, tiling and
# typing mistakes before a GPU is at hand; it measures nothing.
set -euo pipefail
cd "$(dirname "$0")"
out=$(mktemp -d)
pids=()
for f in matmul unary binary reduce index cast random adam; do
    g++ -std=c++20 -O1 -ffp-contract=off -pthread -Wall -Wno-unknown-pragmas -Wno-unused-function -c "emu_$f.cpp" -o "$out/$f.o" &
    pids+=($!)
done
g++ -std=c++20 -O1 -pthread -Wall -Wno-unknown-pragmas -c check.cpp -o "$out/check.o" &
pids+=($!)
mkdir "$out/replay"
g++ -std=c++20 -O1 -pthread -Wall -Wno-unknown-pragmas -c replay.cpp -o "$out/replay/replay.o" &
pids+=($!)
for p in "${pids[@]}"; do wait "$p"; done  # each compile's status counts (set -e)
g++ -pthread "$out"/*.o -o "$out/check"
"$out/check"
# The CPU backend against the same kernels, on random cases it computed
# (examples/emu_cases.rs); GRADGRAD_EMU_CASES=5000 bash kernels/emu/run.sh for a longer run.
if command -v cargo >/dev/null; then
    g++ -pthread $(ls "$out"/*.o | grep -v '/check\.o$') "$out/replay/replay.o" -o "$out/replay/replay"
    cargo run --quiet --example emu_cases -- "$out/replay/cases.txt" "${GRADGRAD_EMU_CASES:-300}"
    "$out/replay/replay" "$out/replay/cases.txt"
else
    echo "replay of the CPU backend's random cases skipped: no cargo to write them"
fi
