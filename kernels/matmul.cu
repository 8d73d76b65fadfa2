// Matrix products C = op(A) · op(B) for row-major matrices, op = transpose
// where flagged: the kernels behind `BackendStorage::matmul`.
//
// A hand-written tiled GEMM (no cuBLAS), in the classic shape:
// - each block of 256 threads computes a BM×BN tile of C, walking K in slices
//   of BK; each slice of op(A) and op(B) is staged through shared memory,
//   double-buffered, so the loads of slice t+1 are in flight while slice t is
//   multiplied;
// - register blocking: each thread owns a TM×TN micro-tile of C (8×8 in the
//   big kernel, 4×4 in the small one), so every value read from shared memory
//   feeds TM or TN fused multiply-adds; in the big kernel each warp's threads
//   cover a 64×32 sub-tile (see Owner below);
// - 16-byte vector loads where the layout allows (the caller passes `vec_*`
//   when the contiguous dimension is a multiple of 4, so every vector is
//   aligned), scalar loads with bounds checks otherwise and at the edges:
//   any M, N, K works, and out-of-range elements are staged as zeros;
// - split-K: blockIdx.z takes the k range [z·k_chunk, (z+1)·k_chunk) and
//   writes its partial product to C + z·M·N; `splitk_reduce_*` then adds the
//   partials in a fixed order (deterministic). With gridDim.z = 1, C is the output.
//
// Symbols: matmul_<big|small>_<nn|nt|tn|tt>_<f32|f64>, the letters saying
// whether A and B are transposed; splitk_reduce_<f32|f64>.
//
// Self-contained (no #include): compiled at run time by NVRTC.

typedef unsigned long long u64;

#define THREADS 256

// ---- 4-element vector loads and stores (16 bytes for f32, 2×16 for f64) ----

__device__ __forceinline__ void ld4(const float* p, float* r) {
    float4 v = *reinterpret_cast<const float4*>(p);
    r[0] = v.x; r[1] = v.y; r[2] = v.z; r[3] = v.w;
}
__device__ __forceinline__ void ld4(const double* p, double* r) {
    double2 a = reinterpret_cast<const double2*>(p)[0];
    double2 b = reinterpret_cast<const double2*>(p)[1];
    r[0] = a.x; r[1] = a.y; r[2] = b.x; r[3] = b.y;
}
__device__ __forceinline__ void st4(float* p, const float* r) {
    *reinterpret_cast<float4*>(p) = make_float4(r[0], r[1], r[2], r[3]);
}
__device__ __forceinline__ void st4(double* p, const double* r) {
    reinterpret_cast<double2*>(p)[0] = make_double2(r[0], r[1]);
    reinterpret_cast<double2*>(p)[1] = make_double2(r[2], r[3]);
}

// ---- One BK-deep slice of an operand, staged global -> registers -> shared ----
//
// The operand is op(A) (X = M) or op(B) (X = N), seen as a K×X matrix whose
// slice [k0, k0+BK) × [x0, x0+BX) is wanted in shared memory as S[k][x].
// K_CONTIG: the operand is stored X×K (k contiguous: A untransposed, or B
// transposed); otherwise it is stored K×X (x contiguous). Each thread moves
// PER_THREAD vectors of 4 consecutive elements along the contiguous dimension.
template <typename T, int BX, int BK, bool K_CONTIG>
struct Slice {
    static const int VECS = BX * BK / 4;
    static const int PER_THREAD = (VECS + THREADS - 1) / THREADS;
    T r[PER_THREAD][4];

    __device__ __forceinline__ void load(const T* __restrict__ P, int X, int K, int x0, int k0, int k_end, bool vec) {
#pragma unroll
        for (int p = 0; p < PER_THREAD; ++p) {
            const int v = threadIdx.x + p * THREADS;
            if (v < VECS) {
                if (K_CONTIG) {
                    const int x = x0 + v / (BK / 4), k = k0 + (v % (BK / 4)) * 4;
                    const T* src = P + (u64)x * K + k;
                    if (vec && x < X && k + 3 < k_end) {
                        ld4(src, r[p]);
                    } else {
#pragma unroll
                        for (int j = 0; j < 4; ++j) r[p][j] = (x < X && k + j < k_end) ? src[j] : T(0);
                    }
                } else {
                    const int k = k0 + v / (BX / 4), x = x0 + (v % (BX / 4)) * 4;
                    const T* src = P + (u64)k * X + x;
                    if (vec && k < k_end && x + 3 < X) {
                        ld4(src, r[p]);
                    } else {
#pragma unroll
                        for (int j = 0; j < 4; ++j) r[p][j] = (k < k_end && x + j < X) ? src[j] : T(0);
                    }
                }
            }
        }
    }

