//! Elementwise activations and their first derivatives, both as recorded ops.
//!
//! The structure-aware trace needs σ'(h) as a tensor that is itself
//! differentiable (training differentiates the trace), so each derivative is
//! written with engine ops, the same formula the op's own VJP uses.

use std::fmt;
use std::str::FromStr;

use autodiff::Tensor;

/// The elementwise nonlinearity after each hidden layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Activation {
    /// `log(1 + eˣ)`: smooth to every order; the default.
    #[default]
    Softplus,
    /// As in the original write-up.
    Sigmoid,
    /// `tanh(x)`, smooth to every order.
    Tanh,
    /// `x·σ(x)` (swish), smooth to every order: composed of recorded ops, so it needs no kernel.
    Silu,
    /// Its second derivative is zero almost everywhere, so the trace term
    /// gives the weights no gradient through it: unsuitable for score
    /// matching, kept for comparison.
    Relu,
}

impl Activation {
    /// The activation applied to pre-activations `h`, recorded.
    pub fn apply(self, h: &Tensor) -> Tensor {
        match self {
            Activation::Softplus => h.softplus(),
            Activation::Sigmoid => h.sigmoid(),
            Activation::Tanh => h.tanh(),
            Activation::Silu => h.silu(),
            Activation::Relu => h.relu(),
        }
    }

    /// σ'(h), given the pre-activation `h` and the activation `a = σ(h)`.
    pub fn derivative(self, h: &Tensor, a: &Tensor) -> Tensor {
        match self {
            Activation::Softplus => h.sigmoid(),
            Activation::Sigmoid => a * &(1.0 - a),
            Activation::Tanh => 1.0 - &a.square(),
            Activation::Silu => h.silu_derivative(),
            Activation::Relu => h.step(),
        }
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Activation::Softplus => "softplus",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Silu => "silu",
            Activation::Relu => "relu",
        })
    }
}

impl FromStr for Activation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "softplus" => Ok(Activation::Softplus),
            "sigmoid" => Ok(Activation::Sigmoid),
            "tanh" => Ok(Activation::Tanh),
            "silu" | "swish" => Ok(Activation::Silu),
            "relu" => Ok(Activation::Relu),
            other => Err(format!("unknown activation `{other}` (softplus, sigmoid, tanh, silu, relu)")),
        }
    }
}
