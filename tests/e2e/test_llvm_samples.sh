#!/bin/sh
# tests/e2e/test_llvm_samples.sh -- every sample on the LLVM backend: the JIT
# (`kiln run --backend=llvm`) agrees with the reference interpreter on random and real
# inputs at -O0 and -O3 (and on 2 threads), and on the real inputs with the numpy outputs
# the training scripts saved; `kiln compile -o x.o` objects (embedded and external
# weights) link with gcc and clang-19 into the sample's unchanged app.c and print exactly
# what the C backend's build prints.
# usage: sh test_llvm_samples.sh KILN SOURCE_DIR BUILD_DIR
set -eu
KILN=$1
SRC=$2
BUILD=$3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT INT TERM
PY=${PYTHON:-/usr/bin/python3}

check() { echo "check: $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

# A sanitizer build's libkilnrt needs the sanitizer runtimes in everything linking it.
SAN=""
if grep -q '^KILN_SANITIZE:BOOL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null; then
    SAN="-fsanitize=address,undefined"
fi
RTLIB="$BUILD/runtime/libkilnrt.a"
[ -f "$RTLIB" ] || fail "$RTLIB not built"

run_compare() {
    name=$1
    shift
    if ! "$KILN" run --backend=llvm --compare=interp "$@" >"$T/out" 2>"$T/err"; then
        cat "$T/out" "$T/err" >&2
        fail "$name: LLVM backend and interpreter disagree (or the run failed)"
    fi
    grep -q "^compare: all outputs match" "$T/out" ||
        { cat "$T/out" >&2; fail "$name: no match line"; }
    grep "max abs error" "$T/out" | sed 's/^/    /'
}

for kiln in "$SRC"/samples/*/*.kiln; do
    s=$(basename "$kiln" .kiln)
    for lvl in -O0 -O3; do
        for seed in 0 1; do
            check "$s $lvl, random inputs (seed $seed): LLVM JIT == interpreter"
            run_compare "$s $lvl seed $seed" "$kiln" $lvl --seed $seed -o "$T/rand"
        done
    done
    check "$s -O2 --threads 2 (a kiln_pool): LLVM JIT == interpreter"
    run_compare "$s threads" "$kiln" -O2 --threads 2 --seed 3 -o "$T/rand"
done

# sample  input-name  input-file  output-name  expected-output-file (samples/<sample>/)
echo "mlp x digit.npy probs digit_probs.npy
mlp x digit_noexit.npy probs digit_noexit_probs.npy
cnn x digit.npy probs digit_probs.npy
transformer x x.npy y expected_y.npy" | while read -r s in file out want; do
    d="$SRC/samples/$s"
    check "$s on $file: LLVM JIT == interpreter == numpy reference"
    rm -rf "$T/real"
    run_compare "$s $file" "$d/$s.kiln" --input "$in=$d/$file" -o "$T/real"
    "$PY" - "$T/real/$out.npy" "$d/$want" <<'PYEOF' || fail "$s $file: differs from $want"
import sys, numpy as np
got, want = np.load(sys.argv[1]), np.load(sys.argv[2])
assert got.shape == want.shape, (got.shape, want.shape)
err = float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64))))
print("    numpy reference: max abs error %.3g" % err)
assert err <= 1e-4, "max abs error %g" % err
PYEOF
done

# build_app DIR SAMPLE CC SOURCE: the sample's app.c against one generated model file
build_app() {
    # shellcheck disable=SC2086  # CC and SAN may hold several words
    $3 -O2 -std=c11 $SAN -o "$1/app" "$SRC/samples/$2/app.c" "$4" -I"$1" \
        -I"$SRC/runtime/include" "$RTLIB" -lopenblas -lm -lpthread
}

for kiln in "$SRC"/samples/*/*.kiln; do
    dir=$(dirname "$kiln")
    s=$(basename "$kiln" .kiln)
    for w in embed external; do
        rm -rf "$T/c" "$T/llvm"
        "$KILN" compile "$kiln" --weights=$w -o "$T/c/$s.c"
        build_app "$T/c" "$s" "${CC:-cc}" "$T/c/$s.c" || fail "$s: C backend app does not build"
        bin=""
        [ "$w" = external ] && bin="$T/c/$s.bin"
        # shellcheck disable=SC2086  # bin is empty or one path without blanks
        "$T/c/app" "$dir" $bin >"$T/c.log" 2>&1 || { cat "$T/c.log" >&2; fail "$s: C app failed"; }
        check "$s: kiln compile -o $s.o --weights=$w (LLVM), header identical to the C backend's"
        "$KILN" compile "$kiln" --weights=$w -o "$T/llvm/$s.o"
        cmp "$T/c/$s.h" "$T/llvm/$s.h" || fail "$s: the LLVM backend's header differs"
        [ "$w" = embed ] || cmp "$T/c/$s.bin" "$T/llvm/$s.bin" ||
            fail "$s: the LLVM backend's weights file differs"
        for cc in gcc clang-19; do
            check "$s ($w weights): app.c + $s.o linked with $cc prints what the C build prints"
            build_app "$T/llvm" "$s" "$cc" "$T/llvm/$s.o" || fail "$s: app does not link with $cc"
            bin=""
            [ "$w" = external ] && bin="$T/llvm/$s.bin"
            # shellcheck disable=SC2086
            "$T/llvm/app" "$dir" $bin >"$T/llvm.log" 2>&1 ||
                { cat "$T/llvm.log" >&2; fail "$s: LLVM app ($cc) failed"; }
            if ! diff -u "$T/c.log" "$T/llvm.log" >"$T/diff"; then
                cat "$T/diff" >&2
                fail "$s: the LLVM-built app prints other results than the C-built one"
            fi
        done
        sed 's/^/    /' "$T/llvm.log" | tail -n 3
    done
done
echo "test_llvm_samples: all checks passed"
