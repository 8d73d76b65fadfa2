// Runs every kernel of kernels/*.cu on the CPU emulation (cuda_emu.h) against
// plain reference loops, on awkward sizes, with outputs poisoned (NaN) first.
// Build and run: kernels/emu/run.sh. Exit status 0 when every check passes.
// The elementwise kernels (unary.cu, binary.cu) are checked from Rust instead,
// against the CPU backend, once per entry of `Unary::ALL` and `Binary::ALL`:
// crates/autodiff/tests/emulated_kernels.rs.
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "cuda_emu.h"
#include "kernels.h"

// The tilings: 0 small (64×64), then the big (128×128) kernel and its variant.
static const char* const TILINGS[] = {"small", "big", "biggrid"};
const int TILING_COUNT = 3;

static int failures = 0, checks = 0;
static std::mt19937_64 rng(42);

template <typename T> std::vector<T> randn(size_t n, double lo = -2, double hi = 2) {
    std::uniform_real_distribution<double> d(lo, hi);
    std::vector<T> v(n);
    for (auto& x : v) x = (T)d(rng);
    return v;
}
template <typename T> std::vector<T> poisoned(size_t n) { return std::vector<T>(n > 0 ? n : 1, (T)NAN); }

template <typename T> void expect(const std::string& what, const std::vector<T>& got, const std::vector<double>& want, double tol) {
    ++checks;
    double num = 0, den = 0;
    bool nan = false;
    for (size_t i = 0; i < want.size(); ++i) {
        if (std::isnan((double)got[i]) != std::isnan(want[i])) nan = true;
        if (!std::isnan(want[i])) {
            num += ((double)got[i] - want[i]) * ((double)got[i] - want[i]);
            den += want[i] * want[i];
        }
    }
    const double rel = std::sqrt(num) / std::max(std::sqrt(den), 1e-300);
    if (nan || rel > tol) {
        ++failures;
        std::printf("FAIL %s: rel err %.3e (tol %.1e)%s\n", what.c_str(), rel, tol, nan ? ", NaN mismatch (unwritten element?)" : "");
    }
}

template <typename T> double tol_of() { return sizeof(T) == 4 ? 1e-5 : 1e-12; }
template <typename T> const char* name_of() { return sizeof(T) == 4 ? "f32" : "f64"; }

typedef void (*Gemm32)(const float*, const float*, float*, int, int, int, int, int, int, int);
typedef void (*Gemm64)(const double*, const double*, double*, int, int, int, int, int, int, int);
template <typename T> struct GemmFns;
template <> struct GemmFns<float> {
    static Gemm32 get(int tiling, bool ta, bool tb) {
#define ROW(v) {matmul_##v##_nn_f32, matmul_##v##_nt_f32, matmul_##v##_tn_f32, matmul_##v##_tt_f32}
        static Gemm32 fns[TILING_COUNT][4] = {ROW(small), ROW(big), ROW(biggrid)};
#undef ROW
        return fns[tiling][ta * 2 + tb];
    }
    static void reduce(const float* p, float* o, u64 mn, int s) { splitk_reduce_f32(p, o, mn, s); }
};
template <> struct GemmFns<double> {
    static Gemm64 get(int, bool ta, bool tb) {
        static Gemm64 s[4] = {matmul_small_nn_f64, matmul_small_nt_f64, matmul_small_tn_f64, matmul_small_tt_f64};
        return s[ta * 2 + tb];
    }
    static void reduce(const double* p, double* o, u64 mn, int s) { splitk_reduce_f64(p, o, mn, s); }
};

