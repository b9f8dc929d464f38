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
GEN=onnx_norm.py
. "$SRC/tests/e2e/onnx_models_lib.sh"

run_models "c llvm" 9
check_rejected 7
