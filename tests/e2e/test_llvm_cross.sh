#!/bin/sh
# tests/e2e/test_llvm_cross.sh -- LLVM objects for other targets and the emitter's other
# outputs: aarch64 and riscv64 objects have the right ELF machine and define P_run and
# P_info (llvm-readobj-19, llvm-nm-19); objects, assembly and LLVM IR are byte-identical
# when compiled twice; --emit=llvm carries each kernel's op and source location; bad
# targets and misplaced LLVM options fail cleanly without leaving files.
# usage: sh test_llvm_cross.sh KILN SOURCE_DIR BUILD_DIR
set -eu
KILN=$1
SRC=$2
BUILD=$3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT INT TERM
READOBJ=${READOBJ:-llvm-readobj-19}
NM=${NM:-llvm-nm-19}

check() { echo "check: $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

# A sanitizer build's libkilnrt needs the sanitizer runtimes in everything linking it.
SAN=""
if grep -q '^KILN_SANITIZE:BOOL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null; then
    SAN="-fsanitize=address,undefined"
fi

MLP="$SRC/samples/mlp/mlp.kiln"
CNN="$SRC/samples/cnn/cnn.kiln"

# target  mcpu  expected ELF machine
echo "x86_64-linux-gnu x86-64-v3 EM_X86_64
aarch64-linux-gnu cortex-a76 EM_AARCH64
riscv64-linux-gnu generic-rv64 EM_RISCV" | while read -r triple cpu machine; do
    for s in mlp cnn; do
        model="$SRC/samples/$s/$s.kiln"
        check "$s for $triple -mcpu=$cpu: ELF machine $machine, ${s}_run and ${s}_info defined"
        "$KILN" compile "$model" --target="$triple" -mcpu="$cpu" -o "$T/$triple/$s.o"
        [ -f "$T/$triple/$s.h" ] || fail "$triple: no header beside the object"
        "$READOBJ" --file-headers "$T/$triple/$s.o" >"$T/hdr"
        grep -q "Machine: $machine" "$T/hdr" || { cat "$T/hdr" >&2; fail "$s $triple: wrong machine"; }
        grep -q "Class: 64-bit" "$T/hdr" || fail "$s $triple: not a 64-bit ELF"
        # riscv64 Linux is rv64gc with floats in FP registers (lp64d), as gcc and clang build
        [ "$machine" != EM_RISCV ] || grep -q "EF_RISCV_FLOAT_ABI_DOUBLE" "$T/hdr" ||
            fail "$s $triple: expected the lp64d float ABI"
        "$NM" "$T/$triple/$s.o" >"$T/syms"
        grep -Eq " T ${s}_run$" "$T/syms" || { cat "$T/syms" >&2; fail "$s $triple: no ${s}_run"; }
        grep -Eq " [DR] ${s}_info$" "$T/syms" || { cat "$T/syms" >&2; fail "$s $triple: no ${s}_info"; }
        # the runtime is the only thing the object needs from outside (plus libm / libc)
        if grep -E " U " "$T/syms" | grep -Ev " U (kiln_[a-z0-9_]+|memcpy|memmove|memset|expf|logf|powf|erff|tanhf|exp|log)$"; then
            fail "$s $triple: unexpected undefined symbols"
        fi
        # same output name: the weights file name is part of the model hash
        "$KILN" compile "$model" --target="$triple" -mcpu="$cpu" -o "$T/again/$s.o"
        cmp "$T/$triple/$s.o" "$T/again/$s.o" ||
            fail "$s $triple: object bytes differ between two compiles"
    done
done

check "two models' objects link into one program (only P_run and P_info are global)"
"$KILN" compile "$MLP" -o "$T/two/mlp.o"
"$KILN" compile "$CNN" -o "$T/two/cnn.o"
cat >"$T/two/main.c" <<'CEOF'
#include <stdio.h>
#include "mlp.h"
#include "cnn.h"
int main(void) { printf("%s %s %d %d\n", mlp_info.name, cnn_info.name, mlp_info.ninputs, cnn_info.noutputs); return 0; }
CEOF
# shellcheck disable=SC2086  # CC and SAN may hold several words
${CC:-cc} -std=c11 $SAN -o "$T/two/main" "$T/two/main.c" "$T/two/mlp.o" "$T/two/cnn.o" \
    -I"$T/two" -I"$SRC/runtime/include" "$BUILD/runtime/libkilnrt.a" -lopenblas -lm -lpthread ||
    fail "mlp.o and cnn.o do not link together"
[ "$("$T/two/main")" = "mlp cnn 1 1" ] || fail "linked models report wrong P_info"

check "static relocation model and -mattr are accepted; objects are deterministic"
"$KILN" compile "$MLP" --reloc=static -mattr=+avx2,+fma -o "$T/s1/m.o"
"$KILN" compile "$MLP" --reloc=static -mattr=+avx2,+fma -o "$T/s2/m.o"
cmp "$T/s1/m.o" "$T/s2/m.o" || fail "static objects differ between two compiles"
"$READOBJ" --relocations "$T/s1/m.o" | grep -q "R_X86_64_GOTPCREL" &&
    fail "--reloc=static object uses the GOT"

for kind in asm llvm; do
    check "--emit=$kind is deterministic"
    "$KILN" compile "$CNN" --emit=$kind -o "$T/a.$kind"
    "$KILN" compile "$CNN" --emit=$kind -o "$T/b/a.$kind"
    cmp "$T/a.$kind" "$T/b/a.$kind" || fail "--emit=$kind output differs between two compiles"
done
grep -q "^cnn_run:" "$T/a.asm" || fail "--emit=asm has no cnn_run label"

check "an AVX-512 CPU gets 512-bit vector loops (zmm registers)"
"$KILN" compile "$CNN" --target=x86_64-linux-gnu -mcpu=skylake-avx512 --emit=asm -o "$T/z.s"
grep -q "zmm" "$T/z.s" || fail "-mcpu=skylake-avx512: no zmm register in the assembly"

check "--emit=llvm names every kernel's op and source location (!kiln.op)"
# every kernel function carries !kiln.op; its node names the op, cnn.kiln:line:col, n<K>
nfn=$(grep -c '^define internal.* @n[0-9]*_[a-z_0-9]*(.*!kiln.op' "$T/a.llvm" || true)
[ "$nfn" -gt 5 ] || fail "expected annotated kernel functions, got $nfn"
grep -Eq '^![0-9]+ = !\{!"conv2d", !"[^"]*cnn.kiln:[0-9]+:[0-9]+", !"n[0-9]+"\}' "$T/a.llvm" ||
    fail "no conv2d annotation with a cnn.kiln location"
grep -q "define i32 @cnn_run(\|i32 @cnn_run(ptr" "$T/a.llvm" || fail "no cnn_run in the IR"

check "-g: DWARF line tables map kernel code to lines of mlp.kiln"
"$KILN" compile "$MLP" -g -o "$T/g/mlp.o"
${DWARFDUMP:-llvm-dwarfdump-19} --debug-line "$T/g/mlp.o" >"$T/lines"
grep -q 'name: "mlp.kiln"' "$T/lines" || fail "-g: no line table for mlp.kiln"
# the dense layer's matmul sits on line 10 of mlp.kiln
grep -Eq '^0x[0-9a-f]+ +10 ' "$T/lines" || fail "-g: no code mapped to mlp.kiln line 10"

check "-o x.ll and -o x.s pick the LLVM IR and assembly outputs"
"$KILN" compile "$MLP" -o "$T/m.ll"
grep -q "^target triple = " "$T/m.ll" || fail "-o m.ll did not write LLVM IR"
"$KILN" compile "$MLP" -o "$T/m.s"
grep -q "^mlp_run:" "$T/m.s" || fail "-o m.s did not write assembly"

check "an unknown --target fails with a message and leaves no file"
if "$KILN" compile "$MLP" --target=nosuch-cpu-none -o "$T/bad/m.o" 2>"$T/err"; then
    fail "--target=nosuch-cpu-none succeeded"
fi
grep -q "unknown target 'nosuch-cpu-none'" "$T/err" || { cat "$T/err" >&2; fail "no clear message"; }
[ ! -e "$T/bad/m.o" ] && [ ! -e "$T/bad/m.h" ] || fail "a failed compile left files behind"

check "--target with --emit=c is a usage error (exit 2)"
st=0
"$KILN" compile "$MLP" --target=aarch64-linux-gnu -o "$T/m.c" 2>"$T/err" || st=$?
[ "$st" -eq 2 ] || fail "expected exit 2, got $st"
grep -q "need --emit=obj" "$T/err" || { cat "$T/err" >&2; fail "no clear usage message"; }
echo "test_llvm_cross: all checks passed"
