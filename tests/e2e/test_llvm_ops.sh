#!/bin/sh
# tests/e2e/test_llvm_ops.sh -- op coverage of the LLVM backend: every tests/e2e/ops/*.kir
# JIT-compiled in process (`kiln run --backend=llvm`), run on seeded random inputs and
# compared with the reference interpreter (--compare=interp, tolerance in doc/testing.md) at
# -O0 (unfused) and -O2 (fused); the models with parallel loops also on 2 threads; the exit
# models must take the path their names say.
# usage: sh test_llvm_ops.sh KILN SOURCE_DIR BUILD_DIR
set -eu
KILN=$1
SRC=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT INT TERM

check() { echo "check: $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

# run_compare NAME ARGS...: the LLVM JIT must succeed and agree with the interpreter
run_compare() {
    name=$1
    shift
    rm -rf "$T/out"
    if ! "$KILN" run "$@" --backend=llvm --compare=interp -o "$T/out" >"$T/log" 2>&1; then
        cat "$T/log" >&2
        fail "$name: LLVM backend and interpreter disagree (or the run failed)"
    fi
    grep -q "^compare: all outputs match" "$T/log" ||
        { cat "$T/log" >&2; fail "$name: no match line"; }
}

n=0
for f in "$SRC"/tests/e2e/ops/*.kir; do
    name=$(basename "$f" .kir)
    for lvl in -O0 -O2; do
        check "$name $lvl: LLVM backend == interpreter"
        run_compare "$name $lvl" "$f" --seed 1 $lvl
        n=$((n + 1))
    done
done
[ "$n" -gt 100 ] || fail "expected over 100 op runs, got $n"

for f in "$SRC"/tests/e2e/ops/*big*.kir; do
    name=$(basename "$f" .kir)
    check "$name -O2 --threads 2: LLVM backend (parallel loops) == interpreter"
    run_compare "$name threads" "$f" --seed 2 -O2 --threads 2
    n=$((n + 1))
done

for pair in "exit_taken 1" "exit_not_taken 0" "exit_output_reuse 3"; do
    set -- $pair
    check "$1: exit taken is $2"
    "$KILN" run "$SRC/tests/e2e/ops/$1.kir" --backend=llvm --seed 1 -o "$T/out" >"$T/log" 2>&1 ||
        { cat "$T/log" >&2; fail "$1: run failed"; }
    grep -q "^exit taken: $2" "$T/log" || { cat "$T/log" >&2; fail "$1: expected exit $2"; }
done
echo "test_llvm_ops: all $n comparisons passed"
