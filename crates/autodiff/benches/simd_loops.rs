//! The CPU backend's SIMD loops at every level this CPU runs: ns per element
//! of the elementwise maps, activations,
//! derivative pieces, sums and the Adam update, f32, on one thread, into
//! buffers allocated once (so the loop, not the allocator, is timed).
//!
//! `cargo bench -p autodiff --bench simd_loops` (`-- --rounds 9` for more).
//! The levels take turns, round after round, and the table shows the median
//! and the minimum over rounds, so load on a shared machine hits all levels
//! alike (the minimum is the least disturbed round).

use std::hint::black_box;
use std::time::Instant;

use autodiff::backend::cpu::Activations;
use autodiff::backend::simd::{AdamConstants, Level};

const SIZES: [usize; 2] = [64 * 512, 1 << 20];

/// Seconds per call of `f`: the median of five blocks of at least 2 ms each.
fn time_per_call(mut f: impl FnMut()) -> f64 {
    f();
    let mut reps = 1;
    loop {
        let t = Instant::now();
        (0..reps).for_each(|_| f());
        if t.elapsed().as_secs_f64() >= 2e-3 {
            break;
        }
        reps *= 2;
    }
    median((0..5).map(|_| {
        let t = Instant::now();
        (0..reps).for_each(|_| f());
        t.elapsed().as_secs_f64() / reps as f64
    }).collect())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

// The backend's sigmoid and softplus (backend/cpu.rs), from the same pieces.
#[inline(always)]
fn sigmoid(v: f32) -> f32 {
    let e = (-v.abs()).exp_();
    let r = 1.0 / (1.0 + e);
    if v >= 0.0 {
        r
    } else {
        e * r
    }
}
#[inline(always)]
fn softplus(v: f32) -> f32 {
    v.max(0.0) + (-v.abs()).exp_().log1p_unit()
}

/// The loops, by name; each runs `level`'s copy.
type Loop = (&'static str, fn(Level, &Buffers) -> f32);

struct Buffers {
    x: Vec<f32>,
    y: Vec<f32>,
    out: std::cell::RefCell<[Vec<f32>; 3]>,
}

const LOOPS: [Loop; 15] = [
    ("affine", |l, b| map(l, b, |v| v * 0.5 + 1.0)),
    ("square", |l, b| map(l, b, |v| v * v)),
    ("relu", |l, b| map(l, b, |v| if v > 0.0 || v.is_nan() { v } else { 0.0 })),
    ("step (relu')", |l, b| map(l, b, |v| if v > 0.0 { 1.0 } else { 0.0 })),
    ("exp", |l, b| map(l, b, f32::exp_)),
    ("sigmoid", |l, b| map(l, b, sigmoid)),
    ("tanh", |l, b| map(l, b, f32::tanh_)),
    ("softplus", |l, b| map(l, b, softplus)),
    ("tanh' = 1 - y²", |l, b| map(l, b, |y| 1.0 - y * y)),
    ("mul", |l, b| {
        let mut out = b.out.borrow_mut();
        l.zip_map(&b.x, &b.y, &mut out[0], |p, q| p * q);
        out[0][0]
    }),
    ("div", |l, b| {
        let mut out = b.out.borrow_mut();
        l.zip_map(&b.x, &b.y, &mut out[0], |p, q| p / q);
        out[0][0]
    }),
    ("sum", |l, b| l.sum(&b.x)),
    ("sum_of_squares", |l, b| l.sum_of_squares(&b.x)),
    ("add_assign (column sums)", |l, b| {
        let mut out = b.out.borrow_mut();
        l.add_assign(&mut out[0], &b.x);
        out[0][0]
    }),
    ("adam", |l, b| {
        let c = AdamConstants { beta1: 0.9, beta2: 0.999, one_minus_beta1: 0.1, one_minus_beta2: 0.001, step: 2e-3, inv_correction2: 3.0, eps: 1e-8 };
        let mut out = b.out.borrow_mut();
        // In place, as the CPU backend runs it: the gradient buffer becomes the new parameters.
        let [grad_to_p, m, v] = &mut *out;
        l.adam(&b.x, grad_to_p, m, v, c);
        grad_to_p[0]
    }),
];

fn map(level: Level, b: &Buffers, f: impl Fn(f32) -> f32 + Copy) -> f32 {
    let mut out = b.out.borrow_mut();
    level.map(&b.x, &mut out[0], f);
    out[0][0]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rounds = args.iter().position(|a| a == "--rounds").and_then(|i| args.get(i + 1)?.parse().ok()).unwrap_or(5usize);
    let levels = Level::supported();
    // ns[size][loop][level] over rounds.
    let mut ns = vec![vec![vec![Vec::new(); levels.len()]; LOOPS.len()]; SIZES.len()];
    for _ in 0..rounds {
        for (si, &n) in SIZES.iter().enumerate() {
            let values = |k: f32| (0..n).map(|i| ((i as f32 * 0.618_034 * k).fract() - 0.3) * 8.0).collect::<Vec<f32>>();
            let b = Buffers { x: values(1.0), y: values(1.7).iter().map(|v| v.abs() + 0.1).collect(), out: [vec![0.0; n], vec![0.0; n], vec![0.0; n]].into() };
            for (li, (_, run)) in LOOPS.iter().enumerate() {
                for (vi, &level) in levels.iter().enumerate() {
                    let secs = time_per_call(|| {
                        black_box(run(level, black_box(&b)));
                    });
                    ns[si][li][vi].push(secs * 1e9 / n as f64);
                }
            }
        }
    }
    println!("f32 loops on one thread, {rounds} rounds; ns per element: median (minimum)");
    for (si, &n) in SIZES.iter().enumerate() {
        print!("\n{:<26}", format!("{n} elements"));
        levels.iter().for_each(|l| print!("{:>18}", l.to_string()));
        println!();
        for (li, (name, _)) in LOOPS.iter().enumerate() {
            print!("{name:<26}");
            for t in &ns[si][li] {
                let min = t.iter().copied().fold(f64::INFINITY, f64::min);
                print!("{:>18}", format!("{:.3} ({min:.3})", median(t.clone())));
            }
            println!();
        }
    }
}
