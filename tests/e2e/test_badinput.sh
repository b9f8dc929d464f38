#!/bin/sh
# tests/e2e/test_badinput.sh -- bad models, weights and limits are user errors: each gives
# exit status 1, a located "file:line:col: error:" message on stderr, no crash, and leaves
# no output file behind.  Fixtures: tests/e2e/bad/ (weights made by bad/mkweights.py).
# usage: sh test_badinput.sh KILN SOURCE_DIR BUILD_DIR
set -eu
KILN=$1
SRC=$2
BAD="$SRC/tests/e2e/bad"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT INT TERM
PY=${PYTHON:-/usr/bin/python3}

check() { echo "check: $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

mkdir "$T/m"
cp "$BAD"/*.kiln "$BAD"/*.kir "$T/m/"
"$PY" "$BAD/mkweights.py" "$T/m"
: >"$T/m/empty.kiln"
: >"$T/m/empty.kir"
# bytes that are neither text nor a model: NUL, high bytes, a stray brace, no newline
printf '\177ELF\002\001\001\000\000\000\377\376{\033[0m\200\201' >"$T/m/garbage.kiln"
cp "$T/m/garbage.kiln" "$T/m/garbage.kir"

# expect_located CASE LINES CMD...: CMD must exit 1 with "FILE:LINE:COL: error:" on stderr
# where FILE names the case and LINE is one of LINES ("any" accepts every line), must not
# crash, and must leave the output folder $T/out/CASE empty.
expect_located() {
    case=$1
    lines=$2
    shift 2
    set +e
    "$@" >"$T/stdout" 2>"$T/stderr"
    rc=$?
    set -e
    [ "$rc" = 1 ] || { cat "$T/stderr" >&2; fail "$case: exit status $rc, expected 1"; }
    loc=$(grep -E -o '^[^ ]+:[0-9]+:[0-9]+: error:' "$T/stderr" | head -n 1) ||
        { cat "$T/stderr" >&2; fail "$case: no 'file:line:col: error:' on stderr"; }
    line=$(echo "$loc" | sed -E 's/.*:([0-9]+):[0-9]+: error:$/\1/')
    if [ "$lines" != any ] && ! echo " $lines " | grep -q " $line "; then
        cat "$T/stderr" >&2
        fail "$case: error located at line $line, expected one of: $lines"
    fi
    if [ -d "$T/out/$case" ] && [ -n "$(ls -A "$T/out/$case")" ]; then
        fail "$case: left files behind: $(ls -A "$T/out/$case")"
    fi
    echo "  ok: $(head -n 1 "$T/stderr")"
}

expect_msg() {   # the last stderr holds this string (case-insensitive)
    grep -qiF -- "$1" "$T/stderr" || { cat "$T/stderr" >&2; fail "stderr lacks '$1'"; }
}

check "malformed .kiln (missing parenthesis)"
expect_located syntax "3 4" "$KILN" compile "$T/m/syntax.kiln" -o "$T/out/syntax/m.c"

check "weights file that does not exist"
expect_located missing "2 5" "$KILN" compile "$T/m/missing_weights.kiln" -o "$T/out/missing/m.c"
expect_msg "no_such_file.safetensors"

check "safetensors truncated in its data area"
expect_located short "2 5" "$KILN" compile "$T/m/short_weights.kiln" -o "$T/out/short/m.c"

check "safetensors shorter than its header length"
expect_located tiny "2 5" "$KILN" compile "$T/m/tiny_weights.kiln" -o "$T/out/tiny/m.c"

check "weights stored as i32 where the model declares f32"
expect_located mistyped "2 5" "$KILN" compile "$T/m/mistyped_weights.kiln" -o "$T/out/mistyped/m.c"
expect_msg "i32"

check "declared param shape disagrees with the file"
expect_located pshape "2 5" "$KILN" compile "$T/m/param_shape.kiln" -o "$T/out/pshape/m.c"

check "shape mismatch inside an op (matmul [1,3] x [4,4])"
expect_located opshape "6" "$KILN" compile "$T/m/op_shape.kiln" -O0 -o "$T/out/opshape/m.c"
expect_msg "matmul"
expect_located opshape_run "6" "$KILN" run "$T/m/op_shape.kiln" -o "$T/out/opshape_run"

check "garbage bytes as .kiln and as .kir"
expect_located garbage any "$KILN" compile "$T/m/garbage.kiln" -o "$T/out/garbage/m.c"
expect_located garbage_kir any "$KILN" compile "$T/m/garbage.kir" -o "$T/out/garbage_kir/m.c"

check "empty .kiln and empty .kir"
expect_located empty any "$KILN" compile "$T/m/empty.kiln" -o "$T/out/empty/m.c"
expect_located empty_kir any "$KILN" opt "$T/m/empty.kir" -o "$T/out/empty_kir/m.kir"

check ".kir with a parse error"
expect_located kir "2" "$KILN" opt "$T/m/parse_error.kir" -o "$T/out/kir/m.kir"
expect_located kir_compile "2" "$KILN" compile "$T/m/parse_error.kir" -o "$T/out/kir_compile/m.c"

check "--max-arena smaller than the model needs"
expect_located arena any "$KILN" compile "$SRC/samples/mlp/mlp.kiln" --max-arena=64 \
    -o "$T/out/arena/mlp.c"
expect_located arena_ext any "$KILN" compile "$SRC/samples/mlp/mlp.kiln" --max-arena=64 \
    --weights=external -o "$T/out/arena_ext/mlp.c"

check "a garbage .npy input is an error naming the file, exit 1, no outputs"
set +e
"$KILN" run "$SRC/samples/mlp/mlp.kiln" --input x="$T/m/garbage.kiln" -o "$T/out/npy" \
    >/dev/null 2>"$T/stderr"
rc=$?
set -e
[ "$rc" = 1 ] || fail "garbage .npy: exit status $rc, expected 1"
grep -qF "$T/m/garbage.kiln: error: input 'x':" "$T/stderr" ||
    { cat "$T/stderr" >&2; fail "garbage .npy: message does not name the file"; }
[ ! -e "$T/out/npy" ] || [ -z "$(ls -A "$T/out/npy")" ] || fail "garbage .npy: outputs written"

echo "test_badinput: all checks passed"
