// Data movement: the kernels behind `BackendStorage::transpose`, `slice_axis`,
// `pad_axis`, `gather_rows`, `scatter_add_rows` and `one_hot`. Named <op>_<f32|f64>.
//
// Every kernel writes every output element (zeros included), so an output
// poisoned with NaN before the launch shows any element a kernel missed.
// scatter_add_rows adds without atomics: the host inverts the index list into
// CSR form (for each output row, the source rows in ascending order), so each
// output element is one thread's sum, in the CPU backend's order.
//
// Self-contained (no #include): compiled at run time by NVRTC.

typedef unsigned long long u64;

#define GRID_STRIDE(i, n) \
    for (u64 i = (u64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (u64)gridDim.x * blockDim.x)

// The transpose of a rows×cols matrix through 32×32 shared-memory tiles (one
// padding column: no bank conflicts), so both the reads and the writes are
// coalesced. Block (32, 8); a 1-D grid strides over the tiles.
template <typename T>
__device__ __forceinline__ void transpose(const T* __restrict__ x, T* __restrict__ y, u64 rows, u64 cols) {
    __shared__ T tile[32][33];
    const u64 tiles_c = (cols + 31) / 32, tiles = ((rows + 31) / 32) * tiles_c;
    for (u64 t = blockIdx.x; t < tiles; t += gridDim.x) {
        const u64 r0 = (t / tiles_c) * 32, c0 = (t % tiles_c) * 32;
        for (int j = threadIdx.y; j < 32; j += 8) {
            const u64 r = r0 + j, c = c0 + threadIdx.x;
            if (r < rows && c < cols) tile[j][threadIdx.x] = x[r * cols + c];
        }
        __syncthreads();
        for (int j = threadIdx.y; j < 32; j += 8) {
            const u64 c = c0 + j, r = r0 + threadIdx.x;  // y is cols×rows
            if (r < rows && c < cols) y[c * rows + r] = tile[threadIdx.x][j];
        }
        __syncthreads();
    }
}

// y = x viewed as [outer, n, inner], entries [start, start + len) of the middle axis.
template <typename T>
__device__ __forceinline__ void slice_axis(const T* __restrict__ x, T* __restrict__ y, u64 outer, u64 n, u64 inner,
                                           u64 start, u64 len) {
    const u64 block = len * inner;
    GRID_STRIDE(i, outer * block) {
        const u64 o = i / block, rest = i % block;
        y[i] = x[(o * n + start) * inner + rest];
    }
}

// y = [outer, n, inner] zeros with x ([outer, len, inner]) placed at `start`.
template <typename T>
__device__ __forceinline__ void pad_axis(const T* __restrict__ x, T* __restrict__ y, u64 outer, u64 len, u64 inner,
                                         u64 start, u64 n) {
    const u64 block = n * inner;
    GRID_STRIDE(i, outer * block) {
        const u64 o = i / block, rest = i % block, a = rest / inner;
        y[i] = (a >= start && a < start + len) ? x[o * len * inner + rest - start * inner] : T(0);
    }
}

// y[r] = x[indices[r]], rows of `inner` elements.
template <typename T>
__device__ __forceinline__ void gather_rows(const T* __restrict__ x, T* __restrict__ y, const unsigned* __restrict__ indices,
                                            u64 rows_out, u64 inner) {
    GRID_STRIDE(i, rows_out * inner) {
        const u64 r = i / inner, c = i % inner;
        y[i] = x[(u64)indices[r] * inner + c];
    }
}

// y[r] = Σ x[s] over the source rows s of output row r. `csr` holds rows + 1
// offsets, then the source rows: those of row r are csr[rows + 1 + csr[r] ..
// rows + 1 + csr[r + 1]], ascending.
template <typename T>
__device__ __forceinline__ void scatter_add_rows(const T* __restrict__ x, T* __restrict__ y, const unsigned* __restrict__ csr,
                                                 u64 rows, u64 inner) {
    const unsigned* sources = csr + rows + 1;
    GRID_STRIDE(i, rows * inner) {
        const u64 r = i / inner, c = i % inner;
        T acc = T(0);
        for (unsigned s = csr[r]; s < csr[r + 1]; ++s) acc += x[(u64)sources[s] * inner + c];
        y[i] = acc;
    }
}

// y = rows×cols zeros with a 1 at (r, hot[r]).
template <typename T>
__device__ __forceinline__ void one_hot(T* __restrict__ y, const unsigned* __restrict__ hot, u64 rows, u64 cols) {
    GRID_STRIDE(i, rows * cols) {
        const u64 r = i / cols, c = i % cols;
        y[i] = (c == hot[r]) ? T(1) : T(0);
    }
}

#define FOR_DTYPES(M) M(float, f32) M(double, f64)

#define ENTRIES(T, S)                                                                                            \
    extern "C" __global__ void transpose_##S(const T* __restrict__ x, T* __restrict__ y, u64 rows, u64 cols) {   \
        transpose(x, y, rows, cols);                                                                             \
    }                                                                                                            \
    extern "C" __global__ void slice_axis_##S(const T* __restrict__ x, T* __restrict__ y, u64 outer, u64 n,      \
                                              u64 inner, u64 start, u64 len) {                                   \
        slice_axis(x, y, outer, n, inner, start, len);                                                           \
    }                                                                                                            \
    extern "C" __global__ void pad_axis_##S(const T* __restrict__ x, T* __restrict__ y, u64 outer, u64 len,      \
                                            u64 inner, u64 start, u64 n) {                                       \
        pad_axis(x, y, outer, len, inner, start, n);                                                             \
    }                                                                                                            \
    extern "C" __global__ void gather_rows_##S(const T* __restrict__ x, T* __restrict__ y,                       \
                                               const unsigned* __restrict__ indices, u64 rows_out, u64 inner) {  \
        gather_rows(x, y, indices, rows_out, inner);                                                             \
    }                                                                                                            \
    extern "C" __global__ void scatter_add_rows_##S(const T* __restrict__ x, T* __restrict__ y,                  \
                                                    const unsigned* __restrict__ csr, u64 rows, u64 inner) {     \
        scatter_add_rows(x, y, csr, rows, inner);                                                                \
    }                                                                                                            \
    extern "C" __global__ void one_hot_##S(T* __restrict__ y, const unsigned* __restrict__ hot, u64 rows,        \
                                           u64 cols) {                                                           \
        one_hot(y, hot, rows, cols);                                                                             \
    }

FOR_DTYPES(ENTRIES)
