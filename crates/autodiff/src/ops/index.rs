//! Reshaping, slicing, concatenation, masking, row gathers and axis permutations.

use std::rc::Rc;

use super::cotangent;
use crate::backend::Storage;
use crate::op::Op;
use crate::shape::Shape;
use crate::tensor::Tensor;

struct Reshape(Shape);

impl Op for Reshape {
    fn name(&self) -> String {
        format!("reshape({})", self.0)
    }
    fn forward(&self, x: &[&Tensor]) -> (Rc<Storage>, Shape) {
        // Row-major buffers reshape for free: the new node shares the buffer.
        (x[0].storage_rc(), self.0.clone())
    }
    fn vjp(&self, x: &[Tensor], y: &Tensor, gy: &Tensor, _needs: &[bool]) -> Vec<Option<Tensor>> {
        let gy = cotangent::full(gy, y);
        vec![Some(gy.reshape(cotangent::prefixed(cotangent::prefix(&gy, y.rank()), x[0].shape())))]
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
    fn forward(&self, x: &[&Tensor]) -> (Rc<Storage>, Shape) {
        let x = x[0];
        let (outer, n, inner) = x.shape().split_at_axis(self.axis);
        assert!(self.start + self.len <= n, "{}: out of range for shape {}", self.name(), x.shape());
        let mut dims = x.dims().to_vec();
        dims[self.axis] = self.len;
        (x.storage().slice_axis(outer, n, inner, self.start, self.len).into(), Shape::new(dims))
    }
    fn vjp(&self, x: &[Tensor], y: &Tensor, gy: &Tensor, _needs: &[bool]) -> Vec<Option<Tensor>> {
        let gy = &cotangent::full(gy, y);
        let axis = cotangent::axis(gy, y.rank(), self.axis);
        vec![Some(gy.pad_axis(axis, self.start, x[0].dims()[self.axis]))]
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
    fn forward(&self, x: &[&Tensor]) -> (Rc<Storage>, Shape) {
        let x = x[0];
        let (outer, len, inner) = x.shape().split_at_axis(self.axis);
        assert!(self.start + len <= self.total, "{}: shape {} does not fit", self.name(), x.shape());
        let mut dims = x.dims().to_vec();
        dims[self.axis] = self.total;
        (x.storage().pad_axis(outer, len, inner, self.start, self.total).into(), Shape::new(dims))
    }
    fn vjp(&self, x: &[Tensor], y: &Tensor, gy: &Tensor, _needs: &[bool]) -> Vec<Option<Tensor>> {
        let gy = &cotangent::full(gy, y);
        let axis = cotangent::axis(gy, y.rank(), self.axis);
        vec![Some(gy.narrow(axis, self.start, x[0].dims()[self.axis]))]
    }
}

/// The row indices of a gather along `axis` of a tensor viewed as `[outer,
/// rows, inner]`, as the backend's gather sees them: rows of the `[outer·rows,
/// inner]` matrix. Along axis 0 (outer = 1) they are `indices` themselves.
fn flat_rows(indices: &Rc<Vec<usize>>, outer: usize, rows: usize) -> Rc<Vec<usize>> {
    if outer == 1 {
        return indices.clone();
    }
    Rc::new((0..outer).flat_map(|o| indices.iter().map(move |&i| o * rows + i)).collect())
}

/// Entries `indices` of `axis` (repeats allowed). The public op gathers along
/// axis 0; a cotangent with leading axes gathers along a later one.
struct GatherRows {
    indices: Rc<Vec<usize>>,
    axis: usize,
}

impl Op for GatherRows {
    fn name(&self) -> String {
        format!("gather_rows({} rows, axis {})", self.indices.len(), self.axis)
    }
    fn forward(&self, x: &[&Tensor]) -> (Rc<Storage>, Shape) {
        let x = x[0];
        let (outer, rows, inner) = x.shape().split_at_axis(self.axis);
        if let Some(&bad) = self.indices.iter().find(|&&i| i >= rows) {
            panic!("{}: index {bad} out of range for shape {}", self.name(), x.shape());
        }
        let mut dims = x.dims().to_vec();
        dims[self.axis] = self.indices.len();
        (x.storage().gather_rows(inner, &flat_rows(&self.indices, outer, rows)).into(), Shape::new(dims))
    }
    fn vjp(&self, x: &[Tensor], y: &Tensor, gy: &Tensor, _needs: &[bool]) -> Vec<Option<Tensor>> {
        let gy = &cotangent::full(gy, y);
        let axis = cotangent::axis(gy, y.rank(), self.axis);
        let scatter = ScatterAddRows { indices: self.indices.clone(), axis, rows: x[0].dims()[self.axis] };
        vec![Some(Tensor::apply(scatter, &[gy]))]
    }
    fn saved_bytes(&self) -> usize {
        self.indices.len() * std::mem::size_of::<usize>()
    }
}

/// The adjoint of a gather: entry `i` of `axis` is added into entry
/// `indices[i]` of zeros `rows` long.
struct ScatterAddRows {
    indices: Rc<Vec<usize>>,
    axis: usize,
    rows: usize,
}

impl Op for ScatterAddRows {
    fn name(&self) -> String {
        format!("scatter_add_rows({} rows into {}, axis {})", self.indices.len(), self.rows, self.axis)
    }
    fn forward(&self, x: &[&Tensor]) -> (Rc<Storage>, Shape) {
        let x = x[0];
        let (outer, n, inner) = x.shape().split_at_axis(self.axis);
        assert_eq!(n, self.indices.len(), "{}: shape {} has the wrong row count", self.name(), x.shape());
        let mut dims = x.dims().to_vec();
        dims[self.axis] = self.rows;
        let flat = flat_rows(&self.indices, outer, self.rows);
        (x.storage().scatter_add_rows(inner, &flat, outer * self.rows).into(), Shape::new(dims))
    }
    fn vjp(&self, _x: &[Tensor], y: &Tensor, gy: &Tensor, _needs: &[bool]) -> Vec<Option<Tensor>> {
        let gy = &cotangent::full(gy, y);
        let axis = cotangent::axis(gy, y.rank(), self.axis);
        vec![Some(Tensor::apply(GatherRows { indices: self.indices.clone(), axis }, &[gy]))]
    }
    fn saved_bytes(&self) -> usize {
        self.indices.len() * std::mem::size_of::<usize>()
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
        Tensor::apply(GatherRows { indices: Rc::new(indices.to_vec()), axis: 0 }, &[self])
    }

    /// `count` rows drawn uniformly with replacement by counter-based stream
    /// `seed`: row `r` is row [`uniform_index`](crate::backend::counter_rng::uniform_index)`(seed, r, rows)`.
    /// The same rows on every device, picked where the tensor lives (no index
    /// list is copied to a GPU). It draws a minibatch of data, so the result
    /// is a constant and `self` must not require grad.
    pub fn sample_rows(&self, count: usize, seed: u64) -> Tensor {
        assert!(self.rank() >= 1, "sample_rows: needs rank ≥ 1, got a scalar");
        assert!(!self.requires_grad_flag(), "sample_rows: the sample is a constant; detach the tensor first");
        let rows = self.dims()[0];
        assert!(rows > 0 && rows as u64 <= 1 << 32, "sample_rows: cannot draw from {rows} rows");
        let inner = self.numel() / rows;
        let mut dims = self.dims().to_vec();
        dims[0] = count;
        let describe = || (format!("sample_rows({count})"), vec![self.shape().clone()]);
        let sample = crate::profile::timed(describe, crate::tape::current_order(), self.device(), || self.storage().sample_rows(inner, rows, count, seed));
        Tensor::from_storage(sample, Shape::new(dims))
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

/// Reorders the axes: axis `i` of the result is axis `axes[i]` of the input.
struct Permute {
    axes: Vec<usize>,
}

impl Op for Permute {
    fn name(&self) -> String {
        format!("permute({:?})", self.axes)
    }
    fn forward(&self, x: &[&Tensor]) -> (Rc<Storage>, Shape) {
        let x = x[0];
        let dims = self.axes.iter().map(|&a| x.dims()[a]).collect::<Vec<_>>();
        (x.storage().permute(x.dims(), &self.axes).into(), Shape::new(dims))
    }
    /// The cotangent goes back through the inverse permutation (`inverse[axes[i]] = i`),
    /// with the cotangent's leading axes left in front.
    fn vjp(&self, _x: &[Tensor], y: &Tensor, gy: &Tensor, _needs: &[bool]) -> Vec<Option<Tensor>> {
        let gy = cotangent::full(gy, y);
        let p = cotangent::prefix(&gy, y.rank()).len();
        let mut inverse: Vec<usize> = (0..gy.rank()).collect();
        for (i, &a) in self.axes.iter().enumerate() {
            inverse[p + a] = p + i;
        }
        vec![Some(gy.permute(&inverse))]
    }
}

impl Tensor {
    /// The axes reordered: axis `i` of the result is axis `axes[i]` of this
    /// tensor (`[B, C, H].permute(&[0, 2, 1])` is `[B, H, C]`), as PyTorch's
    /// `permute` and NumPy's `transpose`. The values move (no strided views here).
    pub fn permute(&self, axes: &[usize]) -> Tensor {
        let mut seen = vec![false; self.rank()];
        let valid = axes.len() == self.rank() && axes.iter().all(|&a| a < self.rank() && !std::mem::replace(&mut seen[a], true));
        assert!(valid, "permute: {axes:?} is not a permutation of the axes of shape {}", self.shape());
        if axes.iter().enumerate().all(|(i, &a)| i == a) {
            return self.clone();
        }
        Tensor::apply(Permute { axes: axes.to_vec() }, &[self])
    }
}
