//! The exact Jacobian diagonal of a score model, and its trace, by three strategies.
//!
//! - `Loop`: the original write-up's D backward passes (engine).
//! - `Batched`: one forward pass, and one backward pass carrying all D
//!   one-hot cotangents as a cotangent with a leading axis (engine).
//! - `StructureAware`: for MLPs, the Jacobian propagated layer by layer, in
//!   the spirit of BackPACK. The D one-hot cotangents through the output layer
//!   are the rows of `W_L`, one sample-independent `D×H` matrix; each
//!   activation scales it per sample by σ'(h); each further layer is one
//!   `(B·D×H)·(H×H')` product; at the input layer only the diagonal is
//!   contracted, never a `D×D` product. With one hidden layer the whole
//!   diagonal is a single `(B×H)·(H×D)` product, `σ'(h)·(W₂ᵀ⊙W₁)`.
//!
//! All three are built from recorded ops, so the diagonal is differentiable
//! with respect to the parameters, which training needs.
//!
//! The loss needs only the trace, and for an MLP without an output activation
//! the trace is cheaper than the diagonal: `tr(W_L S_{L−1} ⋯ S₁ W₁)` with
//! `S_l = diag(σ'(h_l))` equals `tr(S₁ (W₁W_L) S_{L−1} W_{L−1} ⋯ S₂ W₂)`, and
//! `W₁W_L` is `H₁×H_{L−1}`, shared by all samples: the D one-hot cotangents
//! never appear ([`structured_trace`]). One hidden layer needs only
//! `diag(W₁W₂)`, an `H`-vector; two need `W₁W₃ ⊙ W₂ᵀ`, one `H₁×H₂` matrix.

use std::fmt;
use std::str::FromStr;

use autodiff::{jacobian_diagonal, DiagonalStrategy, Tensor};

use crate::error::ScoreError;
use crate::mlp::{ForwardTrace, Mlp, ScoreModel};

/// How the exact Jacobian diagonal or trace is computed (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TraceStrategy {
    /// D backward passes, one per one-hot cotangent: any model.
    Loop,
    /// One backward pass carrying all D cotangents: any model whose samples are independent.
    Batched,
    /// No backward pass: the MLP's structure (the rotated trace). MLPs only.
    StructureAware,
    /// `StructureAware` where the model is an MLP, else `Batched`; the
    /// strategy actually used is reported back.
    #[default]
    Auto,
}

impl fmt::Display for TraceStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TraceStrategy::Loop => "loop",
            TraceStrategy::Batched => "batched",
            TraceStrategy::StructureAware => "structure-aware",
            TraceStrategy::Auto => "auto",
        })
    }
}

impl FromStr for TraceStrategy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "loop" => Ok(TraceStrategy::Loop),
            "batched" => Ok(TraceStrategy::Batched),
            "structure-aware" | "structured" => Ok(TraceStrategy::StructureAware),
            "auto" => Ok(TraceStrategy::Auto),
            other => Err(format!("unknown trace strategy `{other}` (loop, batched, structure-aware, auto)")),
        }
    }
}

/// The score and its exact Jacobian diagonal, both `[B, D]`, recorded (so
/// differentiable) when `create_graph`; plus the strategy that was used.
pub struct Diagonal {
    /// The score `s(x)`, `[B, D]`.
    pub score: Tensor,
    /// `∂sᵢ/∂xᵢ` per sample, `[B, D]`.
    pub diagonal: Tensor,
    /// The strategy used.
    pub strategy: TraceStrategy,
}

/// The score and the trace of its Jacobian, `[B, D]` and `[B]`, recorded
/// when `create_graph`; plus the strategy that was used.
pub struct Trace {
    /// The score `s(x)`, `[B, D]`.
    pub score: Tensor,
    /// `tr(∂s/∂x)` per sample, `[B]`.
    pub trace: Tensor,
    /// The strategy used.
    pub strategy: TraceStrategy,
}

