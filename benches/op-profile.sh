#!/usr/bin/env bash
# The trainer's gradient steps op by op, beside PyTorch running the same algorithm: each side
# profiles PROFILE grad steps (default 10) of each objective in place, with its own profiler
# (`autodiff::profile`, `torch.profiler`), and the table sets their matmul time per step side by
# side, shape by shape (m×k·k×n as multiplied), with the step's wall time. A stand-alone matmul
# benchmark times one shape with its operands hot in cache; here each product meets the caches as
# the step leaves them, which is what the step pays. The two sides take turns ROUNDS times
# (default 2) and keep their lowest value of each row. THREADS (default 2) on each side.
#     bash benches/op-profile.sh            (OBJECTIVES=ssm-vr …, TORCH_PYTHON=…)
set -euo pipefail
cd "$(dirname "$0")/.."

source benches/common/torch_python.sh
cargo bench --bench conditional_step --no-run 2>&1 | tail -1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
threads=${THREADS:-2}
steps=${PROFILE:-10}
export RAYON_NUM_THREADS=$threads
for objective in $(echo "${OBJECTIVES:-dsm,exact,ssm-vr}" | tr , ' '); do
    for round in $(seq "${ROUNDS:-2}"); do
        echo "── $objective, round $round" >&2
        cargo bench -q --bench conditional_step -- --threads "$threads" --objectives "$objective" --profile "$steps" > "$out/gradgrad.$objective.$round"
        "$python" benches/pytorch_trainer_step.py --threads "$threads" --objectives "$objective" --profile "$steps" 2>/dev/null > "$out/torch.$objective.$round"
    done
done
python3 benches/op_profile_table.py "$out" "$threads" "$steps"
