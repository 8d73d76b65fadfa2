//! The training data's randomness, on the host: an epoch's order and each
//! image's shift. SplitMix64 keeps a seed's run the same on every machine
//! and with every version of every dependency.

use autodiff::backend::counter_rng::splitmix64;

/// SplitMix64 (Steele, Lea & Flood 2014) as a stream: draw `i` is the engine's
/// [`splitmix64`]`(seed, i)`.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    seed: u64,
    drawn: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { seed, drawn: 0 }
    }
    pub fn next_u64(&mut self) -> u64 {
        self.drawn += 1;
        splitmix64(self.seed, self.drawn - 1)
    }
    /// Uniform in `0..n` (the modulo bias is below 2⁻⁵⁰ for the sizes used here).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    /// Uniform in `-r..=r`.
    pub fn offset(&mut self, r: usize) -> isize {
        self.below(2 * r + 1) as isize - r as isize
    }
}

/// `0..n` in a random order (Fisher–Yates).
pub fn permutation(n: usize, rng: &mut SplitMix64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        order.swap(i, rng.below(i + 1));
    }
    order
}

/// Writes `image` (`rows × cols`) moved by `(dy, dx)` pixels into `out`;
/// what moves in from outside is black (0), as MNIST's border is.
pub fn shifted_into(image: &[f32], rows: usize, cols: usize, dy: isize, dx: isize, out: &mut [f32]) {
    out.fill(0.0);
    for r in 0..rows {
        let src_r = r as isize - dy;
        if src_r < 0 || src_r >= rows as isize {
            continue;
        }
        for c in 0..cols {
            let src_c = c as isize - dx;
            if src_c >= 0 && src_c < cols as isize {
                out[r * cols + c] = image[src_r as usize * cols + src_c as usize];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shift_moves_pixels_and_fills_with_black() {
        let image: Vec<f32> = (1..=9).map(|v| v as f32).collect(); // 3×3
        let mut out = vec![f32::NAN; 9];
        shifted_into(&image, 3, 3, 1, -1, &mut out); // down one, left one
        assert_eq!(out, vec![0.0, 0.0, 0.0, 2.0, 3.0, 0.0, 5.0, 6.0, 0.0]);
        shifted_into(&image, 3, 3, 0, 0, &mut out);
        assert_eq!(out, image);
    }

    #[test]
    fn a_permutation_holds_every_index_once_and_depends_only_on_the_seed() {
        let p = permutation(1000, &mut SplitMix64::new(7));
        let mut sorted = p.clone();
        sorted.sort();
        assert_eq!(sorted, (0..1000).collect::<Vec<_>>());
        assert_eq!(p, permutation(1000, &mut SplitMix64::new(7)));
        assert_ne!(p, permutation(1000, &mut SplitMix64::new(8)));
    }
}
