"""gradgrad's exact-trace algorithms and its noise-conditional model, in ordinary PyTorch ops.

The benchmarks' same-algorithm anchors: PyTorch running what gradgrad runs, so that a timing
compares two implementations of one algorithm, not two algorithms. Read beside:
- `crates/score/src/trace.rs` (`structured_trace_of`, `structured_diagonal_of`): the trace of an
  MLP's Jacobian with no D one-hot cotangents;
- `crates/score/src/conditional.rs` and `conditional_loss.rs`: the trainer's default model,
  `edm-diag`, `s(x, σ) = (μ − x)/(v + σ²) + b(σ)·F(c(σ)·x, φ(σ))`, and its dsm, exact and ssm-vr
  losses.

Weights are `[out, in]` as in gradgrad and `torch.nn.Linear`: layer l computes
`h_l = a_{l−1}·W_lᵀ + b_l`, so the index comments match trace.rs line for line. `gpu_torch.py`
keeps its `[in, out]` weights and passes transposed views (free, and autograd sees through them).

Everything is built from differentiable torch ops, the slopes σ'(h) included, so autograd of a
loss reaches every weight the way gradgrad's recorded ops do (the trace's gradient needs σ'').
`torch_same_algorithm_check.py` holds each trace and its gradients to the generic methods.
"""
import math
from statistics import NormalDist

import torch
import torch.nn.functional as F


def silu_slope(h):
    """d/dh h·sig(h) = sig(h)·(1 + h·(1 − sig(h)))."""
    s = torch.sigmoid(h)
    return s * (1 + h * (1 - s))


# name: (σ, σ'), as crates/score/src/activation.rs
ACTIVATIONS = {
    "softplus": (F.softplus, torch.sigmoid),
    "silu": (F.silu, silu_slope),
    "tanh": (torch.tanh, lambda h: 1 - torch.tanh(h) ** 2),
}


def forward_trace(weights, biases, x, activation, extra=()):
    """The MLP's forward pass keeping what the trace needs: `(slopes, output)` with `slopes[l]` =
    σ'(h_l) `[B, H_l]` per hidden layer. `extra[l]` (`[B, H_l]`) is added to hidden layer l's
    pre-activation: a per-sample bias such as a noise-level embedding (`Mlp::forward_trace_with`)."""
    act, slope = ACTIVATIONS[activation]
    slopes, a = [], x
    for l in range(len(weights) - 1):
        h = F.linear(a, weights[l], biases[l])
        if l < len(extra):
            h = h + extra[l]
        slopes.append(slope(h))
        a = act(h)
    return slopes, F.linear(a, weights[-1], biases[-1])


def closed_form_trace(weights, slopes):
    """One hidden layer: `tr(W₂ S W₁) = Σ_j σ'(h)_j (W₁W₂)_jj`, and `diag(W₁W₂) = rowsum(W₁ ⊙ W₂ᵀ)`,
    an H-vector shared by all samples: one `(B×H)·H` product per step. `[B]`."""
    w1, w2 = weights  # W₁: [H, D], W₂: [D, H]
    return slopes[0] @ (w1 * w2.t()).sum(1)


def rotated_trace(weights, slopes):
    """Two or more hidden layers: `tr(W_L S_{L−1} ⋯ S₁ W₁) = tr(S₁ R S₂ W₂)` with
    `R = W₁W_L S_{L−1} W_{L−1} ⋯ S₃ W₃`, `[H₁, H₂]`, shared by all samples until the first S.
    With two hidden layers `tr = σ'(h₁)·((W₁W₃) ⊙ W₂ᵀ)·σ'(h₂)` per sample. `[B]`."""
    hidden = len(weights) - 1
    assert hidden >= 2, f"rotated_trace: needs two hidden layers or more, got {hidden}"
    b, h1 = slopes[0].shape
    rows = (weights[0] @ weights[-1]).unsqueeze(0)  # W₁W_L: [1, H₁, H_{L−1}]
    for l in range(hidden - 1, 1, -1):
        # weights[l] is W_{l+1}, slopes[l] the S_{l+1} on its output (0-based code, 1-based maths).
        h = slopes[l].shape[1]
        scaled = rows * slopes[l].unsqueeze(1)  # R·S_{l+1}: [B, H₁, H_{l+1}]
        rows = (scaled.reshape(-1, h) @ weights[l]).reshape(b, h1, -1)
    # tr(S₁ R S₂ W₂) = Σ_jk σ'(h₁)_j (R ⊙ W₂ᵀ)_jk σ'(h₂)_k.
    coupling = rows * weights[1].t().unsqueeze(0)
    if hidden == 2:
        return ((slopes[0] @ coupling[0]) * slopes[1]).sum(1)
    return ((coupling * slopes[1].unsqueeze(1)).sum(2) * slopes[0]).sum(1)


