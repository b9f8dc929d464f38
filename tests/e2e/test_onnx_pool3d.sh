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
GEN=onnx_pool3d.py
. "$SRC/tests/e2e/onnx_models_lib.sh"

run_models "c" 16
check_rejected 10
