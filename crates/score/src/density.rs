//! Ground truth: 2-D Gaussian mixtures, whose score is known in closed form,
//! to check every objective and sampler against.
//!
//! For `p(x) = Σₖ wₖ N(x; μₖ, diag(sₖ²))`, with responsibilities
//! `rₖ(x) = wₖ N(x; μₖ, sₖ²) / p(x)` (a softmax of the log terms, computed
//! with log-sum-exp so that far-away points neither underflow nor divide 0/0),
//!
//! ```text
//! ∇log p(x) = Σₖ rₖ(x) · (μₖ − x) / sₖ²        (elementwise over the two coordinates)
//! ```
//!
//! A model is judged by the Fisher divergence `½ E_p ‖s_θ(x) − ∇log p(x)‖²`,
//! estimated on held-out samples ([`GaussianMixture::fisher_divergence`]).
//! Smoothing a mixture with Gaussian noise of scale σ (what denoising score
//! matching learns the score of) is again a mixture, with variances `sₖ² + σ²`
//! ([`GaussianMixture::smoothed`]), so noisy objectives have a ground truth too.
//!
//! Everything here is plain f64 arithmetic returned as constant tensors: the
//! ground truth is not something to differentiate.

use std::f64::consts::PI;

use autodiff::{no_grad, DType, Tensor};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::mlp::ScoreModel;
use crate::sampling::AnnealedSchedule;

/// A mixture of axis-aligned Gaussians in the plane.
#[derive(Clone, Debug, PartialEq)]
pub struct GaussianMixture {
    means: Vec<[f64; 2]>,
    stds: Vec<[f64; 2]>,
    /// Normalised to sum to 1.
    weights: Vec<f64>,
}

impl GaussianMixture {
    /// Components with the given means, per-coordinate standard deviations
    /// and weights (normalised here). Panics on mismatched lengths, no
    /// components, a non-positive std or a negative weight.
    pub fn new(means: Vec<[f64; 2]>, stds: Vec<[f64; 2]>, weights: Vec<f64>) -> GaussianMixture {
        let k = means.len();
        assert!(k > 0, "GaussianMixture: no components");
        assert!(stds.len() == k && weights.len() == k, "GaussianMixture: {k} means, {} stds, {} weights", stds.len(), weights.len());
        assert!(stds.iter().flatten().all(|s| *s > 0.0 && s.is_finite()), "GaussianMixture: standard deviations must be positive and finite");
        assert!(weights.iter().all(|w| *w >= 0.0 && w.is_finite()), "GaussianMixture: weights must be non-negative and finite");
        let total: f64 = weights.iter().sum();
        assert!(total > 0.0, "GaussianMixture: the weights sum to 0");
        GaussianMixture { means, stds, weights: weights.iter().map(|w| w / total).collect() }
    }

    /// Equal weights, one isotropic std for every component.
    pub fn isotropic(means: Vec<[f64; 2]>, std: f64) -> GaussianMixture {
        let k = means.len();
        GaussianMixture::new(means, vec![[std, std]; k], vec![1.0; k])
    }

    /// A rows×cols grid of modes `spacing` apart, centred on the origin.
    pub fn grid(rows: usize, cols: usize, spacing: f64, std: f64) -> GaussianMixture {
        let centre = |i: usize, n: usize| (i as f64 - (n as f64 - 1.0) / 2.0) * spacing;
        let means = (0..rows).flat_map(|r| (0..cols).map(move |c| [centre(c, cols), centre(r, rows)])).collect();
        GaussianMixture::isotropic(means, std)
    }

    /// `n_modes` modes evenly spaced on a circle of `radius` around the
    /// origin, the first on the positive x axis.
    pub fn ring(n_modes: usize, radius: f64, std: f64) -> GaussianMixture {
        let means = (0..n_modes)
            .map(|k| {
                let angle = 2.0 * PI * k as f64 / n_modes as f64;
                [radius * angle.cos(), radius * angle.sin()]
            })
            .collect();
        GaussianMixture::isotropic(means, std)
    }

