// Replays random backend cases that the CPU backend computed
// (examples/emu_cases.rs writes them) through the kernels of kernels/*.cu on
// the CPU emulation (cuda_emu.h), launched as backend/cuda/storage.rs launches
// them, and compares each output with the CPU backend's. Where the backend
// picks one of several kernels for a case (a broadcast's fast path or the
// general strided kernel; a matrix product's tiling and split-K), every one
// of them runs. Build and run: kernels/emu/run.sh. Exit status 0 when every
// comparison passes.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "cuda_emu.h"
#include "kernels.h"

// The kernels by dtype: K<float>::max_axis is max_axis_f32.
template <typename T> struct K;
#define KERNELS(T, S)                                                                                    \
    template <> struct K<T> {                                                                            \
        static constexpr const char* name = #S;                                                          \
        static void (*unary(const std::string& op))(const T*, T*, u64, double, double) {                 \
            if (op == "neg") return neg_##S;                                                             \
            if (op == "exp") return exp_##S;                                                             \
            if (op == "log") return log_##S;                                                             \
            if (op == "sigmoid") return sigmoid_##S;                                                     \
            if (op == "tanh") return tanh_##S;                                                           \
            if (op == "softplus") return softplus_##S;                                                   \
            if (op == "relu") return relu_##S;                                                           \
            if (op == "step") return step_##S;                                                           \
            if (op == "sqrt") return sqrt_##S;                                                           \
            if (op == "powi") return powi_##S;                                                           \
            if (op == "affine") return affine_##S;                                                       \
            if (op == "clamp") return clamp_##S;                                                         \
            return nullptr;                                                                              \
        }                                                                                                \
        static void (*binary(const std::string& op))(const T*, const T*, T*, u64) {                      \
            if (op == "add") return add_##S;                                                             \
            if (op == "sub") return sub_##S;                                                             \
            if (op == "mul") return mul_##S;                                                             \
            if (op == "div") return div_##S;                                                             \
            if (op == "maximum") return maximum_##S;                                                     \
            if (op == "minimum") return minimum_##S;                                                     \
            return nullptr;                                                                              \
        }                                                                                                \
        static constexpr auto where = where_##S;                                                         \
        static constexpr auto broadcast_scalar = broadcast_scalar_##S;                                   \
        static constexpr auto broadcast_rows = broadcast_rows_##S;                                       \
        static constexpr auto broadcast_cols = broadcast_cols_##S;                                       \
        static constexpr auto broadcast_strided = broadcast_strided_##S;                                 \
        static constexpr auto sum_all = sum_all_##S;                                                     \
        static constexpr auto sum_cols = sum_cols_##S;                                                   \
        static constexpr auto sum_rows = sum_rows_##S;                                                   \
        static constexpr auto sum_strided = sum_strided_##S;                                             \
        static constexpr auto max_axis = max_axis_##S;                                                   \
        static constexpr auto transpose = transpose_##S;                                                 \
        static constexpr auto slice_axis = slice_axis_##S;                                               \
        static constexpr auto pad_axis = pad_axis_##S;                                                   \
        static constexpr auto gather_rows = gather_rows_##S;                                             \
        static constexpr auto scatter_add_rows = scatter_add_rows_##S;                                   \
        static constexpr auto splitk_reduce = splitk_reduce_##S;                                         \
    };
KERNELS(float, f32)
KERNELS(double, f64)

