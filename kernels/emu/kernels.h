// The entry points of kernels/*.cu as the CPU emulation compiles them
// (emu_*.cpp), declared once for the programs that call them: check.cpp and
// replay.cpp. Keep in step with the kernels' signatures.
#pragma once

typedef unsigned long long u64;
#define MAX_RANK 8
struct Layout { u64 rank; u64 dims[MAX_RANK]; u64 strides[MAX_RANK]; };

#define DECL_T(T, S)                                                                                     \
    extern "C" void matmul_small_nn_##S(const T*, const T*, T*, int, int, int, int, int, int, int);     \
    extern "C" void matmul_small_nt_##S(const T*, const T*, T*, int, int, int, int, int, int, int);     \
    extern "C" void matmul_small_tn_##S(const T*, const T*, T*, int, int, int, int, int, int, int);     \
    extern "C" void matmul_small_tt_##S(const T*, const T*, T*, int, int, int, int, int, int, int);     \
    extern "C" void splitk_reduce_##S(const T*, T*, u64, int);                                           \
    extern "C" void neg_##S(const T*, T*, u64, double, double);                                          \
    extern "C" void exp_##S(const T*, T*, u64, double, double);                                          \
    extern "C" void log_##S(const T*, T*, u64, double, double);                                          \
    extern "C" void sigmoid_##S(const T*, T*, u64, double, double);                                      \
    extern "C" void tanh_##S(const T*, T*, u64, double, double);                                         \
    extern "C" void softplus_##S(const T*, T*, u64, double, double);                                     \
    extern "C" void silu_##S(const T*, T*, u64, double, double);                                         \
    extern "C" void silu_derivative_##S(const T*, T*, u64, double, double);                              \
    extern "C" void silu_second_derivative_##S(const T*, T*, u64, double, double);                       \
    extern "C" void relu_##S(const T*, T*, u64, double, double);                                         \
    extern "C" void step_##S(const T*, T*, u64, double, double);                                         \
    extern "C" void sqrt_##S(const T*, T*, u64, double, double);                                         \
    extern "C" void powi_##S(const T*, T*, u64, double, double);                                         \
    extern "C" void affine_##S(const T*, T*, u64, double, double);                                       \
    extern "C" void clamp_##S(const T*, T*, u64, double, double);                                        \
    extern "C" void add_##S(const T*, const T*, T*, u64);                                                \
    extern "C" void sub_##S(const T*, const T*, T*, u64);                                                \
    extern "C" void mul_##S(const T*, const T*, T*, u64);                                                \
    extern "C" void div_##S(const T*, const T*, T*, u64);                                                \
    extern "C" void maximum_##S(const T*, const T*, T*, u64);                                            \
    extern "C" void minimum_##S(const T*, const T*, T*, u64);                                            \
    extern "C" void where_##S(const T*, const T*, const T*, T*, u64);                                    \
    extern "C" void broadcast_scalar_##S(const T*, T*, u64);                                             \
    extern "C" void broadcast_rows_##S(const T*, T*, u64, u64);                                          \
    extern "C" void broadcast_cols_##S(const T*, T*, u64, u64);                                          \
    extern "C" void broadcast_strided_##S(const T*, T*, u64, Layout);                                    \
    extern "C" void sum_all_##S(const T*, T*, u64);                                                      \
    extern "C" void sum_cols_##S(const T*, T*, u64, u64, u64);                                           \
    extern "C" void sum_rows_##S(const T*, T*, u64, u64);                                                \
    extern "C" void sum_strided_##S(const T*, T*, u64, Layout, Layout, u64);                             \
    extern "C" void max_axis_##S(const T*, T*, u64, u64, u64);                                           \
    extern "C" void transpose_##S(const T*, T*, u64, u64);                                               \
    extern "C" void slice_axis_##S(const T*, T*, u64, u64, u64, u64, u64);                               \
    extern "C" void pad_axis_##S(const T*, T*, u64, u64, u64, u64, u64);                                 \
    extern "C" void gather_rows_##S(const T*, T*, const unsigned*, u64, u64);                            \
    extern "C" void scatter_add_rows_##S(const T*, T*, const unsigned*, u64, u64);                       \
    extern "C" void one_hot_##S(T*, const unsigned*, u64, u64);                                          \
    extern "C" void fill_##S(T*, u64, T);
DECL_T(float, f32)
DECL_T(double, f64)
#undef DECL_T

// The big (128×128) f32 tiling and its variant for grids past 65 535 blocks.
#define DECL_BIG(v)                                                                                      \
    extern "C" void matmul_##v##_nn_f32(const float*, const float*, float*, int, int, int, int, int, int, int); \
    extern "C" void matmul_##v##_nt_f32(const float*, const float*, float*, int, int, int, int, int, int, int); \
    extern "C" void matmul_##v##_tn_f32(const float*, const float*, float*, int, int, int, int, int, int, int); \
    extern "C" void matmul_##v##_tt_f32(const float*, const float*, float*, int, int, int, int, int, int, int);
DECL_BIG(big)
DECL_BIG(biggrid)
#undef DECL_BIG

extern "C" void cast_f32_to_f64(const float*, double*, u64);
extern "C" void cast_f64_to_f32(const double*, float*, u64);
extern "C" void normal_f32(float*, u64, u64);
extern "C" void normal_f64(double*, u64, u64);
extern "C" void sample_rows_f32(const float*, float*, u64, u64, u64, u64);
extern "C" void sample_rows_f64(const double*, double*, u64, u64, u64, u64);
extern "C" void adam_f32(const float*, const float*, const float*, const float*, float*, float*, float*, u64, float, float, float, float, float, float, float);
extern "C" void adam_f64(const double*, const double*, const double*, const double*, double*, double*, double*, u64, double, double, double, double, double, double, double);
