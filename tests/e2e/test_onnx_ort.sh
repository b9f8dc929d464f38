#!/bin/sh
# tests/e2e/test_onnx_ort.sh -- differential test of the ONNX frontend on real exported
# models (tests/onnx/models, made by export.py): each runs through `kiln run X.onnx
# --backend=c --compare=interp` on its committed inputs, and kiln's outputs must match ONNX
# Runtime's within |a - b| <= 1e-4 + 1e-3 |ref|.  ORT runs live when a python3 can import
# onnxruntime (pip install onnxruntime onnx numpy); otherwise the committed ORT reference
# outputs are used.  The output says which.
# usage: sh test_onnx_ort.sh KILN SOURCE_DIR BUILD_DIR
set -eu
KILN=$1
SRC=$2
M=$SRC/tests/onnx/models
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT INT TERM

fail() { echo "FAIL: $*" >&2; exit 1; }

# the first python3 that can import $1
find_python() {
    for py in ${PYTHON:-} python3 /usr/bin/python3; do
        if command -v "$py" >/dev/null 2>&1 && "$py" -c "import $1" >/dev/null 2>&1; then
            echo "$py"
            return 0
        fi
    done
    return 1
}

PY=$(find_python numpy) || fail "no python3 with numpy (apt-get install python3-numpy)"
if ORT_PY=$(find_python onnxruntime); then
    echo "reference: ONNX Runtime, run live ($ORT_PY: onnxruntime $("$ORT_PY" -c \
'import onnxruntime; print(onnxruntime.__version__)'))"
else
    ORT_PY=""
    echo "reference: committed ONNX Runtime outputs (tests/onnx/models/*/ref; no python3" \
         "with onnxruntime: pip install onnxruntime onnx numpy)"
fi

# model [extra kiln options...]
run_model() {
    m=$1
    shift
    [ -f "$M/$m.onnx" ] || fail "missing fixture $M/$m.onnx"
    ins=""
    feeds=""                         # the same as NAME=FILE words for ort_run.py
    for f in "$M/$m"/*.npy; do
        ins="$ins --input $(basename "$f" .npy)=$f"
        feeds="$feeds $(basename "$f" .npy)=$f"
    done
    echo "check: $m"
    # shellcheck disable=SC2086  # $ins is a list of words without blanks inside
    "$KILN" run "$M/$m.onnx" "$@" $ins -o "$T/$m" --backend=c --compare=interp \
        >"$T/$m.log" 2>&1 || { cat "$T/$m.log" >&2; fail "$m: kiln run failed"; }
    grep -E "max abs error|compare:" "$T/$m.log"
    ref=$M/$m/ref
    if [ -n "$ORT_PY" ]; then
        ref=$T/ort_$m
        # shellcheck disable=SC2086
        "$ORT_PY" "$M/ort_run.py" "$M/$m.onnx" "$ref" $feeds \
            || fail "$m: onnxruntime failed"
    fi
    echo "  vs ONNX Runtime:"
    "$PY" "$M/npy_compare.py" "$T/$m" "$ref" || fail "$m: kiln differs from ONNX Runtime"
}

run_model tiny_cnn
run_model mobile_block
run_model bert_layer
run_model gpt2_block
run_model qdq_convnet
run_model qlinear
run_model dyn_names --shape input.1=3x4
echo "ok: 7 models match ONNX Runtime"
