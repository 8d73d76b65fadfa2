//! Elementwise functions of one tensor and their derivatives.

use std::rc::Rc;

use crate::backend::{Storage, Unary};
use crate::op::Op;
use crate::shape::Shape;
use crate::tensor::Tensor;

pub(crate) struct UnaryOp(pub Unary);

impl Op for UnaryOp {
    fn name(&self) -> String {
        match self.0 {
            Unary::Powi(n) => format!("powi({n})"),
            Unary::Affine { mul, add } => format!("affine({mul}·x + {add})"),
            Unary::Clamp { lo, hi } => format!("clamp({lo}, {hi})"),
            op => format!("{op:?}").to_lowercase(),
        }
    }

    fn forward(&self, x: &[&Tensor]) -> (Rc<Storage>, Shape) {
        (x[0].storage().unary(self.0).into(), x[0].shape().clone())
    }

    fn vjp(&self, x: &[Tensor], y: &Tensor, gy: &Tensor, _needs: &[bool]) -> Vec<Option<Tensor>> {
        let x = &x[0];
        let gx = match self.0 {
            Unary::Neg => -gy,
            Unary::Exp => gy * y,
            Unary::Log => gy / x,
            // σ' = σ(1 − σ), written with the output so no exp is recomputed.
            Unary::Sigmoid => gy * &(y * &(1.0 - y)),
            Unary::Tanh => gy * &(1.0 - &y.square()),
            Unary::Softplus => gy * &x.sigmoid(),
            Unary::Silu => gy * &x.silu_derivative(),
            Unary::SiluDerivative => gy * &x.silu_second_derivative(),
            // With p = σ(1 − σ) and t = 1 − 2σ (so p' = pt, t' = −2p), the
            // derivative of p·(2 + xt) is p·(t(3 + xt) − 2xp), in recorded
            // ops: every further order follows from sigmoid's rule.
            Unary::SiluSecondDerivative => {
                let s = x.sigmoid();
                let (p, t) = (&s * &(1.0 - &s), s.affine(-2.0, 1.0));
                gy * &(&p * &(&(&t * &(x * &t).shift(3.0)) - &(x * &p).scale(2.0)))
            }
            Unary::Relu => gy * &x.step(),
            // The step is flat wherever it has a derivative.
            Unary::Step => return vec![None],
            Unary::Powi(0) => return vec![None],
            Unary::Powi(1) => gy.clone(),
            Unary::Powi(2) => gy * &x.scale(2.0),
            Unary::Powi(n) => gy * &x.powi(n - 1).scale(n as f64),
            // (√x)' = 1 / (2√x), written with the output.
            Unary::Sqrt => (gy / y).scale(0.5),
            Unary::Affine { mul, .. } => gy.scale(mul),
            // 1 strictly inside [lo, hi], 0 outside: piecewise constant, so
            // built from the detached input and the rule is linear in gy.
            Unary::Clamp { lo, hi } => {
                let x = x.detach();
                gy * &(x.shift(-lo).step() * x.affine(-1.0, hi).step())
            }
        };
        vec![Some(gx)]
    }
}

fn unary(x: &Tensor, op: Unary) -> Tensor {
    Tensor::apply(UnaryOp(op), &[x])
}

impl Tensor {
    /// Any elementwise map by its [`Unary`] value: what lets the checks run
    /// every entry of `Unary::ALL`. The named methods below read better.
    pub fn apply_unary(&self, op: Unary) -> Tensor {
        unary(self, op)
    }
    /// `eˣ`, elementwise.
    pub fn exp(&self) -> Tensor {
        unary(self, Unary::Exp)
    }
    /// Natural logarithm.
    pub fn log(&self) -> Tensor {
        unary(self, Unary::Log)
    }
    /// `1 / (1 + e^-x)`, finite with finite derivatives at any input.
    pub fn sigmoid(&self) -> Tensor {
        unary(self, Unary::Sigmoid)
    }
    /// `tanh(x)`, elementwise.
    pub fn tanh(&self) -> Tensor {
        unary(self, Unary::Tanh)
    }
    /// `log(1 + e^x)`; its derivative is `sigmoid`, so it is smooth to every order.
    pub fn softplus(&self) -> Tensor {
        unary(self, Unary::Softplus)
    }
    /// `x·σ(x)` (SiLU, swish) in one pass, its derivative in one more.
    pub fn silu(&self) -> Tensor {
        unary(self, Unary::Silu)
    }
    /// SiLU's derivative `σ(x)·(1 + x·(1 − σ(x)))`, itself differentiable to every order.
    pub fn silu_derivative(&self) -> Tensor {
        unary(self, Unary::SiluDerivative)
    }
    /// SiLU's second derivative `σ(1 − σ)·(2 + x·(1 − 2σ))`, in one pass: the
    /// double backward of every score objective with a trace takes it.
    pub fn silu_second_derivative(&self) -> Tensor {
        unary(self, Unary::SiluSecondDerivative)
    }
    /// `max(x, 0)`. Its second derivative is zero almost everywhere, so a relu
    /// network's Jacobian trace carries no gradient to the weights through the
    /// activation: useless for score matching, which needs smooth activations.
    /// NaN stays NaN (as in PyTorch), so a diverging run shows.
    pub fn relu(&self) -> Tensor {
        unary(self, Unary::Relu)
    }
    /// Heaviside step (1 where `x > 0`, 0 where `x ≤ 0`, NaN for NaN): relu's
    /// derivative, with zero derivative.
    pub fn step(&self) -> Tensor {
        unary(self, Unary::Step)
    }
    /// `x^n` for an integer `n` (negative allowed).
    pub fn powi(&self, n: i32) -> Tensor {
        unary(self, Unary::Powi(n))
    }
    /// `√x`, elementwise.
    pub fn sqrt(&self) -> Tensor {
        unary(self, Unary::Sqrt)
    }
    /// `x²`, elementwise.
    pub fn square(&self) -> Tensor {
        self.powi(2)
    }
    /// `mul * x + add`.
    pub fn affine(&self, mul: f64, add: f64) -> Tensor {
        unary(self, Unary::Affine { mul, add })
    }
    /// `c * x`.
    pub fn scale(&self, c: f64) -> Tensor {
        self.affine(c, 0.0)
    }
    /// `x + c`.
    pub fn shift(&self, c: f64) -> Tensor {
        self.affine(1.0, c)
    }
    /// `−x`.
    pub fn neg(&self) -> Tensor {
        unary(self, Unary::Neg)
    }
    /// `x` limited to `[lo, hi]` (`f64::INFINITY` for no bound), NaN for NaN.
    /// Its gradient is 1 strictly inside, 0 outside.
    pub fn clamp(&self, lo: f64, hi: f64) -> Tensor {
        assert!(lo <= hi, "clamp: lower bound {lo} above upper bound {hi}");
        unary(self, Unary::Clamp { lo, hi })
    }
}
