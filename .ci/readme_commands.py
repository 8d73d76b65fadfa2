#!/usr/bin/env python3
"""Runs every command README.md shows, in a short form, so the README cannot go stale silently.

Commands are the lines of its ```sh blocks and its inline `cargo …`, `bash …` and `python …`
spans. Each is run as written with small sizes appended (a few training steps, tiny benches on
the dev profile), or, where it needs a GPU, PyTorch or a browser, checked as far as this machine
allows (the script's syntax) and reported as skipped. A command this script does not know fails
the check: a new README command needs a short form here.

Usage (from the repository root, after `cargo build --workspace --all-targets`):
    python3 .ci/readme_commands.py
"""
import re
import shutil
import shlex
import subprocess
import sys
import time
from pathlib import Path

OUT = Path("target/ci-readme")
RUN = OUT / "run"  # the short training run the later trainer commands continue and evaluate
# Small enough for seconds on two cores; the flags are the trainer's own.
TINY_TRAINING = ["--steps", "4", "--batch", "8", "--hidden", "16", "--layers", "1", "--samples", "16",
                 "--sampler-steps", "4", "--eval-every", "2", "--checkpoint-every", "2", "--device", "cpu"]
TINY_TRACE_TABLE = ["--quick", "--only", "16,8,4"]
TINY_CONDITIONAL = ["--dim", "16", "--hidden", "8", "--layers", "1", "--batch", "4"]


def readme_commands(text):
    """The README's commands in order of appearance, each once."""
    found = []
    in_sh = False
    for line in text.splitlines():
        if line.startswith("```"):
            in_sh = line.strip() == "```sh" and not in_sh
            continue
        if in_sh:
            command = line.split("  #")[0].strip()
            if command:
                found.append(command)
    # Inline spans, outside fenced blocks; a span may wrap across lines in the Markdown source.
    prose = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    for span in re.findall(r"`([^`]+)`", prose.replace("\n", " ")):
        span = " ".join(span.split())
        if re.match(r"(cargo|bash|python3?|~/torchenv/bin/python) ", span):
            found.append(span)
    return list(dict.fromkeys(found))


def short_form(command, mnist_ok):
    """(what to run, or None, and a note) for one README command."""
    words = shlex.split(command)
    if words[:3] == ["cargo", "run", "-p"] and words[3] == "trainer":
        args = words[5:] if words[4:5] == ["--"] else words[4:]
        if args == ["--help"]:
            return words, "as written"
        if not mnist_ok:
            return None, "skipped: MNIST could not be fetched"
        args = [str(RUN) + a[len("runs/<run>"):] if a.startswith("runs/<run>") else a for a in args]
        base = ["cargo", "run", "-p", "trainer", "--"]
        if args[:1] == ["eval"]:
            return base + args + ["--samples", "16", "--sampler-steps", "4"], "small sample"
        if args[:1] == ["--resume"]:
            return base + args + ["--steps", "6"], "two more steps"
        out = RUN if not args else OUT / "run-{}".format("-".join(a.strip("-") for a in args))
        return base + args + TINY_TRAINING + ["--out", str(out)], "tiny model, 4 steps"
    if words[:3] == ["cargo", "bench", "--bench"]:
        name, args = words[3], words[5:]
        if name == "trace_table":
            args = [a for a in args if a != "--quick"]
            if "--only" in args:
                i = args.index("--only")
                del args[i:i + 2]
            return ["cargo", "test", "--bench", name, "--"] + args + TINY_TRACE_TABLE, "dev profile, one tiny shape"
        if name == "conditional_step":
            args = ["2" if i > 0 and args[i - 1] == "--profile" else a for i, a in enumerate(args)]
            return ["cargo", "test", "--bench", name, "--"] + args + TINY_CONDITIONAL, "dev profile, a tiny model"
        return ["cargo", "test", "--bench", name], "criterion's test mode: each bench once, dev profile"
    if words[:2] == ["cargo", "run"] and "--example" in words:
        example = words[words.index("--example") + 1]
        if example == "diagonal_cost":
            return words + ["--", "--quick", str(OUT)], "tiny sizes"
        if example == "tape_graph":
            return words + ["--", str(OUT)], "into target/, not docs/guide/"
        return words, "as written"
    if words[:2] == ["cargo", "doc"]:
        words = [w for w in words if w != "--open"]
        if words == ["cargo", "doc", "--workspace", "--no-deps"]:
            return None, "covered: .ci/run builds the workspace's docs with -D warnings"
        return words, "without --open"
    if words == ["cargo", "test", "--workspace"] or words[:3] == ["cargo", "test", "--doc"]:
        return None, "covered: .ci/run runs cargo test --workspace"
    if words[0] == "bash" and words[1].startswith("benches/gpu-check"):
        return ["bash", "-n", words[1]], "needs a GPU: syntax only"
    if words in (["bash", "benches/cpu-steps.sh"], ["bash", "benches/op-profile.sh"]):
        return ["bash", "-n", words[1]], "needs PyTorch and a quiet machine: syntax only"
    if words[0].endswith("python") or words[0].startswith("python"):
        script = next(w for w in words if w.endswith(".py"))
        parse = "import ast, sys; ast.parse(open(sys.argv[1], encoding='utf-8').read(), sys.argv[1])"
        return ["python3", "-c", parse, script], "needs PyTorch or numpy: syntax only"
    raise SystemExit(f"README command with no short form in .ci/readme_commands.py: {command}")


def main():
    commands = readme_commands(Path("README.md").read_text(encoding="utf-8"))
    shutil.rmtree(OUT, ignore_errors=True)  # the trainer refuses to train into an old run's folder
    OUT.mkdir(parents=True)
    # The trainer's data: where `cargo run -p trainer` looks first, fetched as it would be.
    mnist_ok = subprocess.run(["cargo", "run", "-q", "-p", "mnist", "--example", "fetch", "--", "data/mnist"]).returncode == 0
    if not mnist_ok:
        print("README check: MNIST could not be fetched: the trainer's training commands are skipped")
    failed = []
    for command in commands:
        run, note = short_form(command, mnist_ok)
        if run is None:
            print(f"README check: `{command}`: {note}")
            continue
        print(f"README check: `{command}` as `{shlex.join(run)}` ({note})", flush=True)
        start = time.monotonic()
        result = subprocess.run(run, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        took = time.monotonic() - start
        if result.returncode != 0:
            print(result.stdout[-4000:])
            print(f"README check: FAILED ({result.returncode}, {took:.0f} s)")
            failed.append(command)
        else:
            print(f"README check: ok ({took:.0f} s)")
    if failed:
        raise SystemExit("README commands that no longer run:\n  " + "\n  ".join(failed))


if __name__ == "__main__":
    main()
