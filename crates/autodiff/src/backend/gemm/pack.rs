//! Packing: copies a block of an operand into the order the microkernel reads
//! it, so that every kernel load is contiguous whatever the operand's layout.
//! This is where the four transposes are handled: a transposed operand is only
//! a different pair of strides here.
//!
//! A block of `lanes` lanes (rows of `A`, or columns of `B`) by `depth` steps
//! along `k` becomes `lanes / width` panels (rounded up), one after the other,
//! each `width` lanes wide and stored step-major:
//! `panel[p·width + l] = src[(panel_start + l)·lane_stride + p·depth_stride]`.
//! Lanes past the end of the last panel are zero, so an edge tile computes
//! zeros there.

/// Packs a block into `out[..panels·depth·width]`, reading the source in an
/// order that keeps its cache lines in use and its streams few: where lanes
/// are adjacent (a row-major `B`, a transposed `A`), a whole row of the block
/// (one step of every panel) at a time, one sequential stream; where a lane's
/// steps are, one panel at a time, `width` streams each read along (on AVX-512
/// through register transposes, `pack_avx512.rs`); else one step of every
/// lane of a panel at a time (`width` short streams, each line of which serves
/// the next few steps too), so no layout costs much more to pack. The AVX-512
/// paths put the same values in the same places.
///
/// # Safety
/// `src[l·lane_stride + p·depth_stride]` must be readable for every
/// `l < lanes`, `p < depth`.
pub unsafe fn pack_block<T: Copy + num_traits::Zero>(
    src: *const T,
    lane_stride: usize,
    depth_stride: usize,
    lanes: usize,
    width: usize,
    depth: usize,
    out: &mut [T],
) {
    // The kernels' widths, as constants: the copies then unroll and vectorise.
    match width {
        4 => pack_fixed::<T, 4>(src, lane_stride, depth_stride, lanes, depth, out),
        6 => pack_fixed::<T, 6>(src, lane_stride, depth_stride, lanes, depth, out),
        8 => pack_fixed::<T, 8>(src, lane_stride, depth_stride, lanes, depth, out),
        12 => pack_fixed::<T, 12>(src, lane_stride, depth_stride, lanes, depth, out),
        16 => pack_fixed::<T, 16>(src, lane_stride, depth_stride, lanes, depth, out),
        24 => pack_fixed::<T, 24>(src, lane_stride, depth_stride, lanes, depth, out),
        48 => pack_fixed::<T, 48>(src, lane_stride, depth_stride, lanes, depth, out),
        _ => unreachable!("no kernel is {width} lanes wide"),
    }
}

unsafe fn pack_fixed<T: Copy + num_traits::Zero, const W: usize>(
    src: *const T,
    lane_stride: usize,
    depth_stride: usize,
    lanes: usize,
    depth: usize,
    out: &mut [T],
) {
    let full = lanes / W;
    let (full_panels, partial) = out[..lanes.div_ceil(W) * depth * W].split_at_mut(full * depth * W);
    if lane_stride == 1 {
        if !rows_avx512::<T, W>(src, depth_stride, full, depth, full_panels) {
            for p in 0..depth {
                let row = src.add(p * depth_stride);
                for q in 0..full {
                    full_panels[(q * depth + p) * W..][..W].copy_from_slice(std::slice::from_raw_parts(row.add(q * W), W));
                }
            }
        }
    } else {
        for (q, panel) in full_panels.chunks_exact_mut(depth * W).enumerate() {
            let base = src.add(q * W * lane_stride);
            // Contiguous steps: whole blocks of them through register transposes.
            let transposed = if depth_stride == 1 { transposed_steps::<T, W>(base, lane_stride, depth, panel) } else { 0 };
            for (p, step) in panel.chunks_exact_mut(W).enumerate().skip(transposed) {
                let at = base.add(p * depth_stride);
                for (l, v) in step.iter_mut().enumerate() {
                    *v = *at.add(l * lane_stride);
                }
            }
        }
    }
    // The last, partial panel: zeros past the matrix's edge.
    let (first, width) = (full * W, lanes % W);
    let base = src.add(first * lane_stride);
    for (p, step) in partial.chunks_exact_mut(W).enumerate() {
        let at = base.add(p * depth_stride);
        for (l, v) in step.iter_mut().enumerate() {
            *v = if l < width { *at.add(l * lane_stride) } else { T::zero() };
        }
    }
}

/// Packs `full` panels from a source whose lanes are contiguous with 64-byte
/// vector copies, where the CPU and the panel width allow; returns whether it did.
#[allow(unused_variables)]
unsafe fn rows_avx512<T: Copy, const W: usize>(src: *const T, depth_stride: usize, full: usize, depth: usize, out: &mut [T]) -> bool {
    let size = std::mem::size_of::<T>();
    #[cfg(target_arch = "x86_64")]
    if (W * size).is_multiple_of(64) && super::pack_avx512::available() {
        super::pack_avx512::panels_from_rows(src.cast(), depth_stride * size, W * size, full, depth, out.as_mut_ptr().cast());
        return true;
    }
    false
}

/// Packs the first steps of a full panel whose steps are contiguous with
/// register transposes, where the CPU and the element size allow; returns how
/// many steps it packed (a multiple of the transpose's block, or 0).
#[allow(unused_variables)]
unsafe fn transposed_steps<T: Copy, const W: usize>(src: *const T, lane_stride: usize, depth: usize, panel: &mut [T]) -> usize {
    #[cfg(target_arch = "x86_64")]
    if W.is_multiple_of(8) && super::pack_avx512::available() {
        let out = panel.as_mut_ptr();
        match std::mem::size_of::<T>() {
            4 => {
                super::pack_avx512::panel_4byte(src.cast(), lane_stride, W, depth, out.cast());
                return depth / 16 * 16;
            }
            8 => {
                super::pack_avx512::panel_8byte(src.cast(), lane_stride, W, depth, out.cast());
                return depth / 8 * 8;
            }
            _ => {}
        }
    }
    0
}
