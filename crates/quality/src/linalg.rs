//! Symmetric eigendecomposition in f64 on the host, and what the Fréchet
//! distance needs of it: the square root of a positive semi-definite matrix
//! and the trace of one.
//!
//! The method is Householder reduction to a tridiagonal matrix, then the
//! implicit QL algorithm on it (EISPACK's `tred2` and `tql2`, in the form
//! JAMA gives them): about 9n³ flops with the eigenvectors, against 10n³ or
//! more *per sweep* for cyclic Jacobi. Matrices are dense, row-major `n × n`.

/// The eigenvalues of a symmetric matrix (ascending) and its eigenvectors,
/// `vectors[k·n + i]` = component k of eigenvector i (columns, as `A = V Λ Vᵀ`).
#[derive(Clone, Debug)]
pub struct SymmetricEigen {
    /// The matrix size.
    pub n: usize,
    /// The eigenvalues, ascending.
    pub values: Vec<f64>,
    /// The eigenvectors as columns, row-major `n × n`.
    pub vectors: Vec<f64>,
}

/// Eigendecomposition of the symmetric `n × n` matrix `a` (only its values
/// are read as given; an asymmetric input is treated as its lower triangle's).
pub fn symmetric_eigen(a: &[f64], n: usize) -> SymmetricEigen {
    assert_eq!(a.len(), n * n, "symmetric_eigen: {} values for a {n}×{n} matrix", a.len());
    if n == 0 {
        return SymmetricEigen { n, values: vec![], vectors: vec![] };
    }
    let mut v: Vec<Vec<f64>> = (0..n).map(|i| a[i * n..(i + 1) * n].to_vec()).collect();
    let (mut d, mut e) = (vec![0.0; n], vec![0.0; n]);
    tred2(&mut v, &mut d, &mut e);
    tql2(&mut v, &mut d, &mut e);
    // Ascending order, vectors alongside.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| d[i].total_cmp(&d[j]));
    let values = order.iter().map(|&i| d[i]).collect();
    let mut vectors = vec![0.0; n * n];
    for (col, &i) in order.iter().enumerate() {
        for k in 0..n {
            vectors[k * n + col] = v[k][i];
        }
    }
    SymmetricEigen { n, values, vectors }
}

impl SymmetricEigen {
    /// `V f(Λ) Vᵀ`.
    pub fn map(&self, f: impl Fn(f64) -> f64) -> Vec<f64> {
        let n = self.n;
        let fl: Vec<f64> = self.values.iter().map(|&l| f(l)).collect();
        // Scale the columns once, then one product: (V f(Λ)) Vᵀ.
        let scaled: Vec<f64> = (0..n * n).map(|idx| self.vectors[idx] * fl[idx % n]).collect();
        let mut out = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..=i {
                let s: f64 = (0..n).map(|k| scaled[i * n + k] * self.vectors[j * n + k]).sum();
                out[i * n + j] = s;
                out[j * n + i] = s;
            }
        }
        out
    }
}

/// The square root of a symmetric positive semi-definite matrix; the tiny
/// negative eigenvalues rounding leaves are taken as 0.
pub fn sqrt_psd(a: &[f64], n: usize) -> Vec<f64> {
    symmetric_eigen(a, n).map(|l| l.max(0.0).sqrt())
}

/// `tr(√A)` of a symmetric PSD matrix: the sum of the roots of its eigenvalues.
pub fn trace_sqrt_psd(a: &[f64], n: usize) -> f64 {
    symmetric_eigen(a, n).values.iter().map(|l| l.max(0.0).sqrt()).sum()
}

/// `a · b` for `n × n` matrices, row-major.
pub fn matmul(a: &[f64], b: &[f64], n: usize) -> Vec<f64> {
    let mut out = vec![0.0; n * n];
    for i in 0..n {
        let row = &mut out[i * n..(i + 1) * n];
        for k in 0..n {
            let aik = a[i * n + k];
            if aik != 0.0 {
                row.iter_mut().zip(&b[k * n..(k + 1) * n]).for_each(|(o, &bkj)| *o += aik * bkj);
            }
        }
    }
    out
}

