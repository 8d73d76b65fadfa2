#!/usr/bin/env python3
"""The summary table of benches/cpu-steps.sh: reads the outputs it kept in one folder and prints
step, gradgrad ms, PyTorch same-algorithm ms (each side's lowest median over the rounds), their
ratio (PyTorch / gradgrad: above 1, gradgrad is faster), each side's spread over the rounds
(highest median / lowest) and vmap(jacrev), the generic exact method, where pytorch_steps.py has it.
    python3 benches/cpu_steps_table.py FOLDER [THREADS]
Files: conditional-{gradgrad,torch}-{1,2,…} (conditional_step.rs, pytorch_trainer_step.py: lines
`objective timing ms images/s`), mlp-gradgrad-L-{1,2,…} (trace_table.rs: `strategy D hidden
batch ms MB`), mlp-torch-L-{1,2,…} and mlp-vmap-L (pytorch_steps.py: `objective ms images/s`);
L is the number of hidden layers, the last number the round."""
import re
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


def named_ms(path, column):
    """{name: ms} from a table whose rows are a name then numbers, ms in `column` (0-based,
    the name being column 0)."""
    rows = {}
    for line in path.read_text().splitlines():
        words = line.split()
        if len(words) > column and all(NUMBER.match(w) for w in words[1:]):
            rows[words[0]] = float(words[column])
    return rows


def rounds(*tables):
    """Each key's (lowest, highest / lowest) over the tables that have it."""
    keys = {k for t in tables for k in t}
    values = {k: [t[k] for t in tables if k in t] for k in keys}
    return {k: (min(v), max(v) / min(v)) for k, v in values.items()}


def main():
    folder = Path(sys.argv[1])
    threads = sys.argv[2] if len(sys.argv) > 2 else "2"
    rows = []  # (step, (gradgrad ms, spread), (torch ms, spread), vmap ms or None)
    ours = rounds(*(conditional(path) for path in sorted(folder.glob("conditional-gradgrad-*"))))
    theirs = rounds(*(conditional(path) for path in sorted(folder.glob("conditional-torch-*"))))
    for objective in ("dsm", "exact", "ssm-vr"):
        for timing in ("grad", "trainer step"):
            key = (objective, timing)
            rows.append((f"trainer 784→1024→1024→784 b128 {objective} [{timing}]", ours.get(key), theirs.get(key), None))
    for layers, same in ((1, "closed-form"), (2, "rotated")):
        arch = "→".join(["784"] + ["512"] * layers + ["784"])
        ours = rounds(*(named_ms(path, 4) for path in sorted(folder.glob(f"mlp-gradgrad-{layers}-*"))))
        theirs = rounds(*(named_ms(path, 1) for path in sorted(folder.glob(f"mlp-torch-{layers}-*"))))
        vmap = named_ms(folder / f"mlp-vmap-{layers}", 1).get("vmap-jacrev")
        for label, gradgrad, torch, generic in (
            (f"exact ({same} trace)", "structure-aware", same, vmap),
            ("ssm-vr", "ssm_vr", "ssm_vr", None),
            ("dsm", "dsm", "dsm", None),
        ):
            rows.append((f"softplus {arch} b64 {label}", ours.get(gradgrad), theirs.get(torch), generic))

    def ms(v):
        return f"{v:.2f}" if v is not None else "-"

    def spread(v):
        return f"{v[1]:.2f}" if v is not None else "-"

    print(f"{'step':<56} {'gradgrad ms':>12} {'PyTorch ms':>11} {'PyTorch/gg':>11} {'spread gg':>10} {'spread pt':>10} {'vmap(jacrev) ms':>16}")
    for step, gradgrad, torch, generic in rows:
        ratio = f"{torch[0] / gradgrad[0]:.2f}×" if gradgrad and torch else "-"
        print(f"{step:<56} {ms(gradgrad and gradgrad[0]):>12} {ms(torch and torch[0]):>11} {ratio:>11} {spread(gradgrad):>10} {spread(torch):>10} {ms(generic):>16}")
    print(f"PyTorch ms: the same algorithm in torch ops (torch_same_algorithm.py); f32, {threads} thread(s) each; each side's lowest")
    print("median over the rounds; spread: its highest median / lowest; ratio above 1: gradgrad is faster.")


if __name__ == "__main__":
    main()