    /// Two interleaved half circles of `radius` (scikit-learn's two moons,
    /// scaled and centred), each carrying `per_moon` modes evenly along it.
    /// With `std` near the spacing along the arcs the modes merge into arcs.
    pub fn two_moons(per_moon: usize, radius: f64, std: f64) -> GaussianMixture {
        assert!(per_moon >= 2, "two_moons: need at least 2 modes per moon");
        let mut means = Vec::with_capacity(2 * per_moon);
        for i in 0..per_moon {
            let t = PI * i as f64 / (per_moon - 1) as f64;
            // Upper moon: the top half of a circle about (0, 0); lower: the
            // bottom half of one about (1, 0.5), both in units of `radius`.
            means.push([t.cos(), t.sin()]);
            means.push([1.0 - t.cos(), 0.5 - t.sin()]);
        }
        // Centre the picture (the moons span x ∈ [−1, 2], y ∈ [−0.5, 1]).
        let means = means.into_iter().map(|[x, y]| [radius * (x - 0.5), radius * (y - 0.25)]).collect();
        GaussianMixture::isotropic(means, std)
    }

    /// The same components with new weights (normalised).
    pub fn with_weights(&self, weights: Vec<f64>) -> GaussianMixture {
        GaussianMixture::new(self.means.clone(), self.stds.clone(), weights)
    }

    /// The density convolved with N(0, σ²I): the same means and weights,
    /// variances `sₖ² + σ²`. Its score is what denoising score matching at
    /// noise level σ learns.
    pub fn smoothed(&self, sigma: f64) -> GaussianMixture {
        let stds = self.stds.iter().map(|s| s.map(|v| (v * v + sigma * sigma).sqrt())).collect();
        GaussianMixture { means: self.means.clone(), stds, weights: self.weights.clone() }
    }

