"""PyTorch on the same GPU, for benches/gpu-check.sh: fp32 matmul (TF32 off, as
cuBLAS SGEMM) at the sizes gpu_bench times; one exact score-matching step
(loss = mean(tr ∂s/∂x + ½‖s‖²), gradients to every weight) for the softplus
MLPs 784→512→784 and 784→512→512→784 at batch 64, by each generic exact
method PyTorch offers (the fastest is the one to beat) and by gradgrad's own
algorithm in torch ops (`closed-form`, `rotated`: the same-algorithm anchor);
and the trainer's default model, edm-diag, at its CPU and GPU shapes.

Prints `ROW|section|case|torch|-|-|note` lines like gpu_bench's. Timing: CUDA
events after warm-up, median of the repetitions. Without CUDA it says so and
exits 0; its trace and loss functions take the device from their inputs, so
torch_same_algorithm_check.py imports and checks them on the CPU.
"""
import math
import statistics
import sys

import torch
import torch.nn.functional as F

import torch_same_algorithm as same


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


def matmuls(dev):
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


def mlp(widths, dev, seed=0, dtype=torch.float32):
    """Weights `[in, out]` (h = x·W + b), biases U(−0.1, 0.1), drawn in f32 and made `dtype`
    leaves on `dev`."""
    g = torch.Generator(device="cpu").manual_seed(seed)
    params = []
    for i, (a, b) in enumerate(zip(widths, widths[1:])):
        w = ((torch.rand(a, b, generator=g) * 2 - 1) / math.sqrt(a)).to(dev, dtype).requires_grad_()
        bias = ((torch.rand(b, generator=g) * 2 - 1) * 0.1).to(dev, dtype).requires_grad_()
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
    tr = torch.zeros(x.shape[0], device=x.device, dtype=x.dtype)
    for i in range(x.shape[1]):
        g = torch.autograd.grad(s[:, i].sum(), x, create_graph=True)[0]
        tr = tr + g[:, i]
    return s, tr


def trace_batched(params, x):
    """The batch repeated D times, one one-hot cotangent per copy: one backward pass."""
    b, d = x.shape
    xr = x.detach().repeat(d, 1).requires_grad_()
    s = score(params, xr)
    e = torch.eye(d, device=x.device, dtype=x.dtype).repeat_interleave(b, dim=0)
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


