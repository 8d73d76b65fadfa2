//! Moving a tensor between devices, differentiable: the cotangent moves back.
//!
//! So a graph may start on the CPU, run on a GPU and end on the CPU again
//! (`x.to_device(gpu)` … `.to_device(Device::Cpu)`), and gradients of every
//! order flow across: the VJP of a move is the opposite move, itself recorded.

use std::rc::Rc;

use crate::backend::{Device, Storage};
use crate::op::Op;
use crate::shape::Shape;
use crate::tensor::Tensor;

struct ToDevice(Device);

impl Op for ToDevice {
    fn name(&self) -> String {
        format!("to_device({})", self.0)
    }
    fn forward(&self, x: &[&Tensor]) -> (Rc<Storage>, Shape) {
        (x[0].storage().to_device(self.0).into(), x[0].shape().clone())
    }
    fn vjp(&self, x: &[Tensor], _y: &Tensor, gy: &Tensor, _needs: &[bool]) -> Vec<Option<Tensor>> {
        vec![Some(gy.to_device(x[0].device()))]
    }
}

impl Tensor {
    /// This tensor on `device` (the same tensor if already there). Recorded
    /// like any op, so gradients flow back to the original device.
    ///
    /// Panics if `device` is a GPU that cannot be used; [`Device::cuda`]
    /// checks that first and says why.
    pub fn to_device(&self, device: Device) -> Tensor {
        if self.device() == device {
            return self.clone();
        }
        Tensor::apply(ToDevice(device), &[self])
    }
}