def structured_diagonal(weights, slopes):
    """The Jacobian's diagonal, `[B, D]`, layer by layer: the D one-hot cotangents through the
    output layer are the rows of W_L (shared), each activation scales them per sample, each
    further layer is one `(B·D×H)·(H×H')` product, and at the input only entry (d, d) is taken."""
    hidden = len(weights) - 1
    w1, wl = weights[0], weights[-1]  # W₁: [H₁, D], W_L: [D, H_L]
    if hidden == 1:
        return slopes[0] @ (wl.t() * w1)  # [H, D], entry (k, d) = W₂[d,k]·W₁[k,d]
    b, d = slopes[0].shape[0], w1.shape[1]
    rows = wl.unsqueeze(0)  # row d: e_d pulled back to the current layer, [1, D, H_L]
    for l in range(hidden - 1, 0, -1):
        h = slopes[l].shape[1]
        scaled = rows * slopes[l].unsqueeze(1)  # [B, D, H_l]
        rows = (scaled.reshape(-1, h) @ weights[l]).reshape(b, d, -1)  # [B, D, H_{l−1}]
    # Σ_j A_b[d,j]·σ'(h₁)_j·W₁[j,d]
    return (rows * w1.t().unsqueeze(0) * slopes[0].unsqueeze(1)).sum(2)


def structured_algorithm(weights):
    """Which trace gradgrad's `structured_trace_of` takes for these weights: where the first
    hidden layer is at least as wide as the data and there are three hidden layers or more,
    R would carry H₁ ≥ D rows per sample, so it sums the diagonal instead."""
    hidden, (h1, d) = len(weights) - 1, weights[0].shape
    if hidden >= 3 and h1 >= d:
        return "diagonal summed"
    return "closed-form" if hidden == 1 else "rotated"


def structured_trace(weights, slopes):
    """`tr(∂output/∂x)`, `[B]`, by the algorithm gradgrad picks ([`structured_algorithm`])."""
    algorithm = structured_algorithm(weights)
    if algorithm == "diagonal summed":
        return structured_diagonal(weights, slopes).sum(1)
    return closed_form_trace(weights, slopes) if algorithm == "closed-form" else rotated_trace(weights, slopes)


# ---- The noise-conditional model (conditional.rs), as the trainer builds it by default ----

SIGMA_DATA = 0.3347  # MNIST_RMS, crates/trainer/src/config.rs
SIGMA_FREQUENCIES = 16  # crates/trainer/src/model.rs: 32 features
# The trainer's log-normal σ: log σ ~ N(−1.2 + ln ½, 1.2²), cut to [0.002, 40], as 1024 quantiles.
P_MEAN, P_STD, SIGMA_MIN, SIGMA_MAX, QUANTILES = -1.2 + math.log(0.5), 1.2, 0.002, 40.0, 1024
# The columns of a level row: [σ, a, b, c, w, φ(σ)…].
SIGMA, SKIP, OUT, IN, WEIGHT, FEATURES = range(6)


def frequencies(count=SIGMA_FREQUENCIES):
    """ω_k geometric from 0.1 to 20 (`NoiseConditioning::new`)."""
    return [0.1 * 200.0 ** (k / (count - 1)) for k in range(count)]


