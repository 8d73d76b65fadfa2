//! Matrix products and transposes, batched over leading axes.
//!
//! As in NumPy and PyTorch, the last two axes are the matrix and any before
//! them are batch axes: `[P, B, N]·[N, K]` is `[P, B, K]`, `[K, B]·[P, B, N]`
//! is `[P, K, N]`. That is what lets a cotangent with leading axes (see
//! `cotangent.rs`) flow through the products unchanged: `ḡA = ḡC·Bᵀ` and
//! `ḡB = Aᵀ·ḡC` simply come out batched.

use std::rc::Rc;

use super::cotangent;
use crate::backend::{BatchedMatmul, Storage};
use crate::op::Op;
use crate::shape::Shape;
use crate::tensor::Tensor;

/// `C = op(A) · op(B)`, where `op` transposes the last two axes when the flag
/// is set. Carrying the flags (instead of materialising transposes) lets
/// each VJP below be a single product too.
///
/// Each operand's batch axes are the trailing batch axes of the output (a
/// rank-2 operand, a weight say, is shared by the whole batch), so the
/// backend reads every operand in place; [`Tensor::matmul_t`] broadcasts
/// other combinations first.
struct MatMul {
    trans_a: bool,
    trans_b: bool,
}

impl Op for MatMul {
    fn name(&self) -> String {
        let t = |b: bool| if b { "ᵀ" } else { "" };
        format!("matmul(a{}·b{})", t(self.trans_a), t(self.trans_b))
    }

    fn forward(&self, x: &[&Tensor]) -> (Rc<Storage>, Shape) {
        let (a, b) = (x[0], x[1]);
        let name = || self.name(); // formatted only on the way to a panic
        // Ranks ≥ 2 were checked by `matmul_t`, the only way in.
        let (a_batch, &[a0, a1]) = split_matrix(a.dims());
        let (b_batch, &[b0, b1]) = split_matrix(b.dims());
        let (m, ka) = if self.trans_a { (a1, a0) } else { (a0, a1) };
        let (kb, n) = if self.trans_b { (b1, b0) } else { (b0, b1) };
        assert_eq!(ka, kb, "{}: inner dimensions differ, shapes {} and {}", name(), a.shape(), b.shape());
        assert_eq!(a.dtype(), b.dtype(), "{}: dtypes differ ({} and {})", name(), a.dtype(), b.dtype());
        let batch = if a_batch.len() >= b_batch.len() { a_batch } else { b_batch };
        assert!(batch.ends_with(a_batch) && batch.ends_with(b_batch), "{}: unbroadcast batch axes", name());
        let shape = Shape::new([batch, &[m, n]].concat());
        let (count, a_count, b_count) = (product(batch), product(a_batch), product(b_batch));
        // An empty product (k = 0) is 0, and an empty output has nothing to
        // compute: decided here, so every backend gives the same.
        if count * m * n * ka == 0 {
            return (a.storage().full_like(count * m * n, 0.0, a.dtype()).into(), shape);
        }
        let dims = BatchedMatmul { batch: count, a_count, b_count, m, k: ka, n, trans_a: self.trans_a, trans_b: self.trans_b };
        (a.storage().batched_matmul(b.storage(), dims).into(), shape)
    }

    fn vjp(&self, x: &[Tensor], y: &Tensor, g: &Tensor, needs: &[bool]) -> Vec<Option<Tensor>> {
        let (a, b) = (&x[0], &x[1]);
        // ḡA contracts the cotangent over C's columns, so a cotangent with one
        // row for all rows of C (size 1 there) stays one row; ḡB contracts over
        // C's rows and needs them all.
        let g_full = needs[1].then(|| cotangent::full(g, y));
        let g_rows = if rows_only_broadcast(g, y) { g.clone() } else { cotangent::full(g, y) };
        let (gr, gf) = (&g_rows, g_full.as_ref().unwrap_or(g));
        // From dC = dA·B + A·dB for C = A·B: ḡA = ḡC·Bᵀ, ḡB = Aᵀ·ḡC; each
        // transposed case is the same identity with the transposes moved over.
        let (ga, gb) = match (self.trans_a, self.trans_b) {
            (false, false) => ((gr, b, false, true), (a, gf, true, false)),
            (true, false) => ((b, gr, false, true), (a, gf, false, false)),
            (false, true) => ((gr, b, false, false), (gf, a, true, false)),
            (true, true) => ((b, gr, true, true), (gf, a, true, true)),
        };
        vec![needs[0].then(|| operand_grad(ga, a, y)), needs[1].then(|| operand_grad(gb, b, y))]
    }
}

