//! Noise-conditional score networks `s(x, σ)`: one MLP for every noise level.
//!
//! One noise level and an unconditional network learn the score only near the data, so
//! Langevin chains that start far from it drift to blobs (NCSN's failure case). A network told
//! σ learns the score of the data perturbed at every level, `p_σ = p * N(0, σ²I)`, and a
//! sampler can walk σ down from "covers the data" to "almost clean".
//!
//! The network is an [`Mlp`] `F` whose hidden layers each receive a per-sample bias
//! `E_l·φ(σ)`, where `φ(σ)` are sinusoidal features of `log σ` and `E_l` is trained. The bias
//! does not depend on `x`, so `∂F/∂x` keeps the MLP's structure and the rotated trace
//! ([`structured_trace_of`]) covers it unchanged: the σ columns drop out of the Jacobian.
//!
//! Two parametrisations map `F` to a score, both of the form `s = a(σ)·x + b(σ)·F(c(σ)·x, σ)`:
//!
//! | | `a` (skip) | `b` (out) | `c` (in) | loss weight `w(σ)` |
//! | --- | --- | --- | --- | --- |
//! | NCSNv2 | 0 | `1/σ` | 1 | `σ²` |
//! | EDM | `−1/(σ²+σ_d²)` | `σ_d/(σ·√(σ²+σ_d²))` | `1/√(σ²+σ_d²)` | `σ²(σ²+σ_d²)/σ_d²` |
//! | EDM, diagonal | `a·x` becomes `(μ − x)/(v + σ²)`, `μ`, `v` per pixel, trained | as EDM | as EDM | as EDM |
//!
//! EDM's (Karras et al. 2022) denoiser `D = c_skip·x + c_out·F(c_in·x)` gives the score
//! `(D − x)/σ²`; written out, `a = (c_skip − 1)/σ²` and `b = c_out/σ²`, which simplify to the
//! row above with no cancellation at small σ. Its weight is `λ(σ)·σ⁴` with
//! `λ = (σ²+σ_d²)/(σ·σ_d)²`: the denoiser loss `λ‖D − x‖²` in score units, so the network's
//! target has unit variance at every σ. The Jacobian with respect to `x` is
//! `a·I + b·c·∂F/∂u`, so `tr(∂s/∂x) = D·a + b·c·tr(∂F/∂u)`. The diagonal variant's skip is
//! the score of `N(μ, diag(v))` perturbed at σ; its Jacobian is `−diag(1/(v + σ²))`.
//!
//! Every per-level number (σ, a, b, c, w and the features) is one row of a table
//! ([`NoiseConditioning::row`]); a training batch draws its rows on the device
//! ([`Tensor::sample_rows`]), so a GPU step copies nothing.

use std::fmt;
use std::str::FromStr;

use autodiff::{jacobian_diagonal, DType, Device, DiagonalStrategy, Tensor};
use rand::{rngs::StdRng, SeedableRng};

use crate::error::ScoreError;
use crate::mlp::{ForwardTrace, Mlp, MlpConfig};
use crate::noise;
use crate::trace::{structured_trace_of, TraceStrategy};

/// How the network's output becomes a score (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Parametrisation {
    /// NCSNv2: `s = F(x, σ)/σ`.
    Ncsn,
    /// EDM's preconditioned denoiser, for data of RMS `sigma_data`.
    Edm {
        /// The data's RMS per coordinate, σ_d.
        sigma_data: f64,
    },
    /// EDM whose skip is the score of a diagonal Gaussian `N(μ, diag(v))` fitted per pixel and
    /// trained with the network: `s = (μ − x)/(v + σ²) + b·F(c·x)`. With `μ = 0` and
    /// `v = σ_data²` it is `Edm`; on MNIST, where half the pixels are always black (`v ≈ 0`), the
    /// skip alone already denoises them and `F` need not learn to cancel their noise.
    EdmDiagonal {
        /// The data's RMS per coordinate, σ_d.
        sigma_data: f64,
    },
}

