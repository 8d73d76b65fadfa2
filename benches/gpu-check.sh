#!/usr/bin/env bash
# The whole GPU check, in ONE call on a lent GPU machine: kernel resource
# report, parity tests, a memory check, timings against cuBLAS and PyTorch.
# Prints a table last.
#
# Here (no GPU needed):   benches/build-device-bin.sh      # fills .device-bin/
# On the GPU machine:     bash benches/gpu-check.sh        # carry .device-bin
#   with the device tool: run(command="bash benches/gpu-check.sh", carry=[".device-bin"], timeout_s=540)
#
# Budget: about 6 minutes on an H100 (each step has its own timeout). Full logs
# land in $OUT (the device tool's output folder) or /tmp/gpu-check.
# GPU_CHECK_QUICK=1 skips the memory check and the CPU training steps;
# PARITY_S, MEMCHECK_S, BENCH_S, TORCH_S override the steps' time limits (seconds);
# GPU_CHECK_ONLY="2 6" runs only those numbered steps (a short re-check);
# GPU_CHECK_ONLY=7 is the GPU quality run alone (the default trainer run, about 5 minutes).
set -uo pipefail
cd "$(dirname "$0")/.."

echo "== which cargo nvcc (informational: the lent machine has nvcc, not cargo)"
which cargo nvcc || true
OUT=${OUT:-/tmp/gpu-check}
mkdir -p "$OUT"
BIN=.device-bin
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv 2>&1 | tee "$OUT/nvidia-smi.txt"
echo "built from $(cat $BIN/BUILT_FROM 2>/dev/null || echo '?'), with $(cat $BIN/BUILT_WITH_GLIBC 2>/dev/null || echo '?'); here: $(ldd --version 2>/dev/null | head -1)"

# cudarc dlopens libcuda.so.1, libnvrtc.so.13 and libcublas.so.13 by name:
# put every folder that holds one (the toolkit's, PyTorch's wheels') on the path.
libdirs=$( { find /usr/local/cuda*/ /usr/lib/x86_64-linux-gnu /opt -maxdepth 8 \
    \( -name 'libnvrtc.so.1*' -o -name 'libcublas.so.1*' -o -name 'libnvrtc-builtins.so.1*' \) 2>/dev/null;
    python3 - <<'PY' 2>/dev/null
import glob, os, site
for base in site.getsitepackages() + [site.getusersitepackages()]:
    for p in glob.glob(os.path.join(base, "nvidia", "**", "lib", "lib*.so*"), recursive=True):
        print(p)
PY
} | xargs -r -n1 dirname | sort -u | tr '\n' ':')
export LD_LIBRARY_PATH="${libdirs}${LD_LIBRARY_PATH:-}"
echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"

want() { [ -z "${GPU_CHECK_ONLY:-}" ] || [[ " $GPU_CHECK_ONLY " == *" $1 "* ]]; }
status() { if [ "$1" = skip ]; then echo skipped; elif [ "$1" -eq 0 ]; then echo ok; elif [ "$1" -eq 124 ]; then echo "TIMEOUT"; else echo "FAILED (exit $1)"; fi; }

