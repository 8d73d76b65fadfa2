// Broadcasting and summation, each the other's adjoint: the kernels behind
// `BackendStorage::broadcast_to` and `BackendStorage::sum_to`; and the
// largest entry along an axis, `BackendStorage::max_axis`.
//
// The host merges adjacent axes of the same kind and drops size-1 axes
// (backend/cuda/layout.rs), so most calls land on a fast path:
//   broadcast_scalar_*  [n]    <- [1]     y[i] = x[0]
//   broadcast_rows_*    [R, C] <- [C]     y[i] = x[i % C]  (a bias row over a batch)
//   broadcast_cols_*    [R, C] <- [R, 1]  y[i] = x[i / C]
//   broadcast_strided_* any other pattern, through a Layout of ≤ 8 merged axes
//   sum_all_*           [n]    -> [1]     block partial sums, then one block
//   sum_cols_*          [R, C] -> [C]     column sums over row chunks, then the chunks
//   sum_rows_*          [R, C] -> [R]     one warp per row
//   sum_strided_*       any other pattern: one thread per output element
//   max_axis_*          [O, N, I] -> [O, I]  one thread per output element
// Every sum adds in an order fixed by the shapes alone (no atomics), so the
// results are deterministic run to run.
//
// Self-contained (no #include): compiled at run time by NVRTC.

typedef unsigned long long u64;

