#!/usr/bin/env bash
# The engine's matmul beside numpy/OpenBLAS on the same shapes and thread
# count, in one table. Each round times every shape on both sides, one right
# after the other (about a second each; who goes first alternates by round),
# so that a busy spell on a shared machine mostly hits both. Each shape gets
# each side's best rate and the median and range of its per-round ratios.
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
# `MATMUL_VS=torch` times PyTorch (its MKL) instead of numpy, with the Python
# in TORCH_PYTHON (default python3).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
threads=${2:-2}
shift $(($# < 2 ? $# : 2))
# Built once; then the bench's binary itself runs, with no cargo in between
# the two sides of a pair.
bench=$(cargo bench ${MATMUL_CARGO_ARGS:-} --bench matmul --no-run --message-format=json | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "matmul" and m.get("executable"):
        print(m["executable"])')
runs=$(mktemp -d)
trap 'rm -rf "$runs"' EXIT
# Each shape's name is its own filter, so no name may be part of another.
mapfile -t shapes < <("$bench" --bench --list "$@")
for a in "${shapes[@]}"; do
    for b in "${shapes[@]}"; do
        if [ "$a" != "$b" ] && [[ $b == *"$a"* ]]; then echo "shape name '$a' is part of '$b'" >&2; exit 1; fi
    done
done
ours() {
    RAYON_NUM_THREADS=$threads "$bench" --bench "$1" >> "$runs/gradgrad.$round"
}
other=${MATMUL_VS:-numpy}
theirs() {
    if [ "$other" = torch ]; then
        OMP_NUM_THREADS=$threads "${TORCH_PYTHON:-python3}" benches/numpy_matmul.py --torch "$1" >> "$runs/theirs.$round"
    else
        env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads \
            python3 benches/numpy_matmul.py "$1" >> "$runs/theirs.$round"
    fi
}
for round in $(seq "$rounds"); do
    echo "round $round of $rounds" >&2
    for shape in "${shapes[@]}"; do
        if [ $((round % 2)) = 1 ]; then ours "$shape"; theirs "$shape"; else theirs "$shape"; ours "$shape"; fi
    done
done
python3 - "$runs" "$other" <<'PY'
import glob, statistics, sys

def rounds(side):
    """{name: [rate per round]} and the kernel note."""
    rates, notes = {}, []
    for path in sorted(glob.glob(f"{sys.argv[1]}/{side}.*"), key=lambda p: int(p.rsplit(".", 1)[1])):
        for line in open(path):
            if line.startswith("#"):
                notes.append(line[1:].strip())
                continue
            *name, rate = line.split()
            rates.setdefault(" ".join(name), []).append(float(rate))
    return rates, notes[0] if notes else "?"

ours, our_kernels = rounds("gradgrad")
theirs_rates, their_kernels = rounds("theirs")
other = sys.argv[2]
print(f"gradgrad: {our_kernels}; {other}: {their_kernels}")
print("best GFLOP/s of each side over the rounds; the ratio of each round's pair (the two ran")
print("one after the other, so a busy spell mostly hits both): median, and lowest–highest\n")
print(f"| shape | op | gradgrad GFLOP/s | {other} GFLOP/s | gradgrad / {other}, best | per round, median | per round, range |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
for name, rates in ours.items():
    dtype, shape, op = name.split()
    theirs = theirs_rates.get(name, [])
    if not theirs:
        print(f"| {dtype} {shape} | {op} | {max(rates):.0f} | – | – | – | – |")
        continue
    pairs = [g / n for g, n in zip(rates, theirs)]
    print(f"| {dtype} {shape} | {op} | {max(rates):.0f} | {max(theirs):.0f} | {max(rates) / max(theirs):.2f} "
          f"| {statistics.median(pairs):.2f} | {min(pairs):.2f}–{max(pairs):.2f} |")
PY
