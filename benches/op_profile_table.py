#!/usr/bin/env python3
"""The table of benches/op-profile.sh: per objective, the matmul time per step of each product
shape on each side (the lowest over the rounds), their ratio, and the step's wall time while
profiled.
    python3 benches/op_profile_table.py <dir of outputs> <threads> <steps>"""
import glob
import os
import sys


def read(path):
    """{shape: (ms, calls)} and the wall ms of one profiled run."""
    shapes, wall = {}, None
    for line in open(path):
        words = line.split()
        if len(words) == 4 and words[0] == "matmul":
            shapes[words[1]] = (float(words[2]), int(words[3]))
        elif len(words) == 2 and words[0] == "wall":
            wall = float(words[1])
    return shapes, wall


def lowest(paths):
    shapes, walls, totals = {}, [], []
    for path in paths:
        run, wall = read(path)
        for key, (ms, calls) in run.items():
            if key not in shapes or ms < shapes[key][0]:
                shapes[key] = (ms, calls)
        walls.append(wall)
        totals.append(sum(ms for ms, _ in run.values()))
    return shapes, min(totals), min(walls)


def main():
    out, threads, steps = sys.argv[1], sys.argv[2], sys.argv[3]
    objectives = sorted({os.path.basename(p).split(".")[1] for p in glob.glob(f"{out}/gradgrad.*")})
    print(f"\nms per grad step, profiled in place (mean of {steps} steps, lowest of the rounds), {threads} threads each")
    for objective in objectives:
        ours, our_total, our_wall = lowest(glob.glob(f"{out}/gradgrad.{objective}.*"))
        theirs, their_total, their_wall = lowest(glob.glob(f"{out}/torch.{objective}.*"))
        print(f"\n{objective}\n| matmul m×k·k×n | calls | gradgrad ms | PyTorch ms | PyTorch / gradgrad |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for key in sorted(set(ours) | set(theirs), key=lambda k: -max(ours.get(k, (0,))[0], theirs.get(k, (0,))[0])):
            (a, calls), (b, _) = ours.get(key, (float("nan"), 0)), theirs.get(key, (float("nan"), 0))
            print(f"| {key} | {calls} | {a:.2f} | {b:.2f} | {b / a:.2f}× |")
        print(f"| all matmuls | | {our_total:.2f} | {their_total:.2f} | {their_total / our_total:.2f}× |")
        print(f"| the step, while profiled | | {our_wall:.2f} | {their_wall:.2f} | {their_wall / our_wall:.2f}× |")


if __name__ == "__main__":
    main()