// C = op(A)·op(B) through the kernels, as backend/cuda/storage.rs launches them.
template <typename T> void check_matmul(int m, int k, int n, bool ta, bool tb, int tiling, int splits) {
    auto a = randn<T>((size_t)m * k), b = randn<T>((size_t)k * n);
    const int tile = tiling > 0 ? 128 : 64;
    int k_chunk = ((k + splits - 1) / splits + 15) / 16 * 16;
    if (k_chunk == 0) k_chunk = 16;
    splits = std::max(1, (k + k_chunk - 1) / k_chunk);
    const int vec_a = ta ? m % 4 == 0 : k % 4 == 0, vec_b = tb ? k % 4 == 0 : n % 4 == 0, vec_c = n % 4 == 0;
    auto c = poisoned<T>((size_t)m * n);
    auto part = poisoned<T>((size_t)splits * m * n);
    T* out = splits == 1 ? c.data() : part.data();
    auto f = GemmFns<T>::get(tiling, ta, tb);
    launch({(unsigned)((n + tile - 1) / tile), (unsigned)((m + tile - 1) / tile), (unsigned)splits}, {256},
           [&] { f(a.data(), b.data(), out, m, n, k, k_chunk, vec_a, vec_b, vec_c); });
    if (splits > 1) launch({3}, {256}, [&] { GemmFns<T>::reduce(part.data(), c.data(), (u64)m * n, splits); });
    std::vector<double> want((size_t)m * n);
    for (int i = 0; i < m; ++i)
        for (int j = 0; j < n; ++j) {
            double s = 0;
            for (int p = 0; p < k; ++p) s += (double)(ta ? a[(size_t)p * m + i] : a[(size_t)i * k + p]) * (double)(tb ? b[(size_t)j * k + p] : b[(size_t)p * n + j]);
            want[(size_t)i * n + j] = s;
        }
    char what[128];
    std::snprintf(what, sizeof what, "matmul_%s_%c%c_%s %dx%dx%d splits %d", TILINGS[tiling], ta ? 't' : 'n', tb ? 't' : 'n', name_of<T>(), m, k, n, splits);
    expect(what, c, want, tol_of<T>());
}

#define T_CALL(fn, ...) do { if constexpr (sizeof(T) == 4) fn##_f32(__VA_ARGS__); else fn##_f64(__VA_ARGS__); } while (0)

