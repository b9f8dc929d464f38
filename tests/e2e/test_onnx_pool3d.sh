#!/bin/sh
# tests/e2e/test_onnx_pool3d.sh -- the ONNX importer's window decompositions on models the
# node tests do not cover (3-D Conv / ConvTranspose, 3-D AveragePool with pads,
# count_include_pad and ceil_mode, MaxPool with dilations, i8/u8 and Indices), built by
# onnx_pool3d.py with onnx.helper, with expected outputs from its numpy loops over the ONNX
# definitions.  Each runs through `kiln run --backend=c --compare=interp`; models with bad or
# unsupported window attributes must fail with one located error.
# usage: sh test_onnx_pool3d.sh KILN SOURCE_DIR BUILD_DIR
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

"$PY" "$SRC/tests/e2e/onnx_pool3d.py" "$T" >"$T/cases" || fail "onnx_pool3d.py failed"
n=0
while read -r m; do
    echo "check: $m"
    ins=""
    for f in "$T/$m/in"/*.npy; do
        ins="$ins --input $(basename "$f" .npy)=$f"
    done
    # shellcheck disable=SC2086  # $ins is a list of words without blanks inside
    "$KILN" run "$T/$m.onnx" $ins -o "$T/$m/got" --backend=c --compare=interp \
        >"$T/$m.log" 2>&1 || { cat "$T/$m.log" >&2; fail "$m: kiln run failed"; }
    "$PY" "$SRC/tests/e2e/onnx_pool3d.py" --compare "$T/$m/got" "$T/$m/ref" \
        || fail "$m: kiln differs from the reference"
    n=$((n + 1))
done <"$T/cases"
[ "$n" -ge 16 ] || fail "only $n models, expected 16"
echo "ok: $n window models match the reference"

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
[ "$nbad" -ge 8 ] || fail "only $nbad bad models, expected 8"
echo "ok: $nbad bad models rejected with located errors"
