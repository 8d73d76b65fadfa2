//! Packing: copies a block of an operand into the order the microkernel reads
//! it, so that every kernel load is contiguous whatever the operand's layout.
//! This is where the four transposes are handled: a transposed operand is only
//! a different pair of strides here.
//!
//! A panel is `width` lanes (rows of `A`, or columns of `B`) by `depth` steps
//! along `k`, stored step-major: `out[p·width + l] = src[l·lane_stride + p·depth_stride]`.
//! Lanes past `lanes` are zero, so an edge tile computes zeros there.

/// Packs one panel into `out[..depth·width]`.
///
/// # Safety
/// `src[l·lane_stride + p·depth_stride]` must be readable for every
/// `l < lanes`, `p < depth`; `lanes ≤ width`.
pub unsafe fn pack_panel<T: Copy + num_traits::Zero>(
    src: *const T,
    lane_stride: usize,
    depth_stride: usize,
    lanes: usize,
    width: usize,
    depth: usize,
    out: &mut [T],
) {
    debug_assert!(lanes <= width && out.len() >= depth * width);
    let out = &mut out[..depth * width];
    if lanes < width {
        out.fill(T::zero());
    }
    if lane_stride == 1 && lanes > 0 {
        // Each step's lanes are contiguous: one copy per step.
        for (p, step) in out.chunks_exact_mut(width).enumerate() {
            step[..lanes].copy_from_slice(std::slice::from_raw_parts(src.add(p * depth_stride), lanes));
        }
    } else {
        // Walk each lane along its own (often contiguous) run of steps.
        for l in 0..lanes {
            let lane = src.add(l * lane_stride);
            for p in 0..depth {
                *out.get_unchecked_mut(p * width + l) = *lane.add(p * depth_stride);
            }
        }
    }
}
