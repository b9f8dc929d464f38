#!/bin/sh
# tests/e2e/test_onnx_import_nodes.sh -- `kiln import` over the ONNX backend node tests
# (Debian libonnx-testdata): every node test model that imports without --shape or bound
# inputs is written as .kiln, read back, and run by the interpreter on the same seeded
# random inputs as the .onnx; the output .npy files must be byte-identical (same IR, same
# interpreter).  This covers the writer's spelling of every op's attributes.  About 40 s.
# usage: sh test_onnx_import_nodes.sh KILN SOURCE_DIR BUILD_DIR
set -eu
KILN=$1
NODES=${KILN_ONNX_NODE_TESTS:-/usr/share/libonnx-testdata/data/node}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT INT TERM

fail() { echo "FAIL: $*" >&2; exit 1; }
[ -d "$NODES" ] || fail "no ONNX node tests in $NODES (apt-get install libonnx-testdata)"

# the identifier kiln import gives output NAME (frontend/onnx/kiln_writer.c, ident_n)
ident() {
    s=$(printf '%s' "$1" | sed 's/^[^A-Za-z0-9]*//; s/[^A-Za-z0-9_]/_/g; s/^[0-9]/v&/; s/^$/v/')
    case $s in
        weights|layer|model|param|let|return|exit|if|repeat) s="${s}_" ;;
    esac
    printf '%s' "$s"
}

ok=0
imported=0
for d in "$NODES"/test_*/; do
    n=$(basename "$d")
    "$KILN" import "$d/model.onnx" -o "$T/$n/m.kiln" >/dev/null 2>&1 || continue
    imported=$((imported + 1))
    set +e
    "$KILN" run "$d/model.onnx" -o "$T/$n/onnx" >/dev/null 2>"$T/$n/onnx.err"
    ra=$?
    "$KILN" run "$T/$n/m.kiln" -o "$T/$n/kiln" >/dev/null 2>"$T/$n/kiln.err"
    rb=$?
    set -e
    if [ "$ra" != "$rb" ]; then
        cat "$T/$n/kiln.err" >&2
        fail "$n: kiln run exits $ra on the .onnx, $rb on the imported .kiln"
    fi
    if [ "$ra" = 0 ]; then
        for f in "$T/$n/onnx"/*.npy; do
            o=$(basename "$f" .npy)
            g="$T/$n/kiln/$(ident "$o").npy"
            [ -f "$g" ] || fail "$n: no output $g for ONNX output '$o'"
            cmp -s "$f" "$g" || fail "$n: output '$o' differs between the .onnx and the .kiln"
        done
    fi
    ok=$((ok + 1))
    rm -rf "${T:?}/$n"
done
echo "ok: $ok node-test models round-trip through kiln import ($imported imported)"
# 532 today; far fewer means the importer or the writer started rejecting models
[ "$ok" -ge 500 ] || fail "only $ok models round-tripped, expected at least 500"
