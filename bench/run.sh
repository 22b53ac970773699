#!/usr/bin/env bash
# Trellis vs. MLflow benchmark: one run, both servers, same machine.
#   bench/run.sh            full run (30 s per workload, W3 on 10k and 100k runs)
#   bench/run.sh --quick    smoke run (5 s per workload, W3 on 10k runs only)
# Other options are passed to bench/harness.py (see --help): --only trellis|mlflow,
# --sizes 10000,100000, --duration N, --keep-tmp.
# Not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV="$ROOT/.venv/bench"
PY=${PYTHON:-python3}

die() { echo "bench/run.sh: $*" >&2; exit 1; }

command -v wrk >/dev/null || die "wrk not found (apt-get install wrk)"
command -v taskset >/dev/null || die "taskset not found (apt-get install util-linux)"
[ "$(nproc --all)" -ge 2 ] || die "needs at least 2 CPU cores (server on core 0, load generator on core 1)"

only=both
for a in "$@"; do
  case "$a" in
    --only=*) only=${a#--only=} ;;
  esac
done
prev=""
for a in "$@"; do [ "$prev" = "--only" ] && only=$a; prev=$a; done

# Reference server: real MLflow, pinned in bench/requirements.txt, in its own venv.
if [ "$only" != trellis ]; then
  want=$(sed -n 's/^mlflow==\([^ ]*\).*/\1/p' bench/requirements.txt)
  if ! "$VENV/bin/python" -c "import mlflow, sys; sys.exit(mlflow.__version__ != '$want')" 2>/dev/null; then
    echo "bench/run.sh: creating $VENV with mlflow==$want" >&2
    "$PY" -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip
    "$VENV/bin/pip" install -q -r bench/requirements.txt
  fi
fi

mkdir -p bench/results
# Trellis: build with the normal Makefile; a failed build only skips the Trellis side.
if [ "$only" != mlflow ]; then
  if ! make -j2 >bench/results/build.log 2>&1; then
    echo "bench/run.sh: warning: 'make' failed (see bench/results/build.log); Trellis side will be skipped" >&2
  fi
fi

HPY="$VENV/bin/python"
[ -x "$HPY" ] || HPY="$PY"
# The harness and wrk run on core 1; the harness starts each server with taskset -c 0.
exec taskset -c 1 "$HPY" "$ROOT/bench/harness.py" "$@"
