#!/usr/bin/env bash
# gradgrad's training steps beside PyTorch running the same algorithm, on the CPU, with the same
# number of threads each (THREADS, default 2; issue #14), in one table:
#   - the trainer's default step (edm-diag 784→1024→1024→784, batch 128, f32): dsm, exact, ssm-vr,
#     as [grad] and [trainer step]: `cargo bench --bench conditional_step` against
#     benches/pytorch_trainer_step.py;
#   - the softplus MLPs 784→512→784 and 784→512→512→784, batch 64: `cargo bench --bench
#     trace_table -- --quick --only 784,512,64 [--layers 2] --strategies …` against
#     benches/pytorch_steps.py (exact by the same structure-aware trace, ssm_vr, dsm); vmap(jacrev)
#     as the generic exact, once (one timed step after one warm-up, since it is slow).
# Every timing is a median over repetitions after a warm-up. Each comparison runs ROUNDS rounds
# (default 10); a round runs both sides back to back, the first side alternating by round, and
# gives one ratio. The table shows each side's median over the rounds and the median of the
# rounds' ratios, with their quartiles: on a VM whose host takes cycles at will, one round can
# run 1.5× another, and the two runs of a round see about the same machine. `cargo bench` builds with the release
# profile. Rust runs with THREADS rayon threads, PyTorch with torch.set_num_threads(THREADS)
# (default 2). The machine (lscpu's model line, cores, load) is printed first: on a loaded
# machine PyTorch's OpenMP fork-join waits for descheduled threads at every op, so compare
# ratios from a quiet machine. About 6 minutes on 2 cores after the build.
#     bash benches/cpu-steps.sh     (THREADS=1 …, ROUNDS=20 …; TORCH_PYTHON=… to choose the Python with torch)
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
rounds=${ROUNDS:-10}
pair() { # name, then the names of two arrays: gradgrad's command and PyTorch's; the first side alternates by round
    local name=$1 round
    local -n ours=$2 theirs=$3
    for round in $(seq "$rounds"); do
        if ((round % 2)); then
            run "$name-gradgrad-$round" "${ours[@]}"
            run "$name-torch-$round" "${theirs[@]}"
        else
            run "$name-torch-$round" "${theirs[@]}"
            run "$name-gradgrad-$round" "${ours[@]}"
        fi
    done
}
gradgrad=(cargo bench -q --bench conditional_step -- --threads "$threads")
torch=("$python" benches/pytorch_trainer_step.py --threads "$threads")
pair conditional gradgrad torch
for layers in 1 2; do
    same=$([[ $layers == 1 ]] && echo closed-form || echo rotated)
    gradgrad=(cargo bench -q --bench trace_table -- --quick --only 784,512,64 --layers "$layers" --strategies structure-aware,ssm_vr,dsm)
    torch=("$python" benches/pytorch_steps.py --threads "$threads" --layers "$layers" --objectives "$same,ssm_vr,dsm")
    pair "mlp-$layers" gradgrad torch
    run "mlp-vmap-$layers" "$python" benches/pytorch_steps.py --threads "$threads" --layers "$layers" --objectives vmap-jacrev --budget 0.01
done
echo
python3 benches/cpu_steps_table.py "$out" "$threads"
