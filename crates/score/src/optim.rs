//! Optimisers: SGD with momentum, and Adam, with gradient clipping by norm.
//!
//! Parameters are immutable tensors, so a step returns the new values (as
//! constants); the caller makes them the next step's leaves. Updates run
//! without recording. State tensors are named for checkpointing.

use autodiff::fused::{adam_update, ema_update, sum_of_squares};
use autodiff::{no_grad, AdamStep, Device, Tensor};

/// Scales `grads` so their global L2 norm is at most `max_norm`; returns them
/// and the norm before clipping, as a scalar tensor where the gradients are.
/// On a GPU nothing is read back: the factor min(1, max/‖g‖) is a device
/// scalar, written `1 − relu(1 − max/‖g‖)`, which is exactly 1 when ‖g‖ ≤ max,
/// so an unclipped step keeps its gradients bit for bit (on the CPU, whose
/// factor is read at no cost, they are then returned as they are). The norm's
/// square is summed in one pass per tensor ([`sum_of_squares`]). Read the
/// norm together with the loss ([`Tensor::items`]).
pub fn clip_grad_norm(grads: Vec<Tensor>, max_norm: Option<f64>) -> (Vec<Tensor>, Tensor) {
    no_grad(|| {
        let Some(squares) = grads.iter().map(sum_of_squares).reduce(|a, b| &a + &b) else {
            return (Vec::new(), Tensor::scalar(0.0, autodiff::DType::F64));
        };
        let norm = squares.sqrt();
        let Some(max) = max_norm else {
            return (grads, norm);
        };
        let factor = norm.powi(-1).scale(max).affine(-1.0, 1.0).relu().affine(-1.0, 1.0);
        let clipped = if factor.device() == Device::Cpu {
            // On the CPU reading the factor costs nothing: a factor of exactly
            // 1 (the usual case) need not be multiplied through, and another
            // is one scaling pass with no broadcast buffer.
            let factor = factor.item();
            if factor == 1.0 {
                grads
            } else {
                grads.iter().map(|g| g.scale(factor)).collect()
            }
        } else {
            grads.iter().map(|g| g * &factor).collect()
        };
        (clipped, norm)
    })
}

/// A first-order optimiser: new parameters from the old ones and their gradients.
pub trait Optimizer {
    /// New parameter values after one step with `grads` (same order). The
    /// gradients are spent: an optimiser may write over their buffers.
    fn step(&mut self, params: &[Tensor], grads: Vec<Tensor>) -> Vec<Tensor>;
    /// The learning rate used by the last (or next) step.
    fn learning_rate(&self) -> f64;
    /// Sets the learning rate of the next steps (a schedule calls it before each step).
    fn set_learning_rate(&mut self, lr: f64);
    /// Named state tensors (moments, step count as a scalar) for checkpoints.
    fn state(&self) -> Vec<(String, Tensor)>;
    /// Restores what `state` returned; errors name what is missing or misshapen.
    fn load_state(&mut self, state: &[(String, Tensor)]) -> Result<(), String>;
}

/// `v ← μv + g; p ← p − lr·v`.
pub struct Sgd {
    /// The learning rate.
    pub lr: f64,
    /// The momentum μ (0 for plain gradient descent).
    pub momentum: f64,
    velocity: Vec<Tensor>,
}

impl Sgd {
    /// SGD with learning rate `lr` and momentum `momentum`.
    pub fn new(lr: f64, momentum: f64) -> Sgd {
        Sgd { lr, momentum, velocity: Vec::new() }
    }
}

impl Optimizer for Sgd {
    fn step(&mut self, params: &[Tensor], grads: Vec<Tensor>) -> Vec<Tensor> {
        assert_eq!(grads.len(), params.len(), "Sgd::step: {} gradients for {} parameters", grads.len(), params.len());
        no_grad(|| {
            if self.velocity.is_empty() {
                self.velocity = params.iter().map(Tensor::zeros_like).collect();
            }
            self.velocity = self.velocity.iter().zip(grads).map(|(v, g)| &v.scale(self.momentum) + &g).collect();
            params.iter().zip(&self.velocity).map(|(p, v)| (p - &v.scale(self.lr)).detach()).collect()
        })
    }
    fn learning_rate(&self) -> f64 {
        self.lr
    }
    fn set_learning_rate(&mut self, lr: f64) {
        self.lr = lr;
    }
    fn state(&self) -> Vec<(String, Tensor)> {
        self.velocity.iter().enumerate().map(|(i, v)| (format!("velocity.{i}"), v.clone())).collect()
    }
    fn load_state(&mut self, state: &[(String, Tensor)]) -> Result<(), String> {
        self.velocity = named_sequence(state, "velocity")?;
        Ok(())
    }
}

/// Adam (Kingma & Ba), with bias correction.
pub struct Adam {
    /// The learning rate.
    pub lr: f64,
    /// The decay of the first moment (0.9).
    pub beta1: f64,
    /// The decay of the second moment (0.999).
    pub beta2: f64,
    /// Added to the square root of the second moment (1e-8).
    pub eps: f64,
    step: u64,
    m: Vec<Tensor>,
    v: Vec<Tensor>,
}

impl Adam {
    /// Adam with learning rate `lr` and the usual β₁ = 0.9, β₂ = 0.999, ε = 1e-8.
    pub fn new(lr: f64) -> Adam {
        Adam { lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 0, m: Vec::new(), v: Vec::new() }
    }
    /// The number of steps taken so far.
    pub fn steps_taken(&self) -> u64 {
        self.step
    }
}

