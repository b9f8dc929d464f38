#!/bin/sh
# scripts/sample.sh -- the README's first command: install missing packages, build kiln into
# build/, compile samples/mlp to C, build and run the sample app on the generated code, then
# run the same model with `kiln run`.  Outputs land in out/.
set -eu
cd "$(dirname "$0")/.."
JOBS=${JOBS:-2}
CC=${CC:-cc}

sh scripts/deps.sh

echo "== configure and build kiln in build/"
cmake -S . -B build -DKILN_SANITIZE=OFF
cmake --build build -j"$JOBS"

echo "== kiln compile samples/mlp/mlp.kiln -o out/mlp.c"
mkdir -p out
build/kiln compile samples/mlp/mlp.kiln -o out/mlp.c

echo "== build the app: samples/mlp/app.c + out/mlp.c + libkilnrt"
# shellcheck disable=SC2086  # CC may hold several words
$CC -O2 -std=c11 -o out/mlp_app samples/mlp/app.c out/mlp.c -Iout -Iruntime/include \
    build/runtime/libkilnrt.a -lopenblas -lm -lpthread

echo "== out/mlp_app samples/mlp   (classifies the 450 test digits)"
out/mlp_app samples/mlp

echo "== kiln run samples/mlp/mlp.kiln --input x=samples/mlp/digit.npy -o out/"
build/kiln run samples/mlp/mlp.kiln --input x=samples/mlp/digit.npy -o out/
