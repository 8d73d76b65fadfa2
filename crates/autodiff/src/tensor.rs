//! `Tensor`: a value plus, when recorded, the op and inputs that produced it.

use std::fmt;
use std::rc::Rc;

use crate::anomaly;
use crate::backend::{CpuStorage, Device, Storage};
use crate::dtype::{DType, Element};
use crate::op::Op;
use crate::profile;
use crate::shape::Shape;
use crate::tape;

/// An immutable n-dimensional array that may be part of a recorded graph.
///
/// Cloning is cheap (a reference count). A tensor is one of:
/// - a **constant**: no grad required, nothing recorded;
/// - a **leaf**: created by [`Tensor::requires_grad`], the variables that
///   [`crate::grad`] differentiates with respect to;
/// - a **recorded node**: the output of an op with at least one input that
///   requires grad; it keeps its inputs alive so the backward pass can reach them.
#[derive(Clone)]
pub struct Tensor(pub(crate) Rc<Node>);

pub(crate) struct Node {
    pub(crate) id: u64,
    pub(crate) shape: Shape,
    pub(crate) value: Rc<Storage>,
    pub(crate) requires_grad: bool,
    pub(crate) grad_fn: Option<GradFn>,
    /// 0 for forward values; k for a value recorded by a k-th order backward
    /// pass, or computed from one (a slice of a gradient is still a gradient).
    pub(crate) order: u32,
    pub(crate) label: Option<String>,
}

/// How a recorded node was made: its op and the tensors it was applied to.
pub(crate) struct GradFn {
    pub(crate) op: Box<dyn Op>,
    pub(crate) inputs: Vec<Tensor>,
}

/// Frees a graph without recursing: left to the compiler, dropping a node
/// drops its inputs from inside its own drop, one stack frame per link, so a
/// chain of a million ops overflows the stack. Instead the inputs that this
/// node owned alone are unlinked here and freed in a loop, each handing on its
/// own inputs to the same worklist; an input that someone else still holds is
/// merely released.
impl Drop for Node {
    fn drop(&mut self) {
        let Some(grad_fn) = self.grad_fn.take() else { return };
        tape::node_dropped();
        let mut orphans = grad_fn.inputs;
        while let Some(input) = orphans.pop() {
            // `try_unwrap` succeeds only for the last owner; the node then
            // drops at the end of this block with its inputs already taken.
            if let Ok(mut node) = Rc::try_unwrap(input.0) {
                if let Some(grad_fn) = node.grad_fn.take() {
                    tape::node_dropped();
                    orphans.extend(grad_fn.inputs);
                }
            }
        }
    }
}

impl Tensor {
    pub(crate) fn from_storage(value: Storage, shape: Shape) -> Tensor {
        assert_eq!(value.len(), shape.numel(), "storage of {} elements cannot have shape {shape}", value.len());
        Tensor(Rc::new(Node {
            id: tape::next_id(),
            shape,
            value: Rc::new(value),
            requires_grad: false,
            grad_fn: None,
            order: tape::current_order(),
            label: None,
        }))
    }

    /// Applies `op` to `inputs`: computes the value and, if recording is on and
    /// an input requires grad, records the node. Every op goes through here.
    pub(crate) fn apply(op: impl Op + 'static, inputs: &[&Tensor]) -> Tensor {
        // A value computed from a k-th derivative is itself of order k.
        let order = inputs.iter().map(|t| t.order()).fold(tape::current_order(), u32::max);
        let describe = || (op.name(), inputs.iter().map(|t| t.shape().clone()).collect());
        let device = inputs.first().map_or(Device::Cpu, |t| t.device());
        let (value, shape) = profile::timed(describe, order, device, || op.forward(inputs));
        assert_eq!(value.len(), shape.numel(), "{}: forward returned a wrong size", op.name());
        if anomaly::is_enabled() {
            anomaly::check(&op.name(), inputs, &value, &shape, order);
        }
        let record = tape::is_grad_enabled() && inputs.iter().any(|t| t.requires_grad_flag());
        let grad_fn = record.then(|| {
            tape::node_created();
            GradFn { op: Box::new(op), inputs: inputs.iter().map(|&t| t.clone()).collect() }
        });
        Tensor(Rc::new(Node {
            id: tape::next_id(),
            shape,
            value,
            requires_grad: record,
            grad_fn,
            order,
            label: None,
        }))
    }