template <typename T> void check_reduce() {
    const char* S = name_of<T>();
    const double tol = tol_of<T>();
    for (auto [r, c] : std::vector<std::pair<u64, u64>>{{1, 1}, {7, 33}, {257, 7}, {1000, 3}, {33, 70}}) {
        auto x = randn<T>(r * c);
        // sum over rows -> [c], through row chunks then the chunks.
        u64 rpc = std::max<u64>(1, (r + 2) / 3), chunks = (r + rpc - 1) / rpc;
        auto part = poisoned<T>(chunks * c), out = poisoned<T>(c);
        launch({(unsigned)((c + 31) / 32), (unsigned)chunks}, {32, 8}, [&] { T_CALL(sum_cols, x.data(), part.data(), r, c, rpc); });
        launch({(unsigned)((c + 31) / 32), 1}, {32, 8}, [&] { T_CALL(sum_cols, part.data(), out.data(), chunks, c, chunks); });
        std::vector<double> want(c, 0.0), want_r(r, 0.0);
        double all = 0, magnitude = 0;
        for (u64 i = 0; i < r; ++i)
            for (u64 j = 0; j < c; ++j) { want[j] += x[i * c + j]; want_r[i] += x[i * c + j]; all += x[i * c + j]; magnitude += std::fabs((double)x[i * c + j]); }
        expect(std::string("sum_cols_") + S + " " + std::to_string(r) + "x" + std::to_string(c), out, want, tol);
        auto rows = poisoned<T>(r);
        launch({2}, {256}, [&] { T_CALL(sum_rows, x.data(), rows.data(), r, c); });
        expect(std::string("sum_rows_") + S, rows, want_r, tol);
        auto partial = poisoned<T>(3), total = poisoned<T>(1);
        launch({3}, {256}, [&] { T_CALL(sum_all, x.data(), partial.data(), r * c); });
        launch({1}, {256}, [&] { T_CALL(sum_all, partial.data(), total.data(), (u64)3); });
        // Rounding scales with Σ|x|, not with the total, which may cancel to near 0.
        expect(std::string("sum_all_") + S, total, {all}, tol * std::max(1.0, magnitude / std::max(std::fabs(all), 1e-300)));
        // broadcasts of a row, a column, a scalar.
        auto row = randn<T>(c), col = randn<T>(r), y = poisoned<T>(r * c);
        std::vector<double> w(r * c);
        launch({2}, {256}, [&] { T_CALL(broadcast_rows, row.data(), y.data(), r * c, c); });
        for (u64 i = 0; i < r * c; ++i) w[i] = row[i % c];
        expect(std::string("broadcast_rows_") + S, y, w, 0);
        launch({2}, {256}, [&] { T_CALL(broadcast_cols, col.data(), y.data(), r * c, c); });
        for (u64 i = 0; i < r * c; ++i) w[i] = col[i / c];
        expect(std::string("broadcast_cols_") + S, y, w, 0);
        launch({2}, {256}, [&] { T_CALL(broadcast_scalar, col.data(), y.data(), r * c); });
        for (u64 i = 0; i < r * c; ++i) w[i] = col[0];
        expect(std::string("broadcast_scalar_") + S, y, w, 0);
    }
    // General: [3, 1, 5] <-> [2, 3, 4, 5], merged as (2: rep, 3: kept, 4: rep, 5: kept).
    {
        auto x = randn<T>(15), y = poisoned<T>(120);
        Layout b{4, {2, 3, 4, 5}, {0, 5, 0, 1}};
        launch({1}, {256}, [&] { T_CALL(broadcast_strided, x.data(), y.data(), (u64)120, b); });
        std::vector<double> w(120);
        for (int i = 0; i < 2; ++i) for (int j = 0; j < 3; ++j) for (int k = 0; k < 4; ++k) for (int l = 0; l < 5; ++l)
            w[((i * 3 + j) * 4 + k) * 5 + l] = x[j * 5 + l];
        expect(std::string("broadcast_strided_") + S, y, w, 0);
        // A permutation is the same gather: [2, 3, 4] by axes (2, 0, 1) is [4, 2, 3],
        // laid out as layout.rs's `permuted` makes it, axes 0 and 1 merged: (4, stride 1), (6, stride 4).
        auto p = randn<T>(24), pt = poisoned<T>(24);
        Layout perm{2, {4, 6}, {1, 4}};
        launch({1}, {64}, [&] { T_CALL(broadcast_strided, p.data(), pt.data(), (u64)24, perm); });
        std::vector<double> wp(24);
        for (int i = 0; i < 4; ++i) for (int j = 0; j < 2; ++j) for (int k = 0; k < 3; ++k) wp[(i * 2 + j) * 3 + k] = p[(j * 3 + k) * 4 + i];
        expect(std::string("broadcast_strided_") + S + " as permute", pt, wp, 0);
        auto big = randn<T>(120), s = poisoned<T>(15);
        Layout kept{2, {3, 5}, {20, 1}}, red{2, {2, 4}, {60, 5}};
        launch({1}, {256}, [&] { T_CALL(sum_strided, big.data(), s.data(), (u64)15, kept, red, (u64)8); });
        std::vector<double> ws(15, 0.0);
        for (int i = 0; i < 2; ++i) for (int j = 0; j < 3; ++j) for (int k = 0; k < 4; ++k) for (int l = 0; l < 5; ++l)
            ws[j * 5 + l] += big[((i * 3 + j) * 4 + k) * 5 + l];
        expect(std::string("sum_strided_") + S, s, ws, tol);
    }
    // Sums over an empty axis are 0 (the backend launches these for a zero-size
    // input with a non-empty output): [0, 5] -> [5], [4, 0] -> [4], [0] -> [],
    // and [2, 0, 3] -> [2, 1, 3] through the general kernel.
    {
        auto none = poisoned<T>(0), cols = poisoned<T>(5), rows = poisoned<T>(4), all = poisoned<T>(1), strided = poisoned<T>(6);
        launch({1, 1}, {32, 8}, [&] { T_CALL(sum_cols, none.data(), cols.data(), 0, 5, 1); });
        expect(std::string("sum_cols_") + S + " of 0 rows", cols, std::vector<double>(5, 0.0), 0);
        launch({1}, {256}, [&] { T_CALL(sum_rows, none.data(), rows.data(), 4, 0); });
        expect(std::string("sum_rows_") + S + " of 0 columns", rows, std::vector<double>(4, 0.0), 0);
        launch({1}, {256}, [&] { T_CALL(sum_all, none.data(), all.data(), (u64)0); });
        expect(std::string("sum_all_") + S + " of nothing", all, {0.0}, 0);
        Layout kept{2, {2, 3}, {0, 1}}, red{1, {0}, {3}};
        launch({1}, {256}, [&] { T_CALL(sum_strided, none.data(), strided.data(), (u64)6, kept, red, (u64)0); });
        expect(std::string("sum_strided_") + S + " over an empty axis", strided, std::vector<double>(6, 0.0), 0);
    }
    // Max over the middle axis of [outer, n, inner], with a NaN in one column.
    for (auto [o, n, in] : std::vector<std::tuple<u64, u64, u64>>{{1, 1, 1}, {7, 33, 1}, {3, 5, 70}, {1, 1000, 3}, {300, 2, 2}}) {
        auto x = randn<T>(o * n * in), y = poisoned<T>(o * in);
        x[(o * n - 1) * in] = (T)NAN;  // column (o - 1, 0)
        launch({2}, {256}, [&] { T_CALL(max_axis, x.data(), y.data(), o, n, in); });
        std::vector<double> w(o * in, -INFINITY);
        for (u64 a = 0; a < o; ++a)
            for (u64 k = 0; k < n; ++k)
                for (u64 i = 0; i < in; ++i) {
                    const double v = x[(a * n + k) * in + i];
                    if (v > w[a * in + i] || std::isnan(v)) w[a * in + i] = v;
                }
        expect(std::string("max_axis_") + S + " " + std::to_string(o) + "x" + std::to_string(n) + "x" + std::to_string(in), y, w, 0);
    }
}

