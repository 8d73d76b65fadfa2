#!/usr/bin/env python3
"""The summary table of benches/cpu-steps.sh: reads the outputs it kept in one folder and prints,
for each step, gradgrad's and PyTorch's (same algorithm) median ms over the rounds, the median
over the rounds of each round's ratio (PyTorch / gradgrad: above 1, gradgrad is faster) with its
quartiles, and vmap(jacrev), the generic exact method, where pytorch_steps.py has it.
    python3 benches/cpu_steps_table.py FOLDER [THREADS]
Files: conditional-{gradgrad,torch}-R (conditional_step.rs, pytorch_trainer_step.py: lines
`objective timing ms images/s`), mlp-L-gradgrad-R (trace_table.rs: `strategy D hidden batch ms
MB`), mlp-L-torch-R and mlp-vmap-L (pytorch_steps.py: `objective ms images/s`); L is the number
of hidden layers, R the round: the two files of one round were timed back to back."""
import re
import statistics
import sys
from pathlib import Path

CONDITIONAL = re.compile(r"^(dsm|exact|ssm-vr)\s+(grad|trainer step)\s+([\d.]+)\s")
NUMBER = re.compile(r"^[\d.]+$")


def conditional(path):
    """{(objective, timing): ms} from conditional_step.rs's or pytorch_trainer_step.py's table."""
    rows = {}
    for line in path.read_text().splitlines():
        if m := CONDITIONAL.match(line):
            rows[(m[1], m[2])] = float(m[3])
    return rows


def named_ms(column):
    """A reader of {name: ms} from a table whose rows are a name then numbers, ms in `column`
    (0-based, the name being column 0)."""

    def read(path):
        rows = {}
        for line in path.read_text().splitlines():
            words = line.split()
            if len(words) > column and all(NUMBER.match(w) for w in words[1:]):
                rows[words[0]] = float(words[column])
        return rows

    return read


def by_round(folder, prefix, read):
    """{round: table} from the files `prefix-R`."""
    return {int(path.name.rsplit("-", 1)[1]): read(path) for path in folder.glob(f"{prefix}-*")}


def quartiles(values):
    """(lower quartile, median, upper quartile)."""
    if len(values) < 2:
        return values[0], values[0], values[0]
    low, mid, high = statistics.quantiles(values, n=4)
    return low, mid, high


def compare(ours, theirs, our_key, their_key):
    """(gradgrad median ms, PyTorch median ms, ratio quartiles) over the rounds both sides have."""
    rounds = [r for r in ours if our_key in ours[r] and r in theirs and their_key in theirs[r]]
    if not rounds:
        return None
    mine = [ours[r][our_key] for r in rounds]
    other = [theirs[r][their_key] for r in rounds]
    ratios = sorted(t / g for g, t in zip(mine, other))
    return statistics.median(mine), statistics.median(other), quartiles(ratios), len(rounds)


def main():
    folder = Path(sys.argv[1])
    threads = sys.argv[2] if len(sys.argv) > 2 else "2"
    rows = []  # (step, comparison or None, vmap ms or None)
    ours = by_round(folder, "conditional-gradgrad", conditional)
    theirs = by_round(folder, "conditional-torch", conditional)
    for objective in ("dsm", "exact", "ssm-vr"):
        for timing in ("grad", "trainer step"):
            key = (objective, timing)
            rows.append((f"trainer 784→1024→1024→784 b128 {objective} [{timing}]", compare(ours, theirs, key, key), None))
    for layers, same in ((1, "closed-form"), (2, "rotated")):
        arch = "→".join(["784"] + ["512"] * layers + ["784"])
        ours = by_round(folder, f"mlp-{layers}-gradgrad", named_ms(4))
        theirs = by_round(folder, f"mlp-{layers}-torch", named_ms(1))
        vmap_file = folder / f"mlp-vmap-{layers}"
        vmap = named_ms(1)(vmap_file).get("vmap-jacrev") if vmap_file.exists() else None
        for label, gradgrad, torch, generic in (
            (f"exact ({same} trace)", "structure-aware", same, vmap),
            ("ssm-vr", "ssm_vr", "ssm_vr", None),
            ("dsm", "dsm", "dsm", None),
        ):
            rows.append((f"softplus {arch} b64 {label}", compare(ours, theirs, gradgrad, torch), generic))

    print(f"{'step':<56} {'gradgrad ms':>12} {'PyTorch ms':>11} {'PyTorch/gg':>11} {'quartiles':>12} {'vmap(jacrev) ms':>16}")
    for step, c, generic in rows:
        generic = f"{generic:.2f}" if generic is not None else "-"
        if c is None:
            print(f"{step:<56} {'-':>12} {'-':>11} {'-':>11} {'-':>12} {generic:>16}")
            continue
        mine, other, (low, mid, high), _ = c
        print(f"{step:<56} {mine:>12.2f} {other:>11.2f} {mid:>10.2f}× {f'{low:.2f}–{high:.2f}':>12} {generic:>16}")
    counts = sorted({c[3] for _, c, _ in rows if c})
    print(f"PyTorch ms: the same algorithm in torch ops (torch_same_algorithm.py); f32, {threads} thread(s) each; each side's")
    print(f"median over {'/'.join(map(str, counts))} rounds; PyTorch/gg: the median of the rounds' ratios (each round times both")
    print("sides back to back), above 1: gradgrad is faster; quartiles: the ratios' lower and upper quartiles.")


if __name__ == "__main__":
    main()
