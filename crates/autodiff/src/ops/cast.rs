//! Dtype conversion, differentiable: the cotangent is converted back.

use std::rc::Rc;

use crate::backend::Storage;
use crate::dtype::DType;
use crate::op::Op;
use crate::shape::Shape;
use crate::tensor::Tensor;

struct Cast(DType);

impl Op for Cast {
    fn name(&self) -> String {
        format!("to_{}", self.0)
    }
    fn forward(&self, x: &[&Tensor]) -> (Rc<Storage>, Shape) {
        (x[0].storage().to_dtype(self.0).into(), x[0].shape().clone())
    }
    fn vjp(&self, x: &[Tensor], _y: &Tensor, gy: &Tensor, _needs: &[bool]) -> Vec<Option<Tensor>> {
        vec![Some(gy.to_dtype(x[0].dtype()))]
    }
}

impl Tensor {
    /// This tensor converted to `dtype` (the same tensor if already there).
    pub fn to_dtype(&self, dtype: DType) -> Tensor {
        if self.dtype() == dtype {
            return self.clone();
        }
        Tensor::apply(Cast(dtype), &[self])
    }
}
