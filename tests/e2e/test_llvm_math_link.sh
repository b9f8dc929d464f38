#!/bin/sh
# tests/e2e/test_llvm_math_link.sh -- the unary math ops (floor ceil round sin cos tan asin
# acos atan sinh cosh asinh acosh atanh) in linked programs: the model compiled to an LLVM
# object for the host CPU and for baseline x86-64 (no SSE4.1, so llvm.floor/ceil/roundeven
# become calls to floorf/ceilf/roundevenf) links with -lm alone, and each program prints
# what the C backend's program prints for the same inputs (ties, domain edges, NaN, inf).
# usage: sh test_llvm_math_link.sh KILN SOURCE_DIR BUILD_DIR
set -eu
KILN=$1
SRC=$2
BUILD=$3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT INT TERM
NM=${NM:-llvm-nm-19}

check() { echo "check: $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

# A sanitizer build's libkilnrt needs the sanitizer runtimes in everything linking it.
SAN=""
if grep -q '^KILN_SANITIZE:BOOL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null; then
    SAN="-fsanitize=address,undefined"
fi

cat >"$T/mathlink.kir" <<'EOF'
graph @mathlink(%x: f32[16]) -> (y = %y) {
  %two = const dense<[2]> : f32[1]
  %x2 = add(%x, %two)
  %a = floor(%x)
  %b = ceil(%x)
  %c = round(%x)
  %d = sin(%x)
  %e = cos(%x)
  %f = tan(%x)
  %g = asin(%x)
  %h = acos(%x)
  %i = atan(%x)
  %j = sinh(%x)
  %k = cosh(%x)
  %l = asinh(%x)
  %m = acosh(%x2)
  %n = atanh(%x)
  %y = concat(%a, %b, %c, %d, %e, %f, %g, %h, %i, %j, %k, %l, %m, %n) {axis = 0}
  return
}
EOF
cat >"$T/main.c" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include "mathlink.h"
int main(void)
{
    /* ties for round, +-1 for asin/acos/atanh (x + 2 = 1 for acosh), outside the domains */
    static const float x[16] = { -1.0f, -0.95f, -0.5f, -0.3f, -0.0f, 0.1f, 0.25f, 0.5f,
                                 0.75f, 0.9f, 1.0f, 1.5f, 2.5f, -1.5f, -2.5f, -3.5f };
    float y[16 * 14];
    void *arena = aligned_alloc(MATHLINK_ARENA_ALIGN, (MATHLINK_ARENA_BYTES + 63) / 64 * 64);
    mathlink_inputs in = { x };
    mathlink_outputs out = { y, 0 };
    if (!arena || mathlink_run(&in, &out, arena, NULL) != 0)
        return 1;
    for (int i = 0; i < 16 * 14; i++)
        printf("%.9g\n", y[i]);
    free(arena);
    return 0;
}
EOF

# link DIR: links DIR/main from main.c, DIR/mathlink.(c|o) and the runtime
link() {
    # shellcheck disable=SC2086  # CC and SAN may hold several words
    ${CC:-cc} -std=c11 $SAN -o "$1/main" "$T/main.c" "$1"/mathlink.[co] -I"$1" \
        -I"$SRC/runtime/include" "$BUILD/runtime/libkilnrt.a" -lopenblas -lm -lpthread ||
        fail "$1: does not link with -lm"
}

check "the C backend's program runs (the reference)"
"$KILN" compile "$T/mathlink.kir" -o "$T/c/mathlink.c"
link "$T/c"
"$T/c/main" >"$T/c.txt" || fail "C backend program failed"
[ "$(wc -l <"$T/c.txt")" -eq 224 ] || fail "expected 224 values from the C backend"
# by hand: round of x (values 33..48) half to even, floor and ceil of x (1..16, 17..32)
[ "$(sed -n 33,48p "$T/c.txt" | tr '\n' ' ')" = "-1 -1 -0 -0 -0 0 0 0 1 1 1 2 2 -2 -2 -4 " ] ||
    fail "round: expected ties to even, got $(sed -n 33,48p "$T/c.txt" | tr '\n' ' ')"
[ "$(sed -n 1,16p "$T/c.txt" | tr '\n' ' ')" = "-1 -1 -1 -1 -0 0 0 0 0 0 1 1 2 -2 -3 -4 " ] ||
    fail "floor: got $(sed -n 1,16p "$T/c.txt" | tr '\n' ' ')"
[ "$(sed -n 17,32p "$T/c.txt" | tr '\n' ' ')" = "-1 -0 -0 -0 -0 1 1 1 1 1 1 2 3 -1 -2 -3 " ] ||
    fail "ceil: got $(sed -n 17,32p "$T/c.txt" | tr '\n' ' ')"

for cpu in host x86-64; do
    check "LLVM object for $cpu links with -lm and matches the C backend"
    mkdir -p "$T/$cpu"
    if [ "$cpu" = host ]; then
        "$KILN" compile "$T/mathlink.kir" -o "$T/$cpu/mathlink.o"
    else
        [ "$(uname -m)" = x86_64 ] || continue
        "$KILN" compile "$T/mathlink.kir" --target=x86_64-linux-gnu -mcpu="$cpu" \
            -o "$T/$cpu/mathlink.o"
        "$NM" "$T/$cpu/mathlink.o" | grep -q " U roundevenf$" ||
            fail "baseline x86-64: expected round as a roundevenf call"
    fi
    link "$T/$cpu"
    "$T/$cpu/main" >"$T/$cpu.txt" || fail "$cpu: program failed"
    # same values: NaN of either sign matches NaN, else within 1e-6 relative (libm calls
    # are the same functions; the tolerance covers f32 arithmetic the compilers reorder)
    paste "$T/c.txt" "$T/$cpu.txt" | awk '
        function isnan(s) { return s == "nan" || s == "-nan" }
        { if (isnan($1) && isnan($2)) next
          if ($1 == $2) next
          if ($1 ~ /inf/ || $2 ~ /inf/ || isnan($1) || isnan($2)) { bad++; print NR ": " $0; next }
          d = $1 - $2; if (d < 0) d = -d; m = $1 < 0 ? -$1 : $1
          if (d > 1e-6 * m + 1e-30) { bad++; print NR ": " $0 } }
        END { exit bad > 0 }' || fail "$cpu: values differ from the C backend (line: C LLVM)"
done
echo "test_llvm_math_link: all checks passed"
