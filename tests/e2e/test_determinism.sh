#!/bin/sh
# tests/e2e/test_determinism.sh -- generated code is byte-for-byte deterministic (STYLE.md
# §7): every sample compiled twice, from different working folders, gives identical .c and
# .h files, and with --weights=external an identical .bin; the model path spelled relative,
# ./relative or absolute, and -O2 given or defaulted, give identical .c and .h files too.
# usage: sh test_determinism.sh KILN SOURCE_DIR BUILD_DIR
set -eu
KILN=$1
SRC=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT INT TERM

check() { echo "check: $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

samples=$(ls "$SRC"/samples/*/*.kiln)
[ -n "$samples" ] || fail "no samples/*/*.kiln"
for s in $samples; do
    name=$(basename "$s" .kiln)
    for w in embed external; do
        for lvl in -O0 -O2; do
            check "$name ($lvl, --weights=$w) compiles to identical files twice"
            mkdir -p "$T/a" "$T/b"
            rm -f "$T"/a/* "$T"/b/*
            (cd "$T/a" && "$KILN" compile "$s" $lvl --weights=$w -o "$T/a/$name.c")
            (cd "$T/b" && "$KILN" compile "$s" $lvl --weights=$w -o "$T/b/$name.c")
            exts="c h"
            [ "$w" = external ] && exts="c h bin"
            for e in $exts; do
                [ -s "$T/a/$name.$e" ] || fail "$name.$e missing or empty"
                cmp "$T/a/$name.$e" "$T/b/$name.$e" || fail "$name.$e differs between runs"
            done
        done
    done
    check "$name: the model path's spelling and an explicit default -O2 change no byte"
    rel=${s#"$SRC"/}
    mkdir -p "$T/p1" "$T/p2" "$T/p3" "$T/p4"
    (cd "$SRC" && "$KILN" compile "$rel" -o "$T/p1/$name.c")
    (cd "$SRC" && "$KILN" compile "./$rel" -o "$T/p2/$name.c")
    (cd "$T" && "$KILN" compile "$s" -o "$T/p3/$name.c")
    (cd "$SRC" && "$KILN" compile "$rel" -O2 -o "$T/p4/$name.c")
    for d in p2 p3 p4; do
        for e in c h; do
            cmp "$T/p1/$name.$e" "$T/$d/$name.$e" ||
                fail "$name.$e differs between '$rel' and the $d spelling"
        done
    done
    check "$name: text IR dump is deterministic too"
    "$KILN" dump "$s" >"$T/a.kir"
    "$KILN" dump "$s" >"$T/b.kir"
    cmp "$T/a.kir" "$T/b.kir" || fail "dump of $name differs between runs"
done
echo "test_determinism: all checks passed"
