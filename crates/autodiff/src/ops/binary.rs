//! Elementwise arithmetic of two tensors, with NumPy broadcasting.
//!
//! The op broadcasts as it goes (the backend reads a smaller operand in
//! place, no copy of it spelled out to the output's shape); each rule here is
//! the equal-shape one, its result summed back to the operand's shape
//! ([`cotangent::unbroadcast`], the adjoint of broadcasting) where the two differ.

use std::rc::Rc;

use std::ops;

use crate::backend::{Binary, Storage};
use crate::op::Op;
use crate::ops::cotangent;
use crate::shape::Shape;
use crate::tensor::Tensor;

pub(crate) struct BinaryOp(pub Binary);

impl Op for BinaryOp {
    fn name(&self) -> String {
        format!("{:?}", self.0).to_lowercase()
    }

    fn forward(&self, x: &[&Tensor]) -> (Rc<Storage>, Shape) {
        let (a, b) = (x[0], x[1]);
        if a.shape() == b.shape() {
            return (a.storage().binary(b.storage(), self.0).into(), a.shape().clone());
        }
        let shape = Shape::broadcast(a.shape(), b.shape())
            .unwrap_or_else(|| panic!("{}: shapes {} and {} do not broadcast", self.name(), a.shape(), b.shape()));
        (a.storage().binary_broadcast(a.shape(), b.storage(), b.shape(), &shape, self.0).into(), shape)
    }

    fn vjp(&self, x: &[Tensor], y: &Tensor, gy: &Tensor, needs: &[bool]) -> Vec<Option<Tensor>> {
        let grads = self.equal_shape_vjp(&x[0], &x[1], y, gy, needs);
        // An operand that was broadcast gets its cotangent summed back to its shape.
        let fit = |g: Tensor, x: &Tensor| if x.shape() == y.shape() { g } else { cotangent::unbroadcast(&g, x.shape(), y.shape()) };
        grads.into_iter().zip(x).map(|(g, x)| g.map(|g| fit(g, x))).collect()
    }
}

impl BinaryOp {
    /// The rules as if both operands had the output's shape.
    fn equal_shape_vjp(&self, a: &Tensor, b: &Tensor, y: &Tensor, gy: &Tensor, needs: &[bool]) -> Vec<Option<Tensor>> {
        match self.0 {
            Binary::Add => vec![Some(gy.clone()), Some(gy.clone())],
            Binary::Sub => vec![Some(gy.clone()), Some(-gy)],
            Binary::Mul => vec![needs[0].then(|| gy * b), needs[1].then(|| gy * a)],
            // d(a/b)/db = −a/b² = −(1/b)·y: reuse the output instead of squaring b.
            Binary::Div => {
                let ga = gy / b;
                let gb = needs[1].then(|| -(&ga * y));
                vec![Some(ga), gb]
            }
            Binary::Maximum => split_by_sign(a, b, gy),
            // a is the smaller where b is the larger.
            Binary::Minimum => split_by_sign(b, a, gy),
        }
    }
}

/// `[gy·(1 + sign(p − q))/2, gy·(1 − sign(p − q))/2]`: the cotangents of
/// `maximum(p, q)`, whose gradient goes to the larger operand, split evenly
/// at ties (as PyTorch's); `minimum(a, b)` is the same with `p = b`, `q = a`.
/// The shares are piecewise constant, so they are built from detached values
/// and the rule is linear in `gy`: every order works. NaN in either operand
/// gives NaN shares (step passes NaN through).
fn split_by_sign(p: &Tensor, q: &Tensor, gy: &Tensor) -> Vec<Option<Tensor>> {
    let d = p.detach() - q.detach();
    // sign(d) = step(d) − step(−d); 0 at a tie.
    let share_p = (d.step() - (-&d).step()).affine(0.5, 0.5);
    let share_q = 1.0 - &share_p;
    vec![Some(gy * &share_p), Some(gy * &share_q)]
}

