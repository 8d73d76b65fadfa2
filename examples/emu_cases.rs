//! Random backend cases computed by the CPU backend, for
//! `kernels/emu/replay.cpp` to run through the CUDA kernels' CPU emulation
//! and compare: the CPU backend against the kernels, op by op, on random
//! shapes (size-1 axes, vector tails, tile edges), in f32 and f64. Sizes
//! are at least 1: for an empty buffer the backend launches no kernel.
//!
//! ```text
//! cargo run --example emu_cases -- OUT_FILE [CASES] [SEED]
//! ```
//!
//! `kernels/emu/run.sh` runs it (CASES from `GRADGRAD_EMU_CASES`, default
//! 300) and then the replay. Each case is written as
//! `case NAME DTYPE`, `ints N i…`, `floats N f…`, then `in N v…` per input
//! and `out N v…`, the values in Rust's shortest round-trip form.

// `vec![x.clone()]` reads better than `slice::from_ref`; a tensor clone is a reference count.
#![allow(clippy::cloned_ref_to_slice_refs)]

use std::fmt::Write as _;

use gradgrad::autodiff::{grad, DType, Shape, Tensor};
use rand::{rngs::StdRng, Rng, SeedableRng};

struct Case {
    name: &'static str,
    dtype: DType,
    ints: Vec<i64>,
    floats: Vec<f64>,
    inputs: Vec<Tensor>,
    output: Tensor,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).expect("usage: emu_cases OUT_FILE [CASES] [SEED]");
    let cases: usize = args.get(2).map_or(300, |s| s.parse().expect("CASES is a number"));
    let seed: u64 = args.get(3).map_or(0x0065_6d75, |s| s.parse().expect("SEED is a number"));
    let mut rng = StdRng::seed_from_u64(seed);
    let mut text = String::new();
    for i in 0..cases {
        let dtype = if i % 2 == 0 { DType::F32 } else { DType::F64 };
        let case = random_case(&mut rng, dtype);
        write_case(&mut text, &case);
    }
    std::fs::write(path, text).unwrap_or_else(|e| panic!("emu_cases: writing {path}: {e}"));
    println!("emu_cases: {cases} random cases from the CPU backend (seed {seed}) in {path}");
}

fn uniform(rng: &mut StdRng, dims: &[usize], lo: f64, hi: f64, dtype: DType) -> Tensor {
    let n: usize = dims.iter().product();
    Tensor::from_vec((0..n).map(|_| rng.random_range(lo..hi)).collect::<Vec<f64>>(), dims.to_vec()).to_dtype(dtype)
}

/// A shape of rank 1–`max_rank` with axes of 1–`max_dim`.
fn random_dims(rng: &mut StdRng, max_rank: usize, max_dim: usize) -> Vec<usize> {
    let rank = rng.random_range(1..=max_rank);
    (0..rank).map(|_| rng.random_range(1..=max_dim)).collect()
}

fn ints(values: &[usize]) -> Vec<i64> {
    values.iter().map(|&v| v as i64).collect()
}