template <typename T> void check_index() {
    const char* S = name_of<T>();
    for (auto [r, c] : std::vector<std::pair<u64, u64>>{{1, 1}, {7, 33}, {33, 70}, {65, 1}}) {
        auto x = randn<T>(r * c), y = poisoned<T>(r * c);
        launch({3}, {32, 8}, [&] { T_CALL(transpose, x.data(), y.data(), r, c); });
        std::vector<double> w(r * c);
        for (u64 i = 0; i < r; ++i) for (u64 j = 0; j < c; ++j) w[j * r + i] = x[i * c + j];
        expect(std::string("transpose_") + S + " " + std::to_string(r) + "x" + std::to_string(c), y, w, 0);
    }
    // [outer=3, n=7, inner=5]: slice 2..6, then pad it back.
    {
        auto x = randn<T>(105), s = poisoned<T>(60), p = poisoned<T>(105);
        launch({1}, {256}, [&] { T_CALL(slice_axis, x.data(), s.data(), 3, 7, 5, 2, 4); });
        std::vector<double> w(60), wp(105, 0.0);
        for (int o = 0; o < 3; ++o) for (int a = 0; a < 4; ++a) for (int i = 0; i < 5; ++i) w[(o * 4 + a) * 5 + i] = x[(o * 7 + a + 2) * 5 + i];
        expect(std::string("slice_axis_") + S, s, w, 0);
        launch({1}, {256}, [&] { T_CALL(pad_axis, s.data(), p.data(), 3, 4, 5, 2, 7); });
        for (int o = 0; o < 3; ++o) for (int a = 0; a < 4; ++a) for (int i = 0; i < 5; ++i) wp[(o * 7 + a + 2) * 5 + i] = w[(o * 4 + a) * 5 + i];
        expect(std::string("pad_axis_") + S, p, wp, 0);
        // Padding an empty slice ([3, 0, 5] into [3, 7, 5]) writes zeros and reads nothing.
        auto none = poisoned<T>(0), zeros = poisoned<T>(105);
        launch({1}, {256}, [&] { T_CALL(pad_axis, none.data(), zeros.data(), 3, 0, 5, 2, 7); });
        expect(std::string("pad_axis_") + S + " of an empty slice", zeros, std::vector<double>(105, 0.0), 0);
    }
    // gather rows [2, 0, 2, 1, 2] of a [3, 4], then scatter back through CSR.
    {
        auto x = randn<T>(12), g = poisoned<T>(20), sc = poisoned<T>(12);
        std::vector<unsigned> idx{2, 0, 2, 1, 2};
        launch({1}, {256}, [&] { T_CALL(gather_rows, x.data(), g.data(), idx.data(), 5, 4); });
        std::vector<double> w(20), ws(12, 0.0);
        for (int r = 0; r < 5; ++r) for (int i = 0; i < 4; ++i) { w[r * 4 + i] = x[idx[r] * 4 + i]; ws[idx[r] * 4 + i] += w[r * 4 + i]; }
        expect(std::string("gather_rows_") + S, g, w, 0);
        std::vector<unsigned> csr{0, 1, 2, 5, /* sources */ 1, 3, 0, 2, 4};
        launch({1}, {256}, [&] { T_CALL(scatter_add_rows, g.data(), sc.data(), csr.data(), 3, 4); });
        expect(std::string("scatter_add_rows_") + S, sc, ws, tol_of<T>());
        auto oh = poisoned<T>(15);
        std::vector<unsigned> hot{4, 0, 2};
        launch({1}, {256}, [&] { T_CALL(one_hot, oh.data(), hot.data(), 3, 5); });
        std::vector<double> wo(15, 0.0);
        for (int r = 0; r < 3; ++r) wo[r * 5 + hot[r]] = 1;
        expect(std::string("one_hot_") + S, oh, wo, 0);
        // where: a mask with a NaN (nonzero) and awkward length, over 3 blocks.
        auto c = randn<T>(1001), a = randn<T>(1001), b = randn<T>(1001), picked = poisoned<T>(1001);
        for (size_t i = 0; i < c.size(); ++i) c[i] = i % 3 == 0 ? (T)0 : i % 7 == 0 ? (T)NAN : (T)1;
        launch({3}, {64}, [&] { T_CALL(where, c.data(), a.data(), b.data(), picked.data(), 1001); });
        std::vector<double> want_picked(1001);
        for (size_t i = 0; i < want_picked.size(); ++i) want_picked[i] = c[i] != 0 ? a[i] : b[i];
        expect(std::string("where_") + S, picked, want_picked, 0);
        auto f = poisoned<T>(7);
        launch({1}, {256}, [&] { T_CALL(fill, f.data(), 7, (T)1.5); });
        expect(std::string("fill_") + S, f, std::vector<double>(7, 1.5), 0);
    }
}

