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
GEN=onnx_index.py
. "$SRC/tests/e2e/onnx_models_lib.sh"

run_models "c llvm" 22
check_rejected 7

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
