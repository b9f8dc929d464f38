# tests/e2e/onnx_models_lib.sh -- sourced by the test_onnx_{pool3d,norm,index}.sh scripts:
# runs the small onnx.helper models a generator (tests/e2e/onnx_*.py) writes, on kiln's
# backends against the generator's NumPy references, and checks its rejected models.
# The caller sets KILN, SRC and GEN (the generator's file name) and has `set -eu`.
# shellcheck shell=sh

export PYTHONDONTWRITEBYTECODE=1    # keep the source tree free of __pycache__
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT INT TERM

fail() { echo "FAIL: $*" >&2; exit 1; }

PY=""
for py in ${PYTHON:-} python3 /usr/bin/python3; do
    if command -v "$py" >/dev/null 2>&1 && "$py" -c "import onnx, numpy" >/dev/null 2>&1; then
        PY=$py
        break
    fi
done
[ -n "$PY" ] || fail "no python3 with onnx and numpy (apt-get install python3-onnx python3-numpy)"

"$PY" "$SRC/tests/e2e/$GEN" "$T" >"$T/cases" || fail "$GEN failed"

# the --input words of model $1
inputs() {
    ins=""
    for f in "$T/$1/in"/*.npy; do
        ins="$ins --input $(basename "$f" .npy)=$f"
    done
    echo "$ins"
}

# run_models "BACKENDS" MIN: every model of $T/cases through `kiln run --backend=B
# --compare=interp` for each B, then compared with the reference; at least MIN models.
run_models() {
    n=0
    while read -r m; do
        for be in $1; do
            echo "check: $m ($be)"
            rm -rf "$T/$m/got"
            # shellcheck disable=SC2046  # inputs prints words without blanks inside
            "$KILN" run "$T/$m.onnx" $(inputs "$m") -o "$T/$m/got" --backend="$be" \
                --compare=interp >"$T/$m.log" 2>&1 ||
                { cat "$T/$m.log" >&2; fail "$m: kiln run ($be) failed"; }
            grep -q "^compare: all outputs match" "$T/$m.log" ||
                { cat "$T/$m.log" >&2; fail "$m: $be and the interpreter disagree"; }
            "$PY" "$SRC/tests/e2e/$GEN" --compare "$T/$m/got" "$T/$m/ref" ||
                fail "$m ($be): kiln differs from the reference"
        done
        n=$((n + 1))
    done <"$T/cases"
    [ "$n" -ge "$2" ] || fail "only $n models, expected $2"
    echo "ok: $n models match the reference on: $1"
}

# check_rejected MIN: every "<name> <op> <message>" line of $T/bad.txt must fail with
# exactly "<model>: error: node #0 (<op>): <message>"; at least MIN of them.
check_rejected() {
    nbad=0
    while read -r m op msg; do
        echo "check: $m is rejected"
        if "$KILN" run "$T/$m.onnx" -o "$T/$m.out" >"$T/$m.log" 2>&1; then
            fail "$m: kiln run succeeded, expected an error"
        fi
        want="$T/$m.onnx: error: node #0 ($op): $msg"
        grep -qxF "$want" "$T/$m.log" || { cat "$T/$m.log" >&2; fail "$m: expected '$want'"; }
        nbad=$((nbad + 1))
    done <"$T/bad.txt"
    [ "$nbad" -ge "$1" ] || fail "only $nbad bad models, expected $1"
    echo "ok: $nbad bad models rejected with located errors"
}
