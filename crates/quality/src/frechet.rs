//! The Fréchet distance between two sets of images, each summarised by the
//! mean and covariance of its classifier features (FID's formula, with this
//! crate's MNIST classifier in place of Inception: "FCD"):
//!
//! `d² = ‖μ₁ − μ₂‖² + tr(Σ₁ + Σ₂ − 2(Σ₁Σ₂)^½)`,
//!
//! the 2-Wasserstein distance between the Gaussians with those moments. The
//! product `Σ₁Σ₂` is not symmetric, but it is similar to `√Σ₁ Σ₂ √Σ₁`
//! (conjugate by `√Σ₁`), which is symmetric PSD, so `tr((Σ₁Σ₂)^½) =
//! tr((√Σ₁ Σ₂ √Σ₁)^½)`: two symmetric eigendecompositions, and the first is
//! done once for a fixed [`Reference`].

use serde::Serialize;

use crate::classifier::Classifier;
use crate::error::QualityError;
use crate::linalg::{matmul, sqrt_psd, trace_sqrt_psd};

/// The mean and covariance of `n` points in `dim` dimensions.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Gaussian {
    /// The dimension.
    pub dim: usize,
    /// The number of points.
    pub count: usize,
    /// The mean, `[dim]`.
    pub mean: Vec<f64>,
    /// Row-major `dim × dim`, unbiased (divided by `count − 1`).
    pub cov: Vec<f64>,
}

impl Gaussian {
    /// The moments of `points` (`count × dim`, row-major); at least two points.
    pub fn of(points: &[f64], dim: usize) -> Result<Gaussian, QualityError> {
        let count = points.len() / dim.max(1);
        if count < 2 {
            return Err(QualityError::TooFewImages { what: "a covariance", count, needed: 2 });
        }
        let mut mean = vec![0.0; dim];
        for row in points.chunks_exact(dim) {
            mean.iter_mut().zip(row).for_each(|(m, &x)| *m += x);
        }
        mean.iter_mut().for_each(|m| *m /= count as f64);
        // Σ = Σₙ (xₙ − μ)(xₙ − μ)ᵀ / (N − 1), the lower triangle, then mirrored.
        let mut cov = vec![0.0; dim * dim];
        let mut centred = vec![0.0; dim];
        for row in points.chunks_exact(dim) {
            centred.iter_mut().zip(row.iter().zip(&mean)).for_each(|(c, (&x, &m))| *c = x - m);
            for i in 0..dim {
                let ci = centred[i];
                if ci != 0.0 {
                    cov[i * dim..i * dim + i + 1].iter_mut().zip(&centred[..=i]).for_each(|(s, &cj)| *s += ci * cj);
                }
            }
        }
        for i in 0..dim {
            for j in 0..=i {
                let v = cov[i * dim + j] / (count - 1) as f64;
                cov[i * dim + j] = v;
                cov[j * dim + i] = v;
            }
        }
        Ok(Gaussian { dim, count, mean, cov })
    }

    fn trace(&self) -> f64 {
        (0..self.dim).map(|i| self.cov[i * self.dim + i]).sum()
    }
}

/// The Fréchet distance (squared, as FID reports it) between two Gaussians.
pub fn frechet_distance(a: &Gaussian, b: &Gaussian) -> f64 {
    distance_with_root(a, &sqrt_psd(&a.cov, a.dim), b)
}

/// `d²(a, b)` given `√Σₐ`.
fn distance_with_root(a: &Gaussian, sqrt_a: &[f64], b: &Gaussian) -> f64 {
    assert_eq!(a.dim, b.dim, "frechet_distance: dimensions {} and {} differ", a.dim, b.dim);
    let n = a.dim;
    let mean_term: f64 = a.mean.iter().zip(&b.mean).map(|(x, y)| (x - y) * (x - y)).sum();
    let mut inner = matmul(&matmul(sqrt_a, &b.cov, n), sqrt_a, n);
    // Symmetric in exact arithmetic; make it so in floating point.
    for i in 0..n {
        for j in 0..i {
            let s = 0.5 * (inner[i * n + j] + inner[j * n + i]);
            inner[i * n + j] = s;
            inner[j * n + i] = s;
        }
    }
    let cross = trace_sqrt_psd(&inner, n);
    // Rounding can leave a tiny negative for two equal sets.
    (mean_term + a.trace() + b.trace() - 2.0 * cross).max(0.0)
}

/// The real images' feature moments (the MNIST test set, say), with `√Σ`
/// computed once, so each comparison costs one eigendecomposition.
#[derive(Clone, Debug)]
pub struct Reference {
    /// The features' mean and covariance.
    pub gaussian: Gaussian,
    sqrt_cov: Vec<f64>,
}