def level_row(sigma, sigma_data=SIGMA_DATA, count=SIGMA_FREQUENCIES):
    """EDM's row (`NoiseConditioning::row`): a = −1/(σ²+σ_d²), b = σ_d/(σ·√(σ²+σ_d²)),
    c = 1/√(σ²+σ_d²), w = σ²(σ²+σ_d²)/σ_d², then sin and cos of ω_k·log σ."""
    total = sigma * sigma + sigma_data * sigma_data
    t = math.log(sigma)
    row = [sigma, -1 / total, sigma_data / (sigma * math.sqrt(total)), 1 / math.sqrt(total), sigma * sigma * total / sigma_data**2]
    return row + [math.sin(w * t) for w in frequencies(count)] + [math.cos(w * t) for w in frequencies(count)]


def sigma_levels():
    """The training σ's: the log-normal's midpoint quantiles (`SigmaDistribution::levels`)."""
    normal = NormalDist(P_MEAN, P_STD)
    return [min(max(math.exp(normal.inv_cdf((i + 0.5) / QUANTILES)), SIGMA_MIN), SIGMA_MAX) for i in range(QUANTILES)]


def level_table(device, dtype=torch.float32):
    """One row per training level, `[1024, 37]`, on `device`."""
    return torch.tensor([level_row(s) for s in sigma_levels()], dtype=torch.float64).to(device=device, dtype=dtype)


class ConditionalMlp:
    """`s(x, σ) = (μ − x)/(v + σ²) + b·F(c·x, φ(σ))`: F an MLP whose hidden layer l also receives
    `φ(σ)·E_lᵀ` (`embed_every_layer`, the trainer's default), μ and log v trained per pixel."""

    def __init__(self, dim, hidden, layers, device, dtype=torch.float32, seed=0, activation="silu", features=2 * SIGMA_FREQUENCIES):
        g = torch.Generator().manual_seed(seed)

        def uniform(shape, bound):  # Mlp::new's and ConditionalMlp::new's U(−bound, bound)
            return ((torch.rand(shape, generator=g, dtype=torch.float64) * 2 - 1) * bound).to(device=device, dtype=dtype).requires_grad_()

        widths = [dim] + [hidden] * layers + [dim]
        self.weights = [uniform((o, i), 1 / math.sqrt(i)) for i, o in zip(widths, widths[1:])]
        self.biases = [uniform((o,), 1 / math.sqrt(i)) for i, o in zip(widths, widths[1:])]
        self.embeddings = [uniform((hidden, features), 1 / math.sqrt(features)) for _ in range(layers)]
        self.mean = torch.zeros(dim, device=device, dtype=dtype, requires_grad=True)
        self.log_variance = torch.full((dim,), math.log(SIGMA_DATA**2), device=device, dtype=dtype, requires_grad=True)
        self.activation = activation

    def parameters(self):
        """In gradgrad's order: layers' weight and bias, embeddings, prior.mean, prior.log_variance."""
        return [t for wb in zip(self.weights, self.biases) for t in wb] + self.embeddings + [self.mean, self.log_variance]

    def network(self, x, levels):
        """F's forward pass at u = c·x with the σ embeddings added: `(slopes, F)`."""
        features = levels[:, FEATURES:]
        extra = [features @ e.t() for e in self.embeddings]
        return forward_trace(self.weights, self.biases, x * levels[:, IN:IN + 1], self.activation, extra)

    def skip(self, x, levels):
        """The Gaussian's score at σ, `(μ − x)/(v + σ²)`, and its trace `−Σ_d 1/(v_d + σ²)`."""
        spread = self.log_variance.exp() + levels[:, SIGMA:SIGMA + 1] ** 2  # [B, D]
        return (self.mean - x) / spread, -(1 / spread).sum(1)

    def score(self, x, levels):
        _, f = self.network(x, levels)
        return self.skip(x, levels)[0] + f * levels[:, OUT:OUT + 1]

    def score_and_trace(self, x, levels):
        """`s` and `tr(∂s/∂x) = tr(∂skip/∂x) + b·c·tr(∂F/∂u)`, F's by gradgrad's structure-aware trace."""
        slopes, f = self.network(x, levels)
        skip, skip_trace = self.skip(x, levels)
        scale = levels[:, OUT] * levels[:, IN]
        return skip + f * levels[:, OUT:OUT + 1], structured_trace(self.weights, slopes) * scale + skip_trace