/// Applies `op`, broadcasting the operands to their common shape as it goes
/// (`forward` finds that shape, and panics where there is none).
pub(crate) fn binary(a: &Tensor, b: &Tensor, op: Binary) -> Tensor {
    // The name is formatted only on the way to a panic: this runs for every op.
    let name = || BinaryOp(op).name();
    assert_eq!(a.dtype(), b.dtype(), "{}: dtypes differ ({} and {})", name(), a.dtype(), b.dtype());
    assert_eq!(a.device(), b.device(), "{}: tensors on different devices ({:?} and {:?})", name(), a.device(), b.device());
    Tensor::apply(BinaryOp(op), &[a, b])
}

/// `a + b` for the backward pass's fan-in sums, both spent: written over the
/// buffer of one of them when the sum is not recorded, the shapes match and
/// nothing else holds that buffer (a buffer that was just read is in cache;
/// a new one is first fetched from memory), else an ordinary `add`.
pub(crate) fn add_spent(a: Tensor, b: Tensor) -> Tensor {
    let recorded = crate::tape::is_grad_enabled() && (a.requires_grad_flag() || b.requires_grad_flag());
    let same = a.shape() == b.shape() && a.dtype() == b.dtype() && a.device() == b.device();
    if recorded || !same || crate::anomaly::is_enabled() {
        return &a + &b;
    }
    // Addition commutes to the bit, so either buffer may take the sum.
    let (into, from) = match (a.holds_its_buffer_alone(), b.holds_its_buffer_alone()) {
        (true, _) => (a, b),
        (false, true) => (b, a),
        (false, false) => return &a + &b,
    };
    let (shape, device) = (into.shape().clone(), into.device());
    let mut sum = into.into_storage();
    let describe = || ("add (in place)".into(), vec![shape.clone(); 2]);
    crate::profile::timed(describe, crate::tape::current_order(), device, || sum.add_assign(from.storage()));
    Tensor::from_storage(sum, shape)
}

impl Tensor {
    /// Any elementwise map of two tensors by its [`Binary`] value, with
    /// broadcasting: what lets the checks run every entry of `Binary::ALL`.
    pub fn apply_binary(&self, rhs: &Tensor, op: Binary) -> Tensor {
        binary(self, rhs, op)
    }
    /// `self + rhs`, broadcasting (NumPy rules); the method form of `&a + &b`.
    pub fn add(&self, rhs: &Tensor) -> Tensor {
        binary(self, rhs, Binary::Add)
    }
    /// `self − rhs`, broadcasting; the method form of `&a - &b`.
    pub fn sub(&self, rhs: &Tensor) -> Tensor {
        binary(self, rhs, Binary::Sub)
    }
    /// `self · rhs` elementwise, broadcasting; the method form of `&a * &b`.
    pub fn mul(&self, rhs: &Tensor) -> Tensor {
        binary(self, rhs, Binary::Mul)
    }
    /// `self / rhs` elementwise, broadcasting; the method form of `&a / &b`.
    pub fn div(&self, rhs: &Tensor) -> Tensor {
        binary(self, rhs, Binary::Div)
    }
    /// The elementwise larger of two tensors, NaN where either is NaN; the
    /// gradient goes to the larger, split evenly at ties.
    pub fn maximum(&self, rhs: &Tensor) -> Tensor {
        binary(self, rhs, Binary::Maximum)
    }
    /// The elementwise smaller of two tensors, NaN where either is NaN.
    pub fn minimum(&self, rhs: &Tensor) -> Tensor {
        binary(self, rhs, Binary::Minimum)
    }
}

/// `a ∘ b` for every owned/borrowed combination of tensors.
macro_rules! tensor_op {
    ($trait:ident, $method:ident, $kind:expr) => {
        impl ops::$trait<&Tensor> for &Tensor {
            type Output = Tensor;
            fn $method(self, rhs: &Tensor) -> Tensor {
                binary(self, rhs, $kind)
            }
        }
        impl ops::$trait<Tensor> for Tensor {
            type Output = Tensor;
            fn $method(self, rhs: Tensor) -> Tensor {
                binary(&self, &rhs, $kind)
            }
        }
        impl ops::$trait<&Tensor> for Tensor {
            type Output = Tensor;
            fn $method(self, rhs: &Tensor) -> Tensor {
                binary(&self, rhs, $kind)
            }
        }
        impl ops::$trait<Tensor> for &Tensor {
            type Output = Tensor;
            fn $method(self, rhs: Tensor) -> Tensor {
                binary(self, &rhs, $kind)
            }
        }
    };
}
tensor_op!(Add, add, Binary::Add);
tensor_op!(Sub, sub, Binary::Sub);
tensor_op!(Mul, mul, Binary::Mul);
tensor_op!(Div, div, Binary::Div);