typedef void (*Gemm32)(const float*, const float*, float*, int, int, int, int, int, int, int);
typedef void (*Gemm64)(const double*, const double*, double*, int, int, int, int, int, int, int);
// The tilings each dtype has: f32 small, big, biggrid; f64 small.
static std::vector<std::pair<const char*, Gemm32>> gemms(float*, bool ta, bool tb) {
    const int t = ta * 2 + tb;
    const Gemm32 small[4] = {matmul_small_nn_f32, matmul_small_nt_f32, matmul_small_tn_f32, matmul_small_tt_f32};
    const Gemm32 big[4] = {matmul_big_nn_f32, matmul_big_nt_f32, matmul_big_tn_f32, matmul_big_tt_f32};
    const Gemm32 biggrid[4] = {matmul_biggrid_nn_f32, matmul_biggrid_nt_f32, matmul_biggrid_tn_f32, matmul_biggrid_tt_f32};
    return {{"small", small[t]}, {"big", big[t]}, {"biggrid", biggrid[t]}};
}
static std::vector<std::pair<const char*, Gemm64>> gemms(double*, bool ta, bool tb) {
    const Gemm64 small[4] = {matmul_small_nn_f64, matmul_small_nt_f64, matmul_small_tn_f64, matmul_small_tt_f64};
    return {{"small", small[ta * 2 + tb]}};
}

struct Case {
    std::string name, dtype;
    std::vector<long long> ints;
    std::vector<double> floats;
    std::vector<std::vector<double>> inputs;
    std::vector<double> output;
};

static int failures = 0, comparisons = 0;

template <typename T> std::vector<T> as(const std::vector<double>& v) { return std::vector<T>(v.begin(), v.end()); }
template <typename T> std::vector<T> poisoned(size_t n) { return std::vector<T>(n > 0 ? n : 1, (T)NAN); }

// Relative error in the 2-norm, as check.cpp measures it; `tol` 0 asks for the same values.
template <typename T> void expect(const Case& c, int index, const std::string& how, const std::vector<T>& got, double tol) {
    ++comparisons;
    double num = 0, den = 0;
    bool nan = false;
    for (size_t i = 0; i < c.output.size(); ++i) {
        const double g = (double)got[i], w = c.output[i];
        if (std::isnan(g) != std::isnan(w)) nan = true;
        if (!std::isnan(w)) { num += (g - w) * (g - w); den += w * w; }
    }
    const double rel = std::sqrt(num) / std::max(std::sqrt(den), 1e-300);
    if (nan || rel > tol) {
        ++failures;
        std::printf("FAIL case %d: %s %s via %s: rel err %.3e against the CPU backend (tol %.1e)%s\n", index, c.name.c_str(),
                    c.dtype.c_str(), how.c_str(), rel, tol, nan ? ", NaN mismatch (unwritten element?)" : "");
    }
}

// Arithmetic may round differently from the CPU backend (f32 exp is a
// polynomial there, libm here; sums run in another order): a few ulp.
template <typename T> double arith_tol() { return sizeof(T) == 4 ? 1e-5 : 1e-12; }

static dim3 grid_1d(u64 work) { return {(unsigned)std::max<u64>(1, std::min<u64>((work + 255) / 256, 32)), 1, 1}; }

// layout::pattern of backend/cuda/layout.rs: merge adjacent axes of the same
// kind (repeated in the broadcast or not), dropping size-1 axes.
struct Pattern {
    enum { Copy, Scalar, Rows, Cols, Strided } kind;
    u64 r = 0, c = 0;
    Layout kept{}, reduced{}, broadcast{};
    u64 n_reduced = 1;
};
static Pattern pattern(const std::vector<u64>& small, const std::vector<u64>& big) {
    const size_t pad = big.size() - small.size();
    std::vector<std::pair<u64, bool>> axes;
    for (size_t a = 0; a < big.size(); ++a) {
        const u64 db = big[a], ds = a < pad ? 1 : small[a - pad];
        if (db == 1) continue;
        const bool repeated = ds == 1;
        if (!axes.empty() && axes.back().second == repeated) axes.back().first *= db;
        else axes.push_back({db, repeated});
    }
    Pattern p{};
    if (axes.empty() || (axes.size() == 1 && !axes[0].second)) { p.kind = Pattern::Copy; return p; }
    if (axes.size() == 1) { p.kind = Pattern::Scalar; return p; }
    if (axes.size() == 2 && axes[0].second && !axes[1].second) { p.kind = Pattern::Rows; p.r = axes[0].first; p.c = axes[1].first; return p; }
    if (axes.size() == 2 && !axes[0].second && axes[1].second) { p.kind = Pattern::Cols; p.r = axes[0].first; p.c = axes[1].first; return p; }
    p.kind = Pattern::Strided;
    u64 sb = 1, ss = 1;
    std::vector<u64> big_strides(axes.size()), small_strides(axes.size(), 0);
    for (size_t i = axes.size(); i-- > 0;) {
        big_strides[i] = sb;
        sb *= axes[i].first;
        if (!axes[i].second) { small_strides[i] = ss; ss *= axes[i].first; }
    }
    for (size_t i = 0; i < axes.size(); ++i) {
        Layout& l = axes[i].second ? p.reduced : p.kept;
        l.dims[l.rank] = axes[i].first;
        l.strides[l.rank] = big_strides[i];
        ++l.rank;
        if (axes[i].second) p.n_reduced *= axes[i].first;
        p.broadcast.dims[p.broadcast.rank] = axes[i].first;
        p.broadcast.strides[p.broadcast.rank] = small_strides[i];
        ++p.broadcast.rank;
    }
    return p;
}