def draw_levels(table, x, generator=None):
    """Per-sample rows of the table and the noise ε (`Tensor::sample_rows`, `randn_like`)."""
    rows = torch.randint(table.shape[0], (x.shape[0],), device=x.device, generator=generator)
    return table[rows], torch.randn(x.shape, device=x.device, dtype=x.dtype, generator=generator)


def conditional_dsm_loss(model, x, levels, eps):
    """mean of `w(σ)·½‖s(x + σε, σ) + ε/σ‖²` (ConditionalObjective::Dsm)."""
    sigma = levels[:, SIGMA:SIGMA + 1]
    residual = model.score(x + eps * sigma, levels) + eps / sigma
    return (0.5 * (residual**2).sum(1) * levels[:, WEIGHT]).mean()


def conditional_exact_loss(model, x, levels, eps, score_and_trace=None):
    """mean of `w(σ)·(tr ∂s/∂x̃ + ½‖s(x̃, σ)‖²)`, x̃ = x + σε (ConditionalObjective::Exact);
    the trace by the structure-aware method unless `score_and_trace(x̃, levels)` is given."""
    noisy = x + eps * levels[:, SIGMA:SIGMA + 1]
    s, tr = (score_and_trace or model.score_and_trace)(noisy, levels)
    return ((tr + 0.5 * (s**2).sum(1)) * levels[:, WEIGHT]).mean()


def conditional_ssm_vr_loss(model, x, levels, eps, v=None):
    """mean of `w(σ)·(vᵀ∂(vᵀs)/∂x̃ + ½‖s(x̃, σ)‖²)` with one Gaussian v per sample
    (ConditionalObjective::SsmVr, the trainer's `projections: 1, Projection::Gaussian`): one VJP of
    `Σ vᵀs` with respect to x̃ (rows are independent), recorded, then dotted with v per row."""
    noisy = (x + eps * levels[:, SIGMA:SIGMA + 1]).detach().requires_grad_()
    if v is None:
        v = torch.randn(noisy.shape, device=noisy.device, dtype=noisy.dtype)
    s = model.score(noisy, levels)
    jv = torch.autograd.grad((s * v).sum(), noisy, create_graph=True)[0]
    return (((jv * v).sum(1) + 0.5 * (s**2).sum(1)) * levels[:, WEIGHT]).mean()


def trainer_steps(loss_fn, model, x, table):
    """The two timed steps for one objective on one model, as named in the benches' tables:
    `grad` (loss and gradients, the loss read back) and `trainer step` (what
    crates/trainer/src/train.rs does per step: that, clipping to norm 100, loss and norm
    read back together, Adam lr 1e-3, EMA 0.999)."""
    params = model.parameters()
    adam = torch.optim.Adam(params, lr=1e-3)
    ema = [p.detach().clone() for p in params]

    def grad_only():
        loss = loss_fn(model, x, *draw_levels(table, x))
        torch.autograd.grad(loss, params)
        return loss.item()

    def trainer_step():
        loss = loss_fn(model, x, *draw_levels(table, x))
        for p, g in zip(params, torch.autograd.grad(loss, params)):
            p.grad = g
        norm = torch.nn.utils.clip_grad_norm_(params, 100.0)  # a device scalar, no sync
        value, _ = torch.stack([loss.detach(), norm]).tolist()  # the step's one read-back
        adam.step()
        with torch.no_grad():
            for e, p in zip(ema, params):
                e.lerp_(p, 1 - 0.999)
        return value

    return (("grad", grad_only), ("trainer step", trainer_step))
