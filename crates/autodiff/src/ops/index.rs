//! Reshaping, slicing, concatenation, masking and row gathers.

use std::rc::Rc;

use crate::backend::Storage;
use crate::op::Op;
use crate::shape::Shape;
use crate::tensor::Tensor;

struct Reshape(Shape);

impl Op for Reshape {
    fn name(&self) -> String {
        format!("reshape({})", self.0)
    }
    fn forward(&self, x: &[&Tensor]) -> (Storage, Shape) {
        // Row-major buffers reshape for free; only the (cheap) handle is copied.
        ((*x[0].storage_rc()).clone(), self.0.clone())
    }
    fn vjp(&self, x: &[Tensor], _y: &Tensor, gy: &Tensor, _needs: &[bool]) -> Vec<Option<Tensor>> {
        vec![Some(gy.reshape(x[0].shape().clone()))]
    }
}

/// Keeps `len` entries of `axis`, starting at `start`.
struct Slice {
    axis: usize,
    start: usize,
    len: usize,
}

impl Op for Slice {
    fn name(&self) -> String {
        format!("slice(axis {}, {}..{})", self.axis, self.start, self.start + self.len)
    }
    fn forward(&self, x: &[&Tensor]) -> (Storage, Shape) {
        let x = x[0];
        let (outer, n, inner) = x.shape().split_at_axis(self.axis);
        assert!(self.start + self.len <= n, "{}: out of range for shape {}", self.name(), x.shape());
        let mut dims = x.dims().to_vec();
        dims[self.axis] = self.len;
        (x.storage().slice_axis(outer, n, inner, self.start, self.len), Shape::new(dims))
    }
    fn vjp(&self, x: &[Tensor], _y: &Tensor, gy: &Tensor, _needs: &[bool]) -> Vec<Option<Tensor>> {
        vec![Some(gy.pad_axis(self.axis, self.start, x[0].dims()[self.axis]))]
    }
}

/// Embeds a tensor at `start` of a zero tensor `total` long along `axis`.
struct Pad {
    axis: usize,
    start: usize,
    total: usize,
}

impl Op for Pad {
    fn name(&self) -> String {
        format!("pad(axis {}, at {} of {})", self.axis, self.start, self.total)
    }
    fn forward(&self, x: &[&Tensor]) -> (Storage, Shape) {
        let x = x[0];
        let (outer, len, inner) = x.shape().split_at_axis(self.axis);
        assert!(self.start + len <= self.total, "{}: shape {} does not fit", self.name(), x.shape());
        let mut dims = x.dims().to_vec();
        dims[self.axis] = self.total;
        (x.storage().pad_axis(outer, len, inner, self.start, self.total), Shape::new(dims))
    }
    fn vjp(&self, x: &[Tensor], _y: &Tensor, gy: &Tensor, _needs: &[bool]) -> Vec<Option<Tensor>> {
        vec![Some(gy.narrow(self.axis, self.start, x[0].dims()[self.axis]))]
    }
}

/// Rows `indices` of a tensor (along axis 0), repeats allowed.
struct GatherRows(Rc<Vec<usize>>);

impl Op for GatherRows {
    fn name(&self) -> String {
        format!("gather_rows({} rows)", self.0.len())
    }
    fn forward(&self, x: &[&Tensor]) -> (Storage, Shape) {
        let x = x[0];
        let (rows, inner) = (x.dims()[0], x.dims()[1..].iter().product());
        if let Some(&bad) = self.0.iter().find(|&&i| i >= rows) {
            panic!("gather_rows: index {bad} out of range for shape {}", x.shape());
        }
        let mut dims = x.dims().to_vec();
        dims[0] = self.0.len();
        (x.storage().gather_rows(inner, &self.0), Shape::new(dims))
    }
    fn vjp(&self, x: &[Tensor], _y: &Tensor, gy: &Tensor, _needs: &[bool]) -> Vec<Option<Tensor>> {
        vec![Some(Tensor::apply(ScatterAddRows(self.0.clone(), x[0].dims()[0]), &[gy]))]
    }
    fn saved_bytes(&self) -> usize {
        self.0.len() * std::mem::size_of::<usize>()
    }
}