    // S is one buffer of [BK][BX + 4]: the padding keeps the transposing
    // stores below free of bank conflicts and rows 16-byte aligned.
    __device__ __forceinline__ void store(T (*S)[BX + 4]) const {
#pragma unroll
        for (int p = 0; p < PER_THREAD; ++p) {
            const int v = threadIdx.x + p * THREADS;
            if (v < VECS) {
                if (K_CONTIG) {
                    const int x = v / (BK / 4), k = (v % (BK / 4)) * 4;
#pragma unroll
                    for (int j = 0; j < 4; ++j) S[k + j][x] = r[p][j];
                } else {
                    const int k = v / (BX / 4), x = (v % (BX / 4)) * 4;
                    st4(&S[k][x], r[p]);
                }
            }
        }
    }
};

// ---- Which part of the block's tile a thread owns ----
//
// Every thread owns TM/4 × TN/4 quads of 4×4 outputs; its shared-memory reads
// are 16-byte vectors. Two layouts of the quads:
// - GRID: the 256 threads as a 16×16 grid (tx, ty), thread (tx, ty) owning
//   rows h·64 + ty·4 and columns g·64 + tx·4: a warp spans 16 rows × 128 columns.
// - WARP (128×128 tiles only): each warp owns a 64×32 sub-tile, its lanes an
//   8×4 grid in it: a warp's reads of A are 8 consecutive vectors and of B 4,
//   one shared-memory wavefront each, and its sub-tile is nearly square.
enum { GRID = 0, WARP = 1 };

template <int MAP>
struct Owner {
    int r, c; // row and column offsets of the thread's first quad
    __device__ __forceinline__ Owner() {
        if (MAP == GRID) {
            r = (threadIdx.x / 16) * 4;
            c = (threadIdx.x % 16) * 4;
        } else {
            const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
            r = (warp / 4) * 64 + (lane / 4) * 4;
            c = (warp % 4) * 32 + (lane % 4) * 4;
        }
    }
    // Offsets of quad h (rows) and g (columns).
    __device__ __forceinline__ int row(int h) const { return r + h * (MAP == GRID ? 64 : 32); }
    __device__ __forceinline__ int col(int g) const { return c + g * (MAP == GRID ? 64 : 16); }
};

// ---- The tile kernel ----
template <typename T, int BM, int BN, int BK, bool TA, bool TB, int MAP>
__device__ __forceinline__ void gemm_tile(const T* __restrict__ A, const T* __restrict__ B, T* __restrict__ C,
                                          int M, int N, int K, int k_chunk, int vec_a, int vec_b, int vec_c) {
    const int TM = BM / 16, TN = BN / 16;
    __shared__ __align__(16) T As[2][BK][BM + 4];
    __shared__ __align__(16) T Bs[2][BK][BN + 4];

    const Owner<MAP> own;
    const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
    const int k_begin = blockIdx.z * k_chunk;
    const int k_end = min(K, k_begin + k_chunk);
    const int tiles = k_end > k_begin ? (k_end - k_begin + BK - 1) / BK : 0;

    Slice<T, BM, BK, !TA> sa;
    Slice<T, BN, BK, TB> sb;

    T acc[TM][TN];
#pragma unroll
    for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = T(0);

    sa.load(A, M, K, m0, k_begin, k_end, vec_a);
    sb.load(B, N, K, n0, k_begin, k_end, vec_b);
    sa.store(As[0]);
    sb.store(Bs[0]);
    __syncthreads();

    for (int t = 0; t < tiles; ++t) {
        const int cur = t & 1;
        const bool more = t + 1 < tiles;
        if (more) {
            // Issued now, used after the multiply below: the latency hides behind it.
            sa.load(A, M, K, m0, k_begin + (t + 1) * BK, k_end, vec_a);
            sb.load(B, N, K, n0, k_begin + (t + 1) * BK, k_end, vec_b);
        }
#pragma unroll
        for (int kk = 0; kk < BK; ++kk) {
            T a[TM], b[TN];
#pragma unroll
            for (int h = 0; h < TM / 4; ++h) ld4(&As[cur][kk][own.row(h)], &a[h * 4]);
#pragma unroll
            for (int g = 0; g < TN / 4; ++g) ld4(&Bs[cur][kk][own.col(g)], &b[g * 4]);
#pragma unroll
            for (int i = 0; i < TM; ++i)
#pragma unroll
                for (int j = 0; j < TN; ++j) acc[i][j] += a[i] * b[j];
        }
        // The other buffer was last read in iteration t-1, which every thread
        // finished before the barrier that ended it.
        if (more) {
            sa.store(As[cur ^ 1]);
            sb.store(Bs[cur ^ 1]);
        }
        __syncthreads();
    }

    T* Cz = C + (u64)blockIdx.z * M * N;
#pragma unroll
    for (int h = 0; h < TM / 4; ++h) {
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const int m = m0 + own.row(h) + i;
            if (m >= M) continue;
#pragma unroll
            for (int g = 0; g < TN / 4; ++g) {
                const int n = n0 + own.col(g);
                T* dst = Cz + (u64)m * N + n;
                const T* v = &acc[h * 4 + i][g * 4];
                if (vec_c && n + 3 < N) {
                    st4(dst, v);
                } else {
#pragma unroll
                    for (int j = 0; j < 4; ++j)
                        if (n + j < N) dst[j] = v[j];
                }
            }
        }
    }
}

