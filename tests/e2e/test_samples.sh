#!/bin/sh
# tests/e2e/test_samples.sh -- every sample end to end: the C backend agrees with the
# reference interpreter (kiln run --backend=c --compare=interp) on random and real inputs at
# -O0 and -O2; on the samples' real inputs both also match the numpy outputs the training
# scripts saved (an implementation independent of kiln); `kiln compile` output builds with
# the sample's app.c against libkilnrt and runs, with embedded and with external weights.
# usage: sh test_samples.sh KILN SOURCE_DIR BUILD_DIR
set -eu
KILN=$1
SRC=$2
BUILD=$3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT INT TERM
PY=${PYTHON:-/usr/bin/python3}
CC=${CC:-cc}
export CC

check() { echo "check: $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

# A sanitizer build's libkilnrt needs the sanitizer runtimes in everything linking it.
SAN=""
if grep -q '^KILN_SANITIZE:BOOL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null; then
    SAN="-fsanitize=address,undefined"
fi

# sample  input-name  input-file  output-name  expected-output-file  (all in samples/<sample>/)
CASES="mlp x digit.npy probs digit_probs.npy
mlp x digit_noexit.npy probs digit_noexit_probs.npy
cnn x digit.npy probs digit_probs.npy
transformer x x.npy y expected_y.npy"

# Every sample and file the cases and the README name must exist.
for s in mlp cnn transformer; do
    [ -f "$SRC/samples/$s/$s.kiln" ] || fail "samples/$s/$s.kiln is missing"
done
echo "$CASES" | while read -r s in file out want; do
    for f in "$file" "$want"; do
        [ -f "$SRC/samples/$s/$f" ] || fail "samples/$s/$f is missing"
    done
done

# run_compare NAME ARGS...: kiln run --backend=c --compare=interp must succeed and agree.
run_compare() {
    name=$1
    shift
    if ! "$KILN" run --backend=c --compare=interp "$@" >"$T/out" 2>"$T/err"; then
        cat "$T/out" "$T/err" >&2
        fail "$name: C backend and interpreter disagree (or the run failed)"
    fi
    grep -q "^compare: all outputs match" "$T/out" ||
        { cat "$T/out" >&2; fail "$name: no match line"; }
    grep "max abs error" "$T/out" | sed 's/^/    /'
}

for kiln in "$SRC"/samples/*/*.kiln; do
    s=$(basename "$kiln" .kiln)
    for lvl in -O0 -O2; do
        for seed in 0 1; do
            check "$s $lvl, random inputs (seed $seed): C backend == interpreter"
            run_compare "$s $lvl seed $seed" "$kiln" $lvl --seed $seed -o "$T/rand"
        done
    done
    check "$s -O2 on the interpreter (fused, folded graph) == interpreter after shape-infer"
    "$KILN" run --compare=interp -O2 --seed 2 "$kiln" -o "$T/rand" >"$T/out" 2>&1 ||
        { cat "$T/out" >&2; fail "$s: the -O2 graph disagrees with the unoptimised one"; }
done

echo "$CASES" | while read -r s in file out want; do
    d="$SRC/samples/$s"
    for lvl in -O0 -O2; do
        check "$s $lvl on $file: C backend == interpreter == numpy reference"
        rm -rf "$T/real"
        run_compare "$s $lvl $file" "$d/$s.kiln" $lvl --input "$in=$d/$file" -o "$T/real"
        "$PY" - "$T/real/$out.npy" "$d/$want" <<'EOF' || fail "$s $lvl $file: differs from $want"
import sys, numpy as np
got, want = np.load(sys.argv[1]), np.load(sys.argv[2])
assert got.shape == want.shape, (got.shape, want.shape)
# want comes from numpy (float32 or float64 math): agreement to 1e-4 absolute
err = float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64))))
print("    numpy reference: max abs error %.3g" % err)
assert err <= 1e-4, "max abs error %g" % err
EOF
    done
done

RTLIB="$BUILD/runtime/libkilnrt.a"
[ -f "$RTLIB" ] || fail "$RTLIB not built"
for kiln in "$SRC"/samples/*/*.kiln; do
    dir=$(dirname "$kiln")
    s=$(basename "$kiln" .kiln)
    [ -f "$dir/app.c" ] || fail "samples/$s/app.c is missing"
    for w in embed external; do
        check "$s: kiln compile --weights=$w, build $s/app.c with $CC, run it on $dir"
        rm -rf "$T/app"
        "$KILN" compile "$kiln" --weights=$w -o "$T/app/$s.c"
        # shellcheck disable=SC2086  # CC and SAN may hold several words
        $CC -O2 -std=c11 $SAN -o "$T/app/app" "$dir/app.c" "$T/app/$s.c" -I"$T/app" \
            -I"$SRC/runtime/include" "$RTLIB" -lopenblas -lm -lpthread ||
            fail "$s: app.c does not build against the generated code"
        bin=""
        [ "$w" = external ] && bin="$T/app/$s.bin"
        # shellcheck disable=SC2086  # bin is empty or one path without blanks
        "$T/app/app" "$dir" $bin >"$T/app/log" 2>&1 ||
            { cat "$T/app/log" >&2; fail "$s: app (--weights=$w) failed"; }
        [ -s "$T/app/log" ] || fail "$s: app printed nothing"
        sed 's/^/    /' "$T/app/log" | head -n 12
        # the numbers the samples' numpy training scripts reported (samples/*/README.md)
        case $s in
        mlp) want="accuracy: 442/450 = 0.9822|early exit: 395/450" ;;
        cnn) want="accuracy: 444/450 = 0.9867" ;;
        *)   want="" ;;
        esac
        echo "$want" | tr '|' '\n' | while read -r line; do
            [ -z "$line" ] || grep -qF "$line" "$T/app/log" || fail "$s: app did not report '$line'"
        done
        if [ "$s" = transformer ]; then
            awk '/max abs difference to expected_y.npy:/ { found = 1; if ($NF + 0 > 1e-4) bad = 1 }
                 END { exit !(found && !bad) }' "$T/app/log" ||
                fail "transformer: app output differs from expected_y.npy by more than 1e-4"
        fi
    done
done
echo "test_samples: all checks passed"
