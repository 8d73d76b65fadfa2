#!/usr/bin/env bash
# The engine's matmul beside numpy/OpenBLAS on the same shapes and thread
# count, in one table. The two benches take turns `rounds` times and each
# shape keeps its best, so a busy spell on a shared machine hits both sides.
#
#   benches/matmul_vs_numpy.sh [rounds=3] [threads=2] [shape filter...]
#
# Needs `python3 -m pip install numpy threadpoolctl`. Extra cargo arguments
# (e.g. `--profile dev`) go in MATMUL_CARGO_ARGS; GRADGRAD_MATMUL_ISA picks
# the engine's kernels (avx512, avx2, neon, portable). On a busy machine,
# `MATMUL_CLOCK=cpu benches/matmul_vs_numpy.sh 3 1` compares CPU time on one
# thread each, which other processes barely move. `MATMUL_COLD=1` evicts the
# caches before each call on both sides (the operands then come from L3 or
# memory, as in a training step) and keeps each side's fastest call.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
threads=${2:-2}
shift $(($# < 2 ? $# : 2))
cargo bench ${MATMUL_CARGO_ARGS:-} --bench matmul --no-run
runs=$(mktemp -d)
trap 'rm -rf "$runs"' EXIT
for round in $(seq "$rounds"); do
    echo "round $round of $rounds" >&2
    RAYON_NUM_THREADS=$threads cargo bench ${MATMUL_CARGO_ARGS:-} --bench matmul -- "$@" 2>/dev/null > "$runs/gradgrad.$round"
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads \
        python3 benches/numpy_matmul.py "$@" > "$runs/numpy.$round"
done
python3 - "$runs" <<'PY'
import glob, sys

def best(side):
    rates, notes = {}, []
    for path in sorted(glob.glob(f"{sys.argv[1]}/{side}.*")):
        for line in open(path):
            if line.startswith("#"):
                notes.append(line[1:].strip())
                continue
            *name, rate = line.split()
            name = " ".join(name)
            rates[name] = max(rates.get(name, 0.0), float(rate))
    return rates, notes[0] if notes else "?"

ours, our_kernels = best("gradgrad")
numpy, numpy_kernels = best("numpy")
print(f"gradgrad: {our_kernels}; numpy: {numpy_kernels}")
print("best GFLOP/s of each side over the rounds\n")
print("| shape | op | gradgrad GFLOP/s | numpy GFLOP/s | gradgrad / numpy |")
print("| --- | --- | ---: | ---: | ---: |")
for name, rate in ours.items():
    dtype, shape, op = name.split()
    theirs = numpy.get(name)
    ratio = f"{rate / theirs:.2f}" if theirs else "–"
    print(f"| {dtype} {shape} | {op} | {rate:.0f} | {theirs or 0:.0f} | {ratio} |")
PY
