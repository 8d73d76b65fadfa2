//! Property tests over random compositions of the engine's ops.
//!
//! `properties/program.rs` draws small programs (1–3 inputs of random
//! shapes that broadcast against each other, size-1 and size-0 axes
//! included, then a few steps from every op family) and each test here holds every program
//! it draws to one property: first and second derivatives against finite
//! differences in f64; f32 against f64; and, on a machine with a GPU, the
//! CUDA backend against the CPU (skipped otherwise; without a GPU,
//! `kernels/emu/run.sh` replays random CPU-backend cases through the
//! kernels' CPU emulation instead). proptest shrinks a failure to a short
//! program and the message prints it as an op list.
//!
//! CI runs a fixed seed and a budget that fits it; a longer run, or another
//! seed, is one command:
//!
//! ```text
//! GRADGRAD_PROPTEST_CASES=5000 cargo test --test properties
//! GRADGRAD_PROPTEST_SEED=7 GRADGRAD_PROPTEST_CASES=2000 cargo test --test properties
//! ```
//!
//! Each test prints how many random graphs it tried, whether or not the
//! harness captures its output (`cargo test -- --nocapture` is not needed).

// `&[t.clone()]` reads better than `slice::from_ref(&t)`; a tensor clone is a reference count.
#![allow(clippy::cloned_ref_to_slice_refs)]
// `is_multiple_of` needs Rust 1.87; the workspace supports 1.80.
#![allow(clippy::manual_is_multiple_of)]

mod common;
#[path = "properties/program.rs"]
mod program;

use std::cell::Cell;
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};

use gradgrad::autodiff::backend::{cuda, Binary, Unary};
use gradgrad::autodiff::{gradcheck, gradgradcheck, grad, DType, Device, Tensor};
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};

use program::{recipe, Kind, Program, Step};

/// Programs drawn per test when `GRADGRAD_PROPTEST_CASES` is unset: sized so
/// that this file takes seconds in CI on two cores.
const DEFAULT_CASES: u32 = 512;
/// The seed when `GRADGRAD_PROPTEST_SEED` is unset: CI draws the same programs every run.
const DEFAULT_SEED: u64 = 0x6772_6164_6772_6164; // "gradgrad"
/// At most this many steps per program (before the reader's adapters).
const MAX_STEPS: usize = 10;

/// Tolerances on `CheckReport::max_rel_error`, those of the single-op tests
/// (ops_gradcheck.rs). Compositions chain up to ~20 ops with values up to
/// `program::BOUND` = 100, which scales the central difference's rounding
/// error (≈ 1e-16·|f| / ε = 1e-10·|f|); over 5 000 programs of the CI seed
/// the worst errors were 7.3e-9 (first order) and 1.0e-8 (second), so these
/// keep a margin above 100 and still catch a wrong rule (errors of order 1).
const FIRST: f64 = 1e-6;
const SECOND: f64 = 1e-5;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(text) => text.parse().unwrap_or_else(|_| panic!("{name}={text:?} does not parse")),
        Err(_) => default,
    }
}

/// Draws programs by the fixed (or given) seed and holds each to `property`;
/// prints how many it tried and panics with the shrunk failing program.
fn for_random_programs(test: &str, property: impl Fn(&Program) -> Result<(), String>) {
    let cases = env_or("GRADGRAD_PROPTEST_CASES", DEFAULT_CASES);
    let seed = env_or("GRADGRAD_PROPTEST_SEED", DEFAULT_SEED);
    let config = Config { cases, failure_persistence: None, ..Config::default() };
    let seed_bytes: Vec<u8> = (0..4u64).flat_map(|i| (seed ^ i).to_le_bytes()).collect();
    let mut runner = TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes));
    let tried = Cell::new(0u64);
    let outcome = runner.run(&recipe(MAX_STEPS), |recipe| {
        tried.set(tried.get() + 1);
        let program = Program::read(&recipe);
        // An op that panics fails the case too, and the message names the program.
        let outcome = catch_unwind(AssertUnwindSafe(|| property(&program))).unwrap_or_else(|panic| {
            let message = panic.downcast_ref::<String>().cloned().or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()));
            Err(format!("panicked: {}", message.unwrap_or_default()))
        });
        outcome.map_err(|why| TestCaseError::fail(format!("{why}\nprogram:\n{program}")))
    });
    // Straight to stderr, past the harness's capture of print!/eprint!: the count always shows.
    let _ = writeln!(
        std::io::stderr(),
        "properties::{test}: {} random graphs tried (budget {cases} from seed {seed:#x}, plus any tried while shrinking a failure; GRADGRAD_PROPTEST_CASES sets the budget)",
        tried.get()
    );
    match outcome {
        Ok(()) => {}
        Err(TestError::Fail(why, _)) => panic!("{test}: a random program fails, shrunk to:\n{why}"),
        Err(TestError::Abort(why)) => panic!("{test}: aborted: {why}"),
    }
}

