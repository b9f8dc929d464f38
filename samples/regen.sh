#!/bin/sh
# samples/regen.sh -- regenerate every sample's weights, test data and reference numbers.
# Deterministic: running it twice gives byte-identical files.  Needs Debian's python3 with
# python3-numpy and python3-sklearn (no pip packages, no torch).  Takes ~10 seconds.
set -eu
cd "$(dirname "$0")"
PY=${PYTHON:-/usr/bin/python3}
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 PYTHONDONTWRITEBYTECODE=1
echo "== mlp";         "$PY" mlp/train.py
echo "== cnn";         "$PY" cnn/train.py
echo "== transformer"; "$PY" transformer/make_weights.py
