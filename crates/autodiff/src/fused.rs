//! Fused updates for optimisers: values only, never recorded (an optimiser
//! step is not part of any graph). One pass over memory instead of a chain of
//! elementwise ops, on whichever backend holds the tensors.

use crate::backend::AdamStep;
use crate::tensor::Tensor;

/// An exponential moving average's step: `decay·average + (1 − decay)·value`,
/// as a constant, in one pass on the CPU.
pub fn ema_update(average: &Tensor, value: &Tensor, decay: f64) -> Tensor {
    assert_eq!(value.shape(), average.shape(), "ema_update: the value has shape {}, the average {}", value.shape(), average.shape());
    assert_eq!(value.dtype(), average.dtype(), "ema_update: the value is {}, the average {}", value.dtype(), average.dtype());
    Tensor::from_storage(average.storage().ema_update(value.storage(), decay), average.shape().clone())
}

/// One Adam step: returns the new `(param, m, v)`, as constants.
pub fn adam_update(param: &Tensor, grad: &Tensor, m: &Tensor, v: &Tensor, step: AdamStep) -> (Tensor, Tensor, Tensor) {
    for (name, t) in [("grad", grad), ("m", m), ("v", v)] {
        assert_eq!(t.shape(), param.shape(), "adam_update: {name} has shape {}, the parameter {}", t.shape(), param.shape());
        assert_eq!(t.dtype(), param.dtype(), "adam_update: {name} is {}, the parameter {}", t.dtype(), param.dtype());
    }
    let (p, m, v) = param.storage().adam_update(grad.storage(), m.storage(), v.storage(), step);
    let shape = param.shape();
    (Tensor::from_storage(p, shape.clone()), Tensor::from_storage(m, shape.clone()), Tensor::from_storage(v, shape.clone()))
}
