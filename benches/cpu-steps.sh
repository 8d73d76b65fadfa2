#!/usr/bin/env bash
# gradgrad's training steps beside PyTorch running the same algorithm, on the CPU, with the same
# number of threads each (THREADS, default 2; issue #14), in one table:
#   - the trainer's default step (edm-diag 784→1024→1024→784, batch 128, f32): dsm, exact, ssm-vr,
#     as [grad] and [trainer step]: `cargo bench --bench conditional_step` against
#     benches/pytorch_trainer_step.py, interleaved, ROUNDS times (default 2);
#   - the softplus MLPs 784→512→784 and 784→512→512→784, batch 64: `cargo bench --bench
#     trace_table -- --quick --only 784,512,64 [--layers 2] --strategies …` against
#     benches/pytorch_steps.py (exact by the same structure-aware trace, ssm_vr, dsm),
#     interleaved, ROUNDS times; vmap(jacrev) as the generic exact, once (one timed step after
#     one warm-up, since it is slow).
# Every timing is a median over repetitions after a warm-up; each side runs ROUNDS times and the
# table keeps each side's lowest median, with the spread of its medians (highest / lowest): on a
# VM whose host takes cycles at will, one round can run 1.5× another. `cargo bench` builds with the release
# profile. Rust runs with THREADS rayon threads, PyTorch with torch.set_num_threads(THREADS)
# (default 2). The machine (lscpu's model line, cores, load) is printed first: on a loaded
# machine PyTorch's OpenMP fork-join waits for descheduled threads at every op, so compare
# ratios from a quiet machine. About 4 minutes on 2 cores after the build.
#     bash benches/cpu-steps.sh     (THREADS=1 …, ROUNDS=4 …; TORCH_PYTHON=… to choose the Python with torch)
set -euo pipefail
cd "$(dirname "$0")/.."

source benches/common/torch_python.sh

echo "building (release profile)…"
cargo bench --bench conditional_step --bench trace_table --no-run 2>&1 | tail -1

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
threads=${THREADS:-2}
export RAYON_NUM_THREADS=$threads
run() { # name, command…: runs the command, keeps its output in $out/name, shows it
    local name=$1
    shift
    echo "── $name: $*"
    "$@" | tee "$out/$name"
}
for round in $(seq "${ROUNDS:-2}"); do
    run "conditional-gradgrad-$round" cargo bench -q --bench conditional_step -- --threads "$threads"
    run "conditional-torch-$round" "$python" benches/pytorch_trainer_step.py --threads "$threads"
done
for layers in 1 2; do
    same=$([[ $layers == 1 ]] && echo closed-form || echo rotated)
    for round in $(seq "${ROUNDS:-2}"); do
        run "mlp-gradgrad-$layers-$round" cargo bench -q --bench trace_table -- --quick --only 784,512,64 --layers "$layers" --strategies structure-aware,ssm_vr,dsm
        run "mlp-torch-$layers-$round" "$python" benches/pytorch_steps.py --threads "$threads" --layers "$layers" --objectives "$same,ssm_vr,dsm"
    done
    run "mlp-vmap-$layers" "$python" benches/pytorch_steps.py --threads "$threads" --layers "$layers" --objectives vmap-jacrev --budget 0.01
done
echo
python3 benches/cpu_steps_table.py "$out" "$threads"
