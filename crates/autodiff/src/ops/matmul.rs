//! Matrix products and transposes.

use crate::backend::Storage;
use crate::op::Op;
use crate::shape::Shape;
use crate::tensor::Tensor;

/// `C = op(A) · op(B)`, where `op` transposes when the flag is set. Carrying
/// the flags (instead of materialising transposes) lets each VJP below be a
/// single product too.
struct MatMul {
    trans_a: bool,
    trans_b: bool,
}

impl Op for MatMul {
    fn name(&self) -> String {
        let t = |b: bool| if b { "ᵀ" } else { "" };
        format!("matmul(a{}·b{})", t(self.trans_a), t(self.trans_b))
    }

    fn forward(&self, x: &[&Tensor]) -> (Storage, Shape) {
        let (a, b) = (x[0], x[1]);
        let name = || self.name(); // formatted only on the way to a panic
        assert!(a.rank() == 2 && b.rank() == 2, "{}: needs matrices, got shapes {} and {}", name(), a.shape(), b.shape());
        let (m, ka) = if self.trans_a { (a.dims()[1], a.dims()[0]) } else { (a.dims()[0], a.dims()[1]) };
        let (kb, n) = if self.trans_b { (b.dims()[1], b.dims()[0]) } else { (b.dims()[0], b.dims()[1]) };
        assert_eq!(ka, kb, "{}: inner dimensions differ, shapes {} and {}", name(), a.shape(), b.shape());
        assert_eq!(a.dtype(), b.dtype(), "{}: dtypes differ ({} and {})", name(), a.dtype(), b.dtype());
        let out = a.storage().matmul(b.storage(), m, ka, n, self.trans_a, self.trans_b);
        (out, Shape::new([m, n]))
    }

    fn vjp(&self, x: &[Tensor], _y: &Tensor, g: &Tensor, needs: &[bool]) -> Vec<Option<Tensor>> {
        let (a, b) = (&x[0], &x[1]);
        // From dC = dA·B + A·dB for C = A·B: ḡA = ḡC·Bᵀ, ḡB = Aᵀ·ḡC; each
        // transposed case is the same identity with the transposes moved over.
        let (ga, gb) = match (self.trans_a, self.trans_b) {
            (false, false) => ((g, b, false, true), (a, g, true, false)),
            (true, false) => ((b, g, false, true), (a, g, false, false)),
            (false, true) => ((g, b, false, false), (g, a, true, false)),
            (true, true) => ((b, g, true, true), (g, a, true, true)),
        };
        let product = |(l, r, tl, tr): (&Tensor, &Tensor, bool, bool)| l.matmul_t(r, tl, tr);
        vec![needs[0].then(|| product(ga)), needs[1].then(|| product(gb))]
    }
}

struct Transpose;

impl Op for Transpose {
    fn name(&self) -> String {
        "transpose".into()
    }

    fn forward(&self, x: &[&Tensor]) -> (Storage, Shape) {
        let x = x[0];
        assert_eq!(x.rank(), 2, "transpose: needs a matrix, got shape {}", x.shape());
        let (r, c) = (x.dims()[0], x.dims()[1]);
        (x.storage().transpose(r, c), Shape::new([c, r]))
    }

    fn vjp(&self, _x: &[Tensor], _y: &Tensor, gy: &Tensor, _needs: &[bool]) -> Vec<Option<Tensor>> {
        vec![Some(gy.t())]
    }
}

impl Tensor {
    /// Matrix product `self · rhs` of a `m×k` and a `k×n` matrix.
    pub fn matmul(&self, rhs: &Tensor) -> Tensor {
        self.matmul_t(rhs, false, false)
    }

    /// `op(self) · op(rhs)`, transposing each operand where its flag is set,
    /// without materialising the transpose.
    pub fn matmul_t(&self, rhs: &Tensor, trans_a: bool, trans_b: bool) -> Tensor {
        Tensor::apply(MatMul { trans_a, trans_b }, &[self, rhs])
    }

    /// The transpose of a matrix.
    pub fn t(&self) -> Tensor {
        Tensor::apply(Transpose, &[self])
    }
}
