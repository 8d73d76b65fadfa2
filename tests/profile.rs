//! The op profile: what it counts, at which derivative order, and that its scope is
//! restored like grad mode's.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use gradgrad::autodiff::{grad1, profile, profile::is_enabled, Shape, Tensor};

fn calls(p: &profile::Profile, op: &str, order: u32) -> usize {
    p.rows.iter().filter(|r| r.op == op && r.order == order).map(|r| r.calls).sum()
}

#[test]
fn counts_each_op_with_its_shapes_and_derivative_order() {
    let x = Tensor::from_vec(vec![0.3f64, -0.2, 0.9], [3]).requires_grad();
    let (second, p) = profile(|| {
        let y = (&x * &x).tanh().sum();
        let g = grad1(&y, &x, true); // recorded: order 1
        grad1(&g.sum(), &x, false) // the second backward pass: order 2
    });
    println!("{p}");
    assert_eq!(second.dims(), [3]);
    // The forward pass: one mul of two [3] inputs, one tanh, at order 0.
    let mul = p.rows.iter().find(|r| r.op == "mul" && r.order == 0).expect("the forward mul");
    assert_eq!((mul.calls, mul.input_shapes.clone()), (1, vec![Shape::new([3]), Shape::new([3])]));
    assert_eq!(calls(&p, "tanh", 0), 1);
    // Each backward pass runs ops of its own order, and nothing runs at a higher one.
    let orders: Vec<u32> = p.by_order().iter().map(|&(o, _)| o).collect();
    assert_eq!(orders, [0, 1, 2]);
    // The ops' times fit inside the wall time, and every row ran at least once.
    assert!(p.ops_time() <= p.wall);
    assert!(p.rows.iter().all(|r| r.calls >= 1));
    let by_op: Duration = p.by_op().iter().map(|&(_, t)| t).sum();
    assert_eq!(by_op, p.ops_time());
    assert!(p.rows.windows(2).all(|w| w[0].time >= w[1].time), "rows are sorted, slowest first");
    let table = p.to_string();
    assert!(table.contains("wall") && table.contains("order 2"), "{table}");
}

#[test]
fn nothing_is_counted_outside_a_scope_and_nested_scopes_give_their_rows_to_the_outer_one() {
    let x = Tensor::from_vec(vec![1.0f32, 2.0], [2]);
    assert!(!is_enabled());
    let _ = x.exp(); // outside: not counted anywhere
    let (((), inner), outer) = profile(|| {
        let _ = x.tanh();
        profile(|| {
            let _ = x.exp();
            let _ = x.exp();
        })
    });
    assert_eq!((calls(&inner, "exp", 0), calls(&inner, "tanh", 0)), (2, 0), "the inner scope sees only its own ops");
    assert_eq!((calls(&outer, "exp", 0), calls(&outer, "tanh", 0)), (2, 1), "the outer scope sees both");
    let per_run = outer.per_run(2);
    assert_eq!(calls(&per_run, "exp", 0), 1);
    assert!(per_run.wall <= outer.wall);
}

#[test]
fn a_panic_inside_the_scope_leaves_profiling_off_and_the_outer_table_intact() {
    let x = Tensor::from_vec(vec![1.0f64], [1]);
    let ((), outer) = profile(|| {
        let _ = x.exp();
        let panicked = catch_unwind(AssertUnwindSafe(|| {
            profile(|| {
                let _ = x.tanh();
                panic!("a failure inside the scope");
            })
        }));
        assert!(panicked.is_err());
        assert!(is_enabled(), "the outer scope is still profiling");
    });
    assert!(!is_enabled(), "profiling stayed on after its scope");
    assert_eq!(calls(&outer, "exp", 0), 1);
    assert_eq!(calls(&outer, "tanh", 0), 0, "the panicked scope's rows are dropped with it");
}