/// One operand's cotangent, the product `op(l)·op(r)` of the VJP table,
/// shaped `[prefix, *operand.shape]`: summed over the batch axes of `y` that
/// the operand was shared across, kept per cotangent along the prefix.
fn operand_grad((l, r, tl, tr): (&Tensor, &Tensor, bool, bool), operand: &Tensor, y: &Tensor) -> Tensor {
    let batch_axes = y.rank() - 2;
    // A matrix shared by a batch, under a product `lᵀ·r` whose factors both
    // carry the whole batch: the sum over the batch of `l_pᵀ·r_p` is one
    // product of the batch stacked along rows, `[batch·R, M]ᵀ·[batch·R, N]`,
    // instead of one `M×N` product per batch entry summed afterwards.
    if operand.rank() == 2 && batch_axes > 0 && (tl, tr) == (true, false) && l.rank() >= y.rank() && r.rank() >= y.rank() {
        return stack_batch_rows(l, batch_axes).matmul_t(&stack_batch_rows(r, batch_axes), true, false);
    }
    // The operand's matrix, repeated over y's batch axes, is what it was broadcast to.
    let repeated = Shape::new([&y.dims()[..batch_axes], &operand.dims()[operand.rank() - 2..]].concat());
    cotangent::unbroadcast(&l.matmul_t(r, tl, tr), operand.shape(), &repeated)
}

/// Whether cotangent `g` of `y` is full but for, perhaps, size 1 along `y`'s rows.
fn rows_only_broadcast(g: &Tensor, y: &Tensor) -> bool {
    let (tail, rank) = (&g.dims()[g.rank() - y.rank()..], y.rank());
    tail[..rank - 2] == y.dims()[..rank - 2] && tail[rank - 1] == y.dims()[rank - 1]
}

/// `t`, shaped `[prefix, *batch, R, C]` with `batch_axes` batch axes, as
/// `[prefix, batch·R, C]`: its batch of matrices stacked along rows.
fn stack_batch_rows(t: &Tensor, batch_axes: usize) -> Tensor {
    let split = t.rank() - 2 - batch_axes;
    let (prefix, rest) = t.dims().split_at(split);
    // Rows as a product, not `numel / cols`: `cols` may be 0.
    let (stacked, &[cols]) = rest.split_at(rest.len() - 1) else { unreachable!("a matrix has columns") };
    t.reshape([prefix, &[product(stacked), cols]].concat())
}

/// `(batch axes, [rows, cols])` of a shape of rank ≥ 2.
fn split_matrix(dims: &[usize]) -> (&[usize], &[usize; 2]) {
    let (batch, matrix) = dims.split_at(dims.len() - 2);
    (batch, matrix.try_into().expect("two matrix axes"))
}

fn product(dims: &[usize]) -> usize {
    dims.iter().product()
}

/// Swaps the last two axes.
struct Transpose;

impl Op for Transpose {
    fn name(&self) -> String {
        "transpose".into()
    }

    fn forward(&self, x: &[&Tensor]) -> (Rc<Storage>, Shape) {
        let x = x[0];
        assert!(x.rank() >= 2, "transpose: needs a matrix (or a batch of them), got shape {}", x.shape());
        let (batch, &[r, c]) = split_matrix(x.dims());
        let shape = Shape::new([batch, &[c, r]].concat());
        // Nothing to move (an empty batch would leave a backend no matrix to start from).
        if x.numel() == 0 {
            return (x.storage_rc(), shape);
        }
        (x.storage().batched_transpose(product(batch), r, c).into(), shape)
    }

    fn vjp(&self, _x: &[Tensor], _y: &Tensor, gy: &Tensor, _needs: &[bool]) -> Vec<Option<Tensor>> {
        vec![Some(gy.t())]
    }
}

impl Tensor {
    /// Matrix product `self · rhs`: `[..., m, k]·[..., k, n]` is `[..., m, n]`,
    /// the leading (batch) axes broadcast as in NumPy.
    pub fn matmul(&self, rhs: &Tensor) -> Tensor {
        self.matmul_t(rhs, false, false)
    }

    /// `op(self) · op(rhs)`, transposing the last two axes of each operand
    /// where its flag is set, without materialising the transpose.
    pub fn matmul_t(&self, rhs: &Tensor, trans_a: bool, trans_b: bool) -> Tensor {
        let op = MatMul { trans_a, trans_b };
        let (a, b) = (self, rhs);
        assert!(a.rank() >= 2 && b.rank() >= 2, "{}: needs matrices, got shapes {} and {}", op.name(), a.shape(), b.shape());
        let (a_batch, a_matrix) = split_matrix(a.dims());
        let (b_batch, b_matrix) = split_matrix(b.dims());
        if a_batch.ends_with(b_batch) || b_batch.ends_with(a_batch) {
            return Tensor::apply(op, &[a, b]);
        }
        // Batch axes that only broadcast (`[2, 1]` against `[3]`): spell the
        // broadcast out, so the product reads each operand's batch in place.
        let batch = Shape::broadcast(&Shape::from(a_batch), &Shape::from(b_batch))
            .unwrap_or_else(|| panic!("{}: batch axes of shapes {} and {} do not broadcast", op.name(), a.shape(), b.shape()));
        let a = a.broadcast_to(&Shape::new([batch.dims(), a_matrix].concat()));
        let b = b.broadcast_to(&Shape::new([batch.dims(), b_matrix].concat()));
        Tensor::apply(op, &[&a, &b])
    }

    /// The transpose of a matrix; of each matrix along the last two axes for
    /// higher ranks.
    pub fn t(&self) -> Tensor {
        Tensor::apply(Transpose, &[self])
    }
}