/// `tensor ∘ scalar` and `scalar ∘ tensor`, as affine maps (one node, no broadcast).
macro_rules! scalar_op {
    ($trait:ident, $method:ident, |$t:ident, $c:ident| $tensor_lhs:expr, |$t2:ident, $c2:ident| $scalar_lhs:expr) => {
        impl ops::$trait<f64> for &Tensor {
            type Output = Tensor;
            fn $method(self, $c: f64) -> Tensor {
                let $t = self;
                $tensor_lhs
            }
        }
        impl ops::$trait<f64> for Tensor {
            type Output = Tensor;
            fn $method(self, $c: f64) -> Tensor {
                let $t = &self;
                $tensor_lhs
            }
        }
        impl ops::$trait<&Tensor> for f64 {
            type Output = Tensor;
            fn $method(self, $t2: &Tensor) -> Tensor {
                let $c2 = self;
                $scalar_lhs
            }
        }
        impl ops::$trait<Tensor> for f64 {
            type Output = Tensor;
            fn $method(self, $t2: Tensor) -> Tensor {
                let $c2 = self;
                let $t2 = &$t2;
                $scalar_lhs
            }
        }
    };
}
scalar_op!(Add, add, |t, c| t.shift(c), |t, c| t.shift(c));
scalar_op!(Sub, sub, |t, c| t.shift(-c), |t, c| t.affine(-1.0, c));
scalar_op!(Mul, mul, |t, c| t.scale(c), |t, c| t.scale(c));
scalar_op!(Div, div, |t, c| t.scale(1.0 / c), |t, c| t.powi(-1).scale(c));

impl ops::Neg for &Tensor {
    type Output = Tensor;
    fn neg(self) -> Tensor {
        Tensor::neg(self)
    }
}
impl ops::Neg for Tensor {
    type Output = Tensor;
    fn neg(self) -> Tensor {
        Tensor::neg(&self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buffer(t: &Tensor) -> *const f64 {
        let Storage::Cpu(s) = t.storage() else { unreachable!("a CPU tensor") };
        s.as_slice::<f64>().unwrap().as_ptr()
    }

    #[test]
    fn a_spent_sum_takes_a_buffer_nothing_else_holds() {
        let t = |c: f64| Tensor::from_vec((0..1000).map(|i| c + i as f64).collect::<Vec<f64>>(), [10, 100]);
        let want: Vec<f64> = (0..1000).map(|i| 2.5 + 2.0 * i as f64).collect();
        // Both held only here: the first takes the sum.
        let (a, b) = (t(1.0), t(1.5));
        let at = buffer(&a);
        let sum = add_spent(a, b);
        assert_eq!((buffer(&sum), sum.to_vec_f64()), (at, want.clone()));
        // The first is held elsewhere: the second takes it, the first is untouched.
        let (a, b) = (t(1.0), t(1.5));
        let (kept, at) = (a.clone(), buffer(&b));
        let sum = add_spent(a, b);
        assert_eq!((buffer(&sum), sum.to_vec_f64()), (at, want.clone()));
        assert_eq!(kept.to_vec_f64(), t(1.0).to_vec_f64());
        // Both held elsewhere, a recorded sum, or a broadcast: a new buffer.
        let (a, b) = (t(1.0), t(1.5));
        let (ka, kb) = (a.clone(), b.clone());
        assert_eq!(add_spent(a, b).to_vec_f64(), want);
        assert_eq!((ka.to_vec_f64(), kb.to_vec_f64()), (t(1.0).to_vec_f64(), t(1.5).to_vec_f64()));
        let (a, b) = (t(1.0).requires_grad(), t(1.5));
        let sum = add_spent(a, b);
        assert!(sum.requires_grad_flag() && sum.to_vec_f64() == want);
        let row = Tensor::from_vec(vec![1.0f64; 100], [100]);
        assert_eq!(add_spent(t(0.0), row).to_vec_f64(), (0..1000).map(|i| 1.0 + i as f64).collect::<Vec<_>>());
    }
}