    /// The components' means.
    pub fn means(&self) -> &[[f64; 2]] {
        &self.means
    }
    /// The components' standard deviations per axis.
    pub fn stds(&self) -> &[[f64; 2]] {
        &self.stds
    }
    /// The components' weights (summing to 1).
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }
    /// The number of components.
    pub fn n_components(&self) -> usize {
        self.means.len()
    }

    /// A box `(x_range, y_range)` holding every mode with `margin` stds around it.
    pub fn bounds(&self, margin: f64) -> ((f64, f64), (f64, f64)) {
        let mut b = ((f64::INFINITY, f64::NEG_INFINITY), (f64::INFINITY, f64::NEG_INFINITY));
        for (m, s) in self.means.iter().zip(&self.stds) {
            b.0 = (b.0 .0.min(m[0] - margin * s[0]), b.0 .1.max(m[0] + margin * s[0]));
            b.1 = (b.1 .0.min(m[1] - margin * s[1]), b.1 .1.max(m[1] + margin * s[1]));
        }
        b
    }

    /// `n` samples `[n, 2]` (f64) and the component each came from.
    pub fn sample(&self, n: usize, rng: &mut impl Rng) -> (Tensor, Vec<usize>) {
        let mut data = Vec::with_capacity(2 * n);
        let mut labels = Vec::with_capacity(n);
        for _ in 0..n {
            let k = self.draw_component(rng);
            for d in 0..2 {
                let z: f64 = StandardNormal.sample(rng);
                data.push(self.means[k][d] + self.stds[k][d] * z);
            }
            labels.push(k);
        }
        (Tensor::from_vec(data, [n, 2]), labels)
    }

    fn draw_component(&self, rng: &mut impl Rng) -> usize {
        let u: f64 = rng.random();
        let mut cumulative = 0.0;
        for (k, w) in self.weights.iter().enumerate() {
            cumulative += w;
            if u < cumulative {
                return k;
            }
        }
        self.weights.len() - 1 // u within rounding of 1
    }

    /// `log(wₖ N(p; μₖ, sₖ²))` for every component.
    fn log_terms(&self, p: [f64; 2]) -> Vec<f64> {
        self.means
            .iter()
            .zip(&self.stds)
            .zip(&self.weights)
            .map(|((m, s), w)| {
                let quad: f64 = (0..2).map(|d| ((p[d] - m[d]) / s[d]).powi(2)).sum();
                w.ln() - 0.5 * quad - (s[0] * s[1]).ln() - (2.0 * PI).ln()
            })
            .collect()
    }

    /// `log p` at one point, by log-sum-exp.
    pub fn log_density_at(&self, p: [f64; 2]) -> f64 {
        let terms = self.log_terms(p);
        let top = terms.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        top + terms.iter().map(|t| (t - top).exp()).sum::<f64>().ln()
    }

    /// The responsibilities `rₖ(p)` (a softmax of the log terms).
    pub fn responsibilities(&self, p: [f64; 2]) -> Vec<f64> {
        let terms = self.log_terms(p);
        let top = terms.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = terms.iter().map(|t| (t - top).exp()).collect();
        let total: f64 = e.iter().sum();
        e.iter().map(|v| v / total).collect()
    }

    /// `∇log p` at one point: `Σₖ rₖ (μₖ − p) / sₖ²`.
    pub fn score_at(&self, p: [f64; 2]) -> [f64; 2] {
        let r = self.responsibilities(p);
        let mut g = [0.0; 2];
        for ((rk, m), s) in r.iter().zip(&self.means).zip(&self.stds) {
            for d in 0..2 {
                g[d] += rk * (m[d] - p[d]) / (s[d] * s[d]);
            }
        }
        g
    }

    /// `log p(x)` per row of `x` (`[n, 2]`).
    pub fn log_density(&self, x: &Tensor) -> Vec<f64> {
        points(x).map(|p| self.log_density_at(p)).collect()
    }

    /// The analytic score `∇log p(x)`, `[n, 2]`, a constant in `x`'s dtype.
    pub fn score(&self, x: &Tensor) -> Tensor {
        let data: Vec<f64> = points(x).flat_map(|p| self.score_at(p)).collect();
        Tensor::from_vec(data, x.shape().clone()).to_dtype(x.dtype())
    }

    /// `½ · mean over rows of ‖s_θ(x) − ∇log p(x)‖²`: the Fisher divergence
    /// from this density to the model, estimated on `x` (held-out samples of
    /// this density for an unbiased estimate).
    pub fn fisher_divergence(&self, model: &dyn ScoreModel, x: &Tensor) -> f64 {
        let predicted = no_grad(|| model.score(&x.detach())).to_vec_f64();
        let truth: Vec<f64> = points(x).flat_map(|p| self.score_at(p)).collect();
        assert_eq!(predicted.len(), truth.len(), "fisher_divergence: the model's output has {} values for {} points", predicted.len(), truth.len() / 2);
        let n = truth.len() / 2;
        0.5 * predicted.iter().zip(&truth).map(|(a, b)| (a - b).powi(2)).sum::<f64>() / n as f64
    }

    /// The mode nearest to `p` (Euclidean).
    pub fn nearest_mode(&self, p: [f64; 2]) -> usize {
        let dist = |m: &[f64; 2]| (m[0] - p[0]).powi(2) + (m[1] - p[1]).powi(2);
        (0..self.means.len()).min_by(|&a, &b| dist(&self.means[a]).total_cmp(&dist(&self.means[b]))).unwrap()
    }

    /// The fraction of `samples` (`[n, 2]`) nearest to each mode. For well
    /// separated modes it estimates the weights.
    pub fn mode_weights(&self, samples: &Tensor) -> Vec<f64> {
        let mut counts = vec![0usize; self.means.len()];
        let mut n = 0;
        for p in points(samples) {
            counts[self.nearest_mode(p)] += 1;
            n += 1;
        }
        counts.iter().map(|&c| c as f64 / n.max(1) as f64).collect()
    }

    /// Annealed Langevin dynamics driven by the *true* noise-conditional
    /// scores: at level σ the score of [`smoothed`](Self::smoothed)(σ), with
    /// the NCSN schedule of [`crate::annealed_langevin`] (step ε·(σ/σ_L)²,
    /// `steps_per_level` steps per level, optional Tweedie denoising). What
    /// an ideal noise-conditional model would sample; the reference for
    /// learnt samplers.
    pub fn annealed_langevin(&self, x0: &Tensor, schedule: &AnnealedSchedule, rng: &mut rand::rngs::StdRng) -> Tensor {
        schedule.run(&|x, sigma| TrueScore::new(self.smoothed(sigma)).score(x), x0, rng)
    }
}