    /// A tensor from row-major data; `data.len()` must equal the shape's size.
    pub fn from_vec<T: Element + crate::backend::cpu::CpuElement>(data: Vec<T>, shape: impl Into<Shape>) -> Tensor {
        let shape = shape.into();
        assert_eq!(data.len(), shape.numel(), "from_vec: {} values cannot fill shape {shape}", data.len());
        Tensor::from_storage(Storage::Cpu(CpuStorage::from_vec(data)), shape)
    }

    /// A tensor from a slice.
    pub fn from_slice<T: Element + crate::backend::cpu::CpuElement>(data: &[T], shape: impl Into<Shape>) -> Tensor {
        Tensor::from_vec(data.to_vec(), shape)
    }

    /// A rank-0 tensor.
    pub fn scalar(value: f64, dtype: DType) -> Tensor {
        Tensor::full((), value, dtype)
    }

    /// A CPU tensor filled with `value`.
    pub fn full(shape: impl Into<Shape>, value: f64, dtype: DType) -> Tensor {
        let shape = shape.into();
        let storage = match dtype {
            DType::F32 => CpuStorage::from_vec(vec![value as f32; shape.numel()]),
            DType::F64 => CpuStorage::from_vec(vec![value; shape.numel()]),
        };
        Tensor::from_storage(Storage::Cpu(storage), shape)
    }

    /// A constant of zeros on the CPU.
    pub fn zeros(shape: impl Into<Shape>, dtype: DType) -> Tensor {
        Tensor::full(shape, 0.0, dtype)
    }

    /// A constant of ones on the CPU.
    pub fn ones(shape: impl Into<Shape>, dtype: DType) -> Tensor {
        Tensor::full(shape, 1.0, dtype)
    }

    /// A tensor of `value` with this tensor's dtype and device.
    pub fn full_like(&self, shape: impl Into<Shape>, value: f64) -> Tensor {
        let shape = shape.into();
        Tensor::from_storage(self.0.value.full_like(shape.numel(), value, self.dtype()), shape)
    }

    /// `values` in `shape`, with this tensor's dtype, on its device. A GPU
    /// keeps the small ones it has made recently, so a constant that recurs
    /// every step (a noise-level ladder) is copied to it once. A constant.
    pub fn constant_like(&self, values: &[f64], shape: impl Into<Shape>) -> Tensor {
        Tensor::from_storage(self.0.value.constant_like(values, self.dtype()), shape.into())
    }

    /// Standard normal values of `shape`, with this tensor's dtype, on its
    /// device, from counter-based stream `seed`: the same numbers on every
    /// device, made where they are used (no host copy). A constant.
    pub fn randn_like(&self, shape: impl Into<Shape>, seed: u64) -> Tensor {
        let shape: Shape = shape.into();
        let describe = || (format!("randn({shape})"), Vec::new());
        let value = profile::timed(describe, tape::current_order(), self.device(), || self.0.value.normal_like(shape.numel(), seed, self.dtype()));
        Tensor::from_storage(value, shape)
    }

    /// A constant of zeros with this tensor's shape, dtype and device.
    pub fn zeros_like(&self) -> Tensor {
        self.full_like(self.shape(), 0.0)
    }

    /// A constant of ones with this tensor's shape, dtype and device.
    pub fn ones_like(&self) -> Tensor {
        self.full_like(self.shape(), 1.0)
    }

    /// A `rows×cols` matrix, all zeros but a 1 at each `(r, hot(r))`, with
    /// this tensor's dtype and device: the one-hot cotangents of a Jacobian
    /// computation (built on the device, no host copy).
    pub fn one_hot(&self, rows: usize, cols: usize, hot: impl Fn(usize) -> usize) -> Tensor {
        let hot: Vec<usize> = (0..rows).map(hot).collect();
        if let Some((r, &c)) = hot.iter().enumerate().find(|(_, &c)| c >= cols) {
            panic!("one_hot: row {r} is hot at column {c}, out of range for {cols} columns");
        }
        Tensor::from_storage(self.0.value.one_hot_like(rows, cols, &hot, self.dtype()), Shape::new([rows, cols]))
    }

    /// A new leaf that shares this value and requires grad.
    pub fn requires_grad(&self) -> Tensor {
        self.unrecorded(true, tape::current_order(), self.0.label.clone())
    }

    /// The same value, cut from the graph: a constant.
    pub fn detach(&self) -> Tensor {
        self.unrecorded(false, tape::current_order(), self.0.label.clone())
    }

    /// A copy of this leaf or constant with a name shown in tape dumps (`W1`, say).
    pub fn named(&self, label: &str) -> Tensor {
        assert!(!self.is_recorded(), "named: only leaves and constants can be named");
        self.unrecorded(self.0.requires_grad, self.0.order, Some(label.to_string()))
    }

