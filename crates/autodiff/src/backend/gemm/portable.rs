//! The fallback microkernel for CPUs without a hand-written one (x86-64 before
//! AVX2, aarch64): plain Rust that the compiler vectorises for the baseline
//! target. Same contract as the kernels in `x86.rs`.

use crate::dtype::Element;

pub const MR: usize = 4;
pub const NR: usize = 8;

/// `C[0..MR][0..NR] += A·B` over `kc` steps (`=` when `overwrite`), step `p`
/// of `B` at `b + p·b_step`.
///
/// # Safety
/// `a` holds `kc·MR` values, `b` `kc` steps of `NR`, and `c` an `MR×NR` tile with row
/// stride `ldc`.
pub unsafe fn tile<T: Element>(kc: usize, a: *const T, b: *const T, b_step: usize, c: *mut T, ldc: usize, overwrite: bool) {
    let a = std::slice::from_raw_parts(a, kc * MR);
    let mut acc = [[T::zero(); NR]; MR];
    for (p, ap) in a.chunks_exact(MR).enumerate() {
        let bp = std::slice::from_raw_parts(b.add(p * b_step), NR);
        for i in 0..MR {
            for j in 0..NR {
                acc[i][j] = acc[i][j] + ap[i] * bp[j];
            }
        }
    }
    for (i, row) in acc.iter().enumerate() {
        for (j, &v) in row.iter().enumerate() {
            let cp = c.add(i * ldc + j);
            *cp = if overwrite { v } else { *cp + v };
        }
    }
}
