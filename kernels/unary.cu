// Elementwise maps y = f(x): the kernels behind `BackendStorage::unary`, one
// per `Unary` variant and dtype, named <op>_<f32|f64>.
//
// The formulas are the CPU backend's (backend/cpu.rs), so both devices compute
// the same function: sigmoid through e^-|x| (no overflow for either sign),
// softplus as max(x, 0) + log1p(e^-|x|), step as (x > 0), relu and step
// passing NaN through, powi by binary exponentiation (as LLVM's powi), affine
// as mul·x + add.
//
// Memory-bound: each thread moves 16-byte vectors (float4 / double2) in a
// grid-stride loop; a scalar tail handles n not divisible by the vector width.
// Buffers are whole allocations, so they are 16-byte aligned.
//
// Self-contained (no #include): compiled at run time by NVRTC.

typedef unsigned long long u64;

// Overloads by dtype, spelled out so nothing depends on <cmath>'s overloads.
__device__ __forceinline__ float d_exp(float x) { return expf(x); }
__device__ __forceinline__ double d_exp(double x) { return exp(x); }
__device__ __forceinline__ float d_log(float x) { return logf(x); }
__device__ __forceinline__ double d_log(double x) { return log(x); }
__device__ __forceinline__ float d_log1p(float x) { return log1pf(x); }
__device__ __forceinline__ double d_log1p(double x) { return log1p(x); }
__device__ __forceinline__ float d_tanh(float x) { return tanhf(x); }
__device__ __forceinline__ double d_tanh(double x) { return tanh(x); }
__device__ __forceinline__ float d_sqrt(float x) { return sqrtf(x); }
__device__ __forceinline__ double d_sqrt(double x) { return sqrt(x); }
__device__ __forceinline__ float d_abs(float x) { return fabsf(x); }
__device__ __forceinline__ double d_abs(double x) { return fabs(x); }
// fmax returns the other operand when one is NaN, like Rust's f32::max.
__device__ __forceinline__ float d_max(float a, float b) { return fmaxf(a, b); }
__device__ __forceinline__ double d_max(double a, double b) { return fmax(a, b); }

// The 16-byte vector of each dtype.
template <typename T> struct Vec16;
template <> struct Vec16<float> { typedef float4 V; static const int L = 4; };
template <> struct Vec16<double> { typedef double2 V; static const int L = 2; };

template <typename T, typename F>
__device__ __forceinline__ void map(const T* __restrict__ x, T* __restrict__ y, u64 n, F f) {
    typedef typename Vec16<T>::V V;
    const int L = Vec16<T>::L;
    const u64 start = (u64)blockIdx.x * blockDim.x + threadIdx.x, stride = (u64)gridDim.x * blockDim.x;
    const u64 nv = n / L;
    const V* xv = reinterpret_cast<const V*>(x);
    V* yv = reinterpret_cast<V*>(y);
    for (u64 i = start; i < nv; i += stride) {
        V v = xv[i];
        T* e = reinterpret_cast<T*>(&v);
#pragma unroll
        for (int j = 0; j < L; ++j) e[j] = f(e[j]);
        yv[i] = v;
    }
    for (u64 i = nv * L + start; i < n; i += stride) y[i] = f(x[i]);
}

template <typename T> struct Neg { __device__ T operator()(T x) const { return -x; } };
template <typename T> struct Exp { __device__ T operator()(T x) const { return d_exp(x); } };
template <typename T> struct Log { __device__ T operator()(T x) const { return d_log(x); } };
template <typename T> struct Sigmoid {
    __device__ T operator()(T x) const {
        // Never exponentiate a large positive number: e^-|x| is at most 1.
        const T e = d_exp(-d_abs(x));
        const T r = T(1) / (T(1) + e);
        return x >= T(0) ? r : e * r;
    }
};
template <typename T> struct Tanh { __device__ T operator()(T x) const { return d_tanh(x); } };
template <typename T> struct Softplus {
    __device__ T operator()(T x) const { return d_max(x, T(0)) + d_log1p(d_exp(-d_abs(x))); }
};
template <typename T> struct Silu { __device__ T operator()(T x) const { return x * Sigmoid<T>()(x); } };
template <typename T> struct SiluDerivative {
    __device__ T operator()(T x) const {
        const T s = Sigmoid<T>()(x);
        return s * (T(1) + x * (T(1) - s));
    }
};
template <typename T> struct SiluSecondDerivative {
    __device__ T operator()(T x) const {
        const T s = Sigmoid<T>()(x);
        return s * (T(1) - s) * (T(2) + x * (T(1) - T(2) * s));
    }
};
// NaN in, NaN out (IEEE, PyTorch), as on the CPU: fmax(x, 0) would turn NaN into 0.
template <typename T> struct Relu { __device__ T operator()(T x) const { return x <= T(0) ? T(0) : x; } };
template <typename T> struct Step {
    __device__ T operator()(T x) const { return x > T(0) ? T(1) : x <= T(0) ? T(0) : x; }
};
template <typename T> struct Powi {
    int n;
    __device__ T operator()(T x) const {
        // Binary exponentiation, then the reciprocal for a negative exponent.
        unsigned e = n < 0 ? (unsigned)(-(long long)n) : (unsigned)n;
        T r = T(1), b = x;
        while (true) {
            if (e & 1u) r *= b;
            e >>= 1;
            if (e == 0) break;
            b *= b;
        }
        return n < 0 ? T(1) / r : r;
    }
};
// Correctly rounded (NVRTC's default --prec-sqrt=true), as Rust's sqrt.
template <typename T> struct Sqrt { __device__ T operator()(T x) const { return d_sqrt(x); } };
template <typename T> struct Affine {
    T mul, add;
    __device__ T operator()(T x) const { return x * mul + add; }
};

// Every kernel takes the same arguments, (x, y, n, a, b): `a` and `b` are
// `Unary::params` on the host (an exponent, an affine map's mul and add; 0
// where the op has none), so the backend launches them all with one line.
// The functor is an expression of T, a and b.
// Comparisons with NaN are false: NaN passes through, as on the CPU.
template <typename T> struct Clamp {
    T lo, hi;
    __device__ T operator()(T x) const { return x < lo ? lo : x > hi ? hi : x; }
};

#define UNARY(name, ...)                                                                                 \
    extern "C" __global__ void name##_f32(const float* __restrict__ x, float* __restrict__ y, u64 n,      \
                                          double a, double b) {                                         \
        typedef float T;                                                                                 \
        map(x, y, n, __VA_ARGS__);                                                                       \
    }                                                                                                    \
    extern "C" __global__ void name##_f64(const double* __restrict__ x, double* __restrict__ y, u64 n,    \
                                          double a, double b) {                                         \
        typedef double T;                                                                                \
        map(x, y, n, __VA_ARGS__);                                                                       \
    }

UNARY(neg, Neg<T>())
UNARY(exp, Exp<T>())
UNARY(log, Log<T>())
UNARY(sigmoid, Sigmoid<T>())
UNARY(tanh, Tanh<T>())
UNARY(softplus, Softplus<T>())
UNARY(silu, Silu<T>())
UNARY(silu_derivative, SiluDerivative<T>())
UNARY(silu_second_derivative, SiluSecondDerivative<T>())
UNARY(relu, Relu<T>())
UNARY(step, Step<T>())
UNARY(powi, Powi<T>{(int)a})
UNARY(sqrt, Sqrt<T>())
UNARY(affine, Affine<T>{(T)a, (T)b})
UNARY(clamp, Clamp<T>{(T)a, (T)b})