    /// A new node sharing this value, with no history: a leaf or a constant.
    fn unrecorded(&self, requires_grad: bool, order: u32, label: Option<String>) -> Tensor {
        Tensor(Rc::new(Node {
            id: tape::next_id(),
            shape: self.0.shape.clone(),
            value: self.0.value.clone(),
            requires_grad,
            grad_fn: None,
            order,
            label,
        }))
    }

    /// The shape.
    pub fn shape(&self) -> &Shape {
        &self.0.shape
    }
    /// The dimensions, outermost first.
    pub fn dims(&self) -> &[usize] {
        self.0.shape.dims()
    }
    /// The number of dimensions.
    pub fn rank(&self) -> usize {
        self.0.shape.rank()
    }
    /// The number of elements.
    pub fn numel(&self) -> usize {
        self.0.shape.numel()
    }
    /// The element type.
    pub fn dtype(&self) -> DType {
        self.0.value.dtype()
    }
    /// Where the values live.
    pub fn device(&self) -> Device {
        self.0.value.device()
    }
    /// The buffer holding the values.
    pub fn storage(&self) -> &Storage {
        &self.0.value
    }
    pub(crate) fn storage_rc(&self) -> Rc<Storage> {
        self.0.value.clone()
    }
    /// Whether this handle is all that holds the tensor and its buffer (no
    /// other handle, graph node or view), so the buffer may be written over.
    pub(crate) fn holds_its_buffer_alone(&self) -> bool {
        Rc::strong_count(&self.0) == 1 && Rc::weak_count(&self.0) == 0 && Rc::strong_count(&self.0.value) == 1 && Rc::weak_count(&self.0.value) == 0
    }
    /// The value, to write over: this tensor's own buffer when this handle was
    /// its last holder (no other handle, view or graph shares it), else a copy.
    pub(crate) fn into_storage(self) -> Storage {
        let value = self.storage_rc();
        drop(self);
        Rc::try_unwrap(value).unwrap_or_else(|shared| (*shared).clone())
    }
    /// Whether gradients can flow to this tensor (a leaf or a recorded node).
    pub fn requires_grad_flag(&self) -> bool {
        self.0.requires_grad
    }
    /// Whether this tensor was produced by a recorded op.
    pub fn is_recorded(&self) -> bool {
        self.0.grad_fn.is_some()
    }
    /// The derivative order that recorded this tensor (0 = forward pass).
    pub fn order(&self) -> u32 {
        self.0.order
    }
    /// The name given by [`Tensor::named`], shown by the tape dumps.
    pub fn label(&self) -> Option<&str> {
        self.0.label.as_deref()
    }
    /// A stable identity for this node (unique within the thread).
    pub fn id(&self) -> u64 {
        self.0.id
    }

    /// The values as f64, row-major.
    pub fn to_vec_f64(&self) -> Vec<f64> {
        self.0.value.to_f64_vec()
    }
    /// The values as `T`, row-major.
    pub fn to_vec<T: Element>(&self) -> Vec<T> {
        self.to_vec_f64().into_iter().map(T::from_f64).collect()
    }
    /// The single value of a one-element tensor.
    pub fn item(&self) -> f64 {
        assert_eq!(self.numel(), 1, "item: tensor of shape {} has more than one element", self.shape());
        self.to_vec_f64()[0]
    }

    /// The values of several one-element tensors, in one device→host copy:
    /// they are joined on their device first (cast to the first one's dtype),
    /// so a GPU training step can read its loss and its gradient norm together.
    pub fn items<const N: usize>(scalars: [&Tensor; N]) -> [f64; N] {
        let Some(first) = scalars.first() else { return [0.0; N] };
        for t in scalars {
            assert_eq!(t.numel(), 1, "items: tensor of shape {} has more than one element", t.shape());
        }
        let values = crate::tape::no_grad(|| {
            let flat = scalars.map(|t| t.to_dtype(first.dtype()).reshape([1]));
            crate::ops::concat(&flat, 0).to_vec_f64()
        });
        values.try_into().expect("one value per scalar")
    }

    /// Whether every value is finite.
    pub fn all_finite(&self) -> bool {
        self.to_vec_f64().iter().all(|v| v.is_finite())
    }
}

impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let values = self.to_vec_f64();
        let shown: Vec<_> = values.iter().take(8).collect();
        write!(f, "Tensor({} {}, {:?}{})", self.dtype(), self.shape(), shown, if values.len() > 8 { " …" } else { "" })
    }
}
