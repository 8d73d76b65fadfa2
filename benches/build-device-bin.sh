#!/usr/bin/env bash
# Builds, here, the release binaries that benches/gpu-check.sh runs on a lent
# GPU machine (which has CUDA, NVRTC and PyTorch but no Rust toolchain), and
# copies them into .device-bin/ (git-ignored), stripped, under 64 MiB in all.
#
#   benches/build-device-bin.sh
#   then, with the device tool:  run  command="bash benches/gpu-check.sh"  carry=[".device-bin"]
#
# The kernels' sources are compiled into the binaries (include_str!) and
# compiled for the GPU by NVRTC when first used, so nothing else travels.
# They link glibc dynamically: built on an older distribution than the GPU
# machine's, they run there; gpu-check.sh says so if they do not.
set -euo pipefail
cd "$(dirname "$0")/.."

# `--no-run --message-format=json` prints each built artifact with its path.
executable() { # $1: cargo args, $2: target name
    cargo $1 --message-format=json 2>/dev/null | python3 -c '
import json, sys
name = sys.argv[1]
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("target", {}).get("name") == name and m.get("executable"):
        print(m["executable"])
' "$2" | tail -1
}

echo "building (release; slow the first time)…"
cargo test --release --test cuda_parity --no-run
cargo bench --bench gpu_bench --no-run
cargo build --release -p trainer
parity=$(executable "test --release --test cuda_parity --no-run" cuda_parity)
bench=$(executable "bench --bench gpu_bench --no-run" gpu_bench)
[ -x "$parity" ] && [ -x "$bench" ] || { echo "could not find the built binaries ($parity, $bench)" >&2; exit 1; }

rm -rf .device-bin
mkdir -p .device-bin
cp "$parity" .device-bin/cuda_parity
cp "$bench" .device-bin/gpu_bench
cp target/release/trainer .device-bin/trainer
# MNIST for the trainer's GPU run (nothing can be fetched there), gzipped to
# fit; the loader verifies a .gz by what it decompresses to.
mnist=${MNIST_DIR:-data/mnist}
mkdir -p .device-bin/mnist
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
    if [ -f "$mnist/$f" ]; then gzip -9 -n -c "$mnist/$f" > ".device-bin/mnist/$f.gz"
    elif [ -f "$mnist/$f.gz" ]; then cp "$mnist/$f.gz" .device-bin/mnist/
    else echo "no MNIST in $mnist (run the trainer once to fetch it): the GPU check will skip the trainer" >&2; rm -rf .device-bin/mnist; break; fi
done
# The sample-quality classifier (5 MB), so the GPU quality run need not train it there.
if [ -f data/classifier-mnist.safetensors ]; then cp data/classifier-mnist.safetensors .device-bin/
else echo "no data/classifier-mnist.safetensors (run the trainer once): the GPU quality run will train it first" >&2; fi
if command -v strip >/dev/null; then strip --strip-debug .device-bin/cuda_parity .device-bin/gpu_bench .device-bin/trainer; fi
git rev-parse HEAD > .device-bin/BUILT_FROM 2>/dev/null || true
ldd --version 2>/dev/null | head -1 > .device-bin/BUILT_WITH_GLIBC || true

total=$(du -sb .device-bin | cut -f1)
ls -l .device-bin
echo "total $((total / 1024 / 1024)) MiB (the whole tree that travels must stay under 64 MiB)"
[ "$total" -lt $((48 * 1024 * 1024)) ] || { echo "too large for the device tool's 64 MiB" >&2; exit 1; }
