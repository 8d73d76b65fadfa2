#!/usr/bin/env python3
"""The trainer's training step on its default model in PyTorch, running gradgrad's algorithm:
the other side of `cargo bench --bench conditional_step`, in the same table layout.

The model and losses are torch_same_algorithm.py's (`ConditionalMlp`, the edm-diag MLP
784→1024→1024→784, SiLU, σ features into every hidden layer; `conditional_dsm_loss`,
`conditional_exact_loss` with gradgrad's structure-aware trace, `conditional_ssm_vr_loss`),
float32 on the CPU, batch 128, σ drawn per sample from the 1024-row log-normal table. Two
timings per objective, as gpu_torch.py's `conditional_steps`:
  grad          loss and gradients of every parameter, the loss read back;
  trainer step  that, clipping to norm 100, loss and norm read together, Adam (lr 1e-3),
                EMA 0.999: one iteration of crates/trainer/src/train.rs on a fixed batch.
Each row is the median of up to 15 repetitions (about 2 s of them) after one warm-up step.
`--profile N` also profiles N `grad` steps per objective with torch.profiler and prints, per
step, its table (self CPU time by op and input shapes), one `matmul <m>x<k>·<k>x<n> <ms> <calls>`
line per product shape (aten::mm, aten::addmm) and a `wall <ms>` line: the other side of
`cargo bench --bench conditional_step -- --profile N` (benches/op-profile.sh).
    ~/torchenv/bin/python benches/pytorch_trainer_step.py --threads 2
"""
import argparse
import time

import torch

import torch_same_algorithm as same

OBJECTIVES = {
    "dsm": same.conditional_dsm_loss,
    "exact": same.conditional_exact_loss,
    "ssm-vr": same.conditional_ssm_vr_loss,
}


def median_ms(fn):
    """Median ms of `fn` over up to 15 repetitions (about 2 s) after one warm-up, as
    conditional_step.rs's `median_ms`."""
    t = time.perf_counter()
    fn()
    first = time.perf_counter() - t
    reps = min(15, max(3, int(2.0 / first)))
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    times.sort()
    return times[len(times) // 2]


def profile_grad(grad_only, steps):
    """Profiles `steps` calls of `grad_only`; prints the per-step table and matmul lines."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        start = time.perf_counter()
        for _ in range(steps):
            grad_only()
        wall = (time.perf_counter() - start) / steps * 1e3
    averages = prof.key_averages(group_by_input_shape=True)
    print(averages.table(sort_by="self_cpu_time_total", row_limit=25, max_name_column_width=28, max_shapes_column_width=56))
    shapes = {}
    for event in averages:
        dims = [d for d in event.input_shapes if len(d) == 2]
        if event.key not in ("aten::mm", "aten::addmm") or len(dims) != 2:
            continue
        (m, k), (_, n) = dims
        ms, calls = shapes.get(f"{m}x{k}·{k}x{n}", (0.0, 0))
        shapes[f"{m}x{k}·{k}x{n}"] = (ms + event.self_cpu_time_total / 1e3 / steps, calls + event.count // steps)
    for key, (ms, calls) in shapes.items():
        print(f"matmul {key} {ms:.3f} {calls}")
    print(f"wall {wall:.3f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dim", type=int, default=784)
    ap.add_argument("--hidden", type=int, default=1024)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--objectives", default=",".join(OBJECTIVES), help="comma-separated, from " + ", ".join(OBJECTIVES))
    ap.add_argument("--profile", type=int, default=0, metavar="N", help="also profile N grad steps per objective")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cpu = torch.device("cpu")
    table = same.level_table(cpu)
    x = torch.rand(args.batch, args.dim)  # pixels in [0, 1], as MNIST
    arch = "->".join(str(w) for w in [args.dim] + [args.hidden] * args.layers + [args.dim])
    print(f"PyTorch {torch.__version__}, f32 CPU, {torch.get_num_threads()} threads: edm-diag conditional MLP {arch}, SiLU, batch {args.batch}; median ms")
    print(f"{'step':<8} {'timing':<14} {'ms':>10} {'images/s':>10}")
    for name in args.objectives.split(","):
        # A fresh model per objective, so each row starts from the same weights.
        model = same.ConditionalMlp(args.dim, args.hidden, args.layers, cpu)
        steps = dict(same.trainer_steps(OBJECTIVES[name], model, x, table))
        for timing, fn in steps.items():
            ms = median_ms(fn)
            print(f"{name:<8} {timing:<14} {ms:>10.2f} {args.batch / ms * 1e3:>10.0f}")
        if args.profile > 0:
            print(f"profile of {name} grad, per step (mean of {args.profile}):")
            profile_grad(steps["grad"], args.profile)


if __name__ == "__main__":
    main()
