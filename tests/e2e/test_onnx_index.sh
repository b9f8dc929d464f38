#!/bin/sh
# tests/e2e/test_onnx_index.sh -- the ONNX importer's indexing decompositions on models the
# node tests do not cover (Einsum in f32, attention forms, ellipsis; GatherND with
# batch_dims and negative indices; Compress with an axis; 3-D ReverseSequence), built by
# onnx_index.py with onnx.helper, with expected outputs from NumPy.  Each runs through
# `kiln run --backend=c --compare=interp` and `--backend=llvm`; bad models must fail at
# import with one located error, and out-of-range run-time indices must fail the run.
# usage: sh test_onnx_index.sh KILN SOURCE_DIR BUILD_DIR
set -eu
KILN=$1
SRC=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT INT TERM

fail() { echo "FAIL: $*" >&2; exit 1; }

PY=""
for py in ${PYTHON:-} python3 /usr/bin/python3; do
    if command -v "$py" >/dev/null 2>&1 && "$py" -c "import onnx, numpy" >/dev/null 2>&1; then
        PY=$py
        break
    fi
done
[ -n "$PY" ] || fail "no python3 with onnx and numpy (apt-get install python3-onnx python3-numpy)"

"$PY" "$SRC/tests/e2e/onnx_index.py" "$T" >"$T/cases" || fail "onnx_index.py failed"

# the --input words of model $1
inputs() {
    ins=""
    for f in "$T/$1/in"/*.npy; do
        ins="$ins --input $(basename "$f" .npy)=$f"
    done
    echo "$ins"
}

n=0
while read -r m; do
    for be in c llvm; do
        echo "check: $m ($be)"
        rm -rf "$T/$m/got"
        # shellcheck disable=SC2046  # inputs prints words without blanks inside
        "$KILN" run "$T/$m.onnx" $(inputs "$m") -o "$T/$m/got" --backend=$be \
            --compare=interp >"$T/$m.log" 2>&1 || { cat "$T/$m.log" >&2; fail "$m: kiln run failed"; }
        "$PY" "$SRC/tests/e2e/onnx_index.py" --compare "$T/$m/got" "$T/$m/ref" \
            || fail "$m ($be): kiln differs from the reference"
    done
    n=$((n + 1))
done <"$T/cases"
[ "$n" -ge 22 ] || fail "only $n models, expected 22"
echo "ok: $n indexing models match NumPy on the C and LLVM backends"

nbad=0
while read -r m op msg; do
    echo "check: $m is rejected"
    if "$KILN" run "$T/$m.onnx" -o "$T/$m.out" >"$T/$m.log" 2>&1; then
        fail "$m: kiln run succeeded, expected an error"
    fi
    want="$T/$m.onnx: error: node #0 ($op): $msg"
    grep -qxF "$want" "$T/$m.log" || { cat "$T/$m.log" >&2; fail "$m: expected '$want'"; }
    nbad=$((nbad + 1))
done <"$T/bad.txt"
[ "$nbad" -ge 7 ] || fail "only $nbad bad models, expected 7"
echo "ok: $nbad bad models rejected with located errors"

nrun=0
while read -r m; do
    for be in interp c; do
        echo "check: $m fails at run time ($be)"
        # shellcheck disable=SC2046
        if "$KILN" run "$T/$m.onnx" $(inputs "$m") -o "$T/$m.out" --backend=$be \
            >"$T/$m.log" 2>&1; then
            fail "$m ($be): kiln run succeeded, expected an index error"
        fi
        grep -q "out of range" "$T/$m.log" || { cat "$T/$m.log" >&2; fail "$m ($be): expected an index error"; }
    done
    nrun=$((nrun + 1))
done <"$T/run.txt"
[ "$nrun" -ge 2 ] || fail "only $nrun run-time cases, expected 2"
echo "ok: $nrun out-of-range run-time indices fail the run"
