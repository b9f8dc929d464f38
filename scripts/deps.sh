#!/bin/sh
# scripts/deps.sh -- install the Debian packages kiln needs to build and test, and only the
# missing ones (each is checked with dpkg -s first).  Runs apt-get as root, or through sudo
# when it is available; does nothing at all when every package is already installed.
set -eu

# The last line is the ONNX importer's (frontend/onnx): protobuf-c code generation, the
# onnx.proto schema, and the ONNX node tests its conformance harness runs; python3-onnx
# builds the small models of tests/e2e/test_onnx_pool3d.sh.
PKGS="build-essential cmake flex bison libopenblas-dev libcunit1-dev llvm-19-dev clang-19
llvm-19-tools python3-numpy python3-sklearn python3-onnx
protobuf-c-compiler libprotobuf-c-dev libonnx-dev libonnx-testdata"

if ! command -v dpkg >/dev/null 2>&1; then
    echo "deps: dpkg not found: kiln's scripts expect Debian or Ubuntu; install by hand:" >&2
    # shellcheck disable=SC2086  # one line, words separated by single blanks
    echo "deps:  " $PKGS >&2
    exit 1
fi

missing=""
for p in $PKGS; do
    if ! dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed'; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    echo "deps: all required packages are installed"
    exit 0
fi

echo "deps: installing:$missing"
if [ "$(id -u)" = 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "deps: not root and no sudo: run as root: apt-get install -y$missing" >&2
    exit 1
fi
$SUDO apt-get update
# shellcheck disable=SC2086  # word splitting of the package list is intended
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y $missing
