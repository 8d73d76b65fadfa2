// Elementwise maps of two equally shaped buffers: the kernels behind
// `BackendStorage::binary` (broadcasting is a separate op), named
// <add|sub|mul|div|maximum|minimum>_<f32|f64>. 16-byte vector loads in a grid-stride loop,
// as in unary.cu.
//
// Self-contained (no #include): compiled at run time by NVRTC.

typedef unsigned long long u64;

template <typename T> struct Vec16;
template <> struct Vec16<float> { typedef float4 V; static const int L = 4; };
template <> struct Vec16<double> { typedef double2 V; static const int L = 2; };

template <typename T, typename F>
__device__ __forceinline__ void zip_map(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ y, u64 n, F f) {
    typedef typename Vec16<T>::V V;
    const int L = Vec16<T>::L;
    const u64 start = (u64)blockIdx.x * blockDim.x + threadIdx.x, stride = (u64)gridDim.x * blockDim.x;
    const u64 nv = n / L;
    for (u64 i = start; i < nv; i += stride) {
        V va = reinterpret_cast<const V*>(a)[i];
        V vb = reinterpret_cast<const V*>(b)[i];
        T* ea = reinterpret_cast<T*>(&va);
        const T* eb = reinterpret_cast<const T*>(&vb);
#pragma unroll
        for (int j = 0; j < L; ++j) ea[j] = f(ea[j], eb[j]);
        reinterpret_cast<V*>(y)[i] = va;
    }
    for (u64 i = nv * L + start; i < n; i += stride) y[i] = f(a[i], b[i]);
}

template <typename T> struct Add { __device__ T operator()(T a, T b) const { return a + b; } };
template <typename T> struct Sub { __device__ T operator()(T a, T b) const { return a - b; } };
template <typename T> struct Mul { __device__ T operator()(T a, T b) const { return a * b; } };
template <typename T> struct Div { __device__ T operator()(T a, T b) const { return a / b; } };
// NaN in either gives NaN, as on the CPU (fmax/fmin would drop it).
template <typename T> struct Maximum { __device__ T operator()(T a, T b) const { return a > b || a != a ? a : b; } };
template <typename T> struct Minimum { __device__ T operator()(T a, T b) const { return a < b || a != a ? a : b; } };

#define BINARY(name, F)                                                                                   \
    extern "C" __global__ void name##_f32(const float* __restrict__ a, const float* __restrict__ b,       \
                                          float* __restrict__ y, u64 n) {                                 \
        zip_map(a, b, y, n, F<float>());                                                                  \
    }                                                                                                     \
    extern "C" __global__ void name##_f64(const double* __restrict__ a, const double* __restrict__ b,     \
                                          double* __restrict__ y, u64 n) {                                \
        zip_map(a, b, y, n, F<double>());                                                                 \
    }

BINARY(add, Add)
BINARY(sub, Sub)
BINARY(mul, Mul)
BINARY(div, Div)
BINARY(maximum, Maximum)
BINARY(minimum, Minimum)

// `where`, the kernel behind `BackendStorage::select`: y = c ≠ 0 ? a : b (a NaN
// condition is nonzero, as on the CPU).
template <typename T>
__device__ __forceinline__ void select(const T* __restrict__ c, const T* __restrict__ a, const T* __restrict__ b,
                                       T* __restrict__ y, u64 n) {
    for (u64 i = (u64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (u64)gridDim.x * blockDim.x)
        y[i] = c[i] != T(0) ? a[i] : b[i];
}
extern "C" __global__ void where_f32(const float* __restrict__ c, const float* __restrict__ a, const float* __restrict__ b,
                                     float* __restrict__ y, u64 n) {
    select(c, a, b, y, n);
}
extern "C" __global__ void where_f64(const double* __restrict__ c, const double* __restrict__ a,
                                     const double* __restrict__ b, double* __restrict__ y, u64 n) {
    select(c, a, b, y, n);
}
