#!/bin/sh
# bench/run.sh -- times every sample compiled by the LLVM backend (kiln compile -o x.o) and
# by the C backend (kiln compile -o x.c, then gcc -O3 -march=native), batch 1, serial, the
# median of RUNS calls after a warm-up (bench_main.c), and prints a table with the ratio
# LLVM / C (below 1 = the LLVM backend is faster), the CPU and the OpenBLAS core.
# Not a test: timings depend on the machine and its load.
# usage: sh bench/run.sh [KILN [BUILD_DIR [RUNS]]]     (defaults: build/kiln build 500)
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
KILN=${1:-$SRC/build/kiln}
BUILD=${2:-$(dirname "$KILN")}
RUNS=${3:-500}
CC=${CC:-gcc}
OLEVEL=${OLEVEL:--O3}
RTLIB="$BUILD/runtime/libkilnrt.a"
[ -x "$KILN" ] || { echo "bench: no kiln at $KILN" >&2; exit 2; }
[ -f "$RTLIB" ] || { echo "bench: no $RTLIB (build the kilnrt target)" >&2; exit 2; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT INT TERM

cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
isa=""
for f in avx512f avx2 fma; do
    grep -qw "$f" /proc/cpuinfo && isa="$isa $f"
done
echo "cpu: $cpu;${isa:- no avx}; $(nproc) cores"
echo "C backend:    kiln compile $OLEVEL -o x.c; $CC -O3 -march=native"
echo "LLVM backend: kiln compile $OLEVEL -o x.o (host CPU and features)"
echo "runs: $RUNS per model (median), batch 1, serial, after 10 warm-up runs"

# build KIND SAMPLE: the bench binary of one backend in $T/KIND
build() {
    kind=$1 s=$2 model="$SRC/samples/$2/$2.kiln"
    mkdir -p "$T/$kind"
    if [ "$kind" = c ]; then
        "$KILN" compile "$model" --name="$s" $OLEVEL -o "$T/c/$s.c"
        $CC -O3 -march=native -std=c11 -c -I"$T/c" -I"$SRC/runtime/include" \
            -o "$T/c/$s.o" "$T/c/$s.c"
    else
        "$KILN" compile "$model" --name="$s" $OLEVEL -o "$T/llvm/$s.o"
    fi
    $CC -O2 -std=c11 -DKILN_BENCH_INFO="${s}_info" -I"$SRC/runtime/include" \
        -o "$T/$kind/bench_$s" "$SRC/bench/bench_main.c" "$T/$kind/$s.o" "$RTLIB" \
        -lopenblas -lm -lpthread
}

median() {
    sed -n 's/.*median_us=\([0-9.]*\).*/\1/p' "$1"
}

printf '\n%-12s %12s %12s %10s\n' sample "C (us)" "LLVM (us)" "LLVM/C"
core=""
for model in "$SRC"/samples/*/*.kiln; do
    s=$(basename "$model" .kiln)
    build c "$s"
    build llvm "$s"
    # interleave the two binaries so drifting machine load hits both alike
    "$T/c/bench_$s" "$RUNS" >"$T/c.out"
    "$T/llvm/bench_$s" "$RUNS" >"$T/llvm.out"
    "$T/c/bench_$s" "$RUNS" >>"$T/c.out"
    "$T/llvm/bench_$s" "$RUNS" >>"$T/llvm.out"
    c=$(median "$T/c.out" | sort -n | head -n 1)
    l=$(median "$T/llvm.out" | sort -n | head -n 1)
    core=$(sed -n 's/.*blas_core=\(.*\)/\1/p' "$T/c.out" | head -n 1)
    awk -v s="$s" -v c="$c" -v l="$l" 'BEGIN { printf "%-12s %12.2f %12.2f %10.3f\n", s, c, l, l / c }'
done
echo "OpenBLAS core: $core (kiln_blas_corename)"