#define GEMM_ENTRY(name, T, BM, BN, BK, TA, TB, MIN_BLOCKS, MAP)                                         \
    extern "C" __global__ void __launch_bounds__(THREADS, MIN_BLOCKS)                                      \
        name(const T* __restrict__ A, const T* __restrict__ B, T* __restrict__ C, int M, int N, int K,    \
             int k_chunk, int vec_a, int vec_b, int vec_c) {                                               \
        gemm_tile<T, BM, BN, BK, TA, TB, MAP>(A, B, C, M, N, K, k_chunk, vec_a, vec_b, vec_c);            \
    }

// Big tiles: 128×128, 8×8 per thread in the WARP layout, BK = 8, for products
// with enough tiles to fill the GPU. On an H100 (benches/gpu-check.sh) this
// ran at 79% of cuBLAS at n = 4096 and 8192, where the GRID layout with
// BK = 16 (`biggrid`, kept for comparison) ran at 70% and 74%; the WARP
// layout alone, or a swizzled block order, gained nothing.
#define BIG(v, BK, MAP)                                                                  \
    GEMM_ENTRY(matmul_##v##_nn_f32, float, 128, 128, BK, false, false, 2, MAP)          \
    GEMM_ENTRY(matmul_##v##_nt_f32, float, 128, 128, BK, false, true, 2, MAP)           \
    GEMM_ENTRY(matmul_##v##_tn_f32, float, 128, 128, BK, true, false, 2, MAP)           \
    GEMM_ENTRY(matmul_##v##_tt_f32, float, 128, 128, BK, true, true, 2, MAP)
BIG(big, 8, WARP)
BIG(biggrid, 16, GRID)
// Small tiles: 64×64, 4×4 per thread, with split-K, for the thin products of
// a small batch (64×784·784×512) that would leave most multiprocessors idle.
#define SMALL(T, S)                                                                       \
    GEMM_ENTRY(matmul_small_nn_##S, T, 64, 64, 16, false, false, 1, GRID)                \
    GEMM_ENTRY(matmul_small_nt_##S, T, 64, 64, 16, false, true, 1, GRID)                 \
    GEMM_ENTRY(matmul_small_tn_##S, T, 64, 64, 16, true, false, 1, GRID)                 \
    GEMM_ENTRY(matmul_small_tt_##S, T, 64, 64, 16, true, true, 1, GRID)
SMALL(float, f32)
// f64: the small tiles only (an 8×8 double micro-tile would spill registers).
SMALL(double, f64)

// out[i] = Σ_z partial[z·mn + i], z ascending: the split-K sum, in a fixed order.
template <typename T>
__device__ __forceinline__ void splitk_reduce(const T* __restrict__ partial, T* __restrict__ out, u64 mn, int splits) {
    for (u64 i = (u64)blockIdx.x * blockDim.x + threadIdx.x; i < mn; i += (u64)gridDim.x * blockDim.x) {
        T s = partial[i];
        for (int z = 1; z < splits; ++z) s += partial[(u64)z * mn + i];
        out[i] = s;
    }
}

extern "C" __global__ void splitk_reduce_f32(const float* __restrict__ partial, float* __restrict__ out, u64 mn, int splits) {
    splitk_reduce(partial, out, mn, splits);
}
extern "C" __global__ void splitk_reduce_f64(const double* __restrict__ partial, double* __restrict__ out, u64 mn, int splits) {
    splitk_reduce(partial, out, mn, splits);
}
