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

/// Packs a block into `out[..panels·depth·width]`. It reads the source in
/// whichever order keeps its cache lines in use: a whole step at a time when
/// lanes are adjacent (a row-major `B`, a transposed `A`), else a step of every
/// lane of one panel at a time (`width` short streams, each line of which
/// serves the next few steps too), so no layout costs much more to pack. Where
/// a lane's steps are contiguous (a row-major `A`, a transposed `B`) and the CPU
/// has AVX-512, whole blocks of steps go through register transposes instead
/// (`transpose.rs`), the same values in the same places.
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
    let panels = lanes.div_ceil(W);
    for (q, panel) in out[..panels * depth * W].chunks_exact_mut(depth * W).enumerate() {
        let first = q * W;
        let width = W.min(lanes - first);
        let base = src.add(first * lane_stride);
        if width < W {
            // The last, partial panel: zeros past the matrix's edge.
            for (p, step) in panel.chunks_exact_mut(W).enumerate() {
                let at = base.add(p * depth_stride);
                for (l, v) in step.iter_mut().enumerate() {
                    *v = if l < width { *at.add(l * lane_stride) } else { T::zero() };
                }
            }
        } else if lane_stride == 1 {
            for (p, step) in panel.chunks_exact_mut(W).enumerate() {
                step.copy_from_slice(std::slice::from_raw_parts(base.add(p * depth_stride), W));
            }
        } else {
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
}

/// Packs the first steps of a full panel whose steps are contiguous with
/// register transposes, where the CPU and the element size allow; returns how
/// many steps it packed (a multiple of the transpose's block, or 0).
#[allow(unused_variables)]
unsafe fn transposed_steps<T: Copy, const W: usize>(src: *const T, lane_stride: usize, depth: usize, panel: &mut [T]) -> usize {
    #[cfg(target_arch = "x86_64")]
    if W % 8 == 0 && super::transpose::available() {
        let out = panel.as_mut_ptr();
        match std::mem::size_of::<T>() {
            4 => {
                super::transpose::panel_4byte(src.cast(), lane_stride, W, depth, out.cast());
                return depth / 16 * 16;
            }
            8 => {
                super::transpose::panel_8byte(src.cast(), lane_stride, W, depth, out.cast());
                return depth / 8 * 8;
            }
            _ => {}
        }
    }
    0
}