impl fmt::Display for Parametrisation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Parametrisation::Ncsn => f.write_str("ncsn"),
            Parametrisation::Edm { sigma_data } => write!(f, "edm (σ_data {sigma_data})"),
            Parametrisation::EdmDiagonal { sigma_data } => write!(f, "edm with a per-pixel Gaussian skip (σ_data {sigma_data})"),
        }
    }
}

/// The columns of a noise-level row.
mod column {
    pub const SIGMA: usize = 0;
    pub const SKIP: usize = 1;
    pub const OUT: usize = 2;
    pub const IN: usize = 3;
    pub const WEIGHT: usize = 4;
    pub const FEATURES: usize = 5;
}

/// Everything about a noise level the network and the losses need, as one table row.
#[derive(Clone, Debug, PartialEq)]
pub struct NoiseConditioning {
    /// How the network's output becomes a score.
    pub parametrisation: Parametrisation,
    /// Angular frequencies ω_k of the features `sin(ω_k·log σ)`, `cos(ω_k·log σ)`.
    pub frequencies: Vec<f64>,
}

impl NoiseConditioning {
    /// `count` frequencies spaced geometrically from 0.1 (one period spans log σ from 10⁻⁶ to
    /// 10²⁰: coarse position) to 20 (a period of 0.3 in log σ: fine position).
    pub fn new(parametrisation: Parametrisation, count: usize) -> NoiseConditioning {
        assert!(count >= 2, "NoiseConditioning: needs at least two frequencies");
        let (low, high) = (0.1f64, 20.0f64);
        let frequencies = (0..count).map(|k| low * (high / low).powf(k as f64 / (count - 1) as f64)).collect();
        NoiseConditioning { parametrisation, frequencies }
    }

    /// The number of features `φ(σ)`.
    pub fn features(&self) -> usize {
        2 * self.frequencies.len()
    }

    /// The length of a row.
    pub fn width(&self) -> usize {
        column::FEATURES + self.features()
    }

    /// `[σ, a, b, c, w, φ(σ)…]` for one level.
    pub fn row(&self, sigma: f64) -> Vec<f64> {
        assert!(sigma.is_finite() && sigma > 0.0, "NoiseConditioning: σ must be positive and finite, got {sigma}");
        let (skip, out, input, weight) = match self.parametrisation {
            Parametrisation::Ncsn => (0.0, 1.0 / sigma, 1.0, sigma * sigma),
            Parametrisation::Edm { sigma_data: sd } | Parametrisation::EdmDiagonal { sigma_data: sd } => {
                let total = sigma * sigma + sd * sd;
                (-1.0 / total, sd / (sigma * total.sqrt()), 1.0 / total.sqrt(), sigma * sigma * total / (sd * sd))
            }
        };
        let t = sigma.ln();
        let mut row = vec![sigma, skip, out, input, weight];
        row.extend(self.frequencies.iter().map(|w| (w * t).sin()));
        row.extend(self.frequencies.iter().map(|w| (w * t).cos()));
        row
    }

    /// One row per level, `[L, width]`, with `like`'s dtype on its device.
    pub fn table(&self, sigmas: &[f64], like: &Tensor) -> Tensor {
        let values: Vec<f64> = sigmas.iter().flat_map(|&s| self.row(s)).collect();
        Tensor::from_vec(values, [sigmas.len(), self.width()]).to_dtype(like.dtype()).to_device(like.device())
    }
}

/// Per-sample noise levels: rows of a [`NoiseConditioning`] table, `[B, width]` (or `[1, width]`,
/// which broadcasts over the batch). Constants: nothing is differentiated with respect to σ.
#[derive(Clone)]
pub struct Levels(pub Tensor);