#define MAX_RANK 8
#define GRID_STRIDE(i, n) \
    for (u64 i = (u64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (u64)gridDim.x * blockDim.x)

// Merged axes, outermost first: their sizes, and the stride of each in the
// buffer being read (0 for a broadcast axis). Passed by value.
struct Layout {
    u64 rank;
    u64 dims[MAX_RANK];
    u64 strides[MAX_RANK];
};

// Offset into the read buffer of the i-th element (row-major) of `l`'s index space.
__device__ __forceinline__ u64 offset_of(const Layout& l, u64 i) {
    u64 off = 0;
    for (int a = (int)l.rank - 1; a >= 0; --a) {
        const u64 d = l.dims[a];
        off += (i % d) * l.strides[a];
        i /= d;
    }
    return off;
}

// ---- broadcast ----

template <typename T>
__device__ __forceinline__ void broadcast_scalar(const T* __restrict__ x, T* __restrict__ y, u64 n) {
    const T v = x[0];
    GRID_STRIDE(i, n) y[i] = v;
}
template <typename T>
__device__ __forceinline__ void broadcast_rows(const T* __restrict__ x, T* __restrict__ y, u64 n, u64 c) {
    GRID_STRIDE(i, n) y[i] = x[i % c];
}
template <typename T>
__device__ __forceinline__ void broadcast_cols(const T* __restrict__ x, T* __restrict__ y, u64 n, u64 c) {
    GRID_STRIDE(i, n) y[i] = x[i / c];
}
template <typename T>
__device__ __forceinline__ void broadcast_strided(const T* __restrict__ x, T* __restrict__ y, u64 n, Layout l) {
    GRID_STRIDE(i, n) y[i] = x[offset_of(l, i)];
}

// ---- sums ----

// The sum over a block of 256 threads, valid in thread 0.
template <typename T>
__device__ __forceinline__ T block_sum(T v) {
    __shared__ T warp_sums[8];
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    if (lane == 0) warp_sums[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = lane < 8 ? warp_sums[lane] : T(0);
#pragma unroll
        for (int o = 4; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    }
    return v;
}

// partial[block] = the sum of this block's grid-stride share of x (blockDim = 256).
template <typename T>
__device__ __forceinline__ void sum_all(const T* __restrict__ x, T* __restrict__ partial, u64 n) {
    T acc = T(0);
    GRID_STRIDE(i, n) acc += x[i];
    acc = block_sum(acc);
    if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

// Column sums of an R×C matrix over chunks of `rows_per_chunk` rows:
// partial[chunk·C + c] = Σ_{r in chunk} x[r·C + c]. Block (32, 8): threadIdx.x
// walks 32 consecutive columns (coalesced), threadIdx.y strides the chunk's rows;
// grid (ceil(C/32), chunks).
template <typename T>
__device__ __forceinline__ void sum_cols(const T* __restrict__ x, T* __restrict__ partial, u64 r, u64 c, u64 rows_per_chunk) {
    __shared__ T sums[8][33];
    const u64 col = (u64)blockIdx.x * 32 + threadIdx.x;
    const u64 r0 = (u64)blockIdx.y * rows_per_chunk;
    const u64 r1 = min(r, r0 + rows_per_chunk);
    T acc = T(0);
    if (col < c)
        for (u64 row = r0 + threadIdx.y; row < r1; row += 8) acc += x[row * c + col];
    sums[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.y == 0 && col < c) {
        T s = sums[0][threadIdx.x];
#pragma unroll
        for (int k = 1; k < 8; ++k) s += sums[k][threadIdx.x];
        partial[(u64)blockIdx.y * c + col] = s;
    }
}

// Row sums of an R×C matrix: one warp per row, 8 rows per block of 256.
template <typename T>
__device__ __forceinline__ void sum_rows(const T* __restrict__ x, T* __restrict__ y, u64 r, u64 c) {
    const int lane = threadIdx.x % 32;
    const u64 warps = (u64)gridDim.x * 8;
    for (u64 row = (u64)blockIdx.x * 8 + threadIdx.x / 32; row < r; row += warps) {
        T acc = T(0);
        for (u64 k = lane; k < c; k += 32) acc += x[row * c + k];
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) acc += __shfl_down_sync(0xffffffffu, acc, o);
        if (lane == 0) y[row] = acc;
    }
}

// The general case: output element o sums, over the reduced index space, the
// elements at offset_of(kept, o) + offset_of(reduced, j).
template <typename T>
__device__ __forceinline__ void sum_strided(const T* __restrict__ x, T* __restrict__ y, u64 n_out, Layout kept,
                                            Layout reduced, u64 n_reduced) {
    GRID_STRIDE(o, n_out) {
        const u64 base = offset_of(kept, o);
        T acc = T(0);
        for (u64 j = 0; j < n_reduced; ++j) acc += x[base + offset_of(reduced, j)];
        y[o] = acc;
    }
}

// ---- max ----

// y[o·I + i] = max_k x[(o·N + k)·I + i]; NaN if any of them is NaN (as the
// CPU's loop: a plain `>` would skip it). Neighbouring threads read
// neighbouring i, so the reads coalesce when I > 1.
template <typename T>
__device__ __forceinline__ void max_axis(const T* __restrict__ x, T* __restrict__ y, u64 outer, u64 n, u64 inner) {
    GRID_STRIDE(j, outer * inner) {
        const u64 o = j / inner, i = j % inner;
        const T* col = x + o * n * inner + i;
        T best = col[0];
        for (u64 k = 1; k < n; ++k) {
            const T v = col[k * inner];
            if (v > best || v != v) best = v;
        }
        y[j] = best;
    }
}

#define FOR_DTYPES(M) M(float, f32) M(double, f64)

#define ENTRIES(T, S)                                                                                          \
    extern "C" __global__ void broadcast_scalar_##S(const T* __restrict__ x, T* __restrict__ y, u64 n) {       \
        broadcast_scalar(x, y, n);                                                                             \
    }                                                                                                          \
    extern "C" __global__ void broadcast_rows_##S(const T* __restrict__ x, T* __restrict__ y, u64 n, u64 c) {  \
        broadcast_rows(x, y, n, c);                                                                            \
    }                                                                                                          \
    extern "C" __global__ void broadcast_cols_##S(const T* __restrict__ x, T* __restrict__ y, u64 n, u64 c) {  \
        broadcast_cols(x, y, n, c);                                                                            \
    }                                                                                                          \
    extern "C" __global__ void broadcast_strided_##S(const T* __restrict__ x, T* __restrict__ y, u64 n,        \
                                                     Layout l) {                                               \
        broadcast_strided(x, y, n, l);                                                                         \
    }                                                                                                          \
    extern "C" __global__ void __launch_bounds__(256) sum_all_##S(const T* __restrict__ x,                     \
                                                                  T* __restrict__ partial, u64 n) {            \
        sum_all(x, partial, n);                                                                                \
    }                                                                                                          \
    extern "C" __global__ void __launch_bounds__(256) sum_cols_##S(const T* __restrict__ x,                    \
                                                                   T* __restrict__ partial, u64 r, u64 c,      \
                                                                   u64 rows_per_chunk) {                       \
        sum_cols(x, partial, r, c, rows_per_chunk);                                                            \
    }                                                                                                          \
    extern "C" __global__ void __launch_bounds__(256) sum_rows_##S(const T* __restrict__ x, T* __restrict__ y, \
                                                                   u64 r, u64 c) {                             \
        sum_rows(x, y, r, c);                                                                                  \
    }                                                                                                          \
    extern "C" __global__ void sum_strided_##S(const T* __restrict__ x, T* __restrict__ y, u64 n_out,          \
                                               Layout kept, Layout reduced, u64 n_reduced) {                   \
        sum_strided(x, y, n_out, kept, reduced, n_reduced);                                                    \
    }                                                                                                          \
    extern "C" __global__ void max_axis_##S(const T* __restrict__ x, T* __restrict__ y, u64 outer, u64 n,     \
                                            u64 inner) {                                                       \
        max_axis(x, y, outer, n, inner);                                                                       \
    }

FOR_DTYPES(ENTRIES)
