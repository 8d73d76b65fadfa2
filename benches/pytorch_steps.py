#!/usr/bin/env python3
"""The same training steps as `cargo bench --bench trace_table`, in PyTorch.

One step = forward, loss, gradient to the parameters, for a softplus MLP
score network D -> H (-> H ...) -> D at a given batch, on the CPU (or --device
cuda). Exact score matching the ways PyTorch users write it, and gradgrad's way:
  naive-loop   the original write-up's loop: D backward passes with create_graph
  vmap-jacrev  torch.func: vmap(jacrev(s)) per sample, diagonal, trace (generic)
  closed-form  gradgrad's trace with one hidden layer, σ'(h)·diag(W₁W₂), in torch ops
  rotated      gradgrad's trace with two or more, σ'(h₁)·((W₁W₃) ⊙ W₂ᵀ)·σ'(h₂) for two
               (torch_same_algorithm.py; the default list has the one for --layers)
  (and for reference) the sliced (ssm, ssm_vr) and denoising (dsm) steps.

Install (outside the repo; PyPI's torch brings its CUDA libraries, ~2.8 GB,
and runs on the CPU too):
    python3 -m venv ~/torchenv && ~/torchenv/bin/pip install torch numpy
Run:
    ~/torchenv/bin/python benches/pytorch_steps.py --threads 2
    ~/torchenv/bin/python benches/pytorch_steps.py --threads 2 --layers 2
"""
import argparse
import time

import torch
from torch.func import jacrev, vmap

import torch_same_algorithm as same


def mlp(dim, hidden, layers):
    widths = [dim] + [hidden] * layers + [dim]
    mods = []
    for i in range(len(widths) - 1):
        mods.append(torch.nn.Linear(widths[i], widths[i + 1]))
        if i < len(widths) - 2:
            mods.append(torch.nn.Softplus())
    return torch.nn.Sequential(*mods)


def exact_naive(model, x):
    x = x.detach().requires_grad_(True)
    s = model(x)
    trace = 0.0
    for i in range(x.shape[1]):
        g = torch.autograd.grad(s[:, i].sum(), x, create_graph=True)[0]
        trace = trace + g[:, i]
    return (trace + 0.5 * (s ** 2).sum(1)).mean()


def exact_vmap(model, x):
    params = dict(model.named_parameters())

    def f(p, xi):
        return torch.func.functional_call(model, p, (xi,))

    def per_sample(xi):
        j = jacrev(lambda z: f(params, z))(xi)
        return torch.diagonal(j).sum()

    trace = vmap(per_sample)(x)
    s = model(x)
    return (trace + 0.5 * (s ** 2).sum(1)).mean()


def exact_same_algorithm(model, x, hidden_layers):
    """Exact score matching with gradgrad's structure-aware trace (score::trace::structured_trace),
    built from torch ops on the model's own `[out, in]` Linear weights, so `backward` reaches
    them through the trace. `hidden_layers` is what the method name promises (1: closed-form,
    2 or more: rotated); a model of another depth is refused."""
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    weights, biases = [m.weight for m in linears], [m.bias for m in linears]
    wanted = "closed-form" if hidden_layers == 1 else "rotated"
    if same.structured_algorithm(weights) != wanted:
        raise SystemExit(f"{wanted}: this model has {len(weights) - 1} hidden layer(s), and gradgrad takes the {same.structured_algorithm(weights)} trace for it")
    slopes, s = same.forward_trace(weights, biases, x, "softplus")
    trace = same.structured_trace(weights, slopes)
    return (trace + 0.5 * (s ** 2).sum(1)).mean()


def sliced(model, x, variance_reduced):
    x = x.detach().requires_grad_(True)
    v = torch.randn_like(x)
    s = model(x)
    vs = (s * v).sum(1)
    g = torch.autograd.grad(vs.sum(), x, create_graph=True)[0]
    vjv = (g * v).sum(1)
    norm = 0.5 * (s ** 2).sum(1) if variance_reduced else 0.5 * vs ** 2
    return (vjv + norm).mean()


def dsm(model, x, sigma=0.1):
    eps = torch.randn_like(x)
    s = model(x + sigma * eps)
    return 0.5 * ((s + eps / sigma) ** 2).sum(1).mean()


OBJECTIVES = {
    "naive-loop": exact_naive,
    "vmap-jacrev": exact_vmap,
    "closed-form": lambda m, x: exact_same_algorithm(m, x, 1),
    "rotated": lambda m, x: exact_same_algorithm(m, x, 2),
    "ssm": lambda m, x: sliced(m, x, False),
    "ssm_vr": lambda m, x: sliced(m, x, True),
    "dsm": dsm,
}


def time_step(model, x, loss_fn, budget_s):
    def step():
        model.zero_grad(set_to_none=True)
        loss = loss_fn(model, x)
        loss.backward()
        if x.is_cuda:
            torch.cuda.synchronize()
        return loss.item()

    t = time.perf_counter()
    step()  # warm-up
    first = time.perf_counter() - t
    reps = max(1, min(20, int(budget_s / max(first, 1e-6))))
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    times.sort()
    return times[len(times) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dim", type=int, default=784)
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--budget", type=float, default=3.0, help="seconds of timing per objective")
    ap.add_argument("--objectives", help="comma-separated; default: all, with the same-algorithm exact method for --layers")
    args = ap.parse_args()
    if args.objectives is None:
        # gradgrad's own method for this depth (with 3+ hidden layers at least D wide it sums
        # the diagonal instead, which has no entry here)
        same_name = "closed-form" if args.layers == 1 else "rotated" if args.layers == 2 or args.hidden < args.dim else None
        args.objectives = ",".join(n for n in OBJECTIVES if n not in ("closed-form", "rotated") or n == same_name)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = mlp(args.dim, args.hidden, args.layers).to(args.device)
    x = torch.randn(args.batch, args.dim, device=args.device)
    arch = "->".join(str(w) for w in [args.dim] + [args.hidden] * args.layers + [args.dim])
    print(f"PyTorch {torch.__version__}, {args.device}, {torch.get_num_threads()} threads, softplus MLP {arch}, batch {args.batch}")
    print(f"{'objective':<14} {'step ms':>10} {'images/s':>10}")
    for name in args.objectives.split(","):
        sec = time_step(model, x, OBJECTIVES[name], args.budget)
        print(f"{name:<14} {sec * 1e3:>10.2f} {args.batch / sec:>10.1f}")


if __name__ == "__main__":
    main()
