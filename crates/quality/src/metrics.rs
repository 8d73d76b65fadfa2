//! The figures read off the classifier's probabilities, and [`Quality`],
//! which gathers them with the Fréchet distance.

use serde::Serialize;

use crate::classifier::{argmax, Classifier, CLASSES, PIXELS};
use crate::error::QualityError;
use crate::frechet::{Gaussian, Reference};

/// A sample counts as confidently classified when its top class has more than this.
pub const CONFIDENT: f64 = 0.9;

/// The classifier Inception Score, `exp(E_x KL(p(y|x) ‖ p(y)))` with `p(y)`
/// the mean of the `p(y|x)`: 1 when every sample gets the same distribution,
/// up to 10 when each is sure of its class and the classes are balanced.
pub fn inception_score(probs: &[[f64; CLASSES]]) -> f64 {
    if probs.is_empty() {
        return f64::NAN;
    }
    let n = probs.len() as f64;
    let marginal: [f64; CLASSES] = std::array::from_fn(|k| probs.iter().map(|p| p[k]).sum::<f64>() / n);
    // 0 · log 0 = 0: a class the sample rules out adds nothing.
    let kl = |p: &[f64; CLASSES]| -> f64 { p.iter().zip(&marginal).filter(|(&pk, _)| pk > 0.0).map(|(&pk, &mk)| pk * (pk / mk).ln()).sum() };
    (probs.iter().map(kl).sum::<f64>() / n).exp()
}

/// The fraction of samples whose top class has probability above [`CONFIDENT`].
pub fn confident_share(probs: &[[f64; CLASSES]]) -> f64 {
    let sure = probs.iter().filter(|p| p.iter().cloned().fold(0.0, f64::max) > CONFIDENT).count();
    sure as f64 / probs.len().max(1) as f64
}

/// How many samples fall in each class (by their most probable one).
pub fn class_counts(probs: &[[f64; CLASSES]]) -> [usize; CLASSES] {
    let mut counts = [0; CLASSES];
    probs.iter().for_each(|p| counts[argmax(p)] += 1);
    counts
}

/// The sample-quality figures of a set of images.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Quality {
    /// The number of images judged.
    pub count: usize,
    /// The classifier Inception Score, `exp(E KL(p(y|x) ‖ p(y)))`, from 1 to 10.
    pub inception_score: f64,
    /// The share classified with `max p > 0.9`.
    pub confident_share: f64,
    /// Images per predicted class, 0 to 9.
    pub class_counts: [usize; CLASSES],
    /// The Fréchet distance of the features to the reference's, when one was
    /// given. It is biased upwards by roughly `feature_dim / count` times the
    /// features' variance (1000 real test images sit at about 30 from the
    /// whole test set), so compare sets of equal size.
    pub fcd: Option<f64>,
}

impl Quality {
    /// The figures of `images` (`N × 784` pixels, 0 black and 1 white; clamped
    /// to [0, 1]), and their Fréchet distance to `reference` if given (N ≥ 2).
    pub fn of(classifier: &Classifier, images: &[f32], reference: Option<&Reference>) -> Result<Quality, QualityError> {
        let probs = classifier.probabilities(images)?;
        let fcd = match reference {
            Some(r) => Some(r.distance_to(&Gaussian::of(&classifier.features(images)?, classifier.feature_dim())?)),
            None => None,
        };
        debug_assert_eq!(probs.len(), images.len() / PIXELS);
        Ok(Quality {
            count: probs.len(),
            inception_score: inception_score(&probs),
            confident_share: confident_share(&probs),
            class_counts: class_counts(&probs),
            fcd,
        })
    }

    /// Each class's share of the samples.
    pub fn class_shares(&self) -> [f64; CLASSES] {
        std::array::from_fn(|k| self.class_counts[k] as f64 / self.count.max(1) as f64)
    }

    /// Lines for a report.
    pub fn render(&self) -> Vec<String> {
        let shares: Vec<String> = self.class_shares().iter().enumerate().map(|(k, s)| format!("{k}: {:.1}%", 100.0 * s)).collect();
        let mut lines = vec![
            format!("images: {}", self.count),
            format!("classifier Inception Score: {:.3} (of at most {CLASSES})", self.inception_score),
            format!("confidently classified (p > {CONFIDENT}): {:.1}%", 100.0 * self.confident_share),
            format!("classes: {}", shares.join(", ")),
        ];
        if let Some(fcd) = self.fcd {
            lines.push(format!("Fréchet classifier distance to the reference: {fcd:.3}"));
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_hot(k: usize, sure: f64) -> [f64; CLASSES] {
        std::array::from_fn(|j| if j == k { sure } else { (1.0 - sure) / (CLASSES - 1) as f64 })
    }

    #[test]
    fn confident_balanced_samples_score_ten_and_one_class_scores_one() {
        let balanced: Vec<_> = (0..1000).map(|i| one_hot(i % 10, 1.0)).collect();
        assert!((inception_score(&balanced) - 10.0).abs() < 1e-12);
        assert_eq!(confident_share(&balanced), 1.0);
        assert_eq!(class_counts(&balanced), [100; 10]);
        let single: Vec<_> = (0..1000).map(|_| one_hot(3, 0.99)).collect();
        assert!((inception_score(&single) - 1.0).abs() < 1e-12);
        let mut counts = [0; 10];
        counts[3] = 1000;
        assert_eq!(class_counts(&single), counts);
        // Unsure samples: every p(y|x) uniform says nothing, whatever the set.
        let unsure: Vec<_> = (0..1000).map(|_| [0.1; CLASSES]).collect();
        assert!((inception_score(&unsure) - 1.0).abs() < 1e-12);
        assert_eq!(confident_share(&unsure), 0.0);
    }

    #[test]
    fn two_balanced_classes_score_two() {
        // KL(eₖ ‖ ½(e₀ + e₁)) = log 2 for each sample: IS = 2.
        let two: Vec<_> = (0..100).map(|i| one_hot(i % 2, 1.0)).collect();
        assert!((inception_score(&two) - 2.0).abs() < 1e-12);
    }
}