// The same pattern as the general strided kernel would see it: each axis of
// `big` on its own, unmerged, so the strided kernels also run on cases the
// backend sends to a fast path.
static Pattern unmerged(const std::vector<u64>& small, const std::vector<u64>& big) {
    Pattern p{};
    p.kind = Pattern::Strided;
    const size_t pad = big.size() - small.size();
    u64 sb = 1, ss = 1;
    std::vector<u64> big_strides(big.size()), small_strides(big.size(), 0);
    for (size_t i = big.size(); i-- > 0;) {
        const bool repeated = (i < pad ? 1 : small[i - pad]) == 1 && big[i] != 1;
        big_strides[i] = sb;
        sb *= big[i];
        if (!repeated) { small_strides[i] = ss; ss *= big[i]; }
    }
    for (size_t i = 0; i < big.size(); ++i) {
        const bool repeated = (i < pad ? 1 : small[i - pad]) == 1 && big[i] != 1;
        Layout& l = repeated ? p.reduced : p.kept;
        l.dims[l.rank] = big[i];
        l.strides[l.rank] = big_strides[i];
        ++l.rank;
        if (repeated) p.n_reduced *= big[i];
        p.broadcast.dims[p.broadcast.rank] = big[i];
        p.broadcast.strides[p.broadcast.rank] = small_strides[i];
        ++p.broadcast.rank;
    }
    return p;
}

template <typename T> void replay_broadcast(const Case& c, int index, const std::vector<u64>& small, const std::vector<u64>& big) {
    auto x = as<T>(c.inputs[0]);
    const u64 n = c.output.size();
    const Pattern p = pattern(small, big);
    auto run_strided = [&](const Pattern& q, const char* how) {
        auto y = poisoned<T>(n);
        launch(grid_1d(n), {256}, [&] { K<T>::broadcast_strided(x.data(), y.data(), n, q.broadcast); });
        expect(c, index, how, y, 0);
    };
    auto y = poisoned<T>(n);
    switch (p.kind) {
        case Pattern::Copy: return;  // the backend shares the buffer: no kernel
        case Pattern::Scalar:
            launch(grid_1d(n), {256}, [&] { K<T>::broadcast_scalar(x.data(), y.data(), n); });
            expect(c, index, "broadcast_scalar", y, 0);
            break;
        case Pattern::Rows:
            launch(grid_1d(n), {256}, [&] { K<T>::broadcast_rows(x.data(), y.data(), n, p.c); });
            expect(c, index, "broadcast_rows", y, 0);
            break;
        case Pattern::Cols:
            launch(grid_1d(n), {256}, [&] { K<T>::broadcast_cols(x.data(), y.data(), n, p.c); });
            expect(c, index, "broadcast_cols", y, 0);
            break;
        case Pattern::Strided: run_strided(p, "broadcast_strided"); break;
    }
    run_strided(unmerged(small, big), "broadcast_strided (unmerged axes)");
}

