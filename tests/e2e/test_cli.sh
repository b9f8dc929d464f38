#!/bin/sh
# tests/e2e/test_cli.sh -- the kiln command line's contract: help for every command, usage
# errors exit 2 with the documented message, --list-passes, dump/opt round trips on every
# sample, output placement of compile, and `kiln run` against the samples' numpy outputs.
# usage: sh test_cli.sh KILN SOURCE_DIR BUILD_DIR
set -eu
KILN=$1
SRC=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT INT TERM
PY=${PYTHON:-/usr/bin/python3}

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

check "kiln --help lists every command and exits 0"
expect_status 0 "$KILN" --help
for c in compile run dump opt; do
    grep -q "^  $c " "$T/out" || fail "kiln --help does not list '$c'"
done

check "kiln <command> --help shows the usage line and the command's options"
for c in compile run dump opt; do
    expect_status 0 "$KILN" $c --help
    grep -q "^usage: kiln $c " "$T/out" || fail "kiln $c --help has no usage line"
    grep -q -- "--help" "$T/out" || fail "kiln $c --help does not document --help"
done
expect_status 0 "$KILN" compile --help
for o in -o --emit= -O0 --passes= --name= --weights= --stats --max-arena= --print-ir-after= \
         --print-ir-before= --print-ir-after-change --verify-each --time-passes --list-passes; do
    grep -q -- "$o" "$T/out" || fail "kiln compile --help does not document $o"
done
expect_status 0 "$KILN" run --help
for o in --input --backend= --seed --compare= --threads -o -O0 --passes=; do
    grep -q -- "$o" "$T/out" || fail "kiln run --help does not document $o"
done

check "kiln --version"
expect_status 0 "$KILN" --version
grep -q "^kiln [0-9]" "$T/out" || fail "--version printed: $(cat "$T/out")"

check "usage errors exit 2 with the documented message"
expect_status 2 "$KILN" compile --foo "$SRC/samples/mlp/mlp.kiln"
expect_err "kiln: unknown option '--foo' (see 'kiln compile --help')"
expect_status 2 "$KILN" run --foo=1 "$SRC/samples/mlp/mlp.kiln"
expect_err "kiln: unknown option '--foo' (see 'kiln run --help')"
expect_status 2 "$KILN" frobnicate
expect_err "kiln: unknown command 'frobnicate'"
expect_status 2 "$KILN"
expect_status 2 "$KILN" compile
expect_err "missing MODEL"
expect_status 2 "$KILN" compile -O7 "$SRC/samples/mlp/mlp.kiln"
expect_err "expected -O0, -O1, -O2 or -O3, got '-O7'"
expect_status 2 "$KILN" compile --emit=png "$SRC/samples/mlp/mlp.kiln"
expect_status 2 "$KILN" run --seed=abc "$SRC/samples/mlp/mlp.kiln"
expect_status 2 "$KILN" run --input x "$SRC/samples/mlp/mlp.kiln"
expect_err "--input: expected NAME=FILE.npy"
expect_status 2 "$KILN" compile "$SRC/samples/mlp/mlp.kiln" extra.kiln
expect_err "unexpected argument 'extra.kiln'"
expect_status 2 "$KILN" compile --stats=1 "$SRC/samples/mlp/mlp.kiln"
expect_err "option '--stats' takes no value"
expect_status 2 "$KILN" compile --name="1 bad" "$SRC/samples/mlp/mlp.kiln"
expect_err "--name: expected a C identifier, got '1 bad'"
expect_status 2 "$KILN" run --backend=gpu "$SRC/samples/mlp/mlp.kiln"
expect_err "--backend: expected interp, c or llvm, got 'gpu'"
expect_status 2 "$KILN" run --input x=a.npy --input x=b.npy "$SRC/samples/mlp/mlp.kiln"
expect_err "--input: input 'x' given twice"
expect_status 2 "$KILN" compile --passes=shape-infer,fuze "$SRC/samples/mlp/mlp.kiln"
expect_err "pipeline 'shape-infer,fuze': unknown pass 'fuze'"
expect_status 2 "$KILN" dump --print-ir-after=bogus "$SRC/samples/mlp/mlp.kiln"
expect_err "--print-ir-after: unknown pass 'bogus'"
expect_status 2 "$KILN" run --threads 0 "$SRC/samples/mlp/mlp.kiln"
expect_err "--threads"

