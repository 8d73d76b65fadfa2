#!/usr/bin/env python3
"""The chain of `cargo bench --bench deep_chain`, in PyTorch.

y <- 4*sigmoid(y) - 2 (sigmoid, mul, sub: three recorded ops per step), on an
f64 scalar that requires grad: built, differentiated (torch.autograd.grad),
differentiated again through a recorded first pass (create_graph=True), and
dropped, with each phase's wall and CPU time (CPU time per forward node) and
resident memory after it.
Prints the same table as the Rust bench.

    /work/torchenv/bin/python benches/deep_chain_torch.py --nodes 1000000 --threads 2
"""
import argparse
import gc
import time

import torch


def resident_mb():
    """Resident memory in MB (Linux: /proc/self/statm's second field, pages)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=10_000_000)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    steps = -(-args.nodes // 3)
    nodes = 3 * steps
    print(f"chain of {nodes} recorded ops ({steps} steps of y <- 4*sigmoid(y) - 2), f64 scalar, "
          f"torch {torch.__version__}, {args.threads} threads, start: {resident_mb():.0f} MB resident")
    print("| phase | wall s | CPU s | CPU ns per forward node | resident MB after |")
    print("| --- | ---: | ---: | ---: | ---: |")

    def row(phase, f):
        start, cpu_start = time.perf_counter(), time.process_time()
        result = f()
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        print(f"| {phase} | {wall:.2f} | {cpu:.2f} | {cpu * 1e9 / nodes:.0f} | {resident_mb():.0f} |", flush=True)
        return result

    x = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)

    def build():
        y = x
        for _ in range(steps):
            y = torch.sigmoid(y) * 4.0 - 2.0
        return y

    # First order: one plain backward pass.
    graph = {"y": row("build", build)}
    dy = row("grad", lambda: torch.autograd.grad(graph["y"], x)[0])
    row("drop", lambda: graph.clear())
    # Second order: the first pass recorded, then differentiated.
    graph["y"] = row("build", build)
    graph["dy"] = row("grad, create_graph", lambda: torch.autograd.grad(graph["y"], x, create_graph=True)[0])
    d2y = row("grad of grad", lambda: torch.autograd.grad(graph["dy"], x)[0])
    row("drop both graphs", lambda: graph.clear())
    gc.collect()
    print(f"dy/dx = {dy.item():.6e}, d2y/dx2 = {d2y.item():.6e}; final: {resident_mb():.0f} MB resident")


if __name__ == "__main__":
    main()
