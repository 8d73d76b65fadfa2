//! Every level this CPU runs, held to a reference that computes one element
//! at a time (`black_box` keeps the compiler from vectorising it): the same
//! bits for every map, sum (plain and of squares) and Adam step, at lengths around each register
//! width, on values that include the extremes, ±∞ and NaN.

use std::hint::black_box;

use super::{AdamConstants, Level, SUM_LANES};
use crate::backend::cpu::Activations;
use crate::dtype::Element;

const LENGTHS: [usize; 10] = [0, 1, 3, 7, 15, 16, 17, 63, 1000, 4099];

/// `n` values: a spread over [−30, 30] with the awkward ones mixed in.
fn values<T: Element>(n: usize) -> Vec<T> {
    let special = [0.0, -0.0, 1e-38, -1e-30, 1e-5, -0.05, 0.0625, 88.5, -87.5, 1000.0, -1000.0, f64::INFINITY, f64::NEG_INFINITY, f64::NAN];
    (0..n)
        .map(|i| if i % 7 == 3 { special[(i / 7) % special.len()] } else { ((i as f64 * 0.618_034).fract() - 0.5) * 60.0 })
        .map(T::from_f64)
        .collect()
}

fn same_bits<T: Element>(a: T, b: T) -> bool {
    Element::to_f64(a).to_bits() == Element::to_f64(b).to_bits() || (a.is_nan() && b.is_nan())
}

fn assert_same<T: Element>(got: &[T], want: &[T], what: &str, level: Level) {
    assert_eq!(got.len(), want.len());
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(same_bits(g, w), "{what} at {level}, element {i} of {}: {g:?}, element-at-a-time {w:?}", got.len());
    }
}

/// Runs `level.map` with each closure (a closure, not a `fn` pointer, so the
/// loop inlines and vectorises it as the backend's loops do) and compares it
/// with the closure applied one element at a time.
macro_rules! check_maps {
    ($level:expr, $x:expr, $out:expr, $($name:literal => $f:expr),+ $(,)?) => {$(
        $level.map($x, $out, $f);
        let want: Vec<_> = $x.iter().map(|&v| ($f)(black_box(v))).collect();
        assert_same($out, &want, $name, $level);
    )+};
}

macro_rules! check_zip_maps {
    ($level:expr, $x:expr, $y:expr, $out:expr, $($name:literal => $f:expr),+ $(,)?) => {$(
        $level.zip_map($x, $y, $out, $f);
        let want: Vec<_> = $x.iter().zip($y).map(|(&a, &b)| ($f)(black_box(a), black_box(b))).collect();
        assert_same($out, &want, $name, $level);
    )+};
}

/// The maps the CPU backend runs: the activations, the pieces of their
/// derivatives, and the plain arithmetic ones.
fn maps_match_one_element_at_a_time<T: Activations>() {
    let (zero, one, t) = (T::zero(), T::one(), T::from_f64);
    for level in Level::supported() {
        for n in LENGTHS {
            let x = values::<T>(n);
            let y: Vec<T> = values::<T>(n + 5)[5..].to_vec();
            let mut out = vec![zero; n];
            check_maps!(level, &x, &mut out,
                "exp" => T::exp_,
                "tanh" => T::tanh_,
                "log1p(e^-|x|)" => |v: T| (-v.abs()).exp_().log1p_unit(),
                "sigmoid" => |v: T| {
                    let e = (-v.abs()).exp_();
                    let r = one / (one + e);
                    if v >= zero { r } else { e * r }
                },
                "relu" => |v: T| if v > zero || v.is_nan() { v } else { zero },
                "max(x, 0)" => |v: T| v.max(zero),
                "step" => |v: T| if v > zero { one } else { zero },
                "square" => |v: T| v * v,
                "sqrt" => |v: T| v.sqrt(),
                "affine" => |v: T| v * t(-0.3) + t(2.5),
                "tanh'" => |v: T| one - v.tanh_() * v.tanh_(),
            );
            check_zip_maps!(level, &x, &y, &mut out,
                "add" => |a: T, b: T| a + b,
                "sub" => |a: T, b: T| a - b,
                "mul" => |a: T, b: T| a * b,
                "div" => |a: T, b: T| a / b,
            );
            let mut acc = y.clone();
            level.add_assign(&mut acc, &x);
            let want: Vec<T> = x.iter().zip(&y).map(|(&a, &b)| black_box(b) + a).collect();
            assert_same(&acc, &want, "add_assign", level);
        }
    }
}

#[test]
fn f32_maps_give_the_same_bits_at_every_level() {
    maps_match_one_element_at_a_time::<f32>();
}

#[test]
fn f64_maps_give_the_same_bits_at_every_level() {
    maps_match_one_element_at_a_time::<f64>();
}

/// The documented order of [`Level::sum`], one addition at a time.
fn sum_in_lane_order<T: Element>(x: &[T]) -> T {
    let full = x.len() / SUM_LANES * SUM_LANES;
    let mut lanes = [T::zero(); SUM_LANES];
    for (i, &v) in x[..full].iter().enumerate() {
        lanes[i % SUM_LANES] = black_box(lanes[i % SUM_LANES] + v);
    }
    let mut width = SUM_LANES / 2;
    while width > 0 {
        for i in 0..width {
            lanes[i] = black_box(lanes[i] + lanes[i + width]);
        }
        width /= 2;
    }
    let tail = x[full..].iter().fold(T::zero(), |s, &v| black_box(s + v));
    lanes[0] + tail
}

