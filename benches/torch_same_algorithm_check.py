#!/usr/bin/env python3
"""Holds the same-algorithm PyTorch anchors to the generic methods, on the CPU, in float64.

For each shape (tiny, random), the structure-aware trace (`closed-form`, `rotated`, or the
diagonal summed where gradgrad sums it) and the gradients of its loss with respect to every
parameter are compared with the loop of D backward passes (and vmap(jacrev), the batched one-hot
method, and the Jacobian's diagonal where they apply):
- gpu_torch.py's softplus MLP (`[in, out]` weights) and its `trace_same_algorithm`;
- pytorch_steps.py's `nn.Sequential` model (`[out, in]`) and its `closed-form`/`rotated` losses;
- the edm-diag conditional model of torch_same_algorithm.py: its trace and exact loss against the
  loop through the whole score, its ssm-vr loss (one VJP) against vᵀJv from the loop's whole
  Jacobian, its level rows and dsm loss against EDM's denoiser form.

Each line prints the largest relative difference, max|a − b| / max|b|; the check fails (exit 1)
above 1e-10. Then gpu_torch.py's timed steps run once each at tiny shapes on the CPU (its CUDA
timer swapped for a clock), so a typo cannot cost a GPU run. Seconds on one thread:
    ~/torchenv/bin/python benches/torch_same_algorithm_check.py
"""
import math
import sys

import torch
from torch.func import jacrev, vmap

import gpu_torch
import pytorch_steps
import torch_same_algorithm as same

TOLERANCE = 1e-10
CPU = torch.device("cpu")
results = []


def report(what, got, want):
    """Records the largest relative difference between two tensors, or between two lists of
    tensors (each pair relative to its own largest entry, so no small gradient hides)."""
    got, want = (got, want) if isinstance(got, (list, tuple)) else ([got], [want])
    assert len(got) == len(want), f"{what}: {len(got)} tensors against {len(want)}"
    rel = max((a - b).abs().max().item() / max(b.abs().max().item(), 1e-300) for a, b in zip(got, want))
    results.append(rel)
    print(f"{'ok  ' if rel <= TOLERANCE else 'FAIL'} {rel:9.1e}  {what}")


def grads_of(loss, params):
    return list(torch.autograd.grad(loss, params))