impl Levels {
    fn column(&self, j: usize) -> Tensor {
        self.0.narrow(1, j, 1)
    }
    /// σ, `[B, 1]`.
    pub fn sigma(&self) -> Tensor {
        self.column(column::SIGMA)
    }
    /// The skip coefficient `a`, `[B, 1]`.
    pub fn skip(&self) -> Tensor {
        self.column(column::SKIP)
    }
    /// The output coefficient `b`, `[B, 1]`.
    pub fn out(&self) -> Tensor {
        self.column(column::OUT)
    }
    /// The input scale `c`, `[B, 1]`.
    pub fn input(&self) -> Tensor {
        self.column(column::IN)
    }
    /// The loss weight `w(σ)`, `[B]`.
    pub fn weight(&self) -> Tensor {
        let rows = self.0.dims()[0];
        self.column(column::WEIGHT).reshape([rows])
    }
    /// `φ(σ)`, `[B, F]`.
    pub fn features(&self) -> Tensor {
        let width = self.0.dims()[1];
        self.0.narrow(1, column::FEATURES, width - column::FEATURES)
    }
}

/// The shape of a [`ConditionalMlp`].
#[derive(Clone, Debug, PartialEq)]
pub struct ConditionalConfig {
    /// The network `F`: data dimension, width, depth, activation, dtype.
    pub mlp: MlpConfig,
    /// How `F`'s output becomes a score.
    pub parametrisation: Parametrisation,
    /// Frequencies of the σ features (twice as many features).
    pub frequencies: usize,
    /// Feed the σ features to every hidden layer (else to the first only).
    pub embed_every_layer: bool,
}

/// `s(x, σ) = a(σ)·x + b(σ)·F(c(σ)·x, φ(σ))` with `F` an MLP (see the module docs).
#[derive(Clone, Debug)]
pub struct ConditionalMlp {
    /// The network `F`, whose hidden layers also receive the σ features.
    pub net: Mlp,
    /// `E_l`, `[H_l, F]`: hidden layer `l` receives `φ(σ)·E_lᵀ`. One per hidden layer, or one.
    pub embeddings: Vec<Tensor>,
    /// The parametrisation and the σ features' frequencies.
    pub conditioning: NoiseConditioning,
    /// The trained Gaussian of [`Parametrisation::EdmDiagonal`].
    pub prior: Option<DiagonalGaussian>,
}

/// `N(μ, diag(v))`, trained as `μ` and `log v`, both `[D]`.
#[derive(Clone, Debug)]
pub struct DiagonalGaussian {
    /// `μ`, `[D]`.
    pub mean: Tensor,
    /// `log v`, `[D]`.
    pub log_variance: Tensor,
}

impl DiagonalGaussian {
    /// The score of this Gaussian perturbed at σ, `(μ − x)/(v + σ²)`, and its trace
    /// `−Σ_d 1/(v_d + σ²)` per sample.
    fn score_and_trace(&self, x: &Tensor, sigma: &Tensor) -> (Tensor, Tensor) {
        let d = self.mean.dims()[0];
        let spread = &self.log_variance.exp().reshape([1, d]) + &sigma.square(); // [B, D]
        let score = &(&self.mean.reshape([1, d]) - x) / &spread;
        let rows = score.dims()[0];
        let trace = spread.powi(-1).sum_axis(1).neg();
        (score, if trace.dims()[0] == rows { trace } else { trace.broadcast_to(&[rows].into()) })
    }
}

impl ConditionalMlp {
    /// A freshly initialised network, reproducible from `seed`. The embeddings start like a
    /// linear layer's weights, U(−1/√F, 1/√F).
    pub fn new(config: &ConditionalConfig, seed: u64) -> ConditionalMlp {
        assert!(config.mlp.output_activation.is_none(), "ConditionalMlp: the score's output is linear in F");
        let net = Mlp::new(&config.mlp, seed);
        let conditioning = NoiseConditioning::new(config.parametrisation, config.frequencies);
        let f = conditioning.features();
        let bound = 1.0 / (f as f64).sqrt();
        let mut rng = StdRng::seed_from_u64(seed ^ 0x05ee_d0fe_3bed);
        let count = if config.embed_every_layer { config.mlp.hidden_layers } else { 1 };
        let embeddings = (0..count)
            .map(|l| noise::uniform([net.layers[l].outputs(), f], -bound, bound, config.mlp.dtype, &mut rng).requires_grad())
            .collect();
        let prior = match config.parametrisation {
            Parametrisation::EdmDiagonal { sigma_data } => Some(DiagonalGaussian {
                mean: Tensor::zeros([config.mlp.dim], config.mlp.dtype).requires_grad(),
                log_variance: Tensor::full([config.mlp.dim], (sigma_data * sigma_data).ln(), config.mlp.dtype).requires_grad(),
            }),
            _ => None,
        };
        ConditionalMlp { net, embeddings, conditioning, prior }
    }

