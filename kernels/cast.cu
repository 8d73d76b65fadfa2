// Dtype conversion and fills: the kernels behind `BackendStorage::to_dtype`
// and `BackendStorage::full`. Named cast_<from>_to_<to> and fill_<dtype>.
//
// Self-contained (no #include): compiled at run time by NVRTC.

typedef unsigned long long u64;

#define GRID_STRIDE(i, n) \
    for (u64 i = (u64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (u64)gridDim.x * blockDim.x)

// f32 -> f64 is exact; f64 -> f32 rounds to nearest, as Rust's `as f32`.
extern "C" __global__ void cast_f32_to_f64(const float* __restrict__ x, double* __restrict__ y, u64 n) {
    GRID_STRIDE(i, n) y[i] = (double)x[i];
}
extern "C" __global__ void cast_f64_to_f32(const double* __restrict__ x, float* __restrict__ y, u64 n) {
    GRID_STRIDE(i, n) y[i] = (float)x[i];
}

extern "C" __global__ void fill_f32(float* __restrict__ y, u64 n, float value) {
    GRID_STRIDE(i, n) y[i] = value;
}
extern "C" __global__ void fill_f64(double* __restrict__ y, u64 n, double value) {
    GRID_STRIDE(i, n) y[i] = value;
}
