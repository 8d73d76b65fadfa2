// Counter-based randomness: the kernels behind `BackendStorage::normal` and
// `BackendStorage::sample_rows`.
// Value i of stream `seed` is a pure function of (seed, i), the same function
// as crates/autodiff/src/backend/counter_rng.rs, computed with the same f32
// operations in the same order (IEEE +, −, ×, ÷, sqrt and explicit fmaf; the
// backend compiles this file with --fmad=false so nothing else gets fused), so
// the GPU makes the CPU's noise bit for bit, without a copy. Named normal_<dtype>;
// an f64 tensor gets the f32 values widened.
//
// Self-contained (no #include): compiled at run time by NVRTC.

typedef unsigned long long u64;
typedef unsigned int u32;

#define GRID_STRIDE(i, n) \
    for (u64 i = (u64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (u64)gridDim.x * blockDim.x)

// SplitMix64's finaliser.
__device__ __forceinline__ u64 mix(u64 z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// Hash i of the stream with key `key`: SplitMix64's (i + 1)-th output.
__device__ __forceinline__ u64 hash(u64 key, u64 i) { return mix(key + (i + 1) * 0x9E3779B97F4A7C15ull); }

// ln x for x in (0, 1]: x = m·2^e, m in [√½, √2), ln m = 2·atanh((m − 1)/(m + 1)).
__device__ __forceinline__ float ln01(float x) {
    const u32 bits = __float_as_uint(x);
    int e = (int)((bits >> 23) & 0xFF) - 127;
    float m = __uint_as_float((bits & 0x007FFFFFu) | 0x3F800000u);
    if (m > 1.41421356237309504880f) {
        m *= 0.5f;
        e += 1;
    }
    const float s = (m - 1.0f) / (m + 1.0f);
    const float s2 = s * s;
    float p = fmaf(s2, 1.0f / 9.0f, 1.0f / 7.0f);
    p = fmaf(s2, p, 1.0f / 5.0f);
    p = fmaf(s2, p, 1.0f / 3.0f);
    p = fmaf(s2, p, 1.0f);
    return fmaf((float)e, 0.693147180559945309417f, 2.0f * s * p);
}

// (cos t, sin t) for |t| ≤ π/4 by their Taylor series.
__device__ __forceinline__ void cos_sin(float t, float* c, float* s) {
    const float t2 = t * t;
    float a = fmaf(t2, -1.0f / 3628800.0f, 1.0f / 40320.0f);
    a = fmaf(t2, a, -1.0f / 720.0f);
    a = fmaf(t2, a, 1.0f / 24.0f);
    a = fmaf(t2, a, -0.5f);
    *c = fmaf(t2, a, 1.0f);
    float b = fmaf(t2, 1.0f / 362880.0f, -1.0f / 5040.0f);
    b = fmaf(t2, b, 1.0f / 120.0f);
    b = fmaf(t2, b, -1.0f / 6.0f);
    b = fmaf(t2, b, 1.0f);
    *s = t * b;
}

// Values 2j and 2j + 1: radius from 24 bits of the hash's high half, angle
// from its low half (quadrant, then an offset in (−π/4, π/4)).
__device__ __forceinline__ void normal_pair(u64 key, u64 j, float* z0, float* z1) {
    const u64 h = hash(key, j);
    const u32 hi = (u32)(h >> 32), lo = (u32)h;
    const float u = (float)((hi >> 8) + 1) * (1.0f / 16777216.0f);
    const float r = sqrtf(-2.0f * ln01(u));
    const u32 q = lo >> 30;
    const float f = ((float)((lo >> 6) & 0x00FFFFFFu) + 0.5f) * (1.0f / 16777216.0f);
    float c, s;
    cos_sin((f - 0.5f) * 1.57079632679489661923f, &c, &s);
    float x, y;
    switch (q) {
        case 0: x = c; y = s; break;
        case 1: x = -s; y = c; break;
        case 2: x = -c; y = -s; break;
        default: x = s; y = -c; break;
    }
    *z0 = r * x;
    *z1 = r * y;
}

// One thread per pair; `key` is mix(seed), computed once on the host.
template <typename T>
__device__ __forceinline__ void normal(T* __restrict__ y, u64 n, u64 key) {
    GRID_STRIDE(j, (n + 1) / 2) {
        float a, b;
        normal_pair(key, j, &a, &b);
        y[2 * j] = (T)a;
        if (2 * j + 1 < n) y[2 * j + 1] = (T)b;
    }
}

extern "C" __global__ void normal_f32(float* __restrict__ y, u64 n, u64 key) { normal(y, n, key); }
extern "C" __global__ void normal_f64(double* __restrict__ y, u64 n, u64 key) { normal(y, n, key); }

// Row r of y ([count, inner]) is row uniform_index(r) of x ([rows, inner]):
// the high half of hash r scaled to rows (rows ≤ 2^32), integers only, as
// counter_rng::uniform_index picks it. One thread per element; its row's hash
// is recomputed, a few integer multiplies against a memory-bound copy.
template <typename T>
__device__ __forceinline__ void sample_rows(const T* __restrict__ x, T* __restrict__ y, u64 count, u64 rows, u64 inner,
                                            u64 key) {
    GRID_STRIDE(i, count * inner) {
        const u64 r = i / inner;
        const u64 row = ((hash(key, r) >> 32) * rows) >> 32;
        y[i] = x[row * inner + (i - r * inner)];
    }
}

extern "C" __global__ void sample_rows_f32(const float* __restrict__ x, float* __restrict__ y, u64 count, u64 rows,
                                           u64 inner, u64 key) {
    sample_rows(x, y, count, rows, inner, key);
}
extern "C" __global__ void sample_rows_f64(const double* __restrict__ x, double* __restrict__ y, u64 count, u64 rows,
                                           u64 inner, u64 key) {
    sample_rows(x, y, count, rows, inner, key);
}
