#!/bin/sh
# tests/e2e/test_onnx_import.sh -- .onnx models on the kiln command line: `kiln import`
# writes a .kiln + .safetensors pair that parses back and computes what the .onnx does
# (every fixture of tests/onnx/models), with valid renamed identifiers, deterministically
# and all-or-nothing; `dump` and `compile` read .onnx; --shape and its errors.
# usage: sh test_onnx_import.sh KILN SOURCE_DIR BUILD_DIR
set -eu
KILN=$1
SRC=$2
case $KILN in /*) ;; *) KILN=$(pwd)/$KILN ;; esac     # one check runs in another folder
M=$SRC/tests/onnx/models
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT INT TERM

check() { echo "check: $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

# expect_status CODE CMD...: runs CMD with stdout in $T/out and stderr in $T/err
expect_status() {
    want=$1
    shift
    set +e
    "$@" >"$T/out" 2>"$T/err"
    got=$?
    set -e
    if [ "$got" != "$want" ]; then
        cat "$T/err" >&2
        fail "'$*' exited $got, expected $want"
    fi
}

expect_err() {   # the last command's stderr holds this fixed string
    grep -qF -- "$1" "$T/err" || { cat "$T/err" >&2; fail "stderr lacks: $1"; }
}

expect_empty_dir() {
    [ ! -e "$1" ] || [ -z "$(ls -A "$1")" ] || fail "a failed import left files in $1: $(ls "$1")"
}

PY=""
for py in ${PYTHON:-} python3 /usr/bin/python3; do
    if command -v "$py" >/dev/null 2>&1 && "$py" -c "import numpy" >/dev/null 2>&1; then
        PY=$py
        break
    fi
done
[ -n "$PY" ] || fail "no python3 with numpy (apt-get install python3-numpy)"

check "kiln --help and kiln import --help document import and --shape"
expect_status 0 "$KILN" --help
grep -q "^  import " "$T/out" || fail "kiln --help does not list import"
expect_status 0 "$KILN" import --help
grep -q "^usage: kiln import " "$T/out" || fail "kiln import --help has no usage line"
grep -q -- "--shape NAME=DIMS" "$T/out" || fail "kiln import --help lacks --shape"

# model [--shape ...]: import, run both forms with the interpreter, compare
round_trip() {
    m=$1
    shift
    check "import $m: the .kiln parses back and gives the .onnx's outputs"
    expect_status 0 "$KILN" import "$M/$m.onnx" "$@" -o "$T/imp/$m.kiln"
    [ -s "$T/imp/$m.kiln" ] && [ -s "$T/imp/$m.safetensors" ] || fail "$m: files missing"
    onnx_in=""
    kiln_in=""
    for f in "$M/$m"/*.npy; do
        b=$(basename "$f" .npy)
        onnx_in="$onnx_in --input $b=$f"
        kiln_in="$kiln_in --input $(echo "$b" | tr . _)=$f"   # input.1 is renamed input_1
    done
    # shellcheck disable=SC2086  # word lists without blanks inside
    expect_status 0 "$KILN" run "$M/$m.onnx" "$@" $onnx_in -o "$T/o_onnx/$m"
    # shellcheck disable=SC2086
    expect_status 0 "$KILN" run "$T/imp/$m.kiln" $kiln_in -o "$T/o_kiln/$m"
    for f in "$T/o_onnx/$m"/*.npy; do            # output out.0 is renamed out_0
        b=$(basename "$f" .npy)
        [ "$b" = "$(echo "$b" | tr . _)" ] || mv "$f" "$T/o_onnx/$m/$(echo "$b" | tr . _).npy"
    done
    "$PY" "$M/npy_compare.py" "$T/o_kiln/$m" "$T/o_onnx/$m" 1e-6 1e-5 \
        || fail "$m: the imported .kiln computes something else"
}

for m in tiny_cnn mobile_block bert_layer gpt2_block qdq_convnet qlinear; do
    round_trip "$m"
done
round_trip dyn_names --shape input.1=3x4

check "import renames what is not a .kiln identifier, keeps dotted names"
for want in "model dyn_names(input_1: f32[3, 4]) -> (out_0) {" \
            "weights \"dyn_names.safetensors\"" \
            "param layer_.0._5.weight: f32[4, 8]" "param model_.bias: f32[8]" \
            "param onnx__MatMul_7: f32[8, 3]" "param v1e5: f32[]" \
            "return (out_0 = out_0)"; do
    grep -qF -- "$want" "$T/imp/dyn_names.kiln" \
        || { cat "$T/imp/dyn_names.kiln"; fail "lacks: $want"; }
done
grep -qF "param head.0._1.weight: f32[10, 8]" "$T/imp/tiny_cnn.kiln" || fail "tiny_cnn names"
check "quantized weights are stored dequantized and re-quantized in the source"
grep -qF "let conv_w_q = quantize(conv.w_q, bits=8, signed=1, scale=[" "$T/imp/qdq_convnet.kiln" \
    || { cat "$T/imp/qdq_convnet.kiln"; fail "qdq_convnet: no quantize of conv.w_q"; }
grep -q "param xs" "$T/imp/qdq_convnet.kiln" && fail "a constant no output needs was written"

check "import is deterministic"
expect_status 0 "$KILN" import "$M/bert_layer.onnx" -o "$T/again/bert_layer.kiln"
cmp "$T/imp/bert_layer.kiln" "$T/again/bert_layer.kiln" || fail ".kiln differs between runs"
cmp "$T/imp/bert_layer.safetensors" "$T/again/bert_layer.safetensors" || fail "weights differ"

check "import without -o writes <model>.kiln in the current folder"
mkdir "$T/cwd"
(cd "$T/cwd" && "$KILN" import "$M/tiny_cnn.onnx" >/dev/null 2>&1) || fail "import without -o"
[ -s "$T/cwd/tiny_cnn.kiln" ] && [ -s "$T/cwd/tiny_cnn.safetensors" ] || fail "no default files"

check "a truncated model: exit 1, located error, no files"
head -c 3000 "$M/tiny_cnn.onnx" >"$T/trunc.onnx"
expect_status 1 "$KILN" import "$T/trunc.onnx" -o "$T/bad/trunc.kiln"
expect_err "trunc.onnx: error: "
expect_empty_dir "$T/bad"

check "an unsupported op: exit 1, the op named, no files"
LC_ALL=C sed 's/Relu/Rleu/' "$M/qdq_convnet.onnx" >"$T/unsup.onnx"
expect_status 1 "$KILN" import "$T/unsup.onnx" -o "$T/bad/unsup.kiln"
expect_err "node 'relu' (Rleu): unsupported op Rleu (domain 'ai.onnx', opset 13)"
expect_empty_dir "$T/bad"
expect_status 1 "$KILN" run "$T/unsup.onnx"
expect_err "unsupported op Rleu"

check "a dynamic dim without --shape names the fix"
expect_status 1 "$KILN" import "$M/dyn_names.onnx" -o "$T/bad/dyn.kiln"
expect_err "graph input 'input.1': dim 0 is dynamic ('batch'); fix it with --shape input.1=DIMS"
expect_empty_dir "$T/bad"
expect_status 1 "$KILN" run "$M/dyn_names.onnx" --shape input.1=3x4x5
expect_err "--shape for 'input.1' gives 3 dims, the model's input has 2"

check "usage errors exit 2"
expect_status 2 "$KILN" import "$M/tiny_cnn.onnx" -o "$T/bad/x.txt"
expect_err "-o: expected a .kiln file name such as out/model.kiln, got"
expect_status 2 "$KILN" import "$SRC/samples/mlp/mlp.kiln"
expect_err "expected an .onnx model, got"
expect_status 2 "$KILN" import
expect_err "missing MODEL"
expect_status 2 "$KILN" run "$M/dyn_names.onnx" --shape input.1=3xq
expect_err "--shape 'input.1=3xq': expected a dim in 1..2147483647, got 'q'"
expect_status 2 "$KILN" run "$M/dyn_names.onnx" --shape input.1=3x4 --shape input.1=2x4
expect_err "--shape: input 'input.1' given twice"
expect_empty_dir "$T/bad"

check "--shape on a .kiln model is an error"
expect_status 1 "$KILN" run "$SRC/samples/mlp/mlp.kiln" --shape x=1x64
expect_err "--shape applies to .onnx models only"

check "dump and compile read .onnx"
expect_status 0 "$KILN" dump "$M/gpt2_block.onnx" -O1
grep -q "^graph @gpt2_block(" "$T/out" || fail "dump of gpt2_block.onnx"
grep -qF "gpt2_block.onnx: node '" "$T/out" || fail "dump lacks ONNX node locations"
expect_status 0 "$KILN" compile "$M/mobile_block.onnx" -o "$T/c/mobile.c"
[ -s "$T/c/mobile.c" ] && [ -s "$T/c/mobile.h" ] || fail "compile of mobile_block.onnx"
echo "ok"