fn sums_follow_the_lane_order<T: Element>() {
    for level in Level::supported() {
        for n in LENGTHS.into_iter().chain([31, 32, 33, 100_003]) {
            // Finite values of mixed size, so a different order rounds differently.
            let x: Vec<T> = (0..n).map(|i| T::from_f64(((i as f64 * 0.754_877).fract() - 0.3) * 10f64.powi((i % 9) as i32 - 4))).collect();
            let got = level.sum(&x);
            assert!(same_bits(got, sum_in_lane_order(&x)), "{level}, n = {n}");
            let exact: f64 = x.iter().map(|&v| Element::to_f64(v)).sum();
            assert!((Element::to_f64(got) - exact).abs() <= 1e-5 * x.iter().map(|&v| Element::to_f64(v).abs()).sum::<f64>() + 1e-30, "{level}, n = {n}");
            // Squared on the way in, in the same order: the sum of the squared values.
            let squares: Vec<T> = x.iter().map(|&v| v * v).collect();
            assert!(same_bits(level.sum_of_squares(&x), sum_in_lane_order(&squares)), "{level}, n = {n}");
            // Integers are exact at any order: a lost or doubled element shows.
            let ints: Vec<T> = (1..=n).map(|i| T::from_f64(i as f64)).collect();
            if n < 4000 {
                assert_eq!(Element::to_f64(level.sum(&ints)), (n * (n + 1) / 2) as f64, "{level}, n = {n}");
            }
        }
    }
}

#[test]
fn f32_sums_give_the_same_bits_at_every_level() {
    sums_follow_the_lane_order::<f32>();
}

#[test]
fn f64_sums_give_the_same_bits_at_every_level() {
    sums_follow_the_lane_order::<f64>();
}

fn adam_matches_one_element_at_a_time<T: Element>() {
    let t = T::from_f64;
    let c = AdamConstants {
        beta1: t(0.9),
        beta2: t(0.999),
        one_minus_beta1: t(0.1),
        one_minus_beta2: t(0.001),
        step: t(1e-3 / (1.0 - 0.9f64.powi(3))),
        inv_correction2: t(1.0 / (1.0 - 0.999f64.powi(3))),
        eps: t(1e-8),
    };
    for level in Level::supported() {
        for n in LENGTHS {
            let (p, g) = (values::<T>(n), values::<T>(n + 3)[3..].to_vec());
            let m: Vec<T> = g.iter().map(|&v| v * t(0.5)).collect();
            let v: Vec<T> = g.iter().map(|&v| v * v * t(0.25)).collect();
            let (mut po, mut mo, mut vo) = (g.clone(), m.clone(), v.clone());
            level.adam(&p, &mut po, &mut mo, &mut vo, c);
            for i in 0..n {
                let (gi, mi, vi) = (black_box(g[i]), black_box(m[i]), black_box(v[i]));
                let m_new = c.beta1 * mi + c.one_minus_beta1 * gi;
                let v_new = c.beta2 * vi + c.one_minus_beta2 * gi * gi;
                let p_new = p[i] - c.step * m_new / ((v_new * c.inv_correction2).sqrt() + c.eps);
                for (got, want, what) in [(mo[i], m_new, "m"), (vo[i], v_new, "v"), (po[i], p_new, "p")] {
                    assert!(same_bits(got, want), "adam {what} at {level}, element {i} of {n}: {got:?}, element-at-a-time {want:?}");
                }
            }
        }
    }
}

#[test]
fn adam_gives_the_same_bits_at_every_level() {
    adam_matches_one_element_at_a_time::<f32>();
    adam_matches_one_element_at_a_time::<f64>();
}

#[test]
fn activations_stay_close_to_f64_at_every_level() {
    // The f32 forms are a few ulp from the exact values (fast_math's tests):
    // checked here through each level's loop, where a mis-vectorised branch
    // (tanh's series, softplus's small-e case) would show as a large error.
    let x: Vec<f32> = (0..4000).map(|i| (i as f32 - 2000.0) * 0.01).collect();
    for level in Level::supported() {
        let mut out = vec![0.0f32; x.len()];
        level.map(&x, &mut out, |v| v.tanh_());
        for (&v, &t) in x.iter().zip(&out) {
            let exact = (v as f64).tanh();
            assert!((t as f64 - exact).abs() <= 4.0 * f32::EPSILON as f64 * exact.abs().max(1e-30), "tanh({v}) at {level}: {t}, exact {exact}");
        }
        level.map(&x, &mut out, |v| v.exp_());
        for (&v, &e) in x.iter().zip(&out) {
            let exact = (v as f64).exp();
            assert!((e as f64 - exact).abs() <= 4.0 * f32::EPSILON as f64 * exact, "exp({v}) at {level}: {e}, exact {exact}");
        }
    }
}
