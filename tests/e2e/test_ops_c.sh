#!/bin/sh
# tests/e2e/test_ops_c.sh -- op coverage of the C backend: every tests/e2e/ops/*.kir (one
# op per file, with the attribute variants, dtypes, broadcasting, fused epilogues and exits
# that matter) is compiled by `kiln run --backend=c`, run on seeded random inputs, and
# compared with the reference interpreter (--compare=interp, tolerance in doc/testing.md),
# at -O0 (unfused) and -O2 (fused).
# usage: sh test_ops_c.sh KILN SOURCE_DIR BUILD_DIR
set -eu
KILN=$1
SRC=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT INT TERM

check() { echo "check: $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

n=0
for f in "$SRC"/tests/e2e/ops/*.kir; do
    name=$(basename "$f" .kir)
    for lvl in -O0 -O2; do
        check "$name $lvl: C backend == interpreter"
        rm -rf "$T/out"
        if ! "$KILN" run "$f" --backend=c --compare=interp --seed 1 $lvl -o "$T/out" \
            >"$T/log" 2>&1; then
            cat "$T/log" >&2
            fail "$name $lvl: C backend and interpreter disagree (or the run failed)"
        fi
        grep -q "^compare: all outputs match" "$T/log" ||
            { cat "$T/log" >&2; fail "$name $lvl: no match line"; }
        n=$((n + 1))
    done
done
[ "$n" -gt 0 ] || fail "no op models in $SRC/tests/e2e/ops"

# the exit models must take the path their names say
for pair in "exit_taken 1" "exit_not_taken 0" "exit_output_reuse 3" "exit-swap 1" \
            "exit-swap-notaken 0"; do
    set -- $pair
    check "$1: exit taken is $2"
    "$KILN" run "$SRC/tests/e2e/ops/$1.kir" --backend=c --seed 1 -o "$T/out" >"$T/log" 2>&1 ||
        { cat "$T/log" >&2; fail "$1: run failed"; }
    grep -q "^exit taken: $2" "$T/log" || { cat "$T/log" >&2; fail "$1: expected exit $2"; }
done
echo "test_ops_c: all $n checks passed"