/// Householder reduction of `v` (symmetric) to tridiagonal form: diagonal
/// `d`, subdiagonal `e[1..]`; `v` becomes the accumulated transformation.
fn tred2(v: &mut [Vec<f64>], d: &mut [f64], e: &mut [f64]) {
    let n = d.len();
    d.copy_from_slice(&v[n - 1]);
    for i in (1..n).rev() {
        let scale: f64 = d[..i].iter().map(|x| x.abs()).sum();
        let mut h = 0.0;
        if scale == 0.0 {
            e[i] = d[i - 1];
            for j in 0..i {
                d[j] = v[i - 1][j];
                v[i][j] = 0.0;
                v[j][i] = 0.0;
            }
        } else {
            for dk in d[..i].iter_mut() {
                *dk /= scale;
                h += *dk * *dk;
            }
            let mut f = d[i - 1];
            let mut g = if f > 0.0 { -h.sqrt() } else { h.sqrt() };
            e[i] = scale * g;
            h -= f * g;
            d[i - 1] = f - g;
            e[..i].fill(0.0);
            for j in 0..i {
                f = d[j];
                v[j][i] = f;
                g = e[j] + v[j][j] * f;
                for k in j + 1..i {
                    g += v[k][j] * d[k];
                    e[k] += v[k][j] * f;
                }
                e[j] = g;
            }
            f = 0.0;
            for j in 0..i {
                e[j] /= h;
                f += e[j] * d[j];
            }
            let hh = f / (h + h);
            for j in 0..i {
                e[j] -= hh * d[j];
            }
            for j in 0..i {
                f = d[j];
                g = e[j];
                for k in j..i {
                    v[k][j] -= f * e[k] + g * d[k];
                }
                d[j] = v[i - 1][j];
                v[i][j] = 0.0;
            }
        }
        d[i] = h;
    }
    // Accumulate the transformations.
    for i in 0..n - 1 {
        v[n - 1][i] = v[i][i];
        v[i][i] = 1.0;
        let h = d[i + 1];
        if h != 0.0 {
            for k in 0..=i {
                d[k] = v[k][i + 1] / h;
            }
            for j in 0..=i {
                let g: f64 = (0..=i).map(|k| v[k][i + 1] * v[k][j]).sum();
                for k in 0..=i {
                    v[k][j] -= g * d[k];
                }
            }
        }
        for row in v.iter_mut().take(i + 1) {
            row[i + 1] = 0.0;
        }
    }
    for j in 0..n {
        d[j] = v[n - 1][j];
        v[n - 1][j] = 0.0;
    }
    v[n - 1][n - 1] = 1.0;
    e[0] = 0.0;
}