template <typename T> void replay_sum_to(const Case& c, int index, const std::vector<u64>& small, const std::vector<u64>& big) {
    auto x = as<T>(c.inputs[0]);
    const u64 n = c.inputs[0].size(), n_out = c.output.size();
    const Pattern p = pattern(small, big);
    auto run_strided = [&](const Pattern& q, const char* how) {
        auto y = poisoned<T>(n_out);
        launch(grid_1d(n_out), {256}, [&] { K<T>::sum_strided(x.data(), y.data(), n_out, q.kept, q.reduced, q.n_reduced); });
        expect(c, index, how, y, arith_tol<T>());
    };
    switch (p.kind) {
        case Pattern::Copy: return;
        case Pattern::Scalar: {
            // Block partial sums then one block over them, as the backend does.
            const u64 blocks = std::min<u64>(std::max<u64>((n + 1023) / 1024, 1), 1024);
            auto partial = poisoned<T>(blocks), y = poisoned<T>(1);
            launch({(unsigned)blocks}, {256}, [&] { K<T>::sum_all(x.data(), partial.data(), n); });
            if (blocks == 1) y = partial;
            else launch({1}, {256}, [&] { K<T>::sum_all(partial.data(), y.data(), blocks); });
            expect(c, index, "sum_all", y, arith_tol<T>());
            break;
        }
        case Pattern::Rows: {
            // Column sums in row chunks, then over the chunks: one chunk, and several.
            for (u64 want_chunks : {(u64)1, (u64)3}) {
                const u64 rpc = std::max<u64>(1, (p.r + want_chunks - 1) / want_chunks), chunks = (p.r + rpc - 1) / rpc;
                const unsigned col_blocks = (unsigned)((p.c + 31) / 32);
                auto first = poisoned<T>(chunks * p.c), y = poisoned<T>(p.c);
                launch({col_blocks, (unsigned)chunks}, {32, 8}, [&] { K<T>::sum_cols(x.data(), first.data(), p.r, p.c, rpc); });
                if (chunks == 1) y = first;
                else launch({col_blocks, 1}, {32, 8}, [&] { K<T>::sum_cols(first.data(), y.data(), chunks, p.c, chunks); });
                expect(c, index, "sum_cols in " + std::to_string(chunks) + " chunk(s)", y, arith_tol<T>());
            }
            break;
        }
        case Pattern::Cols: {
            auto y = poisoned<T>(p.r);
            launch({(unsigned)std::max<u64>(1, std::min<u64>((p.r + 7) / 8, 32))}, {256}, [&] { K<T>::sum_rows(x.data(), y.data(), p.r, p.c); });
            expect(c, index, "sum_rows", y, arith_tol<T>());
            break;
        }
        case Pattern::Strided: run_strided(p, "sum_strided"); break;
    }
    run_strided(unmerged(small, big), "sum_strided (unmerged axes)");
}

template <typename T> void replay_matmul(const Case& c, int index) {
    const int m = (int)c.ints[0], k = (int)c.ints[1], n = (int)c.ints[2];
    const bool ta = c.ints[3], tb = c.ints[4];
    auto a = as<T>(c.inputs[0]), b = as<T>(c.inputs[1]);
    const int vec_a = ta ? m % 4 == 0 : k % 4 == 0, vec_b = tb ? k % 4 == 0 : n % 4 == 0, vec_c = n % 4 == 0;
    for (auto [tiling, gemm] : gemms((T*)nullptr, ta, tb)) {
        const int tile = std::string(tiling) == "small" ? 64 : 128;
        for (int want_splits : {1, 3}) {
            // plan_gemm's K chunking: a multiple of 16 per split.
            const int k_chunk = std::max(1, ((k + want_splits - 1) / want_splits + 15) / 16) * 16;
            const int splits = std::max(1, (k + k_chunk - 1) / k_chunk);
            if (want_splits > 1 && splits == 1) continue;
            auto y = poisoned<T>((size_t)m * n), part = poisoned<T>((size_t)splits * m * n);
            T* out = splits == 1 ? y.data() : part.data();
            launch({(unsigned)((n + tile - 1) / tile), (unsigned)((m + tile - 1) / tile), (unsigned)splits}, {256},
                   [&] { gemm(a.data(), b.data(), out, m, n, k, k_chunk, vec_a, vec_b, vec_c); });
            if (splits > 1) launch(grid_1d((u64)m * n), {256}, [&] { K<T>::splitk_reduce(part.data(), y.data(), (u64)m * n, splits); });
            expect(c, index, std::string("matmul_") + tiling + "_" + (ta ? "t" : "n") + (tb ? "t" : "n") + " split-K " + std::to_string(splits), y, arith_tol<T>());
        }
    }
}

