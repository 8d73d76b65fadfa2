"""PyTorch on the same GPU, for benches/gpu-check.sh: fp32 matmul (TF32 off, as
cuBLAS SGEMM) at the sizes gpu_bench times, and one exact score-matching step
(loss = mean(tr ∂s/∂x + ½‖s‖²), gradients to every weight) for the softplus
MLPs 784→512→784 and 784→512→512→784 at batch 64, by each exact method
PyTorch offers; the fastest is the one to beat.

Prints `ROW|section|case|torch|-|-|note` lines like gpu_bench's. Timing: CUDA
events after warm-up, median of the repetitions.
"""
import math
import statistics
import sys

import torch
import torch.nn.functional as F

if not torch.cuda.is_available():
    print("gpu_torch: skipped: torch sees no CUDA device")
    sys.exit(0)

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
dev = torch.device("cuda")
print(f"gpu_torch: torch {torch.__version__} on {torch.cuda.get_device_name()}")


def row(section, case, value, note=""):
    print(f"ROW|{section}|{case}|{value}|-|-|{note}", flush=True)


def time_ms(fn, warmup=2, reps=10):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def matmuls():
    cases = [(f"n={n}", n, n, n, False) for n in (256, 512, 1024, 2048, 4096, 8192)]
    cases += [("64×784·784×512", 64, 784, 512, False), ("64×512·512×784", 64, 512, 784, False),
              ("50176×784·784×512", 50176, 784, 512, False), ("50176×512·512×784", 50176, 512, 784, False),
              ("(50176×784)ᵀ·50176×512", 784, 50176, 512, True)]
    for label, m, k, n, ta in cases:
        a = torch.rand(k, m, device=dev) * 2 - 1 if ta else torch.rand(m, k, device=dev) * 2 - 1
        b = torch.rand(k, n, device=dev) * 2 - 1
        op = (lambda: a.t() @ b) if ta else (lambda: a @ b)
        flops = 2 * m * k * n
        ms = time_ms(op, reps=5 if flops > 2e11 else 20)
        row("torch matmul GFLOP/s", label, f"{flops / ms / 1e6:.0f}", "fp32, TF32 off")


def mlp(widths, seed=0):
    g = torch.Generator(device="cpu").manual_seed(seed)
    params = []
    for i, (a, b) in enumerate(zip(widths, widths[1:])):
        w = ((torch.rand(a, b, generator=g) * 2 - 1) / math.sqrt(a)).to(dev).requires_grad_()
        bias = ((torch.rand(b, generator=g) * 2 - 1) * 0.1).to(dev).requires_grad_()
        params += [w, bias]
    return params


def score(params, x):
    h = x
    layers = len(params) // 2
    for i in range(layers):
        h = h @ params[2 * i] + params[2 * i + 1]
        if i + 1 < layers:
            h = F.softplus(h)
    return h


def trace_loop(params, x):
    """D backward passes, one per input dimension (the classic exact method)."""
    x = x.detach().requires_grad_()
    s = score(params, x)
    tr = torch.zeros(x.shape[0], device=dev)
    for i in range(x.shape[1]):
        g = torch.autograd.grad(s[:, i].sum(), x, create_graph=True)[0]
        tr = tr + g[:, i]
    return s, tr


def trace_batched(params, x):
    """The batch repeated D times, one one-hot cotangent per copy: one backward pass (gradgrad's method)."""
    b, d = x.shape
    xr = x.detach().repeat(d, 1).requires_grad_()
    s = score(params, xr)
    e = torch.eye(d, device=dev).repeat_interleave(b, dim=0)
    g = torch.autograd.grad(s, xr, e, create_graph=True)[0]
    tr = (g * e).sum(1).view(d, b).sum(0)
    return s[:b], tr


def trace_vmap(jac):
    """torch.func: the per-sample Jacobian by vmap(jacrev) or vmap(jacfwd), then its trace."""
    def method(params, x):
        from torch.func import functional_call, jacfwd, jacrev, vmap  # noqa: F401
        f = lambda xi: score(params, xi.unsqueeze(0)).squeeze(0)
        j = vmap((jacrev if jac == "jacrev" else jacfwd)(f))(x)
        return score(params, x), torch.diagonal(j, dim1=1, dim2=2).sum(1)
    return method


def sm_steps():
    batch = 64
    methods = {"loop": trace_loop, "batched one-hot": trace_batched, "vmap(jacrev)": trace_vmap("jacrev"), "vmap(jacfwd)": trace_vmap("jacfwd")}
    for widths in ([784, 512, 784], [784, 512, 512, 784]):
        label = "exact SM " + "→".join(map(str, widths)) + f" batch {batch}"
        x = torch.rand(batch, 784, device=dev) * 2 - 1
        best = None
        for name, method in methods.items():
            params = mlp(widths)

            def step():
                s, tr = method(params, x)
                loss = (tr + 0.5 * (s ** 2).sum(1)).mean()
                grads = torch.autograd.grad(loss, params)
                with torch.no_grad():
                    for p, g in zip(params, grads):
                        p -= 1e-3 * g
                return loss.item()

            try:
                ms = time_ms(step, warmup=1, reps=2 if name == "loop" else 5)
            except Exception as e:  # out of memory, say: report and go on
                row("torch training step ms", f"{label} [{name}]", "failed", type(e).__name__)
                torch.cuda.empty_cache()
                continue
            row("torch training step ms", f"{label} [{name}]", f"{ms:.1f}")
            best = ms if best is None else min(best, ms)
        if best is not None:
            row("torch training step ms", f"{label} [fastest exact]", f"{best:.1f}", "gradgrad targets: ≥10× (784→512→784), ≥1.5× (deep)")


def ssm_vr_loss(params, x):
    """Sliced score matching, variance reduced, one Gaussian projection per sample."""
    x = x.detach().requires_grad_()
    v = torch.randn_like(x)
    s = score(params, x)
    g = torch.autograd.grad((s * v).sum(), x, create_graph=True)[0]
    return ((g * v).sum(1) + 0.5 * (s ** 2).sum(1)).mean()


def dsm_loss(params, x, sigma=0.1):
    """Denoising score matching at one noise level: ½‖s(x + σε) + ε/σ‖²."""
    eps = torch.randn_like(x)
    s = score(params, x + sigma * eps)
    return (0.5 * ((s + eps / sigma) ** 2).sum(1)).mean()


def first_order_steps():
    """The cheaper objectives, as gpu_bench times them: loss, gradients, SGD, read the loss."""
    batch = 64
    for widths in ([784, 512, 784], [784, 512, 512, 784]):
        arch = "→".join(map(str, widths))
        x = torch.rand(batch, 784, device=dev) * 2 - 1
        for name, loss_fn in (("ssm-vr", ssm_vr_loss), ("dsm", dsm_loss)):
            params = mlp(widths)

            def step():
                loss = loss_fn(params, x)
                grads = torch.autograd.grad(loss, params)
                with torch.no_grad():
                    for p, g in zip(params, grads):
                        p -= 1e-3 * g
                return loss.item()

            ms = time_ms(step, warmup=3, reps=20)
            row("torch training step ms", f"{name} {arch} batch {batch}", f"{ms:.2f}", "eager")


if __name__ == "__main__":
    matmuls()
    sm_steps()
    first_order_steps()
