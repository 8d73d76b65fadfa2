//! The CPU backend's SIMD loops at every level this CPU runs: ns per element
//! and GB/s (bytes read + written) of the elementwise maps, activations,
//! derivative pieces, sums and the Adam update, f32, through the backend's
//! own kernels (`CpuStorage`, rayon's threads included).
//!
//! `cargo bench -p autodiff --bench simd_loops` (`-- --rounds 5` for more).
//! Each level runs in its own process (`GRADGRAD_SIMD` is read once per
//! process); the levels take turns, round after round, and the table shows
//! the median over rounds, so load on a shared machine hits all alike.

use std::process::Command;
use std::time::Instant;

use autodiff::backend::simd::{Level, LEVEL_ENV};
use autodiff::backend::{AdamStep, BackendStorage, Binary, CpuStorage, Unary};
use autodiff::Shape;

const SIZES: [(usize, usize); 2] = [(64, 512), (1024, 1024)];
const CHILD_FLAG: &str = "--child";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == CHILD_FLAG) {
        measure_all();
        return;
    }
    let rounds = args.iter().position(|a| a == "--rounds").and_then(|i| args.get(i + 1)?.parse().ok()).unwrap_or(3usize);
    let levels = Level::supported();
    // results[level][row] = ns/elem per round; rows in the child's order.
    let mut rows: Vec<(String, f64)> = Vec::new();
    let mut times = vec![Vec::<Vec<f64>>::new(); levels.len()];
    for _ in 0..rounds {
        for (li, level) in levels.iter().enumerate() {
            let out = Command::new(std::env::current_exe().unwrap()).arg(CHILD_FLAG).env(LEVEL_ENV, level.to_string()).output().expect("run the bench for one level");
            assert!(out.status.success(), "{level}: {}", String::from_utf8_lossy(&out.stderr));
            let text = String::from_utf8(out.stdout).unwrap();
            for (ri, line) in text.lines().enumerate() {
                let f: Vec<&str> = line.split('\t').collect();
                if rows.len() <= ri {
                    rows.push((format!("{} {}", f[0], f[1]), f[3].parse().unwrap()));
                }
                if times[li].len() <= ri {
                    times[li].push(Vec::new());
                }
                times[li][ri].push(f[2].parse().unwrap());
            }
        }
    }
    println!("f32 CPU loops, {} rayon threads, median of {rounds} rounds; detected level {}", rayon::current_num_threads(), Level::detected());
    print!("{:<28}", "loop, elements");
    for level in &levels {
        print!("{:>18}", format!("{level} ns/el  GB/s"));
    }
    println!();
    for (ri, (name, bytes)) in rows.iter().enumerate() {
        print!("{name:<28}");
        for t in &times {
            let ns = median(&t[ri]);
            print!("{:>18}", format!("{ns:.3}  {:.1}", bytes / ns));
        }
        println!();
    }
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Seconds per call of `f`: the median of five blocks of at least 5 ms each.
fn time_per_call(mut f: impl FnMut()) -> f64 {
    f();
    let mut reps = 1;
    loop {
        let t = Instant::now();
        (0..reps).for_each(|_| f());
        if t.elapsed().as_secs_f64() >= 5e-3 {
            break;
        }
        reps *= 2;
    }
    let blocks: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            (0..reps).for_each(|_| f());
            t.elapsed().as_secs_f64() / reps as f64
        })
        .collect();
    median(&blocks)
}

/// One line per loop and size: name, elements, ns per element, bytes per element.
fn measure_all() {
    for (rows, cols) in SIZES {
        let n = rows * cols;
        let values = |k: f32| CpuStorage::from_vec((0..n).map(|i| ((i as f32 * 0.618_034 * k).fract() - 0.5) * 8.0).collect::<Vec<f32>>());
        let (x, y) = (values(1.0), values(1.7));
        let report = |name: &str, bytes_per_elem: usize, f: &mut dyn FnMut()| {
            let ns = time_per_call(f) * 1e9 / n as f64;
            println!("{name}\t{n}\t{ns}\t{bytes_per_elem}");
        };
        let unary: [(&str, Unary); 8] = [
            ("affine", Unary::Affine { mul: 0.5, add: 1.0 }),
            ("square", Unary::Powi(2)),
            ("relu", Unary::Relu),
            ("step (relu')", Unary::Step),
            ("exp", Unary::Exp),
            ("sigmoid", Unary::Sigmoid),
            ("tanh", Unary::Tanh),
            ("softplus", Unary::Softplus),
        ];
        for (name, op) in unary {
            report(name, 8, &mut || drop(std::hint::black_box(x.unary(op))));
        }
        report("mul", 12, &mut || drop(std::hint::black_box(x.binary(&y, Binary::Mul))));
        report("div", 12, &mut || drop(std::hint::black_box(x.binary(&y, Binary::Div))));
        let (all, mat) = (Shape::new([n]), Shape::new([rows, cols]));
        report("sum (all)", 4, &mut || drop(std::hint::black_box(x.sum_to(&all, &Shape::new([1])))));
        report("sum (rows)", 4, &mut || drop(std::hint::black_box(x.sum_to(&mat, &Shape::new([rows, 1])))));
        report("sum (columns)", 4, &mut || drop(std::hint::black_box(x.sum_to(&mat, &Shape::new([cols])))));
        let h = AdamStep { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, correction1: 0.5, correction2: 0.3 };
        let v = x.unary(Unary::Powi(2));
        report("adam", 28, &mut || drop(std::hint::black_box(x.adam_update(&y, &x, &v, h))));
    }
}
