//! `threads::pool_with_caller`, in a test binary of its own: rayon's global
//! pool is built once per process, so no other test may touch it first.

use autodiff::{threads::pool_with_caller, Tensor};

#[test]
fn the_caller_is_thread_0_and_runs_its_share_of_each_op() {
    assert_eq!(rayon::current_thread_index(), None, "the test thread starts outside the pool");
    assert_eq!(pool_with_caller(Some(2)).expect("the first build succeeds"), 2);
    assert_eq!(rayon::current_thread_index(), Some(0));
    assert!(pool_with_caller(Some(2)).is_err(), "the global pool is built once");

    // rayon::join runs its first closure on the calling thread when the caller
    // is in the pool; from outside, both run on workers.
    let caller = std::thread::current().id();
    let (first, _) = rayon::join(|| std::thread::current().id(), || ());
    assert_eq!(first, caller);

    // A product large enough to be split between the threads gives the sums
    // of a plain triple loop.
    let n = 192;
    let a: Vec<f64> = (0..n * n).map(|i| ((i * 37 % 101) as f64 - 50.0) / 50.0).collect();
    let b: Vec<f64> = (0..n * n).map(|i| ((i * 53 % 97) as f64 - 48.0) / 48.0).collect();
    let product = Tensor::from_vec(a.clone(), [n, n]).matmul(&Tensor::from_vec(b.clone(), [n, n])).to_vec::<f64>();
    for (i, row) in product.chunks(n).enumerate() {
        for (j, &value) in row.iter().enumerate() {
            let expected: f64 = (0..n).map(|k| a[i * n + k] * b[k * n + j]).sum();
            approx::assert_relative_eq!(value, expected, epsilon = 1e-12, max_relative = 1e-12);
        }
    }
}