echo "== 1. kernel resources (nvcc -Xptxas -v, sm_90): registers, shared memory, spills"
ptxas_status="skipped"
if want 1 && command -v nvcc >/dev/null; then
    : > "$OUT/ptxas.log"
    for f in kernels/*.cu; do
        timeout 120 nvcc -arch=sm_90 -std=c++17 -Xptxas -v -c "$f" -o /dev/null >> "$OUT/ptxas.log" 2>&1
    done
    grep -E "Compiling entry|registers|spill" "$OUT/ptxas.log" | grep -B2 -E "[1-9][0-9]* bytes spill" | head -20
    spills=$(grep -cE "[1-9][0-9]* bytes spill (stores|loads)" "$OUT/ptxas.log")
    grep -A2 "matmul_big_nn_f32" "$OUT/ptxas.log" | grep -E "registers|spill" | head -3
    ptxas_status="$(grep -c 'Compiling entry' "$OUT/ptxas.log") kernels, $spills with spills"
fi

echo "== 2. parity tests (every op, forward + first + second order, vs the CPU)"
parity_rc=skip
: > "$OUT/parity.log"
if want 2; then
    timeout ${PARITY_S:-240} "$BIN/cuda_parity" --test-threads=2 2>&1 | tee "$OUT/parity.log"
    parity_rc=${PIPESTATUS[0]}
fi
parity_line=$(grep -E "^test result" "$OUT/parity.log" | tail -1)
skips=$(grep -c "skipped: no CUDA device" "$OUT/parity.log")

echo "== 3. compute-sanitizer memcheck on a subset (out-of-bounds reads poisoning cannot see)"
sanitizer_status="skipped"
if want 3 && [ -z "${GPU_CHECK_QUICK:-}" ] && command -v compute-sanitizer >/dev/null; then
    timeout ${MEMCHECK_S:-150} compute-sanitizer --tool memcheck --error-exitcode 9 "$BIN/cuda_parity" --test-threads=1 \
        matmul gathers slices broadcasts casts > "$OUT/memcheck.log" 2>&1
    rc=$?
    tail -5 "$OUT/memcheck.log"
    sanitizer_status="$(status $rc); $(grep -cE '^=========.*(Invalid|out of bounds)' "$OUT/memcheck.log") errors reported"
fi

echo "== 4. timings: hand-written kernels vs cuBLAS / copy, training step GPU vs CPU"
[ -n "${GPU_CHECK_QUICK:-}" ] && export GPU_BENCH_SKIP_CPU=1
bench_rc=skip
: > "$OUT/bench.log"
if want 4; then
    timeout ${BENCH_S:-240} "$BIN/gpu_bench" 2>&1 | tee "$OUT/bench.log"
    bench_rc=${PIPESTATUS[0]}
fi

echo "== 5. PyTorch on the same GPU"
torch_rc=skip
: > "$OUT/torch.log"
if want 5; then
    PYTHONUNBUFFERED=1 timeout ${TORCH_S:-200} python3 benches/gpu_torch.py 2>&1 | tee "$OUT/torch.log"
    torch_rc=${PIPESTATUS[0]}
fi

echo "== 6. the trainer on real MNIST: GPU against CPU (same seed: same batches and noise)"
trainer_status="skipped"
if want 6 && ! { [ -x "$BIN/trainer" ] && [ -d "$BIN/mnist" ]; }; then
    trainer_status="skipped (no trainer or data in $BIN)"
elif want 6; then
    tr() { timeout "$1" "$BIN/trainer" --data "$BIN/mnist" "${@:2}"; }
    # compare RUN REFERENCE LABEL: a table row with the worst relative difference of their losses and gradient norms.
    compare() {
        python3 - "$@" <<'PY'
import csv, sys
run, reference, label = sys.argv[1:4]
rows = lambda d: list(csv.DictReader(open(f"{d}/metrics.csv")))
a, b = rows(run), rows(reference)
worst = max(abs(float(x[k]) - float(y[k])) / abs(float(y[k])) for x, y in zip(a, b) for k in ("loss", "grad_norm"))
print(f"ROW|trainer|{label}|max rel diff {worst:.1e} (losses, norms)|-|-|{len(a)} of {len(b)} steps")
PY
    }
    {
        tr 120 --device cpu --steps 20 --eval-every 20 --out /tmp/tr-cpu
        echo "rc=$?"
        tr 120 --device auto --steps 20 --eval-every 20 --out /tmp/tr-gpu
        echo "rc=$?"
        compare /tmp/tr-gpu /tmp/tr-cpu "dsm, 20 steps, GPU vs CPU"
        echo "-- resume on the GPU: 40 steps, then resumed to 80, against 80 in one go"
        tr 120 --device cuda --steps 40 --eval-every 40 --out /tmp/tr-split
        echo "rc=$?"
        tr 120 --resume /tmp/tr-split --steps 80
        echo "rc=$?"
        tr 120 --device cuda --steps 80 --eval-every 40 --out /tmp/tr-whole
        echo "rc=$?"
        compare /tmp/tr-split /tmp/tr-whole "dsm, 40 steps + 40 resumed vs 80 in one go (GPU)"
        echo "-- the default model, shortened (section 7 runs it whole)"
        tr 180 --steps 2000 --samples 200 --out /tmp/tr-default
        echo "rc=$?"
        tr 150 --device cuda --objective exact --steps 1000 --eval-every 500 --out /tmp/tr-exact
        echo "rc=$?"
        GRADGRAD_NO_CUDA=1 tr 20 --device cuda --steps 1 --out /tmp/tr-none
        echo "rc=$? (expected non-zero: --device cuda without a GPU)"
    } > "$OUT/trainer.log" 2>&1
    grep -vE "^\s*$" "$OUT/trainer.log" | grep -E "rc=|device:|throughput|held-out|ROW|error|step +[0-9]+/" | tail -30
    trainer_status="$(grep -c '^rc=0' "$OUT/trainer.log") of 7 runs ok"
    grep "^ROW|" "$OUT/trainer.log" >> "$OUT/bench.log"
fi

echo "== 7. the GPU quality run: the default \`trainer\` (larger model on a GPU), its time and sample quality"
quality_status="skipped"
if want 7 && [ -x "$BIN/trainer" ] && [ -d "$BIN/mnist" ]; then
    if [ -f "$BIN/classifier-mnist.safetensors" ]; then mkdir -p data && cp "$BIN/classifier-mnist.safetensors" data/; fi
    start=$(date +%s)
    timeout "${QUALITY_S:-420}" "$BIN/trainer" --data "$BIN/mnist" --out "$OUT/quality-run" > "$OUT/quality-run.log" 2>&1
    rc=$?
    quality_status="$(status $rc) in $(( $(date +%s) - start )) s"
    grep -E "GPU:|device:|training time|throughput|held-out|samples|inception|confident|FCD|escaped" "$OUT/quality-run.log" | tail -20
    rm -f "$OUT/quality-run/optimizer.safetensors"  # 20+ MB, not needed to judge the run
fi

echo
echo "================ GPU check: $(head -2 "$OUT/nvidia-smi.txt" | tail -1) ================"
{
    echo "section|case|gradgrad|reference|ratio|note"
    echo "checks|kernel resources|$ptxas_status|-|-|$OUT/ptxas.log"
    echo "checks|parity tests|$(status $parity_rc)|-|-|${parity_line:-no result line}; $skips skipped"
    echo "checks|memcheck subset|$sanitizer_status|-|-|$OUT/memcheck.log"
    echo "checks|gpu_bench / torch|$(status $bench_rc) / $(status $torch_rc)|-|-|"
    echo "checks|trainer|$trainer_status|-|-|$OUT/trainer.log"
    echo "checks|quality run|$quality_status|-|-|$OUT/quality-run.log"
    grep -h "^ROW|" "$OUT/bench.log" "$OUT/torch.log" 2>/dev/null | cut -d'|' -f2-
} | if command -v column >/dev/null; then column -t -s '|'; else cat; fi