    /// The same network with its Gaussian skip set to `mean` and `variance` per pixel (the
    /// data's, at the start of training). Variances are floored at 10⁻⁴ (pixels that are
    /// always black have none).
    pub fn with_prior(&self, mean: &[f64], variance: &[f64]) -> ConditionalMlp {
        assert!(self.prior.is_some(), "with_prior: the model has no Gaussian skip (parametrisation {})", self.conditioning.parametrisation);
        let d = self.dim();
        assert!(mean.len() == d && variance.len() == d, "with_prior: {} means and {} variances for {d} pixels", mean.len(), variance.len());
        let dtype = self.dtype();
        let log_variance: Vec<f64> = variance.iter().map(|v| v.max(1e-4).ln()).collect();
        let mut model = self.clone();
        model.prior = Some(DiagonalGaussian {
            mean: Tensor::from_vec(mean.to_vec(), [d]).to_dtype(dtype).to_device(self.device()).detach().requires_grad(),
            log_variance: Tensor::from_vec(log_variance, [d]).to_dtype(dtype).to_device(self.device()).detach().requires_grad(),
        });
        model
    }

    /// The data dimension D.
    pub fn dim(&self) -> usize {
        self.net.layers[0].inputs()
    }

    /// The dtype of the weights.
    pub fn dtype(&self) -> DType {
        self.net.dtype()
    }

    /// Where the weights live.
    pub fn device(&self) -> Device {
        self.net.device()
    }

    /// The trainable tensors: the MLP's, then the embeddings.
    pub fn parameters(&self) -> Vec<Tensor> {
        let mut params = crate::mlp::ScoreModel::parameters(&self.net);
        params.extend(self.embeddings.iter().cloned());
        if let Some(p) = &self.prior {
            params.extend([p.mean.clone(), p.log_variance.clone()]);
        }
        params
    }

    /// `layers.{i}.weight`, `layers.{i}.bias`, `embeddings.{l}`, then `prior.mean` and
    /// `prior.log_variance` where there is a Gaussian skip, in `parameters()` order.
    pub fn parameter_names(&self) -> Vec<String> {
        let mut names = self.net.parameter_names();
        names.extend((0..self.embeddings.len()).map(|l| format!("embeddings.{l}")));
        if self.prior.is_some() {
            names.extend(["prior.mean".to_string(), "prior.log_variance".to_string()]);
        }
        names
    }

    /// The same architecture with new parameter values (in `parameters()` order), as fresh leaves.
    pub fn with_parameters(&self, params: &[Tensor]) -> ConditionalMlp {
        let mlp_count = 2 * self.net.layers.len();
        let embed_end = mlp_count + self.embeddings.len();
        let prior_count = if self.prior.is_some() { 2 } else { 0 };
        assert_eq!(params.len(), embed_end + prior_count, "ConditionalMlp::with_parameters: wrong number of tensors");
        let leaf = |t: &Tensor| t.detach().requires_grad();
        ConditionalMlp {
            net: self.net.with_parameters(&params[..mlp_count]),
            embeddings: params[mlp_count..embed_end].iter().map(leaf).collect(),
            conditioning: self.conditioning.clone(),
            prior: self.prior.as_ref().map(|_| DiagonalGaussian { mean: leaf(&params[embed_end]), log_variance: leaf(&params[embed_end + 1]) }),
        }
    }

    /// The same network with its parameters on `device`, as fresh leaves there.
    pub fn to_device(&self, device: Device) -> ConditionalMlp {
        let params: Vec<Tensor> = self.parameters().iter().map(|p| p.to_device(device)).collect();
        self.with_parameters(&params)
    }