def trace_same_algorithm(params, x):
    """gradgrad's structure-aware trace (score::trace::structured_trace) in torch ops: the
    closed form σ'(h)·diag(W₁W₂) with one hidden layer, the rotated σ'(h₁)·((W₁W₃) ⊙ W₂ᵀ)·σ'(h₂)
    with two. No D cotangents; autograd of the loss gives the weight gradients. The shared code
    takes gradgrad's `[out, in]` weights: here the transposed views of the `[in, out]` ones."""
    weights = [params[2 * i].t() for i in range(len(params) // 2)]
    biases = [params[2 * i + 1] for i in range(len(params) // 2)]
    slopes, s = same.forward_trace(weights, biases, x, "softplus")
    return s, same.structured_trace(weights, slopes)


def exact_sm_loss(method, params, x):
    s, tr = method(params, x)
    return (tr + 0.5 * (s ** 2).sum(1)).mean()


GENERIC_EXACT = {"loop": trace_loop, "batched one-hot": trace_batched, "vmap(jacrev)": trace_vmap("jacrev"), "vmap(jacfwd)": trace_vmap("jacfwd")}
# The shapes timed (the check runs the same code at tiny ones).
MLP_SHAPES, MLP_BATCH = ([784, 512, 784], [784, 512, 512, 784]), 64
# The trainer's default conditional model: (D, hidden, layers, batch) on the CPU, then on a GPU.
CONDITIONAL_SHAPES = ((784, 1024, 2, 128), (784, 2048, 3, 256))


def sm_steps(dev, shapes=MLP_SHAPES, batch=MLP_BATCH):
    for widths in shapes:
        label = "exact SM " + "→".join(map(str, widths)) + f" batch {batch}"
        same_name = "closed-form" if len(widths) == 3 else "rotated"
        methods = {**GENERIC_EXACT, same_name: trace_same_algorithm}
        x = torch.rand(batch, widths[0], device=dev) * 2 - 1
        times = {}
        for name, method in methods.items():
            params = mlp(widths, dev)

            def step():
                grads = torch.autograd.grad(exact_sm_loss(method, params, x), params)
                with torch.no_grad():
                    for p, g in zip(params, grads):
                        p -= 1e-3 * g

            try:
                ms = time_ms(step, warmup=1, reps=2 if name == "loop" else 5)
            except Exception as e:  # out of memory, say: report and go on
                row("torch training step ms", f"{label} [{name}]", "failed", type(e).__name__)
                torch.cuda.empty_cache()
                continue
            row("torch training step ms", f"{label} [{name}]", f"{ms:.1f}")
            times[name] = ms
        generic = [times[n] for n in GENERIC_EXACT if n in times]
        if generic:
            row("torch training step ms", f"{label} [fastest exact]", f"{min(generic):.1f}", "generic methods (loop, batched, vmap); gradgrad targets: ≥10× (784→512→784), ≥1.5× (deep)")
        if same_name in times:
            row("torch training step ms", f"{label} [same algorithm]", f"{times[same_name]:.2f}", f"{same_name}: gradgrad's structure-aware trace in torch ops, the fair anchor for its exact row")


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


def first_order_steps(dev, shapes=MLP_SHAPES, batch=MLP_BATCH):
    """The cheaper objectives, as gpu_bench times them: loss, gradients, SGD, read the loss."""
    for widths in shapes:
        arch = "→".join(map(str, widths))
        x = torch.rand(batch, widths[0], device=dev) * 2 - 1
        for name, loss_fn in (("ssm-vr", ssm_vr_loss), ("dsm", dsm_loss)):
            params = mlp(widths, dev)

            def step():
                loss = loss_fn(params, x)
                grads = torch.autograd.grad(loss, params)
                with torch.no_grad():
                    for p, g in zip(params, grads):
                        p -= 1e-3 * g
                return loss.item()

            ms = time_ms(step, warmup=3, reps=20)
            row("torch training step ms", f"{name} {arch} batch {batch}", f"{ms:.2f}", "eager")


def conditional_steps(dev, shapes=CONDITIONAL_SHAPES):
    """The trainer's default model (edm-diag, SiLU, σ features into every hidden layer, σ per
    sample from the 1024-row table) at its CPU default 784→1024→1024→784, batch 128, and its
    GPU default 784→2048×3→784, batch 256. Two timings per objective:
    `grad`: loss and gradients, the loss read back;
    `trainer step`: what the trainer's loop does per step (crates/trainer/src/train.rs): that,
    clipping to norm 100, loss and norm read back together, Adam (lr 1e-3), EMA 0.999.
    gradgrad's gpu_bench does not time this model; compare `trainer step` with the images/s
    the trainer itself reports on the same GPU (each row prints its own images/s)."""
    table = same.level_table(dev)
    for dim, hidden, layers, batch in shapes:
        arch = "→".join(map(str, [dim] + [hidden] * layers + [dim]))
        x = torch.rand(batch, dim, device=dev)  # pixels in [0, 1], as MNIST
        for name, loss_fn in (("dsm", same.conditional_dsm_loss), ("exact", same.conditional_exact_loss), ("ssm-vr", same.conditional_ssm_vr_loss)):
            model = same.ConditionalMlp(dim, hidden, layers, dev)
            algorithm = f" ({same.structured_algorithm(model.weights)} trace)" if name == "exact" else ""
            label = f"edm-diag {name}{algorithm} {arch} batch {batch}"
            for what, fn in same.trainer_steps(loss_fn, model, x, table):
                try:
                    ms = time_ms(fn, warmup=2, reps=10)
                except Exception as e:  # out of memory, say: report and go on
                    row("torch conditional step ms", f"{label} [{what}]", "failed", type(e).__name__)
                    torch.cuda.empty_cache()
                    continue
                row("torch conditional step ms", f"{label} [{what}]", f"{ms:.2f}", f"{batch / ms * 1e3:.0f} images/s")


def main():
    if not torch.cuda.is_available():
        print("gpu_torch: skipped: torch sees no CUDA device")
        sys.exit(0)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dev = torch.device("cuda")
    print(f"gpu_torch: torch {torch.__version__} on {torch.cuda.get_device_name()}")
    matmuls(dev)
    sm_steps(dev)
    first_order_steps(dev)
    conditional_steps(dev)


if __name__ == "__main__":
    main()