/// The adjoint of a gather: row `i` is added into row `indices[i]` of zeros.
struct ScatterAddRows(Rc<Vec<usize>>, usize);

impl Op for ScatterAddRows {
    fn name(&self) -> String {
        format!("scatter_add_rows({} rows into {})", self.0.len(), self.1)
    }
    fn forward(&self, x: &[&Tensor]) -> (Storage, Shape) {
        let x = x[0];
        assert_eq!(x.dims()[0], self.0.len(), "{}: shape {} has the wrong row count", self.name(), x.shape());
        let inner = x.dims()[1..].iter().product();
        let mut dims = x.dims().to_vec();
        dims[0] = self.1;
        (x.storage().scatter_add_rows(inner, &self.0, self.1), Shape::new(dims))
    }
    fn vjp(&self, _x: &[Tensor], _y: &Tensor, gy: &Tensor, _needs: &[bool]) -> Vec<Option<Tensor>> {
        vec![Some(Tensor::apply(GatherRows(self.0.clone()), &[gy]))]
    }
    fn saved_bytes(&self) -> usize {
        self.0.len() * std::mem::size_of::<usize>()
    }
}

impl Tensor {
    /// The same values with another shape of equal size.
    pub fn reshape(&self, shape: impl Into<Shape>) -> Tensor {
        let shape = shape.into();
        assert_eq!(shape.numel(), self.numel(), "reshape: cannot view shape {} as {shape}", self.shape());
        if &shape == self.shape() {
            return self.clone();
        }
        Tensor::apply(Reshape(shape), &[self])
    }

    /// `len` entries of `axis` starting at `start` (columns: `narrow(1, j, n)`).
    pub fn narrow(&self, axis: usize, start: usize, len: usize) -> Tensor {
        assert!(axis < self.rank(), "narrow: axis {axis} out of range for shape {}", self.shape());
        Tensor::apply(Slice { axis, start, len }, &[self])
    }

    /// Zero-pads `axis` to `total` entries, placing this tensor at `start`.
    pub fn pad_axis(&self, axis: usize, start: usize, total: usize) -> Tensor {
        assert!(axis < self.rank(), "pad_axis: axis {axis} out of range for shape {}", self.shape());
        Tensor::apply(Pad { axis, start, total }, &[self])
    }

    /// Column `j` of a matrix, as a vector `[rows]`.
    pub fn column(&self, j: usize) -> Tensor {
        assert_eq!(self.rank(), 2, "column: needs a matrix, got shape {}", self.shape());
        self.narrow(1, j, 1).reshape([self.dims()[0]])
    }

    /// Rows `indices` (repeats allowed): a minibatch, or a batch repeated.
    pub fn gather_rows(&self, indices: &[usize]) -> Tensor {
        assert!(self.rank() >= 1, "gather_rows: needs rank ≥ 1, got a scalar");
        Tensor::apply(GatherRows(Rc::new(indices.to_vec())), &[self])
    }

    /// Elementwise mask: `self * mask`, where `mask` is a constant (0/1,
    /// typically), so no gradient flows into it.
    pub fn mask(&self, mask: &Tensor) -> Tensor {
        assert!(!mask.requires_grad_flag(), "mask: the mask must be a constant (detach it)");
        self * mask
    }
}

/// Joins tensors along `axis`. Composed of pads and adds, so its derivative
/// (slicing the cotangent back apart) comes from theirs.
pub fn concat(tensors: &[Tensor], axis: usize) -> Tensor {
    assert!(!tensors.is_empty(), "concat: no tensors");
    let first = &tensors[0];
    for t in tensors {
        let same_elsewhere =
            t.rank() == first.rank() && (0..t.rank()).all(|a| a == axis || t.dims()[a] == first.dims()[a]);
        assert!(same_elsewhere, "concat: shapes {} and {} differ off axis {axis}", first.shape(), t.shape());
    }
    let total: usize = tensors.iter().map(|t| t.dims()[axis]).sum();
    let mut start = 0;
    let mut out: Option<Tensor> = None;
    for t in tensors {
        let placed = t.pad_axis(axis, start, total);
        start += t.dims()[axis];
        out = Some(match out {
            None => placed,
            Some(acc) => acc + placed,
        });
    }
    out.unwrap()
}
