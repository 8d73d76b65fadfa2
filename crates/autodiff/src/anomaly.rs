//! Anomaly mode: find the first op that produced a NaN or an infinity.
//!
//! With anomaly detection on, every op checks its output; the first
//! non-finite one is remembered with its name, shapes and derivative order
//! (so a NaN born in a second backward pass says so). Checking costs a scan of
//! every output, which is why it is off by default.

use std::cell::{Cell, RefCell};
use std::fmt;

use crate::backend::Storage;
use crate::shape::Shape;
use crate::tape::Restore;
use crate::tensor::Tensor;

thread_local! {
    static ENABLED: Cell<bool> = const { Cell::new(false) };
    static FIRST: RefCell<Option<Anomaly>> = const { RefCell::new(None) };
}

/// The first op whose output was not finite.
#[derive(Clone, Debug, PartialEq)]
pub struct Anomaly {
    /// The op's name, as the tape dump shows it.
    pub op: String,
    /// The shapes of the op's inputs.
    pub input_shapes: Vec<Shape>,
    /// The shape of the non-finite output.
    pub output_shape: Shape,
    /// 0 = forward pass, 1 = recorded by a first backward pass, ...
    pub order: u32,
    /// Whether the inputs were already non-finite (the op only passed it on).
    pub inputs_finite: bool,
}

impl fmt::Display for Anomaly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shapes: Vec<String> = self.input_shapes.iter().map(|s| s.to_string()).collect();
        write!(
            f,
            "op `{}` produced NaN/Inf (inputs {} → output {}, derivative order {}{})",
            self.op,
            shapes.join(", "),
            self.output_shape,
            self.order,
            if self.inputs_finite { "" } else { "; its inputs were already non-finite" }
        )
    }
}

impl std::error::Error for Anomaly {}

/// Whether anomaly detection is on (inside [`detect_anomaly`]) on this thread.
pub fn is_enabled() -> bool {
    ENABLED.with(|e| e.get())
}

/// Runs `f` with anomaly detection on; returns its result, or the first op
/// that produced a non-finite value (the computation still runs to the end).
/// If `f` panics, anomaly mode is restored as the panic leaves the scope.
pub fn detect_anomaly<R>(f: impl FnOnce() -> R) -> Result<R, Anomaly> {
    let _enabled = Restore::new(&ENABLED, true);
    let scope = FirstAnomaly::enter();
    let result = f();
    match scope.leave() {
        Some(anomaly) => Err(anomaly),
        None => Ok(result),
    }
}

/// The first-anomaly slot of one `detect_anomaly` scope: entering sets aside
/// the enclosing scope's finding, dropping (also on panic) puts it back, so a
/// nested scope neither sees nor overwrites it.
struct FirstAnomaly {
    outer: Option<Anomaly>,
}

impl FirstAnomaly {
    fn enter() -> Self {
        FirstAnomaly { outer: FIRST.with(|a| a.borrow_mut().take()) }
    }

    /// This scope's first anomaly, if any.
    fn leave(self) -> Option<Anomaly> {
        FIRST.with(|a| a.borrow_mut().take())
    }
}

impl Drop for FirstAnomaly {
    fn drop(&mut self) {
        FIRST.with(|a| *a.borrow_mut() = self.outer.take());
    }
}

pub(crate) fn check(op: &str, inputs: &[&Tensor], value: &Storage, shape: &Shape, order: u32) {
    if FIRST.with(|a| a.borrow().is_some()) {
        return;
    }
    if value.to_f64_vec().iter().all(|v| v.is_finite()) {
        return;
    }
    let anomaly = Anomaly {
        op: op.to_string(),
        input_shapes: inputs.iter().map(|t| t.shape().clone()).collect(),
        output_shape: shape.clone(),
        order,
        inputs_finite: inputs.iter().all(|t| t.all_finite()),
    };
    FIRST.with(|a| *a.borrow_mut() = Some(anomaly));
}