impl Optimizer for Adam {
    fn step(&mut self, params: &[Tensor], grads: Vec<Tensor>) -> Vec<Tensor> {
        assert_eq!(grads.len(), params.len(), "Adam::step: {} gradients for {} parameters", grads.len(), params.len());
        no_grad(|| {
            if self.m.is_empty() {
                self.m = params.iter().map(Tensor::zeros_like).collect();
                self.v = params.iter().map(Tensor::zeros_like).collect();
            }
            assert_eq!(self.m.len(), params.len(), "Adam::step: moments for {} parameters, given {}", self.m.len(), params.len());
            self.step += 1;
            let step = AdamStep {
                lr: self.lr,
                beta1: self.beta1,
                beta2: self.beta2,
                eps: self.eps,
                correction1: 1.0 - self.beta1.powi(self.step as i32),
                correction2: 1.0 - self.beta2.powi(self.step as i32),
            };
            let (moments, squares) = (std::mem::take(&mut self.m), std::mem::take(&mut self.v));
            let mut out = Vec::with_capacity(params.len());
            for (((param, grad), m), v) in params.iter().zip(grads).zip(moments).zip(squares) {
                // One fused pass per tensor, over the spent gradient and the
                // moments' own buffers: a dozen elementwise ops cost more than the step itself.
                let (p, m, v) = adam_update(param, grad, m, v, step);
                self.m.push(m);
                self.v.push(v);
                out.push(p);
            }
            out
        })
    }
    fn learning_rate(&self) -> f64 {
        self.lr
    }
    fn set_learning_rate(&mut self, lr: f64) {
        self.lr = lr;
    }
    fn state(&self) -> Vec<(String, Tensor)> {
        let mut state: Vec<(String, Tensor)> = Vec::new();
        state.extend(self.m.iter().enumerate().map(|(i, t)| (format!("m.{i}"), t.clone())));
        state.extend(self.v.iter().enumerate().map(|(i, t)| (format!("v.{i}"), t.clone())));
        state.push(("step".into(), Tensor::scalar(self.step as f64, autodiff::DType::F64)));
        state
    }
    fn load_state(&mut self, state: &[(String, Tensor)]) -> Result<(), String> {
        self.m = named_sequence(state, "m")?;
        self.v = named_sequence(state, "v")?;
        let step = state.iter().find(|(n, _)| n == "step").ok_or("optimizer state has no `step`")?;
        self.step = step.1.item() as u64;
        Ok(())
    }
}

/// `prefix.0`, `prefix.1`, ... in order.
fn named_sequence(state: &[(String, Tensor)], prefix: &str) -> Result<Vec<Tensor>, String> {
    let mut out = Vec::new();
    while let Some((_, t)) = state.iter().find(|(n, _)| *n == format!("{prefix}.{}", out.len())) {
        out.push(t.clone());
    }
    if out.is_empty() {
        return Err(format!("optimizer state has no `{prefix}.0`"));
    }
    Ok(out)
}

/// An exponential moving average of the parameters, `ema ← β·ema + (1 − β)·p` after each
/// step: the weights samples are drawn with. The decay warms up, `β = min(decay, (1 + n)/(10 + n))`
/// after `n` updates, so the first steps' random weights fade fast.
pub struct Ema {
    /// The decay β (0.999, say; 0 copies the parameters).
    pub decay: f64,
    weights: Vec<Tensor>,
    updates: u64,
}

impl Ema {
    /// An average with decay `decay`, in [0, 1); it starts from the first parameters it sees.
    pub fn new(decay: f64) -> Ema {
        assert!((0.0..1.0).contains(&decay), "Ema: decay must lie in [0, 1), got {decay}");
        Ema { decay, weights: Vec::new(), updates: 0 }
    }

    /// Folds in the parameters after a step (the first call copies them).
    pub fn update(&mut self, params: &[Tensor]) {
        no_grad(|| {
            if self.weights.is_empty() {
                self.weights = params.iter().map(Tensor::detach).collect();
            } else {
                let n = self.updates as f64;
                let beta = self.decay.min((1.0 + n) / (10.0 + n));
                self.weights = std::mem::take(&mut self.weights).into_iter().zip(params).map(|(e, p)| ema_update(e, p, beta)).collect();
            }
            self.updates += 1;
        })
    }

    /// The averaged weights, in the parameters' order (empty before the first update).
    pub fn weights(&self) -> &[Tensor] {
        &self.weights
    }

    /// `ema.{i}` and `ema_updates`, for checkpoints.
    pub fn state(&self) -> Vec<(String, Tensor)> {
        let mut state: Vec<(String, Tensor)> = self.weights.iter().enumerate().map(|(i, t)| (format!("ema.{i}"), t.clone())).collect();
        state.push(("ema_updates".into(), Tensor::scalar(self.updates as f64, autodiff::DType::F64)));
        state
    }

    /// Restores what [`Ema::state`] returned.
    pub fn load_state(&mut self, state: &[(String, Tensor)]) -> Result<(), String> {
        self.weights = named_sequence(state, "ema")?;
        let updates = state.iter().find(|(n, _)| n == "ema_updates").ok_or("EMA state has no `ema_updates`")?;
        self.updates = updates.1.item() as u64;
        Ok(())
    }
}
