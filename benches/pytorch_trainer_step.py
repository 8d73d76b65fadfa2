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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dim", type=int, default=784)
    ap.add_argument("--hidden", type=int, default=1024)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--objectives", default=",".join(OBJECTIVES), help="comma-separated, from " + ", ".join(OBJECTIVES))
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
        for timing, fn in same.trainer_steps(OBJECTIVES[name], model, x, table):
            ms = median_ms(fn)
            print(f"{name:<8} {timing:<14} {ms:>10.2f} {args.batch / ms * 1e3:>10.0f}")


if __name__ == "__main__":
    main()
