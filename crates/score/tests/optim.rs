//! The optimisers against their update rules, computed by hand.

use autodiff::Tensor;
use score::optim::{clip_grad_norm, Adam, Optimizer, Sgd};

#[test]
fn adam_matches_its_update_rule_for_two_steps() {
    let (lr, b1, b2, eps) = (0.1, 0.9, 0.999, 1e-8);
    let p0 = vec![1.0f64, -2.0, 0.5];
    let g1 = vec![0.3f64, -4.0, 0.0];
    let g2 = vec![-0.1f64, 2.0, 1e-3];
    let mut adam = Adam::new(lr);
    let p = vec![Tensor::from_vec(p0.clone(), [3])];
    let p = adam.step(&p, vec![Tensor::from_vec(g1.clone(), [3])]);
    let p = adam.step(&p, vec![Tensor::from_vec(g2.clone(), [3])]);
    let got = p[0].to_vec_f64();
    for i in 0..3 {
        let (mut m, mut v, mut x) = (0.0, 0.0, p0[i]);
        for (t, g) in [(1, g1[i]), (2, g2[i])] {
            m = b1 * m + (1.0 - b1) * g;
            v = b2 * v + (1.0 - b2) * g * g;
            let m_hat = m / (1.0 - f64::powi(b1, t));
            let v_hat = v / (1.0 - f64::powi(b2, t));
            x -= lr * m_hat / (v_hat.sqrt() + eps);
        }
        assert!((got[i] - x).abs() < 1e-14, "element {i}: {} vs {x}", got[i]);
    }
    assert_eq!(adam.steps_taken(), 2);
    // The state round-trips through what a checkpoint stores.
    let mut restored = Adam::new(lr);
    restored.load_state(&adam.state()).unwrap();
    let g3 = [Tensor::from_vec(vec![0.5f64, 0.5, 0.5], [3])];
    assert_eq!(adam.step(&p, g3.to_vec())[0].to_vec_f64(), restored.step(&p, g3.to_vec())[0].to_vec_f64());
}

#[test]
fn sgd_with_momentum_and_clipping_by_norm() {
    let mut sgd = Sgd::new(0.5, 0.9);
    let p = vec![Tensor::from_vec(vec![1.0f64], [1])];
    let g = [Tensor::from_vec(vec![2.0f64], [1])];
    let p = sgd.step(&p, g.to_vec()); // v = 2, p = 1 − 1 = 0
    let p = sgd.step(&p, g.to_vec()); // v = 0.9·2 + 2 = 3.8, p = 0 − 1.9
    assert!((p[0].item() + 1.9).abs() < 1e-15);
    // ‖(3, 4, 12)‖ = 13 over two tensors, clipped to 1.
    let grads = [Tensor::from_vec(vec![3.0f64, 4.0], [2]), Tensor::from_vec(vec![12.0f64], [1, 1])];
    let (clipped, norm) = clip_grad_norm(grads.to_vec(), Some(1.0));
    assert_eq!(norm.item(), 13.0);
    let c: Vec<f64> = clipped.iter().flat_map(Tensor::to_vec_f64).collect();
    for (got, want) in c.iter().zip([3.0 / 13.0, 4.0 / 13.0, 12.0 / 13.0]) {
        assert!((got - want).abs() < 1e-15, "{c:?}");
    }
    assert_eq!(clipped[1].dims(), &[1, 1]);
    // Under the bound, and without one, the gradients come back bit for bit.
    let small = [Tensor::from_vec(vec![0.1f32, -0.3], [2])];
    for max_norm in [Some(1.0), Some(0.1f32.hypot(0.3) as f64 * 1.0001), None] {
        let (same, norm) = clip_grad_norm(small.to_vec(), max_norm);
        assert_eq!(same[0].to_vec_f64(), small[0].to_vec_f64(), "max_norm {max_norm:?}");
        assert!((norm.item() - 0.1f64.hypot(0.3)).abs() < 1e-7);
    }
    let (none, norm) = clip_grad_norm(Vec::new(), Some(1.0));
    assert!(none.is_empty() && norm.item() == 0.0);
}
