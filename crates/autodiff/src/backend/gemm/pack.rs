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
/// whichever order is contiguous: step by step when lanes are adjacent (a
/// row-major `B`, a transposed `A`), lane by lane otherwise, so a transposed
/// operand costs no more to pack than a plain one.
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
    let panels = lanes.div_ceil(width);
    let out = &mut out[..panels * depth * width];
    let tail = lanes % width;
    if tail != 0 {
        out[(panels - 1) * depth * width..].fill(T::zero());
    }
    if lane_stride == 1 {
        for p in 0..depth {
            let step = std::slice::from_raw_parts(src.add(p * depth_stride), lanes);
            for (q, chunk) in step.chunks(width).enumerate() {
                // An element loop, not a memcpy call per few values.
                for (o, &v) in out[(q * depth + p) * width..].iter_mut().zip(chunk) {
                    *o = v;
                }
            }
        }
    } else {
        // A few steps of every lane at a time: the panel rows they fill stay
        // in L1 while each lane's run of steps is read along its cache lines.
        const STEPS: usize = 16;
        for p0 in (0..depth).step_by(STEPS) {
            let steps = STEPS.min(depth - p0);
            for l in 0..lanes {
                let lane = src.add(l * lane_stride + p0 * depth_stride);
                let panel = &mut out[(l / width) * depth * width + p0 * width..][..steps * width];
                let offset = l % width;
                for p in 0..steps {
                    *panel.get_unchecked_mut(p * width + offset) = *lane.add(p * depth_stride);
                }
            }
        }
    }
}