template <typename T> void replay(const Case& c, int index) {
    auto x = as<T>(c.inputs[0]);
    const u64 n_in = c.inputs[0].size(), n_out = c.output.size();
    auto y = poisoned<T>(n_out);
    // One thread per 16-byte vector, as storage.rs launches the unary kernels.
    const dim3 vec_grid = grid_1d((n_in + 16 / sizeof(T) - 1) / (16 / sizeof(T)));
    if (auto f = K<T>::unary(c.name)) {
        // Unary::params: powi's exponent, affine's mul and add, clamp's bounds; else 0.
        const double a = !c.ints.empty() ? (double)c.ints[0] : !c.floats.empty() ? c.floats[0] : 0;
        const double b = c.floats.size() > 1 ? c.floats[1] : 0;
        launch(vec_grid, {256}, [&] { f(x.data(), y.data(), n_in, a, b); });
        expect(c, index, c.name + "_" + K<T>::name, y, arith_tol<T>());
    } else if (c.name == "where") {
        auto a = as<T>(c.inputs[1]), b = as<T>(c.inputs[2]);
        launch(grid_1d(n_out), {256}, [&] { K<T>::where(x.data(), a.data(), b.data(), y.data(), n_out); });
        expect(c, index, std::string("where_") + K<T>::name, y, 0);
    } else if (c.name == "permute") {
        // layout::permuted: the output's axes with the input's strides, size-1
        // axes dropped, an axis merged into the previous one where it steps over it exactly.
        const size_t rank = c.ints[0];
        std::vector<u64> dims(c.ints.begin() + 1, c.ints.begin() + 1 + rank), strides(rank, 1);
        std::vector<size_t> axes(c.ints.begin() + 1 + rank, c.ints.begin() + 1 + 2 * rank);
        for (size_t a = rank - 1; a-- > 0;) strides[a] = strides[a + 1] * dims[a + 1];
        Layout l{};
        for (size_t a : axes) {
            if (dims[a] == 1) continue;
            if (l.rank > 0 && l.strides[l.rank - 1] == dims[a] * strides[a]) {
                l.dims[l.rank - 1] *= dims[a];
                l.strides[l.rank - 1] = strides[a];
            } else {
                l.dims[l.rank] = dims[a];
                l.strides[l.rank] = strides[a];
                ++l.rank;
            }
        }
        launch(grid_1d(n_out), {256}, [&] { K<T>::broadcast_strided(x.data(), y.data(), n_out, l); });
        expect(c, index, std::string("permute via broadcast_strided_") + K<T>::name, y, 0);
    } else if (auto g = K<T>::binary(c.name)) {
        auto b = as<T>(c.inputs[1]);
        launch(vec_grid, {256}, [&] { g(x.data(), b.data(), y.data(), n_in); });
        expect(c, index, c.name + "_" + K<T>::name, y, arith_tol<T>());
    } else if (c.name == "broadcast" || c.name == "sum_to") {
        const size_t rs = c.ints[0], rb = c.ints[1];
        std::vector<u64> small(c.ints.begin() + 2, c.ints.begin() + 2 + rs), big(c.ints.begin() + 2 + rs, c.ints.begin() + 2 + rs + rb);
        if (c.name == "broadcast") replay_broadcast<T>(c, index, small, big);
        else replay_sum_to<T>(c, index, small, big);
    } else if (c.name == "max_axis") {
        launch(grid_1d(n_out), {256}, [&] { K<T>::max_axis(x.data(), y.data(), c.ints[0], c.ints[1], c.ints[2]); });
        expect(c, index, "max_axis", y, 0);
    } else if (c.name == "transpose") {
        const u64 r = c.ints[0], cols = c.ints[1];
        const unsigned tiles = (unsigned)std::min<u64>(((r + 31) / 32) * ((cols + 31) / 32), 32);
        launch({tiles}, {32, 8}, [&] { K<T>::transpose(x.data(), y.data(), r, cols); });
        expect(c, index, "transpose", y, 0);
    } else if (c.name == "slice_axis" || c.name == "pad_axis") {
        auto f = c.name == "slice_axis" ? K<T>::slice_axis : K<T>::pad_axis;
        launch(grid_1d(n_out), {256}, [&] { f(x.data(), y.data(), c.ints[0], c.ints[1], c.ints[2], c.ints[3], c.ints[4]); });
        expect(c, index, c.name, y, 0);
    } else if (c.name == "gather_rows") {
        const u64 inner = c.ints[1];
        std::vector<unsigned> idx(c.ints.begin() + 2, c.ints.end());
        launch(grid_1d(n_out), {256}, [&] { K<T>::gather_rows(x.data(), y.data(), idx.data(), idx.size(), inner); });
        expect(c, index, "gather_rows", y, 0);
    } else if (c.name == "scatter_add_rows") {
        // layout::scatter_csr: offsets per output row, then the source rows in ascending order.
        const u64 rows = c.ints[0], inner = c.ints[1];
        std::vector<unsigned> idx(c.ints.begin() + 2, c.ints.end()), csr(rows + 1, 0);
        for (unsigned i : idx) ++csr[i + 1];
        for (u64 r = 0; r < rows; ++r) csr[r + 1] += csr[r];
        std::vector<unsigned> next(csr.begin(), csr.end());
        csr.resize(rows + 1 + idx.size());
        for (size_t s = 0; s < idx.size(); ++s) csr[rows + 1 + next[idx[s]]++] = (unsigned)s;
        launch(grid_1d(n_out), {256}, [&] { K<T>::scatter_add_rows(x.data(), y.data(), csr.data(), rows, inner); });
        expect(c, index, "scatter_add_rows", y, arith_tol<T>());
    } else if (c.name == "matmul") {
        replay_matmul<T>(c, index);
    } else {
        ++failures;
        std::printf("FAIL case %d: no replay for op `%s`\n", index, c.name.c_str());
    }
}