    /// One noise level for a whole batch, `[1, width]`, where `like` lives.
    pub fn level(&self, sigma: f64, like: &Tensor) -> Levels {
        Levels(like.constant_like(&self.conditioning.row(sigma), [1, self.conditioning.width()]))
    }

    /// `F`'s forward pass at `u = c·x`, with the σ embeddings added.
    fn forward(&self, x: &Tensor, levels: &Levels) -> ForwardTrace {
        let features = levels.features();
        let extra: Vec<Tensor> = self.embeddings.iter().map(|e| features.matmul_t(e, false, true)).collect();
        self.net.forward_trace_with(&(x * &levels.input()), &extra)
    }

    /// The skip term of the score and its trace per sample: `a·x` and `D·a`, or the Gaussian's.
    fn skip(&self, x: &Tensor, levels: &Levels) -> (Tensor, Tensor) {
        match &self.prior {
            Some(gaussian) => gaussian.score_and_trace(x, &levels.sigma()),
            None => {
                let a = levels.skip();
                let rows = levels.0.dims()[0];
                (x * &a, a.reshape([rows]).scale(self.dim() as f64))
            }
        }
    }

    fn assemble(&self, x: &Tensor, levels: &Levels, f: &Tensor) -> Tensor {
        &self.skip(x, levels).0 + &(f * &levels.out())
    }

    /// `s(x, σ)` for a batch `x` `[B, D]` at `levels`.
    pub fn score(&self, x: &Tensor, levels: &Levels) -> Tensor {
        let forward = self.forward(x, levels);
        self.assemble(x, levels, &forward.output)
    }

    /// `s(x, σ)` and `tr(∂s/∂x)` per sample (`[B, D]`, `[B]`), recorded when `create_graph`.
    /// The structure-aware strategy (and `Auto`) uses the rotated trace of `F`; `Loop` and
    /// `Batched` differentiate the whole score, and are what the rotated trace is tested against.
    pub fn score_and_trace(&self, x: &Tensor, levels: &Levels, strategy: TraceStrategy, create_graph: bool) -> Result<(Tensor, Tensor), ScoreError> {
        let d = self.dim();
        if x.rank() != 2 || x.dims()[1] != d {
            let data_dim = if x.rank() == 2 { x.dims()[1] } else { 0 };
            return Err(ScoreError::DimensionMismatch { objective: "conditional score".into(), model_dim: d, data_dim });
        }
        let diagonal_sum = |how| {
            let (score, diagonal) = jacobian_diagonal(|x| self.score(x, levels), x, how, create_graph);
            (score, diagonal.sum_axis(1))
        };
        Ok(match strategy {
            TraceStrategy::Loop => diagonal_sum(DiagonalStrategy::Loop),
            TraceStrategy::Batched => diagonal_sum(DiagonalStrategy::Batched),
            TraceStrategy::StructureAware | TraceStrategy::Auto => {
                let forward = self.forward(x, levels);
                // tr(∂skip/∂x + b·c·∂F/∂u) = tr(∂skip/∂x) + b·c·tr(∂F/∂u).
                let scale = (&levels.out() * &levels.input()).reshape([levels.0.dims()[0]]);
                let (skip, skip_trace) = self.skip(x, levels);
                let trace = &(&structured_trace_of(&self.net, &forward) * &scale) + &skip_trace;
                (&skip + &(&forward.output * &levels.out()), trace)
            }
        })
    }
}

/// How noise levels are drawn for training.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SigmaDistribution {
    /// NCSN: uniform over a geometric ladder of `levels` values from `max` down to `min`.
    Ladder {
        /// The largest level.
        max: f64,
        /// The smallest level.
        min: f64,
        /// The number of levels.
        levels: usize,
    },
    /// EDM: `log σ ~ N(mean, std²)`, cut to `[min, max]`.
    LogNormal {
        /// The mean of `log σ`.
        mean: f64,
        /// The standard deviation of `log σ`.
        std: f64,
        /// The smallest σ drawn.
        min: f64,
        /// The largest σ drawn.
        max: f64,
    },
    /// `log σ` uniform on `[log min, log max]`.
    LogUniform {
        /// The smallest σ drawn.
        min: f64,
        /// The largest σ drawn.
        max: f64,
    },
}

