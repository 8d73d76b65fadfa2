// A tiny CPU emulation of the CUDA C subset that kernels/*.cu use, so the
// kernels can be compiled by g++ and *run* on a machine without a GPU:
// every thread of a block is a std::thread, __syncthreads is a barrier,
// __shared__ variables are function statics (blocks run one at a time),
// warp shuffles go through a per-warp exchange buffer. It checks indexing,
// bounds, tiling and barrier placement; it says nothing about speed, and a
// missing barrier may go unnoticed (threads interleave differently here).
// Used by kernels/emu/check.cpp; run kernels/emu/run.sh.
#pragma once
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

struct dim3 {
    unsigned x = 1, y = 1, z = 1;
};
inline thread_local dim3 threadIdx, blockIdx;
inline dim3 blockDim, gridDim;

#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static
#define __align__(n) __attribute__((aligned(n)))
#define __launch_bounds__(...)

struct alignas(16) float4 { float x, y, z, w; };
struct alignas(16) double2 { double x, y; };
inline float4 make_float4(float a, float b, float c, float d) { return {a, b, c, d}; }
inline double2 make_double2(double a, double b) { return {a, b}; }

inline int min(int a, int b) { return a < b ? a : b; }
inline unsigned __float_as_uint(float x) { unsigned u; std::memcpy(&u, &x, 4); return u; }
inline float __uint_as_float(unsigned u) { float x; std::memcpy(&x, &u, 4); return x; }
inline unsigned long long min(unsigned long long a, unsigned long long b) { return a < b ? a : b; }
using std::exp; using std::log; using std::log1p; using std::tanh; using std::fabs; using std::fmax; using std::sqrt;

inline std::barrier<>* g_block_barrier;
struct Warp {
    std::barrier<> bar{32};
    alignas(8) unsigned char slots[32][8];
};
inline std::vector<std::unique_ptr<Warp>> g_warps;

inline void __syncthreads() { g_block_barrier->arrive_and_wait(); }

template <typename T>
T __shfl_down_sync(unsigned, T v, int offset) {
    const unsigned tid = threadIdx.x + threadIdx.y * blockDim.x + threadIdx.z * blockDim.x * blockDim.y;
    Warp& w = *g_warps[tid / 32];
    const unsigned lane = tid % 32;
    std::memcpy(w.slots[lane], &v, sizeof(T));
    w.bar.arrive_and_wait();
    T r = v;
    if (lane + offset < 32) std::memcpy(&r, w.slots[lane + offset], sizeof(T));
    w.bar.arrive_and_wait();
    return r;
}

// Runs `kernel` (a closure calling the extern "C" kernel) over the grid, one block at a time.
inline void launch(dim3 grid, dim3 block, const std::function<void()>& kernel) {
    gridDim = grid;
    blockDim = block;
    const unsigned n = block.x * block.y * block.z;
    for (unsigned bz = 0; bz < grid.z; ++bz)
        for (unsigned by = 0; by < grid.y; ++by)
            for (unsigned bx = 0; bx < grid.x; ++bx) {
                std::barrier<> bar(n);
                g_block_barrier = &bar;
                g_warps.clear();
                for (unsigned w = 0; w < (n + 31) / 32; ++w) g_warps.push_back(std::make_unique<Warp>());
                std::vector<std::thread> threads;
                for (unsigned t = 0; t < n; ++t)
                    threads.emplace_back([&, t] {
                        blockIdx = {bx, by, bz};
                        threadIdx = {t % block.x, (t / block.x) % block.y, t / (block.x * block.y)};
                        kernel();
                    });
                for (auto& th : threads) th.join();
            }
}