#[test]
fn random_programs_pass_gradcheck_and_gradgradcheck() {
    for_random_programs("gradcheck_and_gradgradcheck", |program| {
        let inputs = program.input_values();
        let run = |xs: &[Tensor]| program.run(xs);
        let value = run(&inputs);
        if !value.all_finite() {
            return Err(format!("the forward value is not finite: {:?}", value.to_vec_f64()));
        }
        let first = gradcheck(run, &inputs, FIRST);
        if !first.passed() {
            return Err(format!("gradcheck {first}"));
        }
        let second = gradgradcheck(run, &inputs, SECOND);
        if !second.passed() {
            return Err(format!("gradgradcheck {second}"));
        }
        Ok(())
    });
}

/// Agreement of f32 with f64 for the value and the first and second
/// derivatives, relative to the largest entry of the tensor compared. f32
/// rounds at 6e-8, but a composition can lose digits to cancellation: in
/// tanh's derivative `1 − y²` near saturation, say, or in sums whose terms
/// exceed the result. Over about 50 000 programs (seeds 1–3 and the CI seed) the
/// worst second derivative was off by 1.1e-4 (`tanh(x⁴ + x)·tanh(x⁴)`, at
/// x⁴ ≈ 5); 1e-3 leaves a margin of 10 over that, and a dtype bug (a
/// constant or kernel of the wrong precision, a lost cast) is off by far more.
const F32_TOLERANCE: f64 = 1e-3;

#[test]
fn random_programs_agree_in_f32_and_f64() {
    for_random_programs("f32_against_f64", |program| {
        let inputs = program.input_values();
        let [value32, first32, second32] = value_and_derivatives(program, &inputs, DType::F32, Device::Cpu);
        let [value64, first64, second64] = value_and_derivatives(program, &inputs, DType::F64, Device::Cpu);
        close_in_f32(&value32, &value64, "value")?;
        close_in_f32(&first32, &first64, "first derivative")?;
        close_in_f32(&second32, &second64, "second derivative")
    });
}

/// The output, `vᵀ·∂out/∂x`, and `∂/∂x (wᵀ·vᵀ·∂out/∂x)` for fixed pseudo-random
/// `v` and `w`, each flattened over all inputs, computed in `dtype` on `device`.
fn value_and_derivatives(program: &Program, inputs: &[Tensor], dtype: DType, device: Device) -> [Vec<f64>; 3] {
    let here = |t: &Tensor| t.to_dtype(dtype).to_device(device);
    let xs: Vec<Tensor> = inputs.iter().map(|x| here(x).requires_grad()).collect();
    let out = program.run(&xs);
    let v = here(&fixed_cotangent(out.dims(), 1));
    let firsts = grad(&[out.clone()], &xs, Some(&[v]), true);
    let weighted: Tensor = firsts
        .iter()
        .enumerate()
        .map(|(k, g)| (g * &here(&fixed_cotangent(g.dims(), 2 + k as u64))).sum())
        .reduce(|a, b| a + b)
        .expect("a program has an input");
    let seconds = grad(&[weighted], &xs, None, false);
    let flat = |ts: &[Tensor]| ts.iter().flat_map(Tensor::to_vec_f64).collect::<Vec<f64>>();
    [out.to_vec_f64(), flat(&firsts), flat(&seconds)]
}