def check_gpu_torch():
    """gpu_torch.py's methods, with weights [in, out]."""
    for widths in ([5, 7, 5], [5, 7, 6, 5], [5, 4, 6, 3, 5], [5, 8, 6, 7, 5]):
        params = gpu_torch.mlp(widths, CPU, seed=1, dtype=torch.float64)
        x = torch.rand(3, widths[0], dtype=torch.float64) * 2 - 1
        arch = "→".join(map(str, widths))
        weights = [params[2 * i].t() for i in range(len(params) // 2)]
        name = same.structured_algorithm(weights)
        s_ref, tr_ref = gpu_torch.trace_loop(params, x)
        s, tr = gpu_torch.trace_same_algorithm(params, x)
        report(f"gpu_torch {arch}: {name} trace vs loop", [s, tr], [s_ref, tr_ref])
        report(f"gpu_torch {arch}: {name} trace vs vmap(jacrev)", tr, gpu_torch.trace_vmap("jacrev")(params, x)[1])
        report(f"gpu_torch {arch}: batched one-hot trace vs loop", gpu_torch.trace_batched(params, x)[1], tr_ref)
        want = grads_of(gpu_torch.exact_sm_loss(gpu_torch.trace_loop, params, x), params)
        got = grads_of(gpu_torch.exact_sm_loss(gpu_torch.trace_same_algorithm, params, x), params)
        report(f"gpu_torch {arch}: {name} loss, gradients of all {len(params)} parameters vs loop", got, want)
        # the diagonal itself, against the Jacobian's
        biases = [params[2 * i + 1] for i in range(len(params) // 2)]
        slopes, _ = same.forward_trace(weights, biases, x, "softplus")
        jac = vmap(jacrev(lambda xi: gpu_torch.score(params, xi.unsqueeze(0)).squeeze(0)))(x)
        report(f"gpu_torch {arch}: structured diagonal vs vmap(jacrev)'s", same.structured_diagonal(weights, slopes), torch.diagonal(jac, dim1=1, dim2=2))


def check_pytorch_steps():
    """pytorch_steps.py's losses on its nn.Sequential model, weights [out, in]."""
    for hidden, layers, method in ((7, 1, "closed-form"), (7, 2, "rotated"), (4, 3, "rotated")):
        torch.manual_seed(2)
        model = pytorch_steps.mlp(5, hidden, layers).double()
        params = list(model.parameters())
        x = torch.randn(3, 5, dtype=torch.float64)
        ref = pytorch_steps.exact_naive(model, x)
        loss = pytorch_steps.OBJECTIVES[method](model, x)
        arch = "→".join(map(str, [5] + [hidden] * layers + [5]))
        report(f"pytorch_steps {arch}: {method} loss vs naive-loop", loss, ref)
        report(f"pytorch_steps {arch}: {method} gradients vs naive-loop", grads_of(loss, params), grads_of(pytorch_steps.exact_naive(model, x), params))
        report(f"pytorch_steps {arch}: vmap-jacrev loss vs naive-loop", pytorch_steps.exact_vmap(model, x), ref)


def loop_score_and_trace(model):
    """The whole score's Jacobian diagonal by D backward passes (TraceStrategy::Loop)."""
    def method(noisy, levels):
        noisy = noisy.detach().requires_grad_()
        s = model.score(noisy, levels)
        tr = sum(torch.autograd.grad(s[:, d].sum(), noisy, create_graph=True)[0][:, d] for d in range(noisy.shape[1]))
        return s, tr
    return method


def loop_ssm_vr_loss(model, x, levels, eps, v):
    """The ssm-vr loss the generic way: the whole Jacobian ∂s/∂x̃ by D backward passes, then
    `vᵀJv + ½‖s‖²` per sample, weighted by w(σ) (ConditionalObjective::SsmVr with v given)."""
    noisy = (x + eps * levels[:, same.SIGMA:same.SIGMA + 1]).detach().requires_grad_()
    s = model.score(noisy, levels)
    jacobian = torch.stack([torch.autograd.grad(s[:, d].sum(), noisy, create_graph=True)[0] for d in range(noisy.shape[1])], 1)  # [B, D, D]
    vjv = torch.einsum("bd,bde,be->b", v, jacobian, v)
    return ((vjv + 0.5 * (s**2).sum(1)) * levels[:, same.WEIGHT]).mean()


def check_conditional():
    """The edm-diag model: trace and exact-loss gradients against the loop; EDM's identities."""
    table = same.level_table(CPU, torch.float64)
    g = torch.Generator().manual_seed(3)
    for hidden, layers in ((5, 1), (5, 2), (4, 3), (8, 3)):
        model = same.ConditionalMlp(6, hidden, layers, CPU, torch.float64, seed=4)
        with torch.no_grad():  # a trained-looking Gaussian skip, not the fresh one
            model.mean.copy_(torch.rand(6, generator=g, dtype=torch.float64))
            model.log_variance.copy_(torch.randn(6, generator=g, dtype=torch.float64) - 2)
        x = torch.rand(4, 6, generator=g, dtype=torch.float64)
        levels, eps = same.draw_levels(table, x, g)
        name = same.structured_algorithm(model.weights)
        arch = "→".join(map(str, [6] + [hidden] * layers + [6]))
        noisy = x + eps * levels[:, same.SIGMA:same.SIGMA + 1]
        report(f"edm-diag {arch}: {name} trace vs loop", list(model.score_and_trace(noisy, levels)), list(loop_score_and_trace(model)(noisy, levels)))
        params = model.parameters()
        want = grads_of(same.conditional_exact_loss(model, x, levels, eps, loop_score_and_trace(model)), params)
        got = grads_of(same.conditional_exact_loss(model, x, levels, eps), params)
        report(f"edm-diag {arch}: exact loss, gradients of all {len(params)} parameters vs loop", got, want)
        v = torch.randn(x.shape, generator=g, dtype=torch.float64)
        want = loop_ssm_vr_loss(model, x, levels, eps, v)
        got = same.conditional_ssm_vr_loss(model, x, levels, eps, v)
        report(f"edm-diag {arch}: ssm-vr loss vs vᵀJv from the loop's whole Jacobian", got, want)
        report(f"edm-diag {arch}: ssm-vr loss, gradients of all {len(params)} parameters vs loop", grads_of(got, params), grads_of(want, params))

    # The rows are EDM's denoiser coefficients rewritten (conditional.rs's test, σ_d = 0.3347).
    sd, sigma = same.SIGMA_DATA, 0.3
    row = same.level_row(sigma)
    total = sigma**2 + sd**2
    c_skip, c_out = sd**2 / total, sigma * sd / math.sqrt(total)
    lam = total / (sigma * sd) ** 2
    want = [sigma, (c_skip - 1) / sigma**2, c_out / sigma**2, 1 / math.sqrt(total), lam * sigma**4]
    report("level row: a, b, c, w vs EDM's c_skip, c_out, c_in, λσ⁴", torch.tensor(row[:5]), torch.tensor(want))

    # With the fresh skip (μ = 0, v = σ_d²) the model is plain EDM: w·½‖s + ε/σ‖² = λ·½‖D − x‖²
    # with the denoiser D = c_skip·x̃ + c_out·F(c_in·x̃), an independent route to the dsm loss.
    model = same.ConditionalMlp(6, 5, 2, CPU, torch.float64, seed=5)
    x = torch.rand(4, 6, generator=g, dtype=torch.float64)
    levels, eps = same.draw_levels(table, x, g)
    sig = levels[:, same.SIGMA:same.SIGMA + 1]
    noisy = x + eps * sig
    total = sig**2 + sd**2
    _, f = model.network(noisy, levels)
    denoised = sd**2 / total * noisy + sig * sd / total.sqrt() * f
    lam = (total / (sig * sd) ** 2).squeeze(1)
    report("dsm loss vs EDM's λ·½‖D − x‖²", same.conditional_dsm_loss(model, x, levels, eps), (lam * 0.5 * ((denoised - x) ** 2).sum(1)).mean())


def smoke_gpu_torch_steps():
    """Every step gpu_torch.py times, once, at tiny shapes, on the CPU: ROW lines as on a GPU."""
    import time

    def once(fn, warmup=0, reps=1):
        t = time.perf_counter()
        fn()
        return (time.perf_counter() - t) * 1e3

    timer, gpu_torch.time_ms = gpu_torch.time_ms, once
    try:
        gpu_torch.sm_steps(CPU, shapes=([6, 5, 6], [6, 5, 4, 6]), batch=3)
        gpu_torch.first_order_steps(CPU, shapes=([6, 5, 6],), batch=3)
        gpu_torch.conditional_steps(CPU, shapes=((6, 5, 2, 3), (6, 8, 3, 3)))
    finally:
        gpu_torch.time_ms = timer


def main():
    torch.set_num_threads(1)
    torch.manual_seed(0)  # the same inputs every run
    print(f"torch {torch.__version__}, float64, CPU; relative differences, tolerance {TOLERANCE:.0e}")
    check_gpu_torch()
    check_pytorch_steps()
    check_conditional()
    print("gpu_torch.py's steps once each at tiny shapes (times meaningless):")
    smoke_gpu_torch_steps()
    bad = sum(r > TOLERANCE for r in results)
    print(f"{len(results) - bad} passed, {bad} failed; largest difference {max(results):.1e}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