/// Implicit QL on the tridiagonal (`d`, `e`) from [`tred2`], rotating `v`
/// along: `d` ends as the eigenvalues, `v`'s columns as the eigenvectors.
fn tql2(v: &mut [Vec<f64>], d: &mut [f64], e: &mut [f64]) {
    let n = d.len();
    for i in 1..n {
        e[i - 1] = e[i];
    }
    e[n - 1] = 0.0;
    let (mut f, mut tst1) = (0.0f64, 0.0f64);
    let eps = f64::EPSILON;
    for l in 0..n {
        tst1 = tst1.max(d[l].abs() + e[l].abs());
        let mut m = l;
        while m < n - 1 && e[m].abs() > eps * tst1 {
            m += 1;
        }
        if m > l {
            loop {
                let g = d[l];
                let mut p = (d[l + 1] - g) / (2.0 * e[l]);
                let mut r = p.hypot(1.0);
                if p < 0.0 {
                    r = -r;
                }
                d[l] = e[l] / (p + r);
                d[l + 1] = e[l] * (p + r);
                let dl1 = d[l + 1];
                let h = g - d[l];
                for di in d.iter_mut().skip(l + 2) {
                    *di -= h;
                }
                f += h;
                p = d[m];
                let (mut c, mut c2, mut c3) = (1.0, 1.0, 1.0);
                let el1 = e[l + 1];
                let (mut s, mut s2) = (0.0, 0.0);
                for i in (l..m).rev() {
                    c3 = c2;
                    c2 = c;
                    s2 = s;
                    let g = c * e[i];
                    let h = c * p;
                    r = p.hypot(e[i]);
                    e[i + 1] = s * r;
                    s = e[i] / r;
                    c = p / r;
                    p = c * d[i] - s * g;
                    d[i + 1] = h + s * (c * g + s * d[i]);
                    for row in v.iter_mut() {
                        let h = row[i + 1];
                        row[i + 1] = s * row[i] + c * h;
                        row[i] = c * row[i] - s * h;
                    }
                }
                p = -s * s2 * c3 * el1 * e[l] / dl1;
                e[l] = s * p;
                d[l] = c * p;
                if e[l].abs() <= eps * tst1 {
                    break;
                }
            }
        }
        d[l] += f;
        e[l] = 0.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f64], b: &[f64], tol: f64) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol * (1.0 + y.abs()))
    }

    /// A symmetric positive definite matrix: `B Bᵀ + I` for a fixed pseudo-random `B`.
    fn spd(n: usize, seed: u64) -> Vec<f64> {
        let mut rng = crate::augment::SplitMix64::new(seed);
        let b: Vec<f64> = (0..n * n).map(|_| (rng.next_u64() % 2001) as f64 / 1000.0 - 1.0).collect();
        let bt: Vec<f64> = (0..n * n).map(|idx| b[(idx % n) * n + idx / n]).collect();
        let mut a = matmul(&b, &bt, n);
        (0..n).for_each(|i| a[i * n + i] += 1.0);
        a
    }

    #[test]
    fn eigenpairs_rebuild_the_matrix() {
        for n in [1, 2, 3, 10, 40] {
            let a = spd(n, n as u64);
            let eig = symmetric_eigen(&a, n);
            assert!(close(&eig.map(|l| l), &a, 1e-12), "V Λ Vᵀ = A, n = {n}");
            assert!(eig.values.windows(2).all(|w| w[0] <= w[1]), "ascending");
            // Vᵀ V = I
            let vt: Vec<f64> = (0..n * n).map(|idx| eig.vectors[(idx % n) * n + idx / n]).collect();
            let id: Vec<f64> = (0..n * n).map(|idx| (idx / n == idx % n) as u8 as f64).collect();
            assert!(close(&matmul(&vt, &eig.vectors, n), &id, 1e-12), "orthonormal vectors, n = {n}");
        }
    }

    #[test]
    fn the_square_root_of_a_known_matrix() {
        // [[5, 4], [4, 5]] has eigenvalues 9 (along (1, 1)) and 1 (along (1, −1)),
        // so its root is ½[[3 + 1, 3 − 1], [3 − 1, 3 + 1]] = [[2, 1], [1, 2]].
        assert!(close(&sqrt_psd(&[5.0, 4.0, 4.0, 5.0], 2), &[2.0, 1.0, 1.0, 2.0], 1e-14));
        // A diagonal matrix's root is the roots of its diagonal.
        let d = [4.0, 0.0, 0.0, 0.0, 9.0, 0.0, 0.0, 0.0, 0.25];
        assert!(close(&sqrt_psd(&d, 3), &[2.0, 0.0, 0.0, 0.0, 3.0, 0.0, 0.0, 0.0, 0.5], 1e-14));
        // √A √A = A on a general one.
        let a = spd(30, 5);
        let r = sqrt_psd(&a, 30);
        assert!(close(&matmul(&r, &r, 30), &a, 1e-11));
        assert!((trace_sqrt_psd(&a, 30) - (0..30).map(|i| r[i * 30 + i]).sum::<f64>()).abs() < 1e-10);
    }

    #[test]
    fn a_singular_matrix_has_a_root_too() {
        // Rank one: v vᵀ with v = (1, 2, 2), ‖v‖ = 3; √(v vᵀ) = v vᵀ / ‖v‖.
        let v = [1.0, 2.0, 2.0];
        let a: Vec<f64> = (0..9).map(|idx| v[idx / 3] * v[idx % 3]).collect();
        let want: Vec<f64> = a.iter().map(|x| x / 3.0).collect();
        assert!(close(&sqrt_psd(&a, 3), &want, 1e-7));
    }
}