check "--threads 2 runs the C backend on a pool and matches the interpreter"
expect_status 0 "$KILN" run --threads 2 --backend=c --compare=interp -o "$T/thr" \
    "$SRC/samples/cnn/cnn.kiln"

check "--list-passes lists the registry"
expect_status 0 "$KILN" compile --list-passes
for p in shape-infer fold dce cse fuse memplan; do
    grep -q "$p" "$T/out" || fail "--list-passes does not list $p"
done

check "an empty .onnx and an unknown model format are errors, exit 1"
: >"$T/m.onnx"
expect_status 1 "$KILN" compile "$T/m.onnx" -o "$T/o/m.c"
expect_err "empty file, expected an ONNX model"
: >"$T/m.txt"
expect_status 1 "$KILN" compile "$T/m.txt"
expect_err "unknown model format '.txt' (expected .kiln, .kir or .onnx)"
expect_status 1 "$KILN" compile --target=nosuch-cpu-none "$SRC/samples/mlp/mlp.kiln" -o "$T/o/m.o"
expect_err "unknown target 'nosuch-cpu-none'"
[ ! -e "$T/o" ] || [ -z "$(ls -A "$T/o")" ] || fail "failed compile left files in $T/o"

samples=$(ls "$SRC"/samples/*/*.kiln)
[ -n "$samples" ] || fail "no samples/*/*.kiln"
for s in $samples; do
    name=$(basename "$s" .kiln)
    # weight paths in the IR are relative to the .kir's folder: give it the sample's files
    rt="$T/rt_$name"
    mkdir "$rt"
    for f in "$(dirname "$s")"/*; do ln -s "$f" "$rt/"; done
    for lvl in -O0 -O2; do
        check "dump $name $lvl re-parses identically through opt"
        "$KILN" dump $lvl "$s" >"$rt/a.kir"
        [ -s "$rt/a.kir" ] || fail "dump of $name is empty"
        "$KILN" opt --verify-each "$rt/a.kir" >"$rt/b.kir"
        cmp "$rt/a.kir" "$rt/b.kir" || fail "dump $lvl of $name does not round-trip through opt"
    done
    check "dump $name --emit=dot is a digraph"
    "$KILN" dump --emit=dot "$s" >"$T/a.dot"
    grep -q "digraph" "$T/a.dot" || fail "dot output of $name has no digraph"
done

m="$SRC/samples/mlp/mlp.kiln"
check "compile -o creates the folder and writes exactly .c and .h"
"$KILN" compile "$m" -o "$T/c1/sub/mlp.c"
[ "$(ls "$T/c1/sub" | tr '\n' ' ')" = "mlp.c mlp.h " ] || fail "compile wrote: $(ls "$T/c1/sub")"
check "compile --weights=external also writes the .bin"
"$KILN" compile "$m" --weights=external -o "$T/c2/mlp.c"
[ "$(ls "$T/c2" | tr '\n' ' ')" = "mlp.bin mlp.c mlp.h " ] || fail "compile wrote: $(ls "$T/c2")"
check "compile without -o writes <model>.c in the current folder"
mkdir "$T/c3"
(cd "$T/c3" && "$KILN" compile "$m")
if [ ! -f "$T/c3/mlp.c" ] || [ ! -f "$T/c3/mlp.h" ]; then fail "default output: $(ls "$T/c3")"; fi
check "compile --emit=ir writes IR that opt reads back identically"
"$KILN" compile "$m" --emit=ir -o "$T/c4/mlp.kir"
"$KILN" opt "$T/c4/mlp.kir" -o "$T/c4/again.kir"
cmp "$T/c4/mlp.kir" "$T/c4/again.kir" || fail "--emit=ir output does not round-trip"
check "compile --stats reports nodes, arena and time"
expect_status 0 "$KILN" compile "$m" --stats -o "$T/c5/mlp.c"
for w in "stats: nodes:" "stats: peak arena:" "stats: compile time:"; do
    expect_err "$w"
done
check "compile --print-ir-after=all dumps under named banners"
expect_status 0 "$KILN" compile "$m" --print-ir-after=all -o "$T/c6/mlp.c"
expect_err "IR after shape-infer"

check "run (interpreter) reproduces the training script's outputs, both exits"
for case in digit:1 digit_noexit:0; do
    in=${case%:*}
    ex=${case#*:}
    rm -rf "$T/r"
    expect_status 0 "$KILN" run "$m" --input x="$SRC/samples/mlp/$in.npy" -o "$T/r"
    grep -q "^exit taken: $ex" "$T/out" || { cat "$T/out"; fail "$in: expected exit $ex"; }
    "$PY" - "$T/r/probs.npy" "$SRC/samples/mlp/${in}_probs.npy" <<'EOF'
import sys, numpy as np
got, want = np.load(sys.argv[1]), np.load(sys.argv[2])
assert got.dtype == np.float32 and got.shape == want.shape, (got.dtype, got.shape, want.shape)
err = float(np.max(np.abs(got - want)))
assert err <= 1e-4, "max abs error %g" % err
EOF
done

check "run rejects an input of the wrong shape and an unknown input name"
"$PY" -c "import numpy as np; np.save('$T/bad.npy', np.zeros((1, 32), np.float32))"
expect_status 1 "$KILN" run "$m" --input x="$T/bad.npy" -o "$T/r2"
expect_err "input 'x': expected f32[1,64], got f32[1,32]"
expect_status 1 "$KILN" run "$m" --input y="$T/bad.npy" -o "$T/r2"
expect_err "the model has no input 'y'"
[ ! -e "$T/r2" ] || fail "a failed run wrote outputs"

check "random inputs are a pure function of --seed"
"$KILN" run "$m" --seed 7 -o "$T/s1" >/dev/null
"$KILN" run "$m" --seed 7 -o "$T/s2" >/dev/null
"$KILN" run "$m" --seed 8 -o "$T/s3" >/dev/null
cmp "$T/s1/probs.npy" "$T/s2/probs.npy" || fail "same seed, different outputs"
if cmp -s "$T/s1/probs.npy" "$T/s3/probs.npy"; then fail "seeds 7 and 8 gave equal outputs"; fi

check "random inputs follow the documented splitmix64 rule (independent python version)"
cat >"$T/ident.kir" <<'KIR'
graph @ident(%x: f32[3,5], %i: i32[7], %b: bool[5]) -> (y = %x, j = %i, c = %b) {
  return
}
KIR
"$KILN" run "$T/ident.kir" --seed 5 -o "$T/id" >/dev/null
"$PY" - "$T/id" <<'PYEOF'
import sys, numpy as np
M = 2**64 - 1
def take(k, n, seed=5):
    # splitmix64, one stream per input k: state = seed ^ (0xd1b54a32d192ed03 * (k + 1))
    s, out = seed ^ ((0xd1b54a32d192ed03 * (k + 1)) & M), []
    for _ in range(n):
        s = (s + 0x9e3779b97f4a7c15) & M
        z = ((s ^ (s >> 30)) * 0xbf58476d1ce4e5b9) & M
        z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M
        out.append(z ^ (z >> 31))
    return out
y, j, c = (np.load(sys.argv[1] + "/" + n + ".npy") for n in ("y", "j", "c"))
assert y.dtype == np.float32 and y.shape == (3, 5)
want = np.array([(r >> 40) * 2.0**-23 - 1 for r in take(0, 15)], np.float32)
assert (y.ravel() == want).all(), (y, want)
assert j.dtype == np.int32 and list(j) == [r >> 62 for r in take(1, 7)], j
assert c.dtype == np.bool_ and list(c.astype(int)) == [r >> 63 for r in take(2, 5)], c
PYEOF

echo "test_cli: all checks passed"