static std::vector<double> read_values(std::ifstream& in, const char* tag, const std::string& name) {
    std::string word;
    size_t n = 0;
    in >> word >> n;
    if (word != tag) {
        std::fprintf(stderr, "replay: case %s: expected `%s`, read `%s`\n", name.c_str(), tag, word.c_str());
        std::exit(2);
    }
    std::vector<double> v(n);
    for (auto& x : v) {
        in >> word;
        x = std::strtod(word.c_str(), nullptr);
    }
    return v;
}

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: replay CASES_FILE (from `cargo run --example emu_cases -- CASES_FILE`)\n");
        return 2;
    }
    std::ifstream in(argv[1]);
    std::string word;
    int cases = 0;
    while (in >> word) {
        Case c;
        in >> c.name >> c.dtype;
        for (double v : read_values(in, "ints", c.name)) c.ints.push_back((long long)v);
        c.floats = read_values(in, "floats", c.name);
        const int arity = c.name == "where" ? 3 : c.name == "matmul" || K<float>::binary(c.name) ? 2 : 1;
        for (int i = 0; i < arity; ++i) c.inputs.push_back(read_values(in, "in", c.name));
        c.output = read_values(in, "out", c.name);
        if (c.dtype == "f32") replay<float>(c, cases);
        else replay<double>(c, cases);
        ++cases;
    }
    if (cases == 0) {
        std::printf("replay: no cases in %s\n", argv[1]);
        return 1;
    }
    std::printf("replay: %d random cases from the CPU backend, %d kernel outputs compared\n", cases, comparisons);
    std::printf("%d passed, %d failed\n", comparisons - failures, failures);
    return failures == 0 ? 0 : 1;
}