fn random_case(rng: &mut StdRng, dtype: DType) -> Case {
    let case = |name, ints: Vec<i64>, floats: Vec<f64>, inputs: Vec<Tensor>, output| Case { name, dtype, ints, floats, inputs, output };
    match rng.random_range(0..13) {
        0 => {
            // Lengths past the 16-byte vectors and their tails.
            let n = rng.random_range(1..600);
            let op = ["neg", "exp", "log", "sigmoid", "tanh", "softplus", "relu", "step", "sqrt"][rng.random_range(0..9)];
            let positive = matches!(op, "log" | "sqrt");
            let x = if positive { uniform(rng, &[n], 0.01, 20.0, dtype) } else { uniform(rng, &[n], -12.0, 12.0, dtype) };
            let y = match op {
                "neg" => -&x,
                "exp" => x.exp(),
                "log" => x.log(),
                "sigmoid" => x.sigmoid(),
                "tanh" => x.tanh(),
                "softplus" => x.softplus(),
                "relu" => x.relu(),
                "step" => x.step(),
                _ => x.sqrt(),
            };
            Case { name: op, dtype, ints: vec![], floats: vec![], inputs: vec![x], output: y }
        }
        1 => {
            let n = rng.random_range(1..600);
            let p = rng.random_range(-3..=4);
            let x = uniform(rng, &[n], 0.3, 2.5, dtype);
            let x = if rng.random_bool(0.5) { -&x } else { x };
            case("powi", vec![p as i64], vec![], vec![x.clone()], x.powi(p))
        }
        2 if rng.random_bool(0.5) => {
            let n = rng.random_range(1..600);
            let (mul, add) = (rng.random_range(-3.0..3.0), rng.random_range(-3.0..3.0));
            let x = uniform(rng, &[n], -5.0, 5.0, dtype);
            case("affine", vec![], vec![mul, add], vec![x.clone()], x.affine(mul, add))
        }
        2 => {
            // Bounds inside the inputs' range, or one of them infinite.
            let n = rng.random_range(1..600);
            let (lo, hi) = (rng.random_range(-4.0..0.0), rng.random_range(0.0..4.0));
            let (lo, hi) = [(lo, hi), (f64::NEG_INFINITY, hi), (lo, f64::INFINITY)][rng.random_range(0..3)];
            let x = uniform(rng, &[n], -5.0, 5.0, dtype);
            case("clamp", vec![], vec![lo, hi], vec![x.clone()], x.clamp(lo, hi))
        }
        3 => {
            let n = rng.random_range(1..600);
            let op = ["add", "sub", "mul", "div", "maximum", "minimum"][rng.random_range(0..6)];
            let a = uniform(rng, &[n], -5.0, 5.0, dtype);
            let b = uniform(rng, &[n], 0.2, 5.0, dtype);
            let y = match op {
                "add" => &a + &b,
                "sub" => &a - &b,
                "mul" => &a * &b,
                "maximum" => a.maximum(&b),
                "minimum" => a.minimum(&b),
                _ => &a / &b,
            };
            case(op, vec![], vec![], vec![a, b], y)
        }
        4 | 5 => {
            // A broadcast and its adjoint, the sum: `small` is `big` with some
            // axes made 1 and maybe its leading axes dropped.
            let big = random_dims(rng, 4, 5);
            let drop = rng.random_range(0..big.len());
            let small: Vec<usize> = big[drop..].iter().map(|&d| if rng.random_bool(0.5) { 1 } else { d }).collect();
            let (n_small, n_big) = (small.iter().product::<usize>(), big.iter().product::<usize>());
            if n_small == n_big {
                return random_case(rng, dtype); // a copy: the backend is not called
            }
            let shape_ints = [&[small.len(), big.len()], &small[..], &big[..]].concat();
            if rng.random_bool(0.5) {
                let x = uniform(rng, &small, -2.0, 2.0, dtype);
                let y = x.broadcast_to(&Shape::new(big));
                case("broadcast", ints(&shape_ints), vec![], vec![x], y)
            } else {
                let x = uniform(rng, &big, -2.0, 2.0, dtype);
                let y = x.sum_to(&Shape::new(small));
                case("sum_to", ints(&shape_ints), vec![], vec![x], y)
            }
        }
        6 => {
            // [outer, n, inner], n up to 300: long columns too.
            let (outer, n, inner) = (rng.random_range(1..6), rng.random_range(1..300), rng.random_range(1..6));
            let x = uniform(rng, &[outer, n, inner], -3.0, 3.0, dtype);
            case("max_axis", ints(&[outer, n, inner]), vec![], vec![x.clone()], x.max_axis(1))
        }
        7 => {
            let (r, c) = (rng.random_range(1..70), rng.random_range(1..70));
            let x = uniform(rng, &[r, c], -3.0, 3.0, dtype);
            case("transpose", ints(&[r, c]), vec![], vec![x.clone()], x.t())
        }
        8 => {
            let (outer, n, inner) = (rng.random_range(1..5), rng.random_range(1..9), rng.random_range(1..5));
            let start = rng.random_range(0..n);
            let len = rng.random_range(1..=n - start);
            let x = uniform(rng, &[outer, n, inner], -3.0, 3.0, dtype);
            if rng.random_bool(0.5) {
                case("slice_axis", ints(&[outer, n, inner, start, len]), vec![], vec![x.clone()], x.narrow(1, start, len))
            } else {
                // Pad the [outer, len, inner] part to n at start.
                let part = x.narrow(1, 0, len);
                case("pad_axis", ints(&[outer, len, inner, start, n]), vec![], vec![part.clone()], part.pad_axis(1, start, n))
            }
        }
        9 => {
            // A gather with repeats, then its adjoint (scatter-add) through the backward pass.
            let (rows, inner) = (rng.random_range(1..9), rng.random_range(1..7));
            let indices: Vec<usize> = (0..rng.random_range(1..12)).map(|_| rng.random_range(0..rows)).collect();
            let x = uniform(rng, &[rows, inner], -3.0, 3.0, dtype).requires_grad();
            let y = x.gather_rows(&indices);
            let shape_ints = ints(&[&[rows, inner][..], &indices[..]].concat());
            if rng.random_bool(0.5) {
                case("gather_rows", shape_ints, vec![], vec![x.detach()], y.detach())
            } else {
                let cotangent = uniform(rng, &[indices.len(), inner], -3.0, 3.0, dtype);
                let scattered = grad(&[y], &[x], Some(&[cotangent.clone()]), false).remove(0);
                case("scatter_add_rows", shape_ints, vec![], vec![cotangent], scattered)
            }
        }
        11 => {
            // `where` on equal lengths (the op broadcasts before the kernel); a NaN condition is nonzero.
            let n = rng.random_range(1..600);
            let mut condition: Vec<f64> = (0..n).map(|_| f64::from(u8::from(rng.random_bool(0.5)))).collect();
            condition[rng.random_range(0..n)] = f64::NAN;
            let c = Tensor::from_vec(condition, vec![n]).to_dtype(dtype);
            let (a, b) = (uniform(rng, &[n], -5.0, 5.0, dtype), uniform(rng, &[n], -5.0, 5.0, dtype));
            case("where", vec![], vec![], vec![c.clone(), a.clone(), b.clone()], c.select(&a, &b))
        }
        12 => {
            // A random reordering of up to 5 axes, size-1 axes included.
            let dims = random_dims(rng, 5, 4);
            let mut axes: Vec<usize> = (0..dims.len()).collect();
            for i in (1..axes.len()).rev() {
                axes.swap(i, rng.random_range(0..=i));
            }
            if axes.iter().enumerate().all(|(i, &a)| i == a) {
                return random_case(rng, dtype); // the identity: the backend is not called
            }
            let x = uniform(rng, &dims, -3.0, 3.0, dtype);
            let y = x.permute(&axes);
            case("permute", ints(&[&[dims.len()], &dims[..], &axes[..]].concat()), vec![], vec![x], y)
        }
        _ => {
            // Across the 64×64 tile edges and the 16-deep K steps; k = 0 too,
            // but not with `a` transposed: the CPU backend panics on a
            // transposed operand stored with no rows (zero-size support is
            // being fixed separately).
            let (ta, tb) = (rng.random_bool(0.5), rng.random_bool(0.5));
            let (m, k, n) = (rng.random_range(1..80), rng.random_range(usize::from(ta)..80), rng.random_range(1..80));
            let a = uniform(rng, &if ta { [k, m] } else { [m, k] }, -1.0, 1.0, dtype);
            let b = uniform(rng, &if tb { [n, k] } else { [k, n] }, -1.0, 1.0, dtype);
            let c = a.matmul_t(&b, ta, tb);
            case("matmul", ints(&[m, k, n, ta as usize, tb as usize]), vec![], vec![a, b], c)
        }
    }
}

fn write_case(text: &mut String, case: &Case) {
    let values = |t: &Tensor| t.to_vec_f64().iter().map(|v| format!(" {v:?}")).collect::<String>();
    let _ = writeln!(text, "case {} {}", case.name, if case.dtype == DType::F32 { "f32" } else { "f64" });
    let _ = writeln!(text, "ints {}{}", case.ints.len(), case.ints.iter().map(|i| format!(" {i}")).collect::<String>());
    let _ = writeln!(text, "floats {}{}", case.floats.len(), case.floats.iter().map(|f| format!(" {f:?}")).collect::<String>());
    for input in &case.inputs {
        let _ = writeln!(text, "in {}{}", input.numel(), values(input));
    }
    let _ = writeln!(text, "out {}{}", case.output.numel(), values(&case.output));
}
