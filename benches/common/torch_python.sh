# Sourced by the benches that run PyTorch beside gradgrad (cpu-steps.sh, op-profile.sh): sets
# `python` to TORCH_PYTHON, or to the first of ~/torchenv, /work/torchenv and python3 that
# imports torch, and prints the machine and torch's version; exits if none does.
python=${TORCH_PYTHON:-}
if [[ -z $python ]]; then
    for candidate in "$HOME/torchenv/bin/python" /work/torchenv/bin/python python3; do
        if command -v "$candidate" >/dev/null && "$candidate" -c 'import torch' 2>/dev/null; then
            python=$candidate
            break
        fi
    done
fi
if [[ -z $python ]] || ! "$python" -c 'import torch' 2>/dev/null; then
    echo "$(basename "$0"): no Python with torch found${python:+ (TORCH_PYTHON=$python cannot import torch)}; set TORCH_PYTHON" >&2
    exit 1
fi

echo "machine: $(lscpu | grep -m1 'Model name' | sed 's/Model name: *//'), $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "torch: $("$python" -c 'import torch; print(torch.__version__)') ($python)"
