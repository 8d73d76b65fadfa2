// Counter-based standard normals: the kernels behind `BackendStorage::normal`.
// Value i of stream `seed` is a pure function of (seed, i), the same function
// as crates/autodiff/src/backend/counter_rng.rs, so the GPU makes the same
// noise as the CPU without a copy. Named normal_<dtype>.
//
// Self-contained (no #include): compiled at run time by NVRTC.

typedef unsigned long long u64;

#define GRID_STRIDE(i, n) \
    for (u64 i = (u64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (u64)gridDim.x * blockDim.x)

// SplitMix64's finaliser.
__device__ __forceinline__ u64 mix(u64 z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// Box–Muller on the two 32-bit halves of hash j, in f64 as on the CPU:
// values 2j and 2j + 1 are r·cos θ and r·sin θ.
__device__ __forceinline__ void normal_pair(u64 key, u64 j, double* c, double* s) {
    const u64 h = mix(key + (j + 1) * 0x9E3779B97F4A7C15ull);
    const double u1 = ((double)(h >> 32) + 1.0) * (1.0 / 4294967296.0);
    const double u2 = (double)(h & 0xFFFFFFFFull) * (1.0 / 4294967296.0);
    const double r = sqrt(-2.0 * log(u1));
    double sn, cs;
    sincos(6.283185307179586 * u2, &sn, &cs);
    *c = r * cs;
    *s = r * sn;
}

// One thread per pair; `key` is mix(seed), computed once on the host.
template <typename T>
__device__ __forceinline__ void normal(T* __restrict__ y, u64 n, u64 key) {
    GRID_STRIDE(j, (n + 1) / 2) {
        double c, s;
        normal_pair(key, j, &c, &s);
        y[2 * j] = (T)c;
        if (2 * j + 1 < n) y[2 * j + 1] = (T)s;
    }
}

extern "C" __global__ void normal_f32(float* __restrict__ y, u64 n, u64 key) { normal(y, n, key); }
extern "C" __global__ void normal_f64(double* __restrict__ y, u64 n, u64 key) { normal(y, n, key); }