/// Computes `s(x)` and `diag(∂s/∂x)` per sample with `strategy`.
pub fn score_and_diagonal(model: &dyn ScoreModel, x: &Tensor, strategy: TraceStrategy, create_graph: bool) -> Result<Diagonal, ScoreError> {
    let strategy = resolve(strategy, model);
    let (score, diagonal) = match strategy {
        TraceStrategy::Loop => jacobian_diagonal(|x| model.score(x), x, DiagonalStrategy::Loop, create_graph),
        TraceStrategy::Batched => jacobian_diagonal(|x| model.score(x), x, DiagonalStrategy::Batched, create_graph),
        TraceStrategy::StructureAware => structured_diagonal(require_mlp(model)?, x),
        TraceStrategy::Auto => unreachable!("resolved above"),
    };
    Ok(Diagonal { score, diagonal, strategy })
}

/// Computes `s(x)` and `tr(∂s/∂x)` per sample with `strategy`: the
/// diagonal's row sums, except that the structure-aware strategy goes
/// straight to the trace ([`structured_trace`]).
pub fn score_and_trace(model: &dyn ScoreModel, x: &Tensor, strategy: TraceStrategy, create_graph: bool) -> Result<Trace, ScoreError> {
    let strategy = resolve(strategy, model);
    let (score, trace) = match strategy {
        TraceStrategy::StructureAware => structured_trace(require_mlp(model)?, x),
        _ => {
            let d = score_and_diagonal(model, x, strategy, create_graph)?;
            (d.score, d.diagonal.sum_axis(1))
        }
    };
    Ok(Trace { score, trace, strategy })
}

fn resolve(strategy: TraceStrategy, model: &dyn ScoreModel) -> TraceStrategy {
    match (strategy, model.as_mlp()) {
        (TraceStrategy::Auto, Some(_)) => TraceStrategy::StructureAware,
        (TraceStrategy::Auto, None) => TraceStrategy::Batched,
        (s, _) => s,
    }
}

fn require_mlp(model: &dyn ScoreModel) -> Result<&Mlp, ScoreError> {
    model.as_mlp().ok_or(ScoreError::NotApplicable {
        strategy: TraceStrategy::StructureAware,
        reason: "the model is not a chain of linear layers with elementwise activations (not an Mlp); use the batched strategy".into(),
    })
}

/// The structure-aware diagonal of an MLP (see the module docs), from recorded
/// ops. Weights are `[out, in]`: layer l computes `h_l = a_{l−1}·W_lᵀ + b_l`.
pub fn structured_diagonal(mlp: &Mlp, x: &Tensor) -> (Tensor, Tensor) {
    let forward = mlp.forward_trace(x);
    let diagonal = structured_diagonal_of(mlp, &forward);
    (forward.output, diagonal)
}

/// [`structured_diagonal`] of a forward pass already taken (one with per-layer extra terms,
/// [`Mlp::forward_trace_with`], included): the diagonal of `∂output/∂x`, `[B, D]`.
pub fn structured_diagonal_of(mlp: &Mlp, trace: &ForwardTrace) -> Tensor {
    let (b, d) = (trace.output.dims()[0], mlp.layers[0].inputs());
    let layers = &mlp.layers;
    let hidden = layers.len() - 1;
    // σ'(h_l) per sample for each hidden layer, [B, H_l].
    let slopes: Vec<Tensor> = (0..hidden).map(|l| mlp.activation.derivative(&trace.pre[l], &trace.post[l])).collect();
    let w_first = &layers[0].weight; // [H_1, D]
    let w_last = &layers[hidden].weight; // [D, H_L]

    let diagonal = if hidden == 1 {
        // J_dd = Σ_k W₂[d,k] σ'(h_k) W₁[k,d]: one (B×H)·(H×D) product.
        let coupling = &w_last.t() * w_first; // [H, D], entry (k, d) = W₂[d,k]·W₁[k,d]
        slopes[0].matmul(&coupling)
    } else {
        // Row d of A_b is the cotangent e_d pulled back to the current layer
        // for sample b: starts as row d of W_L, shared by all samples.
        let mut rows = w_last.reshape([1, d, w_last.dims()[1]]);
        for l in (1..hidden).rev() {
            let h = slopes[l].dims()[1];
            let scaled = &rows * &slopes[l].reshape([b, 1, h]); // [B, D, H_l]
            let pulled = scaled.reshape([b * d, h]).matmul(&layers[l].weight); // [B·D, H_{l−1}]
            rows = pulled.reshape([b, d, layers[l].inputs()]);
        }
        // At the input layer only entry (d, d) is wanted: Σ_j A_b[d,j]·σ'(h₁)_j·W₁[j,d].
        let h1 = slopes[0].dims()[1];
        let weighted = &rows * &w_first.t().reshape([1, d, h1]);
        (&weighted * &slopes[0].reshape([b, 1, h1])).sum_axis(2)
    };
    match mlp.output_activation {
        Some(act) => &diagonal * &act.derivative(trace.pre.last().unwrap(), &trace.output),
        None => diagonal,
    }
}