impl Reference {
    /// The moments of `images`' classifier features.
    pub fn of(classifier: &Classifier, images: &[f32]) -> Result<Reference, QualityError> {
        Ok(Reference::from_gaussian(Gaussian::of(&classifier.features(images)?, classifier.feature_dim())?))
    }

    /// A reference with these moments (its `√Σ` computed now).
    pub fn from_gaussian(gaussian: Gaussian) -> Reference {
        let sqrt_cov = sqrt_psd(&gaussian.cov, gaussian.dim);
        Reference { gaussian, sqrt_cov }
    }

    /// The Fréchet distance from these moments to `other`'s.
    pub fn distance_to(&self, other: &Gaussian) -> f64 {
        distance_with_root(&self.gaussian, &self.sqrt_cov, other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::augment::SplitMix64;

    /// `count` draws of independent normals with means `mean` and standard deviations `sd`.
    fn draws(count: usize, mean: &[f64], sd: &[f64], seed: u64) -> Vec<f64> {
        let mut rng = SplitMix64::new(seed);
        let mut uniform = move || ((rng.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
        (0..count)
            .flat_map(|_| mean.iter().zip(sd).map(|(&m, &s)| m + s * (-2.0 * uniform().ln()).sqrt() * (std::f64::consts::TAU * uniform()).cos()).collect::<Vec<_>>())
            .collect()
    }

    fn diagonal(mean: &[f64], var: &[f64]) -> Gaussian {
        let n = mean.len();
        let mut cov = vec![0.0; n * n];
        (0..n).for_each(|i| cov[i * n + i] = var[i]);
        Gaussian { dim: n, count: 0, mean: mean.to_vec(), cov }
    }

    #[test]
    fn diagonal_gaussians_match_the_closed_form() {
        // With diagonal covariances, d² = Σ (μ₁ − μ₂)² + Σ (√a − √b)².
        let (m1, v1) = ([0.0, 1.0, -2.0], [1.0, 4.0, 0.25]);
        let (m2, v2) = ([1.0, 1.0, 0.0], [9.0, 1.0, 0.25]);
        let want = (1.0 + 0.0 + 4.0) + (4.0 + 1.0 + 0.0);
        let (a, b) = (diagonal(&m1, &v1), diagonal(&m2, &v2));
        assert!((frechet_distance(&a, &b) - want).abs() < 1e-12);
        assert!((frechet_distance(&b, &a) - want).abs() < 1e-12, "symmetric");
        assert!((Reference::from_gaussian(a.clone()).distance_to(&b) - want).abs() < 1e-12);
    }

    #[test]
    fn a_set_is_at_zero_from_itself_and_moves_away_with_its_mean() {
        let points = draws(500, &[0.0; 6], &[1.0, 2.0, 0.5, 1.0, 3.0, 1.0], 1);
        let g = Gaussian::of(&points, 6).unwrap();
        assert!(frechet_distance(&g, &g) < 1e-9, "d(x, x) = {}", frechet_distance(&g, &g));
        let mut last = 0.0;
        for shift in [0.5, 1.0, 2.0] {
            let moved: Vec<f64> = points.iter().map(|x| x + shift).collect();
            let d = frechet_distance(&g, &Gaussian::of(&moved, 6).unwrap());
            // Only the mean moved, by `shift` in each of 6 coordinates.
            assert!((d - 6.0 * shift * shift).abs() < 1e-9, "shift {shift}: {d}");
            assert!(d > last);
            last = d;
        }
        // Two samples of one distribution are close; of different spreads, far.
        let other = Gaussian::of(&draws(500, &[0.0; 6], &[1.0, 2.0, 0.5, 1.0, 3.0, 1.0], 2), 6).unwrap();
        let wider = Gaussian::of(&draws(500, &[0.0; 6], &[3.0; 6], 3), 6).unwrap();
        let (near, far) = (frechet_distance(&g, &other), frechet_distance(&g, &wider));
        assert!((frechet_distance(&other, &g) - near).abs() < 1e-9, "symmetric");
        assert!(near < 0.5 && far > 10.0, "near {near}, far {far}");
    }

    #[test]
    fn moments_of_known_points() {
        let g = Gaussian::of(&[1.0, 2.0, 3.0, 6.0], 2).unwrap();
        assert_eq!(g.mean, vec![2.0, 4.0]);
        // Deviations (−1, −2) and (1, 2), divided by N − 1 = 1.
        assert_eq!(g.cov, vec![2.0, 4.0, 4.0, 8.0]);
        assert!(matches!(Gaussian::of(&[1.0, 2.0], 2), Err(QualityError::TooFewImages { .. })));
    }
}