// Adam's update against the formula, in f64, at step t = 3.
template <typename T, typename F> void check_adam(F kernel) {
    const u64 n = 1001;
    auto p = randn<T>(n), g = randn<T>(n), m = randn<T>(n), v = randn<T>(n, 0.0, 2.0);
    const double b1 = 0.9, b2 = 0.999, lr = 1e-2, eps = 1e-8, c1 = 1 - b1 * b1 * b1, c2 = 1 - b2 * b2 * b2;
    auto po = poisoned<T>(n), mo = poisoned<T>(n), vo = poisoned<T>(n);
    launch({3}, {256}, [&] { kernel(p.data(), g.data(), m.data(), v.data(), po.data(), mo.data(), vo.data(), n, (T)b1, (T)b2, (T)(1 - b1), (T)(1 - b2), (T)(lr / c1), (T)(1 / c2), (T)eps); });
    std::vector<double> wp(n), wm(n), wv(n);
    for (u64 i = 0; i < n; ++i) {
        wm[i] = b1 * m[i] + (1 - b1) * g[i];
        wv[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
        wp[i] = p[i] - lr / c1 * wm[i] / (std::sqrt(wv[i] / c2) + eps);
    }
    const std::string s = name_of<T>();
    expect("adam_" + s + " m", mo, wm, tol_of<T>());
    expect("adam_" + s + " v", vo, wv, tol_of<T>());
    expect("adam_" + s + " p", po, wp, tol_of<T>());
}

int main() {
    // The matrix products: every transpose, vector and scalar paths, edges, split-K.
    const int shapes[][3] = {{1, 1, 1}, {7, 33, 5}, {33, 7, 65}, {130, 67, 129}, {64, 100, 128}, {128, 64, 132}, {3, 0, 5}};
    for (auto& s : shapes)
        for (int t = 0; t < 4; ++t) {
            const bool ta = t & 2, tb = t & 1;
            for (int tiling = 0; tiling < TILING_COUNT; ++tiling) check_matmul<float>(s[0], s[1], s[2], ta, tb, tiling, 1);
            check_matmul<double>(s[0], s[1], s[2], ta, tb, 0, 1);
            check_matmul<float>(s[0], s[1], s[2], ta, tb, 0, 3);
            check_matmul<double>(s[0], s[1], s[2], ta, tb, 0, 2);
        }
    for (int tiling = 1; tiling < TILING_COUNT; ++tiling) {
        check_matmul<float>(257, 300, 130, false, false, tiling, 2);
        check_matmul<float>(2100, 20, 260, tiling & 1, false, tiling, 1);
    }
    check_reduce<float>();
    check_reduce<double>();
    check_index<float>();
    check_index<double>();
    {
        auto x = randn<float>(37);
        auto y = poisoned<double>(37);
        auto z = poisoned<float>(37);
        launch({1}, {256}, [&] { cast_f32_to_f64(x.data(), y.data(), 37); });
        launch({1}, {256}, [&] { cast_f64_to_f32(y.data(), z.data(), 37); });
        std::vector<double> w(x.begin(), x.end());
        expect("cast_f32_to_f64", y, w, 0);
        expect("cast_f64_to_f32", z, w, 0);
    }
    {
        // The counter-based normals: the values crates/autodiff/src/backend/counter_rng.rs
        // pins for stream 42 (the kernel takes the key mix(42)), in f64 and rounded to f32.
        u64 z = 42;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        const u64 key = z ^ (z >> 31);
        // Bit for bit: the f32 bits counter_rng.rs pins (the f64 kernel widens them).
        const unsigned want_bits[3] = {1063218575u, 3204824205u, 1072871384u};
        auto y64 = poisoned<double>(3);  // odd: the last pair is cut short
        auto y32 = poisoned<float>(3);
        launch({1}, {256}, [&] { normal_f64(y64.data(), 3, key); });
        launch({1}, {256}, [&] { normal_f32(y32.data(), 3, key); });
        for (int i = 0; i < 3; ++i) {
            ++checks;
            if (__float_as_uint(y32[i]) != want_bits[i] || y64[i] != (double)__uint_as_float(want_bits[i])) {
                ++failures;
                std::printf("FAIL normal value %d: bits %u (f64 %.9g), want %u\n", i, __float_as_uint(y32[i]), y64[i], want_bits[i]);
            }
        }
        const u64 n = 100000;
        auto big = poisoned<double>(n);
        launch({7}, {256}, [&] { normal_f64(big.data(), n, key); });
        double mean = 0, var = 0;
        for (double v : big) mean += v / n;
        for (double v : big) var += (v - mean) * (v - mean) / n;
        ++checks;
        if (std::abs(mean) > 0.015 || std::abs(var - 1) > 0.02) {
            ++failures;
            std::printf("FAIL normal_f64 moments: mean %.4f variance %.4f\n", mean, var);
        }
    }
    {
        // Minibatch rows: the indices counter_rng.rs pins for stream 42 over 60 000
        // rows, then a gather of awkward size against them.
        u64 z = 42;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        const u64 key = z ^ (z >> 31);
        const u64 want_rows[4] = {35767, 9621, 9983, 2881};
        const u64 rows = 60000;
        std::vector<float> x(rows);
        for (u64 i = 0; i < rows; ++i) x[i] = (float)i;
        auto y = poisoned<float>(4);
        launch({1}, {256}, [&] { sample_rows_f32(x.data(), y.data(), 4, rows, 1, key); });
        for (int i = 0; i < 4; ++i) {
            ++checks;
            if (y[i] != (float)want_rows[i]) {
                ++failures;
                std::printf("FAIL sample_rows row %d: %.0f, want %llu\n", i, y[i], want_rows[i]);
            }
        }
        auto hash = [](u64 key, u64 i) {  // SplitMix64's (i + 1)-th output, written out again
            u64 h = key + (i + 1) * 0x9E3779B97F4A7C15ull;
            h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ull;
            h = (h ^ (h >> 27)) * 0x94D049BB133111EBull;
            return h ^ (h >> 31);
        };
        const u64 n = 33, count = 257, inner = 7;
        std::vector<double> a(n * inner);
        for (u64 i = 0; i < a.size(); ++i) a[i] = (double)i;
        auto b = poisoned<double>(count * inner);
        launch({3}, {64}, [&] { sample_rows_f64(a.data(), b.data(), count, n, inner, key); });
        std::vector<double> want(count * inner);
        for (u64 r = 0; r < count; ++r) {
            const u64 row = ((hash(key, r) >> 32) * n) >> 32;
            for (u64 j = 0; j < inner; ++j) want[r * inner + j] = a[row * inner + j];
        }
        expect("sample_rows_f64 257 of 33 rows", b, want, 0);
    }
    check_adam<float>(adam_f32);
    check_adam<double>(adam_f64);
    std::printf("%d passed, %d failed\n", checks - failures, failures);
    return failures == 0 ? 0 : 1;
}