/// The best any unconditional network can do under `anneal-dsm`: the
/// function s*(x) minimising `E_σ E_{x̃∼p_σ} ½‖s(x̃) − σ∇log p_σ(x̃)‖²` (the
/// objective less its constant, by Vincent's identity), σ uniform over the
/// ladder. Pointwise, s* is the average of the levels' targets weighted by
/// how likely each level is to have produced x:
///
/// ```text
/// s*(x) = Σ_σ p_σ(x) · σ∇log p_σ(x) / Σ_σ p_σ(x)
/// ```
///
/// The noise-conditional reading s(x)/σ is exact only if σ∇log p_σ(x) does
/// not depend on σ; in high dimension the levels live on separate shells and
/// nearly achieve that, but in 2-D they overlap, so s*(x)/σ_min can sit far
/// from ∇log p_{σ_min}: this model measures that floor.
#[derive(Clone, Debug)]
pub struct AnnealDsmOptimum {
    /// Each level σ with the mixture smoothed at σ.
    pub levels: Vec<(f64, GaussianMixture)>,
}

impl AnnealDsmOptimum {
    /// The optimum for `mixture` over the ladder `sigmas`.
    pub fn new(mixture: &GaussianMixture, sigmas: &[f64]) -> AnnealDsmOptimum {
        assert!(!sigmas.is_empty(), "AnnealDsmOptimum: no noise levels");
        AnnealDsmOptimum { levels: sigmas.iter().map(|&s| (s, mixture.smoothed(s))).collect() }
    }

    /// s*(p), with the level weights p_σ(p) normalised by log-sum-exp.
    pub fn optimum_at(&self, p: [f64; 2]) -> [f64; 2] {
        let logs: Vec<f64> = self.levels.iter().map(|(_, m)| m.log_density_at(p)).collect();
        let top = logs.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let weights: Vec<f64> = logs.iter().map(|l| (l - top).exp()).collect();
        let total: f64 = weights.iter().sum();
        let mut out = [0.0; 2];
        for ((sigma, m), w) in self.levels.iter().zip(&weights) {
            let s = m.score_at(p);
            for d in 0..2 {
                out[d] += w / total * sigma * s[d];
            }
        }
        out
    }
}

impl ScoreModel for AnnealDsmOptimum {
    fn dim(&self) -> usize {
        2
    }
    fn score(&self, x: &Tensor) -> Tensor {
        let data: Vec<f64> = points(x).flat_map(|p| self.optimum_at(p)).collect();
        Tensor::from_vec(data, x.shape().clone()).to_dtype(x.dtype())
    }
    fn parameters(&self) -> Vec<Tensor> {
        vec![]
    }
}

/// The rows of an `[n, 2]` tensor as points.
fn points(x: &Tensor) -> impl Iterator<Item = [f64; 2]> {
    assert!(x.rank() == 2 && x.dims()[1] == 2, "density: expected points of shape [n, 2], got {}", x.shape());
    let v = x.to_vec_f64();
    (0..v.len() / 2).map(move |i| [v[2 * i], v[2 * i + 1]])
}

/// The true score of a mixture as a [`ScoreModel`] with no parameters, so
/// samplers and evaluations can run on the ground truth.
#[derive(Clone, Debug)]
pub struct TrueScore {
    /// The mixture whose score this is.
    pub mixture: GaussianMixture,
}

impl TrueScore {
    /// The true score of `mixture`.
    pub fn new(mixture: GaussianMixture) -> TrueScore {
        TrueScore { mixture }
    }
}

impl ScoreModel for TrueScore {
    fn dim(&self) -> usize {
        2
    }
    fn score(&self, x: &Tensor) -> Tensor {
        self.mixture.score(x)
    }
    fn parameters(&self) -> Vec<Tensor> {
        vec![]
    }
}

/// A model's score scaled by a constant, `s(x)·factor`: the noise-conditional
/// reading `s(x, σ) = s(x)/σ` of a network trained by `anneal-dsm`, at one
/// level (`factor = 1/σ`), to evaluate it against `smoothed(σ)`.
pub struct ScaledScore<'a> {
    /// The model whose score is scaled.
    pub model: &'a dyn ScoreModel,
    /// The constant factor.
    pub factor: f64,
}

impl ScoreModel for ScaledScore<'_> {
    fn dim(&self) -> usize {
        self.model.dim()
    }
    fn score(&self, x: &Tensor) -> Tensor {
        self.model.score(x).scale(self.factor)
    }
    fn parameters(&self) -> Vec<Tensor> {
        self.model.parameters()
    }
}

