//! Graphs deeper than the stack: a chain of a million recorded ops is built,
//! differentiated, differentiated again and freed, with no recursion anywhere
//! (neither in the backward pass's bookkeeping nor in dropping the nodes).
//!
//! The chain is `y ← 4·σ(y) − 2` (three recorded ops per step: sigmoid,
//! scale, shift), the reproduction of issue #13 (`2·σ(y) − 0.5`) with
//! constants chosen so that its derivative neither vanishes nor explodes: the
//! map is `2·tanh(y/2)`, whose fixed point 0 has slope exactly 1, so after k
//! steps `y ≈ √(6/k)` and `dy/dx ≈ k^(−3/2)`: small, but far from zero, and
//! checkable against the same recurrence run on plain `f64`s.
//!
//! The 10⁷-node case (and resident memory) is an ignored test, run alone:
//! `cargo test --test deep_chain -- --ignored --test-threads 1`.

mod common;

use common::assert_close;
use common::memory::{resident_bytes, return_free_memory};
use gradgrad::autodiff::{grad1, tape, DType, Device, Tensor};

/// `steps` steps of `y ← 4·σ(y) − 2`: `3·steps` recorded nodes.
fn chain(x: &Tensor, steps: usize) -> Tensor {
    let mut y = x.clone();
    for _ in 0..steps {
        y = y.sigmoid().scale(4.0).shift(-2.0);
    }
    y
}

/// The chain, its first and its second derivative at `x`, by forward-mode
/// recurrences on `f64`: with `f(y) = 4σ(y) − 2`, `f' = 4σ(1 − σ)` and
/// `f'' = f'·(1 − 2σ)`, `(f∘g)' = f'(g)·g'` and `(f∘g)'' = f''(g)·g'² + f'(g)·g''`.
fn chain_by_recurrence(x: f64, steps: usize) -> (f64, f64, f64) {
    let (mut y, mut d1, mut d2) = (x, 1.0, 0.0);
    for _ in 0..steps {
        let s = 1.0 / (1.0 + (-y).exp());
        let f1 = 4.0 * s * (1.0 - s);
        let f2 = f1 * (1.0 - 2.0 * s);
        (y, d1, d2) = (4.0 * s - 2.0, f1 * d1, f2 * d1 * d1 + f1 * d2);
    }
    (y, d1, d2)
}

/// Builds a chain of `3·steps` nodes, differentiates it once (plain) or twice
/// (the first pass recorded, so that the second runs through a graph deeper
/// still), checks the values, and drops everything.
fn build_differentiate_and_drop(steps: usize, twice: bool, device: Device) {
    let start = tape::live_nodes();
    let x0 = 0.5;
    let (value, first, second) = chain_by_recurrence(x0, steps);
    assert!(first.abs() > 1e-12 && second.abs() > 1e-12, "the derivatives are not trivially zero: {first:e}, {second:e}");
    {
        let x = Tensor::scalar(x0, DType::F64).to_device(device).requires_grad();
        let y = chain(&x, steps);
        assert_eq!(tape::live_nodes(), start + 3 * steps);
        let dy = grad1(&y, &x, twice);
        assert_close(&[y.item(), dy.item()], &[value, first], 1e-6, "value and first derivative");
        if twice {
            assert!(tape::live_nodes() > start + 3 * steps, "create_graph recorded the backward pass");
            let d2y = grad1(&dy, &x, false);
            assert_close(&[d2y.item()], &[second], 1e-6, "second derivative");
        }
    }
    assert_eq!(tape::live_nodes(), start, "every node of the chain and of its backward pass was freed");
}

/// 10⁶ nodes: before the teardown was iterative, dropping this chain
/// overflowed the 2 MiB stack of a test thread.
#[test]
fn a_chain_of_a_million_ops_is_differentiated_and_freed() {
    build_differentiate_and_drop(333_334, false, Device::Cpu);
}

/// 1.5·10⁵ forward nodes and, recorded by the first pass, more than twice
/// as many again, all in one chain: also far deeper than the stack allows.
#[test]
fn a_deep_chain_is_differentiated_twice_and_freed() {
    build_differentiate_and_drop(50_000, true, Device::Cpu);
}

/// The same on a GPU, where every node's value is device memory (skipped without one).
#[test]
fn a_deep_chain_on_the_gpu_is_differentiated_twice_and_freed() {
    match Device::cuda(0) {
        Ok(device) => build_differentiate_and_drop(50_000, true, device),
        Err(e) => eprintln!("a_deep_chain_on_the_gpu_is_differentiated_twice_and_freed: skipped: no CUDA device ({})", e.reason),
    }
}

/// A chain that is still held elsewhere is not freed by dropping its head:
/// the iterative teardown must release only what it owned alone.
#[test]
fn dropping_a_deep_chain_keeps_the_nodes_others_hold() {
    let start = tape::live_nodes();
    let x = Tensor::scalar(0.5, DType::F64).requires_grad();
    let middle = chain(&x, 100_000);
    let end = chain(&middle, 100_000);
    assert_eq!(tape::live_nodes(), start + 600_000);
    drop(end);
    assert_eq!(tape::live_nodes(), start + 300_000, "the first half is still held by `middle`");
    let (value, first, _) = chain_by_recurrence(0.5, 100_000);
    assert_close(&[middle.item(), grad1(&middle, &x, false).item()], &[value, first], 1e-6, "the surviving half");
    drop(middle);
    assert_eq!(tape::live_nodes(), start);
}

/// 10⁷ nodes (several GB, minutes); run alone so that the resident memory is
/// this test's own:
/// `cargo test --test deep_chain -- --ignored --test-threads 1`.
#[test]
#[ignore]
fn a_chain_of_ten_million_ops_is_differentiated_twice_and_freed() {
    return_free_memory();
    let before = resident_bytes();
    build_differentiate_and_drop(3_333_334, true, Device::Cpu);
    return_free_memory();
    if let (Some(before), Some(after)) = (before, resident_bytes()) {
        eprintln!("resident memory: {} MB before, {} MB after", before >> 20, after >> 20);
        assert!(after < before + (64 << 20), "resident memory grew from {} MB to {} MB and stayed", before >> 20, after >> 20);
    }
}
