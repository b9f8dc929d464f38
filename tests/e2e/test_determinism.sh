#!/bin/sh
# tests/e2e/test_determinism.sh -- generated code is byte-for-byte deterministic (STYLE.md
# §7): every sample compiled twice, from different working folders, gives identical .c and
# .h files, and with --weights=external an identical .bin.
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
    check "$name: text IR dump is deterministic too"
    "$KILN" dump "$s" >"$T/a.kir"
    "$KILN" dump "$s" >"$T/b.kir"
    cmp "$T/a.kir" "$T/b.kir" || fail "dump of $name differs between runs"
done
echo "test_determinism: all checks passed"
