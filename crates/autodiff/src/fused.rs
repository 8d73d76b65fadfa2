//! Fused updates for optimisers: values only, never recorded (an optimiser
//! step is not part of any graph). One pass over memory instead of a chain of
//! elementwise ops, on whichever backend holds the tensors.

use crate::backend::AdamStep;
use crate::tensor::Tensor;

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
