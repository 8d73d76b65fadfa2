#!/usr/bin/env python3
"""numpy (OpenBLAS) f32 matmul GFLOP/s on the same shapes as `cargo bench --bench matmul`.

    python3 -m pip install numpy threadpoolctl
    OPENBLAS_NUM_THREADS=2 python3 benches/numpy_matmul.py

Some machines set OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, which slow a current
numpy down; unset both for this command only (`env -u OPENBLAS_CORETYPE -u
OPENBLAS_L2_SIZE ...`) and check the kernel threadpoolctl reports.
"""
import time

import numpy as np

try:
    from threadpoolctl import threadpool_info
    for pool in threadpool_info():
        print(f"{pool.get('internal_api')} {pool.get('version')} {pool.get('architecture')} threads={pool.get('num_threads')}")
except ImportError:
    pass

SHAPES = [(256, 256, 256), (512, 512, 512), (1024, 1024, 1024), (64, 784, 512), (64, 512, 784), (50176, 512, 512)]
rng = np.random.default_rng(0)
for m, k, n in SHAPES:
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    a @ b
    reps, t = 0, time.perf_counter()
    while time.perf_counter() - t < 2.0:
        a @ b
        reps += 1
    sec = (time.perf_counter() - t) / reps
    print(f"{m}x{k} · {k}x{n}: {2 * m * k * n / sec / 1e9:7.1f} GFLOP/s")