/// Rows of the training table for the continuous distributions: equal-probability quantiles,
/// so a uniformly drawn row is a draw from the distribution to within 1/`QUANTILES`.
pub const QUANTILES: usize = 1024;

impl SigmaDistribution {
    /// The levels a uniformly drawn table row picks from: the ladder, or the distribution's
    /// [`QUANTILES`] midpoint quantiles.
    pub fn levels(&self) -> Vec<f64> {
        let midpoint = |i: usize| (i as f64 + 0.5) / QUANTILES as f64;
        match *self {
            SigmaDistribution::Ladder { max, min, levels } => crate::objectives::geometric_sigmas(max, min, levels),
            SigmaDistribution::LogNormal { mean, std, min, max } => {
                (0..QUANTILES).map(|i| (mean + std * normal_quantile(midpoint(i))).exp().clamp(min, max)).collect()
            }
            SigmaDistribution::LogUniform { min, max } => {
                (0..QUANTILES).map(|i| (min.ln() + midpoint(i) * (max.ln() - min.ln())).exp()).collect()
            }
        }
    }
}

impl fmt::Display for SigmaDistribution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            SigmaDistribution::Ladder { max, min, levels } => write!(f, "geometric ladder, {levels} levels {max}…{min}"),
            SigmaDistribution::LogNormal { mean, std, min, max } => write!(f, "log-normal, log σ ~ N({mean:.2}, {std:.2}²) in [{min}, {max}]"),
            SigmaDistribution::LogUniform { min, max } => write!(f, "log-uniform in [{min}, {max}]"),
        }
    }
}

impl FromStr for Parametrisation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "ncsn" => Ok(Parametrisation::Ncsn),
            "edm" => Ok(Parametrisation::Edm { sigma_data: 0.5 }),
            "edm-diag" => Ok(Parametrisation::EdmDiagonal { sigma_data: 0.5 }),
            other => Err(format!("unknown parametrisation `{other}` (ncsn, edm, edm-diag)")),
        }
    }
}

/// Φ⁻¹(p), the standard normal quantile (Acklam's rational approximation, relative error
/// below 1.2·10⁻⁹: ample for placing table rows).
pub fn normal_quantile(p: f64) -> f64 {
    assert!(p > 0.0 && p < 1.0, "normal_quantile: p must lie in (0, 1), got {p}");
    const A: [f64; 6] = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
    const B: [f64; 5] = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
    const C: [f64; 6] = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
    const D: [f64; 4] = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
    let tail = |q: f64| (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5]) / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0);
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_quantiles_match_tabulated_values() {
        // Φ⁻¹(0.975) = 1.959963985, Φ⁻¹(0.5) = 0, Φ⁻¹(0.001) = −3.090232306.
        assert!((normal_quantile(0.975) - 1.959963985).abs() < 1e-8);
        assert!(normal_quantile(0.5).abs() < 1e-12);
        assert!((normal_quantile(0.001) + 3.090232306).abs() < 1e-8);
    }

    #[test]
    fn edm_rows_are_the_denoiser_coefficients_rewritten() {
        let (sd, sigma) = (0.5, 0.3);
        let c = NoiseConditioning::new(Parametrisation::Edm { sigma_data: sd }, 4);
        let row = c.row(sigma);
        let total: f64 = sigma * sigma + sd * sd;
        let (c_skip, c_out) = (sd * sd / total, sigma * sd / total.sqrt());
        assert!((row[column::SKIP] - (c_skip - 1.0) / (sigma * sigma)).abs() < 1e-12);
        assert!((row[column::OUT] - c_out / (sigma * sigma)).abs() < 1e-12);
        assert!((row[column::IN] - 1.0 / total.sqrt()).abs() < 1e-12);
        let lambda = total / (sigma * sd).powi(2);
        assert!((row[column::WEIGHT] - lambda * sigma.powi(4)).abs() < 1e-12);
        assert_eq!(row.len(), c.width());
    }
}
