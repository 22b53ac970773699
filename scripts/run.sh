#!/usr/bin/env bash
# Installs what is missing, builds, and starts `trellis server` on the
# embedded default: ./trellis.db (SQLite) + ./trellis-artifacts, 127.0.0.1:5000.
# Extra arguments go to `trellis server` (see `build/trellis server --help`).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh"
make -C "$root" -j"$(nproc)" >/dev/null
exec "$root/build/trellis" server "$@"
