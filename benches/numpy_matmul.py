#!/usr/bin/env python3
"""numpy (OpenBLAS) matmul GFLOP/s on the shapes of `cargo bench --bench matmul`,
printed the same way: `<dtype> <m>x<k>·<k>x<n> <nn|tn|nt|tt> <GFLOP/s>`.

    python3 -m pip install numpy threadpoolctl
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=2 python3 benches/numpy_matmul.py

Some machines set OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, which slow a current
numpy down; unset both for this command only (as above) and check the kernel
that threadpoolctl reports. `benches/matmul_vs_numpy.sh` runs this beside the
engine's bench and prints one table.

`--torch` times `torch.matmul` (MKL on x86) on the same shapes instead, with
`torch.set_num_threads(OMP_NUM_THREADS or 2)`: the GEMM under PyTorch's steps.
    OMP_NUM_THREADS=2 ~/torchenv/bin/python benches/numpy_matmul.py --torch 128x 1024x128
"""
import os
import sys
import time
from pathlib import Path

import numpy as np


def shapes():
    """(name, dtype, m, k, n, transpose a, transpose b) for each line of matmul_shapes.txt,
    the list `cargo bench --bench matmul` reads too: `<dtype> <m>x<k>·<k>x<n> <op>`."""
    path = Path(__file__).with_name("matmul_shapes.txt")
    for name in path.read_text(encoding="utf-8").splitlines():
        if not name or name.startswith("#"):
            continue
        dtype, product, op = name.split(" ")
        left, right = product.split("·")
        (m, k), (k2, n) = (map(int, left.split("x")), map(int, right.split("x")))
        if k != k2 or dtype not in ("f32", "f64") or len(op) != 2 or set(op) - {"n", "t"}:
            raise SystemExit(f"{path}: expected `<dtype> <m>x<k>·<k>x<n> <op>`, got {name!r}")
        yield name, dtype, m, k, n, op[0] == "t", op[1] == "t"


# MATMUL_CLOCK=cpu: CPU time of the process (all threads), as the Rust bench.
CLOCK = time.process_time if os.environ.get("MATMUL_CLOCK") == "cpu" else time.perf_counter


def cache_evictor():
    """Writes over 32 MiB, a slice per core from threads of its own (numpy
    releases the GIL in the loop), so that no core's L2 keeps the operands."""
    from concurrent.futures import ThreadPoolExecutor

    cores = os.cpu_count() or 1
    sweep = np.zeros(8 << 20, np.float32)
    pool = ThreadPoolExecutor(cores)
    parts = np.array_split(sweep, cores)
    return lambda: list(pool.map(lambda part: part.__iadd__(1.0), parts))


# MATMUL_COLD=1: caches evicted before each call, outside the time, and the
# fastest single call counts (as the Rust bench). One buffer and one pool for
# every shape.
EVICT = cache_evictor() if os.environ.get("MATMUL_COLD") == "1" else None


def best_seconds(budget, call):
    """Seconds per call: the best batch mean over about `budget` of wall time, or cold
    (MATMUL_COLD=1) the fastest single call after evicting the caches (as the Rust bench)."""
    if EVICT is not None:
        start, best = time.perf_counter(), float("inf")
        while time.perf_counter() - start < budget:
            EVICT()
            t0 = time.perf_counter()
            call()
            best = min(best, time.perf_counter() - t0)
        return best
    call()
    start, best = time.perf_counter(), float("inf")
    while time.perf_counter() - start < budget or best == float("inf"):
        wall, t0, reps = time.perf_counter(), CLOCK(), 0
        while time.perf_counter() - wall < budget / 5 or reps == 0:
            call()
            reps += 1
        best = min(best, (CLOCK() - t0) / reps)
    return best


def main():
    filters = [a for a in sys.argv[1:] if a != "--torch"]
    if "--torch" in sys.argv:
        import torch

        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
        print(f"# torch {torch.__version__} threads={torch.get_num_threads()}")
    try:
        from threadpoolctl import threadpool_info
        for pool in threadpool_info():
            print(f"# {pool.get('internal_api')} {pool.get('version')} {pool.get('architecture')} threads={pool.get('num_threads')}")
    except ImportError:
        pass
    rng = np.random.default_rng(0)
    for name, dtype, m, k, n, ta, tb in shapes():
        if filters and not any(f in name for f in filters):
            continue
        dt = np.float32 if dtype == "f32" else np.float64
        # A transposed operand is stored transposed and read through `.T`, as the engine reads it.
        a = rng.standard_normal((k, m) if ta else (m, k)).astype(dt)
        b = rng.standard_normal((n, k) if tb else (k, n)).astype(dt)
        a, b = (a.T if ta else a), (b.T if tb else b)
        if "--torch" in sys.argv:
            a, b = torch.from_numpy(a), torch.from_numpy(b)
        sec = best_seconds(1.0, lambda: a @ b)
        print(f"{name} {2 * m * k * n / sec / 1e9:.1f}", flush=True)


if __name__ == "__main__":
    main()