/// Points of a regular `n × n` grid over a box, `[n², 2]` in `dtype`, row by
/// row from the bottom-left (the order of `plot::Grid::points`).
pub fn grid_points(x_range: (f64, f64), y_range: (f64, f64), n: usize, dtype: DType) -> Tensor {
    assert!(n >= 2, "grid_points: need n ≥ 2");
    let at = |r: (f64, f64), i: usize| r.0 + (r.1 - r.0) * i as f64 / (n - 1) as f64;
    let data: Vec<f64> = (0..n).flat_map(|j| (0..n).flat_map(move |i| [at(x_range, i), at(y_range, j)])).collect();
    Tensor::from_vec(data, [n * n, 2]).to_dtype(dtype)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    #[test]
    fn one_gaussian_has_the_linear_score_and_the_closed_form_density() {
        // N(μ, diag(s²)): ∇log p = (μ − x)/s², log p = −½Σ((x−μ)/s)² − log(2π s₀ s₁).
        let g = GaussianMixture::new(vec![[1.0, -2.0]], vec![[0.5, 2.0]], vec![3.0]);
        let p = [0.3, 0.7];
        let s = g.score_at(p);
        assert!((s[0] - (1.0 - 0.3) / 0.25).abs() < 1e-12 && (s[1] - (-2.0 - 0.7) / 4.0).abs() < 1e-12);
        let expected = -0.5 * ((0.7f64 / 0.5).powi(2) + (2.7f64 / 2.0).powi(2)) - (2.0 * PI * 0.5 * 2.0).ln();
        assert!((g.log_density_at(p) - expected).abs() < 1e-12);
    }

    #[test]
    fn far_away_points_have_finite_scores() {
        // Every component's density underflows at 1e3; log-sum-exp still picks the nearest.
        let g = GaussianMixture::ring(8, 2.0, 0.1);
        let s = g.score_at([1e3, 0.0]);
        assert!(s.iter().all(|v| v.is_finite()));
        assert!((s[0] - (2.0 - 1e3) / 0.01).abs() < 1e-6 * 1e5);
        assert!(g.log_density_at([1e3, 1e3]).is_finite());
    }

    #[test]
    fn constructors_place_their_modes() {
        let ring = GaussianMixture::ring(4, 3.0, 0.2);
        assert!((ring.means()[1][0]).abs() < 1e-12 && (ring.means()[1][1] - 3.0).abs() < 1e-12);
        let grid = GaussianMixture::grid(2, 3, 2.0, 0.3);
        assert_eq!(grid.means()[0], [-2.0, -1.0]);
        assert_eq!(grid.means()[5], [2.0, 1.0]);
        let moons = GaussianMixture::two_moons(5, 2.0, 0.2);
        assert_eq!(moons.n_components(), 10);
        let mean_x = moons.means().iter().map(|m| m[0]).sum::<f64>() / 10.0;
        assert!(mean_x.abs() < 1e-12, "moons are centred in x");
        assert!((moons.weights().iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn one_level_anneal_dsm_optimum_is_the_scaled_smoothed_score() {
        // With a single σ, s*(x) = σ∇log p_σ(x) exactly.
        let g = GaussianMixture::ring(5, 2.0, 0.3);
        let opt = AnnealDsmOptimum::new(&g, &[0.4]);
        for p in [[0.1, 0.2], [2.0, -1.0], [-3.0, 0.5]] {
            let (a, b) = (opt.optimum_at(p), g.smoothed(0.4).score_at(p));
            assert!((a[0] - 0.4 * b[0]).abs() < 1e-12 && (a[1] - 0.4 * b[1]).abs() < 1e-12);
        }
    }

    #[test]
    fn samples_carry_their_component_labels() {
        let g = GaussianMixture::grid(2, 2, 10.0, 0.5).with_weights(vec![0.1, 0.2, 0.3, 0.4]);
        let (x, labels) = g.sample(4000, &mut StdRng::seed_from_u64(1));
        assert_eq!(x.dims(), &[4000, 2]);
        let nearest: Vec<usize> = points(&x).map(|p| g.nearest_mode(p)).collect();
        assert_eq!(nearest, labels, "modes 10 apart at std 0.5 never cross");
        let weights = g.mode_weights(&x);
        for (w, t) in weights.iter().zip(g.weights()) {
            assert!((w - t).abs() < 4.0 * (t * (1.0 - t) / 4000.0).sqrt(), "{weights:?}");
        }
    }
}
