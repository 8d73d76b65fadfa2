// Adam's update in one pass: the kernel behind `BackendStorage::adam_update`
// on the GPU (a dozen elementwise launches per tensor otherwise). The same
// arithmetic, in the same order, as adam_fn in crates/autodiff/src/backend/cpu.rs:
//   m' = β₁m + (1−β₁)g;  v' = β₂v + (1−β₂)g²;  p' = p − (lr/c₁)·m' / (√(v'/c₂) + ε)
// with c₁ = 1 − β₁ᵗ and c₂ = 1 − β₂ᵗ. Named adam_<dtype>.
//
// Self-contained (no #include): compiled at run time by NVRTC.

typedef unsigned long long u64;

#define GRID_STRIDE(i, n) \
    for (u64 i = (u64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (u64)gridDim.x * blockDim.x)

template <typename T>
__device__ __forceinline__ void adam(const T* __restrict__ p, const T* __restrict__ g, const T* __restrict__ m,
                                     const T* __restrict__ v, T* __restrict__ po, T* __restrict__ mo,
                                     T* __restrict__ vo, u64 n, T b1, T b2, T nb1, T nb2, T step, T inv_c2, T eps) {
    GRID_STRIDE(i, n) {
        const T gi = g[i];
        const T mi = b1 * m[i] + nb1 * gi;
        const T vi = b2 * v[i] + nb2 * gi * gi;
        mo[i] = mi;
        vo[i] = vi;
        po[i] = p[i] - step * mi / (sqrt(vi * inv_c2) + eps);
    }
}

#define ADAM(T, S)                                                                                          \
    extern "C" __global__ void adam_##S(const T* p, const T* g, const T* m, const T* v, T* po, T* mo, T* vo, \
                                        u64 n, T b1, T b2, T nb1, T nb2, T step, T inv_c2, T eps) {          \
        adam<T>(p, g, m, v, po, mo, vo, n, b1, b2, nb1, nb2, step, inv_c2, eps);                          \
    }
ADAM(float, f32)
ADAM(double, f64)