fn fixed_cotangent(dims: &[usize], seed: u64) -> Tensor {
    common::uniform(&mut common::rng(seed), dims, -1.0, 1.0)
}

fn close_in_f32(f32s: &[f64], f64s: &[f64], what: &str) -> Result<(), String> {
    close(f32s, f64s, F32_TOLERANCE, &format!("{what}, f32 against f64"))
}

/// `|a − b| ≤ tolerance · (1 + max |b|)` elementwise; NaN fails.
fn close(got: &[f64], want: &[f64], tolerance: f64, what: &str) -> Result<(), String> {
    let scale = 1.0 + want.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        if a.is_nan() || b.is_nan() || (a - b).abs() > tolerance * scale {
            return Err(format!("{what}, element {i}: {a:e} against {b:e} (tolerance {tolerance:e} × {scale:e})"));
        }
    }
    Ok(())
}

/// The CUDA backend against the CPU one on every program: value, first and
/// second derivatives, in f64 (to 1e-10, room for the backends' different
/// libm and summation orders, as tests/cuda_parity.rs allows) and in f32
/// (against the CPU's f64, to [`F32_TOLERANCE`]). Skipped without a GPU.
#[test]
fn random_programs_agree_on_cpu_and_cuda() {
    let device = match Device::cuda(0) {
        Ok(device) => device,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "properties::cpu_against_cuda: skipped: no CUDA device ({})", e.reason);
            return;
        }
    };
    // Every kernel output is poisoned first, so an element a kernel forgets fails.
    cuda::set_checked_launches(true);
    for_random_programs("cpu_against_cuda", |program| {
        let inputs = program.input_values();
        let cpu = value_and_derivatives(program, &inputs, DType::F64, Device::Cpu);
        let gpu64 = value_and_derivatives(program, &inputs, DType::F64, device);
        let gpu32 = value_and_derivatives(program, &inputs, DType::F32, device);
        for (k, what) in ["value", "first derivative", "second derivative"].into_iter().enumerate() {
            close(&gpu64[k], &cpu[k], 1e-10, &format!("{what}, CUDA f64 against the CPU"))?;
            close(&gpu32[k], &cpu[k], F32_TOLERANCE, &format!("{what}, CUDA f32 against the CPU's f64"))?;
        }
        Ok(())
    });
}

/// The reader adapts what does not fit; a bug there could quietly turn an op
/// into a fallback everywhere. Every op must appear in the programs read.
#[test]
fn every_op_is_drawn() {
    use proptest::strategy::{Strategy, ValueTree};
    let mut runner = TestRunner::deterministic();
    let (mut seen, mut seen_empty) = (Vec::new(), Vec::new());
    for _ in 0..300 {
        let recipe = recipe(MAX_STEPS).new_tree(&mut runner).expect("a recipe").current();
        let program = Program::read(&recipe);
        seen.extend(program.steps.iter().map(Step::kind));
        seen_empty.extend(program.steps.iter().filter(|s| program.reads_empty(s)).map(Step::kind));
    }
    let missing: Vec<Kind> = Kind::ALL.into_iter().filter(|k| !seen.contains(k)).collect();
    assert!(missing.is_empty(), "ops never drawn in 300 programs: {missing:?}");
    // And on zero-size operands, but for the mean, whose empty case (NaN by
    // design) the reader replaces by a sum (see properties/program.rs).
    let missing_empty: Vec<Kind> = Kind::ALL.into_iter().filter(|k| *k != Kind::Mean && !seen_empty.contains(k)).collect();
    assert!(missing_empty.is_empty(), "ops never drawn on a zero-size operand in 300 programs: {missing_empty:?}");
    // Every elementwise op of the backend has a kind (see `Kind::of_unary`).
    let families = Unary::ALL.iter().map(|&op| Kind::of_unary(op)).chain(Binary::ALL.iter().map(|&op| Kind::of_binary(op)));
    let unlisted: Vec<Kind> = families.filter(|k| !Kind::ALL.contains(k)).collect();
    assert!(unlisted.is_empty(), "kinds of backend ops missing from Kind::ALL: {unlisted:?}");
}
