#!/bin/sh
# tests/e2e/test_onnx_norm.sh -- the ONNX importer's LRN and MeanVarianceNormalization
# decompositions on models the node tests do not cover (LRN with an even size, a window
# wider than the channels, rank 3 and 5; MVN with custom and negative axes, rank 3 and 5, a
# constant slice), built by onnx_norm.py with onnx.helper, with expected outputs from its
# numpy code over the ONNX definitions.  Each runs through `kiln run --compare=interp` on
# the C and the LLVM backend; models with bad attributes or ranks must fail with one
# located error.
# usage: sh test_onnx_norm.sh KILN SOURCE_DIR BUILD_DIR
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

"$PY" "$SRC/tests/e2e/onnx_norm.py" "$T" >"$T/cases" || fail "onnx_norm.py failed"
n=0
while read -r m; do
    ins=""
    for f in "$T/$m/in"/*.npy; do
        ins="$ins --input $(basename "$f" .npy)=$f"
    done
    for be in c llvm; do
        echo "check: $m ($be)"
        rm -rf "$T/$m/got"
        # shellcheck disable=SC2086  # $ins is a list of words without blanks inside
        "$KILN" run "$T/$m.onnx" $ins -o "$T/$m/got" --backend=$be --compare=interp \
            >"$T/$m.log" 2>&1 || { cat "$T/$m.log" >&2; fail "$m: kiln run ($be) failed"; }
        grep -q "^compare: all outputs match" "$T/$m.log" ||
            { cat "$T/$m.log" >&2; fail "$m: $be and the interpreter disagree"; }
        "$PY" "$SRC/tests/e2e/onnx_norm.py" --compare "$T/$m/got" "$T/$m/ref" \
            || fail "$m: kiln ($be) differs from the reference"
        n=$((n + 1))
    done
done <"$T/cases"
[ "$n" -ge 18 ] || fail "only $n runs, expected 18"
echo "ok: $n normalisation runs match the reference"

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