/// The structure-aware trace of an MLP, `[B]`, from recorded ops (see the
/// module docs). An output activation scales each output per sample, which
/// breaks the shared `W₁W_L`; then, and where the first hidden layer is at
/// least as wide as the data (deeper nets carry `H₁` rows per sample where
/// the diagonal carries `D`), it is the diagonal's row sum.
pub fn structured_trace(mlp: &Mlp, x: &Tensor) -> (Tensor, Tensor) {
    let forward = mlp.forward_trace(x);
    let trace = structured_trace_of(mlp, &forward);
    (forward.output, trace)
}

/// [`structured_trace`] of a forward pass already taken (one with per-layer extra terms,
/// [`Mlp::forward_trace_with`], included): `tr(∂output/∂x)`, `[B]`.
pub fn structured_trace_of(mlp: &Mlp, forward: &ForwardTrace) -> Tensor {
    let layers = &mlp.layers;
    let hidden = layers.len() - 1;
    let (b, d) = (forward.output.dims()[0], layers[0].inputs());
    let h1 = layers[0].weight.dims()[0];
    if mlp.output_activation.is_some() || (hidden >= 3 && h1 >= d) {
        return structured_diagonal_of(mlp, forward).sum_axis(1);
    }
    let slopes: Vec<Tensor> = (0..hidden).map(|l| mlp.activation.derivative(&forward.pre[l], &forward.post[l])).collect();
    let w_first = &layers[0].weight; // W₁: [H₁, D]
    let w_last = &layers[hidden].weight; // W_L: [D, H_{L−1}]

    if hidden == 1 {
        // tr = Σ_j σ'(h)_j (W₁W₂)_jj: only the diagonal of W₁W₂, an H-vector.
        let shared_diagonal = (w_first * &w_last.t()).sum_axis(1);
        slopes[0].matmul(&shared_diagonal.reshape([h1, 1])).reshape([b])
    } else if hidden == 2 {
        // tr(S₁ W₁W₃ S₂ W₂) = Σ_jk σ'(h₁)_j (W₁W₃)_jk (W₂)_kj σ'(h₂)_k. The coupling
        // (W₁W₃)ᵀ ⊙ W₂ = (W₃ᵀW₁ᵀ) ⊙ W₂ is [H₂, H₁], W₂'s own layout, so no
        // weight is copied transposed (nor its gradient transposed back).
        let coupling = &w_last.matmul_t(w_first, true, true) * &layers[1].weight;
        slopes[1].matmul(&coupling).row_dot(&slopes[0])
    } else {
        // R = W₁W_L S_{L−1} W_{L−1} ⋯ S₃ W₃, [H₁, H₂]: shared until the first S.
        let mut rows = w_first.matmul(w_last).reshape([1, h1, w_last.dims()[1]]);
        for l in (2..hidden).rev() {
            // layers[l] is W_{l+1}, slopes[l] the S_{l+1} on its output (0-based code, 1-based maths).
            let h = slopes[l].dims()[1];
            let scaled = &rows * &slopes[l].reshape([b, 1, h]); // R·S_{l+1}: [B, H₁, H_{l+1}]
            rows = scaled.reshape([b * h1, h]).matmul(&layers[l].weight).reshape([b, h1, layers[l].inputs()]);
        }
        // tr(S₁ R S₂ W₂) = Σ_jk σ'(h₁)_j (R ⊙ W₂ᵀ)_jk σ'(h₂)_k.
        let h2 = slopes[1].dims()[1];
        let coupling = &rows * &layers[1].weight.t().reshape([1, h1, h2]);
        (&coupling * &slopes[1].reshape([b, 1, h2])).sum_axis(2).row_dot(&slopes[0])
    }
}
