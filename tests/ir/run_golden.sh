#!/bin/sh
# tests/ir/run_golden.sh — runs one golden IR test: `kiln opt <case>.kir --verify-each ARGS`
# with ARGS taken from the file's first line `# RUN: ARGS`, then compares stdout with
# <case>.out (exit status 0 expected) or stderr with <case>.err (exit status 1 expected, or
# 2 when the case's RUN arguments themselves are malformed: a bad pipeline is a usage error).
# Usage: sh run_golden.sh <kiln> <case.kir>.  Exit 0 = pass, 1 = fail (diff -u shown).
set -u
set -f    # ARGS is split into words below but must never glob

if [ $# -ne 2 ]; then
    echo "usage: sh run_golden.sh <kiln> <case.kir>" >&2
    exit 2
fi
kiln=$1
kir=$2
case $kiln in
/*) ;;
*) kiln=$(pwd)/$kiln ;;
esac
[ -x "$kiln" ] || { echo "FAIL: kiln binary '$kiln' not found" >&2; exit 1; }
[ -f "$kir" ] || { echo "FAIL: no such test '$kir'" >&2; exit 1; }

first=$(sed -n 1p "$kir")
case $first in
"# RUN:"*) args=${first#"# RUN:"} ;;
*) echo "FAIL: $kir:1: expected a '# RUN: <args>' first line, got '$first'" >&2; exit 1 ;;
esac

# Run from the test's folder with a relative name so messages do not depend on the checkout.
dir=$(dirname "$kir")
base=$(basename "$kir" .kir)
cd "$dir" || exit 1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kiln-golden.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM

# shellcheck disable=SC2086  # $args holds several options
"$kiln" opt "$base.kir" --verify-each $args >"$tmp/stdout" 2>"$tmp/stderr"
rc=$?

if [ -f "$base.err" ]; then
    want=1 expected=$base.err got=$tmp/stderr
    [ "$rc" -eq 2 ] && want=2
elif [ -f "$base.out" ]; then
    want=0 expected=$base.out got=$tmp/stdout
else
    echo "FAIL: $kir: neither $base.out nor $base.err exists" >&2
    exit 1
fi

if [ "$rc" -ne "$want" ]; then
    echo "FAIL: $kir: expected exit status $want, got $rc" >&2
    echo "--- stderr:" >&2
    cat "$tmp/stderr" >&2
    exit 1
fi
if ! diff -u "$expected" "$got"; then
    echo "FAIL: $kir: output differs from $expected (- expected, + got)" >&2
    exit 1
fi
if [ "$want" -eq 0 ] && [ -s "$tmp/stderr" ]; then
    echo "FAIL: $kir: unexpected messages on stderr:" >&2
    cat "$tmp/stderr" >&2
    exit 1
fi
echo "PASS: $kir"
exit 0
