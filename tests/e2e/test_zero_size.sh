#!/bin/sh
# tests/e2e/test_zero_size.sh -- zero-size tensors through `kiln run`: an empty .npy
# (shape (0, 3)) written by kiln itself is read back with --input by the interpreter, the C
# backend and the LLVM JIT (and by a .kiln model declaring an f32[0, 3] input); empty
# outputs come out as .npy files of the right shape, and a non-empty result computed from
# empty operands has its hand-computed values.
# usage: sh test_zero_size.sh KILN SOURCE_DIR BUILD_DIR
set -eu
KILN=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT INT TERM

check() { echo "check: $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

# shape_of FILE: the 'shape' tuple of a .npy header, e.g. "(0, 3)"
shape_of() {
    head -c 128 "$1" | tr -d '\000' | LC_ALL=C sed -n "s/.*'shape': \(([^)]*)\).*/\1/p"
}

# A model whose output e is empty: it makes the empty .npy the second model reads (and
# b = row 0 of x + [1, 2, 3], of x's random values, to feed b).
cat >"$T/make.kir" <<'EOF'
graph @make(%x: f32[2,3]) -> (e = %e, b = %b) {
  %e = slice(%x) {starts = [1], ends = [1]}
  %k = const dense<[1, 2, 3]> : f32[1,3]
  %a = add(%x, %k)
  %b = slice(%a) {starts = [0], ends = [1]}
  return
}
EOF
check "kiln run writes an empty output as a (0, 3) .npy"
"$KILN" run "$T/make.kir" --seed 1 -o "$T/made" >"$T/log" 2>&1 || { cat "$T/log" >&2; fail "run"; }
[ "$(shape_of "$T/made/e.npy")" = "(0, 3)" ] ||
    fail "e.npy has shape '$(shape_of "$T/made/e.npy")', expected (0, 3)"

# x is empty: y = x + b stays empty, s = reduce_sum over the empty axis is 0 per column,
# c = concat(x, b) is b itself (byte for byte), p pads the empty x with one row of 7s.
cat >"$T/use.kir" <<'EOF'
graph @use(%x: f32[0,3], %b: f32[1,3]) -> (y = %y, s = %s, c = %c, p = %p) {
  %y = add(%x, %b)
  %s = reduce_sum(%x) {axes = 0}
  %c = concat(%x, %b) {axis = 0}
  %p = pad(%x) {pads = [1, 0, 0, 0], value = 7}
  return
}
EOF
for be in interp c llvm; do
    check "$be: kiln run --input x=<empty .npy>"
    rm -rf "$T/out"
    "$KILN" run "$T/use.kir" --backend=$be --input x="$T/made/e.npy" \
        --input b="$T/made/b.npy" -o "$T/out" \
        >"$T/log" 2>&1 || { cat "$T/log" >&2; fail "$be: run with an empty input failed"; }
    grep -q "^input x: f32\[0,3\] from " "$T/log" || { cat "$T/log" >&2; fail "$be: input line"; }
    grep -q "^y: f32\[0,3\] = \[\]$" "$T/log" || { cat "$T/log" >&2; fail "$be: y not empty"; }
    grep -q "^s: f32\[3\] = \[0, 0, 0\]$" "$T/log" || { cat "$T/log" >&2; fail "$be: s != 0"; }
    grep -q "^p: f32\[1,3\] = \[7, 7, 7\]$" "$T/log" || { cat "$T/log" >&2; fail "$be: p != 7"; }
    [ "$(shape_of "$T/out/y.npy")" = "(0, 3)" ] || fail "$be: y.npy shape $(shape_of "$T/out/y.npy")"
    [ "$(shape_of "$T/out/c.npy")" = "(1, 3)" ] || fail "$be: c.npy shape $(shape_of "$T/out/c.npy")"
    cmp -s "$T/out/c.npy" "$T/made/b.npy" || fail "$be: c.npy differs from b.npy"
done

check "a .kiln model declares an empty input; reduce_sum over it is 0"
cat >"$T/z.kiln" <<'EOF'
model z(x: f32[0, 3]) -> (s) {
  return reduce_sum(x, axes = 0)
}
EOF
"$KILN" run "$T/z.kiln" --input x="$T/made/e.npy" -o "$T/out" >"$T/log" 2>&1 ||
    { cat "$T/log" >&2; fail ".kiln run with an empty input failed"; }
grep -q "^s: f32\[3\] = \[0, 0, 0\]$" "$T/log" || { cat "$T/log" >&2; fail ".kiln: s != 0"; }

check "an input of the wrong empty shape is rejected"
cat >"$T/want.kir" <<'EOF'
graph @want(%x: f32[3,0]) -> (y = %y) {
  %y = relu(%x)
  return
}
EOF
if "$KILN" run "$T/want.kir" --input x="$T/made/e.npy" -o "$T/out" >"$T/log" 2>&1; then
    fail "a (0, 3) .npy was accepted for an f32[3,0] input"
fi
grep -q "f32\[3,0\]" "$T/log" || { cat "$T/log" >&2; fail "the error does not name the type"; }
echo "test_zero_size: all checks passed"
