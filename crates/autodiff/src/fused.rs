//! Fused steps for optimisers: values only, never recorded (an optimiser
//! step is not part of any graph). One pass over memory instead of a chain of
//! elementwise ops, on whichever backend holds the tensors. The updates take
//! the tensors they replace by value and, where nothing else holds those,
//! write over their buffers: memory that was just read is in cache, where a
//! fresh buffer would first be fetched (20 against 31 GB/s on 2 threads).

use crate::backend::{AdamStep, Storage};
use crate::profile::timed;
use crate::shape::Shape;
use crate::tape::current_order;
use crate::tensor::Tensor;

/// `Σ x²` over all of `x`, as a scalar constant: a gradient norm's square,
/// in one pass on the CPU (the same bits as `x.square().sum()`).
pub fn sum_of_squares(x: &Tensor) -> Tensor {
    let sum = timed(|| ("sum_of_squares".into(), vec![x.shape().clone()]), current_order(), x.device(), || x.storage().sum_of_squares(x.shape()));
    Tensor::from_storage(sum, Shape::scalar())
}

/// An exponential moving average's step: `decay·average + (1 − decay)·value`,
/// as a constant, in one pass on the CPU, written over `average`'s buffer when
/// nothing else holds it.
pub fn ema_update(average: Tensor, value: &Tensor, decay: f64) -> Tensor {
    assert_eq!(value.shape(), average.shape(), "ema_update: the value has shape {}, the average {}", value.shape(), average.shape());
    assert_eq!(value.dtype(), average.dtype(), "ema_update: the value is {}, the average {}", value.dtype(), average.dtype());
    let (shape, device) = (average.shape().clone(), average.device());
    let mut average = average.into_storage();
    timed(|| ("ema_update".into(), vec![shape.clone(); 2]), current_order(), device, || average.ema_update(value.storage(), decay));
    Tensor::from_storage(average, shape)
}

/// One Adam step: returns the new `(param, m, v)`, as constants. They are
/// written over the buffers of `grad`, `m` and `v` where nothing else holds
/// those (the usual case: the optimiser owns its moments, and a gradient is
/// spent once it is applied), which spares writing to memory not yet cached.
pub fn adam_update(param: &Tensor, grad: Tensor, m: Tensor, v: Tensor, step: AdamStep) -> (Tensor, Tensor, Tensor) {
    for (name, t) in [("grad", &grad), ("m", &m), ("v", &v)] {
        assert_eq!(t.shape(), param.shape(), "adam_update: {name} has shape {}, the parameter {}", t.shape(), param.shape());
        assert_eq!(t.dtype(), param.dtype(), "adam_update: {name} is {}, the parameter {}", t.dtype(), param.dtype());
    }
    let (mut p, mut m, mut v) = (grad.into_storage(), m.into_storage(), v.into_storage());
    let describe = || ("adam_update".into(), vec![param.shape().clone(); 4]);
    timed(describe, current_order(), param.device(), || param.storage().adam_update(&mut p, &mut m, &mut v, step));
    let constant = |s: Storage| Tensor::from_storage(s, param.shape().clone());
    (constant(p), constant(m), constant(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Storage;

    fn buffer(t: &Tensor) -> *const f32 {
        let Storage::Cpu(s) = t.storage() else { unreachable!("a CPU tensor") };
        s.as_slice::<f32>().unwrap().as_ptr()
    }

    const STEP: AdamStep = AdamStep { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, correction1: 0.1, correction2: 0.001 };

    #[test]
    fn adam_writes_over_spent_buffers_and_never_over_held_ones() {
        let n = 100_000;
        let t = |c: f32| Tensor::from_vec((0..n).map(|i| c + (i % 7) as f32 * 0.1).collect::<Vec<f32>>(), [n]);
        let (p, g, m, v) = (t(1.0), t(0.5), t(0.0), t(0.25));
        let at = [buffer(&g), buffer(&m), buffer(&v)];
        let (g_kept, m_kept) = (g.clone(), m.clone());
        // g and m have a second holder: they come back as copies, their values untouched.
        let (p1, m1, v1) = adam_update(&p, g.clone(), m.clone(), v, STEP);
        assert_eq!(g_kept.to_vec::<f32>(), g.to_vec::<f32>());
        assert_eq!(m_kept.to_vec::<f32>(), m.to_vec::<f32>());
        assert!(buffer(&p1) != at[0] && buffer(&m1) != at[1] && buffer(&v1) == at[2]);
        // The element-at-a-time step, at element 3.
        let (gi, mi, vi) = (0.8f32, 0.3f32, 0.55f32);
        let m_new = 0.9 * mi + 0.1 * gi;
        let v_new = 0.999 * vi + 0.001 * gi * gi;
        let step = (0.1f64 / 0.1) as f32;
        let inv_c2 = (1.0f64 / 0.001) as f32;
        assert_eq!(m1.to_vec::<f32>()[3], m_new);
        assert_eq!(v1.to_vec::<f32>()[3], v_new);
        assert_eq!(p1.to_vec::<f32>()[3], 1.3 - step * m_new / ((v_new * inv_c2).sqrt() + 1e-8));
        // Held by nothing else now: the same step again writes over g, m and v in place.
        drop((g_kept, m_kept));
        let at = [buffer(&g), buffer(&m1), buffer(&v1)];
        let (p2, m2, v2) = adam_update(&p1, g, m1, v1, STEP);
        assert_eq!([buffer(&p2), buffer(&m2), buffer(&v2)], at);
    }

    #[test]
    fn the_ema_writes_over_its_own_average_only() {
        let (a, x) = (Tensor::from_vec(vec![1.0f32; 70_000], [70_000]), Tensor::from_vec(vec![3.0f32; 70_000], [70_000]));
        let shared = a.clone();
        let b = ema_update(a, &x, 0.75);
        assert_eq!(shared.to_vec::<f32>()[0], 1.0);
        assert_eq!(b.to_vec::<f32>()[0], 1.5);
        let at = buffer(&b);
        let c = ema_update(b, &x, 0.75);
        assert_eq!((buffer(&c), c.to_vec::<f32>()[69_999]), (at, 1.5 * 0.75 + 3.0 * 0.25));
    }
}
