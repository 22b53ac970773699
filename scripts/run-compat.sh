#!/usr/bin/env bash
# Run the client-compatibility suite (tests/compat) with both pinned official
# mlflow clients: .venv/mlflow3 (3.17.x) and .venv/mlflow2 (2.22.x).
# Usage: TRELLIS_BIN=/abs/path/to/trellis scripts/run-compat.sh [extra pytest args]
# Exits non-zero if either run fails; "no tests collected" (pytest exit 5) is a failure.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if [[ -z "${TRELLIS_BIN:-}" ]]; then
    echo "run-compat: TRELLIS_BIN is not set (e.g. TRELLIS_BIN=\$PWD/build/trellis)" >&2
    exit 2
fi
if [[ ! -x "$TRELLIS_BIN" ]]; then
    echo "run-compat: TRELLIS_BIN=$TRELLIS_BIN is not executable" >&2
    exit 2
fi
TRELLIS_BIN="$(cd "$(dirname "$TRELLIS_BIN")" && pwd)/$(basename "$TRELLIS_BIN")"
export TRELLIS_BIN

status=0
summary=()
for venv in mlflow3 mlflow2; do
    py="$root/.venv/$venv/bin/python"
    if [[ ! -x "$py" ]]; then
        echo "run-compat: missing $py (create it from tests/compat/requirements-$venv.txt)" >&2
        summary+=("$venv: MISSING VENV")
        status=1
        continue
    fi
    ver="$("$py" -c 'import mlflow; print(mlflow.__version__)' 2>/dev/null)" || {
        echo "run-compat: mlflow does not import in .venv/$venv" >&2
        summary+=("$venv: MLFLOW IMPORT FAILED")
        status=1
        continue
    }
    echo "=== compat suite with mlflow client $ver (.venv/$venv) against $TRELLIS_BIN"
    rc=0
    MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true \
        "$py" -m pytest -q -p no:cacheprovider tests/compat "$@" || rc=$?
    if [[ $rc -eq 0 ]]; then
        summary+=("mlflow $ver: PASS")
    else
        [[ $rc -eq 5 ]] && echo "run-compat: pytest collected no tests with mlflow $ver" >&2
        summary+=("mlflow $ver: FAIL (pytest exit $rc)")
        status=1
    fi
done

echo "=== compat summary"
printf '  %s\n' "${summary[@]}"
exit $status
